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

function add(into: Counters, c: Counters): void {
  for (const k in c) into[k] = (into[k] ?? 0) + (c[k] ?? 0);
}

export function vhostCounters(v: VHost): Counters {
  const out: Counters = { publish: v.stats.publish, deliver: 0, deliver_no_ack: 0, get: 0, get_no_ack: 0, deliver_get: 0, ack: 0, redeliver: 0 };
  for (const q of v.queues.values()) {
    const c = queueCounters(q);
    delete c["publish"];
    add(out, c);
  }
  out["confirm"] = v.stats.confirm;
  out["return_unroutable"] = v.stats.returnUnroutable;
  out["drop_unroutable"] = v.stats.dropUnroutable;
  return out;
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

export function vhostDepth(v: VHost): Counters {
  const out: Counters = { messages: 0, messages_ready: 0, messages_unacknowledged: 0 };
  for (const q of v.queues.values()) add(out, queueDepth(q));
  return out;
}

export function overviewCounters(b: Broker): Counters {
  const out: Counters = {
    publish: b.totals.publish,
    confirm: b.totals.confirmed,
    deliver: 0,
    deliver_no_ack: 0,
    get: 0,
    get_no_ack: 0,
    get_empty: b.totals.getEmpty,
    deliver_get: 0,
    ack: 0,
    redeliver: 0,
    return_unroutable: b.totals.returnUnroutable,
    drop_unroutable: b.totals.dropUnroutable,
  };
  for (const v of b.vhosts.values()) {
    const c = vhostCounters(v);
    delete c["publish"];
    delete c["return_unroutable"];
    delete c["drop_unroutable"];
    delete c["get_empty"];
    delete c["confirm"];
    add(out, c);
  }
  // the server may also count globally; never show less than it did
  out["deliver"] = Math.max(out["deliver"] ?? 0, b.totals.deliver);
  out["ack"] = Math.max(out["ack"] ?? 0, b.totals.ack);
  out["get"] = Math.max(out["get"] ?? 0, b.totals.get);
  out["redeliver"] = Math.max(out["redeliver"] ?? 0, b.totals.redeliver);
  // messages the store wrote and bodies it read back (RabbitMQ: message store + queue index I/O)
  const io = b.store?.stats();
  out["disk_reads"] = io?.diskReads ?? 0;
  out["disk_writes"] = io?.diskWrites ?? 0;
  return out;
}

/**
 * The messages in the queues this node holds (on a cluster: the queues homed here; another
 * node's queue shows here only what this node pulled for its own consumers, which the home
 * node counts as unacknowledged), so that the nodes' figures add up to the cluster's.
 */
export function overviewDepth(b: Broker): Counters {
  const out: Counters = { messages: 0, messages_ready: 0, messages_unacknowledged: 0 };
  for (const v of b.vhosts.values()) for (const q of v.queues.values()) if (q.remote === null) add(out, queueDepth(q));
  return out;
}

/** One sampling pass over everything that has rates. */
export function* collect(b: Broker): Generator<[string, Counters]> {
  yield [OVERVIEW, overviewCounters(b)];
  yield [OVERVIEW_DEPTH, overviewDepth(b)];
  yield [CHURN, churnCounters(b)];
  yield [NODE, nodeCounters(b)];
  const net = allVhostNet(b);
  for (const v of b.vhosts.values()) {
    yield [vKey(v), vhostCounters(v)];
    yield [vNetKey(v), net.get(v.name) ?? { recv_oct: 0, send_oct: 0 }];
    yield [vDepthKey(v), vhostDepth(v)];
    for (const q of v.queues.values()) yield [qKey(q), { ...queueCounters(q), ...queueDepth(q) }];
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
