// api.js - every call the console makes goes through here: the gateway's own
// API on this origin, with the bearer token when one is set, JSON in and out,
// and one error type carrying the HTTP status and the gateway's detail.
const TOKEN_KEY = 'amlrisk.token';

export class ApiError extends Error {
  constructor(status, detail, path) {
    super(detail);
    this.status = status; // 0: no answer at all (the gateway is down or unreachable)
    this.detail = detail;
    this.path = path;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function headers(extra) {
  const h = Object.assign({ Accept: 'application/json' }, extra || {});
  if (token()) h.Authorization = 'Bearer ' + token();
  return h;
}

// Encodes a wallet id as one path segment.
export function seg(s) {
  return encodeURIComponent(s);
}

// A query string from an object, skipping undefined/null/'' values.
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  }
  const s = p.toString();
  return s ? '?' + s : '';
}

// GET or POST path; resolves to the parsed JSON, rejects with ApiError.
export async function api(path, opts = {}) {
  const init = { method: opts.method || 'GET', headers: headers(opts.headers), signal: opts.signal };
  if (opts.body !== undefined) {
    init.body = opts.body;
    init.headers['Content-Type'] = 'application/json';
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'the gateway did not answer (is it running?)', path);
  }
  let body = null;
  const text = await resp.text();
  try {
    body = text ? JSON.parse(text) : null;
  } catch (e) {
    body = null;
  }
  if (!resp.ok) {
    const detail = body && typeof body.detail === 'string' ? body.detail : `HTTP ${resp.status}`;
    const err = new ApiError(resp.status, detail, path);
    err.body = body;
    if (resp.status === 401) window.dispatchEvent(new CustomEvent('amlrisk:auth', { detail: err }));
    throw err;
  }
  return body;
}

// GET /health answers 503 with a body when the core is down or degraded: that
// body is the answer, not an error.
export async function health() {
  try {
    return await api('/health');
  } catch (e) {
    if (e instanceof ApiError && e.status === 503 && e.body && e.body.status) return e.body;
    throw e;
  }
}

// Server-sent events over fetch (EventSource cannot send a token): calls
// onEvent(name, data, id) per event until the stream ends or signal aborts;
// extra headers (e.g. Last-Event-ID to resume) go with the request.
// Resolves when the stream closes; rejects with ApiError on a bad answer.
export async function stream(path, onEvent, signal, extra) {
  let resp;
  try {
    resp = await fetch(path, { headers: headers(Object.assign({ Accept: 'text/event-stream' }, extra || {})), signal });
  } catch (e) {
    if (e.name === 'AbortError') return;
    throw new ApiError(0, 'the gateway did not answer', path);
  }
  if (!resp.ok || !resp.body) {
    let detail = `HTTP ${resp.status}`;
    try { detail = (await resp.json()).detail || detail; } catch (e) { /* not JSON */ }
    throw new ApiError(resp.status, detail, path);
  }
  const reader = resp.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  let name = 'message';
  let data = [];
  let id = null;
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch (e) {
      return; // aborted or cut
    }
    if (chunk.done) return;
    buf += dec.decode(chunk.value, { stream: true });
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).replace(/\r$/, '');
      buf = buf.slice(nl + 1);
      if (line === '') {
        if (data.length) onEvent(name, data.join('\n'), id);
        name = 'message';
        data = [];
        id = null;
      } else if (line.startsWith('data:')) {
        data.push(line.slice(5).replace(/^ /, ''));
      } else if (line.startsWith('event:')) {
        name = line.slice(6).trim();
      } else if (line.startsWith('id:')) {
        id = line.slice(3).trim();
      }
    }
  }
}
