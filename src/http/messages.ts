/**
 * Messages through the management API: POST /api/exchanges/V/E/publish and
 * POST /api/queues/V/Q/get, in RabbitMQ's JSON shapes (properties with
 * snake_case names, payload + payload_encoding "string" | "base64").
 *
 * Publish goes through the vhost's router like an AMQP basic.publish (so
 * durable persistent messages are stored). Get uses the queue's basic.get
 * and then settles the entry by the ackmode: ack_requeue_false acks,
 * reject_requeue_false rejects (dead-letters), *_requeue_true puts it back
 * in place marked redelivered — RabbitMQ's semantics.
 */
import { isUtf8 } from "node:buffer";
import type { BasicProperties } from "../amqp/properties.js";
import { encodeProperties } from "../amqp/properties.js";
import type { FieldTable } from "../amqp/field-table.js";
import { tableToJSON } from "../amqp/field-table.js";
import type { Broker } from "../broker/broker.js";
import type { Exchange } from "../broker/exchanges/exchange.js";
import { Message } from "../broker/message.js";
import type { Queue } from "../broker/queue.js";
import type { QueueEntry } from "../broker/message.js";
import type { VHost } from "../broker/vhost.js";
import { ROUTED } from "../broker/router.js";
import { badRequest } from "./context.js";

const STRING_PROPS: [string, keyof BasicProperties][] = [
  ["content_type", "contentType"],
  ["content_encoding", "contentEncoding"],
  ["correlation_id", "correlationId"],
  ["reply_to", "replyTo"],
  ["expiration", "expiration"],
  ["message_id", "messageId"],
  ["type", "type"],
  ["user_id", "userId"],
  ["app_id", "appId"],
  ["cluster_id", "clusterId"],
];

export function propertiesFromJSON(p: Record<string, unknown>): BasicProperties {
  const out: BasicProperties = {};
  const o = out as Record<string, unknown>;
  for (const [json, prop] of STRING_PROPS) {
    const v = p[json];
    if (v === undefined || v === null) continue;
    if (typeof v !== "string") throw badRequest(`property ${json} must be a string`);
    o[prop] = v;
  }
  for (const [json, prop] of [
    ["delivery_mode", "deliveryMode"],
    ["priority", "priority"],
    ["timestamp", "timestamp"],
  ] as const) {
    const v = p[json];
    if (v === undefined || v === null) continue;
    const n = typeof v === "string" ? Number(v) : v;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0) throw badRequest(`property ${json} must be a non-negative integer`);
    o[prop] = n;
  }
  const h = p["headers"];
  if (h !== undefined && h !== null) {
    if (typeof h !== "object" || Array.isArray(h)) throw badRequest("property headers must be an object");
    out.headers = h as FieldTable;
  }
  return out;
}

export function propertiesToJSON(p: BasicProperties): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const o = p as Record<string, unknown>;
  for (const [json, prop] of STRING_PROPS) if (o[prop] !== undefined) out[json] = o[prop];
  if (p.deliveryMode !== undefined) out["delivery_mode"] = p.deliveryMode;
  if (p.priority !== undefined) out["priority"] = p.priority;
  if (p.timestamp !== undefined) out["timestamp"] = p.timestamp;
  if (p.headers !== undefined) out["headers"] = tableToJSON(p.headers);
  return out;
}

/** Publish from JSON; returns whether the message reached a queue. */
export function publishJSON(broker: Broker, vhost: VHost, ex: Exchange, body: Record<string, unknown>, user: string): boolean {
  const routingKey = typeof body["routing_key"] === "string" ? body["routing_key"] : "";
  const payload = body["payload"];
  if (typeof payload !== "string") throw badRequest("payload must be a string");
  const enc = body["payload_encoding"] ?? "string";
  if (enc !== "string" && enc !== "base64") throw badRequest(`invalid payload_encoding '${String(enc)}'`);
  const bytes = enc === "base64" ? Buffer.from(payload, "base64") : Buffer.from(payload, "utf8");
  if (bytes.length > broker.maxMessageSize) throw badRequest(`message size ${bytes.length} is larger than configured max size ${broker.maxMessageSize}`);
  const rawProps = body["properties"];
  const props = propertiesFromJSON(rawProps && typeof rawProps === "object" && !Array.isArray(rawProps) ? (rawProps as Record<string, unknown>) : {});
  if (props.userId !== undefined && props.userId !== user) {
    throw badRequest(`user_id property set to '${props.userId}' but authenticated user was '${user}'`);
  }
  const msg = new Message(ex.name, routingKey, props, encodeProperties(props), bytes, bytes.length, Date.now());
  broker.totals.publish++;
  const routed = (vhost.router.publish(ex, msg, routingKey) & ROUTED) !== 0;
  if (!routed) vhost.stats.dropUnroutable++;
  return routed;
}

export type AckMode = "ack_requeue_true" | "ack_requeue_false" | "reject_requeue_true" | "reject_requeue_false";
const ACK_MODES: readonly string[] = ["ack_requeue_true", "ack_requeue_false", "reject_requeue_true", "reject_requeue_false"];

/** POST …/get: take up to `count` messages, settle each by ackmode. */
export function getMessages(broker: Broker, q: Queue, body: Record<string, unknown>): Record<string, unknown>[] {
  const count = Number(body["count"] ?? 1);
  if (!Number.isInteger(count) || count < 0) throw badRequest("count must be a non-negative integer");
  // rabbitmqadmin < 3.7 sent requeue=true|false instead of ackmode
  let ackmode = body["ackmode"];
  if (ackmode === undefined) ackmode = body["requeue"] === false || body["requeue"] === "false" ? "ack_requeue_false" : "ack_requeue_true";
  if (typeof ackmode !== "string" || !ACK_MODES.includes(ackmode)) throw badRequest(`invalid ackmode '${String(ackmode)}'`);
  const encoding = body["encoding"] ?? "auto";
  if (encoding !== "auto" && encoding !== "base64") throw badRequest(`invalid encoding '${String(encoding)}'`);
  const truncate = body["truncate"] === undefined ? Infinity : Number(body["truncate"]);
  const requeue = ackmode.endsWith("requeue_true");
  const taken: QueueEntry[] = [];
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const e = q.get(false);
    if (!e) break;
    taken.push(e);
    const msg = e.msg;
    let bytes = msg.body;
    if (bytes === null && msg.storeId !== 0 && broker.store) bytes = msg.body = broker.store.readBody(msg.storeId);
    bytes ??= Buffer.alloc(0);
    const shown = bytes.length > truncate ? bytes.subarray(0, truncate) : bytes;
    const asString = encoding === "auto" && isUtf8(shown);
    out.push({
      payload_bytes: msg.bodySize,
      redelivered: e.deliveryCount > 0,
      exchange: msg.exchange,
      routing_key: msg.routingKey,
      message_count: 0,
      properties: propertiesToJSON(q.outgoing(e, true).properties),
      payload: asString ? shown.toString("utf8") : shown.toString("base64"),
      payload_encoding: asString ? "string" : "base64",
    });
    e.deliveryCount++;
    q.markUnacked();
    if (!requeue) {
      // settle now so the next get sees the following message
      if (ackmode === "ack_requeue_false") q.settle(e, true);
      else q.reject([e]);
    }
  }
  // requeue after the loop, so one request does not see the same message twice
  if (requeue) for (const e of taken.reverse()) q.requeue(e);
  const remaining = q.messageCount;
  if (requeue) out.forEach((m, i) => (m["message_count"] = remaining - i - 1));
  else out.forEach((m, i) => (m["message_count"] = remaining + out.length - i - 1));
  q.drain();
  return out;
}
