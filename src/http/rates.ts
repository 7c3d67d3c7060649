/**
 * Message rates and the short rate history for the management API, computed
 * off the hot path: the broker only increments plain counters; every 5 s this
 * sampler reads them all. A rate is (counter now − counter at the previous
 * sample) / elapsed seconds. Objects are keyed by a string ("q:" vhost \0 name,
 * "c:" connection name, …); keys not seen in a sample are forgotten, so deleted
 * objects do not leak.
 *
 * History: each key keeps its last samples in one Float64Array ring (values of
 * all its counters per tick), aligned to a shared ring of tick times. Overview
 * keys (no ":" in the key) keep OVERVIEW_RETENTION_S, every other object
 * OBJECT_RETENTION_S, and objects get a ring only while the total stays under
 * HISTORY_BUDGET_VALUES — so memory is bounded however many queues exist (past
 * the budget an object still has rates, its samples repeat the current value).
 *
 * Output is RabbitMQ 3.10's shape: `{publish: 12, publish_details: {rate: 2.4}}`,
 * and when the request asks for history (`msg_rates_age=600&msg_rates_incr=5`,
 * `lengths_age/_incr` for queue lengths, `data_rates_age/_incr` for bytes)
 * `publish_details` also has `samples` (newest first, timestamps aligned to
 * incr, `age/incr + 1` of them), `avg` (mean of the samples) and `avg_rate`
 * ((newest − oldest) / age).
 */
import { badRequest } from "./context.js";

export type Counters = Record<string, number>;

/** How long history is kept: the overview's charts (Overview page window up to 8 h)… */
export const OVERVIEW_RETENTION_S = 8 * 3600;
/** …and every queue, exchange, vhost, connection and channel (RabbitMQ's basic policy's first tier). */
export const OBJECT_RETENTION_S = 600;
/** Upper bound on stored history values (8 bytes each): 4 Mi values = 32 MiB. */
export const HISTORY_BUDGET_VALUES = 4 * 1024 * 1024;
/** Most steps (age / incr) one reply may ask for: RabbitMQ 3.10's limit. */
const MAX_STEPS = 500;

export type Family = "lengths" | "msg_rates" | "data_rates";
export interface Range {
  ageS: number;
  incrS: number;
}
export type Ranges = Partial<Record<Family, Range>>;

/** Which `*_age`/`*_incr` parameter a counter's samples follow (RabbitMQ's grouping). */
export function familyOf(counter: string): Family {
  if (counter.startsWith("messages")) return "lengths";
  if (counter.endsWith("_oct")) return "data_rates";
  return "msg_rates";
}

/**
 * Parse `lengths_age`, `msg_rates_incr`, … from a request URL as RabbitMQ 3.10 does: a
 * family is asked for when both its age and incr are integers; non-positive values or
 * more than 500 steps (age / incr) are a 400 "Invalid range parameters".
 */
export function parseRanges(url: URL): Ranges {
  const out: Ranges = {};
  for (const f of ["lengths", "msg_rates", "data_rates"] as const) {
    const age = url.searchParams.get(`${f}_age`);
    const incr = url.searchParams.get(`${f}_incr`);
    if (age === null || incr === null || !/^-?\d+$/.test(age) || !/^-?\d+$/.test(incr)) continue;
    const ageS = Number(age);
    const incrS = Number(incr);
    if (ageS <= 0 || incrS <= 0 || ageS / incrS > MAX_STEPS) throw badRequest(`Invalid range parameters: age ${age}, incr ${incr}`);
    out[f] = { ageS, incrS };
  }
  return out;
}

interface Series {
  names: string[];
  /** tick number of this key's first sample */
  born: number;
  /** ring of capacity × names.length values, or null when over budget */
  ring: Float64Array | null;
  capacity: number;
  /** the values at the last tick and at the one before (rates), whether or not there is a ring */
  cur: Float64Array;
  prev: Float64Array;
  /** the last tick that saw this key */
  seen: number;
}

/** Number of own enumerable keys, without allocating Object.keys' array. */
function keyCount(v: Counters): number {
  let n = 0;
  for (const k in v) if (k !== "") n++;
  return n;
}

export class Rates {
  private series = new Map<string, Series>();
  private historyValues = 0;
  /** shared ring of tick times (ms), sized for the longest retention */
  private readonly times: Float64Array;
  private tickNo = -1;
  private curTime = 0;
  private prevTime = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly collect: () => Iterable<[string, Counters]>,
    private readonly intervalMs = 5000,
    private readonly budget = HISTORY_BUDGET_VALUES,
  ) {
    this.times = new Float64Array(this.capacityFor(OVERVIEW_RETENTION_S));
  }

  private capacityFor(retentionS: number): number {
    return Math.ceil((retentionS * 1000) / this.intervalMs) + 2;
  }

  start(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * Take one sample now (also used by tests through the interval). Values are copied out of
   * the counters objects (collect may hand the same object again), nothing else is allocated
   * per key in the steady state: 10,000 connections with 4 channels each are 50,000 keys
   * every 5 s, on the event loop.
   */
  tick(now = Date.now()): void {
    const n = ++this.tickNo;
    this.times[n % this.times.length] = now;
    this.prevTime = this.curTime;
    this.curTime = now;
    let seen = 0;
    for (const [key, v] of this.collect()) {
      if (this.record(key, v, n)) seen++;
    }
    if (seen === this.series.size) return;
    for (const [key, s] of this.series) {
      if (s.seen === n) continue;
      if (s.ring) this.historyValues -= s.ring.length;
      this.series.delete(key);
    }
  }

  /** Store one key's sample; false when the key was already seen in this tick. */
  private record(key: string, v: Counters, n: number): boolean {
    let s = this.series.get(key);
    if (s && s.seen === n) return false;
    if (s && keyCount(v) !== s.names.length) {
      // a counter appeared (channels grow theirs as they are used): start this key's history again
      if (s.ring) this.historyValues -= s.ring.length;
      s = undefined;
    }
    if (!s) {
      const names = Object.keys(v);
      const capacity = this.capacityFor(key.includes(":") ? OBJECT_RETENTION_S : OVERVIEW_RETENTION_S);
      const size = capacity * names.length;
      const fits = this.historyValues + size <= this.budget;
      if (fits) this.historyValues += size;
      s = { names, born: n, ring: fits ? new Float64Array(size) : null, capacity, cur: new Float64Array(names.length), prev: new Float64Array(names.length), seen: n };
      this.series.set(key, s);
    }
    s.seen = n;
    const last = s.prev;
    s.prev = s.cur;
    s.cur = last;
    const ring = s.ring;
    const base = (n % s.capacity) * s.names.length;
    for (let i = 0; i < s.names.length; i++) {
      const x = v[s.names[i]!] ?? 0;
      last[i] = x;
      if (ring) ring[base + i] = x;
    }
    return true;
  }

  private samples(key: string, counter: string, current: number, range: Range, now: number): Record<string, unknown> {
    const s = this.series.get(key);
    const idx = s ? s.names.indexOf(counter) : -1;
    const ring = s && idx >= 0 ? s.ring : null;
    const width = s?.names.length ?? 0;
    const capacity = s?.capacity ?? 1;
    const oldest = s ? Math.max(s.born, this.tickNo - capacity + 1, this.tickNo - this.times.length + 1) : 0;
    // before the first kept sample: a key that appeared after the sampler started was not there (0);
    // otherwise its history is older than we keep, so repeat the oldest value (no fake rate spike)
    const before = !ring ? current : s!.born > 0 && oldest === s!.born ? 0 : ring[(oldest % capacity) * width + idx]!;
    const incrMs = range.incrS * 1000;
    const newest = Math.floor(now / incrMs) * incrMs;
    const count = Math.floor(range.ageS / range.incrS) + 1;
    const out: { sample: number; timestamp: number }[] = [];
    let sum = 0;
    let n = this.tickNo; // walks back once: sample times decrease
    for (let i = 0; i < count; i++) {
      const t = newest - i * incrMs;
      let v = current;
      if (ring) {
        while (n >= oldest && this.times[n % this.times.length]! > t) n--;
        v = n >= oldest ? ring[(n % capacity) * width + idx]! : before;
      }
      out.push({ sample: v, timestamp: t });
      sum += v;
    }
    const first = out[out.length - 1]!.sample;
    const last = out[0]!.sample;
    return { samples: out, avg: sum / count, avg_rate: (last - first) / range.ageS };
  }

  /** Per second between the last two ticks (0 for a key the last tick saw first). */
  rate(key: string, counter: string): number {
    const s = this.series.get(key);
    if (!s || s.seen !== this.tickNo || s.born >= this.tickNo || this.curTime <= this.prevTime) return 0;
    const i = s.names.indexOf(counter);
    if (i < 0) return 0;
    const dt = (this.curTime - this.prevTime) / 1000;
    return Math.max(0, Math.round(((s.cur[i]! - s.prev[i]!) / dt) * 10) / 10);
  }

  /** `{name: n, name_details: {rate}}` for every counter, plus samples where `ranges` asks for them. */
  details(key: string, counters: Counters, ranges: Ranges = {}, now = Date.now()): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const k in counters) {
      out[k] = counters[k];
      const range = ranges[familyOf(k)];
      const rate = this.rate(key, k);
      out[`${k}_details`] = range ? { rate, ...this.samples(key, k, counters[k] ?? 0, range, now) } : { rate };
    }
    return out;
  }

  /** A view of these rates for one request: `details` and `rate` with the request's history ranges. */
  forRequest(url: URL): RateView {
    const ranges = parseRanges(url);
    return {
      rate: (key, counter) => this.rate(key, counter),
      details: (key, counters) => this.details(key, counters, ranges),
    };
  }

  /** Stored history values (for tests of the memory bound). */
  get storedValues(): number {
    return this.historyValues;
  }
}

export interface RateView {
  rate(key: string, counter: string): number;
  details(key: string, counters: Counters): Record<string, unknown>;
}

/** True when any counter is non-zero (RabbitMQ omits message_stats for idle objects). */
export function active(c: Counters): boolean {
  for (const k in c) if (c[k] !== 0) return true;
  return false;
}
