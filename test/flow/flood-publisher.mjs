// An unpaced publisher, as a load test or a careless producer is: one connection writing
// numbered 16-byte transient messages to one queue as fast as TCP takes them, for MS
// milliseconds, then it prints {"published": N} and exits. Frames are pre-encoded (the
// bench's wire codec, built into dist/ by `npm run build`), so the publisher is far faster
// than the broker's per-message work — which is what a flood is. Bytes 0-3 of each body are
// the message's sequence number.
//   node flood-publisher.mjs URL QUEUE MS
import { BenchConn } from "../../dist/bench/wire/conn.js";
import * as C from "../../dist/bench/wire/codec.js";

const [url, queue, ms] = process.argv.slice(2);
const BATCH = 1000;
const conn = await BenchConn.open({ url });
await conn.openChannel(1);
const one = C.encodePublish({ channel: 1, exchange: "", routingKey: queue, body: Buffer.alloc(16), persistent: false, frameMax: conn.frameMax });
const at = C.bodyOffset(one, 16);
const batch = Buffer.alloc(one.length * BATCH);
for (let i = 0; i < BATCH; i++) one.copy(batch, i * one.length);

let published = 0;
const until = Date.now() + Number(ms);
while (Date.now() < until && !conn.error) {
  const out = Buffer.from(batch);
  for (let i = 0; i < BATCH; i++) out.writeUInt32BE(published++, i * one.length + at);
  if (!conn.write(out)) await new Promise((r) => conn.socket.once("drain", r));
}
if (conn.error) throw conn.error;
await conn.close(30_000);
process.stdout.write(JSON.stringify({ published }) + "\n");
