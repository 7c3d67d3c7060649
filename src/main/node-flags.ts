/**
 * V8 flags the broker process should start with. `bin/warren.js` carries them on its `#!` line
 * (so `npx warren server` and the npm bin link get them), `npm start` passes them, and the
 * benchmark and test harnesses start the server with them. V8 reads them only when the heap
 * is created: an already running process (an embedding application) cannot take them up later,
 * so embedders should pass them to their own `node`.
 *
 * --initial-old-space-size=64: every socket read is a fresh ArrayBuffer whose backing store
 * lives outside the JS heap, and message bodies that stay in flight for two scavenges are
 * promoted with it. With the broker's small heap (~10 MB live) V8 sets the old generation's
 * limit to ~24 MB, so at 600+ MB/s of 64 KiB bodies it started a full mark-compact every
 * ~30 ms (340 in 12 s, --trace-gc) and spent the broker's CPU on marking a heap that was
 * nearly all garbage. With a 64 MB floor: 1–2 mark-compacts in 30 s and 1.3–1.5× the 64 KiB
 * throughput (docs/benchmarks.md, "The broker's old-generation floor").
 */
export const SERVER_NODE_FLAGS: readonly string[] = ["--initial-old-space-size=64"];
