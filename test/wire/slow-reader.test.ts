/**
 * Wire conformance: a consumer that stops reading its socket must not make the
 * broker buffer the backlog for it (outbound backpressure).
 *
 * A raw client consumes (no-ack, no prefetch limit — the broker may push
 * everything) from a durable, lazy queue and then pauses its socket. Another
 * connection publishes WARREN_SLOW_MB (default 200) MiB of persistent 1 MiB
 * messages with confirms. Pinned for every broker: publishing completes, other
 * connections stay responsive while the slow reader is stalled, and once the
 * reader resumes it receives every byte. Only for the in-process warren: its
 * RSS must not grow by anything near the published volume (RabbitMQ's memory
 * lives in another process, so that check is skipped when external).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { M, Args, args, methodFrame, headerFrame, frame, FRAME_BODY } from "../helpers/raw-client.js";
import { wireEnv, declareQueue, uniq, type WireEnv } from "./wire-helpers.js";

const MB = 1024 * 1024;
const TOTAL_MB = Number(process.env.WARREN_SLOW_MB ?? 200);
/** RSS growth allowed in-process: well under the published volume. */
const MAX_GROWTH = Math.min(100 * MB, (TOTAL_MB * MB) / 2);

let env: WireEnv;
// Queued bodies beyond 32 MiB go to disk (--queue-memory), so what remains in memory is the
// consumer's outbound buffering, which is what this test bounds.
before(async () => {
  env = await wireEnv({ queueMemory: 32 * 1024 * 1024 });
});
after(async () => {
  await env.broker.stop();
});

test(`a stalled consumer does not make the broker buffer ${TOTAL_MB} MiB`, { timeout: 180_000 }, async (t) => {
  const q = uniq("wire-slow");
  const reader = await env.openWithChannel();
  const pub = await env.openWithChannel();
  let peakRss = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 100);
  try {
    await declareQueue(reader, 1, q, { durable: true, arguments: { "x-queue-mode": "lazy" } });
    reader.discardBodies = true;
    reader.sendMethod(1, M.basicConsume, args.basicConsume(q, "slow", { noAck: true }));
    await reader.expect(1, M.basicConsumeOk);
    reader.socket.pause(); // stop reading: the kernel buffers fill, then the broker must hold back

    const baseline = process.memoryUsage().rss;
    peakRss = baseline;
    pub.sendMethod(1, M.confirmSelect, new Args().bit(false).build());
    await pub.expect(1, M.confirmSelectOk);
    // one 1 MiB body, reused; frames built once (the publisher's own memory stays flat)
    const chunk = pub.tune!.frameMax - 8;
    const bodyFrames: Buffer[] = [];
    for (let off = 0; off < MB; off += chunk) bodyFrames.push(frame(FRAME_BODY, 1, Buffer.alloc(Math.min(chunk, MB - off), 0x62)));
    const message = Buffer.concat([methodFrame(1, M.basicPublish, args.basicPublish("", q)), headerFrame(1, MB, { deliveryMode: 2 }), ...bodyFrames]);
    const started = Date.now();
    let confirmed = 0;
    for (let i = 0; i < TOTAL_MB; i++) {
      if (!pub.socket.write(message)) await once(pub.socket, "drain");
      // keep at most 16 MiB unconfirmed so the publisher cannot run far ahead
      while (i + 1 - confirmed > 16) confirmed = await countAcks(pub, confirmed);
    }
    while (confirmed < TOTAL_MB) confirmed = await countAcks(pub, confirmed);
    const publishMs = Date.now() - started;

    // other connections are responsive while the reader is stalled
    const other = await env.openWithChannel();
    const t0 = Date.now();
    await declareQueue(other, 1, uniq("wire-slow-other"), { exclusive: true });
    const declareMs = Date.now() - t0;
    await other.close();
    assert.ok(declareMs < 2000, `declare on another connection took ${declareMs} ms`);

    const growth = peakRss - baseline;
    t.diagnostic(
      `published ${TOTAL_MB} MiB in ${publishMs} ms; reader got ${(reader.bytesIn / MB).toFixed(1)} MiB before resuming; rss growth ${(growth / MB).toFixed(1)} MiB; declare ${declareMs} ms`,
    );
    if (!env.broker.external) {
      assert.ok(growth < MAX_GROWTH, `broker RSS grew by ${(growth / MB).toFixed(1)} MiB for ${TOTAL_MB} MiB published (limit ${MAX_GROWTH / MB} MiB)`);
    }
    // the stalled reader cannot have been sent (much more than) socket buffers' worth
    assert.ok(reader.bytesIn < TOTAL_MB * MB, "the reader was not actually stalled");

    // resume: every byte arrives
    reader.socket.resume();
    const deadline = Date.now() + 120_000;
    while (reader.bodyBytes < TOTAL_MB * MB && Date.now() < deadline && !reader.closed) await new Promise((r) => setTimeout(r, 100));
    assert.equal(reader.bodyBytes, TOTAL_MB * MB, "the resumed reader received every body byte");
    reader.frames.length = 0; // deliveries and headers
  } finally {
    clearInterval(sampler);
    reader.destroy();
    if (!pub.closed) {
      pub.frames.length = 0;
      pub.sendMethod(1, M.queueDelete, args.queueDelete(q));
      await pub.expect(1, M.queueDeleteOk, 10_000).catch(() => undefined);
    }
    await pub.close();
  }
});

/** Consumes queued basic.ack frames (confirms; possibly multiple=true) and returns the new confirmed count. */
async function countAcks(pub: import("../helpers/raw-client.js").RawClient, confirmed: number): Promise<number> {
  const f = await pub.expect(1, M.basicAck, 30_000);
  const r = f.args!;
  const tag = r.longlong();
  const multiple = r.bit();
  return multiple ? Math.max(confirmed, tag) : confirmed + 1;
}
