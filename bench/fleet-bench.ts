/**
 * Fleet at scale: time from `run` (submit) to every host's result stored in
 * SQLite, for 1, 100, 1,000 … simulated agents (many per process, each a real
 * AMQP connection running the real Agent code and really spawning `/bin/sh -c
 * true`). The collector (real code, real SQLite) runs in this process.
 *
 *   node dist/bench/fleet-bench.js [--url amqp://guest:guest@127.0.0.1:5672] [--mgmt-url http://guest:guest@127.0.0.1:15672]
 *        [--sizes 1,100,1000] [--per-process 250] [--runs 3] [--ramp 50 | --inflight 25] [--noop]
 *
 * --inflight N: each agent process keeps at most N agents connecting at once (closed loop), so
 * "agents start-up" is the broker's rate of completed agent sessions; --ramp (open loop) starts
 * RAMP agents per 100 ms per process whatever the broker makes of them.
 *
 * --noop: the agents use the bench-only no-op executor (bench/fleet-noop.ts): nothing is spawned,
 * so the figures are Fleet's control plane (dispatch, broker delivery, agent journal, result,
 * collector SQLite), labelled as such in the output.
 *
 * With a management URL it works in a fresh vhost and deletes it afterwards; `--mgmt-url none`
 * works in the URL's own vhost (a broker started for the bench alone, as `npm run bench` does).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { Collector } from "../src/fleet/collector.js";
import { isFinal } from "../src/fleet/protocol.js";

const args = process.argv.slice(2);
const opt = (n: string, d: string): string => {
  const i = args.indexOf(`--${n}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : d;
};
const baseUrl = opt("url", process.env.WARREN_URL ?? "amqp://guest:guest@127.0.0.1:5672");
const mgmtUrl = opt("mgmt-url", process.env.WARREN_MGMT_URL ?? "http://guest:guest@127.0.0.1:15672");
const sizes = opt("sizes", "1,100,1000").split(",").map(Number);
const perProcess = Number(opt("per-process", "250"));
const runs = Number(opt("runs", "3"));
/** new connections per 100 ms per agent process: a connection storm makes RabbitMQ reset sockets */
const ramp = opt("ramp", "50");
const noop = args.includes("--noop");
const inflight = opt("inflight", "0");
/** e.g. FLEET_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the simulated agents */
const childNodeArgs = (process.env.FLEET_BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
const here = dirname(fileURLToPath(import.meta.url));
/** FLEET_BENCH_BROKER_PID=PID: also report the broker's CPU time during each run (Linux /proc) */
const brokerPid = Number(process.env.FLEET_BENCH_BROKER_PID ?? 0);
/** utime + stime of a process in ms, or stime alone (Linux: /proc/PID/stat fields 14 and 15, in clock ticks of 10 ms) */
function cpuMs(pid: number, kernelOnly = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((kernelOnly ? 0 : Number(f[11])) + Number(f[12])) * 10;
  } catch {
    return NaN;
  }
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function mgmt(method: string, path: string, body?: unknown): Promise<number> {
  const u = new URL(mgmtUrl);
  const auth = "Basic " + Buffer.from(`${u.username}:${u.password}`).toString("base64");
  u.username = u.password = "";
  const r = await fetch(new URL(path, u), { method, headers: { authorization: auth, "content-type": "application/json" }, ...(body ? { body: JSON.stringify(body) } : {}) });
  return r.status;
}

async function main(): Promise<void> {
  const ownVhost = mgmtUrl !== "none";
  const vhost = `fleet-bench-${randomBytes(3).toString("hex")}`;
  let url = baseUrl;
  if (ownVhost) {
    await mgmt("PUT", `/api/vhosts/${vhost}`, {});
    await mgmt("PUT", `/api/permissions/${vhost}/${new URL(baseUrl).username || "guest"}`, { configure: ".*", write: ".*", read: ".*" });
    const u = new URL(baseUrl);
    u.pathname = `/${vhost}`;
    url = u.toString();
  }
  const dataDir = mkdtempSync(join(tmpdir(), "fleet-bench-"));
  const collector = new Collector({ url, dataDir, log: () => {} });
  collector.start();
  await collector.ready;
  const children: ChildProcess[] = [];
  // Killed from outside (timeout, Ctrl-C): take the simulated agents down too, never leave them running.
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    process.once(sig, () => {
      for (const c of children) c.kill("SIGKILL");
      process.exit(130);
    });
  }
  const rows: string[] = [];
  try {
    for (const n of sizes) {
      const group = `bench${n}`;
      const t0 = Date.now();
      const procs: Array<Promise<void>> = [];
      for (let from = 0; from < n; from += perProcess) {
        const count = Math.min(perProcess, n - from);
        const c = spawn(
          process.execPath,
          [...childNodeArgs, join(here, "fleet-sim-agents.js"), url, dataDir, `${group}-h`, String(from), String(count), group, ramp, noop ? "noop" : "spawn", inflight],
          {
            stdio: ["ignore", "pipe", "inherit"],
            // Each simulated agent fdatasyncs its journal through libuv's threadpool (4 threads by
            // default): 64 per process stands in for the hosts' own disks working in parallel.
            env: { ...process.env, UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? "64" },
          },
        );
        children.push(c);
        procs.push(
          new Promise((resolve, reject) => {
            let out = "";
            c.stdout!.on("data", (d: Buffer) => {
              out += d.toString();
              if (out.includes("ready")) resolve();
            });
            c.once("exit", (code) => reject(new Error(`agents exited ${code}`)));
          }),
        );
      }
      await Promise.all(procs);
      // The collector must know the group's members (from presence) before `run --group` can target them.
      while (collector.store.groupMembers(group).length < n) await sleep(100);
      const startup = Date.now() - t0;
      // FLEET_BENCH_PAUSE_MS: wait before the runs (time to attach perf or a profiler to the windows of the runs only)
      const pause = Number(process.env.FLEET_BENCH_PAUSE_MS ?? 0);
      if (pause > 0) {
        console.log(`agents ready; runs start in ${pause} ms`);
        await sleep(pause);
      }
      for (let r = 0; r < runs; r++) {
        const cpu0 = { brokerSys: cpuMs(brokerPid, true), broker: cpuMs(brokerPid), collector: cpuMs(process.pid), agents: children.reduce((t, c) => t + cpuMs(c.pid!), 0) };
        const start = process.hrtime.bigint();
        const { id, hosts } = await collector.service.submit({ command: "true", group, user: "bench" });
        const idMs = Number(process.hrtime.bigint() - start) / 1e6;
        // Done when no row of the task is open any more (pending, queued, running: every other
        // status is final). Counted through the partial index results_open, and only after the
        // collector stored something (its "task" event): the bench's own polling used to be 11 %
        // of the collector process's CPU at 10,000 hosts (a full COUNT every 5 ms).
        const open = collector.store.db.prepare("SELECT COUNT(*) AS n FROM results WHERE status IN ('pending','queued','running') AND task_id = ?");
        let changed = true;
        const onTask = (): void => void (changed = true);
        collector.service.on("task", onTask);
        for (;;) {
          if (changed) {
            changed = false;
            if ((open.get(id) as { n: number }).n === 0) break;
          }
          await sleep(2);
        }
        collector.service.off("task", onTask);
        const ms = Number(process.hrtime.bigint() - start) / 1e6;
        const cpu = `cpu ms: broker ${brokerPid ? `${cpuMs(brokerPid) - cpu0.broker} (kernel ${cpuMs(brokerPid, true) - cpu0.brokerSys})` : "?"}, collector ${cpuMs(process.pid) - cpu0.collector}, agents ${children.reduce((t, c) => t + cpuMs(c.pid!), 0) - cpu0.agents}`;
        const results = collector.store.results(id);
        const bad = results.filter((x) => x.status !== "ok" || !isFinal(x.status)).length;
        // Where the time went, per host (agents' clocks = this machine's): command taken, result sent.
        const t0 = Date.now() - ms;
        const pct = (xs: number[], q: number): string => (xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN).toFixed(0);
        const started = results.map((x) => (x.startedAt ?? NaN) - t0);
        const finished = results.map((x) => (x.finishedAt ?? NaN) - t0);
        const where = `started p50/p95/max ${pct(started, 0.5)}/${pct(started, 0.95)}/${pct(started, 1)} ms, result sent p50/p95/max ${pct(finished, 0.5)}/${pct(finished, 0.95)}/${pct(finished, 1)} ms; ${cpu}`;
        const line = `| ${n} | ${r + 1} | ${idMs.toFixed(1)} | ${ms.toFixed(0)} | ${((hosts.length / ms) * 1000).toFixed(0)} | ${bad} | ${(startup / 1000).toFixed(1)} (${((n / startup) * 1000).toFixed(0)}/s) | ${where} |`;
        rows.push(line);
        console.log(line);
      }
      for (const c of children.splice(0)) {
        c.kill("SIGTERM");
        await new Promise((r) => c.once("exit", r));
      }
    }
  } finally {
    for (const c of children) c.kill("SIGKILL");
    await collector.close();
    if (ownVhost) await mgmt("DELETE", `/api/vhosts/${vhost}`);
    rmSync(dataDir, { recursive: true, force: true });
  }
  console.log(`\n${noop ? "mode: bench no-op agents (nothing spawned; control plane only)" : "mode: real spawn (/bin/sh -c true per host)"} on ${new URL(baseUrl).host}`);
  console.log(
    "\n| agents | run | task id (ms) | run → all results stored (ms) | results stored/s | not ok | agents start-up (s) | per host, from run |\n|---|---|---|---|---|---|---|---|\n" + rows.join("\n"),
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
