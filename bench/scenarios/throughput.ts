/**
 * Throughput scenarios s1–s5: one publisher worker and one consumer worker
 * pushing as hard as the broker lets them, backlog bounded (see common.ts).
 *
 * s1 16-byte no-ack; s2 16-byte manual acks (prefetch 100, multiple every
 * 50); s3 1 KiB and 64 KiB no-ack (msgs/s and MB/s); s4 durable queue,
 * persistent 1 KiB, confirms with 1,000 in flight, acking consumer; s5
 * fanout to 10 queues with 10 consumers. Each measures consumed (or
 * confirmed) messages per second over one window after a warmup.
 */
import type { Broker } from "../brokers.js";
import * as C from "../wire/codec.js";
import { measureThroughput, uniqueName, withQueues, withTopology } from "./common.js";
import type { BenchOptions, Scenario } from "./types.js";

async function oneQueue(b: Broker, o: BenchOptions, id: string, bodySize: number, noAck: boolean) {
  const q = uniqueName(`bench-${id}`);
  const brokerPid = await b.pid();
  return withQueues(b.url, [q], false, () => measureThroughput({ url: b.url, brokerPid, queues: [q], exchange: "", routingKeys: [q], bodySize, noAck, prefetch: 100, ackEvery: 50 }, o));
}

export const s1: Scenario = {
  id: "s1",
  title: "1→1 transient, 16 B, no-ack",
  metrics: () => [{ key: "rate", label: "consumed msgs/s", unit: "msg/s", better: "higher", targetRatio: 2 }],
  run: async (b, o) => ({ rate: (await oneQueue(b, o, "s1", 16, true)).consumedPerSec }),
};

export const s2: Scenario = {
  id: "s2",
  title: "1→1 transient, 16 B, acks (prefetch 100, multiple/50)",
  metrics: () => [{ key: "rate", label: "consumed msgs/s", unit: "msg/s", better: "higher", targetRatio: 2 }],
  run: async (b, o) => ({ rate: (await oneQueue(b, o, "s2", 16, false)).consumedPerSec }),
};

export const s3: Scenario = {
  id: "s3",
  title: "1→1 transient, no-ack, large bodies",
  metrics: () => [
    { key: "rate1k", label: "1 KiB msgs/s", unit: "msg/s", better: "higher", targetRatio: 1.5 },
    { key: "mb1k", label: "1 KiB MB/s", unit: "MB/s", better: "higher", targetRatio: 1.5 },
    { key: "rate64k", label: "64 KiB msgs/s", unit: "msg/s", better: "higher", targetRatio: 1.5 },
    { key: "mb64k", label: "64 KiB MB/s", unit: "MB/s", better: "higher", targetRatio: 1.5 },
  ],
  run: async (b, o) => {
    const k1 = (await oneQueue(b, o, "s3", 1024, true)).consumedPerSec;
    const k64 = (await oneQueue(b, o, "s3", 65536, true)).consumedPerSec;
    return { rate1k: k1, mb1k: (k1 * 1024) / 1e6, rate64k: k64, mb64k: (k64 * 65536) / 1e6 };
  },
};

export const s4: Scenario = {
  id: "s4",
  title: "durable queue, persistent 1 KiB, confirms (1,000 in flight), acking consumer",
  metrics: () => [{ key: "rate", label: "confirmed msgs/s", unit: "msg/s", better: "higher", targetRatio: 1.5 }],
  run: async (b, o) => {
    const q = uniqueName("bench-s4");
    const brokerPid = await b.pid();
    const r = await withQueues(b.url, [q], true, () =>
      measureThroughput({ url: b.url, brokerPid, queues: [q], exchange: "", routingKeys: [q], bodySize: 1024, persistent: true, confirmWindow: 1000, noAck: false, prefetch: 100, ackEvery: 50 }, o),
    );
    return { rate: r.confirmedPerSec };
  },
};

export const s5: Scenario = {
  id: "s5",
  title: "fanout to 10 queues, 10 consumers, 16 B, no-ack",
  metrics: () => [{ key: "rate", label: "deliveries/s", unit: "msg/s", better: "higher", targetRatio: 2 }],
  run: async (b, o) => {
    const x = uniqueName("bench-s5-x");
    const queues = Array.from({ length: 10 }, (_, i) => `${x}-q${i}`);
    return withTopology(b.url, { queues, exchanges: [{ name: x, type: "fanout" }] }, async (c) => {
      for (const q of queues) await c.call(C.queueBind(1, q, x, ""), 1, C.M.queueBindOk);
      const r = await measureThroughput({ url: b.url, brokerPid: await b.pid(), queues, exchange: x, routingKeys: [""], bodySize: 16, noAck: true, consumerConnections: 10, fanout: 10 }, o);
      return { rate: r.consumedPerSec };
    });
  },
};
