/**
 * What warren's HTTP servers (management API, Fleet's standalone API) check before any
 * handler runs, so that a web page in the
 * operator's browser cannot drive the API (CSRF) and a slow or huge client cannot tie it up:
 *
 * - State-changing requests (anything but GET/HEAD/OPTIONS) from a browser must be
 *   same-origin: `Sec-Fetch-Site` (sent by every current browser) must be `same-origin` or
 *   `none`, and an `Origin` header must name this server's own host. Non-browser clients
 *   (curl, rabbitmqadmin, warren ctl) send neither and are unaffected.
 * - Every body must be JSON (`Content-Type: application/json`, 415 otherwise). An HTML form
 *   can only send urlencoded, multipart or text/plain bodies, so it can never reach a handler.
 *   RabbitMQ 3.10 answers 415 only on some endpoints (POST /api/definitions) and accepts a
 *   text/plain PUT /api/vhosts/x; we refuse it everywhere (docs/security.md).
 * - A body declared larger than the limit gets 413 at once; one that grows past it while
 *   being read gets 413 too (the body readers). Header and request timeouts are set on
 *   the server (HTTP_SERVER_LIMITS, applyServerLimits) so trickling clients are closed.
 * - 401 replies carry `WWW-Authenticate: Basic` (as RabbitMQ's do) only for non-browser
 *   clients: a browser would show its own login prompt and then cache the credentials for
 *   every later request, which is exactly what CSRF needs. The web UI logs in with its own
 *   form and an Authorization header.
 */
import type { IncomingMessage, Server, ServerOptions } from "node:http";

/** Why a request is refused: HTTP status, RabbitMQ-style error word and reason. */
export interface Refusal {
  status: number;
  error: string;
  reason: string;
}

/** RabbitMQ's management.http.max_body_size default (20 MB) */
export const DEFAULT_MAX_BODY = 20_000_000;
/** a client must have sent all its headers within this (RabbitMQ's cowboy closes such clients after ~10 s) */
export const HEADERS_TIMEOUT_MS = 10_000;
/** and its whole request (headers and body) within this */
export const REQUEST_TIMEOUT_MS = 120_000;

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export function isBrowser(req: IncomingMessage): boolean {
  return req.headers["sec-fetch-site"] !== undefined || req.headers["sec-fetch-dest"] !== undefined || req.headers["origin"] !== undefined;
}

/** The reason `req` is refused, or undefined when it may proceed. */
export function refusalFor(req: IncomingMessage, maxBody: number): Refusal | undefined {
  const method = req.method ?? "GET";
  if (SAFE_METHODS.has(method)) return;
  const site = req.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none") {
    return { status: 403, error: "forbidden", reason: `cross-site ${method} refused (Sec-Fetch-Site: ${site})` };
  }
  const origin = req.headers["origin"];
  if (origin !== undefined) {
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {
      host = undefined;
    }
    if (host === undefined || host !== req.headers["host"]) return { status: 403, error: "forbidden", reason: `cross-origin ${method} refused (Origin: ${origin})` };
  }
  const length = req.headers["content-length"];
  const hasBody = (length !== undefined && length !== "0") || req.headers["transfer-encoding"] !== undefined;
  const type = req.headers["content-type"];
  if ((hasBody || type !== undefined) && !isJsonType(type)) {
    return { status: 415, error: "unsupported_media_type", reason: `request bodies must be JSON (Content-Type: application/json), not ${type === undefined ? "untyped" : JSON.stringify(type)}` };
  }
  if (length !== undefined && Number(length) > maxBody) return { status: 413, error: "payload_too_large", reason: `request body of ${length} bytes is larger than the limit of ${maxBody}` };
  return undefined;
}

function isJsonType(type: string | undefined): boolean {
  if (type === undefined) return false;
  const t = type.split(";")[0]!.trim().toLowerCase();
  return t === "application/json" || (t.startsWith("application/") && t.endsWith("+json"));
}

/** For http.createServer: check timeouts every second, so a trickling client goes within ~1 s of its deadline. */
export const HTTP_SERVER_LIMITS: ServerOptions = { connectionsCheckingInterval: 1000 };

export function applyServerLimits(srv: Server): void {
  srv.headersTimeout = HEADERS_TIMEOUT_MS;
  srv.requestTimeout = REQUEST_TIMEOUT_MS;
}
