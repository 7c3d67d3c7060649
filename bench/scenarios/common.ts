/**
 * Helpers shared by the scenarios: unique names, a control connection for
 * declaring and deleting, parallel synchronous calls over several channels,
 * and the standard throughput measurement (consumers first, then
 * publishers, a warmup, one sampled window, stop).
 *
 * Invariants: everything a helper declares is deleted in a finally block, so
 * a failed run leaves nothing on a shared broker; every wait is bounded.
 */
import { randomBytes } from "node:crypto";
import { BenchConn } from "../wire/conn.js";
import * as C from "../wire/codec.js";
import { LoadPool, sleep } from "../load/pool.js";
import { W_CONFIRMED, W_CONSUMED, W_PUBLISHED, type ConsumerSpec, type PublisherSpec } from "../load/shared.js";
import type { BenchOptions } from "./types.js";
import { cpuSecondsOfPid } from "../brokers.js";

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

/**
 * Run fn(item, channel) for every item, using `channels` channels of `conn`
 * in parallel, each sending one synchronous method at a time (pipelining
 * synchronous methods on one channel is not allowed by the spec).
 */
const openLanes = new WeakMap<BenchConn, Set<number>>();

export async function parallelCalls<T>(conn: BenchConn, items: T[], channels: number, fn: (item: T, ch: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(channels, Math.max(1, items.length)) }, (_, i) => i + 2);
  let open = openLanes.get(conn);
  if (!open) openLanes.set(conn, (open = new Set()));
  for (const ch of lanes) {
    if (open.has(ch)) continue;
    await conn.openChannel(ch);
    open.add(ch);
  }
  await Promise.all(
    lanes.map(async (ch) => {
      while (next < items.length) {
        const item = items[next++]!;
        await fn(item, ch);
      }
    }),
  );
}

export async function control(url: string): Promise<BenchConn> {
  const c = await BenchConn.open({ url });
  await c.openChannel(1);
  return c;
}

export interface ThroughputSpec {
  url: string;
  queues: string[];
  exchange: string;
  routingKeys: string[];
  bodySize: number;
  persistent?: boolean;
  confirmWindow?: number;
  noAck: boolean;
  prefetch?: number;
  ackEvery?: number;
  consumerConnections?: number;
  /** average number of queues each published message reaches */
  fanout?: number;
  /** for the CPU log line */
  brokerPid: number | null;
}

export interface ThroughputResult {
  consumedPerSec: number;
  publishedPerSec: number;
  confirmedPerSec: number;
}

/**
 * Let the publisher run ahead of the consumers by at most this many bytes
 * (and BENCH_BACKLOG_MAX messages), so a run measures flow and not unbounded
 * backlog growth. Generous on purpose: RabbitMQ delivers in larger batches
 * with a deeper queue (1 KiB: ~27k msgs/s at 4 MB, ~70k at 128 MB here), and
 * the bench should not flatter warren by starving it.
 */
const BACKLOG_BYTES = Number(process.env.BENCH_BACKLOG_BYTES ?? 128 * 1024 * 1024);

/**
 * CPU use during a window, as fractions of one core: this process (all load
 * threads) and the broker. Logged so a reader can tell whether the load
 * generator, rather than the broker, was the limit.
 */
export class CpuWindow {
  private self = cpuSecondsOfPid(process.pid);
  private broker: number | null;
  private t0 = performance.now();
  constructor(private pid: number | null) {
    this.broker = pid === null ? null : cpuSecondsOfPid(pid);
  }
  summary(): string {
    const secs = (performance.now() - this.t0) / 1000;
    const mine = (cpuSecondsOfPid(process.pid) - this.self) / secs;
    const broker = this.pid === null || this.broker === null ? null : (cpuSecondsOfPid(this.pid) - this.broker) / secs;
    return `cpu: load generator ${(mine * 100).toFixed(0)}%, broker ${broker === null ? "?" : (broker * 100).toFixed(0)}% (of one core)`;
  }
}

export async function measureThroughput(t: ThroughputSpec, o: BenchOptions): Promise<ThroughputResult> {
  const fanout = t.fanout ?? 1;
  const consumer: ConsumerSpec = {
    kind: "consume",
    url: t.url,
    queues: t.queues,
    connections: t.consumerConnections ?? 1,
    noAck: t.noAck,
    prefetch: t.prefetch ?? 0,
    ackEvery: t.ackEvery ?? 1,
    stamp: false,
    latencyCapacity: 0,
  };
  const publisher: PublisherSpec = {
    kind: "publish",
    url: t.url,
    exchange: t.exchange,
    routingKeys: t.routingKeys,
    bodySize: t.bodySize,
    persistent: t.persistent ?? false,
    confirmWindow: t.confirmWindow ?? 0,
    rate: 0,
    maxCount: 2 ** 31 - 1,
    stamp: false,
    backlog: { limit: Math.max(1000 * fanout, Math.min(Number(process.env.BENCH_BACKLOG_MAX ?? 100_000), BACKLOG_BYTES / Math.max(64, t.bodySize))), fanout, consumerWorkers: [0] },
  };
  const pool = new LoadPool([consumer, publisher]);
  try {
    await pool.start([0]);
    await pool.start([1]);
    await sleep(o.warmup * 1000);
    const c0 = pool.sum(W_CONSUMED, [0]);
    const p0 = pool.sum(W_PUBLISHED, [1]);
    const k0 = pool.sum(W_CONFIRMED, [1]);
    const cpu = new CpuWindow(t.brokerPid);
    const t0 = performance.now();
    await sleep(o.duration * 1000);
    const secs = (performance.now() - t0) / 1000;
    o.log(`    ${cpu.summary()}`);
    const r = {
      consumedPerSec: (pool.sum(W_CONSUMED, [0]) - c0) / secs,
      publishedPerSec: (pool.sum(W_PUBLISHED, [1]) - p0) / secs,
      confirmedPerSec: (pool.sum(W_CONFIRMED, [1]) - k0) / secs,
    };
    pool.throwIfFailed();
    return r;
  } finally {
    await pool.stop();
  }
}

/** delete queues over a fresh connection, several channels in parallel */
export async function deleteQueues(url: string, names: string[]): Promise<void> {
  const c = await control(url);
  try {
    await parallelCalls(c, names, 16, (q, ch) => c.call(C.queueDelete(ch, q), ch, C.M.queueDeleteOk));
  } finally {
    await c.close();
  }
}

export interface Topology {
  queues: string[];
  durable?: boolean;
  exchanges?: { name: string; type: string }[];
}

/**
 * Declare exchanges and queues around fn and always delete them afterwards,
 * on a fresh connection (fn may have broken its own).
 */
export async function withTopology<R>(url: string, t: Topology, fn: (c: BenchConn) => Promise<R>): Promise<R> {
  const c = await control(url);
  try {
    for (const x of t.exchanges ?? []) await c.call(C.exchangeDeclare(1, x.name, x.type), 1, C.M.exchangeDeclareOk);
    await parallelCalls(c, t.queues, 16, (q, ch) => c.queueDeclare(ch, q, { durable: !!t.durable }));
    return await fn(c);
  } finally {
    await c.close();
    try {
      const d = await control(url);
      for (const x of t.exchanges ?? []) await d.call(C.exchangeDelete(1, x.name), 1, C.M.exchangeDeleteOk);
      await d.close();
      await deleteQueues(url, t.queues);
    } catch (e) {
      process.stderr.write(`bench: cleanup failed: ${String(e)}\n`);
    }
  }
}

export function withQueues<R>(url: string, queues: string[], durable: boolean, fn: (c: BenchConn) => Promise<R>): Promise<R> {
  return withTopology(url, { queues, durable }, fn);
}
