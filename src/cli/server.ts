/**
 * `warren server`: options from flags, environment and an optional JSON
 * config file (flags win over environment, environment over the file).
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { LogLevel } from "../lib/logger.js";
import type { FsyncPolicy } from "../store/types.js";

const HELP = `usage: warren server [options]

  --port N                  AMQP port (default 5672; env WARREN_PORT)
  --bind ADDR               AMQP bind address (default: every interface, IPv6 and IPv4; env WARREN_BIND)
  --mgmt-port N             management HTTP port (default 15672, 'off' to disable; env WARREN_MGMT_PORT)
  --mgmt-bind ADDR          management bind address (default: --bind; env WARREN_MGMT_BIND)
  --prometheus-port N       Prometheus metrics port, as rabbitmq_prometheus (default 15692, 'off' to
                            disable; env WARREN_PROMETHEUS_PORT). Unauthenticated, like RabbitMQ's:
                            it shows queue names, so bind it privately where they are sensitive
  --prometheus-bind ADDR    Prometheus bind address (default: --mgmt-bind; env WARREN_PROMETHEUS_BIND)
  --data-dir DIR            data directory (default ./data; env WARREN_DATA_DIR)
  --config FILE             JSON config file with any of these options in camelCase (env WARREN_CONFIG)
  --fsync POLICY            always | interval | none (default always; env WARREN_FSYNC) — see docs/durability.md
  --default-user NAME       user created on first boot (default guest; env WARREN_DEFAULT_USER)
  --default-pass PASS       its password (default guest; env WARREN_DEFAULT_PASS)
  --heartbeat SECONDS       heartbeat proposed to clients (default 60; env WARREN_HEARTBEAT)
  --max-message-size BYTES  largest message body accepted (default 134217728)
  --memory-high-watermark B memory alarm threshold in bytes of RSS (default 40% of RAM; 0 = off);
                            the alarm also fires at 80% of the JS heap limit (node --max-old-space-size)
  --disk-free-limit BYTES   disk alarm when free space falls below this (default 50000000; 0 = off)
  --queue-memory BYTES      message bodies kept in memory by all queues together before newly queued
                            bodies are paged to disk (default 268435456; env WARREN_QUEUE_MEMORY)
  --tls-port N              also listen for amqps (TLS) on N, e.g. 5671 (default off; env WARREN_TLS_PORT)
  --tls-cert FILE           PEM certificate chain for amqps (env WARREN_TLS_CERT)
  --tls-key FILE            PEM private key for amqps (env WARREN_TLS_KEY)
  --tls-ca FILE             PEM CA bundle that client certificates are checked against (env WARREN_TLS_CA)
  --tls-verify-peer         require a client certificate signed by --tls-ca (env WARREN_TLS_VERIFY_PEER=1)
  --etcd-endpoints LIST     be a member of the cluster coordinated by these etcd endpoints
                            (host:port,host:port,...; env WARREN_ETCD_ENDPOINTS) — docs/cluster.md;
                            without it the node is a single broker
  --node-name NAME          this node's name in the cluster (default warren@<short hostname>;
                            env WARREN_NODE_NAME); bound to the id in <data-dir>/node.id
  --etcd-prefix PREFIX      key prefix in etcd, one per cluster (default /warren/; env WARREN_ETCD_PREFIX)
  --cluster-lease-ttl SECS  how long a silent node stays 'running' for the others (default 5;
                            env WARREN_CLUSTER_LEASE_TTL)
  --quorum-lease-ttl SECS   how long a dead leader holds its quorum queues before an in-sync
                            follower takes over (default 2; 1 needs etcd's --election-timeout
                            at 600 ms or less; env WARREN_QUORUM_LEASE_TTL)
  --cluster-log-compact-after N  replace the definitions log in etcd by a snapshot once it holds
                            more than N commands (default 10000; env WARREN_CLUSTER_LOG_COMPACT_AFTER)
  --etcd-compaction SECS    compact etcd's revision history every SECS seconds (default 300; 0 if
                            etcd runs with --auto-compaction-retention; env WARREN_ETCD_COMPACTION)
  --no-fleet                do not run the embedded Fleet collector
  --export-rabbit-hashes    also keep each password as RabbitMQ's salted SHA-256 so definitions exports
                            import into RabbitMQ with working passwords (weak: off by default;
                            env WARREN_EXPORT_RABBIT_HASHES=1)
  --log-level LEVEL         silent | error | warn | info | debug (default info; env WARREN_LOG_LEVEL)
  -h, --help                this help
`;

export interface ServerConfig {
  port: number;
  bind: string | undefined;
  mgmtPort: number | null;
  mgmtBind: string | undefined;
  prometheusPort: number | null;
  prometheusBind: string | undefined;
  dataDir: string;
  fsync: FsyncPolicy;
  defaultUser: string | undefined;
  defaultPass: string | undefined;
  heartbeat: number | undefined;
  maxMessageSize: number | undefined;
  memoryHighWatermark: number | undefined;
  diskFreeLimit: number | undefined;
  queueMemory: number | undefined;
  fleet: boolean;
  exportRabbitHashes: boolean;
  logLevel: LogLevel;
  tls: { port: number; certFile: string; keyFile: string; caFile?: string; verifyPeer: boolean } | undefined;
  cluster: { nodeName?: string; etcdEndpoints: string[]; etcdPrefix?: string; leaseTtl?: number; electionTtl?: number; logCompactAfter?: number; etcdCompactionSecs?: number } | undefined;
}

class UsageError extends Error {}

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`invalid value for ${name}: '${v}' (expected a non-negative integer)`);
  return n;
}

function port16(name: string, v: string | undefined): number | undefined {
  const n = int(name, v);
  if (n !== undefined && n > 65535) throw new UsageError(`invalid value for ${name}: ${n}`);
  return n;
}

export function parseServerArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ServerConfig | "help" {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      port: { type: "string" },
      bind: { type: "string" },
      "mgmt-port": { type: "string" },
      "mgmt-bind": { type: "string" },
      "prometheus-port": { type: "string" },
      "prometheus-bind": { type: "string" },
      "data-dir": { type: "string" },
      config: { type: "string" },
      fsync: { type: "string" },
      "default-user": { type: "string" },
      "default-pass": { type: "string" },
      heartbeat: { type: "string" },
      "max-message-size": { type: "string" },
      "memory-high-watermark": { type: "string" },
      "disk-free-limit": { type: "string" },
      "queue-memory": { type: "string" },
      "no-fleet": { type: "boolean" },
      "export-rabbit-hashes": { type: "boolean" },
      "tls-port": { type: "string" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      "tls-ca": { type: "string" },
      "tls-verify-peer": { type: "boolean" },
      "log-level": { type: "string" },
      "etcd-endpoints": { type: "string" },
      "node-name": { type: "string" },
      "etcd-prefix": { type: "string" },
      "cluster-lease-ttl": { type: "string" },
      "quorum-lease-ttl": { type: "string" },
      "cluster-log-compact-after": { type: "string" },
      "etcd-compaction": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  let file: Record<string, unknown> = {};
  const cfgPath = values.config ?? env.WARREN_CONFIG;
  if (cfgPath) {
    try {
      file = JSON.parse(readFileSync(cfgPath, "utf8")) as Record<string, unknown>;
    } catch (e) {
      throw new UsageError(`cannot read config file ${cfgPath}: ${(e as Error).message}`);
    }
  }
  const pick = (flag: string | undefined, envName: string, key: string): string | undefined => {
    if (flag !== undefined) return flag;
    if (env[envName] !== undefined) return env[envName];
    const v = file[key];
    return v === undefined || v === null ? undefined : String(v);
  };
  const mgmtRaw = pick(values["mgmt-port"], "WARREN_MGMT_PORT", "mgmtPort");
  const promRaw = pick(values["prometheus-port"], "WARREN_PROMETHEUS_PORT", "prometheusPort");
  const fsync = (pick(values.fsync, "WARREN_FSYNC", "fsync") ?? "always") as FsyncPolicy;
  if (!["always", "interval", "none"].includes(fsync)) throw new UsageError(`invalid --fsync '${fsync}' (always | interval | none)`);
  const logLevel = (pick(values["log-level"], "WARREN_LOG_LEVEL", "logLevel") ?? "info") as LogLevel;
  if (!["silent", "error", "warn", "info", "debug"].includes(logLevel)) throw new UsageError(`invalid --log-level '${logLevel}'`);
  const port = int("--port", pick(values.port, "WARREN_PORT", "port")) ?? 5672;
  if (port > 65535) throw new UsageError(`invalid value for --port: ${port}`);
  const tlsPort = int("--tls-port", pick(values["tls-port"], "WARREN_TLS_PORT", "tlsPort"));
  if (tlsPort !== undefined && tlsPort > 65535) throw new UsageError(`invalid value for --tls-port: ${tlsPort}`);
  const tlsCert = pick(values["tls-cert"], "WARREN_TLS_CERT", "tlsCert");
  const tlsKey = pick(values["tls-key"], "WARREN_TLS_KEY", "tlsKey");
  const tlsCa = pick(values["tls-ca"], "WARREN_TLS_CA", "tlsCa");
  const verifyRaw = values["tls-verify-peer"] ?? pick(undefined, "WARREN_TLS_VERIFY_PEER", "tlsVerifyPeer");
  const tlsVerifyPeer = verifyRaw === true || verifyRaw === "1" || verifyRaw === "true";
  if (tlsPort !== undefined && (!tlsCert || !tlsKey)) throw new UsageError("--tls-port needs --tls-cert and --tls-key");
  if (tlsPort === undefined && (tlsCert || tlsKey || tlsCa || tlsVerifyPeer)) throw new UsageError("--tls-cert/--tls-key/--tls-ca/--tls-verify-peer need --tls-port");
  if (tlsVerifyPeer && !tlsCa) throw new UsageError("--tls-verify-peer needs --tls-ca");
  const etcdRaw = pick(values["etcd-endpoints"], "WARREN_ETCD_ENDPOINTS", "etcdEndpoints");
  const nodeName = pick(values["node-name"], "WARREN_NODE_NAME", "nodeName");
  const etcdPrefix = pick(values["etcd-prefix"], "WARREN_ETCD_PREFIX", "etcdPrefix");
  const leaseTtl = int("--cluster-lease-ttl", pick(values["cluster-lease-ttl"], "WARREN_CLUSTER_LEASE_TTL", "clusterLeaseTtl"));
  const electionTtl = int("--quorum-lease-ttl", pick(values["quorum-lease-ttl"], "WARREN_QUORUM_LEASE_TTL", "quorumLeaseTtl"));
  const logCompactAfter = int("--cluster-log-compact-after", pick(values["cluster-log-compact-after"], "WARREN_CLUSTER_LOG_COMPACT_AFTER", "clusterLogCompactAfter"));
  const etcdCompactionSecs = int("--etcd-compaction", pick(values["etcd-compaction"], "WARREN_ETCD_COMPACTION", "etcdCompaction"));
  const etcdEndpoints = (etcdRaw ?? "")
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "");
  if (etcdRaw !== undefined && etcdEndpoints.length === 0) throw new UsageError("--etcd-endpoints needs at least one host:port");
  if (etcdEndpoints.length === 0 && (nodeName !== undefined || etcdPrefix !== undefined || leaseTtl !== undefined))
    throw new UsageError("--node-name/--etcd-prefix/--cluster-lease-ttl need --etcd-endpoints");
  if (nodeName !== undefined && !/^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+$/.test(nodeName)) throw new UsageError(`invalid --node-name '${nodeName}' (expected name@host, e.g. warren@node1)`);
  if (leaseTtl !== undefined && (leaseTtl < 2 || leaseTtl > 60)) throw new UsageError(`invalid --cluster-lease-ttl ${leaseTtl} (2..60 seconds)`);
  if (electionTtl !== undefined && (electionTtl < 1 || electionTtl > 60)) throw new UsageError(`invalid --quorum-lease-ttl ${electionTtl} (1..60 seconds)`);
  if (logCompactAfter !== undefined && logCompactAfter < 100) throw new UsageError(`invalid --cluster-log-compact-after ${logCompactAfter} (at least 100 commands)`);
  if (etcdCompactionSecs !== undefined && etcdCompactionSecs !== 0 && etcdCompactionSecs < 10)
    throw new UsageError(`invalid --etcd-compaction ${etcdCompactionSecs} (0 for never, or at least 10 seconds)`);
  if (etcdEndpoints.length === 0 && (logCompactAfter !== undefined || etcdCompactionSecs !== undefined)) throw new UsageError("--cluster-log-compact-after/--etcd-compaction need --etcd-endpoints");
  return {
    port,
    bind: pick(values.bind, "WARREN_BIND", "bind"),
    mgmtPort: mgmtRaw === "off" ? null : (int("--mgmt-port", mgmtRaw) ?? 15672),
    mgmtBind: pick(values["mgmt-bind"], "WARREN_MGMT_BIND", "mgmtBind"),
    prometheusPort: promRaw === "off" ? null : (port16("--prometheus-port", promRaw) ?? 15692),
    prometheusBind: pick(values["prometheus-bind"], "WARREN_PROMETHEUS_BIND", "prometheusBind"),
    dataDir: pick(values["data-dir"], "WARREN_DATA_DIR", "dataDir") ?? "./data",
    fsync,
    defaultUser: pick(values["default-user"], "WARREN_DEFAULT_USER", "defaultUser"),
    defaultPass: pick(values["default-pass"], "WARREN_DEFAULT_PASS", "defaultPass"),
    heartbeat: int("--heartbeat", pick(values.heartbeat, "WARREN_HEARTBEAT", "heartbeat")),
    maxMessageSize: int("--max-message-size", pick(values["max-message-size"], "WARREN_MAX_MESSAGE_SIZE", "maxMessageSize")),
    memoryHighWatermark: int("--memory-high-watermark", pick(values["memory-high-watermark"], "WARREN_MEMORY_HIGH_WATERMARK", "memoryHighWatermark")),
    diskFreeLimit: int("--disk-free-limit", pick(values["disk-free-limit"], "WARREN_DISK_FREE_LIMIT", "diskFreeLimit")),
    queueMemory: int("--queue-memory", pick(values["queue-memory"], "WARREN_QUEUE_MEMORY", "queueMemory")),
    fleet: !(values["no-fleet"] ?? file["fleet"] === false),
    exportRabbitHashes: values["export-rabbit-hashes"] ?? (process.env.WARREN_EXPORT_RABBIT_HASHES === "1" || file["exportRabbitHashes"] === true),
    logLevel,
    tls: tlsPort === undefined ? undefined : { port: tlsPort, certFile: tlsCert!, keyFile: tlsKey!, ...(tlsCa ? { caFile: tlsCa } : {}), verifyPeer: tlsVerifyPeer },
    cluster:
      etcdEndpoints.length === 0
        ? undefined
        : {
            etcdEndpoints,
            ...(nodeName ? { nodeName } : {}),
            ...(etcdPrefix ? { etcdPrefix } : {}),
            ...(leaseTtl ? { leaseTtl } : {}),
            ...(electionTtl ? { electionTtl } : {}),
            ...(logCompactAfter !== undefined ? { logCompactAfter } : {}),
            ...(etcdCompactionSecs !== undefined ? { etcdCompactionSecs } : {}),
          },
  };
}

/** For a port already in use: which option (and environment variable) chooses another. */
export function addressInUseHint(e: unknown, cfg: ServerConfig): string {
  const err = e as { code?: string; port?: number };
  if (err?.code !== "EADDRINUSE") return "";
  const options: [number | null | undefined, string, string][] = [
    [cfg.port, "--port", "WARREN_PORT"],
    [cfg.mgmtPort, "--mgmt-port", "WARREN_MGMT_PORT"],
    [cfg.prometheusPort, "--prometheus-port", "WARREN_PROMETHEUS_PORT"],
    [cfg.tls?.port, "--tls-port", "WARREN_TLS_PORT"],
  ];
  const hit = options.find(([p]) => p !== null && p !== undefined && p === err.port);
  if (!hit) return "\nAnother process listens on that port; choose others with --port, --mgmt-port and --prometheus-port.";
  const off = hit[1] === "--mgmt-port" || hit[1] === "--prometheus-port" ? ` (or '${hit[1]} off')` : "";
  return `\nPort ${err.port} is taken by another process (RabbitMQ or another warren?). Choose another with ${hit[1]} N or ${hit[2]}=N${off}.`;
}

export async function serverMain(argv: string[]): Promise<number> {
  let cfg: ServerConfig | "help";
  try {
    cfg = parseServerArgs(argv);
  } catch (e) {
    process.stderr.write(`warren server: ${(e as Error).message}\nRun 'warren server --help' for usage.\n`);
    return 2;
  }
  if (cfg === "help") {
    process.stdout.write(HELP);
    return 0;
  }
  // Everything the server creates (definitions, segments, Fleet's key and database) is private.
  process.umask(0o077);
  const { startWarren, VERSION } = await import("../main/warren.js");
  const os = await import("node:os");
  let w: Awaited<ReturnType<typeof startWarren>>;
  try {
    w = await startWarren({
      port: cfg.port,
      // the CLI serves the network by default; the embedding default is loopback
      host: cfg.bind ?? "*",
      mgmtPort: cfg.mgmtPort,
      mgmtHost: cfg.mgmtBind,
      prometheusPort: cfg.prometheusPort,
      prometheusHost: cfg.prometheusBind,
      dataDir: cfg.dataDir,
      fsync: cfg.fsync,
      defaultUser: cfg.defaultUser,
      defaultPass: cfg.defaultPass,
      heartbeat: cfg.heartbeat,
      maxMessageSize: cfg.maxMessageSize,
      memoryHighWatermark: cfg.memoryHighWatermark ?? Math.floor(os.totalmem() * 0.4),
      diskFreeLimit: cfg.diskFreeLimit ?? 50_000_000,
      queueMemory: cfg.queueMemory,
      fleet: cfg.fleet,
      exportRabbitHashes: cfg.exportRabbitHashes,
      logLevel: cfg.logLevel,
      ...(cfg.tls ? { tls: cfg.tls } : {}),
      ...(cfg.cluster ? { cluster: cfg.cluster } : {}),
    });
  } catch (e) {
    process.stderr.write(`warren server: cannot start: ${(e as Error).message}${addressInUseHint(e, cfg)}\n`);
    return 1;
  }
  const mg = w.mgmtPort !== null ? ` management http://${w.mgmtHost}:${w.mgmtPort}` : "";
  const pr = w.prometheusPort !== null ? ` prometheus http://${w.prometheusHost}:${w.prometheusPort}/metrics` : "";
  // the start-up line: tests and scripts parse "listening amqp://HOST:PORT"
  const tl = w.amqps ? ` amqps://${w.amqps.host}:${w.amqps.port}` : "";
  const { RABBITMQ_COMPAT_VERSION } = await import("../lib/compat.js");
  const cl = w.broker.cluster ? ` node ${w.broker.cluster.nodeName} cluster ${w.broker.cluster.clusterName}` : "";
  process.stderr.write(
    `warren ${VERSION} (RabbitMQ ${RABBITMQ_COMPAT_VERSION} compatible) listening amqp://${w.amqpHost}:${w.amqpPort}${tl}${mg}${pr} data ${cfg.dataDir} (fsync ${cfg.fsync})${cl}\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      w.log.info(`received ${sig}, shutting down`);
      resolve();
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
  await w.close();
  return 0;
}
