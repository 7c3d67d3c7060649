/**
 * Forcing a full garbage collection. V8 collects when JavaScript allocates; a broker that has
 * just let go of a large backlog (a purge, a deleted queue) or whose publishers are blocked
 * allocates nothing, so the freed memory would stay in the heap — and in RSS — indefinitely.
 * The runtime exposes gc() only behind a flag, which can be set at run time.
 */
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
}

let scheduled: NodeJS.Timeout | null = null;

/** Collect once, shortly, however many large releases ask for it meanwhile. */
export function collectGarbageSoon(delayMs = 200): void {
  if (scheduled !== null) return;
  scheduled = setTimeout(() => {
    scheduled = null;
    collectGarbage();
  }, delayMs);
  scheduled.unref();
}
