/**
 * A published message as the broker holds it. One Message object is shared by
 * every queue it was routed to; per-queue state (position, redelivered flag,
 * expiry) lives in the queue's QueueEntry.
 *
 * Properties are decoded once at publish (routing needs headers, expiration,
 * delivery mode, priority) but the encoded bytes are kept too and re-sent as
 * they came, so a delivery never re-encodes properties unless the broker
 * changes them (dead-lettering, direct reply-to, CC/BCC).
 */
import { TypedValue } from "../amqp/field-table.js";
import { encodeProperties, type BasicProperties } from "../amqp/properties.js";
import type { StorableMessage } from "../store/types.js";

export class Message implements StorableMessage {
  storeId = 0;
  /** number of queues currently holding this message (ready or unacked) */
  refs = 0;
  /**
   * BCC routing keys: the header is stripped at routing, but dead-lettering
   * without x-dead-letter-routing-key routes with all the message's keys, BCC
   * included, as RabbitMQ does. null for (nearly) every message.
   */
  bcc: string[] | null = null;
  constructor(
    public exchange: string,
    public routingKey: string,
    public properties: BasicProperties,
    public propertiesRaw: Buffer,
    public body: Buffer | null,
    public bodySize: number,
    /** wall-clock ms when enqueued (publish, or tx.commit in a transaction): the TTL clock starts here */
    public publishedAt: number,
  ) {}

  get persistent(): boolean {
    return this.properties.deliveryMode === 2;
  }
}

/** Per-queue handle on a message. */
export class QueueEntry {
  constructor(
    public msg: Message,
    /** position in the queue's publish order; requeues go back to this position */
    public seq: number,
    /** absolute expiry in ms since epoch, 0 = never */
    public expiresAt: number,
    public deliveryCount: number,
  ) {}
  /** counted in the broker-wide resident-bytes total while ready (see ready-list.ts) */
  resident = false;
  get redelivered(): boolean {
    return this.deliveryCount > 0;
  }
}

/**
 * A copy of `msg` for one delivery, with the header x-delivery-count (AMQP long) set to `count`
 * (rabbit_basic:add_header, as a quorum queue sends it; a publisher's own x-delivery-count is
 * replaced). The body is shared, never copied; only the properties are re-encoded.
 */
export function withDeliveryCount(msg: Message, count: number): Message {
  const properties: BasicProperties = { ...msg.properties, headers: { ...msg.properties.headers, "x-delivery-count": new TypedValue("l", count) } };
  return new Message(msg.exchange, msg.routingKey, properties, encodeProperties(properties), msg.body, msg.bodySize, msg.publishedAt);
}
