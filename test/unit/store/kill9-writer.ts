/**
 * Child process for kill9.test.ts: persists messages with fsync=always as fast
 * as it can and appends one line per durable event to the file WARREN_KILL9_LOG
 * with a synchronous write(2), so a line is in the page cache (and survives the
 * kill) before the step it announces happens. READY also goes to stdout, which
 * tells the parent when to start the kill timer:
 *   READY <recovered>     store opened
 *   r <key> <id>          about to remove (ack) <id> from <key>
 *   C <id> <len> <seed> <keys>  persist confirmed (sync callback without error)
 *   R <key> <id>          removal confirmed
 * It runs until SIGKILLed. Started without WARREN_KILL9_DIR (e.g. when the test
 * runner executes every file under test/) it does nothing.
 */
import { openSync, writeSync } from "node:fs";
import { SegmentStore } from "../../../src/store/segment-store.js";
import { patternBody } from "./helpers.js";

const dir = process.env["WARREN_KILL9_DIR"];
if (dir !== undefined && dir !== "") run(dir);

function run(dir: string): void {
  const KEYS = ["/\u0000q1", "/\u0000q2", "v\u0000q3"];
  const store = SegmentStore.open({ dir, fsync: "always", segmentSize: 32 * 1024, log: () => {} });
  let recovered = 0;
  for (const list of store.recover().values()) recovered += list.length;
  const logFd = openSync(process.env["WARREN_KILL9_LOG"]!, "a");
  const out = (line: string) => writeSync(logFd, line + "\n");
  out(`READY ${recovered}`);
  process.stdout.write("READY\n");
  const confirmed: [string, number][] = [];
  const rnd = (n: number) => Math.floor(Math.random() * n);

  const turn = (): void => {
    const persisted: { line: string; keys: string[]; id: number }[] = [];
    const removed: [string, number][] = [];
    const n = 1 + rnd(20);
    for (let i = 0; i < n; i++) {
      const len = rnd(4) === 0 ? rnd(9000) : rnd(300);
      const keys = KEYS.filter(() => Math.random() < 0.5);
      if (keys.length === 0) keys.push(KEYS[rnd(3)]!);
      // the routing key names the body's pattern seed and length, so the parent can check any body it finds
      const seed = nextSeed++;
      const msg = { exchange: "x", routingKey: `k.${seed}.${len}`, propertiesRaw: Buffer.from([1, 2, 3]), body: patternBody(seed, len), bodySize: len, storeId: 0 };
      store.persist(msg, keys);
      persisted.push({ line: `C ${msg.storeId} ${len} ${seed} ${keys.map(encodeURIComponent).join(",")}`, keys, id: msg.storeId });
    }
    for (let i = 0; i < 3 && confirmed.length > 50; i++) {
      const [k, id] = confirmed.splice(rnd(confirmed.length), 1)[0]!;
      out(`r ${encodeURIComponent(k)} ${id}`);
      store.remove(k, id);
      removed.push([k, id]);
    }
    store.sync((err) => {
      if (err) {
        out(`E ${err.message}`);
        return;
      }
      for (const p of persisted) {
        out(p.line);
        // only confirmed messages are candidates for removal, so an "r" line always follows its "C"
        for (const k of p.keys) confirmed.push([k, p.id]);
      }
      for (const [k, id] of removed) out(`R ${encodeURIComponent(k)} ${id}`);
    });
    setImmediate(turn);
  };
  let nextSeed = Date.now() % 1_000_000;
  turn();
}
