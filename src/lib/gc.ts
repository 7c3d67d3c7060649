/**
 * Forcing a full garbage collection. V8 collects when JavaScript allocates; a broker that has
 * just let go of a large backlog (a purge, a deleted queue) or whose publishers are blocked
 * allocates nothing, so the freed memory would stay in the heap — and in RSS — indefinitely.
 * The runtime exposes gc() only behind a flag, which can be set at run time.
 *
 * Then the C allocator: glibc gives freed heap pages back to the OS only from the top of its
 * heap, and a few live allocations above a purged backlog's freed read buffers keep hundreds
 * of MiB resident. malloc_trim(0) releases every free page; Node has no binding for it, so the
 * optional native addon `warren-malloc-trim` (native/malloc-trim, built by npm install) is
 * used where it was built. Without it only the JavaScript heap shrinks.
 */
import { createRequire } from "node:module";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** A full garbage collection, or null where the runtime refuses to expose one. */
let fullGc: (() => void) | null | undefined;

export function collectGarbage(): void {
  if (fullGc === undefined) {
    try {
      setFlagsFromString("--expose-gc");
      fullGc = runInNewContext("gc") as () => void;
    } catch {
      fullGc = null;
    }
  }
  fullGc?.();
  trimMalloc();
}

let trim: (() => boolean) | null | undefined;

/** glibc's malloc_trim(0) through the optional addon; false where it is not available. */
export function trimMalloc(): boolean {
  if (trim === undefined) {
    try {
      trim = (createRequire(import.meta.url)("warren-malloc-trim") as { trim: () => boolean }).trim;
    } catch {
      trim = null;
    }
  }
  return trim?.() ?? false;
}

let scheduled: NodeJS.Timeout | null = null;
let pass = 0;
/**
 * After a large release: collect (and trim) shortly, then again a few seconds later. V8 frees
 * the backing stores of collected ArrayBuffers (a queue's compact index blocks) on a later
 * pass, so a single early trim would find them still allocated.
 */
const PASSES_MS = [200, 3_000, 15_000];

/** Collect soon, however many large releases ask for it meanwhile. */
export function collectGarbageSoon(): void {
  pass = 0;
  if (scheduled !== null) return;
  const next = () => {
    scheduled = setTimeout(
      () => {
        collectGarbage();
        if (++pass < PASSES_MS.length) next();
        else scheduled = null;
      },
      PASSES_MS[pass]! - (pass > 0 ? PASSES_MS[pass - 1]! : 0),
    );
    scheduled.unref();
  };
  next();
}
