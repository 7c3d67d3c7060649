/**
 * The chaos workload: confirmed persistent publishes and acking consumers, recording a History
 * (test/chaos/checker.ts).
 *
 * - each queue has `publishers` publishers, each with its own id, on nodes other than the one
 *   the queue was declared on (so the queue's home or leader failing is seen from a surviving
 *   node); a publisher publishes `pub:seq` (the message id and the body) to its queue through
 *   the default exchange, `mandatory` (so an
 *   unroutable message is a return, not a confirm), with at most `window` unconfirmed; on a
 *   lost connection every unconfirmed publish becomes `info` and the publisher reconnects to
 *   the next node;
 * - each queue has one consumer at a time (so per-publisher order is checkable), manual ack,
 *   prefetch 50; it records the delivery, then acks; on a cancel or a lost connection it
 *   consumes again, from the next node.
 */
import amqp from "amqplib";
import type { Delivery, History, PublishOp } from "./checker.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface WorkloadOptions {
  urls: string[];
  queues: string[];
  /** publishers per queue */
  publishers: number;
  /** unconfirmed publishes per publisher */
  window: number;
  /** per publisher, msgs/s (0 = as fast as the window allows) */
  rate: number;
  bodyBytes?: number;
  /** node index each queue's consumer starts on */
  consumerNode: (queueIndex: number) => number;
  log?: (s: string) => void;
}

type Conn = Awaited<ReturnType<typeof amqp.connect>>;

/** p, or a rejection after ms (a paused node accepts TCP connections and never answers) */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (t = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms)))]).finally(() => clearTimeout(t));
}

async function connect(url: string): Promise<Conn> {
  const pending = amqp.connect(url, { timeout: 3000, heartbeat: 5 });
  const c = await within(pending, 5000, "connect").catch((e) => {
    // a handshake that completes after the timeout: close that connection
    pending.then((late) => late.close().catch(() => {})).catch(() => {});
    throw e;
  });
  c.on("error", () => {});
  return c;
}

/** close, or drop the socket when the broker does not answer */
async function closeConn(c: Conn | null): Promise<void> {
  if (!c) return;
  await within(c.close(), 2000, "close").catch(() => {
    (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  });
}

class Publisher {
  seq = 0;
  private conn: Conn | null = null;
  stopped = false;
  private unconfirmed = new Map<number, PublishOp>();
  /** the node index this publisher is connected (or connecting) to */
  at = -1;
  /** the other publishers of the same queue */
  siblings: Publisher[] = [];
  constructor(
    readonly id: string,
    readonly queue: string,
    private node: number,
    readonly o: WorkloadOptions,
    readonly h: History,
  ) {}

  /**
   * The next node to try: from `node` on, the first that no other publisher of this queue is on.
   * Left to drift, every publisher ended up on one node after a few faults (each reconnects to the
   * next node), and a fault to that node stopped all of a queue's publishing at once: the harness
   * then measured the clients' reconnect instead of the failover (docs/chaos.md).
   */
  private pick(): number {
    const n = this.o.urls.length;
    for (let k = 0; k < n; k++) {
      const i = (this.node + k) % n;
      if (!this.siblings.some((p) => p.at === i)) {
        this.node += k;
        return i;
      }
    }
    return this.node % n;
  }

  async run(): Promise<void> {
    const body = Buffer.alloc(this.o.bodyBytes ?? 1024, 0x20);
    while (!this.stopped) {
      this.at = this.pick();
      const url = this.o.urls[this.at]!;
      let conn: Conn;
      try {
        conn = await connect(url);
      } catch {
        this.node++;
        await sleep(300);
        continue;
      }
      this.conn = conn;
      let ch: Awaited<ReturnType<Conn["createConfirmChannel"]>>;
      try {
        ch = await within(conn.createConfirmChannel(), 5000, "channel.open");
      } catch {
        await closeConn(conn);
        this.node++;
        await sleep(300);
        continue;
      }
      ch.on("error", () => {});
      let alive = true;
      let wake: (() => void) | null = null;
      const kick = (): void => {
        const w = wake;
        wake = null;
        w?.();
      };
      this.kick = kick;
      const lost = (why: string): void => {
        if (!alive) return;
        alive = false;
        const now = Date.now();
        for (const op of this.unconfirmed.values()) {
          if (op.outcome === "pending") {
            op.outcome = "info";
            op.doneAt = now;
            op.why = why;
          }
        }
        this.unconfirmed.clear();
        kick();
      };
      conn.on("close", () => lost("connection closed"));
      ch.on("close", () => lost("channel closed"));
      const returned = new Set<string>();
      ch.on("return", (m: { properties: { messageId?: string } }) => {
        if (m.properties.messageId) returned.add(m.properties.messageId);
      });
      const t0 = Date.now();
      let sent = 0;
      while (alive && !this.stopped) {
        if (this.unconfirmed.size >= this.o.window) {
          await new Promise<void>((r) => {
            wake = r;
          });
          continue;
        }
        if (this.o.rate > 0) {
          const due = t0 + (sent * 1000) / this.o.rate;
          if (due > Date.now()) {
            await sleep(due - Date.now());
            continue;
          }
        }
        const seq = this.seq++;
        const queue = this.queue;
        const id = `${this.id}:${seq}`;
        const op: PublishOp = { id, pub: this.id, seq, queue, invokeAt: Date.now(), outcome: "pending", doneAt: 0 };
        this.h.publishes.set(id, op);
        this.unconfirmed.set(seq, op);
        sent++;
        try {
          const b = Buffer.from(body);
          b.write(id, 0, "latin1");
          ch.publish("", queue, b, { persistent: true, mandatory: true, messageId: id }, (err: unknown) => {
            if (!this.unconfirmed.delete(seq) || op.outcome !== "pending") return;
            op.doneAt = Date.now();
            if (err) {
              op.outcome = "fail";
              op.why = "nack";
            } else if (returned.delete(id)) {
              op.outcome = "fail";
              op.why = "returned";
            } else op.outcome = "ok";
            kick();
          });
        } catch {
          lost("publish threw");
        }
        // let the socket drain and confirms arrive every few messages
        if ((seq & 15) === 15) await new Promise((r) => setImmediate(r));
      }
      if (!this.stopped) {
        await closeConn(conn);
        this.node++;
        await sleep(200);
      }
    }
  }

  private kick: () => void = () => {};

  /** wait (bounded) for the outstanding confirms, then close */
  async stop(waitMs: number): Promise<void> {
    this.stopped = true;
    const until = Date.now() + waitMs;
    while (this.unconfirmed.size > 0 && Date.now() < until) await sleep(50);
    const now = Date.now();
    for (const op of this.unconfirmed.values()) {
      if (op.outcome === "pending") {
        op.outcome = "info";
        op.doneAt = now;
        op.why = "unconfirmed at the end";
      }
    }
    this.unconfirmed.clear();
    this.kick();
    await closeConn(this.conn);
  }
}

class Consumer {
  stopped = false;
  private conn: Conn | null = null;
  lastDeliveryAt = 0;
  constructor(
    readonly queue: string,
    private node: number,
    readonly o: WorkloadOptions,
    readonly h: History,
  ) {}

  async run(): Promise<void> {
    while (!this.stopped) {
      const nodeIndex = this.node % this.o.urls.length;
      let conn: Conn;
      try {
        conn = await connect(this.o.urls[nodeIndex]!);
      } catch {
        this.node++;
        await sleep(300);
        continue;
      }
      this.conn = conn;
      const done = new Promise<void>((resolve) => {
        conn.on("close", () => resolve());
        void (async () => {
          try {
            const ch = await within(conn.createChannel(), 5000, "channel.open");
            ch.on("error", () => {});
            ch.on("close", () => resolve());
            await within(ch.prefetch(50), 5000, "basic.qos");
            await within(
              ch.consume(
                this.queue,
                (m) => {
                  if (!m) {
                    resolve(); // basic.cancel from the server
                    return;
                  }
                  const d: Delivery = {
                    id: m.properties.messageId ?? m.content.toString("latin1", 0, 24).trim(),
                    queue: this.queue,
                    redelivered: m.fields.redelivered,
                    at: Date.now(),
                    node: nodeIndex,
                  };
                  this.h.deliveries.push(d);
                  this.lastDeliveryAt = d.at;
                  try {
                    ch.ack(m);
                    d.acked = true;
                  } catch {}
                },
                { noAck: false },
              ),
              5000,
              "basic.consume",
            );
          } catch {
            resolve();
          }
        })();
      });
      await done;
      await closeConn(conn);
      if (!this.stopped) {
        this.node++;
        await sleep(300);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await closeConn(this.conn);
  }
}

export interface Workload {
  stopPublishing(waitMs?: number): Promise<void>;
  /** time of the last delivery on any queue */
  lastDeliveryAt(): number;
  stopConsuming(): Promise<void>;
}

export function startWorkload(o: WorkloadOptions, h: History): Workload {
  h.window[0] = Date.now();
  const pubs = o.queues.flatMap((q, qi) => Array.from({ length: o.publishers }, (_, j) => new Publisher(`p${qi}${j}`, q, qi + 1 + j, o, h)));
  for (const p of pubs) p.siblings = pubs.filter((x) => x !== p && x.queue === p.queue);
  const subs = o.queues.map((q, i) => new Consumer(q, o.consumerNode(i), o, h));
  const pubRuns = pubs.map((p) => p.run().catch((e) => o.log?.(`publisher ${p.id}: ${(e as Error).message}`)));
  const subRuns = subs.map((s) => s.run().catch((e) => o.log?.(`consumer ${s.queue}: ${(e as Error).message}`)));
  return {
    async stopPublishing(waitMs = 10_000) {
      h.window[1] = Date.now();
      await Promise.all(pubs.map((p) => p.stop(waitMs)));
      await Promise.all(pubRuns);
    },
    lastDeliveryAt: () => Math.max(0, ...subs.map((s) => s.lastDeliveryAt)),
    async stopConsuming() {
      await Promise.all(subs.map((s) => s.stop()));
      await Promise.all(subRuns);
    },
  };
}
