/** exchange.declare / delete / bind / unbind, with RabbitMQ's permission checks. */
import * as M from "../../amqp/gen/methods.js";
import type { Channel } from "../channel.js";
import type { Connection } from "../connection.js";

export function declare(conn: Connection, ch: Channel, a: M.ExchangeDeclare): void {
  const vh = conn.vhost!;
  const user = conn.userName;
  if (!a.passive) conn.broker.checkPermission(user, vh.name, "configure", "exchange", a.exchange);
  const ae = a.arguments?.["alternate-exchange"];
  if (!a.passive && typeof ae === "string") {
    // RabbitMQ requires write on the AE and read on the exchange when declaring with one
    conn.broker.checkPermission(user, vh.name, "write", "exchange", ae);
    conn.broker.checkPermission(user, vh.name, "read", "exchange", a.exchange);
  }
  vh.declareExchange(a.exchange, a.type, { durable: a.durable, autoDelete: a.autoDelete, internal: a.internal, arguments: a.arguments ?? {} }, a.passive);
  if (!a.nowait) conn.sendMethod(ch.id, M.EXCHANGE_DECLARE_OK, {});
}

export function del(conn: Connection, ch: Channel, a: M.ExchangeDelete): void {
  const vh = conn.vhost!;
  conn.broker.checkPermission(conn.userName, vh.name, "configure", "exchange", a.exchange);
  vh.deleteExchange(a.exchange, a.ifUnused);
  if (!a.nowait) conn.sendMethod(ch.id, M.EXCHANGE_DELETE_OK, {});
}

export function bind(conn: Connection, ch: Channel, a: M.ExchangeBind): void {
  const vh = conn.vhost!;
  conn.broker.checkPermission(conn.userName, vh.name, "write", "exchange", a.destination);
  conn.broker.checkPermission(conn.userName, vh.name, "read", "exchange", a.source);
  vh.bind("exchange", a.destination, a.source, a.routingKey, a.arguments ?? {}, conn);
  if (!a.nowait) conn.sendMethod(ch.id, M.EXCHANGE_BIND_OK, {});
}

export function unbind(conn: Connection, ch: Channel, a: M.ExchangeUnbind): void {
  const vh = conn.vhost!;
  conn.broker.checkPermission(conn.userName, vh.name, "write", "exchange", a.destination);
  conn.broker.checkPermission(conn.userName, vh.name, "read", "exchange", a.source);
  vh.unbind("exchange", a.destination, a.source, a.routingKey, a.arguments ?? {}, conn);
  if (!a.nowait) conn.sendMethod(ch.id, M.EXCHANGE_UNBIND_OK, {});
}
