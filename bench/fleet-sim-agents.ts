/**
 * Many simulated Fleet agents in one process, each the real Agent class with
 * its own AMQP connection, queue and journal. Used by bench/fleet-bench.ts.
 * argv: URL DATA_DIR PREFIX FROM COUNT GROUP [RAMP] [MODE] [INFLIGHT] (RAMP = new connections per 100 ms, default 50;
 * MODE "noop": the bench-only no-op executor, bench/fleet-noop.ts — nothing is spawned, and the
 * journal is not fdatasync'd (10,000 simulated hosts share one disk); default "spawn").
 * INFLIGHT > 0: closed loop instead of RAMP — at most INFLIGHT agents of this process are between
 * start and "ready" at once, so the start-up time measures how fast the broker completes agent
 * sessions rather than how it copes with more than it can take.)
 * Prints "ready COUNT" on stdout once every agent consumes; stops all agents on SIGTERM.
 */
import { join } from "node:path";
import { Agent } from "../src/fleet/agent.js";
import { loadTrustedKeys, fleetDir } from "../src/fleet/sign.js";
import { benchNoop } from "./fleet-noop.js";

const [url, dataDir, prefix, fromS, countS, group, rampS, mode, inflightS] = process.argv.slice(2);
const inflight = Number(inflightS ?? 0);
let connecting = 0;
const ramp = Number(rampS ?? 50);
const from = Number(fromS);
const count = Number(countS);
const trusted = loadTrustedKeys(dataDir!, []);
const agents: Agent[] = [];
let ready = 0;
const readyOnce = new Set<string>();
for (let i = from; i < from + count; i++) {
  const name = `${prefix}${i}`;
  const a = new Agent({
    name,
    groups: [group!],
    url: url!,
    stateDir: join(fleetDir(dataDir!), "agent", name),
    trusted,
    concurrency: 4,
    maxOutput: 1 << 20,
    heartbeatMs: 60_000,
    graceMs: 1000,
    // the bench's collector trusts the login the simulated hosts share: no per-agent note
    loginTrusted: true,
    ...(mode === "noop" ? { executor: benchNoop, journalSync: false } : {}),
    log: (l) => {
      if (l.includes("ready on")) {
        if (!readyOnce.has(name)) readyOnce.add(name), connecting--;
        if (++ready === count) process.stdout.write(`ready ${count}\n`);
      } else if (!l.startsWith("task ")) process.stderr.write(`[${name}] ${l}\n`);
    },
  });
  if (inflight > 0) while (connecting >= inflight) await new Promise((r) => setTimeout(r, 2));
  connecting++;
  a.start();
  agents.push(a);
  if (inflight <= 0 && (i - from) % ramp === ramp - 1) await new Promise((r) => setTimeout(r, 100)); // ramp connections gently
}
process.once("SIGTERM", () => {
  void Promise.all(agents.map((a) => a.stop())).then(() => process.exit(0));
});
