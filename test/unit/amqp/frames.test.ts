/**
 * FrameReader: frames split at every byte position parse the same as whole;
 * oversize frames and a wrong frame-end octet are FRAME_ERROR (501), as RabbitMQ
 * closes the connection with frame_error for both.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { FrameReader } from "../../../src/amqp/frames.js";
import { AmqpError } from "../../../src/amqp/errors.js";

function frame(type: number, channel: number, payload: Buffer, end = 0xce): Buffer {
  const b = Buffer.alloc(8 + payload.length);
  b[0] = type;
  b.writeUInt16BE(channel, 1);
  b.writeUInt32BE(payload.length, 3);
  payload.copy(b, 7);
  b[7 + payload.length] = end;
  return b;
}

function collect(reader: FrameReader, chunks: Buffer[]): string[] {
  const out: string[] = [];
  const sink = {
    onFrame: (t: number, ch: number, buf: Buffer, s: number, e: number) => {
      out.push(`${t}/${ch}/${buf.subarray(s, e).toString("hex")}`);
      return true;
    },
  };
  for (const c of chunks) reader.push(c, sink);
  return out;
}

test("frames split at every byte position decode identically", () => {
  const stream = Buffer.concat([frame(1, 1, Buffer.from("000a000b0102", "hex")), frame(2, 1, Buffer.alloc(0)), frame(3, 7, Buffer.from("hello world, a longer body")), frame(8, 0, Buffer.alloc(0))]);
  const whole = collect(new FrameReader(131072), [stream]);
  assert.equal(whole.length, 4);
  for (let i = 0; i <= stream.length; i++) {
    for (let j = i; j <= stream.length; j += 3) {
      const parts = [stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)];
      assert.deepEqual(collect(new FrameReader(131072), parts), whole, `split at ${i},${j}`);
    }
  }
  // one byte at a time
  assert.deepEqual(
    collect(
      new FrameReader(131072),
      [...stream].map((b) => Buffer.from([b])),
    ),
    whole,
  );
});

test("bad frame-end and oversized frames are FRAME_ERROR", () => {
  assert.throws(
    () => collect(new FrameReader(131072), [frame(1, 1, Buffer.from("abcd"), 0x00)]),
    (e: unknown) => e instanceof AmqpError && e.code === 501,
  );
  assert.throws(
    () => collect(new FrameReader(4096), [frame(3, 1, Buffer.alloc(5000))]),
    (e: unknown) => e instanceof AmqpError && e.code === 501,
  );
  // the size check fires on the header alone, before the payload arrives
  const big = frame(3, 1, Buffer.alloc(5000)).subarray(0, 10);
  assert.throws(
    () => collect(new FrameReader(4096), [big]),
    (e: unknown) => e instanceof AmqpError && e.code === 501,
  );
});
