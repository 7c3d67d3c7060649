/**
 * f1: Fleet's control plane (issue 18). One `run` to a group of --f1-hosts simulated agents
 * that use the bench-only no-op executor (nothing spawned, journal not fdatasync'd: see
 * bench/fleet-noop.ts), timed from submit to every host's result stored in the collector's
 * SQLite. It runs bench/fleet-bench.ts as a child process (the collector in it, the agents in
 * processes of up to 5,000 beside it) against the broker under test, so warren and RabbitMQ see
 * the same load generator. Each measurement takes --f1-runs tasks on one set of agents and
 * reports their medians; the first task of a set is cold (JIT, fresh connections) and counts.
 *
 * On warren (a broker started for this measurement) it works in the "/" vhost; on RabbitMQ in a
 * fresh vhost made and deleted through the management API.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import type { Broker } from "../brokers.js";
import { repoRoot } from "../brokers.js";
import type { BenchOptions, MetricDef, Scenario } from "./types.js";

const FLEET_BENCH = join(repoRoot, "dist", "bench", "fleet-bench.js");
/** agents per simulated-host process: on two cores, ten busy processes of 1,000 mostly took CPU from the broker and the collector */
const PER_PROCESS = 5000;

const median = (xs: number[]): number | null => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** fleet-bench's row: | agents | run | task id (ms) | run → all stored (ms) | results/s | not ok | … */
const ROW = /^\| (\d+) \| (\d+) \| ([\d.]+) \| (\d+) \| (\d+) \| (\d+) \|/;

export const f1: Scenario = {
  id: "f1",
  title: "Fleet control plane: run → every result stored, no-op agents",
  metrics: (o: BenchOptions): MetricDef[] => [
    { key: "stored", label: `f1 ${o.f1Hosts} no-op agents: run → all results stored (median of ${o.f1Runs})`, unit: "ms", better: "lower" },
    { key: "rps", label: "f1 results stored/s (median)", unit: "/s", better: "higher" },
    { key: "taskId", label: "f1 task id answered (median)", unit: "ms", better: "lower" },
    { key: "notOk", label: "f1 results not ok (all runs)", unit: "", better: "lower" },
  ],
  run: (b: Broker, o: BenchOptions) =>
    new Promise((resolve, reject) => {
      const perProcess = Math.max(1, Math.min(PER_PROCESS, Math.ceil(o.f1Hosts / 2)));
      const args = [FLEET_BENCH, "--url", b.url, "--mgmt-url", b.mgmtUrl ?? "none", "--sizes", String(o.f1Hosts), "--runs", String(o.f1Runs)];
      args.push("--per-process", String(perProcess), "--inflight", "100", "--noop");
      const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr!.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
      child.once("error", reject);
      child.once("exit", (code) => {
        // Each row is printed as it is measured and again in the final table: count each run once.
        const runs = new Map<number, { id: number; ms: number; rps: number; bad: number }>();
        for (const line of out.split("\n")) {
          const m = ROW.exec(line);
          if (m && Number(m[1]) === o.f1Hosts) runs.set(Number(m[2]), { id: Number(m[3]), ms: Number(m[4]), rps: Number(m[5]), bad: Number(m[6]) });
        }
        if (code !== 0 || runs.size < o.f1Runs) return reject(new Error(`fleet-bench exited ${code} with ${runs.size}/${o.f1Runs} runs:\n${err}`));
        const rs = [...runs.values()];
        o.log(`[f1]   runs: ${rs.map((r) => `${r.ms} ms (task id ${r.id} ms)`).join(", ")}`);
        resolve({
          stored: median(rs.map((r) => r.ms)),
          rps: median(rs.map((r) => r.rps)),
          taskId: median(rs.map((r) => r.id)),
          notOk: rs.reduce((a, r) => a + r.bad, 0),
        });
      });
    }),
};
