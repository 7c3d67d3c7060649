/**
 * s8: a backlog of N (default 1,000,000) 100-byte transient messages in one
 * queue with no consumer: publish rate (until queue.declare reports all N
 * queued), broker memory per queued message (RSS delta ÷ N), then drain rate
 * with one no-ack consumer. Publishing is unconfirmed, so the publish rate is
 * what the broker accepted, as seen by its own message count.
 *
 * s8f: the same backlog behind a fanout: N (default 200,000) 1 KiB transient messages into a
 * fanout of 10 queues, 9 of them consumed by no-ack consumers, one with no consumer (a
 * subscriber that went away). Memory per message left in that queue (RSS delta ÷ N) once the
 * consumers have everything, then its drain rate.
 */
import type { Broker } from "../brokers.js";
import { LoadPool, sleep } from "../load/pool.js";
import { W_CONSUMED } from "../load/shared.js";
import * as C from "../wire/codec.js";
import { uniqueName, withQueues, withTopology } from "./common.js";
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

const S8F_QUEUES = 10;

export const s8f: Scenario = {
  id: "s8f",
  title: `backlog behind a fanout: 1 KiB messages to ${S8F_QUEUES} queues, ${S8F_QUEUES - 1} consumed, one not, then drain it`,
  metrics: (o) => [
    { key: "pub", label: `publish msgs/s (${o.s8fMessages.toLocaleString("en")})`, unit: "msg/s", better: "higher" },
    { key: "mem", label: "bytes per msg left in the unconsumed queue", unit: "B", better: "lower" },
    { key: "drain", label: "drain msgs/s", unit: "msg/s", better: "higher" },
  ],
  run: async (b, o) => {
    const n = o.s8fMessages;
    const x = uniqueName("bench-s8f-x");
    const queues = Array.from({ length: S8F_QUEUES }, (_, i) => `${x}-q${i}`);
    const [left, ...consumed] = queues as [string, ...string[]];
    return withTopology(b.url, { queues, exchanges: [{ name: x, type: "fanout" }] }, async (c) => {
      for (const q of queues) await c.call(C.queueBind(1, q, x, ""), 1, C.M.queueBindOk);
      const before = await b.memoryBytes();
      const pool = new LoadPool([
        { kind: "consume", url: b.url, queues: consumed, connections: consumed.length, noAck: true, prefetch: 0, ackEvery: 1, stamp: false, latencyCapacity: 0 },
        { kind: "publish", url: b.url, exchange: x, routingKeys: [""], bodySize: 1024, persistent: false, confirmWindow: 0, rate: 0, maxCount: n, stamp: false, backlog: null },
      ]);
      let pubSecs: number;
      try {
        await pool.start([0]);
        await pool.start([1]);
        const t0 = performance.now();
        await waitForCount(b, left, n, 600_000, c);
        pubSecs = (performance.now() - t0) / 1000;
        await pool.waitFor(() => pool.sum(W_CONSUMED, [0]) >= n * consumed.length, 600_000, "the consumed queues");
      } finally {
        await pool.stop();
      }
      await sleep(1000);
      const after = await b.memoryBytes();
      const drain = new LoadPool([{ kind: "consume", url: b.url, queues: [left], connections: 1, noAck: true, prefetch: 0, ackEvery: 1, stamp: false, latencyCapacity: 0 }]);
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
