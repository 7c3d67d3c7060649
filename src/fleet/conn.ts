/**
 * Connection plumbing shared by agent, collector and CLI: default URLs from the
 * environment, amqplib connect with a connection name, a jittered exponential
 * backoff, and turning amqplib's errors into one clear line.
 */
import amqp, { type ChannelModel } from "amqplib";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672";
export const DEFAULT_MGMT_URL = "http://guest:guest@127.0.0.1:15672";

/**
 * --url, else WARREN_URL, else the URL a local `warren server` wrote into
 * <dataDir>/fleet/local.json (zero-setup on one machine), else the default.
 */
export function resolveUrl(flag: string | undefined, dataDir: string): string {
  if (flag) return flag;
  if (process.env.WARREN_URL) return process.env.WARREN_URL;
  return localServerUrl(dataDir) ?? DEFAULT_URL;
}

/** The collector's own URL that a local `warren server` wrote into <dataDir>/fleet/local.json, if any. */
export function localServerUrl(dataDir: string): string | null {
  const local = join(dataDir, "fleet", "local.json");
  if (!existsSync(local)) return null;
  try {
    const j = JSON.parse(readFileSync(local, "utf8")) as { amqpUrl?: string };
    return j.amqpUrl || null;
  } catch {
    return null; // a half-written file
  }
}

export function resolveMgmtUrl(flag: string | undefined, dataDir: string): string {
  if (flag) return flag;
  if (process.env.WARREN_MGMT_URL) return process.env.WARREN_MGMT_URL;
  const local = join(dataDir, "fleet", "local.json");
  if (existsSync(local)) {
    try {
      const j = JSON.parse(readFileSync(local, "utf8")) as { mgmtUrl?: string };
      if (j.mgmtUrl) return j.mgmtUrl;
    } catch {
      /* ignore */
    }
  }
  return DEFAULT_MGMT_URL;
}

/**
 * A broker address may list several nodes of one cluster, comma-separated
 * (`amqp://u:p@n1:5672,amqp://u:p@n2:5672`; percent-encode a comma inside a password).
 */
export function brokerUrls(url: string): string[] {
  const list = url
    .split(",")
    .map((u) => u.trim())
    .filter((u) => u !== "");
  return list.length > 0 ? list : [url];
}

/** Hide the password when printing a URL (each of a list). */
export function redact(url: string): string {
  if (url.includes(",")) return brokerUrls(url).map(redact).join(",");
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url;
  }
}

/**
 * TLS material for amqps:// URLs, from the environment: WARREN_CA_FILE (PEM bundle to trust
 * besides the system's, e.g. a private CA that signed the broker's certificate) and, for brokers
 * that verify clients, WARREN_CLIENT_CERT + WARREN_CLIENT_KEY.
 */
function tlsOptions(url: string): { ca?: Buffer[]; cert?: Buffer; key?: Buffer } {
  if (!url.startsWith("amqps:")) return {};
  const read = (env: string): Buffer | undefined => {
    const f = process.env[env];
    if (!f) return undefined;
    try {
      return readFileSync(f);
    } catch (e) {
      throw new Error(`cannot read ${env} ${f}: ${(e as Error).message}`);
    }
  };
  const ca = read("WARREN_CA_FILE");
  const cert = read("WARREN_CLIENT_CERT");
  const key = read("WARREN_CLIENT_KEY");
  return { ...(ca ? { ca: [ca] } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}

export const CONNECT_TIMEOUT_MS = 30_000;

/** where the next connect starts in a list of nodes: after the one used last, so a reconnect moves on */
let nextNode = 0;

/** Connect to the broker, or to the first node of a list that answers (starting after the last one used). */
export async function connect(url: string, name: string, timeoutMs = CONNECT_TIMEOUT_MS): Promise<ChannelModel> {
  const urls = brokerUrls(url);
  let last: unknown;
  for (let i = 0; i < urls.length; i++) {
    const k = (nextNode + i) % urls.length;
    const u = urls[k]!;
    try {
      // timeout: a connect that hangs (broker gone, packets dropped) must fail and back off. It is
      // amqplib's socket *inactivity* timeout up to connection.open-ok; 30 s lets a SYN dropped by
      // a full accept queue be retried by the kernel (after 1, 3, 7, 15 s) before we give up and
      // start again at the back of the queue (15 s gave up just as the fourth retry went out).
      // noDelay: a result publish and the ack after it are small writes; Nagle would hold the second.
      const conn = await amqp.connect(u, { clientProperties: { connection_name: name }, timeout: timeoutMs, noDelay: true, ...tlsOptions(u) });
      conn.on("error", () => {}); // 'close' follows; callers react there
      nextNode = (k + 1) % urls.length;
      return conn;
    } catch (e) {
      last = e;
    }
  }
  nextNode = (nextNode + 1) % urls.length;
  throw last;
}

export function describeError(e: unknown): string {
  const err = e as { code?: string | number; message?: string };
  if (err?.code === "ECONNREFUSED") return `broker unreachable (${err.message})`;
  if (typeof err?.message === "string" && /ACCESS_REFUSED|403/.test(err.message)) return `access refused by broker: ${err.message}`;
  return err?.message ?? String(e);
}

/**
 * Exponential backoff with full jitter: the k-th wait is uniform in [floor, min(max, min·2^k)]
 * (floor: a tenth of min). Many clients that lost the broker at the same instant (a restart,
 * a network blip: 10,000 agents at once) spread their retries over the whole window instead
 * of its upper half (equal jitter), and the window doubles with every failed attempt, so a
 * storm the broker cannot absorb thins out by itself.
 */
export class Backoff {
  private n = 0;
  constructor(
    private readonly minMs = 250,
    private readonly maxMs = 30_000,
  ) {}
  next(): number {
    const base = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.n++, 30));
    const floor = this.minMs / 10;
    return Math.round(floor + Math.random() * Math.max(0, base - floor));
  }
  reset(): void {
    this.n = 0;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The broker login a URL carries (amqplib's default is guest). */
export function brokerUser(url: string): string {
  try {
    return decodeURIComponent(new URL(brokerUrls(url)[0]!).username) || "guest";
  } catch {
    return "guest";
  }
}
