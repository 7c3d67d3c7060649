/**
 * Keeps password checking from being a denial-of-service lever (AMQP logins and the
 * management API's basic auth alike). A scrypt check costs ~60 ms of CPU and 16 MiB,
 * so anyone who can reach a port could otherwise burn the broker's CPU with wrong passwords.
 *
 * - Failures are counted per source (an IPv4 address, or an IPv6 /64). After FREE_FAILURES
 *   within WINDOW_MS that source is refused without hashing for a while that doubles with
 *   each further failure (up to MAX_LOCK_MS). Failures age out with the window.
 * - At most MAX_CONCURRENT hashes run at once (on libuv's pool, never the event loop), with
 *   a bounded queue behind them: the store's fsyncs share that pool, and the second core is
 *   the one the broker's own thread needs.
 * Successful logins are cached by auth.ts, so reconnecting clients rarely reach here.
 */
export const FREE_FAILURES = 10;
const WINDOW_MS = 60_000;
const MAX_LOCK_MS = 60_000;
const MAX_CONCURRENT = 1;
const MAX_QUEUED = 500;

interface SourceState {
  failures: number;
  since: number;
  lockedUntil: number;
}

export class LoginGuard {
  private sources = new Map<string, SourceState>();
  private running = 0;
  private waiting: Array<() => void> = [];
  /** failed logins refused without hashing (for metrics and tests) */
  throttled = 0;

  /** The key failures are counted under. */
  static sourceOf(address: string | undefined): string {
    const a = (address ?? "").replace(/^::ffff:/, "");
    if (!a.includes(":")) return a;
    return a.split(":").slice(0, 4).join(":") + "::/64";
  }

  /** ms this source must still wait, or 0 when it may try. */
  lockedFor(source: string, now = Date.now()): number {
    const s = this.sources.get(source);
    if (!s) return 0;
    if (now - s.since > WINDOW_MS && now >= s.lockedUntil) {
      this.sources.delete(source);
      return 0;
    }
    return Math.max(0, s.lockedUntil - now);
  }

  failuresOf(source: string): number {
    return this.sources.get(source)?.failures ?? 0;
  }

  failed(source: string, now = Date.now()): void {
    let s = this.sources.get(source);
    if (!s || (now - s.since > WINDOW_MS && now >= s.lockedUntil)) {
      s = { failures: 0, since: now, lockedUntil: 0 };
      this.sources.set(source, s);
    }
    s.failures++;
    if (s.failures >= FREE_FAILURES) s.lockedUntil = now + Math.min(MAX_LOCK_MS, 1000 * 2 ** (s.failures - FREE_FAILURES));
    if (this.sources.size > 100_000) this.prune(now);
  }

  private prune(now: number): void {
    for (const [k, s] of this.sources) if (now - s.since > WINDOW_MS && now >= s.lockedUntil) this.sources.delete(k);
  }

  /** Run one hash when a slot is free; refuses (throws) when too many are already waiting. */
  async hashSlot<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= MAX_CONCURRENT) {
      if (this.waiting.length >= MAX_QUEUED) throw new Error("too many logins in progress");
      await new Promise<void>((r) => this.waiting.push(r)); // the finishing hash hands its slot over
    } else this.running++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
