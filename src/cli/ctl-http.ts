/**
 * `warren ctl`'s only link to the broker: a small client for the management
 * HTTP API (basic auth from the URL's user info), and rabbitmqctl-style table
 * output. Knows nothing of src/broker — anything it can do, any HTTP client
 * could do against warren or RabbitMQ.
 *
 * Failures become CtlError with rabbitmqctl's exit codes (sysexits): 69 when
 * the server cannot be reached, 77 when the credentials are refused, 64 for
 * usage errors, 67 for a missing user, 70 (software) for other API refusals.
 */

export const EX_USAGE = 64;
export const EX_DATAERR = 65;
export const EX_NOUSER = 67;
export const EX_UNAVAILABLE = 69;
export const EX_SOFTWARE = 70;
export const EX_NOPERM = 77;

export class CtlError extends Error {
  constructor(message: string, readonly exitCode: number, readonly status = 0, readonly body: unknown = undefined) {
    super(message);
  }
}

export class MgmtClient {
  private readonly base: string;
  private readonly auth: string;

  constructor(private readonly url: string) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new CtlError(`invalid management URL '${url}'`, EX_USAGE);
    }
    const user = decodeURIComponent(u.username || "guest");
    const pass = decodeURIComponent(u.password || "guest");
    this.auth = "Basic " + Buffer.from(`${user}:${pass}`).toString("base64");
    u.username = "";
    u.password = "";
    this.base = u.toString().replace(/\/$/, "");
  }

  /** The URL without credentials, for messages. */
  get target(): string {
    return this.base;
  }

  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: { authorization: this.auth, ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
        body: body === undefined ? null : typeof body === "string" ? body : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (e as Error).message;
      throw new CtlError(`unable to perform an operation on node at ${this.base}: could not connect to the management API (${why}).\nIs the server running with management enabled? Set the address with --mgmt-url or WARREN_MGMT_URL.`, EX_UNAVAILABLE);
    }
    const text = await res.text();
    let json: unknown ;
    if (text !== "") {
      try {
        json = JSON.parse(text);
      } catch {
        json = text;
      }
    }
    if (res.ok) return json;
    const reason = json && typeof json === "object" && "reason" in json ? String((json as { reason: unknown }).reason) : text || res.statusText;
    if (res.status === 401) throw new CtlError(`not authorised: ${reason} (${method} ${path})`, EX_NOPERM, 401, json);
    if (res.status === 404) throw new CtlError(`not found: ${path}`, EX_SOFTWARE, 404, json);
    throw new CtlError(reason, EX_SOFTWARE, res.status, json);
  }

  get(path: string): Promise<unknown> {
    return this.request("GET", path);
  }

  /** The same server with other credentials (authenticate_user). */
  as(user: string, pass: string): MgmtClient {
    const u = new URL(this.url);
    u.username = encodeURIComponent(user);
    u.password = encodeURIComponent(pass);
    return new MgmtClient(u.toString());
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
    o.out(JSON.stringify(rows.map((r) => Object.fromEntries(columns.map((c) => [c, r[c] ?? null]))), null, 2));
    return;
  }
  if (o.headers) o.out(columns.join("\t"));
  for (const r of rows) o.out(columns.map((c) => cell(r[c])).join("\t"));
}
