/**
 * Field tables: every RabbitMQ field type, exact byte round trips, amqplib as
 * golden reference, malformed input, and the management-API JSON rendering.
 *
 * Pins down: RabbitMQ's field-table dialect (the errata tags: b signed, s
 * int16, u uint16, l int64, x byte array, D = scale octet + u32), byte-exact
 * pass-through of headers a broker does not interpret, and how RabbitMQ 3.10's
 * management API renders each type (observed via GET /api/queues/<vhost>/<q>).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { AmqpError, FRAME_ERROR } from "../../../src/amqp/errors.js";
import {
  Decimal,
  LongString,
  TypedValue,
  MAX_DEPTH,
  decodeArray,
  decodeTable,
  encodeArray,
  encodeTable,
  encodedTableSize,
  fieldNumber,
  fieldString,
  fieldTag,
  tableToJSON,
  type FieldTable,
  type FieldValue,
} from "../../../src/amqp/field-table.js";
import { amqplibCodec, Rand, randomTable, toAmqplib } from "./fixtures.js";

function amqplibEncode(t: FieldTable): Buffer {
  const scratch = Buffer.alloc(1 << 16);
  const n = amqplibCodec.encodeTable(scratch, toAmqplib(t) as object, 0);
  return Buffer.from(scratch.subarray(0, n));
}

/** One value of every type, each in the representation the decoder returns. */
const EVERY_TYPE: FieldTable = {
  S: "héllo",
  Sbad: new LongString(Buffer.from([0xff, 0xfe, 0x41])),
  t: true,
  f0: false,
  b: new TypedValue("b", -5),
  B: new TypedValue("B", 200),
  s: new TypedValue("s", -300),
  u: new TypedValue("u", 60000),
  I: -70000,
  i: new TypedValue("i", 4000000000),
  l: 2 ** 40,
  lsmall: new TypedValue("l", 7),
  lbig: -(2n ** 63n),
  lmax: 2n ** 63n - 1n,
  f: new TypedValue("f", 1.5),
  d: 2.25,
  dint: new TypedValue("d", 3),
  dneg0: new TypedValue("d", -0),
  dnan: NaN,
  dinf: -Infinity,
  D: new Decimal(2, 12345),
  T: new TypedValue("T", 1700000000),
  Tbig: new TypedValue("T", 2n ** 64n - 1n),
  x: Buffer.from([1, 2, 3]),
  xempty: Buffer.alloc(0),
  V: null,
  A: [1, "a", [true, null, []], { k: "v" }, new Decimal(0, 1), Buffer.from("z")],
  F: { n: { m: 1, e: {} } },
  "": "empty key",
  ключ: "utf-8 key",
};

test("every type encodes and decodes back to the same value and the same bytes", () => {
  const bytes = encodeTable(EVERY_TYPE);
  assert.equal(bytes.length, encodedTableSize(EVERY_TYPE));
  assert.equal(bytes.readUInt32BE(0), bytes.length - 4);
  const { table, end } = decodeTable(bytes, 0);
  assert.equal(end, bytes.length);
  assert.deepEqual(table, EVERY_TYPE);
  assert.ok(Object.is((table.dneg0 as TypedValue).value, -0));
  assert.deepEqual(encodeTable(table), bytes);
});

test("tags on the wire are RabbitMQ's", () => {
  // Each value alone in a table: 4-byte length, key "k", tag, value.
  const cases: [FieldValue, string][] = [
    ["s", "5300000001" + "73"],
    [true, "7401"],
    [new TypedValue("b", -1), "62ff"],
    [new TypedValue("B", 255), "42ff"],
    [new TypedValue("s", -2), "73fffe"],
    [new TypedValue("u", 65535), "75ffff"],
    [-1, "49ffffffff"],
    [new TypedValue("i", 0xffffffff), "69ffffffff"],
    [2 ** 32, "6c0000000100000000"],
    [new TypedValue("l", -1), "6cffffffffffffffff"], // what -1n decodes to: 'l' in int32 range stays typed
    [new TypedValue("f", 1), "663f800000"],
    [0.5, "643fe0000000000000"],
    [new Decimal(3, 1000), "4403000003e8"],
    [Buffer.from([0xab]), "7800000001ab"],
    [[], "4100000000"],
    [new TypedValue("T", 1), "540000000000000001"],
    [{}, "4600000000"],
    [null, "56"],
  ];
  for (const [v, hex] of cases) {
    const b = encodeTable({ k: v });
    assert.equal(b.subarray(6).toString("hex"), hex, `${fieldTag(v)} ${String(v)}`);
    assert.deepEqual(decodeTable(b, 0).table, { k: v });
  }
});

test("plain numbers pick I, l or d; decoding unwraps only what re-encodes identically", () => {
  assert.equal(fieldTag(5), "I");
  assert.equal(fieldTag(-0x80000000), "I");
  assert.equal(fieldTag(0x80000000), "l");
  assert.equal(fieldTag(Number.MAX_SAFE_INTEGER), "l");
  assert.equal(fieldTag(2 ** 60), "d"); // not exactly representable as a safe integer
  assert.equal(fieldTag(1.5), "d");
  assert.equal(fieldTag(7n), "l");
  // 'l' holding an int32 stays typed, 'l' beyond 2^53 becomes bigint, 'd' holding an integer stays typed
  const b = encodeTable({ a: new TypedValue("l", 1), b: 2n ** 60n, c: new TypedValue("d", 10), d: -(2 ** 53) + 1 });
  assert.deepEqual(decodeTable(b, 0).table, { a: new TypedValue("l", 1), b: 2n ** 60n, c: new TypedValue("d", 10), d: -(2 ** 53) + 1 });
  // boundary: -2^53 as 'l' is not a safe integer -> bigint
  const edge = encodeTable({ e: -(2n ** 53n) });
  assert.deepEqual(decodeTable(edge, 0).table, { e: -(2n ** 53n) });
  assert.deepEqual(encodeTable(decodeTable(edge, 0).table), edge);
});

test("golden bytes against amqplib for random nested tables, both directions", () => {
  const r = new Rand(11);
  for (let i = 0; i < 500; i++) {
    const t = randomTable(r);
    const ours = encodeTable(t);
    assert.deepEqual(ours, amqplibEncode(t));
    assert.deepEqual(decodeTable(ours, 0).table, t);
    assert.deepEqual(encodeTable(decodeTable(ours, 0).table), ours);
  }
});

test("arbitrary well-formed bytes round-trip byte-exactly (headers pass through untouched)", () => {
  // Build tables directly from random tags/bytes, including invalid UTF-8 longstr and odd doubles.
  const r = new Rand(12);
  const tags = "tbBsuIilfdDSxTV";
  const sizes: Record<string, number> = { t: 1, b: 1, B: 1, s: 2, u: 2, I: 4, i: 4, l: 8, f: 4, d: 8, D: 5, T: 8, V: 0 };
  for (let i = 0; i < 2000; i++) {
    const parts: Buffer[] = [];
    for (let k = r.int(0, 5); k > 0; k--) {
      const tag = r.pick([...tags]);
      let val: Buffer;
      if (tag === "S" || tag === "x") {
        const body = r.bytes(12);
        val = Buffer.concat([Buffer.from([0, 0, 0, body.length]), body]);
      } else val = Buffer.from(Array.from({ length: sizes[tag]! }, () => r.int(0, 255)));
      if (tag === "t") val[0] = r.int(0, 1); // RabbitMQ itself normalises other octets to 1
      parts.push(Buffer.from([2, 0x6b, 0x30 + k]), Buffer.from(tag), val);
    }
    const body = Buffer.concat(parts);
    const bytes = Buffer.concat([Buffer.from([0, 0, 0, 0]), body]);
    bytes.writeUInt32BE(body.length, 0);
    const { table } = decodeTable(bytes, 0);
    assert.deepEqual(encodeTable(table), bytes, bytes.toString("hex"));
  }
});

test("longstr that is not valid UTF-8 decodes to LongString and re-encodes as 'S'", () => {
  // F0 90 80 followed by 'A': a truncated 4-byte sequence whose U+FFFD has the same byte length.
  for (const raw of [[0xf0, 0x90, 0x80, 0x41], [0xff], [0xed, 0xa0, 0x80], [0xc3]]) {
    const t = { h: new LongString(Buffer.from(raw)) };
    const b = encodeTable(t);
    assert.equal(b[4 + 2], 0x53);
    const back = decodeTable(b, 0).table;
    assert.ok(back.h instanceof LongString);
    assert.deepEqual(encodeTable(back), b);
  }
  // a genuine U+FFFD in valid UTF-8 stays a string
  assert.deepEqual(decodeTable(encodeTable({ h: "a\ufffdb" }), 0).table, { h: "a\ufffdb" });
});

test("truncated tables at every length throw AmqpError FRAME_ERROR; garbage never throws anything else", () => {
  // RabbitMQ: a table overrunning its method is a FRAME_ERROR (connection-level).
  const bytes = encodeTable(EVERY_TYPE);
  for (let end = 0; end < bytes.length; end++) {
    assert.throws(
      () => decodeTable(bytes, 0, end),
      (e: unknown) => e instanceof AmqpError && e.code === FRAME_ERROR && e.hard,
    );
  }
  // lying length prefix: inner table claims more than the outer has
  const lying = Buffer.from(bytes);
  lying.writeUInt32BE(lying.length, 0);
  assert.throws(() => decodeTable(lying, 0), AmqpError);
  // unknown tag
  assert.throws(
    () => decodeTable(Buffer.from("00000003016b5a", "hex"), 0),
    (e: unknown) => e instanceof AmqpError && /unknown field type/.test(e.text),
  );
  const r = new Rand(13);
  for (let i = 0; i < 20000; i++) {
    const b = Buffer.from(bytes);
    for (let k = r.int(1, 3); k > 0; k--) b[r.int(0, b.length - 1)] = r.int(0, 255);
    let table: FieldTable;
    try {
      table = decodeTable(b, 0).table;
    } catch (e) {
      assert.ok(e instanceof AmqpError, String(e));
      continue;
    }
    // Keys are decoded as UTF-8: a mangled key may grow past 255 bytes (U+FFFD), which the encoder refuses.
    try {
      encodeTable(table);
    } catch (e) {
      assert.ok(e instanceof RangeError && /key too long/.test(e.message), String(e));
    }
  }
});

test("nesting deeper than MAX_DEPTH is rejected without exhausting the stack", () => {
  // 100k nested arrays: 5 bytes each ('A' + length); a recursive decoder without a limit would overflow.
  const depth = 100_000;
  const b = Buffer.alloc(4 + 3 + depth * 5);
  b.writeUInt32BE(b.length - 4, 0);
  b[4] = 1;
  b[5] = 0x6b;
  let o = 6;
  for (let i = 0; i < depth; i++) {
    b[o] = 0x41;
    b.writeUInt32BE(b.length - o - 5, o + 1);
    o += 5;
  }
  b[o] = 0x56; // innermost: void inside the last array (length counts it)
  assert.throws(
    () => decodeTable(b, 0),
    (e: unknown) => e instanceof AmqpError && e.code === FRAME_ERROR,
  );
  // MAX_DEPTH levels are fine
  let v: FieldValue = "leaf";
  for (let i = 0; i < MAX_DEPTH - 1; i++) v = [v];
  const ok = encodeTable({ k: v });
  assert.deepEqual(decodeTable(ok, 0).table, { k: v });
  // cyclic objects cannot be encoded (RangeError, not a hang)
  const cyc: FieldTable = {};
  cyc.self = cyc;
  assert.throws(() => encodeTable(cyc), RangeError);
});

test("decodeTable honours offset and limit; arrays standalone", () => {
  const t = encodeTable({ a: 1 });
  const padded = Buffer.concat([Buffer.from([9, 9]), t, Buffer.from([9])]);
  assert.deepEqual(decodeTable(padded, 2), { table: { a: 1 }, end: 2 + t.length });
  assert.throws(() => decodeTable(padded, 2, 2 + t.length - 1), AmqpError);
  const arr = encodeArray([1, "x", null]);
  assert.deepEqual(decodeArray(arr, 0), { array: [1, "x", null], end: arr.length });
  assert.deepEqual(encodeTable(undefined), Buffer.alloc(4));
  assert.equal(encodedTableSize(undefined), 4);
  // undefined values are skipped, "__proto__" is an ordinary key
  assert.deepEqual(encodeTable({ a: undefined as unknown as FieldValue }), Buffer.alloc(4));
  const proto = Buffer.from("0000000d095f5f70726f746f5f5f7401", "hex");
  proto.writeUInt32BE(proto.length - 4, 0);
  const pt = decodeTable(proto, 0).table;
  assert.equal(Object.getPrototypeOf(pt), Object.prototype);
  assert.deepEqual(Object.keys(pt), ["__proto__"]);
  assert.deepEqual(encodeTable(pt), proto);
});

test("fieldNumber / fieldString read x-arguments whatever type the client chose", () => {
  // Clients send x-max-length as I (amqplib), l (Java Long), s, b, or even d.
  assert.equal(fieldNumber(5), 5);
  assert.equal(fieldNumber(new TypedValue("s", 5)), 5);
  assert.equal(fieldNumber(new TypedValue("l", 2 ** 40)), 2 ** 40);
  assert.equal(fieldNumber(10n), 10);
  assert.equal(fieldNumber(new Decimal(2, 150)), 1.5);
  assert.equal(fieldNumber("5"), undefined);
  assert.equal(fieldNumber(undefined), undefined);
  assert.equal(fieldString("lazy"), "lazy");
  assert.equal(fieldString(Buffer.from("x")), "x");
  assert.equal(fieldString(new LongString(Buffer.from("y"))), "y");
  assert.equal(fieldString(3), undefined);
});

test("tableToJSON renders like RabbitMQ 3.10's management API", () => {
  // Observed: {"A":[1,"a",[true],{"k":"v"}],"B":200,"D":2.12345,"F":{"n":{"m":1}},"I":-70000,"S":"héllo",
  //  "T":1700000000,"V":"undefined","b":-5,"bad":"Not UTF-8, base64 is: //5B","d":2.25,"dint":3.0,"f":1.5,
  //  "i":4000000000,"l":1099511627776,"s":-300,"t":true,"u":60000,"x":"\u0001\u0002\u0003"}
  const t: FieldTable = {
    A: [1, "a", [true], { k: "v" }],
    B: new TypedValue("B", 200),
    D: new Decimal(2, 12345),
    F: { n: { m: 1 } },
    I: -70000,
    S: "héllo",
    T: new TypedValue("T", 1700000000),
    V: null,
    b: new TypedValue("b", -5),
    bad: new LongString(Buffer.from([0xff, 0xfe, 0x41])),
    d: 2.25,
    dint: new TypedValue("d", 3),
    f: new TypedValue("f", 1.5),
    i: new TypedValue("i", 4000000000),
    l: 1099511627776,
    s: new TypedValue("s", -300),
    t: true,
    u: new TypedValue("u", 60000),
    x: Buffer.from([1, 2, 3]),
  };
  assert.deepEqual(tableToJSON(t), {
    A: [1, "a", [true], { k: "v" }],
    B: 200,
    D: 2.12345,
    F: { n: { m: 1 } },
    I: -70000,
    S: "héllo",
    T: 1700000000,
    V: "undefined",
    b: -5,
    bad: "Not UTF-8, base64 is: //5B",
    d: 2.25,
    dint: 3,
    f: 1.5,
    i: 4000000000,
    l: 1099511627776,
    s: -300,
    t: true,
    u: 60000,
    x: "\u0001\u0002\u0003",
  });
  assert.deepEqual(tableToJSON(undefined), {});
});
