/**
 * Message rates for the management API, computed off the hot path: the broker
 * only increments plain counters; every 5 s this sampler reads them all, and a
 * rate is (counter now − counter at the previous sample) / elapsed seconds.
 * Objects are keyed by a string ("q:" vhost \0 name, "c:" connection name, …);
 * keys not seen in a sample are forgotten, so deleted objects do not leak.
 *
 * Output is RabbitMQ's shape: `{publish: 12, publish_details: {rate: 2.4}}`.
 */

export type Counters = Record<string, number>;

export class Rates {
  private prev = new Map<string, { t: number; v: Counters }>();
  private current = new Map<string, Counters>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly collect: () => Iterable<[string, Counters]>,
    private readonly intervalMs = 5000,
  ) {}

  start(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Take one sample now (also used by tests through the interval). */
  tick(now = Date.now()): void {
    const prev = this.prev;
    const next = new Map<string, { t: number; v: Counters }>();
    const rates = new Map<string, Counters>();
    for (const [key, v] of this.collect()) {
      next.set(key, { t: now, v: { ...v } });
      const p = prev.get(key);
      if (!p || now <= p.t) continue;
      const dt = (now - p.t) / 1000;
      const r: Counters = {};
      for (const k in v) r[k] = Math.max(0, Math.round((((v[k] ?? 0) - (p.v[k] ?? 0)) / dt) * 10) / 10);
      rates.set(key, r);
    }
    this.prev = next;
    this.current = rates;
  }

  rate(key: string, counter: string): number {
    return this.current.get(key)?.[counter] ?? 0;
  }

  /** `{name: n, name_details: {rate}}` for every counter. */
  details(key: string, counters: Counters): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const r = this.current.get(key);
    for (const k in counters) {
      out[k] = counters[k];
      out[`${k}_details`] = { rate: r?.[k] ?? 0 };
    }
    return out;
  }
}

/** True when any counter is non-zero (RabbitMQ omits message_stats for idle objects). */
export function active(c: Counters): boolean {
  for (const k in c) if (c[k] !== 0) return true;
  return false;
}
