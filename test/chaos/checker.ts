/**
 * The history a chaos run records and the checker that judges it, modelled on rabbitmq/jepsen's
 * `total-queue` checker (and Jepsen's knossos-free queue checks):
 *
 * - every publish is an operation `pub:seq` on one queue: `invoke`, then `ok` (confirmed),
 *   `fail` (nacked or returned: the broker said it does not have it) or `info` (the connection
 *   was lost first: outcome unknown);
 * - every delivery is recorded (id, queue, redelivered flag, time) before it is acked.
 *
 * Verdict fields:
 *   lost        confirmed and never delivered (must be 0)
 *   unexpected  delivered but never published, or delivered from another queue (must be 0)
 *   duplicated  ids delivered more than once (at-least-once allows it; counted)
 *   recovered   fail/info publishes delivered anyway (fine: the outcome was unknown or a nack
 *               raced a store)
 *   order       per (publisher, queue), among confirmed messages: a first delivery with
 *               redelivered=false whose seq is lower than one already delivered (one consumer
 *               per queue at a time). A nacked or unknown publish may still arrive, late and
 *               out of order (a forwarding connection's bytes retransmitted after a partition
 *               heals): that is `recovered`, not an order violation
 *   maxGap      per queue, the largest gap between two successive confirms while the workload
 *               ran (= unavailability, the failover time when the fault hit that queue)
 *   ackedBack   ids delivered again after a delivery the consumer had acked, when that ack was
 *               made more than ACK_GRACE_MS before the last fault that began before the
 *               redelivery (or with no fault before it at all). At-least-once allows a
 *               redelivery, so this is not a safety violation; but RabbitMQ's quorum queue
 *               commits a settle through Raft, so an ack that reached a healthy cluster never
 *               comes back. A count here means acks are not replicated (warren before b9faa85:
 *               100 acked messages back after a failover, counted only as "duplicated"). Acks
 *               made during a fault are not excused as such: an ack that a deposed leader took
 *               (a consumer on its node until it fences itself) is redelivered by the new
 *               leader at once, before the next fault, while an ack the new leader took must
 *               stick through the next one.
 */

/**
 * How long before a fault an ack may have been made and still be lost by it (the ack in flight
 * on a connection the fault cut, or in a removal log not yet fsynced when every node is killed:
 * warren syncs those logs once a second).
 */
export const ACK_GRACE_MS = 2000;

export type Outcome = "pending" | "ok" | "fail" | "info";

export interface PublishOp {
  id: string;
  pub: string;
  seq: number;
  queue: string;
  invokeAt: number;
  outcome: Outcome;
  doneAt: number;
  /** why fail/info: "nack", "returned", "connection closed", ... */
  why?: string;
}

export interface Delivery {
  id: string;
  queue: string;
  redelivered: boolean;
  at: number;
  /** index of the node the consumer was connected to */
  node: number;
  /** the consumer acked it right after recording it (at `at`); false when ch.ack threw */
  acked?: boolean;
}

export interface History {
  publishes: Map<string, PublishOp>;
  deliveries: Delivery[];
  /** [start, end] of the publishing phase, epoch ms */
  window: [number, number];
  /** [start, end] of each fault, epoch ms (the nemesis adds them) */
  faults: [number, number][];
}

export interface QueueVerdict {
  queue: string;
  confirmed: number;
  maxGapMs: number;
  /** ms since the window start at which the largest gap began */
  maxGapAtMs: number;
}

export interface Verdict {
  published: number;
  ok: number;
  fail: number;
  info: number;
  delivered: number;
  lost: number;
  unexpected: number;
  duplicated: number;
  recovered: number;
  orderViolations: number;
  ackedBack: number;
  queues: QueueVerdict[];
  /** up to 10 lost ids, to look up in the logs */
  lostSample: string[];
  /** lost per queue, and when they were confirmed (ms since the window start, first..last) */
  lostByQueue: Record<string, { n: number; firstMs: number; lastMs: number }>;
  unexpectedSample: string[];
  orderSample: string[];
  /** up to 10 "id acked at +ms, back at +ms" */
  ackedBackSample: string[];
}

export function newHistory(): History {
  return { publishes: new Map(), deliveries: [], window: [Date.now(), Date.now()], faults: [] };
}

export function check(h: History): Verdict {
  let ok = 0;
  let fail = 0;
  let info = 0;
  for (const op of h.publishes.values()) {
    if (op.outcome === "ok") ok++;
    else if (op.outcome === "fail") fail++;
    else info++; // pending at the end counts as unknown
  }
  const seen = new Map<string, number>();
  const unexpectedSample: string[] = [];
  let unexpected = 0;
  const lastSeq = new Map<string, number>();
  let orderViolations = 0;
  const orderSample: string[] = [];
  /** per id, when its latest delivery was acked */
  const ackedAt = new Map<string, number>();
  const faultStarts = h.faults.map(([s]) => s).sort((a, b) => a - b);
  /** the start of the last fault that began at or before t (-Infinity: none) */
  const lastFaultBefore = (t: number): number => {
    let f = Number.NEGATIVE_INFINITY;
    for (const s of faultStarts) if (s <= t) f = s;
    return f;
  };
  let ackedBack = 0;
  const ackedBackSample: string[] = [];
  for (const d of h.deliveries) {
    const op = h.publishes.get(d.id);
    if (!op || op.queue !== d.queue) {
      unexpected++;
      if (unexpectedSample.length < 10) unexpectedSample.push(`${d.id}@${d.queue}`);
      continue;
    }
    const n = (seen.get(d.id) ?? 0) + 1;
    seen.set(d.id, n);
    const acked = ackedAt.get(d.id);
    const fault = lastFaultBefore(d.at);
    if (acked !== undefined && (fault === Number.NEGATIVE_INFINITY || acked < fault - ACK_GRACE_MS)) {
      ackedBack++;
      if (ackedBackSample.length < 10) ackedBackSample.push(`${d.id}@${d.queue} acked at +${acked - h.window[0]} ms, back at +${d.at - h.window[0]} ms`);
    }
    if (d.acked === true) ackedAt.set(d.id, d.at);
    else ackedAt.delete(d.id);
    if (n === 1 && !d.redelivered && op.outcome === "ok") {
      const k = `${op.pub}\u0000${op.queue}`;
      const last = lastSeq.get(k) ?? -1;
      if (op.seq < last) {
        orderViolations++;
        if (orderSample.length < 10) orderSample.push(`${d.id} after ${op.pub}:${last} on ${op.queue}`);
      } else lastSeq.set(k, op.seq);
    }
  }
  let lost = 0;
  let recovered = 0;
  let duplicated = 0;
  const lostSample: string[] = [];
  const lostByQueue: Verdict["lostByQueue"] = {};
  for (const op of h.publishes.values()) {
    const n = seen.get(op.id) ?? 0;
    if (n > 1) duplicated++;
    if (op.outcome === "ok" && n === 0) {
      lost++;
      if (lostSample.length < 10) lostSample.push(`${op.id}@${op.queue}`);
      const t = op.doneAt - h.window[0];
      const l = (lostByQueue[op.queue] ??= { n: 0, firstMs: t, lastMs: t });
      l.n++;
      l.firstMs = Math.min(l.firstMs, t);
      l.lastMs = Math.max(l.lastMs, t);
    }
    if (op.outcome !== "ok" && n > 0) recovered++;
  }
  const byQueue = new Map<string, number[]>();
  for (const op of h.publishes.values()) {
    let a = byQueue.get(op.queue);
    if (!a) byQueue.set(op.queue, (a = []));
    if (op.outcome === "ok") a.push(op.doneAt);
  }
  const [w0, w1] = h.window;
  const queues: QueueVerdict[] = [];
  for (const [queue, times] of [...byQueue].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    times.sort((a, b) => a - b);
    let maxGapMs = 0;
    let maxGapAt = w0;
    let prev = w0;
    for (const t of [...times, w1]) {
      if (t - prev > maxGapMs) {
        maxGapMs = t - prev;
        maxGapAt = prev;
      }
      prev = Math.max(prev, t);
    }
    queues.push({ queue, confirmed: times.length, maxGapMs, maxGapAtMs: maxGapAt - w0 });
  }
  return {
    published: h.publishes.size,
    ok,
    fail,
    info,
    delivered: h.deliveries.length,
    lost,
    unexpected,
    duplicated,
    recovered,
    orderViolations,
    ackedBack,
    queues,
    lostSample,
    lostByQueue,
    unexpectedSample,
    orderSample,
    ackedBackSample,
  };
}
