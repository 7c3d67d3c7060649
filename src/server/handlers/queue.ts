/**
 * queue.declare / bind / unbind / purge / delete. An empty queue name means
 * "the queue last declared on this channel" (AMQP 0-9-1 §1.7.2.1), as in RabbitMQ
 * (but not for a passive declare, which RabbitMQ looks up literally).
 */
import { randomBytes } from "node:crypto";
import { notFound } from "../../amqp/errors.js";
import * as M from "../../amqp/gen/methods.js";
import type { Channel } from "../channel.js";
import type { Connection } from "../connection.js";
import { REPLY_TO_QUEUE } from "../publish.js";

/** RabbitMQ's server-named queues: amq.gen- + 22 url-safe base64 chars. */
export function generateQueueName(): string {
  return "amq.gen-" + randomBytes(16).toString("base64url");
}

export function resolveQueueName(ch: Channel, name: string): string {
  if (name !== "") return name;
  if (ch.lastQueue === null) throw notFound(`no previously declared queue`);
  return ch.lastQueue;
}

export function declare(conn: Connection, ch: Channel, a: M.QueueDeclare): void {
  const vh = conn.vhost!;
  const broker = conn.broker;
  if (a.passive && a.queue === REPLY_TO_QUEUE) {
    if (!a.nowait) conn.sendMethod(ch.id, M.QUEUE_DECLARE_OK, { queue: a.queue, messageCount: 0, consumerCount: 0 });
    return;
  }
  let name = a.queue;
  // a passive declare looks '' up literally (RabbitMQ: 404 "no queue ''"); no shortcut
  const serverNamed = !a.passive && name === "";
  if (serverNamed) name = generateQueueName();
  const args = a.arguments ?? {};
  if (!a.passive) {
    broker.checkPermission(conn.userName, vh.name, "configure", "queue", name);
    const dlx = args["x-dead-letter-exchange"];
    if (typeof dlx === "string") {
      broker.checkPermission(conn.userName, vh.name, "read", "queue", name);
      broker.checkPermission(conn.userName, vh.name, "write", "exchange", dlx);
    }
  }
  const q = vh.declareQueue(name, { durable: a.durable, exclusive: a.exclusive, autoDelete: a.autoDelete, arguments: args }, conn, a.passive, serverNamed);
  if (!a.passive) broker.totals.queuesDeclared++;
  ch.lastQueue = q.name;
  if (!a.nowait) conn.sendMethod(ch.id, M.QUEUE_DECLARE_OK, { queue: q.name, messageCount: q.messageCount, consumerCount: q.consumerCount });
}

/** queue.bind/unbind with an empty queue name and an empty routing key bind with the queue's name as key. */
function bindingKey(name: string, a: { queue: string; routingKey: string }): string {
  return a.queue === "" && a.routingKey === "" ? name : a.routingKey;
}

export function bind(conn: Connection, ch: Channel, a: M.QueueBind): void {
  const vh = conn.vhost!;
  const name = resolveQueueName(ch, a.queue);
  const routingKey = bindingKey(name, a);
  conn.broker.checkPermission(conn.userName, vh.name, "write", "queue", name);
  conn.broker.checkPermission(conn.userName, vh.name, "read", "exchange", a.exchange);
  const ex = vh.exchanges.get(a.exchange);
  if (ex && ex.type === "topic") conn.broker.checkTopicPermission(conn.userName, vh.name, "read", a.exchange, routingKey);
  vh.bind("queue", name, a.exchange, routingKey, a.arguments ?? {}, conn);
  if (!a.nowait) conn.sendMethod(ch.id, M.QUEUE_BIND_OK, {});
}

export function unbind(conn: Connection, ch: Channel, a: M.QueueUnbind): void {
  const vh = conn.vhost!;
  const name = resolveQueueName(ch, a.queue);
  conn.broker.checkPermission(conn.userName, vh.name, "write", "queue", name);
  conn.broker.checkPermission(conn.userName, vh.name, "read", "exchange", a.exchange);
  vh.unbind("queue", name, a.exchange, bindingKey(name, a), a.arguments ?? {}, conn);
  conn.sendMethod(ch.id, M.QUEUE_UNBIND_OK, {});
}

export function purge(conn: Connection, ch: Channel, a: M.QueuePurge): void {
  const vh = conn.vhost!;
  const name = resolveQueueName(ch, a.queue);
  conn.broker.checkPermission(conn.userName, vh.name, "read", "queue", name);
  const n = vh.purgeQueue(name, conn);
  if (!a.nowait) conn.sendMethod(ch.id, M.QUEUE_PURGE_OK, { messageCount: n });
}

export function del(conn: Connection, ch: Channel, a: M.QueueDelete): void {
  const vh = conn.vhost!;
  const name = resolveQueueName(ch, a.queue);
  conn.broker.checkPermission(conn.userName, vh.name, "configure", "queue", name);
  const n = vh.deleteQueue(name, a.ifUnused, a.ifEmpty, conn);
  if (!a.nowait) conn.sendMethod(ch.id, M.QUEUE_DELETE_OK, { messageCount: n });
}
