/**
 * basic.* handlers: publish (start of content assembly), consume/cancel, get,
 * qos, ack/nack/reject, recover — with RabbitMQ's checks, codes and texts.
 */
import { randomBytes } from "node:crypto";
import { AmqpError, NOT_ALLOWED, NOT_IMPLEMENTED, accessRefused, notFound, preconditionFailed } from "../../amqp/errors.js";
import { homeDownError } from "../../broker/cluster-view.js";
import * as M from "../../amqp/gen/methods.js";
import { Consumer } from "../../broker/consumer.js";
import { asNumber, isIntegerValue, typeName } from "../../broker/args.js";
import type { FieldTable } from "../../amqp/field-table.js";
import type { Channel } from "../channel.js";
import type { Session } from "../session.js";
import { writeGetOk } from "../frames-out.js";
import { REPLY_TO_QUEUE, isReplyToKey } from "../publish.js";
import { resolveQueueName } from "./queue.js";

export function publish(conn: Session, ch: Channel, a: M.BasicPublish): void {
  const vh = conn.vhost;
  const broker = conn.broker;
  if (a.immediate) throw new AmqpError(NOT_IMPLEMENTED, "immediate=true", 60, 40, true);
  // a granted check is remembered per channel until permissions change (RabbitMQ's
  // channels keep a permission cache too)
  if (ch.writeAllowedExchange !== a.exchange || ch.writeAllowedVersion !== broker.permissionsVersion) {
    broker.checkPermission(conn.userName, vh.name, "write", "exchange", a.exchange);
    ch.writeAllowedExchange = a.exchange;
    ch.writeAllowedVersion = broker.permissionsVersion;
  }
  if (a.exchange === "" && isReplyToKey(a.routingKey)) {
    ch.startPublish(null, a.routingKey, a.mandatory);
    return;
  }
  const ex = vh.exchanges.get(a.exchange);
  if (!ex) throw notFound(`no exchange '${a.exchange}' in vhost '${vh.name}'`);
  if (ex.internal) throw accessRefused(`cannot publish to internal exchange '${a.exchange}' in vhost '${vh.name}'`);
  if (ex.type === "topic") broker.checkTopicPermission(conn.userName, vh.name, "write", a.exchange, a.routingKey);
  ch.startPublish(ex, a.routingKey, a.mandatory);
}

export function consume(conn: Session, ch: Channel, a: M.BasicConsume): void {
  const vh = conn.vhost;
  const tag = a.consumerTag || "amq.ctag-" + randomBytes(16).toString("base64url");
  if (ch.consumers.has(tag) || (ch.replyTo && ch.replyTo.consumerTag === tag)) {
    throw new AmqpError(NOT_ALLOWED, `attempt to reuse consumer tag '${tag}'`, 60, 20, true);
  }
  if (a.queue === REPLY_TO_QUEUE) return consumeReplyTo(conn, ch, a, tag);
  const name = resolveQueueName(ch, a.queue);
  conn.broker.checkPermission(conn.userName, vh.name, "read", "queue", name);
  const q = vh.getQueue(name);
  if (q.remote !== null && !q.remote.available) throw notFound(homeDownError(q.remote.node, name, vh.name));
  vh.checkExclusive(q, conn.owner);
  if (a.exclusive && q.consumers.length > 0) throw accessRefused(`queue '${name}' in vhost '${vh.name}' in exclusive use`);
  if (q.consumers.some((c) => c.exclusive)) throw accessRefused(`queue '${name}' in vhost '${vh.name}' in exclusive use`);
  const args = a.arguments ?? {};
  checkConsumerArgs(args, name, vh.name, q.settings.queueType);
  // rabbit_quorum_queue:consume refuses a channel with a global prefetch (rabbit_limiter active): a connection error
  if (q.quorum && ch.globalPrefetch > 0) throw new AmqpError(NOT_IMPLEMENTED, `queue '${name}' in vhost '${vh.name}' does not support global qos`, 60, 20, true);
  const prio = asNumber(args["x-priority"]) ?? 0;
  const c = new Consumer(tag, q, ch, a.noAck, a.exclusive, prio, ch.prefetchCount, args, {
    connectionName: conn.name,
    channelNumber: ch.id,
    user: conn.userName,
  });
  ch.consumers.set(tag, c);
  if (!a.nowait) conn.sendMethod(ch.id, M.BASIC_CONSUME_OK, { consumerTag: tag });
  // consume-ok must precede the first delivery
  q.addConsumer(c);
}

/** consumer arguments one queue type knows and another refuses (capabilities() consumer_arguments of RabbitMQ 3.10) */
const TYPE_CONSUMER_ARGS: Record<string, { module: string; refuses: readonly string[] }> = {
  classic: { module: "rabbit_classic_queue", refuses: ["x-stream-offset"] },
  quorum: { module: "rabbit_quorum_queue", refuses: ["x-cancel-on-ha-failover", "x-stream-offset"] },
};

/**
 * rabbit_amqqueue:check_consume_arguments: the consumer arguments the queue's type knows must
 * have their type; one only another type knows is refused ("... of queue type rabbit_quorum_queue").
 */
function checkConsumerArgs(args: FieldTable, queue: string, vhost: string, queueType: string): void {
  const rule = TYPE_CONSUMER_ARGS[queueType];
  const prio = args["x-priority"];
  if (prio !== undefined && !isIntegerValue(prio)) {
    throw preconditionFailed(`invalid arg 'x-priority' for queue '${queue}' in vhost '${vhost}': "expected integer, got ${typeName(prio)}"`);
  }
  const cancelOnFailover = args["x-cancel-on-ha-failover"];
  if (cancelOnFailover !== undefined && typeof cancelOnFailover !== "boolean" && queueType === "classic") {
    throw preconditionFailed(`invalid arg 'x-cancel-on-ha-failover' for queue '${queue}' in vhost '${vhost}': {unacceptable_type,${typeName(cancelOnFailover)}}`);
  }
  if (rule === undefined) return;
  for (const k of Object.keys(args)) {
    if (rule.refuses.includes(k)) throw preconditionFailed(`invalid arg '${k}' for queue '${queue}' in vhost '${vhost}' of queue type ${rule.module}`);
  }
}

function consumeReplyTo(conn: Session, ch: Channel, a: M.BasicConsume, tag: string): void {
  if (!a.noAck) throw preconditionFailed("reply consumer cannot acknowledge");
  if (ch.replyTo) throw preconditionFailed("reply consumer already set");
  const token = randomBytes(12).toString("base64url") + "." + conn.id + "." + ch.id;
  ch.replyTo = { token, consumerTag: tag };
  conn.replyTo.set(token, ch);
  if (!a.nowait) conn.sendMethod(ch.id, M.BASIC_CONSUME_OK, { consumerTag: tag });
}

export function cancel(conn: Session, ch: Channel, a: M.BasicCancel): void {
  const c = ch.consumers.get(a.consumerTag);
  if (c) {
    ch.consumers.delete(a.consumerTag);
    c.queue.removeConsumer(c);
  } else if (ch.replyTo && ch.replyTo.consumerTag === a.consumerTag) {
    conn.replyTo.delete(ch.replyTo.token);
    ch.replyTo = null;
  }
  // RabbitMQ answers cancel-ok even for an unknown tag
  if (!a.nowait) conn.sendMethod(ch.id, M.BASIC_CANCEL_OK, { consumerTag: a.consumerTag });
}

export function get(conn: Session, ch: Channel, a: M.BasicGet): void {
  const vh = conn.vhost;
  const name = resolveQueueName(ch, a.queue);
  conn.broker.checkPermission(conn.userName, vh.name, "read", "queue", name);
  const q = vh.getQueue(name);
  vh.checkExclusive(q, conn.owner);
  const e = q.get(a.noAck);
  if (!e) {
    conn.broker.totals.getEmpty++;
    ch.stats.getEmpty++;
    q.stats.getEmpty++;
    conn.sendMethod(ch.id, M.BASIC_GET_EMPTY, { clusterId: "" });
    return;
  }
  const msg = e.msg;
  if (msg.body === null && msg.storeId !== 0 && conn.broker.store) msg.body = conn.broker.store.readBody(msg.storeId);
  const tag = ch.recordGet(q, e, a.noAck);
  ch.stats.get++;
  conn.broker.totals.get++;
  if (e.deliveryCount > 0) {
    conn.broker.totals.redeliver++;
    ch.stats.redeliver++;
  }
  writeGetOk(conn.outbox, ch.id, tag, e.deliveryCount > 0, q.outgoing(e, true), q.messageCount, conn.frameMax);
  e.deliveryCount++;
  if (a.noAck) {
    conn.broker.totals.getNoAck++;
    ch.stats.getNoAck++;
    q.settle(e, false);
  }
}

export function qos(conn: Session, ch: Channel, a: M.BasicQos): void {
  if (a.prefetchSize !== 0) throw new AmqpError(NOT_IMPLEMENTED, `prefetch_size!=0 (${a.prefetchSize})`, 60, 10, true);
  if (a.global) ch.globalPrefetch = a.prefetchCount;
  else {
    // RabbitMQ quirk (rabbit_channel: rabbit_limiter:unlimit_prefetch): a per-consumer
    // qos lifts any channel-wide limit set before it
    ch.prefetchCount = a.prefetchCount;
    ch.globalPrefetch = 0;
  }
  conn.sendMethod(ch.id, M.BASIC_QOS_OK, {});
  // a larger window may let queues deliver more now
  ch.kick();
}

export function ack(conn: Session, ch: Channel, a: M.BasicAck): void {
  void conn;
  if (ch.tx) {
    ch.txAcks.push({ kind: "ack", list: ch.takeUnacked(a.deliveryTag, a.multiple) });
    return;
  }
  ch.settle(ch.takeUnacked(a.deliveryTag, a.multiple), "ack");
}

export function nack(conn: Session, ch: Channel, a: M.BasicNack): void {
  void conn;
  if (ch.tx) {
    ch.txAcks.push({ kind: a.requeue ? "requeue" : "reject", list: ch.takeUnacked(a.deliveryTag, a.multiple) });
    return;
  }
  ch.settle(ch.takeUnacked(a.deliveryTag, a.multiple), a.requeue ? "requeue" : "reject");
}

export function reject(conn: Session, ch: Channel, a: M.BasicReject): void {
  void conn;
  if (ch.tx) {
    ch.txAcks.push({ kind: a.requeue ? "requeue" : "reject", list: ch.takeUnacked(a.deliveryTag, false) });
    return;
  }
  ch.settle(ch.takeUnacked(a.deliveryTag, false), a.requeue ? "requeue" : "reject");
}

/** basic.recover(requeue=true): redeliver everything unacked. requeue=false is not supported by RabbitMQ. */
export function recover(conn: Session, ch: Channel, requeue: boolean, sync: boolean): void {
  if (!requeue) throw new AmqpError(NOT_IMPLEMENTED, "requeue=false", 60, sync ? 110 : 100, true);
  ch.requeueAll();
  if (sync) conn.sendMethod(ch.id, M.BASIC_RECOVER_OK, {});
}
