// The one HTTP client of the app. The session cookie is HttpOnly and goes along by itself; writes
// carry the session's CSRF token (X-CSRF-Token, given by /api/auth/me and /api/auth/login). Errors
// come back as JSON {code, description, field} and are thrown as ApiError so a form can show the
// message on the field the server named.

export const CSRF_HEADER = 'X-CSRF-Token';

let csrfToken = null;

export function setCsrfToken(token) {
    csrfToken = token ?? null;
}

export class ApiError extends Error {
    constructor(status, body, url) {
        super(body?.description || `请求失败（HTTP ${status}）`);
        this.name = 'ApiError';
        this.status = status;
        this.code = body?.code ?? null;
        this.field = body?.field ?? null;
        this.body = body ?? null;
        this.url = url;
    }
}

const READ_ONLY = new Set(['GET', 'HEAD', 'OPTIONS']);

// request(method, url, {body, headers, ifMatch, signal, full}) → parsed JSON (or text), or with
// full: {data, etag, status, headers}
export async function request(method, url, options = {}) {
    const {body, headers = {}, ifMatch, signal, full = false, contentType} = options;
    const h = {Accept: 'application/json, application/geo+json;q=0.9, */*;q=0.1', ...headers};
    if (!READ_ONLY.has(method) && csrfToken) h[CSRF_HEADER] = csrfToken;
    if (ifMatch) h['If-Match'] = ifMatch;
    let payload;
    if (body !== undefined) {
        h['Content-Type'] = contentType ?? 'application/json';
        payload = typeof body === 'string' ? body : JSON.stringify(body);
    }
    const response = await fetch(url, {method, headers: h, body: payload, signal, credentials: 'same-origin'});
    const type = response.headers.get('content-type') ?? '';
    const data = response.status === 204 ? null
        : type.includes('json') ? await response.json().catch(() => null) : await response.text();
    if (!response.ok) throw new ApiError(response.status, typeof data === 'object' ? data : {description: data}, url);
    return full ? {data, etag: response.headers.get('etag'), status: response.status, headers: response.headers} : data;
}

export const api = {
    get: (url, options) => request('GET', url, options),
    post: (url, body, options) => request('POST', url, {...options, body}),
    put: (url, body, options) => request('PUT', url, {...options, body}),
    patch: (url, body, options) => request('PATCH', url, {...options, body}),
    del: (url, options) => request('DELETE', url, options),
};

// Errors keyed by the field they name, for el-form-item :error bindings; the rest under '_'.
export function fieldErrors(error) {
    if (!(error instanceof ApiError)) return {_: String(error?.message ?? error)};
    const key = error.field ? error.field.split('.').pop() : '_';
    return {[key]: error.message};
}

// A file upload (multipart/form-data; the browser sets the boundary), with the session's CSRF token.
export async function upload(url, formData) {
    const h = {Accept: 'application/json'};
    if (csrfToken) h[CSRF_HEADER] = csrfToken;
    const response = await fetch(url, {method: 'POST', headers: h, body: formData, credentials: 'same-origin'});
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data, url);
    return data;
}
