/**
 * The memory given back after a large purge: the optional native addon warren-malloc-trim
 * (native/malloc-trim, built by npm install) is found and releases free heap pages on glibc.
 * Skipped where the addon was not built (no compiler; not glibc). The effect on a real broker
 * is measured by `node dist/bench/purge-rss.js` (docs/durability.md), not asserted here.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { trimMalloc } from "../../../src/lib/gc.js";

let built = true;
try {
  createRequire(import.meta.url)("warren-malloc-trim");
} catch {
  built = false;
}
const glibc = Boolean((process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime);

test("malloc_trim: the addon loads and gives freed heap pages back", { skip: !built || !glibc ? "warren-malloc-trim not built or not glibc" : false }, () => {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  // 32 MiB of small (heap, not mmap) allocations freed by a plain GC: free but resident pages
  let keep: Buffer[] | null = [];
  for (let i = 0; i < 2000; i++) keep.push(Buffer.allocUnsafeSlow(16 * 1024).fill(1));
  keep = null;
  gc();
  gc();
  assert.equal(trimMalloc(), true, "malloc_trim(0) released nothing");
});
