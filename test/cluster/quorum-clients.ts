/**
 * Clients for the quorum-queue tests: a publisher with confirms that republishes what was
 * nacked or lost with its connection (reconnecting to the next node), and workers that ack
 * and reconnect likewise — what an application that wants every message does. They record
 * what was confirmed and what was delivered, for a set compare.
 */
import amqp from "amqplib";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface PublishRun {
  confirmed: Set<number>;
  nacked: number;
  reconnects: number;
  /** resolves when every id is confirmed */
  done: Promise<void>;
  stop(): void;
}

/** Publish ids 0..n-1 (body = id) to `queue` with confirms, at most `window` unconfirmed. */
export function publishConfirmed(urls: string[], queue: string, n: number, opts: { window?: number; start?: number; onConfirm?: (count: number) => void } = {}): PublishRun {
  const window = opts.window ?? 50;
  const todo: number[] = Array.from({ length: n }, (_, i) => i);
  const run: PublishRun = { confirmed: new Set(), nacked: 0, reconnects: 0, done: Promise.resolve(), stop: () => {} };
  let stopped = false;
  run.stop = () => {
    stopped = true;
  };
  let at = opts.start ?? 0;
  run.done = (async () => {
    while (!stopped && run.confirmed.size < n) {
      let conn: amqp.ChannelModel | null = null;
      try {
        conn = await amqp.connect(urls[at % urls.length]!);
        conn.on("error", () => {});
        const ch = await conn.createConfirmChannel();
        ch.on("error", () => {});
        let broken = false;
        const outstanding = new Set<number>();
        conn.on("close", () => (broken = true));
        let nacks = run.nacked;
        while (!stopped && !broken && run.confirmed.size < n) {
          if (run.nacked !== nacks) {
            // nacked (no leader, or too few replicas in sync): back off a little before republishing
            nacks = run.nacked;
            await sleep(50);
          }
          if (todo.length === 0 || outstanding.size >= window) {
            await sleep(2);
            if (todo.length === 0 && outstanding.size === 0 && run.confirmed.size < n) break;
            continue;
          }
          const id = todo.shift()!;
          outstanding.add(id);
          ch.sendToQueue(queue, Buffer.from(String(id)), { persistent: true }, (err) => {
            if (!outstanding.delete(id)) return;
            if (err) {
              run.nacked++;
              todo.push(id);
            } else {
              run.confirmed.add(id);
              opts.onConfirm?.(run.confirmed.size);
            }
          });
        }
        // the connection went away: what it had not confirmed is published again
        for (const id of outstanding) todo.push(id);
        outstanding.clear();
      } catch {
        /* node down: try the next one */
      }
      await conn?.close().catch(() => {});
      if (run.confirmed.size < n && !stopped) {
        run.reconnects++;
        at++;
        await sleep(100);
      }
    }
  })();
  return run;
}

export interface Worker {
  got: Set<number>;
  redelivered: number;
  deliveries: number;
  stop(): Promise<void>;
}

/** Consume `queue` with manual acks, reconnecting (to the next node) when the connection is lost. */
export function startWorker(urls: string[], queue: string, start = 0): Worker {
  const w: Worker = { got: new Set(), redelivered: 0, deliveries: 0, stop: async () => {} };
  let stopped = false;
  let conn: amqp.ChannelModel | null = null;
  let at = start;
  const loop = (async () => {
    while (!stopped) {
      try {
        conn = await amqp.connect(urls[at % urls.length]!);
        conn.on("error", () => {});
        const ch = await conn.createChannel();
        ch.on("error", () => {});
        await ch.prefetch(20);
        await ch.consume(queue, (m) => {
          if (!m) return;
          w.deliveries++;
          if (m.fields.redelivered) w.redelivered++;
          w.got.add(Number(m.content.toString()));
          ch.ack(m);
        });
        await new Promise<void>((r) => conn!.once("close", () => r()));
      } catch {
        /* try the next node */
      }
      conn = null;
      at++;
      if (!stopped) await sleep(100);
    }
  })();
  w.stop = async () => {
    stopped = true;
    await (conn as amqp.ChannelModel | null)?.close().catch(() => {});
    await loop;
  };
  return w;
}
