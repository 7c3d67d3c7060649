/**
 * Composition root: the one place that wires store + broker + AMQP server +
 * management HTTP API + embedded Fleet collector. Everything else receives its
 * collaborators; `startWarren` is also the embedding API for Node programs.
 */
import { mkdirSync } from "node:fs";
import os from "node:os";
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
import { command } from "../broker/commands.js";

/**
 * Options of `startWarren`. The defaults are the safe ones for embedding: loopback only, no
 * management API, no Prometheus listener, no Fleet, resource alarms on, warnings-only logging.
 * `warren server` passes its own (every interface, management on 15672, Fleet on, …).
 */
export interface WarrenOptions {
  /** AMQP port (default 5672); 0 = any free port (read it back from `amqpPort`) */
  port?: number | undefined;
  /** AMQP listen address (default "127.0.0.1"); "*" = every interface, IPv6 and IPv4 where available */
  host?: string | undefined;
  /** data directory (default "./data"); null = nothing persisted (tests, transient use) */
  dataDir?: string | null | undefined;
  /** management HTTP port (RabbitMQ's is 15672); null/undefined = no management API */
  mgmtPort?: number | null | undefined;
  /** management bind address (default: host) */
  mgmtHost?: string | undefined;
  /** Prometheus metrics port (RabbitMQ's is 15692); null/undefined = no metrics listener */
  prometheusPort?: number | null | undefined;
  /** Prometheus bind address (default: mgmtHost, then host) */
  prometheusHost?: string | undefined;
  /** default "warn" (the CLI uses "info") */
  logLevel?: LogLevel | undefined;
  fsync?: FsyncPolicy | undefined;
  /** the user created on first boot (default guest/guest; guest may log in from loopback only) */
  defaultUser?: string | undefined;
  defaultPass?: string | undefined;
  heartbeat?: number | undefined;
  maxMessageSize?: number | undefined;
  /** also keep RabbitMQ-format (salted SHA-256) password hashes, for exports RabbitMQ can import */
  exportRabbitHashes?: boolean | undefined;
  /** memory high watermark in bytes (RSS) for the memory alarm (default 40 % of RAM); 0 = off */
  memoryHighWatermark?: number | undefined;
  /** free-disk low limit in bytes for the disk alarm (default 50 MB); 0 = off */
  diskFreeLimit?: number | undefined;
  /** bytes of ready message bodies kept in memory by all queues before paging to disk */
  queueMemory?: number | undefined;
  /** run the Fleet collector in-process (default false; needs a data dir, the management API and the better-sqlite3 package) */
  fleet?: boolean | undefined;
  /**
   * Be a member of a cluster coordinated by etcd (docs/cluster.md): definitions are shared
   * with every other member. Without it the node is a single broker, exactly as before.
   */
  cluster?: { nodeName?: string; etcdEndpoints: string[]; etcdPrefix?: string; leaseTtl?: number; electionTtl?: number; logCompactAfter?: number; etcdCompactionSecs?: number } | undefined;
  /** an amqps listener (RabbitMQ's listeners.ssl, usually port 5671); files are PEM */
  tls?: { port: number; host?: string; certFile: string; keyFile: string; caFile?: string; verifyPeer?: boolean } | undefined;
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

/** A running broker. */
export interface Warren {
  /** amqp://user:pass@host:port of the default user — what a client in this process connects to */
  url: string;
  /** http://user:pass@host:port of the management API, or null without it */
  mgmtUrl: string | null;
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
  broker: Broker;
  server: Server;
  log: Logger;
  /** stop listening, close every connection, flush the store; safe to call twice */
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
  const internal = { origin: "import" } as const;
  broker.apply(command("user.add", { name: FLEET_USER, ...hashPassword(pass), tags: ["administrator"] }), internal);
  broker.apply(command("permission.set", { user: FLEET_USER, vhost: "/", configure: ".*", write: ".*", read: ".*" }), internal);
  if (!broker.loopbackUsers.includes(FLEET_USER)) broker.loopbackUsers.push(FLEET_USER);
  broker.isInternalConnection = (c) => c.userName === FLEET_USER && c.clientProperties["connection_name"] === FLEET_CONNECTION_NAME;
  return { user: FLEET_USER, pass };
}

/** "*" (every interface) is undefined for net.Server.listen. */
const bindAddress = (h: string): string | undefined => (h === "*" ? undefined : h);

/** A host clients on this machine can connect to: the bound one, or loopback for a wildcard. */
function connectHost(urlHost: string): string {
  return urlHost === "[::]" || urlHost === "0.0.0.0" || urlHost === "::" ? "127.0.0.1" : urlHost;
}

export async function startWarren(opts: WarrenOptions = {}): Promise<Warren> {
  const log = new Logger(opts.logLevel ?? "warn");
  const tlsOpts = opts.tls ? loadTls(opts.tls) : null;
  const dataDir = opts.dataDir === undefined ? "./data" : opts.dataDir;
  const host = opts.host ?? "127.0.0.1";
  const memoryHighWatermark = opts.memoryHighWatermark ?? Math.floor(os.totalmem() * 0.4);
  const diskFreeLimit = opts.diskFreeLimit ?? 50_000_000;
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  if (opts.queueMemory !== undefined) resident.budget = opts.queueMemory;
  const storage = await openStorage(dataDir, opts.fsync ?? "always", log);
  // everything started so far, closed in reverse if a later step fails (a port in use)
  const closers: (() => Promise<void> | void)[] = [() => storage.close()];
  const closeAll = async (): Promise<void> => {
    for (const c of closers.reverse()) await c();
  };
  try {
    let cluster: import("../cluster/cluster.js").Cluster | null = null;
    if (opts.cluster) {
      // lazily: a single node never loads the etcd client (gRPC)
      const { Cluster, defaultNodeName } = await import("../cluster/cluster.js");
      const c = new Cluster({
        endpoints: opts.cluster.etcdEndpoints,
        nodeName: opts.cluster.nodeName ?? defaultNodeName(),
        dataDir,
        log,
        ...(opts.cluster.etcdPrefix ? { prefix: opts.cluster.etcdPrefix } : {}),
        ...(opts.cluster.leaseTtl ? { ttl: opts.cluster.leaseTtl } : {}),
        ...(opts.cluster.electionTtl ? { electionTtl: opts.cluster.electionTtl } : {}),
        ...(opts.cluster.logCompactAfter !== undefined ? { logCompactAfter: opts.cluster.logCompactAfter } : {}),
        ...(opts.cluster.etcdCompactionSecs !== undefined ? { etcdCompactionSecs: opts.cluster.etcdCompactionSecs } : {}),
        replHost: host === "*" ? "0.0.0.0" : host,
      });
      await c.connect();
      cluster = c;
      closers.push(() => c.close());
    }
    const broker = new Broker({
      store: storage.messages,
      // a member's definitions live in etcd, not in the local definitions log
      definitions: cluster ?? storage.definitions,
      log,
      defaultUser: opts.defaultUser,
      defaultPass: opts.defaultPass,
      maxMessageSize: opts.maxMessageSize,
      exportRabbitHashes: opts.exportRabbitHashes,
    });
    const t0 = Date.now();
    const rec = broker.boot();
    if (dataDir) log.info(`recovered ${rec.durableQueues} durable queues and ${rec.recoveredMessages} messages in ${Date.now() - t0} ms`);
    if (cluster) {
      await cluster.start(broker);
      broker.cluster = cluster;
    }
    // clean shutdown rewrites the definitions log as a snapshot (after every connection is
    // closed: closers run in reverse), so the next boot replays only the live definitions
    closers.push(() => {
      try {
        broker.compactDefinitions();
      } catch (e) {
        log.error(`definitions log compaction at shutdown failed (the log is intact): ${(e as Error).message}`);
      }
    });
    const tls = tlsOpts ? { ...tlsOpts, host: bindAddress(tlsOpts.host ?? host) } : null;
    const server = new Server(broker, { host: bindAddress(host), port: opts.port ?? 5672, heartbeat: opts.heartbeat, version: VERSION, ...(tls ? { tls } : {}) });
    const amqpPort = await server.listen();
    closers.push(() => server.close());
    // graceful stop: quorum queues this node leads are handed to in-sync followers before the clients go
    if (cluster) {
      const c = cluster;
      closers.push(() => c.resign());
    }
    broker.resourceLimits = { memoryHighWatermark, diskFreeLimit, dataDir };
    const nodeName = cluster ? cluster.nodeName : `warren@${os.hostname()}`;
    closers.push(startAlarms(broker, dataDir, memoryHighWatermark, diskFreeLimit));

    const user = opts.defaultUser ?? "guest";
    const pass = opts.defaultPass ?? "guest";
    const cred = `${encodeURIComponent(user)}:${encodeURIComponent(pass)}`;
    /** the embedded collector's monitoring exposition, served on the Prometheus listener as /metrics/fleet */
    let fleetPrometheus: ((f: { host?: string | undefined; group?: string | undefined; item?: string | undefined }) => string) | undefined;
    let mgmt: { port: number; host: string; close(): Promise<void> } | null = null;
    if (opts.mgmtPort !== null && opts.mgmtPort !== undefined) {
      const { startManagement } = await import("../http/server.js");
      let fleetRoutes: FleetRoutes | undefined;
      const m = await startManagement({
        broker,
        server,
        host: bindAddress(opts.mgmtHost ?? host),
        port: opts.mgmtPort,
        version: VERSION,
        nodeName,
        log,
        // Fleet's /api/fleet routes, once its collector is up
        extraRoutes: (req, res, url, u) => (fleetRoutes ? fleetRoutes(req, res, url, u) : Promise.resolve(false)),
      });
      mgmt = m;
      closers.push(() => m.close());

      if (dataDir && opts.fleet === true) {
        try {
          // lazily: Fleet's SQLite store needs the native better-sqlite3 package, which a broker-only install lacks
          const { startEmbeddedFleet } = await import("../fleet/embedded.js");
          const fc = fleetCollectorUser(broker);
          const fcred = `${encodeURIComponent(fc.user)}:${encodeURIComponent(fc.pass)}`;
          const f = await startEmbeddedFleet({
            amqpUrl: `amqp://${fcred}@127.0.0.1:${amqpPort}`,
            mgmtUrl: `http://${fcred}@127.0.0.1:${m.port}`,
            dataDir: join(dataDir),
            log: (line: string) => log.info(line),
          });
          fleetRoutes = f.http as FleetRoutes;
          fleetPrometheus = f.prometheus;
          // the collector is a client of this broker: give it a moment to finish, never wait forever
          closers.push(() => Promise.race([f.close().catch(() => {}), new Promise<void>((r) => setTimeout(r, 2000).unref())]));
        } catch (e) {
          const missing = (e as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND" && /better-sqlite3/.test((e as Error).message);
          log.warn(missing ? "fleet collector not started: it needs the better-sqlite3 package (npm install better-sqlite3)" : `fleet collector not started: ${(e as Error).message}`);
        }
      }
    }

    if (cluster) {
      // what the other members show of this node in /api/nodes and cluster_status, and where their links connect
      const amqpHost = connectHost(server.boundHost);
      const mgmtAddr = mgmt ? { host: connectHost(mgmt.host), port: mgmt.port } : null;
      const tlsPort = server.tlsAddress?.port ?? null;
      cluster.app = { stop: () => server.stopApp(), start: () => server.startApp(amqpPort, tlsPort) };
      cluster.infoSource = () => ({ amqp: { host: amqpHost, port: amqpPort }, mgmt: mgmtAddr, version: VERSION, mem_used: process.memoryUsage().rss, alarms: [...broker.alarms] });
      await cluster.publishLive();
      // the node links (cluster/remote.ts) are the cluster's own connections: not listed by default
      const { CLUSTER_USER } = await import("../cluster/remote.js");
      const others = broker.isInternalConnection;
      broker.isInternalConnection = (c) => c.userName === CLUSTER_USER || others(c);
    }

    let prom: { port: number; host: string; close(): Promise<void> } | null = null;
    if (opts.prometheusPort !== null && opts.prometheusPort !== undefined) {
      const { startPrometheus } = await import("../http/prometheus.js");
      const p = await startPrometheus({
        broker,
        host: bindAddress(opts.prometheusHost ?? opts.mgmtHost ?? host),
        port: opts.prometheusPort,
        log,
        node: { version: VERSION, nodeName, clusterName: cluster?.clusterName ?? nodeName },
        fleet: (f) => fleetPrometheus?.(f),
      });
      prom = p;
      closers.push(() => p.close());
    }

    let closing: Promise<void> | null = null;
    return {
      url: `amqp://${cred}@${connectHost(server.boundHost)}:${amqpPort}`,
      mgmtUrl: mgmt ? `http://${cred}@${connectHost(mgmt.host)}:${mgmt.port}` : null,
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
      close: () => (closing ??= closeAll()),
    };
  } catch (e) {
    await closeAll().catch(() => {});
    throw e;
  }
}
