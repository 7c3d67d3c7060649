/**
 * Prometheus metrics the way RabbitMQ 3.10's rabbitmq_prometheus plugin serves
 * them, on a listener of their own (default 15692, like the plugin):
 *
 *   /metrics             aggregated: one sample per metric for the whole node
 *   /metrics/per-object  one sample per queue / channel / connection
 *   /metrics/fleet       Fleet monitoring's latest values (fleet_host_up, item gauges,
 *                        open alerts), when the composition root passes them in
 *   /metrics/detailed    only the families asked for (?family=queue_coarse_metrics&
 *                        family=…), per object, names prefixed rabbitmq_detailed_
 *                        (rabbitmq_cluster_ for vhost_status / exchange_*), optionally
 *                        limited to some vhosts (?vhost=…)
 *
 * Names, types, HELP texts and labels are RabbitMQ's (its collector modules and a
 * capture from a 3.10.8 node in test/prometheus/fixtures); warren emits a subset —
 * nothing Erlang-specific — and never a rabbitmq_ name RabbitMQ does not have:
 * its own metrics are warren_*. rabbitmq_identity_info / rabbitmq_build_info are
 * what the official Grafana dashboards join every query on.
 *
 * No authentication, like the plugin: it serves counts and object names, never
 * message contents — bind it to a private interface (--prometheus-bind) or turn
 * it off (--prometheus-port off) where queue names are sensitive. Built on request
 * by walking the broker; nothing is kept on the message path for it.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import type { Broker } from "../broker/broker.js";
import type { Queue } from "../broker/queue.js";
import { RABBITMQ_COMPAT_VERSION } from "../lib/compat.js";
import { displayHost } from "../lib/net.js";
import type { Logger } from "../lib/logger.js";
import { nodeResources } from "./node-resources.js";
import { num } from "./stats.js";

type Labels = Record<string, string>;
type Sample = [Labels, number];
type MetricType = "gauge" | "counter" | "untyped";

interface Family {
  name: string;
  type: MetricType;
  help: string;
  samples: Sample[];
}

/** Which objects a collection covers. */
interface Scope {
  perObject: boolean;
  /** vhost names, or null for all */
  vhosts: Set<string> | null;
}

export interface PrometheusNode {
  /** rabbitmq_node / rabbitmq_cluster labels */
  nodeName: string;
  clusterName: string;
  /** warren's own version, for rabbitmq_build_info's product_version */
  version: string;
}

const NONE: Labels = {};
const fam = (name: string, type: MetricType, help: string, samples: Sample[]): Family => ({ name, type, help, samples });
const sum = <T>(xs: Iterable<T>, f: (x: T) => number): number => {
  let n = 0;
  for (const x of xs) n += f(x);
  return n;
};

/** One family per metric: per object, or one aggregated sample (RabbitMQ sums each table). */
function perObjectOrSum<T>(scope: Scope, objects: T[], labels: (o: T) => Labels, defs: [string, MetricType, string, (o: T) => number][]): Family[] {
  return defs.map(([name, type, help, value]) => fam(name, type, help, scope.perObject ? objects.map((o) => [labels(o), value(o)]) : [[NONE, sum(objects, value)]]));
}

function queuesIn(b: Broker, scope: Scope): Queue[] {
  const out: Queue[] = [];
  for (const v of b.vhosts.values()) if (!scope.vhosts || scope.vhosts.has(v.name)) for (const q of v.queues.values()) out.push(q);
  return out;
}

interface ChannelRow {
  name: string;
  info: Record<string, unknown>;
  stats: Record<string, unknown>;
}

function channels(b: Broker): ChannelRow[] {
  const out: ChannelRow[] = [];
  for (const c of b.connections) {
    for (const ch of c.channelsInfo()) out.push({ name: String(ch["name"]), info: ch, stats: (ch["message_stats"] ?? {}) as Record<string, unknown> });
  }
  return out;
}

const queueLabels = (q: Queue): Labels => ({ vhost: q.vhost, queue: q.name });
const channelLabels = (c: ChannelRow): Labels => ({ channel: c.name });

/**
 * RabbitMQ's metric groups (the names /metrics/detailed?family= takes), each
 * producing its families without the rabbitmq_ / rabbitmq_detailed_ prefix.
 */
const GROUPS: Record<string, (b: Broker, scope: Scope) => Family[]> = {
  connection_churn_metrics: (b) => {
    const t = b.totals;
    const liveChannels = sum(b.connections, (c) => c.openChannels);
    let liveQueues = 0;
    for (const v of b.vhosts.values()) liveQueues += v.queues.size;
    return [
      fam("connections_opened_total", "counter", "Total number of connections opened", [[NONE, t.connectionsCreated]]),
      fam("connections_closed_total", "counter", "Total number of connections closed or terminated", [[NONE, Math.max(0, t.connectionsCreated - b.connections.size)]]),
      fam("channels_opened_total", "counter", "Total number of channels opened", [[NONE, t.channelsCreated]]),
      fam("channels_closed_total", "counter", "Total number of channels closed", [[NONE, Math.max(0, t.channelsCreated - liveChannels)]]),
      fam("queues_declared_total", "counter", "Total number of queues declared", [[NONE, t.queuesDeclared]]),
      fam("queues_created_total", "counter", "Total number of queues created", [[NONE, liveQueues + t.queuesDeleted]]),
      fam("queues_deleted_total", "counter", "Total number of queues deleted", [[NONE, t.queuesDeleted]]),
    ];
  },
  node_coarse_metrics: (b) => {
    const r = nodeResources(b);
    return [
      fam("process_open_fds", "gauge", "Open file descriptors", [[NONE, r.fdUsed]]),
      fam("process_open_tcp_sockets", "gauge", "Open TCP sockets", [[NONE, r.socketsUsed]]),
      fam("process_resident_memory_bytes", "gauge", "Memory used in bytes", [[NONE, r.memUsed]]),
      fam("disk_space_available_bytes", "gauge", "Disk space available in bytes", [[NONE, r.diskFree]]),
    ];
  },
  node_metrics: (b) => {
    const r = nodeResources(b);
    return [
      fam("process_max_fds", "gauge", "Open file descriptors limit", [[NONE, r.fdTotal]]),
      fam("process_max_tcp_sockets", "gauge", "Open TCP sockets limit", [[NONE, r.socketsTotal]]),
      fam("resident_memory_limit_bytes", "gauge", "Memory high watermark in bytes", [[NONE, r.memLimit]]),
      fam("disk_space_available_limit_bytes", "gauge", "Free disk space low watermark in bytes", [[NONE, r.diskFreeLimit]]),
      fam("erlang_uptime_seconds", "gauge", "Node uptime", [[NONE, (Date.now() - b.startedAt) / 1000]]),
    ];
  },
  queue_coarse_metrics: (b, scope) =>
    perObjectOrSum(scope, queuesIn(b, scope), queueLabels, [
      ["queue_messages_ready", "gauge", "Messages ready to be delivered to consumers", (q) => q.messageCount],
      ["queue_messages_unacked", "gauge", "Messages delivered to consumers but not yet acknowledged", (q) => q.unacked],
      ["queue_messages", "gauge", "Sum of ready and unacknowledged messages - total queue depth", (q) => q.messageCount + q.unacked],
    ]),
  queue_metrics: (b, scope) =>
    perObjectOrSum(scope, queuesIn(b, scope), queueLabels, [
      ["queue_consumers", "gauge", "Consumers on a queue", (q) => q.consumerCount],
      ["queue_consumer_capacity", "gauge", "Consumer capacity", (q) => (q.consumerCount > 0 ? 1 : 0)],
      ["queue_consumer_utilisation", "gauge", "Same as consumer capacity", (q) => (q.consumerCount > 0 ? 1 : 0)],
      ["queue_messages_ready_bytes", "gauge", "Size in bytes of ready messages", (q) => q.ready.bytes],
    ]),
  channel_metrics: (b, scope) =>
    perObjectOrSum(scope, channels(b), channelLabels, [
      ["channel_consumers", "gauge", "Consumers on a channel", (c) => num(c.info["consumer_count"])],
      ["channel_messages_unacked", "gauge", "Delivered but not yet acknowledged messages", (c) => num(c.info["messages_unacknowledged"])],
      ["channel_messages_unconfirmed", "gauge", "Published but not yet confirmed messages", (c) => num(c.info["messages_unconfirmed"])],
      ["consumer_prefetch", "gauge", "Limit of unacknowledged messages for each consumer", (c) => num(c.info["prefetch_count"])],
      ["channel_prefetch", "gauge", "Total limit of unacknowledged messages for all consumers on a channel", (c) => num(c.info["global_prefetch_count"])],
    ]),
  channel_exchange_metrics: (b, scope) =>
    perObjectOrSum(scope, channels(b), channelLabels, [
      ["channel_messages_published_total", "counter", "Total number of messages published into an exchange on a channel", (c) => num(c.stats["publish"])],
      ["channel_messages_confirmed_total", "counter", "Total number of messages published into an exchange and confirmed on the channel", (c) => num(c.stats["confirm"])],
      [
        "channel_messages_unroutable_returned_total",
        "counter",
        "Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable",
        (c) => num(c.stats["return_unroutable"]),
      ],
    ]),
  channel_queue_metrics: (b, scope) =>
    perObjectOrSum(scope, channels(b), channelLabels, [["channel_messages_acked_total", "counter", "Total number of messages acknowledged by consumers", (c) => num(c.stats["ack"])]]),
  connection_coarse_metrics: (b, scope) =>
    perObjectOrSum(
      scope,
      [...b.connections].map((c) => c.info()),
      (c) => ({ channel: String(c["name"]) }),
      [
        ["connection_incoming_bytes_total", "counter", "Total number of bytes received on a connection", (c) => num(c["recv_oct"])],
        ["connection_outgoing_bytes_total", "counter", "Total number of bytes sent on a connection", (c) => num(c["send_oct"])],
      ],
    ),
  connection_metrics: (b, scope) =>
    perObjectOrSum(
      scope,
      [...b.connections].map((c) => c.info()),
      (c) => ({ channel: String(c["name"]) }),
      [
        ["connection_incoming_packets_total", "counter", "Total number of packets received on a connection", (c) => num(c["recv_cnt"])],
        ["connection_pending_packets", "gauge", "Number of packets waiting to be sent on a connection", (c) => num(c["send_pend"])],
        ["connection_channels", "gauge", "Channels on a connection", (c) => num(c["channels"])],
      ],
    ),
  // RabbitMQ labels this per channel × queue × exchange; warren counts per queue only
  channel_queue_exchange_metrics: (b, scope) =>
    perObjectOrSum(scope, queuesIn(b, scope), (q) => ({ queue_vhost: q.vhost, queue: q.name }), [
      ["queue_messages_published_total", "counter", "Total number of messages published to queues", (q) => q.stats.publish],
    ]),
};

/** /metrics/detailed only: rabbitmq_cluster_* families, cluster-wide (the vhost filter does not apply, as in RabbitMQ). */
const CLUSTER_GROUPS: Record<string, (b: Broker) => Family[]> = {
  vhost_status: (b) => [
    fam(
      "vhost_status",
      "gauge",
      "Whether a given vhost is running",
      [...b.vhosts.values()].map((v) => [{ vhost: v.name }, 1]),
    ),
  ],
  exchange_bindings: (b) => [
    fam(
      "exchange_bindings",
      "gauge",
      "Number of bindings for an exchange. This value is cluster-wide.",
      userExchanges(b).map((x) => [exchangeLabels(x), x.bindings]),
    ),
  ],
  exchange_names: (b) => [
    fam(
      "exchange_name",
      "gauge",
      "Enumerates exchanges without any additional info. This value is cluster-wide. A cheaper alternative to `exchange_bindings`",
      userExchanges(b).map((x) => [exchangeLabels(x), 1]),
    ),
  ],
};

interface ExchangeRow {
  vhost: string;
  name: string;
  type: string;
  bindings: number;
}

/** Exchanges as RabbitMQ counts them here: neither internal ones nor the default exchange. */
function userExchanges(b: Broker): ExchangeRow[] {
  const out: ExchangeRow[] = [];
  for (const v of b.vhosts.values()) {
    const counts = new Map<string, number>();
    for (const bd of v.allBindings()) counts.set(bd.source, (counts.get(bd.source) ?? 0) + 1);
    for (const x of v.exchanges.values()) {
      if (x.internal || x.name === "") continue;
      out.push({ vhost: v.name, name: x.name, type: x.type, bindings: counts.get(x.name) ?? 0 });
    }
  }
  return out;
}

const exchangeLabels = (x: ExchangeRow): Labels => ({ vhost: x.vhost, exchange: x.name, type: x.type });

/** rabbitmq_connections/channels/consumers/queues: object counts, on /metrics and /metrics/per-object. */
function totals(b: Broker): Family[] {
  let queues = 0,
    consumers = 0;
  for (const v of b.vhosts.values()) {
    queues += v.queues.size;
    for (const q of v.queues.values()) consumers += q.consumerCount;
  }
  return [
    fam("connections", "gauge", "Connections currently open", [[NONE, b.connections.size]]),
    fam("channels", "gauge", "Channels currently open", [[NONE, sum(b.connections, (c) => c.openChannels)]]),
    fam("consumers", "gauge", "Consumers currently connected", [[NONE, consumers]]),
    fam("queues", "gauge", "Queues available", [[NONE, queues]]),
  ];
}

function identity(node: PrometheusNode): Family[] {
  return [
    fam("build_info", "untyped", "RabbitMQ & Erlang/OTP version info", [
      [
        {
          rabbitmq_version: RABBITMQ_COMPAT_VERSION,
          prometheus_plugin_version: RABBITMQ_COMPAT_VERSION,
          prometheus_client_version: "warren",
          erlang_version: process.version,
          product_name: "warren",
          product_version: node.version,
        },
        1,
      ],
    ]),
    fam("identity_info", "untyped", "RabbitMQ node & cluster identity info", [
      [{ rabbitmq_node: node.nodeName, rabbitmq_cluster: node.clusterName, rabbitmq_cluster_permanent_id: `warren-${node.clusterName}` }, 1],
    ]),
  ];
}

/** rabbitmq_global_* (RabbitMQ's rabbit_global_counters): monotonic, per protocol and queue type. */
function globals(b: Broker): Family[] {
  const t = b.totals;
  const p = { protocol: "amqp091" };
  const pq = { protocol: "amqp091", queue_type: "rabbit_classic_queue" };
  let consumers = 0;
  for (const v of b.vhosts.values()) for (const q of v.queues.values()) consumers += q.consumerCount;
  const publishers = sum(channels(b), (c) => (num(c.stats["publish"]) > 0 ? 1 : 0));
  const c = (name: string, help: string, labels: Labels, v: number): Family => fam(`global_${name}`, "counter", help, [[labels, v]]);
  return [
    fam("global_consumers", "gauge", "Current number of consumers", [[p, consumers]]),
    fam("global_publishers", "gauge", "Current number of publishers", [[p, publishers]]),
    c("messages_received_total", "Total number of messages received from publishers", p, t.publish),
    c("messages_received_confirm_total", "Total number of messages received from publishers expecting confirmations", p, t.receivedConfirm),
    c("messages_confirmed_total", "Total number of messages confirmed to publishers", p, t.confirmed),
    c("messages_routed_total", "Total number of messages routed to queues or streams", p, t.routed),
    c("messages_unroutable_dropped_total", "Total number of messages published as non-mandatory into an exchange and dropped as unroutable", p, t.dropUnroutable),
    c("messages_unroutable_returned_total", "Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable", p, t.returnUnroutable),
    c("messages_delivered_total", "Total number of messages delivered to consumers", pq, t.deliver + t.get),
    c("messages_delivered_consume_manual_ack_total", "Total number of messages delivered to consumers using basic.consume with manual acknowledgment", pq, t.deliver - t.deliverNoAck),
    c("messages_delivered_consume_auto_ack_total", "Total number of messages delivered to consumers using basic.consume with automatic acknowledgment", pq, t.deliverNoAck),
    c("messages_delivered_get_manual_ack_total", "Total number of messages delivered to consumers using basic.get with manual acknowledgment", pq, t.get - t.getNoAck),
    c("messages_delivered_get_auto_ack_total", "Total number of messages delivered to consumers using basic.get with automatic acknowledgment", pq, t.getNoAck),
    c("messages_get_empty_total", "Total number of times basic.get operations fetched no message", pq, t.getEmpty),
    c("messages_redelivered_total", "Total number of messages redelivered to consumers", pq, t.redeliver),
    c("messages_acknowledged_total", "Total number of messages acknowledged by consumers", pq, t.ack),
  ];
}

function alarms(b: Broker): Family[] {
  return [
    fam("alarms_file_descriptor_limit", "untyped", "is 1 if file descriptor limit alarm is in effect", [[NONE, 0]]),
    fam("alarms_free_disk_space_watermark", "untyped", "is 1 if free disk space watermark alarm is in effect", [[NONE, b.alarms.has("disk") ? 1 : 0]]),
    fam("alarms_memory_used_watermark", "untyped", "is 1 if VM memory watermark alarm is in effect", [[NONE, b.alarms.has("memory") ? 1 : 0]]),
  ];
}

const startTime = Math.floor((Date.now() - process.uptime() * 1000) / 1000);

const processStart = (): Family => fam("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", [[NONE, startTime]]);

/** warren's own metrics, which RabbitMQ has no name for. */
function warrenOwn(b: Broker): Family[] {
  const mem = process.memoryUsage();
  return [
    fam("warren_store_corrupt_records_total", "counter", "Corrupt message records skipped when the store recovered (messages lost)", [[NONE, b.store?.stats().corruptRecords ?? 0]]),
    fam("warren_nodejs_heap_used_bytes", "gauge", "V8 heap in use", [[NONE, mem.heapUsed]]),
    fam("warren_nodejs_heap_total_bytes", "gauge", "V8 heap reserved", [[NONE, mem.heapTotal]]),
    fam("warren_nodejs_external_memory_bytes", "gauge", "Memory held by Buffers outside the V8 heap", [[NONE, mem.external]]),
  ];
}

const prefixed = (prefix: string, fs: Family[]): Family[] => fs.map((f) => ({ ...f, name: prefix + f.name }));

/** The text for /metrics (perObject false), /metrics/per-object (true). */
export function metricsText(b: Broker, node: PrometheusNode, perObject: boolean): string {
  const scope: Scope = { perObject, vhosts: null };
  const fs: Family[] = [];
  for (const g of Object.values(GROUPS)) fs.push(...prefixed("rabbitmq_", g(b, scope)));
  fs.push(...prefixed("rabbitmq_", [...totals(b), ...identity(node), ...globals(b)]));
  // RabbitMQ registers its alarm and process collectors for /metrics only
  if (!perObject) fs.push(...prefixed("rabbitmq_", alarms(b)), processStart());
  fs.push(...warrenOwn(b));
  return render(fs);
}

/** /metrics/detailed: the requested groups only (unknown names are ignored, as RabbitMQ does), per object. */
export function detailedText(b: Broker, node: PrometheusNode, families: string[], vhosts: string[] | null): string {
  const scope: Scope = { perObject: true, vhosts: vhosts ? new Set(vhosts) : null };
  const fs: Family[] = [];
  for (const name of new Set(families)) {
    if (Object.hasOwn(GROUPS, name)) fs.push(...prefixed("rabbitmq_detailed_", GROUPS[name]!(b, scope)));
    else if (Object.hasOwn(CLUSTER_GROUPS, name)) fs.push(...prefixed("rabbitmq_cluster_", CLUSTER_GROUPS[name]!(b)));
  }
  fs.push(...prefixed("rabbitmq_", identity(node)));
  return render(fs);
}

/** Every family name each endpoint can emit (for docs and tests). */
export const GROUP_NAMES = [...Object.keys(GROUPS), ...Object.keys(CLUSTER_GROUPS)];

function render(fs: Family[]): string {
  const lines: string[] = [];
  for (const f of fs) {
    lines.push(`# TYPE ${f.name} ${f.type}`, `# HELP ${f.name} ${f.help}`);
    for (const [labels, v] of f.samples) lines.push(`${f.name}${fmtLabels(labels)} ${Number.isFinite(v) ? v : "NaN"}`);
  }
  return lines.join("\n") + "\n";
}

function fmtLabels(l: Labels): string {
  const keys = Object.keys(l);
  if (keys.length === 0) return "";
  return "{" + keys.map((k) => `${k}="${l[k]!.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')}"`).join(",") + "}";
}

export interface PrometheusOptions {
  broker: Broker;
  /** undefined = every interface */
  host: string | undefined;
  port: number;
  log: Logger;
  node?: Partial<PrometheusNode>;
  /**
   * Extra exposition served on /metrics/fleet (the embedded Fleet collector's latest values),
   * given the query's filters; undefined while no collector runs. The broker knows nothing of Fleet:
   * the composition root (src/main) passes this in.
   */
  fleet?: (filter: { host?: string | undefined; group?: string | undefined; item?: string | undefined }) => string | undefined;
}

const MAX_QUERY = 16 * 1024;

export async function startPrometheus(opts: PrometheusOptions): Promise<{ port: number; host: string; close(): Promise<void> }> {
  const { broker, log } = opts;
  const nodeName = opts.node?.nodeName ?? `warren@${os.hostname()}`;
  const node: PrometheusNode = { nodeName, clusterName: opts.node?.clusterName ?? nodeName, version: opts.node?.version ?? "0.0.0" };
  const srv = http.createServer((req, res) => {
    const send = (status: number, body: string, type = "text/plain; version=0.0.4; charset=utf-8"): void => {
      res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    try {
      if (req.method !== "GET" && req.method !== "HEAD") return send(405, "Method Not Allowed\n", "text/plain");
      if ((req.url ?? "").length > MAX_QUERY) return send(414, "URI Too Long\n", "text/plain");
      const url = new URL(req.url ?? "/", "http://localhost");
      const path = url.pathname.replace(/\/$/, "");
      if (path === "/metrics") return send(200, metricsText(broker, node, false));
      if (path === "/metrics/per-object") return send(200, metricsText(broker, node, true));
      if (path === "/metrics/fleet") {
        const q = (k: string): string | undefined => url.searchParams.get(k) ?? undefined;
        const text = opts.fleet?.({ host: q("host"), group: q("group"), item: q("item") });
        return text === undefined ? send(404, "no Fleet collector runs in this server\n", "text/plain") : send(200, text);
      }
      if (path === "/metrics/detailed") {
        const vhosts = url.searchParams.getAll("vhost");
        return send(200, detailedText(broker, node, url.searchParams.getAll("family"), vhosts.length > 0 ? vhosts : null));
      }
      send(404, "Not Found\n", "text/plain");
    } catch (e) {
      log.warn(`prometheus ${req.url}: ${(e as Error).stack ?? String(e)}`);
      if (!res.headersSent) send(500, "internal error\n", "text/plain");
      else res.destroy();
    }
  });
  srv.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(opts.port, opts.host, () => {
      srv.off("error", reject);
      resolve();
    });
  });
  const port = (srv.address() as AddressInfo).port;
  log.info(`prometheus metrics on http://${displayHost(srv.address())}:${port}/metrics`);
  return {
    port,
    host: displayHost(srv.address()),
    close: async () => {
      srv.closeIdleConnections();
      await new Promise<void>((r) => srv.close(() => r()));
    },
  };
}
