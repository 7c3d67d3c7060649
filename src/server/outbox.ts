/**
 * Per-connection output buffer: frames are written into a contiguous block
 * (small frames are copied; large bodies are queued as their own chunks, not
 * copied) and the whole lot leaves in one corked write per event-loop turn.
 *
 * Backpressure: `writable()` turns false once queued-but-unsent bytes pass the
 * high-water mark; queues stop delivering to the connection's consumers until
 * the socket drains (the connection then kicks them). A client that stops
 * reading therefore costs at most ~HWM bytes of broker memory.
 */
import type { Socket } from "node:net";

const BLOCK_SIZE = 64 * 1024;
/** bodies at least this big are written as their own chunk instead of copied */
export const COPY_LIMIT = 4096;
export const HIGH_WATER_MARK = 1024 * 1024;

const dirty: Outbox[] = [];
let flushScheduled = false;

function flushAll(): void {
  flushScheduled = false;
  // flushing can make connections writable again and trigger more deliveries,
  // which re-dirty outboxes; those go out in the next turn
  const batch = dirty.splice(0, dirty.length);
  for (const o of batch) o.flush();
}

export class Outbox {
  buf: Buffer = Buffer.allocUnsafe(BLOCK_SIZE);
  pos = 0;
  private blockStart = 0;
  private chunks: Buffer[] = [];
  private chunkBytes = 0;
  private queued = false;
  closed = false;
  /** socket writes made (one per flush): RabbitMQ's send_cnt */
  sends = 0;
  /** called after a flush when the socket can take more (kick consumers) */
  onWritable: (() => void) | null = null;
  /** a delivery was refused for lack of room: kick consumers once room returns */
  wantKick = false;
  /**
   * Output kept back (in order) until released: a clustered node answers a topology change
   * only once the cluster has it (Connection.awaitCluster). Never set on a single node.
   */
  held = false;

  constructor(private readonly socket: Socket) {
    socket.on("drain", () => {
      if (this.wantKick && this.writable()) this.kick();
    });
  }

  /** bytes waiting in this outbox plus those buffered in the socket */
  get pendingBytes(): number {
    return this.pos - this.blockStart + this.chunkBytes + this.socket.writableLength;
  }

  writable(): boolean {
    return this.pendingBytes < HIGH_WATER_MARK;
  }

  /** Make room for n more bytes at `this.pos` in `this.buf`. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.cut();
    if (n > BLOCK_SIZE) {
      this.buf = Buffer.allocUnsafe(n);
    } else {
      this.buf = Buffer.allocUnsafe(BLOCK_SIZE);
    }
    this.pos = 0;
    this.blockStart = 0;
  }

  /** Move the filled part of the current block into the chunk list. */
  private cut(): void {
    if (this.pos > this.blockStart) {
      const c = this.buf.subarray(this.blockStart, this.pos);
      this.chunks.push(c);
      this.chunkBytes += c.length;
      this.blockStart = this.pos;
    }
  }

  /** Append bytes: copied when small, queued by reference when large. */
  write(b: Buffer): void {
    if (b.length < COPY_LIMIT) {
      this.ensure(b.length);
      b.copy(this.buf, this.pos);
      this.pos += b.length;
    } else {
      this.cut();
      this.chunks.push(b);
      this.chunkBytes += b.length;
    }
    this.schedule();
  }

  schedule(): void {
    if (this.queued || this.closed) return;
    this.queued = true;
    dirty.push(this);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flushAll);
    }
  }

  flush(): void {
    this.queued = false;
    if (this.closed || this.held) return;
    this.cut();
    const chunks = this.chunks;
    if (chunks.length === 0) return;
    this.chunks = [];
    this.chunkBytes = 0;
    const s = this.socket;
    if (s.destroyed) return;
    this.sends++;
    if (chunks.length === 1) {
      s.write(chunks[0]!);
    } else {
      s.cork();
      for (let i = 0; i < chunks.length; i++) s.write(chunks[i]!);
      s.uncork();
    }
    // bytes handed to the socket are never overwritten: later frames go after `pos`,
    // and a full block is replaced, not rewound
    if (this.wantKick && this.writable()) this.kick();
  }

  private kick(): void {
    this.wantKick = false;
    this.onWritable?.();
  }

  release(): void {
    this.held = false;
    this.schedule();
  }

  /** Write everything now (before closing the socket). */
  flushNow(): void {
    this.held = false;
    this.flush();
  }
}
