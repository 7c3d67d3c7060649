/**
 * s6: end-to-end latency at a fixed 5,000 msgs/s (1→1 transient queue,
 * 16-byte bodies carrying their send time, no-ack consumer). The publisher
 * sends what is due every millisecond; the consumer subtracts the stamp from
 * the process-wide monotonic clock on arrival. Samples are recorded only
 * during the measurement window, not during warmup.
 */
import { LoadPool, sleep } from "../load/pool.js";
import { W_CONSUMED, W_PUBLISHED } from "../load/shared.js";
import { uniqueName, withQueues } from "./common.js";
import type { Scenario } from "./types.js";

const RATE = 5000;

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export const s6: Scenario = {
  id: "s6",
  title: `latency at a fixed ${RATE.toLocaleString("en")} msgs/s, 16 B`,
  metrics: () => [
    { key: "p50", label: "p50 ms", unit: "ms", better: "lower" },
    { key: "p99", label: "p99 ms", unit: "ms", better: "lower", targetRatio: 0.5 },
    { key: "p999", label: "p99.9 ms", unit: "ms", better: "lower" },
    { key: "max", label: "max ms", unit: "ms", better: "lower" },
  ],
  run: async (b, o) => {
    const q = uniqueName("bench-s6");
    return withQueues(b.url, [q], false, async () => {
      const total = Math.ceil(RATE * (o.warmup + o.duration + 5));
      const pool = new LoadPool([
        { kind: "consume", url: b.url, queues: [q], connections: 1, noAck: true, prefetch: 0, ackEvery: 1, stamp: true, latencyCapacity: total },
        { kind: "publish", url: b.url, exchange: "", routingKeys: [q], bodySize: 16, persistent: false, confirmWindow: 0, rate: RATE, maxCount: total, stamp: true, backlog: null },
      ]);
      let samples: Float64Array[];
      try {
        await pool.start([0]);
        await pool.start([1]);
        await sleep(o.warmup * 1000);
        pool.setRecording(true);
        await sleep(o.duration * 1000);
        pool.setRecording(false);
        const sent = pool.sum(W_PUBLISHED, [1]);
        // the last messages in flight: give them a moment so they are not lost from the count
        await pool.waitFor(() => pool.sum(W_CONSUMED, [0]) >= sent, 5000, "in-flight messages").catch(() => {});
      } finally {
        samples = await pool.stop();
      }
      const all = Float64Array.from(samples.flatMap((s) => Array.from(s))).sort();
      if (all.length === 0) throw new Error("no latency samples");
      return {
        p50: percentile(all, 50) / 1000,
        p99: percentile(all, 99) / 1000,
        p999: percentile(all, 99.9) / 1000,
        max: all[all.length - 1]! / 1000,
      };
    });
  },
};
