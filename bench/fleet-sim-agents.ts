/**
 * Many simulated Fleet agents in one process, each the real Agent class with
 * its own AMQP connection, queue and journal. Used by bench/fleet-bench.ts.
 * argv: URL DATA_DIR PREFIX FROM COUNT GROUP [RAMP] [MODE] (RAMP = new connections per 100 ms, default 50;
 * MODE "noop": the bench-only no-op executor, bench/fleet-noop.ts — nothing is spawned, and the
 * journal is not fdatasync'd (10,000 simulated hosts share one disk); default "spawn").
 * Prints "ready COUNT" on stdout once every agent consumes; stops all agents on SIGTERM.
 */
import { join } from "node:path";
import { Agent } from "../src/fleet/agent.js";
import { loadTrustedKeys, fleetDir } from "../src/fleet/sign.js";
import { benchNoop } from "./fleet-noop.js";

const [url, dataDir, prefix, fromS, countS, group, rampS, mode] = process.argv.slice(2);
const ramp = Number(rampS ?? 50);
const from = Number(fromS);
const count = Number(countS);
const trusted = loadTrustedKeys(dataDir!, []);
const agents: Agent[] = [];
let ready = 0;
for (let i = from; i < from + count; i++) {
  const name = `${prefix}${i}`;
  const a = new Agent({
    name, groups: [group!], url: url!, stateDir: join(fleetDir(dataDir!), "agent", name), trusted, concurrency: 4, maxOutput: 1 << 20,
    heartbeatMs: 60_000, graceMs: 1000,
    ...(mode === "noop" ? { executor: benchNoop, journalSync: false } : {}),
    log: (l) => {
      if (l.includes("ready on")) {
        if (++ready === count) process.stdout.write(`ready ${count}\n`);
      } else if (!l.startsWith("task ")) process.stderr.write(`[${name}] ${l}\n`);
    },
  });
  a.start();
  agents.push(a);
  if ((i - from) % ramp === ramp - 1) await new Promise((r) => setTimeout(r, 100)); // ramp connections gently
}
process.once("SIGTERM", () => {
  void Promise.all(agents.map((a) => a.stop())).then(() => process.exit(0));
});
