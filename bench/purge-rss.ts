/**
 * What a purge gives back: fill one queue with N (default 10,000,000) 100-byte transient
 * messages (no consumer), purge it — or delete it with --delete — and print the broker's RSS
 * before the fill, full, and every second for 30 s after the purge. Issue 10 asks that RSS
 * returns within 2x of the before figure.
 *   node dist/bench/purge-rss.js [N] [--delete]
 */
import { startWarren } from "./brokers.js";
import { LoadPool, sleep } from "./load/pool.js";
import { control, uniqueName } from "./scenarios/common.js";
import * as C from "./wire/codec.js";

const n = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 10_000_000);
const del = process.argv.includes("--delete");
const b = await startWarren();
const mb = async () => ((await b.memoryBytes()) / 2 ** 20).toFixed(0);
try {
  const q = uniqueName("purge-rss");
  const c = await control(b.url);
  await c.queueDeclare(1, q);
  await sleep(1000);
  const before = await mb();
  const pub = new LoadPool([{ kind: "publish", url: b.url, exchange: "", routingKeys: [q], bodySize: 100, persistent: false, confirmWindow: 0, rate: 0, maxCount: n, stamp: false, backlog: null }]);
  await pub.start([0]);
  for (;;) {
    const [count] = await c.queueDeclare(1, q, { passive: true });
    if (count >= n) break;
    await sleep(200);
  }
  await pub.stop();
  const full = await mb();
  const t0 = performance.now();
  if (del) await c.call(C.queueDelete(1, q), 1, C.M.queueDeleteOk);
  else await c.call(C.queuePurge(1, q), 1, C.M.queuePurgeOk);
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  const after: string[] = [];
  for (let i = 0; i < 30; i++) {
    await sleep(1000);
    after.push(await mb());
  }
  process.stdout.write(`${n} msgs: RSS before ${before} MiB, full ${full} MiB, ${del ? "delete" : "purge"} took ${secs} s, after (each second): ${after.join(" ")} MiB\n`);
  await c.close();
} finally {
  await b.stop();
}
