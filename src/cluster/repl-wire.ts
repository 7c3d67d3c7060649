/**
 * The replication transport of quorum queues (replication.ts): a dedicated TCP listener on
 * every cluster member, binary frames, no JSON on the message path.
 *
 *   frame   = u32 length (of what follows) | u8 type | body
 *   limits  = MAX_FRAME bytes per frame (a bigger length closes the connection)
 *
 * Handshake (authenticated with the cluster secret kept in etcd, as the warren-cluster
 * password): the server sends CHALLENGE(nonce 16 B); the client answers HELLO(node name,
 * HMAC-SHA256(secret, nonce | node name)); the server answers WELCOME or closes.
 *
 * Leader → follower (the leader is the client): SNAP_BEGIN starts (or restarts) a queue's
 * stream with the full current content (ENQ frames), SNAP_END closes the snapshot; after it
 * ENQ/DEL frames follow in the leader's order. Every data frame carries the queue's epoch
 * (the etcd revision of the leader's election key) and an operation sequence number.
 * PING (empty) every quarter second on each connection, so a follower of an idle queue can tell
 * a live leader from one that died or was cut off (replication.ts, "leader suspicion").
 * Follower → leader: ACK(qid, epoch, seq) = every operation up to seq is on the follower's
 * disk (fsynced); STALE(qid, epoch) = the follower knows a newer epoch and refused the frame.
 * An unknown frame type is ignored (a newer leader's PING reaches an older follower harmlessly).
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, connect, type Server, type Socket } from "node:net";

export const T = {
  CHALLENGE: 1,
  HELLO: 2,
  WELCOME: 3,
  SNAP_BEGIN: 10,
  ENQ: 11,
  DEL: 12,
  SNAP_END: 13,
  PING: 14,
  ACK: 20,
  STALE: 21,
} as const;

/** a frame larger than this is a protocol error (messages are capped well below it) */
export const MAX_FRAME = 160 * 1024 * 1024;

export interface EnqFrame {
  qid: number;
  epoch: number;
  seq: number;
  exchange: string;
  routingKey: string;
  propertiesRaw: Buffer;
  body: Buffer;
}

function mac(secret: string, nonce: Buffer, node: string): Buffer {
  return createHmac("sha256", secret).update(nonce).update(node, "utf8").digest();
}

/**
 * Splits a byte stream into frames; calls onFrame(type, body) for each (body is a view: copy to
 * keep). A frame split across reads is assembled in its own buffer; the rest of a read is parsed
 * in place (no copy of the whole read, as a concatenation of leftover and read would be).
 */
export class FrameReader {
  /** the start of a frame split across reads (its length prefix possibly incomplete) */
  private part: Buffer | null = null;
  /** a frame being assembled: its whole length (4 + len) and the bytes so far */
  private asm: Buffer | null = null;
  private asmAt = 0;
  constructor(private readonly onFrame: (type: number, body: Buffer) => void) {}

  private static check(len: number): void {
    if (len < 1 || len > MAX_FRAME) throw new Error(`replication frame of ${len} bytes refused (limit ${MAX_FRAME})`);
  }

  push(chunk: Buffer): void {
    let at = 0;
    if (this.part !== null) {
      // fewer than 5 bytes of a frame so far: only its prefix is joined
      const joined = Buffer.concat([this.part, chunk.subarray(0, 5 - this.part.length)]);
      at = joined.length - this.part.length;
      this.part = null;
      if (joined.length < 5) {
        this.part = joined;
        return;
      }
      const len = joined.readUInt32BE(0);
      FrameReader.check(len);
      this.asm = Buffer.allocUnsafe(4 + len);
      joined.copy(this.asm, 0);
      this.asmAt = 5;
    }
    if (this.asm !== null) {
      const want = this.asm.length - this.asmAt;
      const n = Math.min(want, chunk.length - at);
      chunk.copy(this.asm, this.asmAt, at, at + n);
      this.asmAt += n;
      at += n;
      if (this.asmAt < this.asm.length) return;
      const f = this.asm;
      this.asm = null;
      this.onFrame(f[4]!, f.subarray(5));
    }
    while (chunk.length - at >= 5) {
      const len = chunk.readUInt32BE(at);
      FrameReader.check(len);
      if (chunk.length - at < 4 + len) {
        this.asm = Buffer.allocUnsafe(4 + len);
        chunk.copy(this.asm, 0, at);
        this.asmAt = chunk.length - at;
        return;
      }
      this.onFrame(chunk[at + 4]!, chunk.subarray(at + 5, at + 4 + len));
      at += 4 + len;
    }
    if (at < chunk.length) this.part = Buffer.from(chunk.subarray(at));
  }
}

/** Writes frames onto a socket; everything written in one event-loop turn goes out as one writev. */
export class FrameWriter {
  private corked = false;
  constructor(readonly socket: Socket) {}

  private cork(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    setImmediate(() => {
      this.corked = false;
      this.socket.uncork();
    });
  }

  /** a small frame whose whole body is `body` */
  frame(type: number, body: Buffer): void {
    const h = Buffer.allocUnsafe(5);
    h.writeUInt32BE(body.length + 1, 0);
    h[4] = type;
    this.cork();
    this.socket.write(h);
    this.socket.write(body);
  }

  /** SNAP_BEGIN: qid, epoch, vhost, name */
  snapBegin(qid: number, epoch: number, vhost: string, name: string): void {
    const v = Buffer.from(vhost, "utf8");
    const n = Buffer.from(name, "utf8");
    const b = Buffer.allocUnsafe(4 + 8 + 2 + v.length + 2 + n.length);
    b.writeUInt32BE(qid, 0);
    b.writeDoubleBE(epoch, 4);
    b.writeUInt16BE(v.length, 12);
    v.copy(b, 14);
    b.writeUInt16BE(n.length, 14 + v.length);
    n.copy(b, 16 + v.length);
    this.frame(T.SNAP_BEGIN, b);
  }

  /** the exchange / routing-key part of the last ENQ header ([el, exchange, rl, routing key]): a queue's messages mostly share it */
  private names: { exchange: string; routingKey: string; bytes: Buffer } | null = null;

  private namesOf(exchange: string, routingKey: string): Buffer {
    const n = this.names;
    if (n !== null && n.exchange === exchange && n.routingKey === routingKey) return n.bytes;
    const el = Buffer.byteLength(exchange, "utf8");
    const rl = Buffer.byteLength(routingKey, "utf8");
    const bytes = Buffer.allocUnsafe(2 + el + rl);
    bytes[0] = el;
    bytes.write(exchange, 1, "utf8");
    bytes[1 + el] = rl;
    bytes.write(routingKey, 2 + el, "utf8");
    this.names = { exchange, routingKey, bytes };
    return bytes;
  }

  /** ENQ: header (qid, epoch, seq, exchange, routing key, properties length) with the properties, then the body (not copied) */
  enq(qid: number, epoch: number, seq: number, exchange: string, routingKey: string, propertiesRaw: Buffer, body: Buffer): void {
    const names = this.namesOf(exchange, routingKey);
    const hl = 5 + 4 + 8 + 8 + names.length + 4;
    // the properties (tens of bytes) share the header's buffer: one write less per message
    const h = Buffer.allocUnsafe(hl + propertiesRaw.length);
    h.writeUInt32BE(hl - 4 + propertiesRaw.length + body.length, 0);
    h[4] = T.ENQ;
    h.writeUInt32BE(qid, 5);
    h.writeDoubleBE(epoch, 9);
    h.writeDoubleBE(seq, 17);
    h.set(names, 25);
    h.writeUInt32BE(propertiesRaw.length, 25 + names.length);
    h.set(propertiesRaw, hl);
    this.cork();
    this.socket.write(h);
    if (body.length > 0) this.socket.write(body);
  }

  /** DEL / SNAP_END / ACK / STALE: qid, epoch, seq (for DEL also the removed message's seq) */
  small(type: number, qid: number, epoch: number, seq: number, target = 0): void {
    const b = Buffer.allocUnsafe(5 + 28);
    b.writeUInt32BE(29, 0);
    b[4] = type;
    b.writeUInt32BE(qid, 5);
    b.writeDoubleBE(epoch, 9);
    b.writeDoubleBE(seq, 17);
    b.writeDoubleBE(target, 25);
    this.cork();
    this.socket.write(b);
  }
}

export function readSmall(b: Buffer): { qid: number; epoch: number; seq: number; target: number } {
  if (b.length < 28) throw new Error("short replication frame");
  return { qid: b.readUInt32BE(0), epoch: b.readDoubleBE(4), seq: b.readDoubleBE(12), target: b.readDoubleBE(20) };
}

export function readSnapBegin(b: Buffer): { qid: number; epoch: number; vhost: string; name: string } {
  const vl = b.readUInt16BE(12);
  const nl = b.readUInt16BE(14 + vl);
  if (16 + vl + nl > b.length) throw new Error("short replication frame");
  return { qid: b.readUInt32BE(0), epoch: b.readDoubleBE(4), vhost: b.toString("utf8", 14, 14 + vl), name: b.toString("utf8", 16 + vl, 16 + vl + nl) };
}

/** ENQ body (after the type byte); properties and body are views of the read buffer: copy what is kept */
export function readEnq(b: Buffer): EnqFrame {
  const el = b[20]!;
  const rl = b[21 + el]!;
  const pl = b.readUInt32BE(22 + el + rl);
  const ps = 26 + el + rl;
  if (ps + pl > b.length) throw new Error("short replication frame");
  return {
    qid: b.readUInt32BE(0),
    epoch: b.readDoubleBE(4),
    seq: b.readDoubleBE(12),
    exchange: b.toString("utf8", 21, 21 + el),
    routingKey: b.toString("utf8", 22 + el, 22 + el + rl),
    propertiesRaw: b.subarray(ps, ps + pl),
    body: b.subarray(ps + pl),
  };
}

export interface ReplServerHandlers {
  /** an authenticated leader connected: frames from it go to the returned handler */
  connection(peer: string, w: FrameWriter): { frame(type: number, body: Buffer): void; close(): void };
}

/** The listener: authenticates each connection, then hands its frames on. */
export function listenRepl(host: string, secret: () => string, h: ReplServerHandlers, log: (line: string) => void): Promise<{ server: Server; port: number; close(): void }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.setNoDelay(true);
    const nonce = randomBytes(16);
    const w = new FrameWriter(s);
    let session: ReturnType<ReplServerHandlers["connection"]> | null = null;
    const authTimer = setTimeout(() => s.destroy(), 5000);
    const reader = new FrameReader((type, body) => {
      if (session !== null) return session.frame(type, body);
      if (type !== T.HELLO || body.length < 34) throw new Error("expected HELLO");
      const nl = body.readUInt16BE(0);
      const peer = body.toString("utf8", 2, 2 + nl);
      const got = body.subarray(2 + nl, 2 + nl + 32);
      const want = mac(secret(), nonce, peer);
      if (got.length !== 32 || !timingSafeEqual(got, want)) throw new Error(`replication connection from ${s.remoteAddress}: bad credentials`);
      clearTimeout(authTimer);
      w.frame(T.WELCOME, Buffer.alloc(0));
      session = h.connection(peer, w);
    });
    s.on("data", (d) => {
      try {
        reader.push(d);
      } catch (e) {
        log(`replication: ${(e as Error).message}; closing the connection`);
        s.destroy();
      }
    });
    s.on("error", () => {});
    s.on("close", () => {
      sockets.delete(s);
      clearTimeout(authTimer);
      session?.close();
    });
    w.frame(T.CHALLENGE, nonce);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () =>
      resolve({
        server,
        port: (server.address() as { port: number }).port,
        close: () => {
          server.close();
          for (const s of sockets) s.destroy();
        },
      }),
    );
  });
}

/** Connect to a follower's listener and authenticate; resolves with the writer once welcomed. */
export function connectRepl(host: string, port: number, self: string, secret: string, onFrame: (type: number, body: Buffer) => void, onClose: () => void): Promise<FrameWriter> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    s.setNoDelay(true);
    const w = new FrameWriter(s);
    let state: "challenge" | "hello" | "open" = "challenge";
    const t = setTimeout(() => s.destroy(new Error("replication handshake timed out")), 5000);
    const reader = new FrameReader((type, body) => {
      if (state === "open") return onFrame(type, body);
      if (state === "challenge" && type === T.CHALLENGE) {
        const n = Buffer.from(self, "utf8");
        const hb = Buffer.allocUnsafe(2 + n.length);
        hb.writeUInt16BE(n.length, 0);
        n.copy(hb, 2);
        w.frame(T.HELLO, Buffer.concat([hb, mac(secret, body, self)]));
        state = "hello";
        return;
      }
      if (state === "hello" && type === T.WELCOME) {
        state = "open";
        clearTimeout(t);
        resolve(w);
        return;
      }
      throw new Error(`unexpected replication frame ${type} during the handshake`);
    });
    s.on("data", (d) => {
      try {
        reader.push(d);
      } catch {
        s.destroy();
      }
    });
    s.on("error", (e) => {
      if (state !== "open") reject(e);
    });
    s.on("close", () => {
      clearTimeout(t);
      if (state !== "open") reject(new Error("replication connection closed during the handshake"));
      else onClose();
    });
  });
}
