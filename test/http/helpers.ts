/**
 * Helpers for management API tests: a tiny HTTP client with basic auth, and
 * a unique suffix so runs against a shared external RabbitMQ
 * (WARREN_TEST_URL + WARREN_TEST_MGMT_URL) never collide or leave traces
 * that matter (every test deletes what it creates).
 */
import { startBroker, type TestBroker } from "../helpers/broker.js";
import { waitFor } from "../helpers/wait.js";

export interface Reply {
  status: number;
  json: any;
  text: string;
  headers: Headers;
}

export class Api {
  readonly base: string;
  constructor(
    mgmtUrl: string,
    readonly user = "guest",
    readonly pass = "guest",
  ) {
    const u = new URL(mgmtUrl);
    if (u.username) {
      this.user = decodeURIComponent(u.username);
      this.pass = decodeURIComponent(u.password);
    }
    u.username = "";
    u.password = "";
    this.base = u.toString().replace(/\/$/, "");
  }

  as(user: string, pass: string): Api {
    return new Api(this.base, user, pass);
  }

  async req(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    const h: Record<string, string> = { ...headers };
    if (!("authorization" in h)) h["authorization"] = "Basic " + Buffer.from(`${this.user}:${this.pass}`).toString("base64");
    if (h["authorization"] === "") delete h["authorization"];
    if (body !== undefined) h["content-type"] = "application/json";
    const r = await fetch(this.base + path, { method, headers: h, body: body === undefined ? null : typeof body === "string" ? body : JSON.stringify(body) });
    const text = await r.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    return { status: r.status, json, text, headers: r.headers };
  }

  get(path: string): Promise<Reply> {
    return this.req("GET", path);
  }
  put(path: string, body: unknown = {}): Promise<Reply> {
    return this.req("PUT", path, body);
  }
  post(path: string, body: unknown = {}): Promise<Reply> {
    return this.req("POST", path, body);
  }
  del(path: string): Promise<Reply> {
    return this.req("DELETE", path);
  }
}

export const uniq = (): string => `${process.pid.toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

export const enc = encodeURIComponent;

/** Start a broker with management; tests are skipped when an external one has no management URL. */
export async function startMgmtBroker(): Promise<{ b: TestBroker; api: Api } | null> {
  const b = await startBroker({ mgmt: true });
  if (!b.mgmtUrl) {
    await b.stop();
    return null;
  }
  return { b, api: new Api(b.mgmtUrl) };
}

/** amqp URL for a user and vhost on the test broker. */
export function amqpUrl(b: TestBroker, user: string, pass: string, vhost: string): string {
  return `amqp://${enc(user)}:${enc(pass)}@${b.host}:${b.port}/${enc(vhost)}`;
}

/** Assert helper: every key of `required` is present in `obj`. */
export function missingKeys(obj: Record<string, unknown>, required: string[]): string[] {
  return required.filter((k) => !(k in obj));
}

/**
 * Poll until `pick` returns something truthy. RabbitMQ fills counts and stats in
 * asynchronously (every 5 s); warren answers at once — the same test fits both.
 */
export function eventually<T>(f: () => Promise<T | undefined | null | false>, ms = 12_000): Promise<T> {
  return waitFor("a condition on the management API", f, ms, 200);
}
