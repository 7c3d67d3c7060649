/**
 * Method codec (src/amqp/gen/methods.ts) against amqplib's codec as the golden
 * reference, plus round trips and malformed input for every method id.
 *
 * Pins down: the AMQP 0-9-1 method wire layout as RabbitMQ and its clients
 * speak it (bit packing, string/table layouts, frame envelope), and RabbitMQ's
 * answer to undecodable arguments — FRAME_ERROR "cannot decode <<...>>" with
 * the method's class/method id, also for trailing bytes (observed on
 * RabbitMQ 3.10.8).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AmqpError, COMMAND_INVALID, FRAME_ERROR } from "../../../src/amqp/errors.js";
import * as M from "../../../src/amqp/gen/methods.js";
import type { FieldTable } from "../../../src/amqp/field-table.js";
import { amqplib, BINARY_FIELDS, Rand, randomTable, toAmqplib } from "./fixtures.js";
import { repoRoot } from "../../helpers/broker.js";

const ALL_IDS = [...M.METHOD_INFO.keys()];

interface ArgSpec {
  name: string;
  type: string;
  binary: boolean;
}

/** Argument names/types as amqplib (not our generator) knows them. */
function argSpecs(id: number): ArgSpec[] {
  const info = amqplib.info(id)!;
  const ours = M.METHOD_INFO.get(id)!;
  return info.args.map((a) => ({
    name: a.name,
    type: a.type,
    binary: BINARY_FIELDS.has(`${ours.name}.${a.name.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())}`),
  }));
}

function randomArgs(id: number, r: Rand): Record<string, unknown> {
  const a: Record<string, unknown> = {};
  for (const f of argSpecs(id)) {
    switch (f.type) {
      case "bit":
        a[f.name] = r.bool();
        break;
      case "octet":
        a[f.name] = r.int(0, 255);
        break;
      case "short":
        a[f.name] = r.int(0, 65535);
        break;
      case "long":
        a[f.name] = r.int(0, 0xffffffff);
        break;
      case "longlong":
      case "timestamp":
        a[f.name] = r.u64();
        break;
      case "shortstr":
        a[f.name] = r.str(255);
        break;
      case "longstr":
        a[f.name] = f.binary ? r.bytes(40) : r.str(300);
        break;
      case "table":
        a[f.name] = randomTable(r);
        break;
      default:
        throw new Error(f.type);
    }
  }
  return a;
}

function forAmqplib(id: number, args: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of argSpecs(id)) {
    const v = args[f.name];
    if (f.type === "table") out[f.name] = toAmqplib(v as FieldTable);
    else if (f.type === "longstr" && typeof v === "string") out[f.name] = Buffer.from(v);
    else out[f.name] = v;
  }
  return out;
}

function decodeFrame(frame: Buffer): unknown {
  return M.decodeMethod(frame.readUInt32BE(7), frame, 11, frame.length - 1);
}

test("every method in the spec JSON has an id constant, info and codec (incl. RabbitMQ extensions)", () => {
  // RabbitMQ's extensions must be present: confirms, nack, e2e bindings, blocked, update-secret.
  const spec = JSON.parse(readFileSync(join(repoRoot, "..", "shared", "spec", "amqp-rabbitmq-0.9.1.json"), "utf8")) as {
    classes: { name: string; id: number; methods: { name: string; id: number; synchronous?: boolean; content?: boolean }[] }[];
  };
  let n = 0;
  for (const c of spec.classes) {
    for (const m of c.methods) {
      n++;
      const id = (c.id << 16) | m.id;
      const info = M.METHOD_INFO.get(id);
      assert.ok(info, `${c.name}.${m.name}`);
      assert.equal(info.name, `${c.name}.${m.name}`);
      assert.equal(info.classId, c.id);
      assert.equal(info.methodId, m.id);
      assert.equal(info.synchronous, !!m.synchronous);
      assert.equal(info.content, !!m.content);
      assert.equal(M.methodName(id), info.name);
    }
  }
  assert.equal(M.METHOD_INFO.size, n);
  assert.equal(M.BASIC_PUBLISH, 0x003c0028);
  assert.equal(M.CONFIRM_SELECT, (85 << 16) | 10);
  assert.equal(M.BASIC_NACK, (60 << 16) | 120);
  assert.equal(M.EXCHANGE_UNBIND_OK, (40 << 16) | 51);
  assert.equal(M.CONNECTION_UPDATE_SECRET, (10 << 16) | 70);
  assert.equal(M.CLASS_CONFIRM, 85);
  assert.equal(M.CLASS_TX, 90);
  assert.deepEqual(M.METHOD_INFO.get(M.BASIC_GET)!.responses, [M.BASIC_GET_OK, M.BASIC_GET_EMPTY]);
  assert.deepEqual(M.METHOD_INFO.get(M.QUEUE_DECLARE)!.responses, [M.QUEUE_DECLARE_OK]);
  assert.deepEqual(M.METHOD_INFO.get(M.BASIC_RECOVER)!.responses, [M.BASIC_RECOVER_OK]);
  assert.deepEqual(M.METHOD_INFO.get(M.BASIC_PUBLISH)!.responses, []);
  assert.equal(M.methodName(0x00630001), "unknown(99,1)");
});

test("golden bytes: our encoder == amqplib's encoder, and we decode amqplib's frames, for every method", () => {
  // Pins the wire layout shared by RabbitMQ clients, including bit packing.
  const r = new Rand(1);
  for (const id of ALL_IDS) {
    for (let i = 0; i < 30; i++) {
      const args = randomArgs(id, r);
      const theirs = amqplib.encodeMethod(id, 7, forAmqplib(id, args));
      const ours = M.encodeMethodFrame(7, id, args);
      assert.deepEqual(ours, theirs, `${M.methodName(id)} ${JSON.stringify(args)}`);
      assert.deepEqual(decodeFrame(theirs), args, M.methodName(id));
    }
  }
});

test("golden bytes: hand-checked frames", () => {
  // basic.qos(prefetch-size 0, prefetch-count 10, global true) on channel 1
  assert.equal(M.encodeBasicQosFrame(1, { prefetchCount: 10, global: true }).toString("hex"), "0100010000000b" + "003c000a00000000000a01ce");
  // queue.declare: five bits packed in one octet, LSB first: passive=1 durable=2 exclusive=4 auto-delete=8 nowait=16
  const f = M.encodeQueueDeclareFrame(2, { queue: "q", durable: true, autoDelete: true });
  assert.equal(f.toString("hex"), "010002" + "0000000d" + "0032000a" + "0000" + "0171" + "0a" + "00000000" + "ce");
  // basic.nack: multiple=1, requeue=2 (requeue defaults to true per the spec)
  const nack = M.encodeBasicNackFrame(1, { deliveryTag: 5 });
  assert.equal(nack.toString("hex"), "010001" + "0000000d" + "003c0078" + "0000000000000005" + "02" + "ce");
  assert.deepEqual(decodeFrame(nack), { deliveryTag: 5, multiple: false, requeue: true });
  // access.request has five bits: exclusive passive active write read; defaults passive/active/write/read = true
  const ar = M.encodeAccessRequestFrame(0, {});
  assert.equal(ar.subarray(11, -1).toString("hex"), "052f64617461" + "1e");
  // empty-args method
  assert.equal(M.encodeTxSelectFrame(3).toString("hex"), "010003000000040" + "05a000ace");
});

test("defaults: missing arguments take the spec's defaults", () => {
  // RabbitMQ's generator fills the same defaults; amqplib too.
  for (const id of ALL_IDS) {
    // amqplib's copy of the table gives access.request's passive default false; ours says true (hand-checked above)
    if (id === M.ACCESS_REQUEST) continue;
    const ours = M.encodeMethodFrame(0, id, {});
    const fields: Record<string, unknown> = {};
    // amqplib insists on tables/longstrs without defaults; give it what our defaults mean
    for (const f of argSpecs(id)) {
      if (f.type === "table") fields[f.name] = {};
      if (f.type === "longstr" && (id === M.CONNECTION_START_OK || id === M.CONNECTION_SECURE || id === M.CONNECTION_SECURE_OK || id === M.CONNECTION_UPDATE_SECRET || id === M.CHANNEL_OPEN_OK))
        fields[f.name] = Buffer.alloc(0);
      if (["exchange", "routingKey", "consumerTag", "destination", "source", "reason", "queue", "replyText"].includes(f.name)) fields[f.name] = "";
      if (["deliveryTag", "replyCode", "classId", "methodId", "messageCount", "consumerCount", "active"].includes(f.name)) fields[f.name] = f.type === "bit" ? false : 0;
    }
    let theirs: Buffer;
    try {
      theirs = amqplib.encodeMethod(id, 0, fields);
    } catch (e) {
      assert.fail(`${M.methodName(id)}: amqplib: ${String(e)}`);
    }
    assert.deepEqual(ours, theirs, M.methodName(id));
  }
});

test("random round trip for every method id, both with all args and through decodeMethod", () => {
  const r = new Rand(2);
  for (const id of ALL_IDS) {
    for (let i = 0; i < 50; i++) {
      const args = randomArgs(id, r);
      const frame = M.encodeMethodFrame(r.int(0, 65535), id, args);
      assert.equal(frame[0], 1);
      assert.equal(frame.readUInt32BE(3), frame.length - 8);
      assert.equal(frame[frame.length - 1], 0xce);
      const back = decodeFrame(frame) as Record<string, unknown>;
      assert.deepEqual(back, args);
      assert.deepEqual(M.encodeMethodFrame(frame.readUInt16BE(1), id, back), frame);
      // decoding inside a larger buffer at an offset must not read outside [off, end)
      const padded = Buffer.concat([Buffer.from([0xaa, 0xbb, 0xcc]), frame, Buffer.from([0xdd, 0xee])]);
      assert.deepEqual(M.decodeMethod(id, padded, 14, 3 + frame.length - 1), args);
    }
  }
});

test("decoded objects of one method all have the same keys in the same order", () => {
  // V8 monomorphism: the server's handlers see one hidden class per method.
  const r = new Rand(3);
  for (const id of ALL_IDS) {
    const a = decodeFrame(M.encodeMethodFrame(0, id, randomArgs(id, r))) as object;
    const b = decodeFrame(M.encodeMethodFrame(0, id, {})) as object;
    assert.deepEqual(Object.keys(a), Object.keys(b));
    assert.deepEqual(
      Object.keys(a),
      argSpecs(id).map((f) => f.name),
    );
  }
});

test("truncated arguments at every length, and trailing bytes, throw AmqpError FRAME_ERROR with RabbitMQ's text", () => {
  // RabbitMQ: connection.close 501 "FRAME_ERROR - cannot decode <<...>>", class/method of the method.
  const r = new Rand(4);
  for (const id of ALL_IDS) {
    for (let i = 0; i < 5; i++) {
      const frame = M.encodeMethodFrame(1, id, randomArgs(id, r));
      const argsEnd = frame.length - 1;
      for (let end = 11; end < argsEnd; end++) {
        assert.throws(
          () => M.decodeMethod(id, frame, 11, end),
          (e: unknown) => e instanceof AmqpError && e.code === FRAME_ERROR && e.classId === id >>> 16 && e.methodId === (id & 0xffff) && e.hard && e.text.startsWith("FRAME_ERROR - cannot decode <<"),
          `${M.methodName(id)} cut at ${end - 11}`,
        );
      }
      const extra = Buffer.concat([frame.subarray(0, argsEnd), Buffer.from([0, 0xce])]);
      assert.throws(() => M.decodeMethod(id, extra, 11, argsEnd + 1), AmqpError);
    }
  }
});

test("RabbitMQ's exact reply text for a truncated queue.declare", () => {
  // Observed on RabbitMQ 3.10.8 for payload 0032000a 0000 05 6162.
  const buf = Buffer.from("0032000a0000056162", "hex");
  assert.throws(
    () => M.decodeMethod(M.QUEUE_DECLARE, buf, 4, buf.length),
    (e: unknown) => e instanceof AmqpError && e.text === "FRAME_ERROR - cannot decode <<0,0,5,97,98>>" && e.classId === 50 && e.methodId === 10,
  );
  // long payloads: cut to 255 bytes ending in "..." like RabbitMQ
  const long = Buffer.concat([Buffer.from("0032000a0000c8", "hex"), Buffer.alloc(200, 0x61)]);
  assert.throws(
    () => M.decodeMethod(M.QUEUE_DECLARE, long, 4, long.length),
    (e: unknown) => e instanceof AmqpError && Buffer.byteLength(e.text) === 255 && e.text.endsWith("...") && e.text.startsWith("FRAME_ERROR - cannot decode <<0,0,200,97,97,"),
  );
});

test("random garbage never throws anything but AmqpError", () => {
  const r = new Rand(5);
  for (const id of ALL_IDS) {
    for (let i = 0; i < 200; i++) {
      const bytes = r.bytes(64);
      try {
        M.decodeMethod(id, bytes, 0, bytes.length);
      } catch (e) {
        assert.ok(e instanceof AmqpError, `${M.methodName(id)} ${bytes.toString("hex")}: ${String(e)}`);
      }
    }
    // mutate valid frames (tables included) byte by byte
    const frame = M.encodeMethodFrame(1, id, randomArgs(id, r));
    for (let i = 11; i < frame.length - 1; i++) {
      const copy = Buffer.from(frame);
      copy[i] = r.int(0, 255);
      try {
        M.decodeMethod(id, copy, 11, copy.length - 1);
      } catch (e) {
        assert.ok(e instanceof AmqpError, `${M.methodName(id)} @${i}: ${String(e)}`);
      }
    }
  }
});

test("unknown method id throws COMMAND_INVALID, a hard error", () => {
  for (const id of [(60 << 16) | 99, (77 << 16) | 10, 0]) {
    assert.throws(
      () => M.decodeMethod(id, Buffer.alloc(0), 0, 0),
      (e: unknown) => e instanceof AmqpError && e.code === COMMAND_INVALID && e.hard,
    );
  }
  assert.throws(() => M.encodeMethodFrame(0, 12345, {}), RangeError);
});

test("encoder rejects shortstr over 255 bytes", () => {
  assert.throws(() => M.encodeQueueDeclareFrame(1, { queue: "x".repeat(256) }), RangeError);
  assert.doesNotThrow(() => M.encodeQueueDeclareFrame(1, { queue: "x".repeat(255) }));
  assert.throws(() => M.encodeBasicPublishFrame(1, { routingKey: "é".repeat(128) }), RangeError);
});

test("longlong round-trips exactly up to 2^53", () => {
  for (const tag of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 52 + 1, Number.MAX_SAFE_INTEGER]) {
    const f = M.encodeBasicAckFrame(1, { deliveryTag: tag, multiple: true });
    assert.deepEqual(decodeFrame(f), { deliveryTag: tag, multiple: true });
  }
});
