/**
 * Attack (issue 11 row 11): a shortstr (here a queue name) with bytes that are not UTF-8.
 * warren used to decode them lossily to U+FFFD, so distinct byte strings ("a\xff" and
 * "a\xfe") collapsed into one queue, and one client could reach another's queue by a name
 * it never declared. RabbitMQ refuses such a name; so does warren now, with the same reply.
 * Pins RabbitMQ 3.10.8 (WARREN_TEST_URL).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Args, M } from "../helpers/raw-client.js";
import { wireEnv, type WireEnv } from "../wire/wire-helpers.js";

let env: WireEnv;
before(async () => {
  env = await wireEnv();
});
after(async () => {
  await env.broker.stop();
});

const declareRaw = (name: Buffer): Buffer =>
  new Args()
    .short(0)
    .raw(Buffer.concat([Buffer.from([name.length]), name]))
    .bit(false)
    .bit(false)
    .bit(false)
    .bit(true)
    .bit(false)
    .table({})
    .build();

test("a queue name that is not UTF-8 is refused, as RabbitMQ does (connection.close 501, 0/0)", async () => {
  const bad = [Buffer.from([0x61, 0xff]), Buffer.from([0x61, 0xc3])];
  // an encoded UTF-16 surrogate: Erlang accepts it, warren refuses it (Node would decode it to U+FFFD)
  if (!process.env.WARREN_TEST_URL) bad.push(Buffer.from([0x61, 0xed, 0xa0, 0x80]));
  for (const name of bad) {
    const c = await env.openWithChannel();
    c.sendMethod(1, M.queueDeclare, declareRaw(name));
    const close = await c.expectConnectionClose(501);
    assert.deepEqual(close, { replyCode: 501, replyText: "FRAME_ERROR - Malformed UTF-8 in shortstr", classId: 0, methodId: 0 });
    await c.close().catch(() => {});
  }
});

test("two names differing only in invalid bytes never reach one queue", async () => {
  const c = await env.openWithChannel();
  c.sendMethod(1, M.queueDeclare, declareRaw(Buffer.from([0x71, 0xfe])));
  await c.expectConnectionClose(501);
  await c.close().catch(() => {});
});

test("valid UTF-8 names (multi-byte too) still work", async () => {
  const c = await env.openWithChannel();
  const name = Buffer.from(`sec-utf8-ü-日本-${process.pid}`, "utf8");
  c.sendMethod(1, M.queueDeclare, declareRaw(name));
  await c.expect(1, M.queueDeclareOk);
  await c.close();
});
