/**
 * Errors whose class-id/method-id in the close frame must be exactly what they
 * carry — including 0/0 — instead of being filled in from the method being
 * processed (RabbitMQ reports 0/0 for frame-level and some handshake errors).
 */
import { FrameLevelError, type AmqpError } from "../amqp/errors.js";

const EXPLICIT = new WeakSet<AmqpError>();

export function explicitIds(e: AmqpError): AmqpError {
  EXPLICIT.add(e);
  return e;
}

export function hasExplicitIds(e: AmqpError): boolean {
  return e.classId !== 0 || e.methodId !== 0 || EXPLICIT.has(e) || e instanceof FrameLevelError;
}
