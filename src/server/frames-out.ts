/**
 * Hand-written encoders for the frames on the per-message path (basic.deliver,
 * basic.get-ok, basic.return, content header + body, confirm ack/nack). They
 * write straight into the connection's outbox block: no intermediate buffers,
 * no property re-encoding (the publisher's encoded properties are re-sent as-is).
 * Everything else goes through the generated codec (encodeMethodFrame).
 */
import { FRAME_BODY, FRAME_END, FRAME_HEADER, FRAME_METHOD } from "../amqp/frames.js";
import type { Message } from "../broker/message.js";
import type { Outbox } from "./outbox.js";
import { COPY_LIMIT } from "./outbox.js";

const CLASS_BASIC = 60;

function shortstr(o: Outbox, s: string): void {
  const start = o.pos;
  const b = o.buf;
  // short ASCII (tags, exchange names, routing keys) is copied here rather than through
  // Buffer#write, whose call into C++ costs more than the copy itself
  const len = s.length;
  if (len <= 64) {
    let i = 0;
    for (; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      b[start + 1 + i] = c;
    }
    if (i === len) {
      b[start] = len;
      o.pos = start + 1 + len;
      return;
    }
  }
  const n = b.write(s, start + 1, "utf8");
  b[start] = n;
  o.pos = start + 1 + n;
}

function u64(o: Outbox, v: number): void {
  o.buf.writeUInt32BE(Math.floor(v / 0x100000000), o.pos);
  o.buf.writeUInt32BE(v >>> 0, o.pos + 4);
  o.pos += 8;
}

/** Start a method frame; returns the offset of the size field to patch. */
function beginMethod(o: Outbox, channel: number, methodId: number, room: number): number {
  o.ensure(room + 12);
  const b = o.buf;
  const p = o.pos;
  b[p] = FRAME_METHOD;
  b.writeUInt16BE(channel, p + 1);
  b.writeUInt16BE(CLASS_BASIC, p + 7);
  b.writeUInt16BE(methodId, p + 9);
  o.pos = p + 11;
  return p + 3;
}

function endFrame(o: Outbox, sizeAt: number): void {
  o.buf.writeUInt32BE(o.pos - sizeAt - 4, sizeAt);
  o.buf[o.pos++] = FRAME_END;
}

/** room for shortstrs: 1 length byte + up to 4 bytes per UTF-16 unit is safe */
function strRoom(s: string): number {
  return 1 + s.length * 3;
}

export function writeDeliver(o: Outbox, channel: number, consumerTag: string, deliveryTag: number, redelivered: boolean, msg: Message, frameMax: number): void {
  const at = beginMethod(o, channel, 60, strRoom(consumerTag) + 9 + strRoom(msg.exchange) + strRoom(msg.routingKey));
  shortstr(o, consumerTag);
  u64(o, deliveryTag);
  o.buf[o.pos++] = redelivered ? 1 : 0;
  shortstr(o, msg.exchange);
  shortstr(o, msg.routingKey);
  endFrame(o, at);
  writeContent(o, channel, msg, frameMax);
}

export function writeGetOk(o: Outbox, channel: number, deliveryTag: number, redelivered: boolean, msg: Message, messageCount: number, frameMax: number): void {
  const at = beginMethod(o, channel, 71, 9 + strRoom(msg.exchange) + strRoom(msg.routingKey) + 4);
  u64(o, deliveryTag);
  o.buf[o.pos++] = redelivered ? 1 : 0;
  shortstr(o, msg.exchange);
  shortstr(o, msg.routingKey);
  o.buf.writeUInt32BE(messageCount, o.pos);
  o.pos += 4;
  endFrame(o, at);
  writeContent(o, channel, msg, frameMax);
}

export function writeReturn(o: Outbox, channel: number, replyCode: number, replyText: string, msg: Message, frameMax: number): void {
  const at = beginMethod(o, channel, 50, 2 + strRoom(replyText) + strRoom(msg.exchange) + strRoom(msg.routingKey));
  o.buf.writeUInt16BE(replyCode, o.pos);
  o.pos += 2;
  shortstr(o, replyText);
  shortstr(o, msg.exchange);
  shortstr(o, msg.routingKey);
  endFrame(o, at);
  writeContent(o, channel, msg, frameMax);
}

/** basic.ack / basic.nack from the broker to a confirm-mode publisher. */
export function writeConfirm(o: Outbox, channel: number, deliveryTag: number, multiple: boolean, ack: boolean): void {
  const at = beginMethod(o, channel, ack ? 80 : 120, 9);
  u64(o, deliveryTag);
  o.buf[o.pos++] = multiple ? 1 : 0;
  endFrame(o, at);
  o.schedule();
}

/** Content header frame + body frame(s) split at frame_max. */
export function writeContent(o: Outbox, channel: number, msg: Message, frameMax: number): void {
  const props = msg.propertiesRaw;
  o.ensure(7 + 12 + props.length + 1);
  const b = o.buf;
  let p = o.pos;
  b[p] = FRAME_HEADER;
  b.writeUInt16BE(channel, p + 1);
  b.writeUInt32BE(12 + props.length, p + 3);
  b.writeUInt16BE(CLASS_BASIC, p + 7);
  b.writeUInt16BE(0, p + 9);
  o.pos = p + 11;
  u64(o, msg.bodySize);
  props.copy(o.buf, o.pos);
  o.pos += props.length;
  o.buf[o.pos++] = FRAME_END;
  const body = msg.body;
  if (body && body.length > 0) {
    const max = frameMax - 8;
    for (let off = 0; off < body.length; off += max) {
      const end = Math.min(body.length, off + max);
      const n = end - off;
      o.ensure(7 + (n < COPY_LIMIT ? n : 0) + 1);
      p = o.pos;
      o.buf[p] = FRAME_BODY;
      o.buf.writeUInt16BE(channel, p + 1);
      o.buf.writeUInt32BE(n, p + 3);
      o.pos = p + 7;
      if (n < COPY_LIMIT) {
        body.copy(o.buf, o.pos, off, end);
        o.pos += n;
        o.buf[o.pos++] = FRAME_END;
      } else {
        // large payloads leave by reference, not copied into the block
        o.write(off === 0 && end === body.length ? body : body.subarray(off, end));
        o.ensure(1);
        o.buf[o.pos++] = FRAME_END;
      }
    }
  }
  o.schedule();
}
