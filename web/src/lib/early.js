// Reads a page needs first, sent by main.js as soon as the app's code runs — in parallel with the
// page's own chunk, which would otherwise ask only after it has been fetched and compiled (on the
// 待办 page that was ~300 ms of a cold load). A page names them in pages.js (`early`) and takes each
// answer once, by the same URL, with `getOnce`; an answer older than a few seconds is not used.
import {api} from '../api/client.js';

const FRESH_MS = 5000;
const early = new Map();

export function fetchEarly(url) {
    const answer = api.get(url);
    answer.catch(() => {});   // the page sees the error when it takes the answer; nobody may take it
    early.set(url, {answer, at: performance.now()});
}

// the early answer when one is waiting for this URL, otherwise a request now
export function getOnce(url) {
    const waiting = early.get(url);
    early.delete(url);
    return waiting && performance.now() - waiting.at < FRESH_MS ? waiting.answer : api.get(url);
}
