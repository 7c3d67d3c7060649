/** channel.close and channel.flow. */
import { AmqpError, NOT_IMPLEMENTED } from "../../amqp/errors.js";
import * as M from "../../amqp/gen/methods.js";
import type { Channel } from "../channel.js";
import type { Session } from "../session.js";

export function close(conn: Session, ch: Channel): void {
  ch.teardown();
  conn.channels.delete(ch.id);
  conn.sendMethod(ch.id, M.CHANNEL_CLOSE_OK, {});
}

/** RabbitMQ accepts flow(active=true) and refuses active=false with NOT_IMPLEMENTED. */
export function flow(conn: Session, ch: Channel, a: M.ChannelFlow): void {
  if (!a.active) throw new AmqpError(NOT_IMPLEMENTED, "active=false", 20, 20, true);
  ch.flowActive = true;
  conn.sendMethod(ch.id, M.CHANNEL_FLOW_OK, { active: true });
}
