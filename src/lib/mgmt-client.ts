/**
 * The one client for a management HTTP API (RabbitMQ's paths, served by warren and RabbitMQ
 * alike), shared by `warren ctl` (src/cli/ctl-http.ts) and Fleet's enrolment (src/fleet/mgmt.ts):
 * the base URL with basic-auth credentials taken from its user info, JSON bodies out, replies
 * parsed as JSON when they are JSON (text otherwise).
 *
 * Owns the transport only. An HTTP error status is a reply, not an exception — each caller maps
 * statuses to its own errors and exit codes; only a server that cannot be reached throws
 * (MgmtUnreachable, with the low-level reason).
 */

export interface MgmtReply {
  status: number;
  ok: boolean;
  statusText: string;
  /** the reply's JSON; the raw text when it is not JSON; undefined when empty */
  body: unknown;
  text: string;
}

export class MgmtUnreachable extends Error {
  /** `why`: the socket-level reason (ECONNREFUSED, ...); `fetchError`: fetch's own message */
  constructor(
    readonly base: string,
    readonly why: string,
    readonly fetchError: string,
  ) {
    super(`management API ${base} unreachable: ${fetchError}`);
  }
}

export interface MgmtClientOptions {
  /** credentials when the URL has none (ctl: guest/guest; Fleet: none, i.e. empty) */
  defaultUser?: string;
  defaultPass?: string;
  /** abort a request after this long (default: no limit) */
  timeoutMs?: number;
}

export class MgmtClient {
  /** the URL without credentials and trailing slash, for requests and messages */
  readonly base: string;
  private readonly auth: string;

  /** Throws TypeError for a URL that does not parse. */
  constructor(
    readonly url: string,
    private readonly opts: MgmtClientOptions = {},
  ) {
    const u = new URL(url);
    const user = decodeURIComponent(u.username || (opts.defaultUser ?? ""));
    const pass = decodeURIComponent(u.password || (opts.defaultPass ?? ""));
    this.auth = "Basic " + Buffer.from(`${user}:${pass}`).toString("base64");
    u.username = "";
    u.password = "";
    this.base = u.toString().replace(/\/$/, "");
  }

  /** The same server with other credentials. */
  withCredentials(user: string, pass: string): MgmtClient {
    const u = new URL(this.url);
    u.username = encodeURIComponent(user);
    u.password = encodeURIComponent(pass);
    return new MgmtClient(u.toString(), this.opts);
  }

  /** One request; a string body is sent as is, anything else as JSON. */
  async send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<MgmtReply> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: { authorization: this.auth, ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
        body: body === undefined ? null : typeof body === "string" ? body : JSON.stringify(body),
        ...(this.opts.timeoutMs !== undefined ? { signal: AbortSignal.timeout(this.opts.timeoutMs) } : {}),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new MgmtUnreachable(this.base, cause?.code ?? cause?.message ?? (e as Error).message, (e as Error).message);
    }
    const text = await res.text();
    let parsed: unknown;
    if (text !== "") {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return { status: res.status, ok: res.ok, statusText: res.statusText, body: parsed, text };
  }
}
