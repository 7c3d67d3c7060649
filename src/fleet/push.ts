/**
 * `warren push FILE`: a file carried to hosts inside a signed command (CommandPayload.push) and
 * written there atomically. Shared checks (operator CLI, collector, agent) and the agent's
 * writer.
 *
 * Wire form: the file's bytes (base64), its size and SHA-256, its base name, an optional
 * absolute destination and a mode, all inside the signed payload, so the Ed25519 signature
 * covers content, checksum and destination alike; the agent also recomputes the SHA-256 and
 * refuses a mismatch.
 *
 * Invariants on the agent: nothing is written unless the agent was started with --push-dir
 * (default: every push is refused); the destination is absolute, has no `.`/`..` segments and
 * lies, after resolving the symlinks of its parent directory, inside one of those dirs; a
 * symlink at the destination's final component is never followed nor replaced; the parent dir
 * must already exist; the file appears complete or not at all (temp file in the same dir,
 * fsync, rename, fsync of the dir).
 * Not here: dispatch and result storage (service.ts), verification of the signature (sign.ts).
 */
import { createHash, randomBytes } from "node:crypto";
import { closeSync, constants, fchmodSync, fsyncSync, lstatSync, openSync, realpathSync, renameSync, unlinkSync, writeSync, type Stats } from "node:fs";
import { basename, dirname, isAbsolute, join, sep } from "node:path";
import type { ExecOutcome, Running } from "./exec.js";

/**
 * Largest file `warren push` carries: 1 MiB. The bytes travel base64-encoded (≈1.37 MiB) inside
 * a command message, once per host queue (or per 100 members for a group), are stored once in
 * the collector's SQLite and are held in memory whole by the agent; bigger files belong to a
 * package repository or an artifact store, not to the control plane.
 */
export const PUSH_MAX_BYTES = 1 << 20;

export interface PushSpec {
  /** the file's base name on the operator's side (the destination when `dest` is null) */
  name: string;
  /** absolute path on the host; null: <first --push-dir>/<name> */
  dest: string | null;
  /** permission bits, 0..0o777 (no setuid/setgid/sticky) */
  mode: number;
  size: number;
  /** hex SHA-256 of the bytes */
  sha256: string;
  /** the bytes, base64 */
  data: string;
}

export const sha256Hex = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

/** A base name a host can use as-is: no separator, not `.`/`..`, no NUL, ≤ 255 bytes. */
export function checkPushName(name: unknown): string | null {
  if (typeof name !== "string" || !name) return "no file name";
  if (name === "." || name === ".." || name.includes("/") || name.includes("\0") || Buffer.byteLength(name) > 255) return `bad file name ${JSON.stringify(name)} (a plain base name)`;
  return null;
}

/** An absolute destination with no `.`/`..` segments and no NUL (a trailing `/` means "into this dir"). */
export function checkPushDest(dest: unknown): string | null {
  if (typeof dest !== "string" || !dest) return "empty destination";
  if (dest.includes("\0")) return "destination contains a NUL byte";
  if (!isAbsolute(dest)) return `destination ${JSON.stringify(dest)} is relative: give an absolute path`;
  const segs = dest.split("/");
  if (segs.some((s) => s === ".." || s === ".")) return `destination ${JSON.stringify(dest)} contains '.' or '..' segments`;
  if (dest.length > 4096) return "destination longer than 4096 characters";
  return null;
}

export function checkPushMode(mode: unknown): string | null {
  if (typeof mode !== "number" || !Number.isInteger(mode) || mode < 0 || mode > 0o777)
    return `mode ${typeof mode === "number" && Number.isInteger(mode) && mode >= 0 ? "0" + mode.toString(8) : JSON.stringify(mode)} out of range (0000-0777; setuid, setgid and sticky bits are refused)`;
  return null;
}

/** Parse "0644" / "644" / "0o644" as octal permission bits. */
export function parsePushMode(s: string): number {
  const m = /^(?:0o?)?([0-7]{1,4})$/.exec(s.trim());
  if (!m) throw new Error(`--mode: bad mode ${JSON.stringify(s)} (octal, like 0644)`);
  const mode = parseInt(m[1]!, 8);
  const why = checkPushMode(mode);
  if (why) throw new Error(`--mode: ${why}`);
  return mode;
}

/**
 * Where the file goes on a host: <first push-dir>/<name> without a dest; dest/ + name when dest
 * ends with "/" or is an existing directory (not a symlink to one); else dest itself.
 */
export function destinationFor(spec: Pick<PushSpec, "name" | "dest">, pushDirs: string[]): string | null {
  if (spec.dest === null) return pushDirs[0] ? join(pushDirs[0], spec.name) : null;
  if (spec.dest.endsWith("/")) return spec.dest + spec.name;
  try {
    if (lstatSync(spec.dest).isDirectory()) return join(spec.dest, spec.name);
  } catch {
    /* not there (yet): the file's own path */
  }
  return spec.dest;
}

export interface PushLimits {
  /** directories pushes may write into (empty: every push is refused) */
  pushDirs: string[];
  maxBytes: number;
}

/**
 * The agent's checks before it takes a push (a failed one is reported `rejected`, nothing
 * written). Returns the destination and the bytes, or why not.
 */
export function admitPush(spec: unknown, lim: PushLimits): { dest: string; data: Buffer; mode: number } | { reason: string } {
  const no = (why: string): { reason: string } => ({ reason: `push refused: ${why}` });
  if (!lim.pushDirs.length) return no("this agent accepts no files (it was started without --push-dir DIR)");
  const s = spec as Partial<PushSpec>;
  if (typeof s !== "object" || s === null) return no("malformed push");
  const bad = checkPushName(s.name) ?? (s.dest === null ? null : checkPushDest(s.dest)) ?? checkPushMode(s.mode);
  if (bad) return no(bad);
  if (typeof s.size !== "number" || typeof s.data !== "string" || typeof s.sha256 !== "string") return no("malformed push (size, data, sha256)");
  if (s.size > lim.maxBytes) return no(`file of ${s.size} bytes is over this agent's cap of ${lim.maxBytes} bytes (--push-max)`);
  // base64 of maxBytes is at most 4/3 of it (+ padding): decode nothing bigger
  if (s.data.length > Math.ceil(lim.maxBytes / 3) * 4 + 4) return no(`payload is over this agent's cap of ${lim.maxBytes} bytes (--push-max)`);
  const data = Buffer.from(s.data, "base64");
  if (data.length !== s.size) return no(`size mismatch: ${data.length} bytes received, ${s.size} announced`);
  if (data.length > lim.maxBytes) return no(`file of ${data.length} bytes is over this agent's cap of ${lim.maxBytes} bytes (--push-max)`);
  const sum = sha256Hex(data);
  if (sum !== s.sha256.toLowerCase()) return no(`checksum mismatch: sha256 ${sum}, announced ${s.sha256}`);
  const dest = destinationFor({ name: s.name!, dest: s.dest ?? null }, lim.pushDirs);
  if (!dest) return no("no destination");
  const inside = insidePushDirs(dest, lim.pushDirs);
  if (inside !== true) return no(inside);
  return { dest, data, mode: s.mode! };
}

/**
 * true when dest's parent dir, its symlinks resolved, is one of pushDirs (symlinks resolved)
 * or below one; else why not. A missing parent dir is refused here too (nothing is created).
 */
function insidePushDirs(dest: string, pushDirs: string[]): true | string {
  const parent = dirname(dest);
  let real: string;
  try {
    real = realpathSync(parent);
  } catch (e) {
    return `parent directory ${parent} does not exist on this host (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); push creates no directories`;
  }
  for (const d of pushDirs) {
    let rd: string;
    try {
      rd = realpathSync(d);
    } catch {
      continue;
    }
    if (real === rd || real.startsWith(rd.endsWith(sep) ? rd : rd + sep)) return true;
  }
  return `destination ${dest} is outside this agent's --push-dir (${pushDirs.join(", ")})`;
}

/**
 * Write `data` to `dest` atomically, as a Running (what the agent awaits for a command): a temp
 * file beside it (O_EXCL, O_NOFOLLOW), the mode set with fchmod (not subject to the umask),
 * fsync, rename over dest, fsync of the directory. A symlink (or a directory, or anything but a
 * regular file) at dest is refused, never followed nor replaced.
 */
export function writePushed(dest: string, data: Buffer, mode: number): Running {
  const done = new Promise<ExecOutcome>((resolve) => {
    const fail = (error: string): void => resolve({ status: "failed", exitCode: null, signal: null, stdout: "", stderr: "", truncated: false, error });
    try {
      let st: Stats | undefined;
      try {
        st = lstatSync(dest);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      }
      if (st?.isSymbolicLink()) return fail(`push failed: ${dest} is a symlink; it is neither followed nor replaced`);
      if (st && !st.isFile()) return fail(`push failed: ${dest} exists and is not a regular file`);
      const dir = dirname(dest);
      const tmp = join(dir, `.${basename(dest)}.warren-push-${randomBytes(6).toString("hex")}`);
      const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      try {
        for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
        fchmodSync(fd, mode);
        fsyncSync(fd);
      } catch (e) {
        closeSync(fd);
        unlinkSync(tmp);
        throw e;
      }
      closeSync(fd);
      try {
        renameSync(tmp, dest);
      } catch (e) {
        unlinkSync(tmp);
        throw e;
      }
      const dfd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
      try {
        fsyncSync(dfd);
      } finally {
        closeSync(dfd);
      }
      resolve({
        status: "ok",
        exitCode: 0,
        signal: null,
        stdout: `wrote ${dest} (${data.length} bytes, mode ${mode.toString(8).padStart(4, "0")}, sha256 ${sha256Hex(data)})\n`,
        stderr: "",
        truncated: false,
      });
    } catch (e) {
      fail(`push failed: ${dest}: ${(e as Error).message}`);
    }
  });
  return { pid: undefined, done, cancel() {}, resumeOutput() {} };
}
