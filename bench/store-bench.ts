/**
 * Store benchmark (SegmentStore only, no AMQP): how many persistent messages per
 * second can be confirmed under each fsync policy with group commit, and how
 * long recovery of a large backlog takes and what it costs in memory.
 *
 *   npx tsc -p tsconfig.json
 *   node dist/bench/store-bench.js throughput [seconds=3] [dir]
 *   node dist/bench/store-bench.js recovery [messages=1000000] [bodyBytes=100] [dir] [eagerBodyBytes=64MiB]
 *
 * Throughput model: publishers with a window of W unconfirmed messages; each
 * event-loop turn publishes up to B messages (as a socket read of B publish
 * frames would) and asks for one sync per message (one confirm each). W=1 is a
 * single synchronous publisher: one fsync per message, no batching possible.
 * Recovery runs in a child process (--expose-gc) so its memory figures are clean.
 */
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { SegmentStore } from "../src/store/segment-store.js";
import type { FsyncPolicy, StorableMessage } from "../src/store/types.js";

const mode = process.argv[2] ?? "throughput";
const MiB = 1024 * 1024;

function message(size: number, i: number): StorableMessage {
  const body = Buffer.alloc(size, i & 0xff);
  return { exchange: "amq.direct", routingKey: "bench", propertiesRaw: Buffer.from([0x10, 0x00, 0x02]), body, bodySize: size, storeId: 0 };
}

async function throughputRun(dir: string, policy: FsyncPolicy, window: number, perTurn: number, seconds: number): Promise<string> {
  fs.rmSync(dir, { recursive: true, force: true });
  const s = SegmentStore.open({ dir, fsync: policy, log: () => {} });
  const key = "/\u0000bench";
  let outstanding = 0;
  let confirmed = 0;
  let stop = false;
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const turn = () => {
      if (stop) {
        if (outstanding === 0) resolve();
        else setImmediate(turn);
        return;
      }
      const n = Math.min(perTurn, window - outstanding);
      for (let i = 0; i < n; i++) {
        const m = message(1024, confirmed + i);
        s.persist(m, [key]);
        outstanding++;
        s.sync((err) => {
          if (err) throw err;
          outstanding--;
          confirmed++;
          s.remove(key, m.storeId); // consumed and acked, as in a steady state
        });
      }
      if (performance.now() - t0 > seconds * 1000) stop = true;
      // when the window is full, wait for confirms instead of spinning the loop
      if (outstanding >= window) setTimeout(turn, 0);
      else setImmediate(turn);
    };
    turn();
  });
  const secs = (performance.now() - t0) / 1000;
  const st = s.stats();
  await s.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return `${policy.padEnd(8)} window=${String(window).padEnd(6)} perTurn=${String(perTurn).padEnd(4)} ${Math.round(confirmed / secs)
    .toString()
    .padStart(8)} msg/s confirmed  (${Math.round(st.fsyncs / secs)} fsync/s, ${(confirmed / Math.max(1, st.syncBatches)).toFixed(1)} msgs/batch, ${Math.round(st.writes / secs)} writes/s)`;
}

async function throughput(): Promise<void> {
  const seconds = Number(process.argv[3] ?? 3);
  const dir = process.argv[4] ?? join(tmpdir(), "warren-store-bench");
  console.log(`1 KiB persistent messages, published, confirmed, then acked; ${seconds}s per line; dir ${dir}`);
  for (const [w, b] of [
    [1, 1],
    [10, 10],
    [100, 100],
    [1000, 100],
    [10000, 100],
  ] as const) {
    console.log(await throughputRun(dir, "always", w, b, seconds));
  }
  console.log(await throughputRun(dir, "interval", 10000, 100, seconds));
  console.log(await throughputRun(dir, "none", 10000, 100, seconds));
}

async function recoveryBench(): Promise<void> {
  const n = Number(process.argv[3] ?? 1_000_000);
  const size = Number(process.argv[4] ?? 100);
  const dir = process.argv[5] ?? join(tmpdir(), "warren-store-bench-recovery");
  fs.rmSync(dir, { recursive: true, force: true });
  const s = SegmentStore.open({ dir, fsync: "none", log: () => {} });
  const t0 = performance.now();
  const key = "/\u0000backlog";
  for (let done = 0; done < n; ) {
    const batch = Math.min(10_000, n - done);
    for (let i = 0; i < batch; i++) s.persist(message(size, done + i), [key]);
    done += batch;
    await new Promise<void>((r) => s.sync(() => r()));
  }
  await s.close();
  const writeSecs = (performance.now() - t0) / 1000;
  let bytes = 0;
  for (const f of fs.readdirSync(dir)) if (f.endsWith(".wseg")) bytes += fs.statSync(join(dir, f)).size;
  console.log(`wrote ${n} x ${size}-byte messages in ${writeSecs.toFixed(1)} s (${Math.round(n / writeSecs)} msg/s, fsync=none); ${(bytes / MiB).toFixed(0)} MiB of segments`);
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, ["--expose-gc", self, "recover-child", dir, process.argv[6] ?? String(64 * MiB)], { stdio: "inherit" });
  fs.rmSync(dir, { recursive: true, force: true });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

async function recoverChild(): Promise<void> {
  const dir = process.argv[3]!;
  const gc = (globalThis as { gc?: () => void }).gc!;
  // array buffers are swept concurrently: collect twice around a pause before reading the figures
  const settle = async () => {
    gc();
    await new Promise((r) => setTimeout(r, 100));
    gc();
  };
  const mem = () => {
    const m = process.memoryUsage();
    return { rss: m.rss, heap: m.heapUsed, ab: m.arrayBuffers };
  };
  await settle();
  const base = mem();
  const t0 = performance.now();
  const s = SegmentStore.open({ dir, fsync: "always", eagerBodyBytes: Number(process.argv[4]), log: () => {} });
  const recovered = s.recover();
  const ms = performance.now() - t0;
  let count = 0;
  let eager = 0;
  for (const list of recovered.values()) {
    count += list.length;
    for (const m of list) if (m.body !== null) eager++;
  }
  await settle();
  const withObjects = mem();
  const st = s.stats();
  const f = (b: number) => `${(b / MiB).toFixed(1)} MiB`;
  console.log(`recovered ${count} messages in ${ms.toFixed(0)} ms (${Math.round(count / (ms / 1000))} msg/s); ${eager} bodies loaded eagerly, the rest on disk`);
  console.log(`  memory with the RecoveredMessage objects: rss +${f(withObjects.rss - base.rss)}, heap +${f(withObjects.heap - base.heap)}, buffers +${f(withObjects.ab - base.ab)}`);
  recovered.clear();
  await settle();
  const indexOnly = mem();
  console.log(
    `  memory after the broker took them (store index only): heap +${f(indexOnly.heap - base.heap)}, buffers +${f(indexOnly.ab - base.ab)}; index ${f(st.indexBytes)} = ${(st.indexBytes / count).toFixed(1)} bytes/message`,
  );
  const t1 = performance.now();
  let read = 0;
  for (let id = 1; id <= Math.min(count, 100_000); id++) read += s.readBody(id).length;
  console.log(`  readBody of 100k lazily-held bodies: ${(performance.now() - t1).toFixed(0)} ms (${read} bytes)`);
  await s.close();
}

if (mode === "throughput") await throughput();
else if (mode === "recovery") await recoveryBench();
else if (mode === "recover-child") await recoverChild();
else {
  console.error("usage: store-bench.js throughput [seconds] [dir] | recovery [messages] [bodyBytes] [dir]");
  process.exit(2);
}
