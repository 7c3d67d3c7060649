/**
 * GET /metrics: Prometheus text exposition (format 0.0.4), named after the
 * rabbitmq_prometheus plugin's metrics so existing dashboards mostly work:
 * per-queue ready/unacked/consumers and published totals, node-wide message
 * totals (publish, deliver, ack, redeliver, get, returns), connections,
 * channels, queues, consumers, alarms and process memory.
 *
 * Like RabbitMQ's Prometheus endpoint it needs no authentication; it exposes
 * counts and names only, never message contents. Built on request by walking
 * the broker — nothing is kept on the message path for it.
 */
import type { ServerResponse } from "node:http";
import type { Broker } from "../../broker/broker.js";
import { overviewCounters, queueCounters } from "../stats.js";

type Labels = Record<string, string>;

class Exposition {
  private lines: string[] = [];
  metric(name: string, type: "gauge" | "counter", help: string, samples: [Labels, number][]): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) this.lines.push(`${name}${fmtLabels(labels)} ${Number.isFinite(v) ? v : 0}`);
  }
  text(): string {
    return this.lines.join("\n") + "\n";
  }
}

function fmtLabels(l: Labels): string {
  const keys = Object.keys(l);
  if (keys.length === 0) return "";
  return "{" + keys.map((k) => `${k}="${l[k]!.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')}"`).join(",") + "}";
}

export function metricsText(b: Broker): string {
  const e = new Exposition();
  const qs = [...b.vhosts.values()].flatMap((v) => [...v.queues.values()]);
  const ql = (q: { vhost: string; name: string }): Labels => ({ vhost: q.vhost, queue: q.name });
  e.metric("rabbitmq_queue_messages_ready", "gauge", "Messages ready to be delivered to consumers", qs.map((q) => [ql(q), q.messageCount]));
  e.metric("rabbitmq_queue_messages_unacked", "gauge", "Messages delivered to consumers but not yet acknowledged", qs.map((q) => [ql(q), q.unacked]));
  e.metric("rabbitmq_queue_messages", "gauge", "Sum of ready and unacknowledged messages", qs.map((q) => [ql(q), q.messageCount + q.unacked]));
  e.metric("rabbitmq_queue_consumers", "gauge", "Consumers on a queue", qs.map((q) => [ql(q), q.consumerCount]));
  e.metric("rabbitmq_queue_messages_published_total", "counter", "Messages published into a queue", qs.map((q) => [ql(q), q.stats.publish]));
  e.metric("rabbitmq_queue_messages_delivered_total", "counter", "Messages delivered from a queue (deliver and get)", qs.map((q) => [ql(q), queueCounters(q)["deliver_get"] ?? 0]));
  e.metric("rabbitmq_queue_messages_acked_total", "counter", "Messages acknowledged on a queue", qs.map((q) => [ql(q), q.stats.ack]));

  const t = overviewCounters(b);
  const g = (k: string): [Labels, number][] => [[{}, t[k] ?? 0]];
  e.metric("rabbitmq_global_messages_received_total", "counter", "Messages published by clients", g("publish"));
  e.metric("rabbitmq_global_messages_delivered_total", "counter", "Messages delivered to consumers (manual and auto ack)", [[{}, (t["deliver"] ?? 0) + (t["deliver_no_ack"] ?? 0)]]);
  e.metric("rabbitmq_global_messages_delivered_get_total", "counter", "Messages fetched with basic.get", [[{}, (t["get"] ?? 0) + (t["get_no_ack"] ?? 0)]]);
  e.metric("rabbitmq_global_messages_acknowledged_total", "counter", "Messages acknowledged by consumers", g("ack"));
  e.metric("rabbitmq_global_messages_redelivered_total", "counter", "Messages redelivered to consumers", g("redeliver"));
  e.metric("rabbitmq_global_messages_unroutable_returned_total", "counter", "Unroutable mandatory messages returned to publishers", g("return_unroutable"));
  e.metric("rabbitmq_global_messages_unroutable_dropped_total", "counter", "Unroutable messages dropped", g("drop_unroutable"));

  let channels = 0;
  for (const c of b.connections) channels += c.channelsInfo().length;
  e.metric("rabbitmq_connections", "gauge", "Open AMQP connections", [[{}, b.connections.size]]);
  e.metric("rabbitmq_channels", "gauge", "Open AMQP channels", [[{}, channels]]);
  e.metric("rabbitmq_queues", "gauge", "Queues", [[{}, qs.length]]);
  e.metric("rabbitmq_consumers", "gauge", "Consumers", [[{}, qs.reduce((n, q) => n + q.consumerCount, 0)]]);
  e.metric("rabbitmq_connections_opened_total", "counter", "AMQP connections opened", [[{}, b.totals.connectionsCreated]]);
  e.metric("rabbitmq_channels_opened_total", "counter", "AMQP channels opened", [[{}, b.totals.channelsCreated]]);
  e.metric("rabbitmq_alarms_memory_used_watermark", "gauge", "1 if the memory alarm is in effect", [[{}, b.alarms.has("memory") ? 1 : 0]]);
  e.metric("rabbitmq_alarms_free_disk_space_watermark", "gauge", "1 if the disk alarm is in effect", [[{}, b.alarms.has("disk") ? 1 : 0]]);

  const mem = process.memoryUsage();
  e.metric("rabbitmq_process_resident_memory_bytes", "gauge", "Resident memory of the broker process", [[{}, mem.rss]]);
  e.metric("process_resident_memory_bytes", "gauge", "Resident memory of the broker process", [[{}, mem.rss]]);
  e.metric("nodejs_heap_used_bytes", "gauge", "V8 heap in use", [[{}, mem.heapUsed]]);
  e.metric("nodejs_external_memory_bytes", "gauge", "Memory held by Buffers outside the V8 heap", [[{}, mem.external]]);
  e.metric("rabbitmq_erlang_uptime_seconds", "gauge", "Broker uptime", [[{}, (Date.now() - b.startedAt) / 1000]]);
  return e.text();
}

export function serveMetrics(b: Broker, res: ServerResponse): void {
  const body = metricsText(b);
  res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8", "content-length": Buffer.byteLength(body) });
  res.end(body);
}
