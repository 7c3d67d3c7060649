/**
 * Method dispatch for channels 1..n: decode the arguments with the generated
 * codec and call the handler for that method (one function per AMQP method,
 * grouped by class in the files beside this one).
 */
import { AmqpError, COMMAND_INVALID, NOT_IMPLEMENTED } from "../../amqp/errors.js";
import * as M from "../../amqp/gen/methods.js";
import type { Channel } from "../channel.js";
import type { Session } from "../session.js";
import * as basic from "./basic.js";
import * as channel from "./channel.js";
import * as exchange from "./exchange.js";
import * as queue from "./queue.js";
import * as txc from "./tx-confirm.js";

export function dispatchChannelMethod(conn: Session, ch: Channel, id: number, buf: Buffer, start: number, end: number): void {
  // the per-message method: decoded through the channel's cache of the last one
  if (id === M.BASIC_PUBLISH) return basic.publish(conn, ch, ch.decodePublish(buf, start, end));
  const a = M.decodeMethod(id, buf, start, end);
  switch (id) {
    case M.BASIC_ACK:
      return basic.ack(conn, ch, a as M.BasicAck);
    case M.BASIC_NACK:
      return basic.nack(conn, ch, a as M.BasicNack);
    case M.BASIC_REJECT:
      return basic.reject(conn, ch, a as M.BasicReject);
    case M.BASIC_CONSUME:
      return basic.consume(conn, ch, a as M.BasicConsume);
    case M.BASIC_CANCEL:
      return basic.cancel(conn, ch, a as M.BasicCancel);
    case M.BASIC_GET:
      return basic.get(conn, ch, a as M.BasicGet);
    case M.BASIC_QOS:
      return basic.qos(conn, ch, a as M.BasicQos);
    case M.BASIC_RECOVER:
      return basic.recover(conn, ch, (a as M.BasicRecover).requeue, true);
    case M.BASIC_RECOVER_ASYNC:
      return basic.recover(conn, ch, (a as M.BasicRecoverAsync).requeue, false);
    case M.QUEUE_DECLARE:
      return queue.declare(conn, ch, a as M.QueueDeclare);
    case M.QUEUE_BIND:
      return queue.bind(conn, ch, a as M.QueueBind);
    case M.QUEUE_UNBIND:
      return queue.unbind(conn, ch, a as M.QueueUnbind);
    case M.QUEUE_PURGE:
      return queue.purge(conn, ch, a as M.QueuePurge);
    case M.QUEUE_DELETE:
      return queue.del(conn, ch, a as M.QueueDelete);
    case M.EXCHANGE_DECLARE:
      return exchange.declare(conn, ch, a as M.ExchangeDeclare);
    case M.EXCHANGE_DELETE:
      return exchange.del(conn, ch, a as M.ExchangeDelete);
    case M.EXCHANGE_BIND:
      return exchange.bind(conn, ch, a as M.ExchangeBind);
    case M.EXCHANGE_UNBIND:
      return exchange.unbind(conn, ch, a as M.ExchangeUnbind);
    case M.CHANNEL_CLOSE:
      return channel.close(conn, ch);
    case M.CHANNEL_CLOSE_OK:
      // only valid as the answer to our channel.close (handled by the connection)
      throw new AmqpError(COMMAND_INVALID, "unimplemented method", 20, 41, true);
    case M.CHANNEL_FLOW:
      return channel.flow(conn, ch, a as M.ChannelFlow);
    case M.CHANNEL_FLOW_OK:
      return;
    case M.CONFIRM_SELECT:
      return txc.confirmSelect(conn, ch, a as M.ConfirmSelect);
    case M.TX_SELECT:
      return txc.txSelect(conn, ch);
    case M.TX_COMMIT:
      return txc.txCommit(conn, ch);
    case M.TX_ROLLBACK:
      return txc.txRollback(conn, ch);
    case M.ACCESS_REQUEST:
      return conn.sendMethod(ch.id, M.ACCESS_REQUEST_OK, { ticket: 1 });
    default:
      throw new AmqpError(NOT_IMPLEMENTED, `${M.METHOD_INFO.has(id) ? M.methodName(id) : `unknown method ${id >>> 16}.${id & 0xffff}`}`, id >>> 16, id & 0xffff, true);
  }
}
