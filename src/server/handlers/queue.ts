/**
 * queue.declare / bind / unbind / purge / delete. An empty queue name means
 * "the queue last declared on this channel" (AMQP 0-9-1 §1.7.2.1), as in RabbitMQ
 * (but not for a passive declare, which RabbitMQ looks up literally). Declare,
 * bind, unbind and delete strip CR/LF from names, as RabbitMQ does.
 */
import { randomBytes } from "node:crypto";
import { notFound } from "../../amqp/errors.js";
import * as M from "../../amqp/gen/methods.js";
import type { Channel } from "../channel.js";
import type { Session } from "../session.js";
import { REPLY_TO_QUEUE, isReplyToKey } from "../publish.js";
import { checkReservedName, stripCrLf } from "../../broker/vhost.js";
import { command } from "../../broker/commands.js";
import { homeDownError } from "../../broker/cluster-view.js";
import { checkServerNamed } from "../../broker/queue-args.js";

/** RabbitMQ's server-named queues: amq.gen- + 22 url-safe base64 chars. */
export function generateQueueName(): string {
  return "amq.gen-" + randomBytes(16).toString("base64url");
}

export function resolveQueueName(ch: Channel, name: string): string {
  if (name !== "") return name;
  if (ch.lastQueue === null) throw notFound(`no previously declared queue`);
  return ch.lastQueue;
}

export function declare(conn: Session, ch: Channel, a: M.QueueDeclare, claimed: string | null = null): void {
  const vh = conn.vhost;
  const broker = conn.broker;
  let name = stripCrLf(a.queue);
  if (a.passive && name.startsWith(REPLY_TO_QUEUE)) return declareReplyTo(conn, ch, name, a.nowait);
  // a passive declare looks '' up literally (RabbitMQ: 404 "no queue ''"); no shortcut
  const serverNamed = !a.passive && name === "";
  if (serverNamed && claimed === null) checkServerNamed(a.arguments ?? {});
  if (serverNamed) name = claimed ?? generateQueueName();
  // the reserved-name rule comes before the permission check (rabbit_channel)
  else if (!a.passive) checkReservedName("queue", name);
  const args = a.arguments ?? {};
  if (!a.passive) {
    broker.checkPermission(conn.userName, vh.name, "configure", "queue", name);
    const dlx = args["x-dead-letter-exchange"];
    if (typeof dlx === "string") {
      broker.checkPermission(conn.userName, vh.name, "read", "queue", name);
      broker.checkPermission(conn.userName, vh.name, "write", "exchange", dlx);
    }
  }
  // RabbitMQ never makes an exclusive queue durable (it dies with its connection anyway)
  const durable = a.durable && !a.exclusive;
  const cluster = broker.cluster;
  const known = cluster !== null ? vh.queues.get(name) : undefined;
  if (known !== undefined && known.remote !== null && !known.remote.available) throw notFound(homeDownError(known.remote.node, name, vh.name));
  if (cluster !== null && claimed === null && !a.passive && !a.exclusive && !vh.queues.has(name)) {
    // a new name: the cluster's first declare wins; then this one is checked against it (406)
    const n = name;
    return conn.awaitCluster(cluster.claim("queue", vh.name, n), false, ch.id, M.QUEUE_DECLARE, () => declare(conn, ch, a, n));
  }
  const q = a.passive
    ? vh.findQueuePassive(name, conn.owner)
    : broker.apply(command("queue.declare", { vhost: vh.name, name, durable, exclusive: a.exclusive, autoDelete: a.autoDelete, arguments: args }), { origin: "amqp", owner: conn.owner, serverNamed });
  if (!a.passive) broker.totals.queuesDeclared++;
  ch.lastQueue = q.name;
  if (!a.nowait) conn.sendMethod(ch.id, M.QUEUE_DECLARE_OK, { queue: q.name, messageCount: q.messageCount, consumerCount: q.consumerCount });
}

/**
 * Passive declare of direct reply-to: the pseudo-queue itself always exists; a channel's
 * amq.rabbitmq.reply-to.<token> exists while that channel's reply consumer does (declare-ok
 * with one consumer, as RabbitMQ answers from any channel).
 */
function declareReplyTo(conn: Session, ch: Channel, name: string, nowait: boolean): void {
  let consumers = 0;
  if (name !== REPLY_TO_QUEUE) {
    const owner = isReplyToKey(name) ? conn.replyTo.get(name.slice(REPLY_TO_QUEUE.length + 1)) : undefined;
    if (!owner || !owner.replyTo || !owner.open) throw notFound(`no queue '${name}' in vhost '${conn.vhost.name}'`);
    consumers = 1;
  }
  if (!nowait) conn.sendMethod(ch.id, M.QUEUE_DECLARE_OK, { queue: name, messageCount: 0, consumerCount: consumers });
}

/** queue.bind/unbind with an empty queue name and an empty routing key bind with the queue's name as key. */
function bindingKey(name: string, a: { queue: string; routingKey: string }): string {
  return a.queue === "" && a.routingKey === "" ? name : a.routingKey;
}

export function bind(conn: Session, ch: Channel, a: M.QueueBind): void {
  const vh = conn.vhost;
  const name = resolveQueueName(ch, stripCrLf(a.queue));
  const exchange = stripCrLf(a.exchange);
  const routingKey = bindingKey(name, a);
  conn.broker.checkPermission(conn.userName, vh.name, "write", "queue", name);
  conn.broker.checkPermission(conn.userName, vh.name, "read", "exchange", exchange);
  const ex = vh.exchanges.get(exchange);
  if (ex && ex.type === "topic") conn.broker.checkTopicPermission(conn.userName, vh.name, "read", exchange, routingKey);
  conn.broker.apply(command("bind", { vhost: vh.name, source: exchange, destination: name, destinationType: "queue", routingKey, arguments: a.arguments ?? {} }), {
    origin: "amqp",
    owner: conn.owner,
  });
  if (!a.nowait) conn.sendMethod(ch.id, M.QUEUE_BIND_OK, {});
}

export function unbind(conn: Session, ch: Channel, a: M.QueueUnbind): void {
  const vh = conn.vhost;
  const name = resolveQueueName(ch, stripCrLf(a.queue));
  const exchange = stripCrLf(a.exchange);
  conn.broker.checkPermission(conn.userName, vh.name, "write", "queue", name);
  conn.broker.checkPermission(conn.userName, vh.name, "read", "exchange", exchange);
  conn.broker.apply(command("unbind", { vhost: vh.name, source: exchange, destination: name, destinationType: "queue", routingKey: bindingKey(name, a), arguments: a.arguments ?? {} }), {
    origin: "amqp",
    owner: conn.owner,
  });
  conn.sendMethod(ch.id, M.QUEUE_UNBIND_OK, {});
}

export function purge(conn: Session, ch: Channel, a: M.QueuePurge): void {
  const vh = conn.vhost;
  const name = resolveQueueName(ch, a.queue);
  conn.broker.checkPermission(conn.userName, vh.name, "read", "queue", name);
  const n = vh.purgeQueue(name, conn.owner);
  if (!a.nowait) conn.sendMethod(ch.id, M.QUEUE_PURGE_OK, { messageCount: n });
}

export function del(conn: Session, ch: Channel, a: M.QueueDelete): void {
  const vh = conn.vhost;
  const name = resolveQueueName(ch, stripCrLf(a.queue));
  conn.broker.checkPermission(conn.userName, vh.name, "configure", "queue", name);
  const n = conn.broker.apply(command("queue.delete", { vhost: vh.name, name, ifUnused: a.ifUnused, ifEmpty: a.ifEmpty }), { origin: "amqp", owner: conn.owner });
  if (!a.nowait) conn.sendMethod(ch.id, M.QUEUE_DELETE_OK, { messageCount: n });
}
