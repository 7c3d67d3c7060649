/**
 * `warren ctl`'s only link to the broker: the management HTTP API through the
 * shared client (src/lib/mgmt-client.ts; basic auth from the URL's user info,
 * guest/guest without), and rabbitmqctl-style table output. Knows nothing of src/broker — anything it can do, any HTTP client
 * could do against warren or RabbitMQ.
 *
 * Failures become CtlError with rabbitmqctl's exit codes (sysexits): 69 when
 * the server cannot be reached, 77 when the credentials are refused, 64 for
 * usage errors, 67 for a missing user, 70 (software) for other API refusals.
 */

import { MgmtClient, MgmtUnreachable, type MgmtReply } from "../lib/mgmt-client.js";

export const EX_USAGE = 64;
export const EX_DATAERR = 65;
export const EX_NOUSER = 67;
export const EX_UNAVAILABLE = 69;
export const EX_SOFTWARE = 70;
export const EX_NOPERM = 77;

export class CtlError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly status = 0,
    readonly body: unknown = undefined,
  ) {
    super(message);
  }
}

/** The management API as ctl sees it: the shared client (src/lib/mgmt-client.ts) with rabbitmqctl's errors. */
export class CtlApi {
  private readonly client: MgmtClient;

  constructor(url: string) {
    try {
      this.client = new MgmtClient(url, { defaultUser: "guest", defaultPass: "guest", timeoutMs: 60_000 });
    } catch {
      throw new CtlError(`invalid management URL '${url}'`, EX_USAGE);
    }
  }

  /** The URL without credentials, for messages. */
  get target(): string {
    return this.client.base;
  }

  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<unknown> {
    let res: MgmtReply;
    try {
      res = await this.client.send(method, path, body, headers);
    } catch (e) {
      if (!(e instanceof MgmtUnreachable)) throw e;
      throw new CtlError(
        `unable to perform an operation on node at ${this.target}: could not connect to the management API (${e.why}).\nIs the server running with management enabled? Set the address with --mgmt-url or WARREN_MGMT_URL.`,
        EX_UNAVAILABLE,
      );
    }
    const json = res.body;
    if (res.ok) return json;
    const reason = json && typeof json === "object" && "reason" in json ? String((json as { reason: unknown }).reason) : res.text || res.statusText;
    if (res.status === 401) throw new CtlError(`not authorised: ${reason} (${method} ${path})`, EX_NOPERM, 401, json);
    if (res.status === 404) throw new CtlError(`not found: ${path}`, EX_SOFTWARE, 404, json);
    throw new CtlError(reason, EX_SOFTWARE, res.status, json);
  }

  get(path: string): Promise<unknown> {
    return this.request("GET", path);
  }

  /** The same server with other credentials (authenticate_user). */
  as(user: string, pass: string): CtlApi {
    return new CtlApi(this.client.withCredentials(user, pass).url);
  }

  /** A request whose listed error statuses are answers, not failures. */
  async requestAllowing(method: string, path: string, statuses: number[]): Promise<{ status: number; body: unknown }> {
    try {
      return { status: 200, body: await this.request(method, path) };
    } catch (e) {
      if (e instanceof CtlError && statuses.includes(e.status)) return { status: e.status, body: e.body };
      throw e;
    }
  }
}

export const enc = encodeURIComponent;

/** Render one value the way rabbitmqctl's table formatter shows it. */
export function cell(v: unknown): string {
  if (v === undefined || v === null) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return `[${v.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join(", ")}]`;
  if (typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>);
    return `[${entries.map(([k, x]) => `{"${k}",${typeof x === "string" ? `"${x}"` : JSON.stringify(x)}}`).join(", ")}]`;
  }
  return String(v);
}

export interface Output {
  quiet: boolean;
  json: boolean;
  headers: boolean;
  out(s: string): void;
  err(s: string): void;
}

/** Print informational lines ("Listing queues ...") unless --quiet or JSON output. */
export function info(o: Output, line: string): void {
  if (!o.quiet && !o.json) o.out(line);
}

/** Print rows as tab-separated columns with a header line, or as JSON. */
export function table(o: Output, columns: string[], rows: Record<string, unknown>[]): void {
  if (o.json) {
    o.out(
      JSON.stringify(
        rows.map((r) => Object.fromEntries(columns.map((c) => [c, r[c] ?? null]))),
        null,
        2,
      ),
    );
    return;
  }
  if (o.headers) o.out(columns.join("\t"));
  for (const r of rows) o.out(columns.map((c) => cell(r[c])).join("\t"));
}
