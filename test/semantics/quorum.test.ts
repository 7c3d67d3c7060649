/**
 * Semantics: what a client sees of a quorum queue (x-queue-type: quorum), as RabbitMQ 3.10.8's
 * rabbit_quorum_queue shows it on any node — a single node included:
 * - the declarations it refuses (406, RabbitMQ's texts and the order it checks in: a server-named
 *   queue first, then x-queue-type, the type's argument values, arguments only another queue type
 *   knows, then the auto-delete / exclusive / non-durable flags) and the ones it accepts;
 * - redeclare equivalence over the quorum type's own arguments (x-queue-type among them);
 * - x-delivery-count on redeliveries (an AMQP long; basic.get always carries it), x-delivery-limit
 *   and the delivery-limit policy (the return past the limit drops the message or dead-letters it
 *   with reason delivery_limit), redelivered flags;
 * - basic.consume refused on a channel with a global prefetch (540), consumer arguments per type;
 * - policies: no policy key changes a queue's type, delivery-limit validated, apply-to as 3.10;
 * - /api/queues/{vhost}/{name}: type "quorum", leader, members, online and the other fields
 *   RabbitMQ shows for a quorum queue (and not a classic queue's).
 * Classic queues are unchanged (the rest of the semantics suite), except where RabbitMQ's classic
 * type refuses a quorum-only argument, pinned here too.
 *
 * Runs against warren (in-process) or, with WARREN_TEST_URL + WARREN_TEST_MGMT_URL, against a real
 * RabbitMQ 3.10 (CI's step 3 does), in a fresh vhost of its own either way.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import amqp from "amqplib";
import { startBroker, type TestBroker } from "../helpers/broker.js";
import { Api, amqpUrl, enc, eventually } from "../http/helpers.js";
import { RawClient, M, args as rawArgs, Reader, type Frame } from "../helpers/raw-client.js";
import { waitFor } from "../helpers/wait.js";
import { Inbox, uniq } from "./sem-helpers.js";

let b: TestBroker;
let api: Api;
let V: string;
let url: string;
let conn: amqp.ChannelModel;
const QUORUM = { "x-queue-type": "quorum" } as const;

before(async () => {
  b = await startBroker({ mgmt: true });
  if (b.mgmtUrl === undefined) throw new Error("these tests need the management API (WARREN_TEST_MGMT_URL)");
  api = new Api(b.mgmtUrl);
  V = uniq("quorum");
  assert.equal((await api.put(`/api/vhosts/${enc(V)}`, {})).status, 201);
  assert.ok([201, 204].includes((await api.put(`/api/permissions/${enc(V)}/guest`, { configure: ".*", write: ".*", read: ".*" })).status));
  url = amqpUrl(b, "guest", "guest", V);
  conn = await amqp.connect(url);
  conn.on("error", () => {});
});
after(async () => {
  await conn?.close().catch(() => {});
  await api?.del(`/api/vhosts/${enc(V)}`).catch(() => {});
  await b?.stop();
});

async function channel(): Promise<amqp.Channel> {
  const ch = await conn.createChannel();
  ch.on("error", () => {});
  return ch;
}

/** Declare on a fresh channel; "ok", or the reply text of the 406 that closed it. */
async function declare(name: string, opts: amqp.Options.AssertQueue): Promise<string> {
  const ch = await channel();
  try {
    await ch.assertQueue(name, opts);
    await ch.close();
    return "ok";
  } catch (e) {
    const m = /with message "(.*)"$/.exec((e as Error).message);
    return `${(e as { code?: number }).code} ${m ? m[1] : (e as Error).message}`;
  }
}

const q406 = (q: string, rest: string) => `406 PRECONDITION_FAILED - invalid ${rest.startsWith("property") ? "" : "arg "}${rest.replace("QUEUE", `queue '${q}' in vhost '${V}'`)}`;

// ------------------------------------------------------------------ declaration

// rabbit_quorum_queue:declare → rabbit_queue_type_util: check_auto_delete, check_exclusive,
// check_non_durable, in that order; an exclusive declare is also non-durable in RabbitMQ, yet
// reports 'exclusive-owner'.
test("quorum queues refuse auto-delete, exclusive and non-durable, checked in RabbitMQ's order", async () => {
  const cases: Array<[amqp.Options.AssertQueue, string]> = [
    [{ durable: false }, "non-durable"],
    [{ durable: true, exclusive: true }, "exclusive-owner"],
    [{ durable: false, exclusive: true }, "exclusive-owner"],
    [{ durable: true, autoDelete: true }, "auto-delete"],
    [{ durable: false, exclusive: true, autoDelete: true }, "auto-delete"],
  ];
  for (const [opts, prop] of cases) {
    const q = uniq("qq-flags");
    assert.equal(await declare(q, { ...opts, arguments: QUORUM }), `406 PRECONDITION_FAILED - invalid property '${prop}' for queue '${q}' in vhost '${V}'`, JSON.stringify(opts));
  }
  // the same flags are fine for a classic queue
  assert.equal(await declare(uniq("classic-flags"), { durable: false, exclusive: true, autoDelete: true }), "ok");
});

// rabbit_channel: an empty queue name is refused for a type whose capabilities say server_named => false,
// before any argument or flag is looked at.
test("a server-named quorum queue is refused before its arguments and flags", async () => {
  for (const opts of [
    { durable: true, arguments: QUORUM },
    { durable: false, arguments: { ...QUORUM, "x-max-priority": 5 } },
    { durable: true, arguments: { ...QUORUM, "x-message-ttl": -1 } },
  ]) {
    assert.equal(await declare("", opts), "406 PRECONDITION_FAILED - Cannot declare a server-named queue for type rabbit_quorum_queue", JSON.stringify(opts));
  }
  const ok = await (await channel()).assertQueue("", { exclusive: true, arguments: { "x-queue-type": "classic" } });
  assert.match(ok.queue, /^amq\.gen-/);
});

// rabbit_amqqueue:check_declare_arguments: arguments that only another queue type knows are
// refused by name ("... of queue type rabbit_quorum_queue"), whatever their value, and before the flags.
test("quorum queues refuse the classic and stream arguments by name", async () => {
  for (const [k, v] of [
    ["x-max-priority", 5],
    ["x-queue-mode", "lazy"],
    ["x-queue-version", 2],
    ["x-queue-master-locator", "min-masters"],
    ["x-max-age", "1D"],
    ["x-stream-max-segment-size-bytes", 1000],
    ["x-initial-cluster-size", 3],
    ["x-max-priority", "not a number"],
  ] as const) {
    const q = uniq("qq-arg");
    assert.equal(await declare(q, { durable: true, arguments: { ...QUORUM, [k]: v } }), q406(q, `'${k}' for QUEUE of queue type rabbit_quorum_queue`), k);
  }
  const q = uniq("qq-arg-flag");
  assert.equal(await declare(q, { durable: false, arguments: { ...QUORUM, "x-max-priority": 5 } }), q406(q, "'x-max-priority' for QUEUE of queue type rabbit_quorum_queue"));
});

// What RabbitMQ 3.10 accepts on a quorum queue: message TTL (new in 3.10), single active consumer,
// length limits with every overflow mode, both dead-letter strategies, the quorum-only arguments,
// the leader locators (3.10 still takes the deprecated 'random' and 'least-leaders'), unknown
// x-arguments, and any x-delivery-limit: 3.10 does not validate it at all (-1 and "3" pass).
test("quorum queues accept RabbitMQ 3.10's quorum arguments, x-delivery-limit unvalidated", async () => {
  const accepted: Array<[string, unknown]> = [
    ["x-message-ttl", 1000],
    ["x-message-ttl", 0],
    ["x-expires", 10000],
    ["x-single-active-consumer", true],
    ["x-max-length", 10],
    ["x-max-length-bytes", 1000],
    ["x-overflow", "drop-head"],
    ["x-overflow", "reject-publish"],
    ["x-overflow", "reject-publish-dlx"],
    ["x-dead-letter-exchange", "dlx"],
    ["x-dead-letter-strategy", "at-least-once"],
    ["x-dead-letter-strategy", "at-most-once"],
    ["x-delivery-limit", 3],
    ["x-delivery-limit", 0],
    ["x-delivery-limit", -1],
    ["x-delivery-limit", "3"],
    ["x-quorum-initial-group-size", 1],
    ["x-max-in-memory-length", 10],
    ["x-max-in-memory-bytes", 10],
    ["x-queue-leader-locator", "client-local"],
    ["x-queue-leader-locator", "balanced"],
    ["x-queue-leader-locator", "random"],
    ["x-queue-leader-locator", "least-leaders"],
    ["x-whatever", 1],
  ];
  for (const [k, v] of accepted) assert.equal(await declare(uniq("qq-ok"), { durable: true, arguments: { ...QUORUM, [k]: v } }), "ok", `${k}=${JSON.stringify(v)}`);
});

// The validators of rabbit_amqqueue:declare_args() that apply to the quorum type, with their texts;
// a bad value is reported before a bad flag.
test("quorum-only argument values are validated with RabbitMQ's texts, before the flags", async () => {
  const cases: Array<[string, unknown, string]> = [
    ["x-quorum-initial-group-size", 0, "{value_zero,0}"],
    ["x-quorum-initial-group-size", -1, "{value_negative,-1}"],
    ["x-quorum-initial-group-size", "a", `"expected integer, got longstr"`],
    ["x-max-in-memory-length", -1, "{value_negative,-1}"],
    ["x-max-in-memory-length", "a", `"expected integer, got longstr"`],
    ["x-max-in-memory-bytes", -1, "{value_negative,-1}"],
    ["x-dead-letter-strategy", "bogus", "invalid_dlx_strategy"],
    ["x-dead-letter-strategy", 5, "{unacceptable_type,byte}"],
    ["x-queue-leader-locator", "bogus", "invalid_queue_locator_arg"],
    ["x-queue-leader-locator", 5, "{unacceptable_type,byte}"],
    ["x-overflow", "bogus", "invalid_overflow"],
    ["x-message-ttl", -1, "{value_negative,-1}"],
    ["x-expires", 0, "{value_zero,0}"],
    ["x-single-active-consumer", "yes", "{unacceptable_type,longstr}"],
  ];
  for (const [k, v, detail] of cases) {
    const q = uniq("qq-val");
    assert.equal(await declare(q, { durable: true, arguments: { ...QUORUM, [k]: v } }), q406(q, `'${k}' for QUEUE: ${detail}`), `${k}=${JSON.stringify(v)}`);
  }
  for (const a of [{ "x-max-in-memory-length": -1 }, { "x-message-ttl": -1 }]) {
    const q = uniq("qq-val-flag");
    const [k] = Object.keys(a);
    assert.equal(await declare(q, { durable: false, arguments: { ...QUORUM, ...a } }), q406(q, `'${k}' for QUEUE: {value_negative,-1}`));
  }
  const q = uniq("qq-dlrk");
  assert.equal(await declare(q, { durable: false, arguments: { ...QUORUM, "x-dead-letter-routing-key": "k" } }), q406(q, "'x-dead-letter-routing-key' for QUEUE: routing_key_but_no_dlx_defined"));
});

// check_queue_type: the type must be one RabbitMQ knows, spelt exactly, as a string.
test("x-queue-type must name a known queue type", async () => {
  for (const [v, detail] of [
    ["bogus", `"unsupported queue type 'bogus'"`],
    ["Quorum", `"unsupported queue type 'Quorum'"`],
    [5, "{unacceptable_type,byte}"],
  ] as const) {
    const q = uniq("qq-type");
    assert.equal(await declare(q, { durable: true, arguments: { "x-queue-type": v } }), q406(q, `'x-queue-type' for QUEUE: ${detail}`));
  }
});

// The classic type refuses the quorum-only arguments by name (its capabilities do not list them),
// x-delivery-limit included whatever its value.
test("classic queues refuse the quorum-only arguments by name", async () => {
  for (const [k, v] of [
    ["x-delivery-limit", 3],
    ["x-delivery-limit", "a"],
    ["x-dead-letter-strategy", "at-least-once"],
    ["x-quorum-initial-group-size", "a"],
    ["x-max-in-memory-length", 1],
    ["x-queue-leader-locator", "balanced"],
  ] as const) {
    const q = uniq("cq-arg");
    assert.equal(await declare(q, { durable: true, arguments: { [k]: v } }), q406(q, `'${k}' for QUEUE of queue type rabbit_classic_queue`), `${k}=${JSON.stringify(v)}`);
  }
  const q = uniq("cq-arg");
  assert.equal(
    await declare(q, { durable: true, arguments: { "x-queue-type": "classic", "x-max-in-memory-length": 1 } }),
    q406(q, "'x-max-in-memory-length' for QUEUE of queue type rabbit_classic_queue"),
  );
});

// rabbit_amqqueue:assert_args_equivalence compares the quorum type's queue_arguments, x-queue-type
// among them: a quorum queue redeclared without it is refused (only a classic queue's missing
// x-queue-type equals 'classic'); arguments outside the list (x-foo) are not compared.
test("redeclaring a quorum queue compares the quorum arguments, x-queue-type included", async () => {
  const base = {
    ...QUORUM,
    "x-delivery-limit": 3,
    "x-max-length": 10,
    "x-dead-letter-exchange": "dlx",
    "x-dead-letter-strategy": "at-most-once",
    "x-quorum-initial-group-size": 1,
    "x-max-in-memory-length": 5,
    "x-queue-leader-locator": "client-local",
  };
  const without = (k: string) => Object.fromEntries(Object.entries(base).filter(([key]) => key !== k));
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ["same", base, "ok"],
    ["extra unknown argument", { ...base, "x-foo": 1 }, "ok"],
    ["no x-queue-type", without("x-queue-type"), "'x-queue-type' for QUEUE: received none but current is the value 'quorum' of type 'longstr'"],
    ["x-queue-type classic", { ...base, "x-queue-type": "classic" }, "'x-queue-type' for QUEUE: received 'classic' but current is 'quorum'"],
    ["x-delivery-limit 4", { ...base, "x-delivery-limit": 4 }, "'x-delivery-limit' for QUEUE: received '4' but current is '3'"],
    ["x-delivery-limit removed", without("x-delivery-limit"), "'x-delivery-limit' for QUEUE: received none but current is the value '3' of type 'byte'"],
    ["x-dead-letter-strategy", { ...base, "x-dead-letter-strategy": "at-least-once" }, "'x-dead-letter-strategy' for QUEUE: received 'at-least-once' but current is 'at-most-once'"],
    ["x-quorum-initial-group-size", { ...base, "x-quorum-initial-group-size": 3 }, "'x-quorum-initial-group-size' for QUEUE: received '3' but current is '1'"],
    ["x-max-in-memory-length", { ...base, "x-max-in-memory-length": 6 }, "'x-max-in-memory-length' for QUEUE: received '6' but current is '5'"],
    ["x-queue-leader-locator", { ...base, "x-queue-leader-locator": "balanced" }, "'x-queue-leader-locator' for QUEUE: received 'balanced' but current is 'client-local'"],
    // the list's order decides which difference is reported: x-dead-letter-exchange comes first for quorum queues
    ["only x-queue-type", QUORUM, "'x-dead-letter-exchange' for QUEUE: received none but current is the value 'dlx' of type 'longstr'"],
  ];
  for (const [label, a, want] of cases) {
    const q = uniq("qq-eq");
    assert.equal(await declare(q, { durable: true, arguments: base }), "ok");
    const got = await declare(q, { durable: true, arguments: a });
    assert.equal(got, want === "ok" ? "ok" : `406 PRECONDITION_FAILED - inequivalent arg ${want.replace("QUEUE", `queue '${q}' in vhost '${V}'`)}`, label);
  }
});

// A queue's type is fixed at declare: a classic queue redeclared as quorum is refused; its own
// arguments do not include x-delivery-limit, so a classic redeclare carrying one is accepted
// (compared arguments only); a missing x-queue-type and 'classic' are the same for a classic queue.
test("a classic queue stays classic: redeclares as quorum are refused, 'classic' equals no type", async () => {
  const q = uniq("cq-eq");
  assert.equal(await declare(q, { durable: true }), "ok");
  assert.equal(
    await declare(q, { durable: true, arguments: QUORUM }),
    `406 PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue '${q}' in vhost '${V}': received the value 'quorum' of type 'longstr' but current is none`,
  );
  assert.equal(await declare(q, { durable: true, arguments: { "x-delivery-limit": 2 } }), "ok");
  assert.equal(await declare(q, { durable: true, arguments: { "x-queue-type": "classic" } }), "ok");
  const q2 = uniq("cq-eq");
  assert.equal(await declare(q2, { durable: true, arguments: { "x-queue-type": "classic" } }), "ok");
  assert.equal(await declare(q2, { durable: true }), "ok");
  assert.equal(
    await declare(q2, { durable: true, arguments: QUORUM }),
    `406 PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue '${q2}' in vhost '${V}': received 'quorum' but current is 'classic'`,
  );
});

// ------------------------------------------------------------------ consuming

// rabbit_quorum_queue:consume refuses a channel whose limiter is active (basic.qos global=true with
// a non-zero count): a connection error, 540 NOT_IMPLEMENTED. A global qos of 0 is not active.
test("basic.consume on a quorum queue with a global prefetch closes the connection with 540", async () => {
  const q = uniq("qq-gqos");
  assert.equal(await declare(q, { durable: true, arguments: QUORUM }), "ok");
  const c = await amqp.connect(url);
  const closed = new Promise<Error>((resolve) => c.once("error", resolve));
  const ch = await c.createChannel();
  ch.on("error", () => {});
  await ch.prefetch(0, true);
  await ch.consume(q, () => {});
  await ch.prefetch(5, true);
  await assert.rejects(ch.consume(q, () => {}));
  assert.match(
    (await closed).message,
    new RegExp(`540 \\(NOT-IMPLEMENTED\\) with message "NOT_IMPLEMENTED - queue '${q}' in vhost '${V.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}' does not support global qos"`),
  );
  // a per-consumer prefetch is fine
  const ch2 = await channel();
  await ch2.prefetch(5, false);
  await ch2.consume(q, () => {});
  await ch2.close();
});

// rabbit_amqqueue:check_consume_arguments: a consumer argument of another queue type is refused
// by name; x-priority (the quorum type knows it) must be an integer.
test("consumer arguments are checked against the queue's type", async () => {
  const q = uniq("qq-cargs");
  const cq = uniq("cq-cargs");
  assert.equal(await declare(q, { durable: true, arguments: QUORUM }), "ok");
  assert.equal(await declare(cq, { durable: true }), "ok");
  const consumeError = async (queue: string, a: Record<string, unknown>): Promise<string> => {
    const ch = await channel();
    try {
      await ch.consume(queue, () => {}, { arguments: a });
      await ch.close();
      return "ok";
    } catch (e) {
      return /with message "(.*)"$/.exec((e as Error).message)?.[1] ?? (e as Error).message;
    }
  };
  const where = (name: string) => `queue '${name}' in vhost '${V}'`;
  assert.equal(await consumeError(q, { "x-cancel-on-ha-failover": true }), `PRECONDITION_FAILED - invalid arg 'x-cancel-on-ha-failover' for ${where(q)} of queue type rabbit_quorum_queue`);
  assert.equal(await consumeError(q, { "x-stream-offset": "first" }), `PRECONDITION_FAILED - invalid arg 'x-stream-offset' for ${where(q)} of queue type rabbit_quorum_queue`);
  assert.equal(await consumeError(cq, { "x-stream-offset": "first" }), `PRECONDITION_FAILED - invalid arg 'x-stream-offset' for ${where(cq)} of queue type rabbit_classic_queue`);
  assert.equal(await consumeError(q, { "x-priority": "a" }), `PRECONDITION_FAILED - invalid arg 'x-priority' for ${where(q)}: "expected integer, got longstr"`);
  assert.equal(await consumeError(q, { "x-priority": 5 }), "ok");
});

// ------------------------------------------------------------------ delivery count and limit

interface Seen {
  redelivered: boolean;
  count: unknown;
  other: unknown;
}

/** Consume with prefetch 1, nack(requeue) every delivery but the `n`th, which is acked. */
async function nackLoop(q: string, n: number, headers?: Record<string, unknown>): Promise<Seen[]> {
  const ch = await channel();
  ch.sendToQueue(q, Buffer.from("m"), headers ? { headers } : {});
  await ch.prefetch(1);
  const seen = new Inbox<Seen>();
  await ch.consume(q, (m) => {
    if (!m) return;
    const h = m.properties.headers ?? {};
    seen.push({ redelivered: m.fields.redelivered, count: h["x-delivery-count"], other: h["other"] });
    if (seen.items.length >= n) ch.ack(m);
    else ch.nack(m, false, true);
  });
  const out = await seen.waitFor(n);
  await ch.close();
  return out;
}

// rabbit_fifo counts a message's returns in its delivery_count; rabbit_fifo_client adds the header
// x-delivery-count to a delivery once it is non-zero. The first delivery has no header and
// redelivered=false; each redelivery is redelivered=true with count 1, 2, 3.
test("redeliveries from a quorum queue carry x-delivery-count 1, 2, 3; the first delivery none", async () => {
  const q = uniq("qq-count");
  assert.equal(await declare(q, { durable: true, arguments: QUORUM }), "ok");
  const seen = await nackLoop(q, 4, { other: "kept" });
  assert.deepEqual(seen, [
    { redelivered: false, count: undefined, other: "kept" },
    { redelivered: true, count: 1, other: "kept" },
    { redelivered: true, count: 2, other: "kept" },
    { redelivered: true, count: 3, other: "kept" },
  ]);
});

// The header is the queue's: a publisher's own x-delivery-count stays on the first delivery (the
// queue adds nothing then) and is replaced from the first redelivery on. Classic queues never add it.
test("a publisher's x-delivery-count is replaced on redelivery; classic queues add none", async () => {
  const q = uniq("qq-preset");
  assert.equal(await declare(q, { durable: true, arguments: QUORUM }), "ok");
  assert.deepEqual(
    (await nackLoop(q, 3, { "x-delivery-count": 7 })).map((s) => s.count),
    [7, 1, 2],
  );
  const cq = uniq("cq-count");
  assert.equal(await declare(cq, { durable: true }), "ok");
  assert.deepEqual(await nackLoop(cq, 3), [
    { redelivered: false, count: undefined, other: undefined },
    { redelivered: true, count: undefined, other: undefined },
    { redelivered: true, count: undefined, other: undefined },
  ]);
});

/** The content header's x-delivery-count, decoded from the wire: [AMQP type tag, value] or undefined. */
function deliveryCountOnWire(header: Frame): [string, number] | undefined {
  const r = new Reader(header.payload, 12);
  const flags = r.short();
  if (flags & 0x8000) r.shortstr();
  if (flags & 0x4000) r.shortstr();
  if (!(flags & 0x2000)) return undefined;
  const t = new Reader(r.longstr());
  while (t.pos < t.buf.length) {
    const key = t.shortstr();
    const tag = String.fromCharCode(t.octet());
    const sizes: Record<string, number> = { t: 1, b: 1, B: 1, s: 2, u: 2, I: 4, i: 4, f: 4, l: 8, d: 8, T: 8, D: 5, V: 0 };
    let value = 0;
    if (tag === "l") value = t.longlong();
    else if (tag === "S" || tag === "F" || tag === "A" || tag === "x") t.longstr();
    else t.pos += sizes[tag] ?? 0;
    if (key === "x-delivery-count") return [tag, value];
  }
  return undefined;
}

// rabbit_quorum_queue:dequeue adds x-delivery-count to every basic.get-ok, 0 on the first — and as
// an AMQP long ('l'), read here off the wire (amqplib does not keep field types).
test("basic.get from a quorum queue always carries x-delivery-count, an AMQP long: 0, then 1", async () => {
  const q = uniq("qq-get");
  assert.equal(await declare(q, { durable: true, arguments: QUORUM }), "ok");
  const ch = await channel();
  ch.sendToQueue(q, Buffer.from("m"));
  await waitFor("the message in the queue", async () => (await ch.checkQueue(q)).messageCount === 1);
  const raw = await RawClient.open(b.port, b.host, { vhost: V });
  try {
    await raw.openChannel(1);
    for (const want of [0, 1]) {
      raw.sendMethod(1, M.basicGet, rawArgs.basicGet(q, false));
      const ok = await raw.expect(1, M.basicGetOk);
      const tag = ok.args!.longlong();
      const redelivered = ok.args!.bit();
      const header = await raw.next();
      await raw.next(); // the body
      assert.equal(redelivered, want > 0);
      assert.deepEqual(deliveryCountOnWire(header), ["l", want]);
      raw.sendMethod(1, M.basicNack, rawArgs.basicNack(tag, false, true));
    }
  } finally {
    raw.destroy();
  }
});

/** basic.get + nack(requeue) until the queue has nothing to give; the x-delivery-count of each get. */
async function getNackUntilGone(q: string, max = 8): Promise<unknown[]> {
  const ch = await channel();
  const counts: unknown[] = [];
  for (let i = 0; i < max; i++) {
    // basic.get is ordered after this channel's earlier nack in both brokers
    const m = await ch.get(q, { noAck: false });
    if (m === false) break;
    counts.push(m.properties.headers?.["x-delivery-count"]);
    ch.nack(m, false, true);
  }
  await ch.close();
  return counts;
}

// rabbit_fifo:return_one drops the message on the return that makes delivery_count exceed the limit:
// x-delivery-limit N means N+1 deliveries. 0 means one; RabbitMQ 3.10 takes a negative limit as is
// (one delivery), and a non-number never limits (Erlang orders every number below a binary).
test("x-delivery-limit N: delivered N+1 times, then dropped; 0 and -1 deliver once; a string never limits", async () => {
  for (const [limit, deliveries] of [
    [2, 3],
    [0, 1],
    [-1, 1],
    ["2", 8],
  ] as const) {
    const q = uniq("qq-limit");
    assert.equal(await declare(q, { durable: true, arguments: { ...QUORUM, "x-delivery-limit": limit } }), "ok");
    const ch = await channel();
    ch.sendToQueue(q, Buffer.from("m"));
    await waitFor("the message in the queue", async () => (await ch.checkQueue(q)).messageCount === 1);
    const counts = await getNackUntilGone(q);
    assert.equal(counts.length, deliveries, `x-delivery-limit ${JSON.stringify(limit)}: ${JSON.stringify(counts)}`);
    assert.deepEqual(
      counts,
      counts.map((_, i) => i),
    );
  }
});

// A consumer that goes away with unacked messages (its channel closed) and basic.recover return
// them too: each return counts (rabbit_fifo's return_all; settle with requeue). With a limit of 1 the
// second close drops the message — dead-lettered with reason delivery_limit, observed in the DLX's queue.
test("closing a channel with unacked messages and basic.recover count as returns", async () => {
  const pub = await channel();
  const dlx = uniq("qq-close-dlx");
  const dlq = uniq("qq-close-dlq");
  await pub.assertExchange(dlx, "fanout", { durable: false });
  await pub.assertQueue(dlq, { durable: false });
  await pub.bindQueue(dlq, dlx, "");
  const q = uniq("qq-close");
  assert.equal(await declare(q, { durable: true, arguments: { ...QUORUM, "x-delivery-limit": 1, "x-dead-letter-exchange": dlx } }), "ok");
  pub.sendToQueue(q, Buffer.from("m"));
  await waitFor("the message in the queue", async () => (await pub.checkQueue(q)).messageCount === 1);
  const first = await channel();
  const m1 = await first.get(q, { noAck: false });
  assert.ok(m1 && !m1.fields.redelivered);
  await first.close();
  const second = await waitFor("the message back in the queue", async () => {
    const ch = await channel();
    const m = await ch.get(q, { noAck: false });
    if (m === false) await ch.close();
    return m === false ? false : { m, ch };
  });
  assert.equal(second.m.fields.redelivered, true);
  assert.equal(second.m.properties.headers?.["x-delivery-count"], 1);
  await second.ch.close(); // the second return: past the limit of 1
  const dead = await waitFor("the dead-lettered copy", async () => pub.get(dlq, { noAck: true }));
  assert.equal(dead.properties.headers?.["x-first-death-reason"], "delivery_limit");
  assert.equal(await pub.get(q, { noAck: true }), false);

  const r = uniq("qq-recover");
  assert.equal(await declare(r, { durable: true, arguments: QUORUM }), "ok");
  const ch = await channel();
  const seen = new Inbox<Seen>();
  await ch.consume(r, (m) => {
    if (m) seen.push({ redelivered: m.fields.redelivered, count: m.properties.headers?.["x-delivery-count"], other: undefined });
  });
  ch.sendToQueue(r, Buffer.from("m"));
  await seen.waitFor(1);
  await ch.recover();
  await seen.waitFor(2);
  await ch.recover();
  await seen.waitFor(3);
  await ch.close();
  assert.deepEqual(
    seen.items.map((x) => [x.redelivered, x.count]),
    [
      [false, undefined],
      [true, 1],
      [true, 2],
    ],
  );
});

// rabbit_fifo_dlx:discard with reason delivery_limit → rabbit_dead_letter: the copy goes to the
// dead-letter exchange with the x-death entry RabbitMQ writes (count, reason, queue, time, exchange,
// routing-keys, original-expiration), x-first-death-*; expiration removed; no x-delivery-count (it is
// added to deliveries, not stored). A reject without requeue is reason 'rejected', as for any queue.
test("past the limit a quorum queue dead-letters with reason delivery_limit", async () => {
  const ch = await channel();
  const dlx = uniq("qq-dlx");
  const dlq = uniq("qq-dlq");
  await ch.assertExchange(dlx, "fanout", { durable: false });
  await ch.assertQueue(dlq, { durable: false });
  await ch.bindQueue(dlq, dlx, "");
  const q = uniq("qq-dl");
  assert.equal(await declare(q, { durable: true, arguments: { ...QUORUM, "x-delivery-limit": 1, "x-dead-letter-exchange": dlx } }), "ok");
  ch.sendToQueue(q, Buffer.from("doomed"), { headers: { app: "x" }, expiration: "60000", correlationId: "c1" });
  await waitFor("the message in the queue", async () => (await ch.checkQueue(q)).messageCount === 1);
  assert.equal((await getNackUntilGone(q)).length, 2);
  const d = await waitFor("the dead-lettered copy", async () => ch.get(dlq, { noAck: true }));
  assert.equal(d.content.toString(), "doomed");
  assert.equal(d.fields.exchange, dlx);
  assert.equal(d.fields.routingKey, q);
  assert.equal(d.fields.redelivered, false);
  assert.equal(d.properties.correlationId, "c1");
  assert.equal(d.properties.expiration, undefined);
  const h = d.properties.headers!;
  assert.equal(h["x-delivery-count"], undefined);
  assert.equal(h["app"], "x");
  assert.equal(h["x-first-death-queue"], q);
  assert.equal(h["x-first-death-reason"], "delivery_limit");
  assert.equal(h["x-first-death-exchange"], "");
  const deaths = h["x-death"] as unknown as Array<Record<string, unknown>>;
  assert.equal(deaths.length, 1);
  const { time, ...death } = deaths[0]!;
  assert.ok(time instanceof Date || typeof time === "object" || typeof time === "number", "x-death time is a timestamp");
  assert.deepEqual(death, { count: 1, reason: "delivery_limit", queue: q, exchange: "", "routing-keys": [q], "original-expiration": "60000" });

  const q2 = uniq("qq-rej");
  assert.equal(await declare(q2, { durable: true, arguments: { ...QUORUM, "x-dead-letter-exchange": dlx } }), "ok");
  ch.sendToQueue(q2, Buffer.from("rejected"));
  const m = await waitFor("the message to reject", async () => ch.get(q2, { noAck: false }));
  ch.reject(m, false);
  const r = await waitFor("the rejected copy", async () => ch.get(dlq, { noAck: true }));
  assert.equal(r.properties.headers?.["x-first-death-reason"], "rejected");
  assert.equal(r.properties.headers?.["x-delivery-count"], undefined);
});

// RabbitMQ 3.10 added message TTL to quorum queues (rabbit_fifo's msg_ttl): an expired message is
// dead-lettered with reason expired, like a classic queue's. x-overflow reject-publish-dlx is
// accepted but means drop-head on a quorum queue: nothing is nacked, the head is dead-lettered.
test("x-message-ttl and x-overflow reject-publish-dlx on a quorum queue dead-letter as RabbitMQ 3.10 does", async () => {
  const ch = await conn.createConfirmChannel();
  ch.on("error", () => {});
  const dlq = uniq("qq-ttl-dlq");
  await ch.assertQueue(dlq, { durable: false });
  const q = uniq("qq-ttl");
  assert.equal(await declare(q, { durable: true, arguments: { ...QUORUM, "x-message-ttl": 50, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq } }), "ok");
  ch.sendToQueue(q, Buffer.from("short-lived"));
  await ch.waitForConfirms();
  const d = await waitFor("the expired message dead-lettered", () => ch.get(dlq, { noAck: true }), 10_000, 50);
  assert.equal(d.content.toString(), "short-lived");
  assert.equal(d.properties.headers?.["x-first-death-reason"], "expired");
  assert.equal(d.properties.headers?.["x-first-death-queue"], q);

  // reject-publish-dlx: rabbit_quorum_queue:overflow logs "Invalid overflow strategy" and uses drop-head
  const full = uniq("qq-full");
  assert.equal(
    await declare(full, { durable: true, arguments: { ...QUORUM, "x-max-length": 1, "x-overflow": "reject-publish-dlx", "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq } }),
    "ok",
  );
  const outcome = (body: string) => new Promise<string>((resolve) => ch.sendToQueue(full, Buffer.from(body), {}, (err) => resolve(err ? "nack" : "ack")));
  assert.deepEqual([await outcome("old"), await outcome("new")], ["ack", "ack"]);
  const r = await waitFor("the dropped head dead-lettered", () => ch.get(dlq, { noAck: true }), 5000);
  assert.equal(r.content.toString(), "old");
  assert.equal(r.properties.headers?.["x-first-death-reason"], "maxlen");
  const kept = await ch.get(full, { noAck: true });
  assert.equal(kept && kept.content.toString(), "new");
  await ch.close();
});

// rabbit_fifo's reject-publish is a soft limit: publishes are taken while the queue is not over its
// limit (max-length 5 takes a 6th), refused (nacked) once it is over, and taken again when it is
// down to 80% of the limit (LOW_LIMIT 0.8: 4 of 5). An overflow policy beats the argument on a
// quorum queue (policy_has_precedence).
test("x-overflow reject-publish on a quorum queue is a soft limit, back under 80%; a policy's overflow wins", async (t) => {
  const ch = await conn.createConfirmChannel();
  ch.on("error", () => {});
  const q = uniq("qq-reject");
  assert.equal(await declare(q, { durable: true, arguments: { ...QUORUM, "x-max-length": 5, "x-overflow": "reject-publish" } }), "ok");
  const pub = (name: string, body: string) => new Promise<string>((resolve) => ch.sendToQueue(name, Buffer.from(body), {}, (err) => resolve(err ? "N" : "A")));
  let outcomes = "";
  for (let i = 1; i <= 8; i++) outcomes += await pub(q, `m${i}`);
  assert.equal(outcomes, "AAAAAANN");
  assert.equal((await ch.checkQueue(q)).messageCount, 6);
  const steps: string[] = [];
  for (let i = 0; i < 3; i++) {
    const m = await ch.get(q, { noAck: true });
    steps.push(m ? m.content.toString() : "none");
    // (RabbitMQ's "go" to the publishing channel is sent with the dequeue's reply, so it is in before the next publish)
    steps.push(await pub(q, `x${i}`));
  }
  assert.deepEqual(steps, ["m1", "N", "m2", "A", "m3", "A"]);

  const p = uniq("ovp");
  const pq = `${p}-q`;
  assert.equal(await declare(pq, { durable: true, arguments: { ...QUORUM, "x-max-length": 1, "x-overflow": "drop-head" } }), "ok");
  assert.equal((await api.put(`/api/policies/${enc(V)}/${p}`, { pattern: `^${p}-`, "apply-to": "queues", definition: { overflow: "reject-publish" } })).status, 201);
  t.after(async () => {
    await api.del(`/api/policies/${enc(V)}/${p}`);
  });
  await eventually(async () => ((await api.get(`/api/queues/${enc(V)}/${enc(pq)}`)).json as Record<string, unknown> | undefined)?.["policy"] === p, 45_000);
  let o = "";
  for (let i = 1; i <= 3; i++) o += await pub(pq, `p${i}`);
  assert.equal(o, "AAN", "the policy's reject-publish, not the argument's drop-head");
  await ch.close();
});

// rabbit_quorum_queue takes delivery-limit from a policy too (args_policy_lookup with min: the smaller
// of policy and argument), and from an operator policy. The classic type lists delivery-limit among
// its unsupported policies, and rabbit_queue_type:is_policy_applicable then skips the whole policy
// for a classic queue: neither its delivery-limit nor its max-length apply there.
test("policy and operator policy delivery-limit apply to quorum queues, the smaller wins; not at all to classic queues", async (t) => {
  const p = uniq("pl");
  assert.equal((await api.put(`/api/policies/${enc(V)}/${p}`, { pattern: `^${p}-`, "apply-to": "queues", definition: { "delivery-limit": 1, "max-length": 1 } })).status, 201);
  t.after(async () => {
    await api.del(`/api/policies/${enc(V)}/${p}`);
  });
  const deliveries = async (name: string, a: Record<string, unknown>, expected: number, field = "policy", policy: string | null = p): Promise<void> => {
    assert.equal(await declare(name, { durable: true, arguments: a }), "ok");
    // the policy is in effect once the management API names it (RabbitMQ shows it on its stats tick)
    await eventually(async () => ((await api.get(`/api/queues/${enc(V)}/${enc(name)}`)).json as Record<string, unknown> | undefined)?.[field] === policy, 20_000);
    const ch = await channel();
    ch.sendToQueue(name, Buffer.from("m"));
    await waitFor("the message in the queue", async () => (await ch.checkQueue(name)).messageCount === 1);
    assert.equal((await getNackUntilGone(name, 6)).length, expected, `${name} ${JSON.stringify(a)}`);
  };
  await deliveries(`${p}-a`, QUORUM, 2);
  await deliveries(`${p}-b`, { ...QUORUM, "x-delivery-limit": 3 }, 2);
  await deliveries(`${p}-c`, { ...QUORUM, "x-delivery-limit": 0 }, 1);
  await deliveries(`${p}-d`, {}, 6, "policy", null);
  const pub = await channel();
  pub.sendToQueue(`${p}-d`, Buffer.from("2"));
  pub.sendToQueue(`${p}-d`, Buffer.from("3"));
  await waitFor("three messages in the classic queue (no max-length 1)", async () => (await pub.checkQueue(`${p}-d`)).messageCount === 3);
  const op = uniq("op");
  assert.equal((await api.put(`/api/operator-policies/${enc(V)}/${op}`, { pattern: `^${op}-`, "apply-to": "queues", definition: { "delivery-limit": 1 } })).status, 201);
  t.after(async () => {
    await api.del(`/api/operator-policies/${enc(V)}/${op}`);
  });
  await deliveries(`${op}-a`, { ...QUORUM, "x-delivery-limit": 3 }, 2, "operator_policy", op);
});

// ------------------------------------------------------------------ policies and the management API

// rabbit_policy:validation: no policy key sets a queue's type (it is fixed at declare; there is no
// "queue-type" validator in 3.10), so such a policy is refused; the management API escapes the
// reason's HTML tags for policies. delivery-limit must be a non-negative integer; apply-to takes
// only queues, exchanges or all in 3.10 (classic_queues / quorum_queues came with 3.12).
test("no policy can change a queue's type; delivery-limit and apply-to are validated as in 3.10", async () => {
  const esc = (s: string) => s.replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ definition: { "queue-type": "quorum" } }, `[{<<"queue-type">>,<<"quorum">>}] are not recognised policy settings`],
    [{ definition: { "x-queue-type": "quorum" } }, `[{<<"x-queue-type">>,<<"quorum">>}] are not recognised policy settings`],
    [{ definition: { "delivery-limit": -1 } }, "-1 is not a valid delivery limit"],
    [{ definition: { "delivery-limit": "a" } }, `<<"a">> is not a valid delivery limit`],
    [{ definition: { "dead-letter-strategy": "x" } }, `<<"x">> is not a valid dead letter strategy`],
    [{ definition: { "delivery-limit": 1 }, "apply-to": "quorum_queues" }, "apply-to 'quorum_queues' unrecognised; should be 'queues', 'exchanges' or 'all'"],
  ];
  const name = uniq("bad");
  for (const [body, reason] of cases) {
    const r = await api.put(`/api/policies/${enc(V)}/${name}`, { pattern: "^zz", "apply-to": "queues", ...body });
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal((r.json as { reason: string }).reason, esc(`Validation failed\n\n${reason}\n`), JSON.stringify(body));
  }
  const ok = uniq("ok");
  assert.equal((await api.put(`/api/policies/${enc(V)}/${ok}`, { pattern: "^zz", "apply-to": "queues", definition: { "delivery-limit": 5, "dead-letter-strategy": "at-least-once" } })).status, 201);
  await api.del(`/api/policies/${enc(V)}/${ok}`);
});

// rabbit_quorum_queue's info keys as the management API shows them for a quorum queue on one node:
// leader, members and online are that node; open_files per member; messages_dlx / message_bytes_dlx;
// single_active_consumer_ctag; every message counted persistent; and none of a classic queue's
// idle_since, exclusive_consumer_tag, head_message_timestamp, paging and *_ready_ram fields.
// (RabbitMQ fills a quorum queue's statistics in on its 5 s tick, hence the wait.)
test("/api/queues shows a quorum queue with RabbitMQ's quorum fields", async () => {
  const q = uniq("qq-api");
  assert.equal(await declare(q, { durable: true, arguments: { ...QUORUM, "x-delivery-limit": 5 } }), "ok");
  (await channel()).sendToQueue(q, Buffer.from("hello"));
  const j = await eventually(async () => {
    const r = await api.get(`/api/queues/${enc(V)}/${enc(q)}`);
    const b = r.json as Record<string, unknown>;
    // RabbitMQ fills messages and node/leader from different stats events: one can come first
    return r.status === 200 && b["messages"] === 1 && typeof b["node"] === "string" && typeof b["leader"] === "string" ? b : undefined;
  }, 45_000); // RabbitMQ: the queue's 5 s tick, then the management collector's, on a busy machine
  assert.equal(j["type"], "quorum");
  assert.deepEqual(j["arguments"], { "x-queue-type": "quorum", "x-delivery-limit": 5 });
  const node = j["node"];
  assert.equal(typeof node, "string");
  assert.equal(j["leader"], node);
  assert.deepEqual(j["members"], [node]);
  assert.deepEqual(j["online"], [node]);
  assert.deepEqual(j["open_files"], { [node as string]: 0 });
  assert.equal(j["durable"], true);
  assert.equal(j["exclusive"], false);
  assert.equal(j["auto_delete"], false);
  assert.equal(j["state"], "running");
  assert.equal(j["messages_ready"], 1);
  assert.equal(j["messages_persistent"], 1, "a quorum queue's messages are all persistent");
  assert.equal(j["message_bytes"], 5);
  assert.equal(j["messages_dlx"], 0);
  assert.equal(j["message_bytes_dlx"], 0);
  assert.equal(j["single_active_consumer_ctag"], null);
  for (const k of [
    "consumers",
    "consumer_capacity",
    "consumer_utilisation",
    "memory",
    "message_bytes_ready",
    "message_bytes_unacknowledged",
    "message_bytes_persistent",
    "message_bytes_ram",
    "messages_ram",
    "messages_unacknowledged",
    "messages_details",
    "policy",
    "operator_policy",
    "effective_policy_definition",
    "consumer_details",
  ]) {
    assert.ok(k in j, `has ${k}`);
  }
  for (const k of [
    "idle_since",
    "exclusive_consumer_tag",
    "head_message_timestamp",
    "messages_paged_out",
    "message_bytes_paged_out",
    "messages_ready_ram",
    "messages_unacknowledged_ram",
    "recoverable_slaves",
    "single_active_consumer_tag",
    "backing_queue_status",
  ]) {
    assert.ok(!(k in j), `no ${k}`);
  }
  const list = (await api.get(`/api/queues/${enc(V)}`)).json as Array<Record<string, unknown>>;
  assert.equal(list.find((x) => x["name"] === q)?.["type"], "quorum");
});

// The management API declares through the same checks (rabbit_amqqueue:declare): 400 with the AMQP
// reply text as the reason; its message get is a basic.get, so it shows x-delivery-count 0 too.
test("the management API refuses and shows quorum queues as AMQP does", async () => {
  const q = uniq("qq-http");
  const put = async (name: string, body: Record<string, unknown>) => {
    const r = await api.put(`/api/queues/${enc(V)}/${enc(name)}`, body);
    return r.status >= 400 ? `${r.status} ${(r.json as { reason: string }).reason}` : String(r.status);
  };
  assert.equal(await put(`${q}-1`, { durable: false, arguments: QUORUM }), `400 invalid property 'non-durable' for queue '${q}-1' in vhost '${V}'`);
  assert.equal(
    await put(`${q}-2`, { durable: true, arguments: { ...QUORUM, "x-max-priority": 5 } }),
    `400 invalid arg 'x-max-priority' for queue '${q}-2' in vhost '${V}' of queue type rabbit_quorum_queue`,
  );
  assert.equal(await put(`${q}-3`, { durable: true, arguments: QUORUM }), "201");
  assert.equal(
    await put(`${q}-3`, { durable: true, arguments: {} }),
    `400 inequivalent arg 'x-queue-type' for queue '${q}-3' in vhost '${V}': received none but current is the value 'quorum' of type 'longstr'`,
  );
  const ch = await channel();
  ch.sendToQueue(`${q}-3`, Buffer.from("m"));
  await waitFor("the message in the queue", async () => (await ch.checkQueue(`${q}-3`)).messageCount === 1);
  const got = (await api.post(`/api/queues/${enc(V)}/${enc(`${q}-3`)}/get`, { count: 1, ackmode: "ack_requeue_true", encoding: "auto" })).json as Array<{
    properties: { headers?: Record<string, unknown> };
    redelivered: boolean;
  }>;
  assert.deepEqual(got[0]!.properties.headers, { "x-delivery-count": 0 });
  assert.equal(got[0]!.redelivered, false);
  const m = await waitFor("the requeued message", () => ch.get(`${q}-3`, { noAck: true }));
  assert.equal(m.properties.headers?.["x-delivery-count"], 1, "the management API's requeue counts as a return");
});

// x-single-active-consumer on a quorum queue: the management API names the active consumer
// (single_active_consumer_ctag) and lists the others as waiting (consumer_details activity_status).
test("single active consumer on a quorum queue: the management API shows the active one and the waiting one", async () => {
  const q = uniq("qq-sac");
  assert.equal(await declare(q, { durable: true, arguments: { ...QUORUM, "x-single-active-consumer": true } }), "ok");
  const ch = await channel();
  await ch.consume(q, () => {}, { consumerTag: "first" });
  await ch.consume(q, () => {}, { consumerTag: "second" });
  const j = await eventually(async () => {
    const r = (await api.get(`/api/queues/${enc(V)}/${enc(q)}`)).json as Record<string, unknown> | undefined;
    return r && r["consumers"] === 2 && (r["consumer_details"] as unknown[]).length === 2 ? r : undefined;
  }, 45_000);
  assert.equal(j["single_active_consumer_ctag"], "first");
  const details = (j["consumer_details"] as Array<Record<string, unknown>>).map((d) => [d["consumer_tag"], d["active"], d["activity_status"]]).sort();
  assert.deepEqual(details, [
    ["first", true, "single_active"],
    ["second", false, "waiting"],
  ]);
  await ch.close();
});
