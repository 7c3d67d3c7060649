/**
 * Durability benchmark: the figures docs/durability.md reports, measured on a
 * real `warren server` child process over AMQP (no in-process shortcuts).
 *
 *   npx tsc -p tsconfig.json
 *   node dist/bench/durability-bench.js confirms  [seconds=10] [fsync=always]
 *   node dist/bench/durability-bench.js messages  [count=1000000] [bodyBytes=1024]
 *   node dist/bench/durability-bench.js queues    [count=100000]
 *   node dist/bench/durability-bench.js all
 *
 *  confirms: one publisher (worker thread, raw AMQP client) with 1,000
 *            unconfirmed 1 KiB persistent messages in flight to a durable queue,
 *            no consumer; confirmed msgs/s over the run.
 *  messages: publish `count` persistent messages (confirmed, window 1,000) into
 *            one durable queue; broker RSS per queued message (live backlog);
 *            clean stop; then three restarts: time from spawn to "listening",
 *            the broker's own recovery line, and RSS per recovered message.
 *  queues:   declare `count` durable queues (pipelined on 16 channels); clean
 *            stop; three restarts timed as above.
 * Data directories live under $WARREN_BENCH_DIR (default the OS temp dir) and
 * are removed afterwards. Owns nothing else; prints one line per figure.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { LoadPool, sleep } from "./load/pool.js";
import { W_CONFIRMED } from "./load/shared.js";
import { BenchConn } from "./wire/conn.js";
import { parallelCalls } from "./scenarios/common.js";
import { SERVER_NODE_FLAGS } from "../src/main/node-flags.js";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const MiB = 1024 * 1024;

interface Child {
  proc: ChildProcess;
  url: string;
  log: () => string;
  /** ms from spawn to the start-up line */
  startMs: number;
}

async function startBroker(dataDir: string, fsync = "always"): Promise<Child> {
  const t0 = performance.now();
  const args = [
    ...SERVER_NODE_FLAGS,
    join(repoRoot, "bin", "warren.js"),
    "server",
    "--port",
    "0",
    "--bind",
    "127.0.0.1",
    "--mgmt-port",
    "off",
    "--prometheus-port",
    "off",
    "--no-fleet",
    "--disk-free-limit",
    "0",
    "--memory-high-watermark",
    "0",
    "--fsync",
    fsync,
    "--data-dir",
    dataDir,
  ];
  const proc = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  const port = await new Promise<number>((resolve, reject) => {
    proc.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      const m = /listening amqp:\/\/[^\s]*:(\d+)/.exec(err);
      if (m) resolve(Number(m[1]));
    });
    proc.once("exit", (code) => reject(new Error(`warren exited (${code}):\n${err}`)));
  });
  return { proc, url: `amqp://guest:guest@127.0.0.1:${port}`, log: () => err, startMs: performance.now() - t0 };
}

async function stopBroker(c: Child): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  const exited = new Promise<void>((r) => c.proc.once("exit", () => r()));
  c.proc.kill("SIGTERM");
  await exited;
}

function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}

function du(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    const s = statSync(p);
    n += s.isDirectory() ? du(p) : s.size;
  }
  return n;
}

function newDir(tag: string): string {
  return mkdtempSync(join(process.env.WARREN_BENCH_DIR ?? tmpdir(), `warren-dbench-${tag}-`));
}

async function declareQueues(url: string, names: string[], channels: number): Promise<void> {
  const c = await BenchConn.open({ url });
  try {
    await parallelCalls(c, names, channels, (q, ch) => c.queueDeclare(ch, q, { durable: true }));
  } finally {
    await c.close();
  }
}

async function queueCount(url: string, q: string): Promise<number> {
  const c = await BenchConn.open({ url });
  try {
    await c.openChannel(1);
    const [n] = await c.queueDeclare(1, q, { passive: true });
    return n;
  } finally {
    await c.close();
  }
}

/** Publish with a confirm window; resolves when `count` are confirmed (count = Infinity: run `seconds`). */
async function confirmedPublish(url: string, q: string, bodySize: number, window: number, count: number, seconds: number): Promise<{ confirmed: number; secs: number }> {
  const pool = new LoadPool([
    {
      kind: "publish",
      url,
      exchange: "",
      routingKeys: [q],
      bodySize,
      persistent: true,
      confirmWindow: window,
      rate: 0,
      maxCount: Number.isFinite(count) ? count : Number.MAX_SAFE_INTEGER,
      stamp: false,
      backlog: null,
    },
  ]);
  await pool.start([0]);
  const t0 = performance.now();
  try {
    if (Number.isFinite(count)) {
      await pool.waitFor(() => pool.sum(W_CONFIRMED, [0]) >= count, 3_600_000, "confirms");
    } else {
      // skip the first second (connection warm-up, JIT), then measure
      await sleep(1000);
      const c0 = pool.sum(W_CONFIRMED, [0]);
      const t1 = performance.now();
      await sleep(seconds * 1000);
      const c1 = pool.sum(W_CONFIRMED, [0]);
      return { confirmed: c1 - c0, secs: (performance.now() - t1) / 1000 };
    }
    return { confirmed: pool.sum(W_CONFIRMED, [0]), secs: (performance.now() - t0) / 1000 };
  } finally {
    await pool.stop();
  }
}

async function benchConfirms(seconds: number, fsync: string): Promise<void> {
  const dir = newDir("confirms");
  const b = await startBroker(dir, fsync);
  try {
    await declareQueues(b.url, ["confirms"], 1);
    const r = await confirmedPublish(b.url, "confirms", 1024, 1000, Infinity, seconds);
    console.log(
      `confirms: fsync=${fsync}, 1 KiB persistent, 1000 in flight, 1 publisher: ${Math.round(r.confirmed / r.secs).toLocaleString("en")} confirmed msgs/s (${r.confirmed} in ${r.secs.toFixed(1)} s)`,
    );
  } finally {
    await stopBroker(b);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function timedRestarts(dir: string, what: string, perUnit: number, check: (b: Child) => Promise<void>): Promise<void> {
  for (let i = 1; i <= 3; i++) {
    const b = await startBroker(dir);
    try {
      const line = /recovered (\d+) durable queues and (\d+) messages in (\d+) ms/.exec(b.log());
      const store = /store: recovered (\d+) message\(s\) in (\d+) segment\(s\) from (\d+) record\(s\) in (\d+) ms/.exec(b.log());
      await sleep(500);
      const mem = rss(b.proc.pid!);
      console.log(
        `${what}: restart ${i}: ready (spawn to listening) in ${(b.startMs / 1000).toFixed(2)} s; ` +
          `broker log: store scan ${store ? store[4] : "?"} ms, broker restore ${line ? line[3] : "?"} ms; RSS ${(mem / MiB).toFixed(0)} MiB` +
          (perUnit > 0 ? ` (${(mem / perUnit).toFixed(0)} B per ${what === "messages" ? "message" : "queue"})` : ""),
      );
      await check(b);
    } finally {
      await stopBroker(b);
    }
  }
}

async function benchMessages(count: number, bodySize: number): Promise<void> {
  const dir = newDir("messages");
  try {
    const b = await startBroker(dir);
    try {
      await declareQueues(b.url, ["recover"], 1);
      await sleep(500);
      const idle = rss(b.proc.pid!);
      const r = await confirmedPublish(b.url, "recover", bodySize, 1000, count, 0);
      await sleep(1000);
      const mem = rss(b.proc.pid!);
      console.log(
        `messages: published ${count.toLocaleString("en")} × ${bodySize} B persistent (confirmed) in ${r.secs.toFixed(1)} s (${Math.round(count / r.secs).toLocaleString("en")} msgs/s); ` +
          `live backlog RSS ${(mem / MiB).toFixed(0)} MiB (idle ${(idle / MiB).toFixed(0)} MiB): ${((mem - idle) / count).toFixed(0)} B per queued message`,
      );
    } finally {
      await stopBroker(b);
    }
    console.log(`messages: data directory ${(du(dir) / MiB).toFixed(0)} MiB`);
    await timedRestarts(dir, "messages", count, async (b) => {
      const n = await queueCount(b.url, "recover");
      if (n !== count) throw new Error(`recovered ${n} of ${count}`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchQueues(count: number): Promise<void> {
  const dir = newDir("queues");
  try {
    const b = await startBroker(dir);
    try {
      const names = Array.from({ length: count }, (_, i) => `dq-${i}`);
      const t0 = performance.now();
      await declareQueues(b.url, names, 16);
      const secs = (performance.now() - t0) / 1000;
      console.log(`queues: declared ${count.toLocaleString("en")} durable queues in ${secs.toFixed(1)} s (${Math.round(count / secs).toLocaleString("en")}/s, 16 channels pipelined)`);
    } finally {
      await stopBroker(b);
    }
    console.log(`queues: data directory ${(du(dir) / MiB).toFixed(1)} MiB`);
    await timedRestarts(dir, "queues", count, async (b) => {
      const line = /recovered (\d+) durable queues/.exec(b.log());
      if (!line || Number(line[1]) !== count) throw new Error(`recovered ${line?.[1]} of ${count} queues`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const [mode = "all", a1, a2] = process.argv.slice(2);
if (mode === "confirms" || mode === "all") await benchConfirms(Number(a1 ?? 10), a2 ?? "always");
if (mode === "messages" || mode === "all") await benchMessages(Number((mode === "all" ? undefined : a1) ?? 1_000_000), Number((mode === "all" ? undefined : a2) ?? 1024));
if (mode === "queues" || mode === "all") await benchQueues(Number((mode === "all" ? undefined : a1) ?? 100_000));
