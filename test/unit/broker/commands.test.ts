/**
 * Topology commands as data: what decodeCommand accepts from a definitions log line or a
 * peer, and what it refuses with a clear error. (warren's own format: nothing to compare
 * with RabbitMQ.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Decimal, LongString, TypedValue } from "../../../src/amqp/field-table.js";
import { command, COMMAND_FORMAT, CommandFormatError, decodeCommand, encodeCommand, type TopologyCommand } from "../../../src/broker/commands.js";

test("encode then decode is the identity for every op, through JSON", () => {
  const cmds: TopologyCommand[] = [
    command("vhost.add", { name: "v", description: "d", tags: ["a"] }),
    command("vhost.update", { name: "v", description: "", tags: [] }),
    command("vhost.delete", { name: "v" }),
    command("user.add", { name: "u", passwordHash: "aGFzaA==", hashingAlgorithm: "warren_scrypt", tags: [], limits: { "max-connections": 3 } }),
    command("user.delete", { name: "u" }),
    command("permission.set", { user: "u", vhost: "v", configure: ".*", write: "", read: "^a" }),
    command("permission.clear", { user: "u", vhost: "v" }),
    command("topic-permission.set", { user: "u", vhost: "v", exchange: "amq.topic", write: ".*", read: ".*" }),
    command("topic-permission.clear", { user: "u", vhost: "v" }),
    command("exchange.declare", { vhost: "v", name: "x", type: "topic", durable: true, autoDelete: false, internal: false, arguments: { "alternate-exchange": "ae" } }),
    command("exchange.delete", { vhost: "v", name: "x", ifUnused: true }),
    command("queue.declare", { vhost: "v", name: "q", durable: true, autoDelete: false, arguments: { "x-max-length": 10 } }),
    command("queue.delete", { vhost: "v", name: "q", ifEmpty: true }),
    command("bind", { vhost: "v", source: "x", destination: "q", destinationType: "queue", routingKey: "a.*", arguments: {} }),
    command("unbind", { vhost: "v", source: "x", destination: "x2", destinationType: "exchange", routingKey: "", arguments: { k: "v" } }),
    command("policy.set", { vhost: "v", name: "p", value: { pattern: ".*", definition: { "max-length": 1 } } }),
    command("policy.clear", { vhost: "v", name: "p" }),
    command("parameter.set", { component: "vhost-limits", vhost: "v", name: "limits", value: { value: { "max-queues": 1 } } }),
    command("parameter.clear", { component: "vhost-limits", vhost: "v", name: "limits" }),
    command("global-parameter.set", { name: "cluster_name", value: { name: "cluster_name", value: "c" } }),
    command("global-parameter.clear", { name: "cluster_name" }),
  ];
  for (const c of cmds) {
    const wire = JSON.parse(JSON.stringify(encodeCommand(c))) as Record<string, unknown>;
    assert.equal(wire["v"], COMMAND_FORMAT);
    assert.deepEqual(decodeCommand(wire), c, c.op);
  }
});

test("records without a format are format 1 and get the defaults older warrens left out", () => {
  assert.deepEqual(decodeCommand({ op: "exchange.declare", vhost: "/", name: "x", type: "direct" }), {
    op: "exchange.declare",
    vhost: "/",
    name: "x",
    type: "direct",
    durable: true,
    autoDelete: false,
    internal: false,
    arguments: {},
  });
  assert.deepEqual(decodeCommand({ op: "topic-permission.clear", user: "u", vhost: "/" }), { op: "topic-permission.clear", user: "u", vhost: "/" });
});

test("bad records are refused naming the op and the field; unknown fields are dropped", () => {
  const bad: [unknown, RegExp][] = [
    [null, /must be a JSON object/],
    [[1], /must be a JSON object/],
    [{ op: "queue.declar", vhost: "/", name: "q" }, /unknown command op 'queue.declar'/],
    [{ op: "queue.delete", vhost: "/" }, /queue.delete: missing field 'name'/],
    [{ op: "queue.declare", vhost: "/", name: "q", durable: "yes", autoDelete: false, arguments: {} }, /queue.declare: field 'durable' must be a boolean/],
    [{ op: "bind", vhost: "/", source: "x", destination: "q", destinationType: "topic", routingKey: "", arguments: {} }, /field 'destinationType' must be 'queue' or 'exchange'/],
    [{ op: "vhost.add", name: "v", description: "", tags: "a,b" }, /field 'tags' must be a list of strings/],
    [{ op: "user.add", name: "u", passwordHash: "", hashingAlgorithm: "warren_scrypt", tags: [], limits: { "max-connections": "3" } }, /field 'limits' must be an object of numbers/],
    [{ v: "1", op: "vhost.delete", name: "v" }, /command format '1' is not a version number/],
    [{ v: COMMAND_FORMAT + 1, op: "vhost.delete", name: "v" }, /newer than this warren understands/],
  ];
  for (const [raw, re] of bad)
    assert.throws(
      () => decodeCommand(raw),
      (e: unknown) => e instanceof CommandFormatError && re.test((e as Error).message),
      JSON.stringify(raw),
    );
  assert.deepEqual(decodeCommand({ op: "vhost.delete", name: "v", injected: { a: 1 } }), { op: "vhost.delete", name: "v" });
});

test("field tables come back exactly as sent: int8, int64, bytes, decimals, nested tables (also from a log of JSON-ified tables)", () => {
  const args = {
    "x-max-length": new TypedValue("b", 7),
    big: 2n ** 62n,
    bytes: Buffer.from([0, 255]),
    dec: new Decimal(2, 314),
    raw: new LongString(Buffer.from([0xff, 0xfe])),
    nested: { a: [1, "two", new TypedValue("s", -3)] },
    plain: "str",
    flag: true,
    none: null,
  };
  const c = command("queue.declare", { vhost: "/", name: "q", durable: true, autoDelete: false, arguments: args });
  const wire = JSON.parse(JSON.stringify(encodeCommand(c))) as Record<string, unknown>;
  assert.deepEqual(decodeCommand(wire), c);
  // what warren logged before tables were stored encoded: JSON.stringify of the live objects
  const legacy = JSON.parse(JSON.stringify({ op: "bind", vhost: "/", source: "x", destination: "q", destinationType: "queue", routingKey: "", arguments: { ...args, big: 5 } })) as Record<
    string,
    unknown
  >;
  const back = decodeCommand(legacy);
  assert.ok(back.op === "bind");
  assert.deepEqual(back.arguments, { ...args, big: 5 });
  assert.throws(() => decodeCommand({ ...wire, arguments: { $amqp: "AAAA/w==" } }), /field 'arguments' must be a field table/);
});
