/**
 * One raw AMQP connection for the load generator: TCP socket, handshake, an
 * incremental frame parser, a FIFO of synchronous replies per channel, and
 * hot-path hooks for deliveries, bodies and publisher confirms.
 *
 * Owns: reading frames in place from socket chunks (copying only the tail of a
 * frame that straddles two chunks), and dispatching them. Does not own: what
 * to publish or when to ack (see ../load/). Invariants: hooks are called
 * synchronously in frame order; no allocation per delivery on the hot path
 * (tags are read as two 32-bit halves, bodies are handed out as slices).
 */
import { connect, type Socket } from "node:net";
import * as C from "./codec.js";

export interface ConnectOptions {
  url: string;
  /** ask for this frame-max; the smaller of ours and the server's wins */
  frameMax?: number;
  timeoutMs?: number;
}

interface Waiter {
  id: number;
  resolve: (payload: Buffer) => void;
  reject: (e: Error) => void;
}

/** what the content frames following a method on a channel belong to */
const CONTENT_NONE = 0;
const CONTENT_DELIVER = 1;
const CONTENT_OTHER = 2;

export class BenchConn {
  readonly socket: Socket;
  frameMax = 131072;
  channelMax = 2047;
  error: Error | null = null;
  /** resolves when the socket has closed, for whatever reason */
  readonly closed: Promise<void>;

  onDeliver: ((ch: number, deliveryTag: number) => void) | null = null;
  onBody: ((ch: number, buf: Buffer, start: number, end: number) => void) | null = null;
  onMessage: ((ch: number) => void) | null = null;
  onConfirm: ((deliveryTag: number, multiple: boolean, nack: boolean) => void) | null = null;
  /** called once after every socket chunk has been parsed: the place to batch writes */
  afterChunk: (() => void) | null = null;

  private waiters = new Map<number, Waiter[]>();
  private pendingParts: Buffer[] = [];
  private pendingLen = 0;
  private need = 0;
  private contentKind: number[] = [];
  private contentLeft: number[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    this.closed = new Promise((resolve) => {
      socket.once("close", () => {
        this.fail(this.error ?? new Error("connection closed"));
        resolve();
      });
    });
    socket.on("error", (e) => this.fail(e));
  }

  static async open(o: ConnectOptions): Promise<BenchConn> {
    const u = new URL(o.url);
    const port = Number(u.port || 5672);
    const socket = connect({ host: u.hostname, port });
    const conn = new BenchConn(socket);
    const timer = setTimeout(() => conn.fail(new Error(`handshake timeout to ${u.host}`)), o.timeoutMs ?? 30_000);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("error", reject);
      });
      const started = conn.expect(0, C.M.connectionStart);
      socket.write(C.PROTOCOL_HEADER);
      await started;
      const tune = conn.expect(0, C.M.connectionTune);
      socket.write(C.startOk(decodeURIComponent(u.username || "guest"), decodeURIComponent(u.password || "guest")));
      const t = await tune;
      const srvChannelMax = t.readUInt16BE(4);
      const srvFrameMax = t.readUInt32BE(6);
      const want = o.frameMax ?? 131072;
      conn.frameMax = srvFrameMax === 0 ? want : Math.min(want, srvFrameMax);
      conn.channelMax = srvChannelMax === 0 ? 2047 : srvChannelMax;
      socket.write(C.tuneOk(conn.channelMax, conn.frameMax, 0));
      const vhost = u.pathname.length > 1 ? decodeURIComponent(u.pathname.slice(1)) : "/";
      await conn.call(C.connectionOpen(vhost), 0, C.M.connectionOpenOk);
      return conn;
    } catch (e) {
      socket.destroy();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Register interest in the next method `id` on channel `ch` (replies arrive in order). */
  expect(ch: number, id: number): Promise<Buffer> {
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      let q = this.waiters.get(ch);
      if (!q) this.waiters.set(ch, (q = []));
      q.push({ id, resolve, reject });
    });
  }

  /** Send a synchronous method and wait for its reply; resolves with the reply's payload. */
  call(frame: Buffer, ch: number, replyId: number): Promise<Buffer> {
    const p = this.expect(ch, replyId);
    this.socket.write(frame);
    return p;
  }

  async openChannel(ch: number): Promise<void> {
    await this.call(C.channelOpen(ch), ch, C.M.channelOpenOk);
  }

  /** queue.declare; returns [messageCount, consumerCount] */
  async queueDeclare(ch: number, queue: string, o: C.QueueDeclareOpts = {}): Promise<[number, number]> {
    const p = await this.call(C.queueDeclare(ch, queue, o), ch, C.M.queueDeclareOk);
    const at = 4 + 1 + p[4]!;
    return [p.readUInt32BE(at), p.readUInt32BE(at + 4)];
  }

  write(b: Buffer): boolean {
    return this.socket.write(b);
  }

  /** connection.close and wait for close-ok (or the socket to go), bounded in time. */
  async close(timeoutMs = 3000): Promise<void> {
    if (this.socket.destroyed) return;
    const t = setTimeout(() => this.socket.destroy(), timeoutMs);
    try {
      await this.call(C.connectionClose(), 0, C.M.connectionCloseOk).catch(() => {});
      this.socket.end();
      await this.closed;
    } finally {
      clearTimeout(t);
      this.socket.destroy();
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  private fail(e: Error): void {
    if (!this.error) this.error = e;
    for (const q of this.waiters.values()) for (const w of q) w.reject(this.error);
    this.waiters.clear();
  }

  private onData(chunk: Buffer): void {
    let buf: Buffer;
    if (this.pendingLen > 0) {
      // a frame straddles chunks: gather until the whole frame is here, then copy once
      this.pendingParts.push(chunk);
      this.pendingLen += chunk.length;
      if (this.pendingLen < this.need) return;
      buf = Buffer.concat(this.pendingParts, this.pendingLen);
      this.pendingParts = [];
      this.pendingLen = 0;
    } else {
      buf = chunk;
    }
    let off = 0;
    const len = buf.length;
    while (len - off >= 7) {
      const size = buf.readUInt32BE(off + 3);
      if (len - off < size + 8) break;
      this.onFrame(buf[off]!, buf.readUInt16BE(off + 1), buf, off + 7, off + 7 + size);
      off += size + 8;
    }
    if (off < len) {
      const rest = buf.subarray(off);
      this.pendingParts.push(rest);
      this.pendingLen = rest.length;
      this.need = rest.length >= 7 ? rest.readUInt32BE(3) + 8 : 7;
    }
    if (this.afterChunk) this.afterChunk();
  }

  private onFrame(type: number, ch: number, buf: Buffer, p: number, end: number): void {
    if (type === C.FRAME_METHOD) {
      const id = buf.readUInt32BE(p);
      if (id === C.M.basicDeliver) {
        const tagAt = p + 5 + buf[p + 4]!;
        const tag = buf.readUInt32BE(tagAt) * 0x100000000 + buf.readUInt32BE(tagAt + 4);
        this.contentKind[ch] = CONTENT_DELIVER;
        if (this.onDeliver) this.onDeliver(ch, tag);
        return;
      }
      if (id === C.M.basicAck || id === C.M.basicNack) {
        const tag = buf.readUInt32BE(p + 4) * 0x100000000 + buf.readUInt32BE(p + 8);
        if (this.onConfirm) this.onConfirm(tag, (buf[p + 12]! & 1) === 1, id === C.M.basicNack);
        return;
      }
      if (id === C.M.basicReturn || id === ((60 << 16) | 71) /* basic.get-ok */) {
        this.contentKind[ch] = CONTENT_OTHER;
        return;
      }
      this.onControl(ch, id, Buffer.from(buf.subarray(p, end)));
      return;
    }
    if (type === C.FRAME_HEADER) {
      const size = buf.readUInt32BE(p + 4) * 0x100000000 + buf.readUInt32BE(p + 8);
      this.contentLeft[ch] = size;
      if (size === 0) this.contentDone(ch);
      return;
    }
    if (type === C.FRAME_BODY) {
      if (this.onBody && this.contentKind[ch] === CONTENT_DELIVER) this.onBody(ch, buf, p, end);
      const left = (this.contentLeft[ch] ?? 0) - (end - p);
      this.contentLeft[ch] = left;
      if (left <= 0) this.contentDone(ch);
      return;
    }
    if (type === C.FRAME_HEARTBEAT) return;
    this.fail(new Error(`unexpected frame type ${type}`));
    this.socket.destroy();
  }

  private contentDone(ch: number): void {
    const kind = this.contentKind[ch];
    this.contentKind[ch] = CONTENT_NONE;
    if (kind === CONTENT_DELIVER && this.onMessage) this.onMessage(ch);
  }

  private onControl(ch: number, id: number, payload: Buffer): void {
    if (id === C.M.connectionClose || id === C.M.channelClose) {
      const code = payload.readUInt16BE(4);
      const text = payload.subarray(7, 7 + payload[6]!).toString();
      const err = new Error(`${id === C.M.connectionClose ? "connection" : "channel"}.close ${code} ${text}`);
      if (id === C.M.connectionClose) {
        this.socket.write(C.connectionCloseOk());
        this.fail(err);
        this.socket.end();
        return;
      }
      this.socket.write(C.channelCloseOk(ch));
      const q = this.waiters.get(ch);
      if (q) for (const w of q.splice(0)) w.reject(err);
      if (!this.error) this.error = err;
      return;
    }
    const q = this.waiters.get(ch);
    const w = q?.[0];
    if (!w || w.id !== id) {
      if (id === C.M.basicConsumeOk || id === C.M.basicCancelOk) return;
      this.fail(new Error(`unexpected method ${id >>> 16}.${id & 0xffff} on channel ${ch}`));
      return;
    }
    q!.shift();
    w.resolve(payload);
  }
}
