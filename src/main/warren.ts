/**
 * Composition root: the one place that wires store + broker + AMQP server +
 * management HTTP API + embedded Fleet collector. Everything else receives its
 * collaborators; `startWarren` is also the embedding API for Node programs.
 */
import { mkdirSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { Broker } from "../broker/broker.js";
import { hashPassword } from "../broker/auth.js";
import { Logger, type LogLevel } from "../lib/logger.js";
import { Server } from "../server/server.js";
import type { FsyncPolicy } from "../store/types.js";
import { openStorage } from "./storage.js";
import { startAlarms } from "./alarms.js";
import { resident } from "../broker/ready-list.js";

export interface WarrenOptions {
  port?: number;
  /** AMQP listen address; undefined = every interface, IPv6 and IPv4 where available */
  host?: string;
  /** data directory; null = nothing persisted (embedded/transient use) */
  dataDir?: string | null;
  /** management HTTP port; null = no management API */
  mgmtPort?: number | null;
  mgmtHost?: string;
  /** Prometheus metrics port (RabbitMQ's is 15692); null/undefined = no metrics listener */
  prometheusPort?: number | null;
  /** Prometheus bind address (default: mgmtHost, then host) */
  prometheusHost?: string;
  logLevel?: LogLevel;
  fsync?: FsyncPolicy;
  defaultUser?: string;
  defaultPass?: string;
  heartbeat?: number;
  maxMessageSize?: number;
  /** also keep RabbitMQ-format (salted SHA-256) password hashes, for exports RabbitMQ can import */
  exportRabbitHashes?: boolean;
  /** memory high watermark in bytes (RSS) for the memory alarm; 0 = off */
  memoryHighWatermark?: number;
  /** free-disk low limit in bytes for the disk alarm; 0 = off */
  diskFreeLimit?: number;
  /** bytes of ready message bodies kept in memory by all queues before paging to disk */
  queueMemory?: number;
  /** run the Fleet collector in-process (default: when there is a data dir and management) */
  fleet?: boolean;
  /** an amqps listener (RabbitMQ's listeners.ssl, usually port 5671); files are PEM */
  tls?: { port: number; host?: string; certFile: string; keyFile: string; caFile?: string; verifyPeer?: boolean };
}

/** Read and check the TLS files up front, so a bad path or a key that does not match fails the start clearly. */
function loadTls(t: NonNullable<WarrenOptions["tls"]>): NonNullable<ConstructorParameters<typeof Server>[1]["tls"]> {
  const read = (what: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw new Error(`cannot read TLS ${what} ${file}: ${(e as Error).message}`);
    }
  };
  if (t.verifyPeer && !t.caFile) throw new Error("TLS peer verification needs a CA file (--tls-ca)");
  const cert = read("certificate", t.certFile);
  const key = read("key", t.keyFile);
  const ca = t.caFile ? read("CA file", t.caFile) : undefined;
  try {
    createSecureContext({ cert, key, ...(ca ? { ca } : {}) });
  } catch (e) {
    throw new Error(`unusable TLS certificate/key (${t.certFile}, ${t.keyFile}): ${(e as Error).message}`);
  }
  return { port: t.port, ...(t.host !== undefined ? { host: t.host } : {}), cert, key, ...(ca ? { ca } : {}), verifyPeer: !!t.verifyPeer };
}

type FleetRoutes = (req: IncomingMessage, res: ServerResponse, url: URL, user: { name: string; tags: string[] }) => Promise<boolean>;

export interface Warren {
  broker: Broker;
  server: Server;
  amqpPort: number;
  mgmtPort: number | null;
  /** the Prometheus listener's port, or null when it is off */
  prometheusPort: number | null;
  prometheusHost: string | null;
  /** where AMQP and management listen, as URL hosts ("[::]", "0.0.0.0", "127.0.0.1") */
  amqpHost: string;
  mgmtHost: string | null;
  /** the amqps listener (host as in URLs), or null without TLS */
  amqps: { host: string; port: number } | null;
  log: Logger;
  close(): Promise<void>;
}

export const VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL("../../../package.json", import.meta.url)), "utf8")) as { version: string };
    return pkg.version;
  } catch {
    return "0.0.0";
  }
})();

/** The user the embedded Fleet collector logs in as, and the name its connection announces. */
const FLEET_USER = "warren-fleet-collector";
const FLEET_CONNECTION_NAME = "fleet-collector";

/**
 * The embedded Fleet collector is the broker's own client: it logs in as an internal
 * administrator (loopback only, a fresh random password each start, so nothing to leak or
 * guess) and its connection is left out of the management listings unless asked for
 * (?internal=true) — tooling written for RabbitMQ expects a fresh broker to have no
 * connections. Agents and CLIs beside the server read the same credentials from
 * <data-dir>/fleet/local.json (mode 0600) but announce their own connection names, so
 * they stay listed.
 */
function fleetCollectorUser(broker: Broker): { user: string; pass: string } {
  const pass = randomBytes(24).toString("base64url");
  broker.putUser({ name: FLEET_USER, ...hashPassword(pass), tags: ["administrator"] });
  broker.setPermission({ user: FLEET_USER, vhost: "/", configure: ".*", write: ".*", read: ".*" });
  if (!broker.loopbackUsers.includes(FLEET_USER)) broker.loopbackUsers.push(FLEET_USER);
  broker.isInternalConnection = (c) => c.userName === FLEET_USER && c.clientProperties["connection_name"] === FLEET_CONNECTION_NAME;
  return { user: FLEET_USER, pass };
}

export async function startWarren(opts: WarrenOptions = {}): Promise<Warren> {
  const log = new Logger(opts.logLevel ?? "info");
  const tlsOpts = opts.tls ? loadTls(opts.tls) : null;
  const dataDir = opts.dataDir === undefined ? "./data" : opts.dataDir;
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  if (opts.queueMemory !== undefined) resident.budget = opts.queueMemory;
  const storage = await openStorage(dataDir, opts.fsync ?? "always", log);
  const broker = new Broker({
    store: storage.messages,
    definitions: storage.definitions,
    log,
    defaultUser: opts.defaultUser,
    defaultPass: opts.defaultPass,
    maxMessageSize: opts.maxMessageSize,
    exportRabbitHashes: opts.exportRabbitHashes,
  });
  const t0 = Date.now();
  const rec = broker.boot();
  if (dataDir) log.info(`recovered ${rec.durableQueues} durable queues and ${rec.recoveredMessages} messages in ${Date.now() - t0} ms`);
  const server = new Server(broker, { host: opts.host, port: opts.port ?? 5672, heartbeat: opts.heartbeat, version: VERSION, ...(tlsOpts ? { tls: tlsOpts } : {}) });
  const amqpPort = await server.listen();
  broker.resourceLimits = { memoryHighWatermark: opts.memoryHighWatermark ?? 0, diskFreeLimit: opts.diskFreeLimit ?? 0, dataDir };
  const stopAlarms = startAlarms(broker, dataDir, opts.memoryHighWatermark ?? 0, opts.diskFreeLimit ?? 0);

  let mgmt: { port: number; host: string; close(): Promise<void> } | null = null;
  let fleet: { close(): Promise<void>; http: unknown } | null = null;
  if (opts.mgmtPort !== null && opts.mgmtPort !== undefined) {
    const { startManagement } = await import("../http/server.js");
    let fleetRoutes: FleetRoutes | undefined;
    const mgmtHost = opts.mgmtHost ?? opts.host;
    const m = await startManagement({
      broker,
      server,
      host: mgmtHost,
      port: opts.mgmtPort,
      version: VERSION,
      log,
      // Fleet's /api/fleet routes, once its collector is up
      extraRoutes: (req, res, url, user) => (fleetRoutes ? fleetRoutes(req, res, url, user) : Promise.resolve(false)),
    });
    mgmt = m;
    if (dataDir && opts.fleet !== false) {
      try {
        const { startEmbeddedFleet } = await import("../fleet/embedded.js");
        const { user, pass } = fleetCollectorUser(broker);
        const f = await startEmbeddedFleet({
          amqpUrl: `amqp://${encodeURIComponent(user)}:${encodeURIComponent(pass)}@127.0.0.1:${amqpPort}`,
          mgmtUrl: `http://${encodeURIComponent(user)}:${encodeURIComponent(pass)}@127.0.0.1:${m.port}`,
          dataDir: join(dataDir),
          log: (line: string) => log.info(line),
        });
        fleet = f;
        fleetRoutes = f.http as FleetRoutes;
      } catch (e) {
        log.warn(`fleet collector not started: ${(e as Error).message}`);
      }
    }
  }

  let prom: { port: number; host: string; close(): Promise<void> } | null = null;
  if (opts.prometheusPort !== null && opts.prometheusPort !== undefined) {
    const { startPrometheus } = await import("../http/prometheus.js");
    prom = await startPrometheus({ broker, host: opts.prometheusHost ?? opts.mgmtHost ?? opts.host, port: opts.prometheusPort, log, node: { version: VERSION } });
  }

  let closed = false;
  return {
    broker,
    server,
    amqpPort,
    mgmtPort: mgmt ? mgmt.port : null,
    prometheusPort: prom ? prom.port : null,
    prometheusHost: prom ? prom.host : null,
    amqpHost: server.boundHost,
    amqps: server.tlsAddress,
    mgmtHost: mgmt ? mgmt.host : null,
    log,
    async close() {
      if (closed) return;
      closed = true;
      stopAlarms();
      // the collector is a client of this broker: give it a moment to finish, never wait forever
      if (fleet) await Promise.race([fleet.close().catch(() => {}), new Promise((r) => setTimeout(r, 2000).unref())]);
      if (prom) await prom.close();
      if (mgmt) await mgmt.close();
      await server.close();
      await storage.close();
    },
  };
}
