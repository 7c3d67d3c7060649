/**
 * Replicated-queue figures, warren and RabbitMQ side by side (docs/benchmarks.md, docs/cluster.md):
 *
 *   node dist/bench/replicated-bench.js --target warren|rabbitmq [--runs 3] [--messages 20000]
 *        [--rates 1000,5000] [--seconds 8] [--queue-type quorum|classic] [--rabbit-port 22100]
 *        [--cpu-prof DIR] [--warmup 0] [--node-flags F1,F2]
 *
 * Starts a private 3-node cluster (warren: 3 etcd members + 3 nodes on loopback; RabbitMQ:
 * three private nodes on P/P+10/P+20, P = --rabbit-port, default 22100, HTTP +1 each, joined
 * with join_cluster, test/chaos/targets.ts),
 * declares the queue through node 1 (`x-queue-type: quorum`: three replicas, leader on node 1),
 * and measures with amqplib on a confirm channel, 1 KiB persistent messages, no consumer:
 *
 * 1. throughput: `messages` publishes with at most 1,000 unconfirmed, through the leader's node;
 *    msgs/s, median of `runs` runs (a fresh queue each);
 * 2. confirm latency at a fixed rate: for each rate, `seconds` of publishing paced at that
 *    rate (up to 1,000 unconfirmed); per message, publish call to confirm; p50/p99 and the rate
 *    achieved.
 *
 * --warmup N: N unmeasured throughput runs first (a fresh warren node's JIT is cold: its first
 * 20,000 messages ran at about half the later rate).
 *
 * --cpu-prof DIR (warren): every node runs under `node --cpu-prof --cpu-prof-dir=DIR`; the nodes are
 * stopped with SIGTERM at the end so that each writes its CPU.*.cpuprofile (node 1 is the leader).
 *
 * Run it under `flock /tmp/warren-heavy.lock`.
 */
import amqp from "amqplib";
import { readFileSync } from "node:fs";
import os from "node:os";
import { startRabbitCluster, startWarrenCluster, type ChaosCluster } from "../test/chaos/targets.js";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
};
const target = opt("target", "warren");
const runs = Number(opt("runs", "3"));
const N = Number(opt("messages", "20000"));
const rates = opt("rates", "1000,5000").split(",").map(Number);
const seconds = Number(opt("seconds", "8"));
const queueType = opt("queue-type", "quorum");
const publishVia = Number(opt("publish-node", "0"));
const rabbitPort = Number(opt("rabbit-port", "22100"));
const cpuProf = opt("cpu-prof", "");
const warmup = Number(opt("warmup", "0"));
// extra node flags for every warren node, comma-separated (e.g. --node-flags --perf-basic-prof for `perf`)
const nodeFlags = opt("node-flags", "")
  .split(",")
  .filter((f) => f !== "");

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};
const median = (xs: number[]): number => pct(xs, 50);

async function declare(c: ChaosCluster, q: string): Promise<void> {
  const conn = await amqp.connect(c.nodes[0]!.url);
  const ch = await conn.createChannel();
  await ch.assertQueue(q, { durable: true, ...(queueType === "quorum" ? { arguments: { "x-queue-type": "quorum" } } : {}) });
  await conn.close();
}

async function drop(c: ChaosCluster, q: string): Promise<void> {
  const conn = await amqp.connect(c.nodes[0]!.url);
  const ch = await conn.createChannel();
  await ch.deleteQueue(q);
  await conn.close();
}

/** publish n (or for `ms` at `rate`), at most 1,000 unconfirmed; per-message confirm latency */
async function publish(url: string, q: string, n: number, rate = 0, ms = 0): Promise<{ sent: number; secs: number; lat: number[]; worst: number[] }> {
  const conn = await amqp.connect(url);
  const ch = await conn.createConfirmChannel();
  const body = Buffer.alloc(1024, 0x61);
  const lat: number[] = [];
  const worst: number[] = [];
  let inFlight = 0;
  let wake: (() => void) | null = null;
  const t0 = performance.now();
  let sent = 0;
  for (;;) {
    if (rate > 0) {
      if (performance.now() - t0 >= ms) break;
      const due = t0 + (sent * 1000) / rate;
      const now = performance.now();
      if (due > now + 1) await new Promise((r) => setTimeout(r, due - now));
    } else if (sent >= n) break;
    while (inFlight >= 1000) await new Promise<void>((r) => (wake = r));
    inFlight++;
    const at = performance.now();
    ch.sendToQueue(q, body, { persistent: true }, (err: unknown) => {
      if (!err) {
        const l = performance.now() - at;
        lat.push(l);
        // the worst confirm of each 500 ms window (when it was published): one stall or a steady tail?
        const w = Math.floor((at - t0) / 500);
        if (!(l <= (worst[w] ?? 0))) worst[w] = l;
      }
      inFlight--;
      const w = wake;
      wake = null;
      w?.();
    });
    sent++;
    if ((sent & 63) === 0) await new Promise((r) => setImmediate(r));
  }
  await ch.waitForConfirms();
  const secs = (performance.now() - t0) / 1000;
  await conn.close();
  return { sent, secs, lat, worst };
}

const TICK = 100; // USER_HZ: /proc/<pid>/stat counts clock ticks of 1/100 s on Linux
/** user and system CPU ms of a process so far (0, 0 when unreadable) */
function cpuOf(pid: number | undefined): [number, number] {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
    return [(Number(rest[11]) * 1000) / TICK, (Number(rest[12]) * 1000) / TICK];
  } catch {
    return [0, 0];
  }
}
/** CPU per 1,000 messages of each node and of this client between two cpuOf snapshots: "n1 120+40 ms, ..." */
function cpuReport(c: ChaosCluster, before: [number, number][], client0: NodeJS.CpuUsage, n: number): string {
  const per = (ms: number): string => ((ms * 1000) / n).toFixed(0);
  const nodes = c.nodes.map((node, i) => {
    const [u, s] = cpuOf(node.pid());
    return `n${i + 1} ${per(u - before[i]![0])}+${per(s - before[i]![1])}`;
  });
  const cl = process.cpuUsage(client0);
  return `CPU ms (user+sys) per 1,000 msgs: ${nodes.join(", ")}, client ${per(cl.user / 1000)}+${per(cl.system / 1000)}`;
}

/** SIGTERM every node and wait (up to 20 s) for it to exit, so --cpu-prof writes its profile */
async function stopGracefully(c: ChaosCluster): Promise<void> {
  for (const n of c.nodes) {
    const pid = n.pid();
    if (pid !== undefined && n.running()) process.kill(pid, "SIGTERM");
  }
  const until = Date.now() + 20_000;
  while (c.nodes.some((n) => n.running()) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const c =
    target === "rabbitmq"
      ? await startRabbitCluster({ rabbitBasePort: rabbitPort })
      : await startWarrenCluster({ mode: "loopback", etcdMembers: 3, nodeFlags: [...nodeFlags, ...(cpuProf ? ["--cpu-prof", `--cpu-prof-dir=${cpuProf}`] : [])] });
  process.stderr.write(`${target}: 3-node cluster up in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  const url = c.nodes[publishVia]!.url;
  const out: string[] = [];
  try {
    for (let r = 0; r < warmup; r++) {
      const q = `bench-warmup-${r}-${Date.now().toString(36)}`;
      await declare(c, q);
      const res = await publish(url, q, N);
      process.stderr.write(`  warm-up ${r + 1}: ${Math.round(res.sent / res.secs)} msgs/s (not counted)\n`);
      await drop(c, q);
    }
    const tput: number[] = [];
    const loads: number[] = [];
    for (let r = 0; r < runs; r++) {
      const q = `bench-${queueType}-${r}-${Date.now().toString(36)}`;
      await declare(c, q);
      const cpu0 = c.nodes.map((n) => cpuOf(n.pid()));
      const client0 = process.cpuUsage();
      const res = await publish(url, q, N);
      tput.push(Math.round(res.sent / res.secs));
      loads.push(os.loadavg()[0]!);
      process.stderr.write(
        `  run ${r + 1}: ${tput[r]} msgs/s (load ${loads[r]!.toFixed(1)}), confirm p50 ${pct(res.lat, 50).toFixed(1)} ms p99 ${pct(res.lat, 99).toFixed(1)} ms; ${cpuReport(c, cpu0, client0, res.sent)}\n`,
      );
      await drop(c, q);
    }
    out.push(
      `${target} ${queueType}, 3 nodes: confirmed 1 KiB persistent publish, 1,000 in flight, ${N} msgs: median ${median(tput)} msgs/s of ${tput.join(", ")} (load ${loads.map((l) => l.toFixed(1)).join(", ")})`,
    );
    for (const rate of rates) {
      const q = `bench-lat-${rate}-${Date.now().toString(36)}`;
      await declare(c, q);
      const res = await publish(url, q, 0, rate, seconds * 1000);
      process.stderr.write(`  at ${rate} msgs/s, worst confirm per 500 ms window (ms): ${Array.from(res.worst, (x) => (x ?? 0).toFixed(0)).join(" ")}\n`);
      out.push(
        `${target} ${queueType}, at ${rate} msgs/s offered: achieved ${Math.round(res.sent / res.secs)} msgs/s, confirm latency p50 ${pct(res.lat, 50).toFixed(1)} ms, p99 ${pct(res.lat, 99).toFixed(1)} ms, max ${pct(res.lat, 100).toFixed(1)} ms (load ${os.loadavg()[0]!.toFixed(1)})`,
      );
      await drop(c, q);
    }
  } finally {
    if (cpuProf) await stopGracefully(c);
    await c.stop();
  }
  process.stdout.write(`${out.join("\n")}\n`);
}

main().catch((e) => {
  process.stderr.write(`replicated-bench: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
