/**
 * The replication transport's FrameReader (src/cluster/repl-wire.ts; warren's own protocol
 * between quorum-queue members, no RabbitMQ counterpart): a stream of frames cut at every
 * byte position, or in random pieces, parses to the same frames as when read whole; an
 * oversize length is refused; ENQ frames (the leader's header cache reused across messages
 * of the same exchange and routing key, then a new pair) decode to what was sent.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { FrameReader, FrameWriter, MAX_FRAME, readEnq, T } from "../../../src/cluster/repl-wire.js";

function frame(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(body.length + 1, 0);
  h[4] = type;
  return Buffer.concat([h, body]);
}

const frames = [frame(11, Buffer.alloc(1500, 7)), frame(12, Buffer.alloc(0)), frame(20, Buffer.from("ack")), frame(11, Buffer.alloc(3, 1)), frame(13, Buffer.alloc(28, 9))];
const stream = Buffer.concat(frames);
const want = frames.map((f) => `${f[4]}:${f.subarray(5).toString("hex")}`);

function parse(pieces: Buffer[]): string[] {
  const got: string[] = [];
  const r = new FrameReader((type, body) => got.push(`${type}:${body.toString("hex")}`));
  for (const p of pieces) r.push(p);
  return got;
}

test("frames split at every byte position (in two) parse as when whole", () => {
  for (let cut = 0; cut <= stream.length; cut++) assert.deepEqual(parse([stream.subarray(0, cut), stream.subarray(cut)]), want, `cut at ${cut}`);
});

test("frames read one byte at a time and in random pieces parse as when whole", () => {
  assert.deepEqual(parse([...stream].map((b) => Buffer.from([b]))), want);
  let seed = 42;
  const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n) + 1;
  for (let i = 0; i < 200; i++) {
    const pieces: Buffer[] = [];
    for (let at = 0; at < stream.length; ) {
      const n = rnd(i % 2 === 0 ? 7 : 2000);
      pieces.push(stream.subarray(at, at + n));
      at += n;
    }
    assert.deepEqual(parse(pieces), want);
  }
});

test("an oversize frame length is refused", () => {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(MAX_FRAME + 1, 0);
  assert.throws(() => parse([h]), /refused/);
  assert.throws(() => parse([h.subarray(0, 2), h.subarray(2)]), /refused/);
});

test("ENQ frames decode to what was written, as the names change and repeat", async () => {
  const out: Buffer[] = [];
  const sock = { cork() {}, uncork() {}, write: (b: Buffer) => out.push(Buffer.from(b)) } as unknown as Socket;
  const w = new FrameWriter(sock);
  const sent = [
    ["", "q1", Buffer.from([1, 2, 3]), Buffer.alloc(1024, 0x61)],
    ["", "q1", Buffer.alloc(0), Buffer.from("x")],
    ["amq.direct", "ключ", Buffer.from([9]), Buffer.alloc(0)],
    ["", "q1", Buffer.from([4, 5]), Buffer.from("last")],
  ] as const;
  sent.forEach(([ex, rk, props, body], i) => w.enq(7, 42, i + 1, ex, rk, props, body));
  const got: ReturnType<typeof readEnq>[] = [];
  const r = new FrameReader((type, body) => {
    assert.equal(type, T.ENQ);
    got.push(readEnq(body));
  });
  r.push(Buffer.concat(out));
  assert.equal(got.length, sent.length);
  sent.forEach(([ex, rk, props, body], i) => {
    const g = got[i]!;
    assert.deepEqual([g.qid, g.epoch, g.seq, g.exchange, g.routingKey], [7, 42, i + 1, ex, rk]);
    assert.deepEqual(g.propertiesRaw, props);
    assert.deepEqual(g.body, body);
  });
});
