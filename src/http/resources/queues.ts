/**
 * /api/queues(/vhost(/name)) GET/PUT/DELETE, DELETE …/contents (purge),
 * POST …/get, GET …/bindings.
 *
 * Same permission checks as AMQP: declare/delete need configure on the
 * queue, purge and get need read. Declares and deletes go through the VHost
 * methods (durable queues are persisted by them). The API acts on behalf of an
 * exclusive queue's owner, as RabbitMQ's management plugin does.
 */
import { tableToJSON, type FieldTable } from "../../amqp/field-table.js";
import type { Queue } from "../../broker/queue.js";
import { TAIL_BYTES_PER_RECORD } from "../../broker/paged-tail.js";
import { badRequest, bool, notFound, obj, sendEmpty, sendJSON, type Ctx } from "../context.js";
import { sendList } from "../listing.js";
import { checkResource, listVhosts, vhostFor } from "../access.js";
import { qKey, queueCounters, queueDepth } from "../stats.js";
import { active } from "../rates.js";
import { getMessages } from "../messages.js";
import type { Route } from "../router.js";
import { askPeers, forwardQuery, localOnly, peerLists } from "../peers.js";
import { bindingsJSON } from "./bindings.js";
import { command } from "../../broker/commands.js";
import { rabbitTimestamp } from "../../lib/timestamp.js";

/**
 * RabbitMQ counts a queue's every consumer, whichever node its channel is on. On its home node
 * a warren queue has one consumer per other node consuming from it (that node's link): those
 * are replaced by the consumers the other nodes published (cluster.ts, eventual, ~200 ms).
 */
function consumerCount(ctx: Ctx, q: Queue): number {
  const c = ctx.broker.cluster;
  const link = ctx.broker.linkUser;
  if (c === null || q.remote !== null || link === null || q.consumerCount === 0) return q.consumerCount;
  let n = 0;
  for (const x of q.consumers) if (x.owner.user !== link) n++;
  return n === q.consumerCount ? n : n + c.remoteConsumers(q.vhost, q.name);
}

export function queueJSON(ctx: Ctx, q: Queue): Record<string, unknown> {
  if (q.quorum) return quorumQueueJSON(ctx, q);
  const key = qKey(q);
  const type = typeof q.arguments["x-queue-type"] === "string" ? q.arguments["x-queue-type"] : "classic";
  const out: Record<string, unknown> = {
    name: q.name,
    vhost: q.vhost,
    durable: q.durable,
    auto_delete: q.autoDelete,
    exclusive: q.exclusive,
    arguments: tableToJSON(q.arguments),
    node: q.remote?.node ?? ctx.node.name,
    state: q.remote !== null && !q.remote.available ? "down" : "running",
    type,
    consumers: consumerCount(ctx, q),
    consumer_capacity: q.consumerCount > 0 ? 1 : 0,
    consumer_utilisation: q.consumerCount > 0 ? 1 : 0,
    ...ctx.rates.details(key, queueDepth(q)),
    message_bytes: q.ready.bytes,
    message_bytes_ready: q.ready.bytes,
    message_bytes_unacknowledged: 0,
    ...residency(q),
    idle_since: rabbitTimestamp(q.lastUsed),
    exclusive_consumer_tag: null,
    single_active_consumer_tag: q.settings.singleActiveConsumer && q.consumers[0] ? q.consumers[0].tag : null,
    head_message_timestamp: null,
    policy: q.policy ?? null,
    operator_policy: q.operatorPolicy ?? null,
    effective_policy_definition: q.policy !== undefined || q.operatorPolicy !== undefined ? (ctx.broker.policyFor(q.vhost, "queue", q.name, q.settings.queueType)?.definition ?? {}) : {},
    recoverable_slaves: null,
  };
  const c = queueCounters(q);
  if (active(c)) out["message_stats"] = ctx.rates.details(key, c);
  return out;
}

/**
 * A quorum queue as RabbitMQ 3.10.8 shows it (rabbit_quorum_queue's info keys): leader, members and
 * online replicas, open_files per member, dead-letter counters (at-least-once dead-lettering is not
 * implemented: 0), single_active_consumer_ctag; and none of a classic queue's idle_since,
 * exclusive_consumer_tag, head_message_timestamp, paging or *_ready_ram fields. Every message of a
 * quorum queue counts as persistent. On one node the node is leader, only member and online.
 */
function quorumQueueJSON(ctx: Ctx, q: Queue): Record<string, unknown> {
  const key = qKey(q);
  const r = residency(q);
  // on a cluster, its replicas (rabbitmqctl list_queues leader members online); on one node, this node
  const qi = ctx.broker.cluster?.quorumInfo(q.vhost, q.name);
  const here = q.remote?.node ?? ctx.node.name;
  const down = qi ? qi.leader === null : q.remote !== null && !q.remote.available;
  const members = qi ? qi.members : [here];
  const out: Record<string, unknown> = {
    name: q.name,
    vhost: q.vhost,
    durable: q.durable,
    auto_delete: q.autoDelete,
    exclusive: q.exclusive,
    arguments: tableToJSON(q.arguments),
    node: qi ? (qi.leader ?? here) : here,
    leader: qi ? qi.leader : here,
    members,
    online: qi ? qi.online : down ? [] : [here],
    // warren's addition: the in-sync replicas (a publish is confirmed once every one of them has it)
    in_sync: qi ? qi.isr : down ? [] : [here],
    open_files: Object.fromEntries(members.map((m) => [m, 0])),
    state: down ? "down" : "running",
    type: "quorum",
    consumers: consumerCount(ctx, q),
    consumer_capacity: q.consumerCount > 0 ? 1 : 0,
    consumer_utilisation: q.consumerCount > 0 ? 1 : 0,
    ...ctx.rates.details(key, queueDepth(q)),
    message_bytes: q.ready.bytes,
    message_bytes_ready: q.ready.bytes,
    message_bytes_unacknowledged: 0,
    messages_ram: r["messages_ram"],
    message_bytes_ram: r["message_bytes_ram"],
    messages_persistent: q.ready.length + q.unacked,
    message_bytes_persistent: q.ready.bytes,
    messages_dlx: 0,
    message_bytes_dlx: 0,
    memory: r["memory"],
    single_active_consumer_ctag: q.settings.singleActiveConsumer && q.consumers[0] ? q.consumers[0].tag : null,
    policy: q.policy ?? null,
    operator_policy: q.operatorPolicy ?? null,
    effective_policy_definition: q.policy !== undefined || q.operatorPolicy !== undefined ? (ctx.broker.policyFor(q.vhost, "queue", q.name, "quorum")?.definition ?? {}) : {},
  };
  const c = queueCounters(q);
  if (active(c)) out["message_stats"] = ctx.rates.details(key, c);
  return out;
}

/**
 * Where a queue's messages are (RabbitMQ's *_ram, *_persistent, *_paged_out fields), from the
 * counts its ready list keeps as entries come and go (never a walk over a backlog of millions).
 * Unacknowledged messages count as in memory. `memory` is an estimate: ~1 KB per queue,
 * ~300 bytes per queued entry object, TAIL_BYTES_PER_RECORD per compact record, plus the
 * bodies held in memory.
 */
function residency(q: Queue): Record<string, number> {
  const r = q.ready;
  const ram = r.length - r.paged;
  const ramBytes = r.bytes - r.pagedBytes;
  const encoded = r.encoded;
  return {
    messages_ram: ram + q.unacked,
    messages_ready_ram: ram,
    messages_unacknowledged_ram: q.unacked,
    message_bytes_ram: ramBytes,
    messages_persistent: q.durable ? r.persistent : 0,
    message_bytes_persistent: q.durable ? r.persistentBytes : 0,
    messages_paged_out: r.paged,
    message_bytes_paged_out: r.pagedBytes,
    memory: 1024 + 300 * (r.length - encoded + q.unacked) + TAIL_BYTES_PER_RECORD * encoded + ramBytes,
  };
}

/**
 * On a cluster, a queue's figures (messages, consumers, rates, memory) are its home node's
 * (a quorum queue's: its leader's): they are asked from that node on each request (peers.ts),
 * so they are live; a home node that does not answer within PEER_TIMEOUT_MS leaves this node's
 * own view of the queue. Asked with x-warren-local, a node lists only the queues it holds.
 */
async function list(ctx: Ctx): Promise<void> {
  const vhosts = listVhosts(ctx, ctx.params[0]);
  if (localOnly(ctx) && ctx.broker.cluster) {
    return sendList(
      ctx,
      vhosts.flatMap((v) => [...v.queues.values()].filter((q) => q.remote === null).map((q) => queueJSON(ctx, q))),
    );
  }
  const queues = vhosts.flatMap((v) => [...v.queues.values()]);
  const remote = new Map<string, Record<string, unknown>>();
  if (queues.some((q) => q.remote !== null)) {
    const path = ctx.params[0] !== undefined ? `/api/queues/${encodeURIComponent(ctx.params[0])}` : "/api/queues";
    for (const r of await peerLists(ctx, path)) remote.set(`${String(r["node"])}\u0000${String(r["vhost"])}\u0000${String(r["name"])}`, r);
  }
  const out = queues.map((q) => {
    const local = queueJSON(ctx, q);
    return q.remote !== null ? (remote.get(`${String(local["node"])}\u0000${q.vhost}\u0000${q.name}`) ?? local) : local;
  });
  sendList(ctx, out, { paginate: true });
}

function find(ctx: Ctx): Queue {
  const v = vhostFor(ctx, ctx.params[0]!);
  const q = v.queues.get(ctx.params[1]!);
  if (!q) throw notFound();
  return q;
}

async function show(ctx: Ctx): Promise<void> {
  const q = find(ctx);
  if (q.remote !== null && !localOnly(ctx)) {
    // the home node's live figures (and its consumers) when it answers in time
    const node = String(queueJSON(ctx, q)["node"]);
    const [r] = await askPeers(ctx, `/api/queues/${encodeURIComponent(q.vhost)}/${encodeURIComponent(q.name)}${forwardQuery(ctx)}`, { node });
    if (r && r.status === 200 && r.body !== null && typeof r.body === "object") return sendJSON(ctx.res, 200, r.body);
  }
  const consumers = [...ctx.broker.connections]
    .flatMap((c) => c.consumersInfo())
    .filter((c) => {
      const cq = c["queue"] as { name: string; vhost: string } | undefined;
      return cq?.name === q.name && cq.vhost === q.vhost;
    });
  sendJSON(ctx.res, 200, {
    ...queueJSON(ctx, q),
    consumer_details: consumers,
    incoming: [],
    deliveries: [],
  });
}

async function put(ctx: Ctx): Promise<void> {
  const v = vhostFor(ctx, ctx.params[0]!);
  const name = ctx.params[1]!;
  if (name === "") throw badRequest("queue name must not be empty");
  const body = await ctx.body();
  checkResource(ctx, v.name, "configure", "queue", name);
  const args = obj(body, "arguments") as FieldTable;
  const existing = v.queues.get(name);
  ctx.broker.apply(
    command("queue.declare", {
      vhost: v.name,
      name,
      durable: bool(body, "durable", false),
      autoDelete: bool(body, "auto_delete", false),
      arguments: args,
    }),
    { origin: "http", owner: existing?.exclusiveOwner ?? null },
  );
  sendEmpty(ctx.res, existing ? 204 : 201);
}

function del(ctx: Ctx): void {
  const q = find(ctx);
  checkResource(ctx, q.vhost, "configure", "queue", q.name);
  const p = ctx.url.searchParams;
  ctx.broker.apply(command("queue.delete", { vhost: q.vhost, name: q.name, ifUnused: p.get("if-unused") === "true", ifEmpty: p.get("if-empty") === "true" }), {
    origin: "http",
    owner: q.exclusiveOwner,
  });
  sendEmpty(ctx.res, 204);
}

function purge(ctx: Ctx): void {
  const q = find(ctx);
  checkResource(ctx, q.vhost, "read", "queue", q.name);
  ctx.broker.getVhost(q.vhost).purgeQueue(q.name, q.exclusiveOwner);
  sendEmpty(ctx.res, 204);
}

async function get(ctx: Ctx): Promise<void> {
  const q = find(ctx);
  const body = await ctx.body();
  checkResource(ctx, q.vhost, "read", "queue", q.name);
  sendJSON(ctx.res, 200, getMessages(ctx.broker, q, body));
}

function bindings(ctx: Ctx): void {
  const q = find(ctx);
  const rows = [...ctx.broker.getVhost(q.vhost).allBindings()].filter((b) => b.destinationType === "queue" && b.destination === q.name);
  sendJSON(ctx.res, 200, bindingsJSON(q.vhost, rows));
}

export const routes: Route[] = [
  { method: "GET", path: "/api/queues", handler: list },
  { method: "GET", path: "/api/queues/:vhost", handler: list },
  { method: "GET", path: "/api/queues/:vhost/:name", handler: show },
  { method: "PUT", path: "/api/queues/:vhost/:name", handler: put },
  { method: "DELETE", path: "/api/queues/:vhost/:name", handler: del },
  { method: "DELETE", path: "/api/queues/:vhost/:name/contents", handler: purge },
  { method: "POST", path: "/api/queues/:vhost/:name/get", handler: get },
  { method: "GET", path: "/api/queues/:vhost/:name/bindings", handler: bindings },
];
