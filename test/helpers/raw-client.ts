/**
 * A tiny raw AMQP 0-9-1 client over net.Socket, for wire-level tests.
 *
 * It owns its own minimal encoder/decoder and deliberately imports nothing from
 * src/amqp: when a wire test passes against both RabbitMQ and warren, the two
 * codecs have cross-checked each other. It does NOT try to be a correct client:
 * it sends exactly the bytes a test asks for (including wrong ones) and hands
 * back every frame the server sends, in order.
 *
 * Invariants: every wait has a timeout (default 3 s) so no test can hang; frames
 * are queued in arrival order and `expect*` consumes them one by one; a server
 * protocol-header reply ("AMQP" + 4 octets) is surfaced as a pseudo-frame of
 * type "protocol-header"; heartbeats are negotiated off (tune-ok heartbeat 0).
 */
import net from "node:net";

export const FRAME_METHOD = 1;
export const FRAME_HEADER = 2;
export const FRAME_BODY = 3;
export const FRAME_HEARTBEAT = 8;
export const FRAME_END = 0xce;
export const AMQP_HEADER = Buffer.from("AMQP\x00\x00\x09\x01", "latin1");

/** Method ids as (classId, methodId) pairs, named as the spec names them. */
export const M = {
  connectionStart: [10, 10],
  connectionStartOk: [10, 11],
  connectionSecure: [10, 20],
  connectionTune: [10, 30],
  connectionTuneOk: [10, 31],
  connectionOpen: [10, 40],
  connectionOpenOk: [10, 41],
  connectionClose: [10, 50],
  connectionCloseOk: [10, 51],
  channelOpen: [20, 10],
  channelOpenOk: [20, 11],
  channelFlow: [20, 20],
  channelClose: [20, 40],
  channelCloseOk: [20, 41],
  exchangeDeclare: [40, 10],
  exchangeDeclareOk: [40, 11],
  exchangeDelete: [40, 20],
  exchangeDeleteOk: [40, 21],
  exchangeBind: [40, 30],
  exchangeBindOk: [40, 31],
  queueDeclare: [50, 10],
  queueDeclareOk: [50, 11],
  queueBind: [50, 20],
  queueBindOk: [50, 21],
  queuePurge: [50, 30],
  queuePurgeOk: [50, 31],
  queueDelete: [50, 40],
  queueDeleteOk: [50, 41],
  queueUnbind: [50, 50],
  queueUnbindOk: [50, 51],
  basicQos: [60, 10],
  basicQosOk: [60, 11],
  basicConsume: [60, 20],
  basicConsumeOk: [60, 21],
  basicCancel: [60, 30],
  basicCancelOk: [60, 31],
  basicPublish: [60, 40],
  basicReturn: [60, 50],
  basicDeliver: [60, 60],
  basicGet: [60, 70],
  basicGetOk: [60, 71],
  basicGetEmpty: [60, 72],
  basicAck: [60, 80],
  basicReject: [60, 90],
  basicRecover: [60, 110],
  basicRecoverOk: [60, 111],
  basicNack: [60, 120],
  txSelect: [90, 10],
  txSelectOk: [90, 11],
  txCommit: [90, 20],
  txCommitOk: [90, 21],
  txRollback: [90, 30],
  txRollbackOk: [90, 31],
  confirmSelect: [85, 10],
  confirmSelectOk: [85, 11],
} as const satisfies Record<string, readonly [number, number]>;
export type MethodId = readonly [number, number];

// ---------------------------------------------------------------- encoding

/** A field-table value: JS values map to the usual types; use {type, value} to force one. */
export type FieldValue = string | number | boolean | null | Buffer | FieldTable | FieldValue[] | { type: string; value: unknown };
export interface FieldTable {
  [k: string]: FieldValue;
}

/** Builds method arguments left to right; bits written consecutively are packed into one octet. */
export class Args {
  private parts: Buffer[] = [];
  private bitBuf: number[] | null = null;
  private flushBits(): void {
    if (!this.bitBuf) return;
    let o = 0;
    this.bitBuf.forEach((b, i) => {
      if (b) o |= 1 << i;
    });
    this.parts.push(Buffer.from([o]));
    this.bitBuf = null;
  }
  private push(b: Buffer): this {
    this.flushBits();
    this.parts.push(b);
    return this;
  }
  octet(v: number): this {
    return this.push(Buffer.from([v & 0xff]));
  }
  short(v: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v & 0xffff);
    return this.push(b);
  }
  long(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0);
    return this.push(b);
  }
  longlong(v: number | bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(v));
    return this.push(b);
  }
  shortstr(s: string): this {
    const d = Buffer.from(s, "utf8");
    return this.push(Buffer.concat([Buffer.from([d.length]), d]));
  }
  longstr(s: string | Buffer): this {
    const d = typeof s === "string" ? Buffer.from(s, "utf8") : s;
    return this.push(Buffer.concat([u32(d.length), d]));
  }
  bit(v: boolean): this {
    (this.bitBuf ??= []).push(v ? 1 : 0);
    if (this.bitBuf.length === 8) this.flushBits();
    return this;
  }
  table(t: FieldTable = {}): this {
    return this.push(encodeTable(t));
  }
  raw(b: Buffer): this {
    return this.push(b);
  }
  build(): Buffer {
    this.flushBits();
    return Buffer.concat(this.parts);
  }
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

export function encodeTable(t: FieldTable): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(t)) {
    const key = Buffer.from(k, "utf8");
    parts.push(Buffer.from([key.length]), key, encodeValue(v));
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([u32(body.length), body]);
}

function encodeValue(v: FieldValue): Buffer {
  if (v === null) return Buffer.from("V");
  if (typeof v === "boolean") return Buffer.from([0x74, v ? 1 : 0]);
  if (typeof v === "string") {
    const d = Buffer.from(v, "utf8");
    return Buffer.concat([Buffer.from("S"), u32(d.length), d]);
  }
  if (typeof v === "number") {
    if (!Number.isInteger(v)) {
      const b = Buffer.alloc(9);
      b.write("d");
      b.writeDoubleBE(v, 1);
      return b;
    }
    if (v >= -0x80000000 && v <= 0x7fffffff) {
      const b = Buffer.alloc(5);
      b.write("I");
      b.writeInt32BE(v, 1);
      return b;
    }
    const b = Buffer.alloc(9);
    b.write("l");
    b.writeBigInt64BE(BigInt(v), 1);
    return b;
  }
  if (Buffer.isBuffer(v)) return Buffer.concat([Buffer.from("x"), u32(v.length), v]);
  if (Array.isArray(v)) {
    const body = Buffer.concat(v.map(encodeValue));
    return Buffer.concat([Buffer.from("A"), u32(body.length), body]);
  }
  if ("type" in v && typeof v.type === "string" && "value" in v) return encodeTyped(v.type, v.value);
  return Buffer.concat([Buffer.from("F"), encodeTable(v as FieldTable)]);
}

/** Explicitly typed field values, e.g. {type: "s", value: 5} for a short-int, or any raw type octet with a Buffer. */
function encodeTyped(type: string, value: unknown): Buffer {
  const t = Buffer.from(type, "latin1");
  if (Buffer.isBuffer(value)) return Buffer.concat([t, value]);
  const n = Number(value);
  switch (type) {
    case "b": {
      const b = Buffer.alloc(1);
      b.writeInt8(n);
      return Buffer.concat([t, b]);
    }
    case "B":
      return Buffer.concat([t, Buffer.from([n & 0xff])]);
    case "s": {
      const b = Buffer.alloc(2);
      b.writeInt16BE(n);
      return Buffer.concat([t, b]);
    }
    case "u": {
      const b = Buffer.alloc(2);
      b.writeUInt16BE(n);
      return Buffer.concat([t, b]);
    }
    case "I": {
      const b = Buffer.alloc(4);
      b.writeInt32BE(n);
      return Buffer.concat([t, b]);
    }
    case "i":
      return Buffer.concat([t, u32(n)]);
    case "l": {
      const b = Buffer.alloc(8);
      b.writeBigInt64BE(BigInt(n));
      return Buffer.concat([t, b]);
    }
    case "f": {
      const b = Buffer.alloc(4);
      b.writeFloatBE(n);
      return Buffer.concat([t, b]);
    }
    case "d": {
      const b = Buffer.alloc(8);
      b.writeDoubleBE(n);
      return Buffer.concat([t, b]);
    }
    case "T": {
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(BigInt(n));
      return Buffer.concat([t, b]);
    }
    default:
      throw new Error(`encodeTyped: give a Buffer for type ${type}`);
  }
}

/** One complete frame: type | channel | size | payload | frame-end. */
export function frame(type: number, channel: number, payload: Buffer, frameEnd = FRAME_END): Buffer {
  const h = Buffer.alloc(7);
  h.writeUInt8(type, 0);
  h.writeUInt16BE(channel, 1);
  h.writeUInt32BE(payload.length, 3);
  return Buffer.concat([h, payload, Buffer.from([frameEnd])]);
}

export function methodPayload(id: MethodId, args: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(id[0], 0);
  b.writeUInt16BE(id[1], 2);
  return Buffer.concat([b, args]);
}

export function methodFrame(channel: number, id: MethodId, args: Buffer = Buffer.alloc(0)): Buffer {
  return frame(FRAME_METHOD, channel, methodPayload(id, args));
}

/** Content header: class-id, weight 0, body-size, property flags (only the ones given). */
export function headerFrame(channel: number, bodySize: number, props: { deliveryMode?: number; expiration?: string; headers?: FieldTable } = {}, classId = 60): Buffer {
  let flags = 0;
  const a = new Args();
  if (props.headers) flags |= 1 << 13;
  if (props.deliveryMode !== undefined) flags |= 1 << 12;
  if (props.expiration !== undefined) flags |= 1 << 8;
  const h = new Args().short(classId).short(0).longlong(bodySize).short(flags);
  if (props.headers) a.table(props.headers);
  if (props.deliveryMode !== undefined) a.octet(props.deliveryMode);
  if (props.expiration !== undefined) a.shortstr(props.expiration);
  return frame(FRAME_HEADER, channel, Buffer.concat([h.build(), a.build()]));
}

export function bodyFrame(channel: number, body: Buffer | string): Buffer {
  return frame(FRAME_BODY, channel, typeof body === "string" ? Buffer.from(body) : body);
}

// Argument builders for the methods tests use most (field order from the spec).
export const args = {
  queueDeclare: (queue: string, o: { passive?: boolean; durable?: boolean; exclusive?: boolean; autoDelete?: boolean; noWait?: boolean; arguments?: FieldTable } = {}) =>
    new Args().short(0).shortstr(queue).bit(!!o.passive).bit(!!o.durable).bit(!!o.exclusive).bit(!!o.autoDelete).bit(!!o.noWait).table(o.arguments).build(),
  exchangeDeclare: (exchange: string, type: string, o: { passive?: boolean; durable?: boolean; autoDelete?: boolean; internal?: boolean; noWait?: boolean; arguments?: FieldTable } = {}) =>
    new Args().short(0).shortstr(exchange).shortstr(type).bit(!!o.passive).bit(!!o.durable).bit(!!o.autoDelete).bit(!!o.internal).bit(!!o.noWait).table(o.arguments).build(),
  exchangeDelete: (exchange: string, ifUnused = false) => new Args().short(0).shortstr(exchange).bit(ifUnused).bit(false).build(),
  queueBind: (queue: string, exchange: string, routingKey = "", a: FieldTable = {}) => new Args().short(0).shortstr(queue).shortstr(exchange).shortstr(routingKey).bit(false).table(a).build(),
  queuePurge: (queue: string) => new Args().short(0).shortstr(queue).bit(false).build(),
  queueUnbind: (queue: string, exchange: string, routingKey = "", a: FieldTable = {}) => new Args().short(0).shortstr(queue).shortstr(exchange).shortstr(routingKey).table(a).build(),
  exchangeBind: (destination: string, source: string, routingKey = "", a: FieldTable = {}) =>
    new Args().short(0).shortstr(destination).shortstr(source).shortstr(routingKey).bit(false).table(a).build(),
  basicCancel: (consumerTag: string) => new Args().shortstr(consumerTag).bit(false).build(),
  queueDelete: (queue: string, o: { ifUnused?: boolean; ifEmpty?: boolean } = {}) => new Args().short(0).shortstr(queue).bit(!!o.ifUnused).bit(!!o.ifEmpty).bit(false).build(),
  basicPublish: (exchange: string, routingKey: string, mandatory = false, immediate = false) => new Args().short(0).shortstr(exchange).shortstr(routingKey).bit(mandatory).bit(immediate).build(),
  basicConsume: (queue: string, consumerTag = "", o: { noAck?: boolean; exclusive?: boolean; arguments?: FieldTable } = {}) =>
    new Args().short(0).shortstr(queue).shortstr(consumerTag).bit(false).bit(!!o.noAck).bit(!!o.exclusive).bit(false).table(o.arguments).build(),
  basicGet: (queue: string, noAck = false) => new Args().short(0).shortstr(queue).bit(noAck).build(),
  basicAck: (deliveryTag: number, multiple = false) => new Args().longlong(deliveryTag).bit(multiple).build(),
  basicNack: (deliveryTag: number, multiple = false, requeue = true) => new Args().longlong(deliveryTag).bit(multiple).bit(requeue).build(),
  basicReject: (deliveryTag: number, requeue = true) => new Args().longlong(deliveryTag).bit(requeue).build(),
  basicQos: (prefetchSize: number, prefetchCount: number, global = false) => new Args().long(prefetchSize).short(prefetchCount).bit(global).build(),
  channelClose: (code = 200, text = "", classId = 0, methodId = 0) => new Args().short(code).shortstr(text).short(classId).short(methodId).build(),
  empty: () => Buffer.alloc(0),
};

// ---------------------------------------------------------------- decoding

/** Reads method arguments left to right (bits: call bit() repeatedly; a non-bit read resets packing). */
export class Reader {
  private bitOctet = -1;
  private bitIdx = 0;
  constructor(
    public buf: Buffer,
    public pos = 0,
  ) {}
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new Error(`truncated arguments at ${this.pos}+${n}/${this.buf.length}`);
  }
  private reset(): void {
    this.bitOctet = -1;
  }
  octet(): number {
    this.reset();
    this.need(1);
    return this.buf.readUInt8(this.pos++);
  }
  short(): number {
    this.reset();
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  long(): number {
    this.reset();
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  longlong(): number {
    this.reset();
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return Number(v);
  }
  shortstr(): string {
    const n = this.octet();
    this.need(n);
    const s = this.buf.toString("utf8", this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  longstr(): Buffer {
    const n = this.long();
    this.need(n);
    const s = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  bit(): boolean {
    if (this.bitOctet < 0 || this.bitIdx === 8) {
      this.need(1);
      this.bitOctet = this.buf.readUInt8(this.pos++);
      this.bitIdx = 0;
    }
    return ((this.bitOctet >> this.bitIdx++) & 1) === 1;
  }
  /** Skips a table, returning its raw bytes (tests rarely need the contents). */
  tableRaw(): Buffer {
    return this.longstr();
  }
}

export interface Frame {
  type: number | "protocol-header";
  channel: number;
  payload: Buffer;
  /** for method frames */
  classId?: number;
  methodId?: number;
  /** reader positioned at the method arguments */
  args?: Reader;
}

export interface CloseInfo {
  replyCode: number;
  replyText: string;
  classId: number;
  methodId: number;
}

export function decodeClose(f: Frame): CloseInfo {
  const r = new Reader(f.payload, 4);
  return { replyCode: r.short(), replyText: r.shortstr(), classId: r.short(), methodId: r.short() };
}

function describe(f: Frame): string {
  if (f.type === "protocol-header") return `protocol-header ${JSON.stringify(f.payload.toString("latin1"))}`;
  if (f.type !== FRAME_METHOD) return `frame type ${f.type} ch ${f.channel} (${f.payload.length} bytes)`;
  const isClose = (f.classId === 10 && f.methodId === 50) || (f.classId === 20 && f.methodId === 40);
  const extra = isClose ? ` ${JSON.stringify(decodeClose(f))}` : "";
  return `method ${f.classId}.${f.methodId} ch ${f.channel}${extra}`;
}

// ---------------------------------------------------------------- the client

export interface HandshakeOptions {
  vhost?: string;
  user?: string;
  password?: string;
  mechanism?: string;
  /** client-properties capabilities; default includes authentication_failure_close=true */
  capabilities?: FieldTable;
  channelMax?: number;
  frameMax?: number;
  /** heartbeat seconds to ask for in tune-ok (default 0: off) */
  heartbeat?: number;
}

export interface TuneParams {
  channelMax: number;
  frameMax: number;
  heartbeat: number;
}

export class RawClient {
  readonly frames: Frame[] = [];
  private buf: Buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;
  sawHeaderReply = false;
  tune: TuneParams | undefined;
  /** set when the server's bytes could not be parsed as frames */
  parseError: string | undefined;
  /** when true, body frames are counted (bodyBytes) instead of queued — for bulk tests */
  discardBodies = false;
  bodyBytes = 0;
  /** total octets received from the server */
  bytesIn = 0;

  private constructor(readonly socket: net.Socket) {
    socket.on("data", (d) => this.onData(d));
    socket.on("error", () => {});
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
  }

  static connect(port: number, host = "127.0.0.1", timeoutMs = 3000): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host });
      const t = setTimeout(() => {
        s.destroy();
        reject(new Error("connect timeout"));
      }, timeoutMs);
      s.once("connect", () => {
        clearTimeout(t);
        s.setNoDelay(true);
        resolve(new RawClient(s));
      });
      s.once("error", (e) => {
        clearTimeout(t);
        reject(e);
      });
    });
  }

  /** Connects and completes the handshake up to connection.open-ok. */
  static async open(port: number, host = "127.0.0.1", o: HandshakeOptions = {}): Promise<RawClient> {
    const c = await RawClient.connect(port, host);
    try {
      await c.handshake(o);
    } catch (e) {
      c.destroy();
      throw e;
    }
    return c;
  }

  private onData(d: Buffer): void {
    this.bytesIn += d.length;
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      if (this.buf.length >= 1 && this.buf[0] === 0x41 /* 'A' */) {
        if (this.buf.length < 8) break;
        this.frames.push({ type: "protocol-header", channel: 0, payload: this.buf.subarray(0, 8) });
        this.sawHeaderReply = true;
        this.buf = this.buf.subarray(8);
        continue;
      }
      if (this.buf.length < 7) break;
      const type = this.buf.readUInt8(0);
      const channel = this.buf.readUInt16BE(1);
      const size = this.buf.readUInt32BE(3);
      if (this.buf.length < 8 + size) break;
      if (this.buf[7 + size] !== FRAME_END) {
        this.parseError = `bad frame-end from server`;
        this.buf = Buffer.alloc(0);
        break;
      }
      if (type === FRAME_BODY && this.discardBodies) {
        this.bodyBytes += size;
        this.buf = this.buf.subarray(8 + size);
        continue;
      }
      const payload = Buffer.from(this.buf.subarray(7, 7 + size));
      const f: Frame = { type, channel, payload };
      if (type === FRAME_METHOD && size >= 4) {
        f.classId = payload.readUInt16BE(0);
        f.methodId = payload.readUInt16BE(2);
        f.args = new Reader(payload, 4);
      }
      this.frames.push(f);
      this.buf = this.buf.subarray(8 + size);
    }
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private waitChange(deadline: number): Promise<boolean> {
    return new Promise((resolve) => {
      const ms = deadline - Date.now();
      if (ms <= 0) return resolve(false);
      const t = setTimeout(() => resolve(false), ms);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  // -- sending

  send(b: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(b);
  }
  sendHeader(h: Buffer = AMQP_HEADER): void {
    this.send(h);
  }
  sendMethod(channel: number, id: MethodId, a: Buffer = Buffer.alloc(0)): void {
    this.send(methodFrame(channel, id, a));
  }
  /** basic.publish + header + body frames (body split at frameMax-8 unless chunk given). */
  publish(channel: number, exchange: string, routingKey: string, body: Buffer | string, o: { mandatory?: boolean; props?: Parameters<typeof headerFrame>[2]; chunk?: number } = {}): void {
    const data = typeof body === "string" ? Buffer.from(body) : body;
    const chunk = o.chunk ?? (this.tune?.frameMax ?? 131072) - 8;
    const parts = [methodFrame(channel, M.basicPublish, args.basicPublish(exchange, routingKey, !!o.mandatory)), headerFrame(channel, data.length, o.props)];
    for (let i = 0; i < data.length; i += chunk) parts.push(bodyFrame(channel, data.subarray(i, i + chunk)));
    this.send(Buffer.concat(parts));
  }

  // -- receiving

  /** The next frame from the server (skipping heartbeats), or throws after timeoutMs. */
  async next(timeoutMs = 3000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.frames.length) {
        const f = this.frames.shift()!;
        if (f.type === FRAME_HEARTBEAT) continue;
        return f;
      }
      if (this.closed) throw new Error("socket closed while waiting for a frame");
      if (!(await this.waitChange(deadline))) throw new Error(`timeout (${timeoutMs} ms) waiting for a frame`);
    }
  }

  /** The next frame must be this method on this channel. */
  async expect(channel: number, id: MethodId, timeoutMs = 3000): Promise<Frame> {
    const f = await this.next(timeoutMs);
    if (f.type !== FRAME_METHOD || f.channel !== channel || f.classId !== id[0] || f.methodId !== id[1]) {
      throw new Error(`expected method ${id[0]}.${id[1]} on ch ${channel}, got ${describe(f)}`);
    }
    return f;
  }

  /** Expects channel.close with this code; answers channel.close-ok. */
  async expectChannelClose(channel: number, code: number, timeoutMs = 3000): Promise<CloseInfo> {
    const f = await this.next(timeoutMs);
    if (f.type !== FRAME_METHOD || f.classId !== 20 || f.methodId !== 40 || f.channel !== channel) {
      throw new Error(`expected channel.close ${code} on ch ${channel}, got ${describe(f)}`);
    }
    const c = decodeClose(f);
    if (c.replyCode !== code) throw new Error(`expected channel.close ${code}, got ${JSON.stringify(c)}`);
    this.sendMethod(channel, M.channelCloseOk);
    return c;
  }

  /** Expects connection.close with this code on channel 0; answers close-ok. */
  async expectConnectionClose(code: number, timeoutMs = 3000): Promise<CloseInfo> {
    const f = await this.next(timeoutMs);
    if (f.type !== FRAME_METHOD || f.classId !== 10 || f.methodId !== 50 || f.channel !== 0) {
      throw new Error(`expected connection.close ${code}, got ${describe(f)}`);
    }
    const c = decodeClose(f);
    if (c.replyCode !== code) throw new Error(`expected connection.close ${code}, got ${JSON.stringify(c)}`);
    this.sendMethod(0, M.connectionCloseOk);
    return c;
  }

  /** Waits for the server to close the TCP connection; returns the frames that came before. */
  async expectSocketClosed(timeoutMs = 3000): Promise<Frame[]> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (!(await this.waitChange(deadline))) throw new Error(`socket still open after ${timeoutMs} ms; frames: ${this.frames.map(describe).join(", ")}`);
    }
    return this.frames.splice(0);
  }

  /** Resolves true if no frame arrives within ms (and the socket stays open). */
  async expectSilence(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (this.frames.some((f) => f.type !== FRAME_HEARTBEAT)) throw new Error(`expected silence, got ${describe(this.frames[0]!)}`);
      if (this.closed) throw new Error("expected silence, socket closed");
      await this.waitChange(deadline);
    }
  }

  // -- handshake and channels

  async handshake(o: HandshakeOptions = {}): Promise<void> {
    this.sendHeader();
    await this.expect(0, M.connectionStart);
    this.sendStartOk(o);
    const tune = await this.expect(0, M.connectionTune, 5000);
    const r = tune.args!;
    this.tune = { channelMax: r.short(), frameMax: r.long(), heartbeat: r.short() };
    const channelMax = o.channelMax ?? this.tune.channelMax;
    const frameMax = o.frameMax ?? this.tune.frameMax;
    const heartbeat = o.heartbeat ?? 0;
    this.tune = { channelMax, frameMax, heartbeat };
    this.sendMethod(0, M.connectionTuneOk, new Args().short(channelMax).long(frameMax).short(heartbeat).build());
    this.sendOpen(o.vhost ?? "/");
    await this.expect(0, M.connectionOpenOk);
  }

  sendStartOk(o: HandshakeOptions = {}): void {
    const capabilities = o.capabilities ?? { authentication_failure_close: true, "connection.blocked": true, publisher_confirms: true };
    const mech = o.mechanism ?? "PLAIN";
    const response = `\0${o.user ?? "guest"}\0${o.password ?? "guest"}`;
    this.sendMethod(0, M.connectionStartOk, new Args().table({ product: "warren raw test client", capabilities }).shortstr(mech).longstr(response).shortstr("en_US").build());
  }

  sendOpen(vhost: string): void {
    this.sendMethod(0, M.connectionOpen, new Args().shortstr(vhost).shortstr("").bit(false).build());
  }

  async openChannel(channel: number): Promise<void> {
    this.sendMethod(channel, M.channelOpen, new Args().shortstr("").build());
    await this.expect(channel, M.channelOpenOk);
  }

  async closeChannel(channel: number): Promise<void> {
    this.sendMethod(channel, M.channelClose, args.channelClose());
    await this.expect(channel, M.channelCloseOk);
  }

  /** Polite connection.close, then wait for close-ok; always destroys the socket. */
  async close(): Promise<void> {
    try {
      if (!this.closed) {
        this.sendMethod(0, M.connectionClose, args.channelClose());
        const deadline = Date.now() + 2000;
        while (!this.closed && Date.now() < deadline) {
          const f = this.frames.shift();
          if (f && f.type === FRAME_METHOD && f.classId === 10 && f.methodId === 51) break;
          if (!f) await this.waitChange(deadline);
        }
      }
    } finally {
      this.destroy();
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** vhost named by an amqp:// URL ("/" when the path is empty). */
export function vhostOf(url: string): string {
  const p = new URL(url).pathname;
  return p && p !== "/" ? decodeURIComponent(p.slice(1)) : "/";
}
