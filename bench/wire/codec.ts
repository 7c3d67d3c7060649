/**
 * Minimal AMQP 0-9-1 framing for the load generator, written independently of
 * src/amqp so that the benchmark never measures warren with warren's own codec.
 *
 * Owns: encoding the handful of methods the bench sends (handshake, channel,
 * queue/exchange declare and bind, qos, consume, publish, ack, confirm.select)
 * and the frame layout (type, channel, size, payload, 0xCE).
 * Does not own: sockets or parsing (see conn.ts), or any method the bench never
 * sends. Invariants: every function returns a complete frame (or several
 * concatenated frames) ready for socket.write; nothing here keeps state.
 */

export const FRAME_METHOD = 1;
export const FRAME_HEADER = 2;
export const FRAME_BODY = 3;
export const FRAME_HEARTBEAT = 8;
export const FRAME_END = 0xce;

export const PROTOCOL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);

/** classId << 16 | methodId, the way amqplib numbers methods */
export const M = {
  connectionStart: (10 << 16) | 10,
  connectionStartOk: (10 << 16) | 11,
  connectionTune: (10 << 16) | 30,
  connectionTuneOk: (10 << 16) | 31,
  connectionOpen: (10 << 16) | 40,
  connectionOpenOk: (10 << 16) | 41,
  connectionClose: (10 << 16) | 50,
  connectionCloseOk: (10 << 16) | 51,
  channelOpen: (20 << 16) | 10,
  channelOpenOk: (20 << 16) | 11,
  channelClose: (20 << 16) | 40,
  channelCloseOk: (20 << 16) | 41,
  exchangeDeclare: (40 << 16) | 10,
  exchangeDeclareOk: (40 << 16) | 11,
  exchangeDelete: (40 << 16) | 20,
  exchangeDeleteOk: (40 << 16) | 21,
  queueDeclare: (50 << 16) | 10,
  queueDeclareOk: (50 << 16) | 11,
  queueBind: (50 << 16) | 20,
  queueBindOk: (50 << 16) | 21,
  queuePurge: (50 << 16) | 30,
  queuePurgeOk: (50 << 16) | 31,
  queueDelete: (50 << 16) | 40,
  queueDeleteOk: (50 << 16) | 41,
  basicQos: (60 << 16) | 10,
  basicQosOk: (60 << 16) | 11,
  basicConsume: (60 << 16) | 20,
  basicConsumeOk: (60 << 16) | 21,
  basicCancel: (60 << 16) | 30,
  basicCancelOk: (60 << 16) | 31,
  basicPublish: (60 << 16) | 40,
  basicReturn: (60 << 16) | 50,
  basicDeliver: (60 << 16) | 60,
  basicAck: (60 << 16) | 80,
  basicNack: (60 << 16) | 120,
  confirmSelect: (85 << 16) | 10,
  confirmSelectOk: (85 << 16) | 11,
} as const;

/** A growable byte writer for building method argument lists. */
class ArgWriter {
  private buf = Buffer.allocUnsafe(256);
  len = 0;
  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  octet(v: number): this {
    this.ensure(1);
    this.buf[this.len++] = v;
    return this;
  }
  short(v: number): this {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.len);
    this.len += 2;
    return this;
  }
  long(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.len);
    this.len += 4;
    return this;
  }
  longlong(v: number): this {
    this.ensure(8);
    this.buf.writeUInt32BE(Math.floor(v / 0x100000000), this.len);
    this.buf.writeUInt32BE(v >>> 0, this.len + 4);
    this.len += 8;
    return this;
  }
  shortstr(s: string): this {
    const b = Buffer.from(s, "utf8");
    if (b.length > 255) throw new Error(`shortstr too long: ${s.slice(0, 40)}…`);
    this.octet(b.length);
    return this.bytes(b);
  }
  longstr(b: Buffer): this {
    this.long(b.length);
    return this.bytes(b);
  }
  bytes(b: Buffer): this {
    this.ensure(b.length);
    b.copy(this.buf, this.len);
    this.len += b.length;
    return this;
  }
  /** bits packed LSB first into one octet, as the spec packs consecutive bits */
  bits(...flags: boolean[]): this {
    let v = 0;
    flags.forEach((f, i) => {
      if (f) v |= 1 << i;
    });
    return this.octet(v);
  }
  /** field table with string, integer and boolean values only: all the bench needs */
  table(t: Record<string, string | number | boolean> = {}): this {
    const inner = new ArgWriter();
    for (const [k, v] of Object.entries(t)) {
      inner.shortstr(k);
      if (typeof v === "string") inner.octet(0x53).longstr(Buffer.from(v));
      else if (typeof v === "boolean") inner.octet(0x74).octet(v ? 1 : 0);
      else inner.octet(0x49).long(v >>> 0);
    }
    this.long(inner.len);
    return this.bytes(inner.done());
  }
  done(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

export function args(): ArgWriter {
  return new ArgWriter();
}

export function frame(type: number, channel: number, payload: Buffer): Buffer {
  const f = Buffer.allocUnsafe(payload.length + 8);
  f[0] = type;
  f.writeUInt16BE(channel, 1);
  f.writeUInt32BE(payload.length, 3);
  payload.copy(f, 7);
  f[f.length - 1] = FRAME_END;
  return f;
}

export function methodFrame(channel: number, id: number, a?: ArgWriter): Buffer {
  const body = a ? a.done() : Buffer.alloc(0);
  const p = Buffer.allocUnsafe(4 + body.length);
  p.writeUInt32BE(id >>> 0, 0);
  body.copy(p, 4);
  return frame(FRAME_METHOD, channel, p);
}

// ---- the methods the bench sends -------------------------------------------

export function startOk(user: string, pass: string): Buffer {
  return methodFrame(
    0,
    M.connectionStartOk,
    args()
      .table({ product: "warren-bench", platform: "node" })
      .shortstr("PLAIN")
      .longstr(Buffer.from(`\0${user}\0${pass}`))
      .shortstr("en_US"),
  );
}

export function tuneOk(channelMax: number, frameMax: number, heartbeat: number): Buffer {
  return methodFrame(0, M.connectionTuneOk, args().short(channelMax).long(frameMax).short(heartbeat));
}

export function connectionOpen(vhost: string): Buffer {
  return methodFrame(0, M.connectionOpen, args().shortstr(vhost).shortstr("").bits(false));
}

export function connectionClose(): Buffer {
  return methodFrame(0, M.connectionClose, args().short(200).shortstr("bench done").short(0).short(0));
}

export function connectionCloseOk(): Buffer {
  return methodFrame(0, M.connectionCloseOk);
}

export function channelOpen(ch: number): Buffer {
  return methodFrame(ch, M.channelOpen, args().shortstr(""));
}

export function channelCloseOk(ch: number): Buffer {
  return methodFrame(ch, M.channelCloseOk);
}

export interface QueueDeclareOpts {
  passive?: boolean;
  durable?: boolean;
  exclusive?: boolean;
  autoDelete?: boolean;
  noWait?: boolean;
}

export function queueDeclare(ch: number, queue: string, o: QueueDeclareOpts = {}): Buffer {
  return methodFrame(ch, M.queueDeclare, args().short(0).shortstr(queue).bits(!!o.passive, !!o.durable, !!o.exclusive, !!o.autoDelete, !!o.noWait).table());
}

export function queueDelete(ch: number, queue: string, noWait = false): Buffer {
  return methodFrame(ch, M.queueDelete, args().short(0).shortstr(queue).bits(false, false, noWait));
}

export function queuePurge(ch: number, queue: string): Buffer {
  return methodFrame(ch, M.queuePurge, args().short(0).shortstr(queue).bits(false));
}

export function queueBind(ch: number, queue: string, exchange: string, routingKey: string, noWait = false): Buffer {
  return methodFrame(ch, M.queueBind, args().short(0).shortstr(queue).shortstr(exchange).shortstr(routingKey).bits(noWait).table());
}

export function exchangeDeclare(ch: number, exchange: string, type: string, durable = false): Buffer {
  return methodFrame(ch, M.exchangeDeclare, args().short(0).shortstr(exchange).shortstr(type).bits(false, durable, false, false, false).table());
}

export function exchangeDelete(ch: number, exchange: string): Buffer {
  return methodFrame(ch, M.exchangeDelete, args().short(0).shortstr(exchange).bits(false, false));
}

export function basicQos(ch: number, prefetchCount: number): Buffer {
  return methodFrame(ch, M.basicQos, args().long(0).short(prefetchCount).bits(false));
}

export function basicConsume(ch: number, queue: string, consumerTag: string, noAck: boolean): Buffer {
  return methodFrame(ch, M.basicConsume, args().short(0).shortstr(queue).shortstr(consumerTag).bits(false, noAck, false, false).table());
}

export function confirmSelect(ch: number): Buffer {
  return methodFrame(ch, M.confirmSelect, args().bits(false));
}

/** basic.ack is sent on the hot path: written in place into a preallocated buffer. */
export const BASIC_ACK_LEN = 21;
export function writeBasicAck(out: Buffer, at: number, ch: number, deliveryTag: number, multiple: boolean): void {
  out[at] = FRAME_METHOD;
  out.writeUInt16BE(ch, at + 1);
  out.writeUInt32BE(13, at + 3);
  out.writeUInt32BE(M.basicAck, at + 7);
  out.writeUInt32BE(Math.floor(deliveryTag / 0x100000000), at + 11);
  out.writeUInt32BE(deliveryTag >>> 0, at + 15);
  out[at + 19] = multiple ? 1 : 0;
  out[at + 20] = FRAME_END;
}

export interface PublishSpec {
  channel: number;
  exchange: string;
  routingKey: string;
  body: Buffer;
  persistent: boolean;
  frameMax: number;
}

/**
 * One message as the bytes on the wire: basic.publish method frame, content
 * header frame (delivery-mode only) and the body split into body frames.
 * Pre-encoded once so the publisher only copies bytes.
 */
export function encodePublish(p: PublishSpec): Buffer {
  const method = methodFrame(p.channel, M.basicPublish, args().short(0).shortstr(p.exchange).shortstr(p.routingKey).bits(false, false));
  const h = args().short(60).short(0).longlong(p.body.length);
  if (p.persistent) h.short(0x1000).octet(2);
  else h.short(0);
  const parts = [method, frame(FRAME_HEADER, p.channel, h.done())];
  const maxBody = p.frameMax - 8;
  for (let off = 0; off < p.body.length; off += maxBody) {
    parts.push(frame(FRAME_BODY, p.channel, p.body.subarray(off, Math.min(p.body.length, off + maxBody))));
  }
  return Buffer.concat(parts);
}

/** Byte offset of the body's first byte inside an encodePublish() buffer (single body frame). */
export function bodyOffset(encoded: Buffer, bodyLength: number): number {
  return encoded.length - 1 - bodyLength;
}
