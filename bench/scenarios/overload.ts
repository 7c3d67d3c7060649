/**
 * Overload scenarios: publishers that do not pace themselves — no backlog bound, no confirm
 * window unless stated — as real producers do. A broker without flow control looks good on
 * the polite scenarios (s1–s5 bound the backlog) and fails here: consumers starve while the
 * queue and the broker's memory grow.
 *
 *   overload-1-1          one publisher, 16 B, one consumer with manual acks (prefetch 100, multiple every 50)
 *   overload-noack-16     one publisher, 16 B, one no-ack consumer
 *   overload-noack-64k    one publisher, 64 KiB, one no-ack consumer (MB/s)
 *   overload-10-1         ten publishers (one connection each), 16 B, into one queue, one acking consumer
 *   overload-fanout-slow  one publisher, 1 KiB, fanout to 10 queues: 9 no-ack consumers, one
 *                         acking consumer limited to 2,000 msgs/s
 *
 * Each run reports, over the whole window (--overload-duration, default 60 s) from the
 * publishers' start: consumed and published msgs/s, their ratio, the deepest queue seen
 * and the broker's peak RSS (both sampled every 500 ms on a separate connection).
 *
 * Owns the overload topologies and their sampling. Does not own load generation (load/).
 */
import type { Broker } from "../brokers.js";
import { LoadPool, sleep } from "../load/pool.js";
import { W_CONSUMED, W_PUBLISHED, type ConsumerSpec, type PublisherSpec } from "../load/shared.js";
import * as C from "../wire/codec.js";
import { CpuWindow, control, uniqueName, withTopology } from "./common.js";
import type { BenchOptions, MetricDef, Scenario } from "./types.js";

interface Shape {
  publishers: number;
  bodySize: number;
  /** number of queues; more than one means a fanout exchange in front of them */
  queues: number;
  /** consumer workers, each given the queues it consumes */
  consumers: (queues: string[]) => Omit<ConsumerSpec, "url">[];
}

interface Sampled {
  consumed: number[];
  published: number;
  secs: number;
  maxDepth: number;
  maxRss: number;
  endDepth: number;
}

async function runShape(b: Broker, o: BenchOptions, id: string, shape: Shape): Promise<Sampled> {
  const x = shape.queues > 1 ? uniqueName(`bench-${id}-x`) : "";
  const queues = Array.from({ length: shape.queues }, (_, i) => (x ? `${x}-q${i}` : uniqueName(`bench-${id}`)));
  const brokerPid = await b.pid();
  return withTopology(b.url, { queues, exchanges: x ? [{ name: x, type: "fanout" }] : [] }, async (c) => {
    for (const q of x ? queues : []) await c.call(C.queueBind(1, q, x, ""), 1, C.M.queueBindOk);
    const consumers = shape.consumers(queues).map((s): ConsumerSpec => ({ ...s, url: b.url }));
    const publisher: PublisherSpec = {
      kind: "publish",
      url: b.url,
      exchange: x,
      routingKeys: [x ? "" : queues[0]!],
      bodySize: shape.bodySize,
      persistent: false,
      confirmWindow: 0,
      rate: 0,
      maxCount: 2 ** 31 - 1,
      stamp: false,
      backlog: null, // unpaced: the point of these scenarios
    };
    const specs = [...consumers, ...Array.from({ length: shape.publishers }, () => publisher)];
    const cIdx = consumers.map((_, i) => i);
    const pIdx = specs.map((_, i) => i).slice(consumers.length);
    const pool = new LoadPool(specs);
    const probe = await control(b.url);
    let maxDepth = 0;
    let endDepth = 0;
    let maxRss = 0;
    try {
      await pool.start(cIdx);
      await pool.start(pIdx);
      const cpu = new CpuWindow(brokerPid);
      const t0 = performance.now();
      const end = t0 + o.overloadDuration * 1000;
      while (performance.now() < end) {
        const depths = await Promise.all(queues.map((q) => probe.queueDeclare(1, q, { passive: true }).then(([n]) => n)));
        endDepth = Math.max(...depths);
        maxDepth = Math.max(maxDepth, endDepth);
        maxRss = Math.max(maxRss, await b.memoryBytes());
        pool.throwIfFailed();
        await sleep(Math.min(500, Math.max(0, end - performance.now())));
      }
      const secs = (performance.now() - t0) / 1000;
      o.log(`    ${cpu.summary()}`);
      const r = { consumed: cIdx.map((i) => pool.sum(W_CONSUMED, [i])), published: pool.sum(W_PUBLISHED, pIdx), secs, maxDepth, maxRss, endDepth };
      pool.throwIfFailed();
      return r;
    } finally {
      await pool.stop();
      await probe.close();
    }
  });
}

const consume = (queues: string[], noAck: boolean, extra: Partial<ConsumerSpec> = {}): Omit<ConsumerSpec, "url"> => ({
  kind: "consume",
  queues,
  connections: queues.length,
  noAck,
  prefetch: noAck ? 0 : 100,
  ackEvery: noAck ? 1 : 50,
  stamp: false,
  latencyCapacity: 0,
  ...extra,
});

const common = (unit: "msg/s" | "MB/s", consumedTarget: number, label = "consumed"): MetricDef[] => [
  { key: "consumed", label: `${label} ${unit}`, unit, better: "higher", targetRatio: consumedTarget },
  { key: "published", label: `published ${unit}`, unit, better: "higher" },
  { key: "ratio", label: "published ÷ consumed", unit: "×", better: "lower" },
  { key: "maxDepth", label: "max queue depth", unit: "msgs", better: "lower" },
  { key: "maxRss", label: "max broker RSS MB", unit: "MB", better: "lower" },
];

function oneToOne(id: string, title: string, publishers: number, bodySize: number, noAck: boolean): Scenario {
  const mb = bodySize >= 65536;
  return {
    id,
    title,
    metrics: () => common(mb ? "MB/s" : "msg/s", mb ? 1.5 : 2),
    run: async (b, o) => {
      const r = await runShape(b, o, id, { publishers, bodySize, queues: 1, consumers: (qs) => [consume(qs, noAck)] });
      const scale = mb ? bodySize / 1e6 : 1;
      const consumed = r.consumed[0]! / r.secs;
      const published = r.published / r.secs;
      return { consumed: consumed * scale, published: published * scale, ratio: published / consumed, maxDepth: r.maxDepth, maxRss: r.maxRss / 1e6 };
    },
  };
}

export const overload11 = oneToOne("overload-1-1", "unpaced publisher, 16 B, acking consumer (prefetch 100, multiple/50)", 1, 16, false);
export const overloadNoack16 = oneToOne("overload-noack-16", "unpaced publisher, 16 B, no-ack consumer", 1, 16, true);
export const overloadNoack64k = oneToOne("overload-noack-64k", "unpaced publisher, 64 KiB, no-ack consumer", 1, 65536, true);
export const overload101 = oneToOne("overload-10-1", "10 unpaced publishers, 16 B, one queue, acking consumer", 10, 16, false);

/** the slow queue's consumer acks this many messages per second */
const SLOW_RATE = 2000;

export const overloadFanoutSlow: Scenario = {
  id: "overload-fanout-slow",
  title: `unpaced publisher, 1 KiB, fanout to 10 queues, 9 no-ack consumers + 1 acking at ${SLOW_RATE} msgs/s`,
  metrics: () => [...common("msg/s", 2, "per fast queue consumed"), { key: "slow", label: "slow queue consumed msg/s", unit: "msg/s", better: "higher" }],
  run: async (b, o) => {
    const r = await runShape(b, o, "overload-fanout-slow", {
      publishers: 1,
      bodySize: 1024,
      queues: 10,
      consumers: (qs) => [consume(qs.slice(1), true), consume(qs.slice(0, 1), false, { ackRate: SLOW_RATE })],
    });
    const fast = r.consumed[0]! / 9 / r.secs;
    const published = r.published / r.secs;
    return { consumed: fast, published, ratio: published / fast, maxDepth: r.maxDepth, maxRss: r.maxRss / 1e6, slow: r.consumed[1]! / r.secs };
  },
};

export const OVERLOAD = [overload11, overloadNoack16, overloadNoack64k, overload101, overloadFanoutSlow];
