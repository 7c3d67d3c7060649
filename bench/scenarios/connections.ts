/**
 * s7: open N connections with one channel each (for each N in
 * --s7-connections, default 1,000 and 10,000): wall time to open them all
 * (100 handshakes in flight at a time, from the main thread) and broker
 * memory per connection (broker RSS after − before, ÷ N, sampled after a
 * short settle). All connections are closed before the next N.
 */
import type { Broker } from "../brokers.js";
import { BenchConn } from "../wire/conn.js";
import { sleep } from "../load/pool.js";
import type { BenchOptions, MetricDef, Scenario } from "./types.js";

const IN_FLIGHT = 100;

async function openMany(url: string, n: number): Promise<BenchConn[]> {
  const conns: BenchConn[] = [];
  let next = 0;
  let failed: unknown = null;
  await Promise.all(
    Array.from({ length: Math.min(IN_FLIGHT, n) }, async () => {
      while (next < n && !failed) {
        next++;
        try {
          const c = await BenchConn.open({ url, timeoutMs: 60_000 });
          conns.push(c);
          await c.openChannel(1);
        } catch (e) {
          failed = e;
        }
      }
    }),
  );
  if (failed) {
    await closeMany(conns);
    throw failed;
  }
  return conns;
}

async function closeMany(conns: BenchConn[]): Promise<void> {
  for (let i = 0; i < conns.length; i += 500) await Promise.all(conns.slice(i, i + 500).map((c) => c.close(10_000)));
}

async function measure(b: Broker, n: number): Promise<[number, number]> {
  const before = await b.memoryBytes();
  const t0 = performance.now();
  const conns = await openMany(b.url, n);
  const openMs = performance.now() - t0;
  try {
    await sleep(1000);
    const after = await b.memoryBytes();
    return [openMs, (after - before) / n];
  } finally {
    await closeMany(conns);
    await sleep(500);
  }
}

export const s7: Scenario = {
  id: "s7",
  title: "many connections, one channel each",
  metrics: (o: BenchOptions) =>
    o.s7Connections.flatMap((n): MetricDef[] => [
      { key: `open${n}`, label: `${n.toLocaleString("en")} conns: open ms`, unit: "ms", better: "lower" },
      { key: `mem${n}`, label: `${n.toLocaleString("en")} conns: KB/conn`, unit: "KB", better: "lower", targetRatio: 0.5 },
    ]),
  run: async (b, o) => {
    const r: Record<string, number> = {};
    for (const n of o.s7Connections) {
      o.log(`  ${b.name}: ${n} connections`);
      const [ms, bytes] = await measure(b, n);
      r[`open${n}`] = ms;
      r[`mem${n}`] = bytes / 1024;
    }
    return r;
  },
};
