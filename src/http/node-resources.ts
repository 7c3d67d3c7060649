/**
 * What this process uses of the machine and where its limits are: memory
 * against the memory alarm's watermark, free disk against the disk alarm's
 * limit, file descriptors against the process's soft limit. Read on request by
 * /api/nodes and the Prometheus endpoint — never on the message path.
 *
 * RabbitMQ reports the same figures (rabbit_vm, rabbit_disk_monitor,
 * file_handle_cache); warren has no socket limit of its own, so its socket
 * limit is the descriptor limit, and it reports no Erlang process counts.
 */
import { readdirSync, readFileSync, statfsSync } from "node:fs";
import os from "node:os";
import type { Broker } from "../broker/broker.js";

export interface NodeResources {
  memUsed: number;
  /** the memory alarm's watermark in bytes (0 = alarm off, then total RAM) */
  memLimit: number;
  diskFree: number;
  diskFreeLimit: number;
  fdUsed: number;
  fdTotal: number;
  socketsUsed: number;
  socketsTotal: number;
}

let fdLimit: number | undefined;

/** The soft RLIMIT_NOFILE, from /proc (Linux); 1024 (the usual default) where it cannot be read. */
function maxFds(): number {
  if (fdLimit !== undefined) return fdLimit;
  fdLimit = 1024;
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    if (m) fdLimit = m[1] === "unlimited" ? 1048576 : Number(m[1]);
  } catch {
    /* not Linux: keep the default */
  }
  return fdLimit;
}

function openFds(fallback: number): number {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return fallback;
  }
}

function diskFree(dir: string): number {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return 0;
  }
}

export function nodeResources(b: Broker): NodeResources {
  const l = b.resourceLimits;
  const fdTotal = maxFds();
  return {
    memUsed: process.memoryUsage.rss(),
    memLimit: l.memoryHighWatermark > 0 ? l.memoryHighWatermark : os.totalmem(),
    diskFree: diskFree(l.dataDir ?? process.cwd()),
    diskFreeLimit: l.diskFreeLimit,
    fdUsed: openFds(b.connections.size + 10),
    fdTotal,
    socketsUsed: b.connections.size,
    socketsTotal: fdTotal,
  };
}
