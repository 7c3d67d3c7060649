/**
 * The exit codes of Fleet's operator verbs, so a CI job can gate on them (docs/fleet.md has the
 * same table). One place decides them: from a task's per-host outcome, or from an error.
 *
 * Precedence when hosts disagree: failed (1) beats unreachable (3) beats not done (6): a host
 * that ran and failed is the definite news; one that never ran is the next.
 */
import { isFinal } from "./protocol.js";
import { RpcError } from "./rpc.js";
import { UsageError } from "./args.js";

export const EXIT = {
  /** every host ok (run without --wait: submitted; reads: answered) */
  OK: 0,
  /** some host ran it and did not succeed (failed, timeout, cancelled, rejected, interrupted), or an unexpected error */
  FAILED: 1,
  /** bad flags or arguments, or a request the collector found malformed */
  USAGE: 2,
  /** some host never ran it (expired, unroutable, lost), or the broker / collector could not be reached */
  UNREACHABLE: 3,
  /** no such task or group, or no host matches the target */
  NOT_FOUND: 4,
  /** refused: the request's signature or the broker's permissions */
  REFUSED: 5,
  /** check_task without --wait on a task whose hosts are not all final yet (none failed so far) */
  NOT_DONE: 6,
  /** Ctrl-C on --wait / --follow: detached, the task keeps running */
  INTERRUPTED: 130,
} as const;

const UNREACHABLE_STATUSES = new Set(["expired", "unroutable", "lost"]);

export function exitForResults(results: ReadonlyArray<{ status: string }>): number {
  let failed = false;
  let unreachable = false;
  let open = false;
  for (const r of results) {
    if (!isFinal(r.status)) open = true;
    else if (UNREACHABLE_STATUSES.has(r.status)) unreachable = true;
    else if (r.status !== "ok") failed = true;
  }
  return failed ? EXIT.FAILED : unreachable ? EXIT.UNREACHABLE : open ? EXIT.NOT_DONE : EXIT.OK;
}

/** RpcError carries the collector's HTTP-like status (or ours for transport failures). */
export function exitForError(e: unknown): number {
  if (e instanceof UsageError) return EXIT.USAGE;
  if (!(e instanceof RpcError)) return EXIT.FAILED;
  if (e.status === 400 || e.status === 413) return EXIT.USAGE;
  if (e.status === 401 || e.status === 403) return EXIT.REFUSED;
  if (e.status === 404) return EXIT.NOT_FOUND;
  if (e.status === 502 || e.status === 503 || e.status === 504) return EXIT.UNREACHABLE;
  return EXIT.FAILED;
}
