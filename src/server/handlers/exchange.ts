/** exchange.declare / delete / bind / unbind, with RabbitMQ's permission checks (names CR/LF-stripped). */
import * as M from "../../amqp/gen/methods.js";
import type { Channel } from "../channel.js";
import type { Session } from "../session.js";
import { EXCHANGE_TYPES, stripCrLf } from "../../broker/vhost.js";
import { command } from "../../broker/commands.js";

export function declare(conn: Session, ch: Channel, a: M.ExchangeDeclare, claimed = false): void {
  const vh = conn.vhost;
  const user = conn.userName;
  const name = stripCrLf(a.exchange);
  if (!a.passive) conn.broker.checkPermission(user, vh.name, "configure", "exchange", name);
  const ae = a.arguments?.["alternate-exchange"];
  if (!a.passive && typeof ae === "string") {
    // RabbitMQ requires write on the AE and read on the exchange when declaring with one
    conn.broker.checkPermission(user, vh.name, "write", "exchange", ae);
    conn.broker.checkPermission(user, vh.name, "read", "exchange", name);
  }
  const cluster = conn.broker.cluster;
  // (a declare that will fail anyway — unknown type, reserved name — claims nothing)
  if (cluster !== null && !claimed && !a.passive && !vh.exchanges.has(name) && (EXCHANGE_TYPES as readonly string[]).includes(a.type) && name !== "" && !name.startsWith("amq.")) {
    // a new name: the cluster's first declare wins; then this one is checked against it (406)
    return conn.awaitCluster(cluster.claim("exchange", vh.name, name), false, ch.id, M.EXCHANGE_DECLARE, () => declare(conn, ch, a, true));
  }
  if (a.passive) vh.findExchangePassive(name);
  else
    conn.broker.apply(command("exchange.declare", { vhost: vh.name, name, type: a.type, durable: a.durable, autoDelete: a.autoDelete, internal: a.internal, arguments: a.arguments ?? {} }), {
      origin: "amqp",
    });
  if (!a.nowait) conn.sendMethod(ch.id, M.EXCHANGE_DECLARE_OK, {});
}

export function del(conn: Session, ch: Channel, a: M.ExchangeDelete): void {
  const vh = conn.vhost;
  const name = stripCrLf(a.exchange);
  conn.broker.checkPermission(conn.userName, vh.name, "configure", "exchange", name);
  conn.broker.apply(command("exchange.delete", { vhost: vh.name, name, ifUnused: a.ifUnused }), { origin: "amqp" });
  if (!a.nowait) conn.sendMethod(ch.id, M.EXCHANGE_DELETE_OK, {});
}

export function bind(conn: Session, ch: Channel, a: M.ExchangeBind): void {
  const vh = conn.vhost;
  const destination = stripCrLf(a.destination);
  const source = stripCrLf(a.source);
  conn.broker.checkPermission(conn.userName, vh.name, "write", "exchange", destination);
  conn.broker.checkPermission(conn.userName, vh.name, "read", "exchange", source);
  conn.broker.apply(command("bind", { vhost: vh.name, source, destination, destinationType: "exchange", routingKey: a.routingKey, arguments: a.arguments ?? {} }), {
    origin: "amqp",
    owner: conn.owner,
  });
  if (!a.nowait) conn.sendMethod(ch.id, M.EXCHANGE_BIND_OK, {});
}

export function unbind(conn: Session, ch: Channel, a: M.ExchangeUnbind): void {
  const vh = conn.vhost;
  const destination = stripCrLf(a.destination);
  const source = stripCrLf(a.source);
  conn.broker.checkPermission(conn.userName, vh.name, "write", "exchange", destination);
  conn.broker.checkPermission(conn.userName, vh.name, "read", "exchange", source);
  conn.broker.apply(command("unbind", { vhost: vh.name, source, destination, destinationType: "exchange", routingKey: a.routingKey, arguments: a.arguments ?? {} }), {
    origin: "amqp",
    owner: conn.owner,
  });
  if (!a.nowait) conn.sendMethod(ch.id, M.EXCHANGE_UNBIND_OK, {});
}
