/**
 * basic.* content properties and content header frames, with amqplib's codec
 * as the golden reference.
 *
 * Pins down: the property-flag layout (bit 15 = content-type ... bit 2 =
 * cluster-id, values in flag order) that every RabbitMQ client uses, for every
 * one of the 2^14 subsets of properties; and that malformed property lists
 * are rejected with FRAME_ERROR only.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AmqpError, FRAME_ERROR } from "../../../src/amqp/errors.js";
import { BASIC_PROPERTY_NAMES, decodeProperties, encodeContentHeaderFrame, encodeProperties, encodedPropertiesSize, type BasicProperties } from "../../../src/amqp/properties.js";
import { amqplib, Rand, randomTable, toAmqplib } from "./fixtures.js";
import { repoRoot } from "../../helpers/broker.js";

function randomProp(name: string, r: Rand): unknown {
  switch (name) {
    case "headers":
      return randomTable(r);
    case "deliveryMode":
    case "priority":
      return r.int(0, 255);
    case "timestamp":
      return r.u64();
    default:
      return r.str(255);
  }
}

function full(p: BasicProperties): BasicProperties {
  const out: Record<string, unknown> = {};
  for (const n of BASIC_PROPERTY_NAMES) out[n] = p[n];
  return out as BasicProperties;
}

test("property order matches the spec JSON's basic class", () => {
  const spec = JSON.parse(readFileSync(join(repoRoot, "..", "shared", "spec", "amqp-rabbitmq-0.9.1.json"), "utf8")) as {
    classes: { name: string; properties?: { name: string }[] }[];
  };
  const basic = spec.classes.find((c) => c.name === "basic")!;
  assert.deepEqual(
    basic.properties!.map((p) => p.name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())),
    [...BASIC_PROPERTY_NAMES],
  );
});

test("every subset of the 14 properties: bytes equal amqplib's, and decode back", () => {
  const r = new Rand(21);
  for (let mask = 0; mask < 1 << 14; mask++) {
    const p: Record<string, unknown> = {};
    BASIC_PROPERTY_NAMES.forEach((n, i) => {
      if (mask & (1 << i)) p[n] = randomProp(n, r);
    });
    const props = p as BasicProperties;
    const raw = encodeProperties(props);
    assert.equal(raw.length, encodedPropertiesSize(props));
    const bodySize = r.u64();
    const frame = encodeContentHeaderFrame(5, 60, bodySize, raw);
    const theirs = amqplib.encodeProperties(60, 5, bodySize, props.headers ? { ...props, headers: toAmqplib(props.headers) } : props);
    assert.deepEqual(frame, theirs, JSON.stringify(p));
    const back = decodeProperties(theirs, 19, theirs.length - 1);
    assert.deepEqual(back, full(props));
    assert.deepEqual(Object.keys(back), [...BASIC_PROPERTY_NAMES]); // one shape for every message
  }
});

test("content header frame layout", () => {
  // type 2, channel, size, class 60, weight 0, body size u64, flags, frame-end
  const f = encodeContentHeaderFrame(1, 60, 2 ** 32 + 5, encodeProperties({ deliveryMode: 2 }));
  assert.equal(f.toString("hex"), "02" + "0001" + "0000000f" + "003c" + "0000" + "0000000100000005" + "1000" + "02" + "ce");
  assert.equal(encodeProperties({}).toString("hex"), "0000");
});

test("truncated property lists at every length throw FRAME_ERROR; trailing bytes too", () => {
  const props: BasicProperties = {
    contentType: "text/plain",
    headers: { a: 1, b: [true, "x"] },
    deliveryMode: 2,
    priority: 9,
    correlationId: "c",
    timestamp: 1700000000,
    clusterId: "z",
  };
  const raw = encodeProperties(props);
  for (let end = 0; end < raw.length; end++) {
    assert.throws(
      () => decodeProperties(raw, 0, end),
      (e: unknown) => e instanceof AmqpError && e.code === FRAME_ERROR && e.hard,
    );
  }
  const extra = Buffer.concat([raw, Buffer.from([0])]);
  assert.throws(() => decodeProperties(extra, 0, extra.length), AmqpError);
  const r = new Rand(22);
  for (let i = 0; i < 20000; i++) {
    const b = Buffer.from(raw);
    b[r.int(0, b.length - 1)] = r.int(0, 255);
    try {
      decodeProperties(b, 0, b.length);
    } catch (e) {
      assert.ok(e instanceof AmqpError, String(e));
    }
  }
});

test("continuation flag words are followed; unknown property bits are rejected", () => {
  // flags 0x8001 (content-type + continuation), then 0x0000, then the value
  const ok = Buffer.from("80010000" + "0161", "hex");
  assert.equal(decodeProperties(ok, 0, ok.length).contentType, "a");
  const bad = Buffer.from("80018000" + "0161", "hex");
  assert.throws(() => decodeProperties(bad, 0, bad.length), AmqpError);
  const cut = Buffer.from("8001", "hex");
  assert.throws(() => decodeProperties(cut, 0, cut.length), AmqpError);
});
