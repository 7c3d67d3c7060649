/**
 * Build the message that dead-lettering republishes, as RabbitMQ does: the
 * x-death header gains (or increments) an entry for {queue, reason} with count,
 * time, exchange and routing-keys; x-first-death-* are set once;
 * the expiration property is removed (kept as original-expiration) so the copy
 * does not expire again for the same reason; the routing key becomes
 * x-dead-letter-routing-key when the queue sets one.
 */
import { TypedValue, type FieldTable, type FieldValue } from "../amqp/field-table.js";
import { encodeProperties, type BasicProperties } from "../amqp/properties.js";
import { Message } from "./message.js";
import type { DeadLetterReason, Queue } from "./queue.js";

export function deadLetterMessage(orig: Message, q: Queue, reason: DeadLetterReason, _dlx: string): Message {
  const p: BasicProperties = { ...orig.properties };
  const headers: FieldTable = { ...(p.headers ?? {}) };
  const routingKeys: FieldValue[] = [orig.routingKey];
  const cc = headers["CC"];
  if (Array.isArray(cc)) for (const k of cc) routingKeys.push(k);
  const now = Math.floor(Date.now() / 1000);
  const prior = Array.isArray(headers["x-death"]) ? (headers["x-death"] as FieldValue[]) : [];
  let count = 1;
  const rest: FieldValue[] = [];
  for (const d of prior) {
    if (d && typeof d === "object" && !Array.isArray(d) && !Buffer.isBuffer(d) && !(d instanceof TypedValue)) {
      const t = d as FieldTable;
      if (t["queue"] === q.name && t["reason"] === reason) {
        const c = t["count"];
        count = (typeof c === "number" ? c : c instanceof TypedValue ? Number(c.value) : typeof c === "bigint" ? Number(c) : 0) + 1;
        continue;
      }
    }
    rest.push(d);
  }
  const death: FieldTable = {
    count: new TypedValue("l", count),
    reason,
    queue: q.name,
    time: new TypedValue("T", now),
    exchange: orig.exchange,
    "routing-keys": routingKeys,
  };
  if (p.expiration !== undefined) {
    death["original-expiration"] = p.expiration;
    delete p.expiration;
  }
  headers["x-death"] = [death, ...rest];
  if (headers["x-first-death-queue"] === undefined) {
    headers["x-first-death-queue"] = q.name;
    headers["x-first-death-reason"] = reason;
    headers["x-first-death-exchange"] = orig.exchange;
  }
  headers["x-last-death-queue"] = q.name;
  headers["x-last-death-reason"] = reason;
  headers["x-last-death-exchange"] = orig.exchange;
  p.headers = headers;
  const rk = q.settings.deadLetterRoutingKey ?? orig.routingKey;
  const body = orig.body;
  // delivered with the dead-letter exchange as its exchange, as RabbitMQ does
  return new Message(_dlx, rk, p, encodeProperties(p), body, orig.bodySize, Date.now());
}
