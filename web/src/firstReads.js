// The first reads of a cold load, sent before the rest of the app is evaluated (main.js imports
// this module first): who I am, the labels, and what the first page lists as `early` (pages.js) —
// or, for the map, its collections and basemap. Each is taken once by its reader (lib/early.js).
import {fetchEarly} from './lib/early.js';
import {bootData} from './map/boot.js';
import {pages} from './pages.js';
import {router} from './router.js';

fetchEarly('/api/auth/me');
fetchEarly('/api/labels');
const first = router.resolve(location.pathname + location.search);
if (first.name === 'map') bootData();
for (const url of pages.find(p => p.name === first.name)?.early?.(first) ?? []) fetchEarly(url);
