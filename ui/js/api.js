// The UI's only way to the server: the public management API (/api/...), with the
// signed-in user's credentials sent as an Authorization header from script.
//
// Credentials: RabbitMQ 3.10's UI keeps base64 "user:password" in a cookie for its login
// session timeout (8 h by default). Here they live in sessionStorage with the same 8 h
// limit: never sent by the browser on its own (nothing for a cross-site request to ride
// on), gone when the tab closes, and wiped at logout or on the first 401.

const KEY = "warren.auth";
const SESSION_MS = 8 * 3600 * 1000;

export class ApiError extends Error {
  constructor(status, reason) {
    super(reason);
    this.status = status;
  }
}

let onLoggedOut = () => {};
export function whenLoggedOut(fn) {
  onLoggedOut = fn;
}

function stored() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) || "null");
    if (s && typeof s.b64 === "string" && s.expires > Date.now()) return s;
  } catch {
    /* unreadable: treat as logged out */
  }
  sessionStorage.removeItem(KEY);
  return null;
}

export function credentials() {
  return stored();
}

function b64utf8(s) {
  const bytes = new TextEncoder().encode(s);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** Try the credentials with /api/whoami; keep them only if they work. Returns whoami's answer. */
export async function login(user, password) {
  const b64 = b64utf8(`${user}:${password}`);
  const me = await request("GET", "/whoami", undefined, b64);
  sessionStorage.setItem(KEY, JSON.stringify({ b64, user: me.name, expires: Date.now() + SESSION_MS }));
  return me;
}

export function logout() {
  sessionStorage.removeItem(KEY);
}

async function request(method, path, body, b64, extra = {}) {
  const headers = { accept: "application/json", ...extra };
  if (b64) headers.authorization = `Basic ${b64}`;
  const init = { method, headers, credentials: "omit", cache: "no-store" };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(`/api${path}`, init);
  } catch (e) {
    throw new ApiError(0, `cannot reach the server (${e.message})`);
  }
  const text = await r.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!r.ok) {
    const reason = json && (json.reason || json.error) ? String(json.reason || json.error) : `HTTP ${r.status}`;
    throw new ApiError(r.status, typeof reason === "string" ? reason : JSON.stringify(reason));
  }
  return json;
}

/**
 * An API call as the signed-in user. A 401 that says the credentials no longer work
 * (password changed, user deleted) ends the session; a 401 for a refused action
 * ("Access refused.", "Not administrator user") is just an error, as in RabbitMQ.
 */
export async function api(method, path, body, headers) {
  const s = stored();
  if (!s) {
    onLoggedOut("Your session has ended; please log in again.");
    throw new ApiError(401, "not logged in");
  }
  try {
    return await request(method, path, body, s.b64, headers);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401 && /^(Login failed|Not_Authori[sz]ed)/i.test(e.message)) {
      logout();
      onLoggedOut(`Logged out: ${e.message}`);
    }
    throw e;
  }
}

export const get = (path) => api("GET", path);
export const put = (path, body = {}) => api("PUT", path, body);
export const post = (path, body = {}) => api("POST", path, body);
export const del = (path, headers) => api("DELETE", path, undefined, headers);

/** One path segment: vhost "/" becomes %2F, as in RabbitMQ's API and UI URLs. */
export const seg = (s) => encodeURIComponent(s);

/** The Authorization header value, for EventSource-less streaming with fetch. */
export function authHeader() {
  const s = stored();
  return s ? `Basic ${s.b64}` : "";
}
