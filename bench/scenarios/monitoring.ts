/**
 * m1: Fleet monitoring at scale (issue 13). The real collector (its own
 * process: `fleet/bin.js collector`) against the broker; --m1-hosts simulated
 * hosts (monitor-sim.ts, 1,000 per child process, each a real AMQP
 * connection) publishing --m1-items items every --m1-interval; 1 host in 100
 * breaches item i0 three times (the rule fires on the 3rd). Two real agents
 * beside them, one running the five built-in collectors every 10 s and one
 * with no template, give the agent's monitoring cost.
 *
 * Reports over the measured window: samples stored/s, collector and broker
 * CPU (% of one core), p99 ingest lag (store time − sample time; the
 * collector's power-of-two histogram, so "≤"), alert latency p99 (event
 * stored − Nth breaching sample's time), bytes/sample after compacting
 * everything (chunks, and the whole metrics.db file), agent RSS and CPU
 * added by monitoring.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Broker } from "../brokers.js";
import { cpuSecondsOfPid, repoRoot, rssOfPid } from "../brokers.js";
import { sleep } from "../load/pool.js";
import type { BenchOptions, MetricDef, Scenario } from "./types.js";
import { FleetClient } from "../../src/fleet/rpc.js";
import { loadPrivateKey } from "../../src/fleet/sign.js";
import { MetricsStore, DEFAULT_RETENTION } from "../../src/fleet/monitor/store.js";

const BIN = join(repoRoot, "dist", "src", "fleet", "bin.js");
const SIM = join(repoRoot, "dist", "bench", "monitor-sim.js");
const PER_PROCESS = 1000;

interface Stats {
  batches: number;
  samples: number;
  lagBuckets: number[];
}

function spawnLogged(args: string[]): { child: ChildProcess; out: () => string } {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr!.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  return { child, out: () => out };
}

async function waitFor(what: string, fn: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > until) throw new Error(`m1: timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** p-quantile of a power-of-two ms histogram: the upper edge of the bucket it falls in */
function quantile(buckets: number[], p: number): number | null {
  const n = buckets.reduce((a, b) => a + b, 0);
  if (!n) return null;
  let acc = 0;
  for (let i = 0; i < buckets.length; i++) {
    acc += buckets[i]!;
    if (acc >= p * n) return i === 0 ? 1 : 2 ** i;
  }
  return 2 ** (buckets.length - 1);
}

const stop = async (c: ChildProcess): Promise<void> => {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const done = new Promise((r) => c.once("exit", r));
  c.kill("SIGTERM");
  await Promise.race([done, sleep(10_000).then(() => c.kill("SIGKILL"))]);
};

export const m1: Scenario = {
  id: "m1",
  title: "Fleet monitoring: N hosts × items at an interval into the collector",
  metrics: (o: BenchOptions): MetricDef[] => [
    { key: "sps", label: `${o.m1Hosts} hosts × ${o.m1Items} items / ${o.m1IntervalMs / 1000}s: samples stored/s`, unit: "/s", better: "higher" },
    { key: "collCpu", label: "m1 collector CPU", unit: "% core", better: "lower" },
    { key: "brokerCpu", label: "m1 broker CPU", unit: "% core", better: "lower" },
    { key: "lag", label: "m1 ingest lag p99 (≤)", unit: "ms", better: "lower" },
    { key: "alert", label: "m1 alert latency after Nth breach p99", unit: "ms", better: "lower" },
    { key: "bps", label: "m1 bytes/sample in chunks", unit: "B", better: "lower" },
    { key: "dbBps", label: "m1 metrics.db bytes/sample", unit: "B", better: "lower" },
    { key: "agentRss", label: "m1 agent RSS added by monitoring", unit: "MiB", better: "lower" },
    { key: "agentCpu", label: "m1 agent CPU added by monitoring", unit: "% core", better: "lower" },
  ],
  run: async (b: Broker, o: BenchOptions) => {
    const dir = mkdtempSync(join(tmpdir(), "warren-m1-"));
    const procs: ChildProcess[] = [];
    let client: FleetClient | undefined;
    try {
      const coll = spawnLogged([BIN, "collector", "--url", b.url, "--data-dir", dir, "--nodata-grace", "1h"]);
      procs.push(coll.child);
      await waitFor("the collector", () => /collector consuming/.test(coll.out()), 60_000);
      client = await FleetClient.open(b.url);
      const key = loadPrivateKey(join(dir, "fleet", "operator.key"));
      const sign = <T>(op: string, body: Record<string, unknown>): Promise<T> => client!.signed<T>(key, "bench", op, body);
      client.signAs(key, "bench");
      const items: Record<string, unknown> = {};
      for (let i = 0; i < o.m1Items; i++) items[`i${i}`] = { collector: "load" };
      await sign("template.add", {
        doc: { name: "bench", interval: `${o.m1IntervalMs / 1000}s`, items, rules: [{ name: "i0-high", item: "i0", when: "> 90", count: 3, within: `${(o.m1IntervalMs / 1000) * 10}s` }] },
      });
      await sign("template.assign", { name: "bench", group: "bench" });
      await sign("template.add", {
        doc: {
          name: "base",
          interval: "10s",
          items: {
            "cpu.util": { collector: "cpu" },
            load1: { collector: "load" },
            "mem.used_pct": { collector: "memory" },
            "disk.root_pct": { collector: "disk" },
            "net.rx_bps": { collector: "net" },
          },
        },
      });
      await sign("template.assign", { name: "base", group: "bench-real" });
      // two real agents: the monitoring one's extra RSS and CPU over the idle one is the agent's cost
      const agents = ["real-mon:bench-real", "real-idle:bench-idle"].map((x) => {
        const [name, group] = x.split(":") as [string, string];
        const a = spawnLogged([BIN, "agent", "--name", name, "--groups", group, "--url", b.url, "--data-dir", dir, "--heartbeat", "60s"]);
        procs.push(a.child);
        return a;
      });
      // simulated hosts
      const sims: Array<ReturnType<typeof spawnLogged>> = [];
      for (let from = 0; from < o.m1Hosts; from += PER_PROCESS) {
        const s = spawnLogged([SIM, b.url, "m1h", String(from), String(Math.min(o.m1Hosts, from + PER_PROCESS)), String(o.m1Items), String(o.m1IntervalMs), "20", "100"]);
        procs.push(s.child);
        sims.push(s);
      }
      o.log(`  ${b.name}: m1 connecting ${o.m1Hosts} simulated hosts`);
      await waitFor("simulated hosts", () => sims.every((s) => /ready/.test(s.out())), 30 * 60_000);
      await waitFor("agents", () => agents.every((a) => /ready on/.test(a.out())), 60_000);
      await waitFor("the monitoring agent's template", () => /template \w+ applied/.test(agents[0]!.out()), 60_000);
      await sleep(2 * o.m1IntervalMs); // every host has ticked; the first alerts are through
      const bpid = await b.pid();
      const cpu = (pid: number | null | undefined): number => (pid ? cpuSecondsOfPid(pid) : NaN);
      const s0 = await client.call<Stats>("monitor.stats");
      const c0 = [cpu(coll.child.pid), cpu(bpid), cpu(agents[0]!.child.pid), cpu(agents[1]!.child.pid)];
      const t0 = Date.now();
      o.log(`  ${b.name}: m1 measuring ${o.m1Duration} s`);
      await sleep(o.m1Duration * 1000);
      const secs = (Date.now() - t0) / 1000;
      const s1 = await client.call<Stats>("monitor.stats");
      const c1 = [cpu(coll.child.pid), cpu(bpid), cpu(agents[0]!.child.pid), cpu(agents[1]!.child.pid)];
      const rss = agents.map((a) => rssOfPid(a.child.pid!));
      const pct = (i: number): number => ((c1[i]! - c0[i]!) / secs) * 100;
      const lag = quantile(
        s1.lagBuckets.map((n, i) => n - (s0.lagBuckets[i] ?? 0)),
        0.99,
      );
      const ev = await client.call<{ events: Array<{ rule: string; state: string; at: number; t: number }> }>("alerts.list", { limit: 1000 });
      const lat = ev.events
        .filter((e) => e.rule === "i0-high" && e.state === "firing")
        .map((e) => e.at - e.t)
        .sort((x, y) => x - y);
      await client.close();
      client = undefined;
      for (const p of procs) await stop(p);
      // everything into chunks, then bytes per sample
      const store = new MetricsStore(join(dir, "fleet", "metrics.db"));
      const total = store.headSamples() + store.chunkStats().samples;
      store.compact(Date.now() + 1, { ...DEFAULT_RETENTION, rawMs: 1e13 }, Date.now());
      const ch = store.chunkStats();
      store.db.exec("VACUUM");
      store.close();
      const file = statSync(join(dir, "fleet", "metrics.db")).size;
      return {
        sps: (s1.samples - s0.samples) / secs,
        collCpu: pct(0),
        brokerCpu: bpid ? pct(1) : null,
        lag,
        alert: lat.length ? lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))]! : null,
        bps: ch.samples ? ch.bytes / ch.samples : null,
        dbBps: total ? file / total : null,
        agentRss: (rss[0]! - rss[1]!) / 2 ** 20,
        agentCpu: pct(2) - pct(3),
      };
    } finally {
      await client?.close();
      for (const p of procs) await stop(p);
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
