/**
 * Node-level resources: /api/overview, /api/whoami, /api/nodes(/name),
 * /api/aliveness-test/V, /api/health/checks/alarms (+ a few other health
 * checks tools call). Shapes follow RabbitMQ 3.10; `rabbitmq_version` and
 * `management_version` report the RabbitMQ API level warren speaks (3.10.8),
 * `product_name`/`product_version` say what it really is.
 */
import { RABBITMQ_COMPAT_VERSION } from "../../lib/compat.js";
import os from "node:os";
import type { ClusterMember } from "../../broker/cluster-view.js";
import { nodeResources } from "../node-resources.js";
import { sendJSON, type Ctx } from "../context.js";
import { isMonitor, visibleVhosts, vhostFor, listsConnection, requireMonitor } from "../access.js";
import { CHURN, NODE, OVERVIEW, OVERVIEW_DEPTH, churnCounters, nodeCounters, overviewCounters, overviewDepth } from "../stats.js";
import { publishJSON } from "../messages.js";
import type { Route } from "../router.js";
import { askPeers, forwardQuery, localOnly } from "../peers.js";
import { command } from "../../broker/commands.js";

export const API_LEVEL = RABBITMQ_COMPAT_VERSION;

const EXCHANGE_TYPES = [
  { name: "direct", description: "AMQP direct exchange, as per the AMQP specification", enabled: true },
  { name: "fanout", description: "AMQP fanout exchange, as per the AMQP specification", enabled: true },
  { name: "headers", description: "AMQP headers exchange, as per the AMQP specification", enabled: true },
  { name: "topic", description: "AMQP topic exchange, as per the AMQP specification", enabled: true },
];

const AUTH_MECHANISMS = [
  { name: "PLAIN", description: "SASL PLAIN authentication mechanism", enabled: true },
  { name: "AMQPLAIN", description: "QPid AMQPLAIN mechanism", enabled: true },
];

function listeners(ctx: Ctx): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  if (ctx.node.amqpPort !== undefined) out.push({ node: ctx.node.name, protocol: "amqp", ip_address: ctx.node.amqpHost ?? "::", port: ctx.node.amqpPort, socket_opts: {} });
  // RabbitMQ names its TLS listener "amqp/ssl"
  if (ctx.node.amqpsPort !== undefined) out.push({ node: ctx.node.name, protocol: "amqp/ssl", ip_address: ctx.node.amqpsHost ?? "::", port: ctx.node.amqpsPort, socket_opts: {} });
  out.push({ node: ctx.node.name, protocol: "http", ip_address: "::", port: ctx.node.mgmtPort, socket_opts: {} });
  return out;
}

/** figures each node has of its own, added up over the running members for a cluster-wide overview */
const SUMMED_TOTALS = ["connections", "channels", "consumers"] as const;
const SUMMED_DEPTH = ["messages", "messages_ready", "messages_unacknowledged"] as const;

/**
 * RabbitMQ's overview is the cluster's (its management database aggregates every node):
 * object_totals' connections, channels and consumers and queue_totals' message counts (and
 * their current rates) are added up over the other running members' own overviews, asked
 * with x-warren-local (peers.ts; a member that does not answer within 1 s is left out).
 * Queues and exchanges are definitions every node has: not added. Only for monitoring and
 * administrator users, whom the other nodes' figures show in full; others see the answering
 * node's (their own connections there). message_stats and churn_rates stay the answering
 * node's: a publish or delivery that crossed a node link is counted on both nodes.
 */
async function addPeers(ctx: Ctx, body: Record<string, unknown>): Promise<void> {
  if (!ctx.broker.cluster || localOnly(ctx) || !isMonitor(ctx.user)) return;
  const totals = body["object_totals"] as Record<string, number>;
  const depth = body["queue_totals"] as Record<string, unknown>;
  for (const r of await askPeers(ctx, `/api/overview${forwardQuery(ctx)}`)) {
    if (r.status !== 200 || r.body === null || typeof r.body !== "object") continue;
    const o = r.body as Record<string, unknown>;
    const t = o["object_totals"] as Record<string, unknown> | undefined;
    for (const k of SUMMED_TOTALS) totals[k] = totals[k]! + (Number(t?.[k]) || 0);
    const d = o["queue_totals"] as Record<string, unknown> | undefined;
    for (const k of SUMMED_DEPTH) {
      depth[k] = Number(depth[k]) + (Number(d?.[k]) || 0);
      const mine = depth[`${k}_details`] as { rate: number } | undefined;
      const theirs = d?.[`${k}_details`] as { rate?: unknown } | undefined;
      if (mine) depth[`${k}_details`] = { ...mine, rate: mine.rate + (Number(theirs?.rate) || 0) };
    }
  }
}

async function overview(ctx: Ctx): Promise<void> {
  const b = ctx.broker;
  const vhosts = visibleVhosts(ctx);
  let queues = 0,
    exchanges = 0,
    consumers = 0;
  for (const v of vhosts) {
    queues += v.queues.size;
    exchanges += v.exchanges.size;
    for (const q of v.queues.values()) consumers += q.consumerCount;
  }
  let connections = 0,
    channels = 0;
  for (const c of b.connections) {
    if (listsConnection(ctx, c)) {
      connections++;
      channels += c.openChannels;
    } else if (b.isInternalConnection(c) && vhosts.some((v) => v.name === c.vhostName)) {
      // the hidden internal connection's consumers are left out of the totals too
      consumers -= c.consumersInfo().length;
    }
  }
  const counters = overviewCounters(b);
  const depth = overviewDepth(b);
  const body: Record<string, unknown> = {
    management_version: API_LEVEL,
    rates_mode: "basic",
    sample_retention_policies: { global: [600, 3600, 28800, 86400], basic: [600, 3600], detailed: [600] },
    exchange_types: EXCHANGE_TYPES,
    product_version: ctx.node.version,
    product_name: "warren",
    rabbitmq_version: API_LEVEL,
    cluster_name: b.cluster?.clusterName ?? ctx.node.name,
    erlang_version: process.version,
    erlang_full_version: `Node.js ${process.version} (${process.platform}/${process.arch})`,
    release_series_support_status: "supported",
    disable_stats: false,
    enable_queue_totals: false,
    message_stats: ctx.rates.details(OVERVIEW, counters),
    churn_rates: ctx.rates.details(CHURN, churnCounters(b)),
    queue_totals: ctx.rates.details(OVERVIEW_DEPTH, depth),
    object_totals: { channels, connections, consumers, exchanges, queues },
    statistics_db_event_queue: 0,
    node: ctx.node.name,
  };
  if (isMonitor(ctx.user)) {
    body["listeners"] = listeners(ctx);
    body["contexts"] = [{ node: ctx.node.name, description: "RabbitMQ Management", path: "/", port: String(ctx.node.mgmtPort) }];
  }
  await addPeers(ctx, body);
  sendJSON(ctx.res, 200, body);
}

export function nodeInfo(ctx: Ctx): Record<string, unknown> {
  const b = ctx.broker;
  const r = nodeResources(b);
  // RabbitMQ counts Erlang processes: about one per connection, channel and queue
  let queues = 0;
  for (const v of b.vhosts.values()) queues += v.queues.size;
  let channels = 0;
  for (const c of b.connections) channels += c.openChannels;
  return {
    name: ctx.node.name,
    type: "disc",
    running: true,
    os_pid: String(process.pid),
    mem_used: r.memUsed,
    mem_limit: r.memLimit,
    mem_alarm: b.alarms.has("memory"),
    disk_free: r.diskFree,
    disk_free_limit: r.diskFreeLimit,
    disk_free_alarm: b.alarms.has("disk"),
    fd_used: r.fdUsed,
    fd_total: r.fdTotal,
    sockets_used: r.socketsUsed,
    sockets_total: r.socketsTotal,
    proc_used: b.connections.size + channels + queues,
    proc_total: 1048576,
    mem_calculation_strategy: "rss",
    ...ctx.rates.details(NODE, nodeCounters(b)),
    ...ctx.rates.details(CHURN, churnCounters(b)),
    processors: os.cpus().length,
    run_queue: 0,
    uptime: Date.now() - b.startedAt,
    rates_mode: "basic",
    partitions: [],
    exchange_types: EXCHANGE_TYPES,
    auth_mechanisms: AUTH_MECHANISMS,
    applications: [{ name: "warren", description: "warren AMQP 0-9-1 broker", version: ctx.node.version }],
    contexts: [{ description: "RabbitMQ Management", path: "/", port: String(ctx.node.mgmtPort) }],
    log_files: [],
    enabled_plugins: ["rabbitmq_management", "rabbitmq_prometheus"],
    net_ticktime: 60,
    config_files: [],
    db_dir: "",
    cluster_links: [],
    metrics_gc_queue_length: {},
  };
}

/**
 * The keys every /api/nodes entry has whatever the node's state (RabbitMQ lists a stopped
 * member with its name, type, running: false and these).
 */
function staticKeys(): Record<string, unknown> {
  return {
    partitions: [],
    cluster_links: [],
    exchange_types: EXCHANGE_TYPES,
    auth_mechanisms: AUTH_MECHANISMS,
    rates_mode: "basic",
    net_ticktime: 60,
    enabled_plugins: ["rabbitmq_management", "rabbitmq_prometheus"],
  };
}

/**
 * Another member as this node knows it without asking it: what it published in etcd with
 * its lease (every 5 s). Used for a running member whose management listener does not answer
 * within PEER_TIMEOUT_MS; a member without a live lease is `running: false`, as RabbitMQ
 * shows a stopped node.
 */
function memberInfo(m: ClusterMember): Record<string, unknown> {
  if (!m.running || !m.info) return { name: m.name, type: m.type, running: false, ...staticKeys() };
  const i = m.info;
  const listeners = i["mgmt"] as { port: number } | undefined;
  return {
    name: m.name,
    type: m.type,
    running: true,
    os_pid: String(i["pid"]),
    mem_used: i["mem_used"],
    mem_alarm: (i["alarms"] as string[] | undefined)?.includes("memory") ?? false,
    disk_free_alarm: (i["alarms"] as string[] | undefined)?.includes("disk") ?? false,
    uptime: Date.now() - Number(i["startedAt"]),
    applications: [{ name: "warren", description: "warren AMQP 0-9-1 broker", version: i["version"] }],
    contexts: listeners ? [{ description: "RabbitMQ Management", path: "/", port: String(listeners.port) }] : [],
    ...staticKeys(),
  };
}

/**
 * Every member, each running one with the full set of figures RabbitMQ gives: this node's
 * own, the others' asked from them (peers.ts, in parallel, bounded); asked with
 * x-warren-local, a node answers for itself only.
 */
async function allNodes(ctx: Ctx, only?: string): Promise<Record<string, unknown>[]> {
  const c = ctx.broker.cluster;
  if (!c) return [nodeInfo(ctx)];
  const members = c.members().filter((m) => only === undefined || m.name === only);
  if (localOnly(ctx)) return members.filter((m) => m.name === ctx.node.name).map((m) => ({ ...nodeInfo(ctx), type: m.type }));
  const asked = members.some((m) => m.running && m.name !== ctx.node.name) ? await askPeers(ctx, `/api/nodes${forwardQuery(ctx)}`, only !== undefined ? { node: only } : {}) : [];
  const live = new Map<string, Record<string, unknown>>();
  for (const r of asked) {
    if (r.status !== 200 || !Array.isArray(r.body)) continue;
    const own = (r.body as Record<string, unknown>[]).find((x) => x !== null && typeof x === "object" && x["name"] === r.node);
    if (own) live.set(r.node, own);
  }
  return members.map((m) => {
    if (m.name === ctx.node.name) return { ...nodeInfo(ctx), type: m.type };
    const l = m.running ? live.get(m.name) : undefined;
    return l ? { ...l, type: m.type } : memberInfo(m);
  });
}

async function nodes(ctx: Ctx): Promise<void> {
  requireMonitor(ctx);
  sendJSON(ctx.res, 200, await allNodes(ctx));
}

async function node(ctx: Ctx): Promise<void> {
  requireMonitor(ctx);
  const n = (await allNodes(ctx, ctx.params[0])).find((x) => x["name"] === ctx.params[0]);
  if (!n) {
    sendJSON(ctx.res, 404, { error: "Object Not Found", reason: "Not Found" });
    return;
  }
  sendJSON(ctx.res, 200, n);
}

function whoami(ctx: Ctx): void {
  sendJSON(ctx.res, 200, { name: ctx.user.name, tags: ctx.user.tags });
}

/**
 * RabbitMQ's aliveness test: declare the non-durable queue "aliveness-test",
 * publish a message to it through the default exchange and get it back.
 */
function aliveness(ctx: Ctx): void {
  const v = vhostFor(ctx, ctx.params[0]!);
  const q = ctx.broker.apply(command("queue.declare", { vhost: v.name, name: "aliveness-test", durable: false, autoDelete: false, arguments: {} }), { origin: "http" });
  q.purge();
  const ex = v.getExchange("");
  const routed = publishJSON(ctx.broker, v, ex, { routing_key: "aliveness-test", payload: "test_message", payload_encoding: "string" }, ctx.user.name);
  const e = q.get(true);
  if (e) q.settle(e, false);
  if (routed && e) sendJSON(ctx.res, 200, { status: "ok" });
  else sendJSON(ctx.res, 503, { status: "failed", reason: "aliveness test message not received" });
}

function alarms(ctx: Ctx): void {
  const a = [...ctx.broker.alarms];
  if (a.length === 0) return sendJSON(ctx.res, 200, { status: "ok" });
  sendJSON(ctx.res, 503, {
    status: "failed",
    reason: "resource alarm(s) in effect in the cluster",
    alarms: a.map((resource) => ({ node: ctx.node.name, resource })),
  });
}

const ok = (ctx: Ctx): void => sendJSON(ctx.res, 200, { status: "ok" });

/** The listeners as /api/health/checks/*-listener see them (RabbitMQ's protocol names). */
function activeListeners(ctx: Ctx): { port: number; protocol: string }[] {
  return listeners(ctx).map((l) => ({ port: Number(l["port"]), protocol: String(l["protocol"]) }));
}

function portListener(ctx: Ctx): void {
  const port = Number(ctx.params[0]);
  if (!Number.isInteger(port)) return sendJSON(ctx.res, 400, { error: "bad_request", reason: `invalid port '${ctx.params[0]}'` });
  const ports = activeListeners(ctx).map((l) => l.port);
  if (ports.includes(port)) return sendJSON(ctx.res, 200, { status: "ok", port });
  sendJSON(ctx.res, 503, { status: "failed", reason: "No active listener", missing: port, ports });
}

function protocolListener(ctx: Ctx): void {
  const protocol = ctx.params[0]!;
  const protocols = [...new Set(activeListeners(ctx).map((l) => l.protocol))];
  // RabbitMQ accepts "amqp091"/"amqp" and "amqps" for the TLS listener
  const wanted = protocol === "amqp091" || protocol === "amqp0-9-1" ? "amqp" : protocol === "amqps" ? "amqp/ssl" : protocol;
  if (protocols.includes(wanted)) return sendJSON(ctx.res, 200, { status: "ok", protocol });
  sendJSON(ctx.res, 503, { status: "failed", reason: "No active listener", missing: protocol, protocols });
}

/**
 * RabbitMQ 3.10's feature flags whose behaviour warren has, all enabled (warren has no
 * mixed-version clusters to protect, so none is ever disabled).
 */
export const FEATURE_FLAGS: [string, string, string][] = [
  ["classic_mirrored_queue_version", "Support setting version for classic mirrored queues", "rabbit"],
  ["drop_unroutable_metric", "Count unroutable publishes to be dropped in stats", "rabbitmq_management_agent"],
  ["empty_basic_get_metric", "Count AMQP `basic.get` on empty queues in stats", "rabbitmq_management_agent"],
  ["implicit_default_bindings", "Default bindings are now implicit, instead of being stored in the database", "rabbit"],
  ["maintenance_mode_status", "Maintenance mode status", "rabbit"],
  ["quorum_queue", "Support queues of type `quorum`", "rabbit"],
  ["stream_queue", "Support queues of type `stream`", "rabbit"],
  ["user_limits", "Configure connection and channel limits for a user", "rabbit"],
  ["virtual_host_metadata", "Virtual host metadata (description, tags, etc)", "rabbit"],
];

function featureFlags(ctx: Ctx): void {
  sendJSON(
    ctx.res,
    200,
    FEATURE_FLAGS.map(([name, desc, provided_by]) => ({ name, desc, doc_url: "", state: "enabled", stability: "stable", provided_by })),
  );
}

export const routes: Route[] = [
  { method: "GET", path: "/api/overview", handler: overview },
  { method: "GET", path: "/api/whoami", handler: whoami },
  { method: "GET", path: "/api/nodes", handler: nodes },
  { method: "GET", path: "/api/nodes/:node", handler: node },
  { method: "GET", path: "/api/aliveness-test/:vhost", handler: aliveness },
  { method: "GET", path: "/api/health/checks/alarms", handler: alarms },
  { method: "GET", path: "/api/health/checks/local-alarms", handler: alarms },
  { method: "GET", path: "/api/health/checks/virtual-hosts", handler: ok },
  { method: "GET", path: "/api/health/checks/node-is-quorum-critical", handler: ok },
  { method: "GET", path: "/api/health/checks/node-is-mirror-sync-critical", handler: ok },
  { method: "GET", path: "/api/health/checks/port-listener/:port", handler: portListener },
  { method: "GET", path: "/api/health/checks/protocol-listener/:protocol", handler: protocolListener },
  // warren's TLS certificates are files it read at start; it does not track their expiry
  { method: "GET", path: "/api/health/checks/certificate-expiration/:within/:unit", handler: ok },
  { method: "GET", path: "/api/feature-flags", handler: featureFlags },
  { method: "GET", path: "/api/extensions", handler: (ctx) => sendJSON(ctx.res, 200, []) },
];
