/**
 * Reading the broker's plain counters into RabbitMQ's message_stats names,
 * per queue, exchange, vhost and for the whole node; and the sampler's
 * collection pass (every object's counters, keyed for Rates).
 *
 * Node-wide deliver/get/ack are the sum over live queues plus the broker's
 * totals of anything the server counts globally; counts of deleted queues are
 * not kept (RabbitMQ also forgets them from its per-object stats).
 */
import type { Broker } from "../broker/broker.js";
import type { Queue } from "../broker/queue.js";
import type { Exchange } from "../broker/exchanges/exchange.js";
import type { VHost } from "../broker/vhost.js";
import type { Counters } from "./rates.js";
import { nodeResources } from "./node-resources.js";

export const qKey = (q: Queue): string => `q:${q.vhost}\u0000${q.name}`;
export const xKey = (x: Exchange): string => `x:${x.vhost}\u0000${x.name}`;
export const vKey = (v: VHost): string => `v:${v.name}`;
export const cKey = (name: string): string => `c:${name}`;
export const chKey = (name: string): string => `ch:${name}`;
export const OVERVIEW = "o";
export const OVERVIEW_DEPTH = "od";
export const CHURN = "churn";
export const vDepthKey = (v: VHost): string => `${vKey(v)}/depth`;
export const vNetKey = (v: VHost): string => `${vKey(v)}/net`;
export const NODE = "node";

/** Objects created and closed (RabbitMQ's churn_rates; also on /api/nodes). */
export function churnCounters(b: Broker): Counters {
  const t = b.totals;
  let channels = 0,
    queues = 0;
  for (const c of b.connections) channels += c.openChannels;
  for (const v of b.vhosts.values()) queues += v.queues.size;
  return {
    connection_created: t.connectionsCreated,
    connection_closed: Math.max(0, t.connectionsCreated - b.connections.size),
    channel_created: t.channelsCreated,
    channel_closed: Math.max(0, t.channelsCreated - channels),
    queue_declared: t.queuesDeclared,
    queue_created: queues + t.queuesDeleted,
    queue_deleted: t.queuesDeleted,
  };
}

/** The node figures /api/nodes shows with a rate (mem_used_details, …). */
export function nodeCounters(b: Broker): Counters {
  const r = nodeResources(b);
  let channels = 0,
    queues = 0;
  for (const c of b.connections) channels += c.openChannels;
  for (const v of b.vhosts.values()) queues += v.queues.size;
  return { mem_used: r.memUsed, fd_used: r.fdUsed, sockets_used: r.socketsUsed, proc_used: b.connections.size + channels + queues, disk_free: r.diskFree };
}

export function queueCounters(q: Queue): Counters {
  const s = q.stats;
  return {
    publish: s.publish,
    deliver: s.deliver,
    deliver_no_ack: s.deliverNoAck,
    get: s.get,
    get_no_ack: s.getNoAck,
    get_empty: s.getEmpty,
    deliver_get: s.deliver + s.deliverNoAck + s.get + s.getNoAck,
    ack: s.ack,
    redeliver: s.redeliver,
  };
}

export function queueDepth(q: Queue): Counters {
  return { messages: q.messageCount + q.unacked, messages_ready: q.messageCount, messages_unacknowledged: q.unacked };
}

export function exchangeCounters(x: Exchange): Counters {
  return { publish_in: x.publishIn, publish_out: x.publishOut };
}

/**
 * The sums over a vhost's queues that the vhost and overview figures need, in one pass of plain
 * number fields (no per-queue objects): the sampler takes them for every vhost every 5 s, and at
 * 10,000 queues the per-queue objects (three each, with `delete`s that made them slow
 * dictionaries) kept the event loop busy for a few hundred ms per tick.
 */
interface QueueSums {
  deliver: number;
  deliverNoAck: number;
  get: number;
  getNoAck: number;
  getEmpty: number;
  ack: number;
  redeliver: number;
  ready: number;
  unacked: number;
  /** ready + unacked of the queues this node holds (not a cluster peer's) */
  localReady: number;
  localUnacked: number;
}

function sumQueues(v: VHost): QueueSums {
  const t: QueueSums = { deliver: 0, deliverNoAck: 0, get: 0, getNoAck: 0, getEmpty: 0, ack: 0, redeliver: 0, ready: 0, unacked: 0, localReady: 0, localUnacked: 0 };
  for (const q of v.queues.values()) {
    const s = q.stats;
    t.deliver += s.deliver;
    t.deliverNoAck += s.deliverNoAck;
    t.get += s.get;
    t.getNoAck += s.getNoAck;
    t.getEmpty += s.getEmpty;
    t.ack += s.ack;
    t.redeliver += s.redeliver;
    const ready = q.messageCount;
    const unacked = q.unacked;
    t.ready += ready;
    t.unacked += unacked;
    if (q.remote === null) {
      t.localReady += ready;
      t.localUnacked += unacked;
    }
  }
  return t;
}

function vhostCountersOf(v: VHost, t: QueueSums): Counters {
  return {
    publish: v.stats.publish,
    deliver: t.deliver,
    deliver_no_ack: t.deliverNoAck,
    get: t.get,
    get_no_ack: t.getNoAck,
    deliver_get: t.deliver + t.deliverNoAck + t.get + t.getNoAck,
    ack: t.ack,
    redeliver: t.redeliver,
    get_empty: t.getEmpty,
    confirm: v.stats.confirm,
    return_unroutable: v.stats.returnUnroutable,
    drop_unroutable: v.stats.dropUnroutable,
  };
}

export function vhostCounters(v: VHost): Counters {
  return vhostCountersOf(v, sumQueues(v));
}

/** Bytes received and sent by the vhost's open connections (RabbitMQ's vhost recv_oct/send_oct). */
export function vhostNet(b: Broker, vhost: string): Counters {
  const out: Counters = { recv_oct: 0, send_oct: 0 };
  for (const c of b.connections) {
    if (c.vhostName !== vhost) continue;
    const o = c.octets();
    out["recv_oct"]! += o.recv;
    out["send_oct"]! += o.send;
  }
  return out;
}

/** vhostNet for every vhost in one pass over the connections (the sampler; 10,000 connections × V vhosts otherwise). */
function allVhostNet(b: Broker): Map<string, Counters> {
  const out = new Map<string, Counters>();
  for (const v of b.vhosts.keys()) out.set(v, { recv_oct: 0, send_oct: 0 });
  for (const c of b.connections) {
    const n = out.get(c.vhostName);
    if (!n) continue;
    const o = c.octets();
    n["recv_oct"]! += o.recv;
    n["send_oct"]! += o.send;
  }
  return out;
}

const depthOf = (ready: number, unacked: number): Counters => ({ messages: ready + unacked, messages_ready: ready, messages_unacknowledged: unacked });

export function vhostDepth(v: VHost): Counters {
  const t = sumQueues(v);
  return depthOf(t.ready, t.unacked);
}

function overviewCountersOf(b: Broker, sums: Iterable<QueueSums>): Counters {
  let deliver = 0,
    deliverNoAck = 0,
    get = 0,
    getNoAck = 0,
    ack = 0,
    redeliver = 0;
  for (const t of sums) {
    deliver += t.deliver;
    deliverNoAck += t.deliverNoAck;
    get += t.get;
    getNoAck += t.getNoAck;
    ack += t.ack;
    redeliver += t.redeliver;
  }
  // messages the store wrote and bodies it read back (RabbitMQ: message store + queue index I/O)
  const io = b.store?.stats();
  return {
    publish: b.totals.publish,
    confirm: b.totals.confirmed,
    // the server may also count globally; never show less than it did
    deliver: Math.max(deliver, b.totals.deliver),
    deliver_no_ack: deliverNoAck,
    get: Math.max(get, b.totals.get),
    get_no_ack: getNoAck,
    get_empty: b.totals.getEmpty,
    deliver_get: deliver + deliverNoAck + get + getNoAck,
    ack: Math.max(ack, b.totals.ack),
    redeliver: Math.max(redeliver, b.totals.redeliver),
    return_unroutable: b.totals.returnUnroutable,
    drop_unroutable: b.totals.dropUnroutable,
    disk_reads: io?.diskReads ?? 0,
    disk_writes: io?.diskWrites ?? 0,
  };
}

export function overviewCounters(b: Broker): Counters {
  return overviewCountersOf(b, [...b.vhosts.values()].map(sumQueues));
}

/**
 * The messages in the queues this node holds (on a cluster: the queues homed here; another
 * node's queue shows here only what this node pulled for its own consumers, which the home
 * node counts as unacknowledged), so that the nodes' figures add up to the cluster's.
 */
function overviewDepthOf(sums: Iterable<QueueSums>): Counters {
  let ready = 0,
    unacked = 0;
  for (const t of sums) {
    ready += t.localReady;
    unacked += t.localUnacked;
  }
  return depthOf(ready, unacked);
}

export function overviewDepth(b: Broker): Counters {
  return overviewDepthOf([...b.vhosts.values()].map(sumQueues));
}

/** A queue's rates and lengths in one object of one shape (the sampler's per-queue entry). */
function queueSample(q: Queue): Counters {
  const s = q.stats;
  const ready = q.messageCount;
  const unacked = q.unacked;
  return {
    publish: s.publish,
    deliver: s.deliver,
    deliver_no_ack: s.deliverNoAck,
    get: s.get,
    get_no_ack: s.getNoAck,
    get_empty: s.getEmpty,
    deliver_get: s.deliver + s.deliverNoAck + s.get + s.getNoAck,
    ack: s.ack,
    redeliver: s.redeliver,
    messages: ready + unacked,
    messages_ready: ready,
    messages_unacknowledged: unacked,
  };
}

/** One sampling pass over everything that has rates. */
export function* collect(b: Broker): Generator<[string, Counters]> {
  // each vhost's queues summed once, for the vhost's figures and the overview's
  const sums = new Map<VHost, QueueSums>();
  for (const v of b.vhosts.values()) sums.set(v, sumQueues(v));
  yield [OVERVIEW, overviewCountersOf(b, sums.values())];
  yield [OVERVIEW_DEPTH, overviewDepthOf(sums.values())];
  yield [CHURN, churnCounters(b)];
  yield [NODE, nodeCounters(b)];
  const net = allVhostNet(b);
  for (const [v, t] of sums) {
    yield [vKey(v), vhostCountersOf(v, t)];
    yield [vNetKey(v), net.get(v.name) ?? { recv_oct: 0, send_oct: 0 }];
    yield [vDepthKey(v), depthOf(t.ready, t.unacked)];
    for (const q of v.queues.values()) yield [qKey(q), queueSample(q)];
    for (const x of v.exchanges.values()) yield [xKey(x), exchangeCounters(x)];
  }
  for (const c of b.connections) {
    const o = c.octets();
    yield [cKey(c.name), { recv_oct: o.recv, send_oct: o.send }];
    for (const ch of c.channelStats()) yield [chKey(ch.name), ch.stats];
  }
}

export function num(v: unknown): number {
  return typeof v === "number" ? v : 0;
}
