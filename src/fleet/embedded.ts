/**
 * Fleet inside `warren server`: called once the broker listens. Creates the
 * operator Ed25519 key in <dataDir>/fleet/ if missing, runs the collector
 * in-process (SQLite at <dataDir>/fleet/fleet.db), and writes
 * <dataDir>/fleet/local.json (broker and management URLs) so agents and CLI
 * started beside the server with the same data dir need no setup: they trust
 * <dataDir>/fleet/operator.pub and find the broker from that file.
 * It connects to the broker as an ordinary AMQP client, like everywhere else.
 */
import { writeFileSync, mkdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import { Collector } from "./collector.js";
import { createFleetHttpHandler, type FleetHttpHandler } from "./http.js";
import { fleetDir } from "./sign.js";
import { vhostOf } from "./mgmt.js";

export async function startEmbeddedFleet(opts: {
  amqpUrl: string;
  mgmtUrl?: string;
  dataDir: string;
  log: (line: string) => void;
}): Promise<{ close(): Promise<void>; http: FleetHttpHandler; prometheus: (filter: { host?: string | undefined; group?: string | undefined; item?: string | undefined }) => string }> {
  const dir = fleetDir(opts.dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const collector = new Collector({ url: opts.amqpUrl, dataDir: opts.dataDir, log: (l) => opts.log(`fleet: ${l}`) });
  const local = join(dir, "local.json");
  writeFileSync(local + ".tmp", JSON.stringify({ amqpUrl: opts.amqpUrl, ...(opts.mgmtUrl ? { mgmtUrl: opts.mgmtUrl } : {}), pid: process.pid }, null, 2), { mode: 0o600 });
  renameSync(local + ".tmp", local);
  collector.start();
  opts.log(`fleet: operator key ${collector.key.keyId} in ${dir}; agents beside this server: warren agent --name NAME --data-dir ${opts.dataDir}`);
  return {
    http: createFleetHttpHandler(collector.service, vhostOf(opts.amqpUrl), collector.monitor),
    prometheus: (filter) => collector.monitor.prometheus(filter),
    close: () => collector.close(),
  };
}
