/**
 * Build the message that dead-lettering republishes, as RabbitMQ does: the
 * x-death header gains (or increments) an entry for {queue, reason} with count,
 * time, exchange and routing-keys; x-first-death-* are set once;
 * the expiration property is removed (kept as original-expiration) so the copy
 * does not expire again for the same reason; the routing key becomes
 * x-dead-letter-routing-key when the queue sets one (and CC is dropped).
 * Also: cycle detection (isDeathCycle), used by the router.
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
  // (no x-last-death-*: RabbitMQ 3.10, our reference, does not write them; 3.13 added them)
  // with x-dead-letter-routing-key the copy is routed by that key alone: CC goes
  // (rabbit_dead_letter:make_msg); without it, by all the original keys, BCC included
  const dlrk = q.settings.deadLetterRoutingKey;
  if (dlrk !== undefined) delete headers["CC"];
  p.headers = headers;
  const body = orig.body;
  // delivered with the dead-letter exchange as its exchange, as RabbitMQ does
  const msg = new Message(_dlx, dlrk ?? orig.routingKey, p, encodeProperties(p), body, orig.bodySize, Date.now());
  if (dlrk === undefined) msg.bcc = orig.bcc;
  return msg;
}

/**
 * rabbit_dead_letter:is_cycle: the message already died in `queue`, and no death
 * since then (that one included) was a rejection — a "fully automatic" cycle.
 * Anything unexpected in x-death counts as a client's doing: not a cycle.
 */
export function isDeathCycle(queue: string, headers: FieldTable | undefined): boolean {
  const deaths = headers?.["x-death"];
  if (!Array.isArray(deaths)) return false;
  for (const d of deaths) {
    if (!isTable(d)) return false;
    if (d["reason"] === "rejected") return false;
    if (d["queue"] === queue) return true;
  }
  return false;
}

function isTable(v: FieldValue): v is FieldTable {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !Buffer.isBuffer(v) && !(v instanceof TypedValue);
}
