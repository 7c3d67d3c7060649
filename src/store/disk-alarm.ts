/**
 * Free-space probe for the data directory; the broker's resource alarm polls it
 * and compares with its disk_free_limit. Owns nothing else (no timer, no policy).
 */
import * as fs from "node:fs";

export interface DiskSpace {
  /** bytes available to this (unprivileged) process: f_bavail * f_bsize */
  free: number;
  /** size of the file system: f_blocks * f_bsize */
  total: number;
}

/** Free and total bytes of the file system holding `dir` (which must exist). */
export function diskSpace(dir: string): DiskSpace {
  const s = fs.statfsSync(dir);
  return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
}

/** Free bytes for `dir`, as the alarm wants it. */
export function freeDiskBytes(dir: string): number {
  return diskSpace(dir).free;
}

/** Async variant for a poller that must not block the event loop on a slow mount. */
export async function freeDiskBytesAsync(dir: string): Promise<number> {
  const s = await fs.promises.statfs(dir);
  return s.bavail * s.bsize;
}
