/**
 * npm run chaos — the nemesis matrix against a 3-node cluster, one fresh cluster per nemesis,
 * and the checker's table (test/chaos/checker.ts). Runs for minutes; run it under
 * `flock /tmp/warren-heavy.lock` on a shared machine.
 *
 *   npm run chaos -- [--target warren|rabbitmq] [--mode netns|loopback] [--nemeses a,b]
 *                    [--cycles 2] [--fault-ms 8000] [--recover-ms 6000] [--rate 100] [--publishers 2] [--history-dir DIR] [--log-dir DIR]
 *                    (rate: msgs/s per publisher; publishers: per queue) [--json out.json]
 *                    [--net-prefix harness] [--subnet 10.78.N] (netns names and addresses: each user on a shared machine their own)
 *                    [--pre-vote on|off] (etcd members with --pre-vote; off = etcd 3.4's default)
 *                    [--etcd-election-ms 1000] (etcd's --election-timeout; its heartbeat is a tenth)
 *                    [--quorum-lease-ttl 2] (the nodes' election lease; 1 needs --etcd-election-ms 600 or less)
 *                    [--etcd-leader-on-victim] (isolate-leader, isolate-follower: move etcd's leadership to the isolated node's member first)
 *
 * warren: netns mode when root (each node and etcd member in its own namespace), else loopback
 * (process nemeses only). rabbitmq: three private nodes on 22100/22110/22120, process nemeses.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatTable, NEMESES, runScenario, skipReason, type ScenarioResult } from "./nemesis.js";
import { liveClusters, netnsAvailable, startRabbitCluster, startWarrenCluster } from "./targets.js";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
};
const target = opt("target", "warren");
const mode = opt("mode", netnsAvailable() ? "netns" : "loopback") as "netns" | "loopback";
const wanted = opt("nemeses", NEMESES.map((n) => n.name).join(",")).split(",");
const cycles = Number(opt("cycles", "2"));
const faultMs = Number(opt("fault-ms", "8000"));
const recoverMs = Number(opt("recover-ms", "6000"));
const rate = Number(opt("rate", "100"));
const publishers = Number(opt("publishers", "2"));
const jsonOut = opt("json", "");
const historyDir = opt("history-dir", "");
const logDir = opt("log-dir", "");
const netPrefix = opt("net-prefix", "harness");
const subnet = opt("subnet", "");
const preVote = opt("pre-vote", "on") !== "off";
const etcdElectionMs = Number(opt("etcd-election-ms", "1000"));
if (!Number.isInteger(etcdElectionMs) || etcdElectionMs < 50) {
  console.error(`--etcd-election-ms: a whole number of ms, at least 50 (got ${opt("etcd-election-ms", "1000")})`);
  process.exit(2);
}
const etcdLeaderOnVictim = args.includes("--etcd-leader-on-victim");
const leaseTtl = 2;
/** the nodes' --quorum-lease-ttl (the election lease; etcd grants no TTL under 1.5 election timeouts) */
const quorumLeaseTtl = opt("quorum-lease-ttl", "");
if (quorumLeaseTtl && !/^[1-9][0-9]?$/.test(quorumLeaseTtl)) {
  console.error(`--quorum-lease-ttl: whole seconds, 1 to 60 (got ${quorumLeaseTtl})`);
  process.exit(2);
}
const verbose = args.includes("--verbose");

const log = (s: string): void => {
  if (verbose) process.stderr.write(`[${new Date().toISOString().slice(11, 23)}] ${s}\n`);
};

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    process.stderr.write(`chaos: ${sig}, stopping ${liveClusters.size} cluster(s)\n`);
    void Promise.all([...liveClusters].map((c) => c.stop().catch(() => {}))).then(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  const results: ScenarioResult[] = [];
  const unknown = wanted.filter((w) => !NEMESES.some((n) => n.name === w));
  if (unknown.length) throw new Error(`unknown nemesis ${unknown.join(", ")}; known: ${NEMESES.map((n) => n.name).join(", ")}`);
  for (const nemesis of NEMESES.filter((n) => wanted.includes(n.name))) {
    const caps = target === "rabbitmq" ? { canPartition: false, etcd: [] } : { canPartition: mode === "netns", etcd: [1], ...(mode === "netns" ? { fillDisk: true } : {}) };
    const why = skipReason(nemesis, caps);
    if (why) {
      process.stderr.write(`skip ${nemesis.name}: ${why}\n`);
      continue;
    }
    process.stderr.write(`run ${nemesis.name}: ${nemesis.what}\n`);
    const r = await runScenario({
      nemesis,
      start: () =>
        target === "rabbitmq"
          ? startRabbitCluster({ log })
          : startWarrenCluster({
              mode,
              etcdMembers: 3,
              leaseTtl,
              log,
              netPrefix,
              preVote,
              etcdElectionMs,
              ...(quorumLeaseTtl ? { quorumLeaseTtl: Number(quorumLeaseTtl) } : {}),
              ...(subnet ? { subnet } : {}),
              ...(logDir ? { logDir: join(logDir, `${nemesis.name}-${Date.now()}`) } : {}),
              ...(nemesis.needs?.includes("disk") ? { diskLimitMb: 96 } : {}),
            }),
      cycles,
      warmupMs: 4000,
      faultMs,
      recoverMs,
      leaseTtlMs: leaseTtl * 1000,
      publishers,
      window: 100,
      rate,
      log,
      etcdLeaderOnVictim,
    });
    results.push(r);
    if (historyDir && (r.verdict.lost > 0 || r.verdict.unexpected > 0 || r.verdict.orderViolations > 0 || r.verdict.ackedBack > 0)) {
      const f = join(historyDir, `${r.nemesis}-${Date.now()}.json`);
      const t0 = r.history.window[0];
      writeFileSync(
        f,
        JSON.stringify({
          faults: r.faults,
          verdict: r.verdict,
          publishes: [...r.history.publishes.values()].map((p) => ({ ...p, invokeAt: p.invokeAt - t0, doneAt: p.doneAt - t0 })),
          deliveries: r.history.deliveries.map((d) => ({ ...d, at: d.at - t0 })),
        }),
      );
      process.stderr.write(`  history written to ${f}\n`);
    }
    const v = r.verdict;
    process.stderr.write(
      `  ${r.nemesis}: ${v.ok}/${v.published} confirmed, lost ${v.lost}, unexpected ${v.unexpected}, dup ${v.duplicated}, acked back ${v.ackedBack}, order ${v.orderViolations}, failover ${r.failoverMs.join("/")} ms (q2 ${r.failoverQ2Ms.join("/")} ms)${r.error ? `, error: ${r.error}` : ""}${v.ackedBackSample.length ? `, acked back e.g. ${v.ackedBackSample.slice(0, 3).join("; ")}` : ""}${v.lostSample.length ? `, lost e.g. ${v.lostSample.slice(0, 3).join(" ")} ${JSON.stringify(v.lostByQueue)} faults at ${JSON.stringify(r.faults)}` : ""} (${(r.durationMs / 1000).toFixed(0)} s)\n`,
    );
  }
  process.stdout.write(`${formatTable(results)}\n`);
  if (jsonOut)
    writeFileSync(
      jsonOut,
      JSON.stringify(
        results.map(({ history: _, ...r }) => r),
        null,
        2,
      ),
    );
  const lost = results.reduce((a, r) => a + r.verdict.lost + r.verdict.unexpected, 0);
  process.exitCode = lost > 0 ? 1 : 0;
}

// `npm test` runs every .js file under dist/test (Node 20's --test has no globs), this CLI
// included: under the test runner (NODE_TEST_CONTEXT is set) it does nothing, so the minutes-
// long matrix runs only from `npm run chaos`. CI's bounded set is test/cluster/chaos.test.ts.
if (process.env.NODE_TEST_CONTEXT === undefined) {
  main().catch((e) => {
    process.stderr.write(`chaos: ${(e as Error).stack ?? e}\n`);
    process.exitCode = 2;
  });
}
