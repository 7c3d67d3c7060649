/**
 * s8: a backlog of N (default 1,000,000) 100-byte transient messages in one
 * queue with no consumer: publish rate (until queue.declare reports all N
 * queued), broker memory per queued message (RSS delta ÷ N), then drain rate
 * with one no-ack consumer. Publishing is unconfirmed, so the publish rate is
 * what the broker accepted, as seen by its own message count.
 */
import type { Broker } from "../brokers.js";
import { LoadPool, sleep } from "../load/pool.js";
import { W_CONSUMED } from "../load/shared.js";
import { uniqueName, withQueues } from "./common.js";
import type { Scenario } from "./types.js";

async function waitForCount(b: Broker, q: string, n: number, timeoutMs: number, c: import("../wire/conn.js").BenchConn): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const [count] = await c.queueDeclare(1, q, { passive: true });
    if (count >= n) return;
    if (Date.now() > deadline) throw new Error(`${b.name}: only ${count}/${n} messages queued after ${timeoutMs} ms`);
    await sleep(10);
  }
}

export const s8: Scenario = {
  id: "s8",
  title: "backlog of 100-byte messages, no consumer, then drain",
  metrics: (o) => [
    { key: "pub", label: `publish msgs/s (${o.s8Messages.toLocaleString("en")})`, unit: "msg/s", better: "higher" },
    { key: "mem", label: "bytes per queued msg", unit: "B", better: "lower", targetRatio: 0.1 },
    { key: "drain", label: "drain msgs/s", unit: "msg/s", better: "higher" },
  ],
  run: async (b, o) => {
    const n = o.s8Messages;
    const q = uniqueName("bench-s8");
    return withQueues(b.url, [q], false, async (c) => {
      const before = await b.memoryBytes();
      const pub = new LoadPool([
        { kind: "publish", url: b.url, exchange: "", routingKeys: [q], bodySize: 100, persistent: false, confirmWindow: 0, rate: 0, maxCount: n, stamp: false, backlog: null },
      ]);
      let pubSecs: number;
      try {
        await pub.start([0]);
        const t0 = performance.now();
        await waitForCount(b, q, n, 600_000, c);
        pubSecs = (performance.now() - t0) / 1000;
      } finally {
        await pub.stop();
      }
      await sleep(1000);
      const after = await b.memoryBytes();
      const drain = new LoadPool([{ kind: "consume", url: b.url, queues: [q], connections: 1, noAck: true, prefetch: 0, ackEvery: 1, stamp: false, latencyCapacity: 0 }]);
      let drainSecs: number;
      try {
        const t1 = performance.now();
        await drain.start([0]);
        await drain.waitFor(() => drain.sum(W_CONSUMED, [0]) >= n, 600_000, "drain");
        drainSecs = (performance.now() - t1) / 1000;
      } finally {
        await drain.stop();
      }
      return { pub: n / pubSecs, mem: (after - before) / n, drain: n / drainSecs };
    });
  },
};
