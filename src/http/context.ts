/**
 * What every management API handler receives (Ctx) and how it answers: JSON
 * replies, RabbitMQ's error bodies and status codes, request bodies. List query
 * options (sort, columns, pagination) are listing.ts.
 *
 * Owns: the HttpError catalogue. Does not own: routing (router.ts), who may
 * do what (access.ts), resource logic (resources/*).
 *
 * RabbitMQ's codes, checked against 3.10: 400 `bad_request` (bad JSON, bad
 * arguments, AMQP-level refusals such as inequivalent args), 401
 * `not_authorised` for BOTH authentication and authorisation failures (it never
 * answers 403), 404 `Object Not Found` / `Not Found`, 405 for a known path with
 * the wrong method.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Broker } from "../broker/broker.js";
import type { User } from "../broker/auth.js";
import type { RateView } from "./rates.js";
import { isBrowser } from "../lib/http-guard.js";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly reason: unknown,
  ) {
    super(typeof reason === "string" ? reason : JSON.stringify(reason));
  }
}

export const notFound = (): HttpError => new HttpError(404, "Object Not Found", "Not Found");
export const badRequest = (reason: unknown): HttpError => new HttpError(400, "bad_request", reason);
export const notAuthorised = (reason: string): HttpError => new HttpError(401, "not_authorised", reason);
export const methodNotAllowed = (): HttpError => new HttpError(405, "method_not_allowed", "Method Not Allowed");

/** Facts about this node for /api/overview and /api/nodes. */
export interface NodeInfo {
  name: string;
  version: string;
  amqpPort: number | undefined;
  amqpHost: string | undefined;
  /** the TLS listener, when there is one */
  amqpsPort: number | undefined;
  amqpsHost: string | undefined;
  mgmtPort: number;
}

export interface Ctx {
  node: NodeInfo;
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** decoded path parameters, in route order */
  params: string[];
  user: User;
  broker: Broker;
  /** rates and history, with the `*_age`/`*_incr` ranges this request asked for */
  rates: RateView;
  /** parsed JSON body ({} when empty); 400 not_json when unparsable */
  body(): Promise<Record<string, unknown>>;
  rawBody(): Promise<Buffer>;
}

export function sendJSON(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), "cache-control": "no-cache" });
  res.end(body);
}

export function sendEmpty(res: ServerResponse, status: 201 | 204, location?: string): void {
  const headers: Record<string, string | number> = { "content-length": 0 };
  if (location !== undefined) headers["location"] = location;
  res.writeHead(status, headers);
  res.end();
}

export function sendError(res: ServerResponse, e: HttpError): void {
  // RabbitMQ's challenge, except to browsers: their login prompt would cache the credentials (lib/http-guard.ts)
  if (e.status === 401 && !(res.req && isBrowser(res.req))) res.setHeader("www-authenticate", 'Basic realm="RabbitMQ Management"');
  sendJSON(res, e.status, { error: e.error, reason: e.reason });
}

/**
 * The whole body, refused with 413 past `maxBody` bytes (declared sizes are refused earlier,
 * lib/http-guard.ts). The rest of an oversized body is read and dropped rather than the
 * socket reset, so the client gets to read the 413 and its reason.
 */
export function readBody(req: IncomingMessage, maxBody: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > maxBody) {
        chunks.length = 0;
        req.off("data", onData);
        req.resume();
        reject(new HttpError(413, "payload_too_large", `request body larger than the limit of ${maxBody} bytes`));
        return;
      }
      chunks.push(c);
    };
    req.on("data", onData);
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export function parseJSONBody(raw: Buffer): Record<string, unknown> {
  if (raw.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(raw.toString("utf8"));
  } catch {
    throw badRequest("not_json");
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw badRequest("not_json");
  return v as Record<string, unknown>;
}

export function str(body: Record<string, unknown>, key: string, dflt = ""): string {
  const v = body[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== "string") throw badRequest(`${key} must be a string`);
  return v;
}

export function bool(body: Record<string, unknown>, key: string, dflt: boolean): boolean {
  const v = body[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v === "boolean") return v;
  if (v === "true") return true;
  if (v === "false") return false;
  throw badRequest(`${key} must be a boolean`);
}

export function obj(body: Record<string, unknown>, key: string): Record<string, unknown> {
  const v = body[key];
  if (v === undefined || v === null || v === "") return {};
  if (typeof v !== "object" || Array.isArray(v)) throw badRequest(`${key} must be an object`);
  return v as Record<string, unknown>;
}
