/**
 * Wire conformance: exchange.* misuse, and publishing to bad exchanges.
 *
 * Pins down rabbit_channel / rabbit_exchange (RabbitMQ 3.10): passive declare
 * of a missing exchange is 404; redeclare with another type or durability is
 * 406 "inequivalent arg"; an unknown exchange type is 503 COMMAND_INVALID and
 * closes the CONNECTION; "amq." names are 403 on creation but an equivalent
 * redeclare of a built-in amq.* exchange is fine; the default exchange and the
 * amq.* exchanges cannot be deleted (403); publishing to a missing exchange is
 * 404 and to an internal one 403; exchange.bind with a missing end is 404.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { M, args } from "../helpers/raw-client.js";
import { wireEnv, runErrorCase, declareQueue, uniq, type WireEnv, type ErrorCase } from "./wire-helpers.js";

let env: WireEnv;
before(async () => {
  env = await wireEnv();
});
after(async () => {
  await env.broker.stop();
});

const cases: ErrorCase[] = [
  {
    name: "exchange.declare passive on a missing exchange: 404",
    trigger: ({ c, x }) => c.sendMethod(1, M.exchangeDeclare, args.exchangeDeclare(x, "direct", { passive: true })),
    scope: "channel",
    code: 404,
    classId: 40,
    methodId: 10,
    text: ({ x, vhost }) => `NOT_FOUND - no exchange '${x}' in vhost '${vhost}'`,
  },
  {
    // rabbit_exchange:assert_equivalence on type.
    name: "redeclare with another type: 406 inequivalent arg 'type'",
    setup: async (k) => {
      k.exchanges.push(k.x);
      k.c.sendMethod(1, M.exchangeDeclare, args.exchangeDeclare(k.x, "direct"));
      await k.c.expect(1, M.exchangeDeclareOk);
    },
    trigger: ({ c, x }) => c.sendMethod(1, M.exchangeDeclare, args.exchangeDeclare(x, "fanout")),
    scope: "channel",
    code: 406,
    classId: 40,
    methodId: 10,
    text: ({ x, vhost }) => `PRECONDITION_FAILED - inequivalent arg 'type' for exchange '${x}' in vhost '${vhost}': received 'fanout' but current is 'direct'`,
  },
  {
    name: "redeclare with other durable: 406 inequivalent arg 'durable'",
    setup: async (k) => {
      k.exchanges.push(k.x);
      k.c.sendMethod(1, M.exchangeDeclare, args.exchangeDeclare(k.x, "topic"));
      await k.c.expect(1, M.exchangeDeclareOk);
    },
    trigger: ({ c, x }) => c.sendMethod(1, M.exchangeDeclare, args.exchangeDeclare(x, "topic", { durable: true })),
    scope: "channel",
    code: 406,
    classId: 40,
    methodId: 10,
    text: ({ x, vhost }) => `PRECONDITION_FAILED - inequivalent arg 'durable' for exchange '${x}' in vhost '${vhost}': received 'true' but current is 'false'`,
  },
  {
    // rabbit_exchange:check_type raises command_invalid, a hard error: connection.close.
    name: "exchange type 'foo': connection.close 503",
    trigger: ({ c, x }) => c.sendMethod(1, M.exchangeDeclare, args.exchangeDeclare(x, "foo")),
    scope: "connection",
    code: 503,
    classId: 40,
    methodId: 10,
    text: "COMMAND_INVALID - invalid exchange type 'foo'",
  },
  {
    // rabbit_channel:check_name on creation.
    name: "declaring an amq.* exchange: 403",
    trigger: ({ c }) => c.sendMethod(1, M.exchangeDeclare, args.exchangeDeclare("amq.wire-test", "direct")),
    scope: "channel",
    code: 403,
    classId: 40,
    methodId: 10,
    text: "ACCESS_REFUSED - exchange name 'amq.wire-test' contains reserved prefix 'amq.*'",
  },
  {
    name: "declaring the default exchange: 403",
    trigger: ({ c }) => c.sendMethod(1, M.exchangeDeclare, args.exchangeDeclare("", "direct", { durable: true })),
    scope: "channel",
    code: 403,
    classId: 40,
    methodId: 10,
    text: "ACCESS_REFUSED - operation not permitted on the default exchange",
  },
  {
    name: "deleting the default exchange: 403",
    trigger: ({ c }) => c.sendMethod(1, M.exchangeDelete, args.exchangeDelete("")),
    scope: "channel",
    code: 403,
    classId: 40,
    methodId: 20,
    text: "ACCESS_REFUSED - operation not permitted on the default exchange",
  },
  {
    // rabbit_channel:check_exchange_deletion.
    name: "deleting amq.direct: 403",
    trigger: ({ c }) => c.sendMethod(1, M.exchangeDelete, args.exchangeDelete("amq.direct")),
    scope: "channel",
    code: 403,
    classId: 40,
    methodId: 20,
    text: ({ vhost }) => `ACCESS_REFUSED - deletion of system exchange 'amq.direct' in vhost '${vhost}' not allowed`,
  },
  {
    name: "exchange.delete if-unused on a bound exchange: 406",
    setup: async (k) => {
      k.exchanges.push(k.x);
      k.c.sendMethod(1, M.exchangeDeclare, args.exchangeDeclare(k.x, "direct"));
      await k.c.expect(1, M.exchangeDeclareOk);
      await declareQueue(k.c, 1, k.q, { exclusive: true });
      k.c.sendMethod(1, M.queueBind, args.queueBind(k.q, k.x, "k"));
      await k.c.expect(1, M.queueBindOk);
    },
    trigger: ({ c, x }) => c.sendMethod(1, M.exchangeDelete, args.exchangeDelete(x, true)),
    scope: "channel",
    code: 406,
    classId: 40,
    methodId: 20,
    text: ({ x, vhost }) => `PRECONDITION_FAILED - exchange '${x}' in vhost '${vhost}' in use`,
  },
  {
    name: "exchange.bind with a missing source: 404",
    trigger: ({ c, x }) => c.sendMethod(1, M.exchangeBind, args.exchangeBind("amq.fanout", x, "k")),
    scope: "channel",
    code: 404,
    classId: 40,
    methodId: 30,
    text: ({ x, vhost }) => `NOT_FOUND - no exchange '${x}' in vhost '${vhost}'`,
  },
  {
    name: "exchange.bind with a missing destination: 404",
    trigger: ({ c, x }) => c.sendMethod(1, M.exchangeBind, args.exchangeBind(x, "amq.fanout", "k")),
    scope: "channel",
    code: 404,
    classId: 40,
    methodId: 30,
    text: ({ x, vhost }) => `NOT_FOUND - no exchange '${x}' in vhost '${vhost}'`,
  },
  {
    // rabbit_exchange:lookup_or_die in basic.publish.
    name: "publish to a missing exchange: 404",
    trigger: ({ c, x }) => c.publish(1, x, "k", "hello"),
    scope: "channel",
    code: 404,
    classId: 60,
    methodId: 40,
    text: ({ x, vhost }) => `NOT_FOUND - no exchange '${x}' in vhost '${vhost}'`,
  },
  {
    // rabbit_channel:check_internal_exchange.
    name: "publish to an internal exchange: 403",
    setup: async (k) => {
      k.exchanges.push(k.x);
      k.c.sendMethod(1, M.exchangeDeclare, args.exchangeDeclare(k.x, "fanout", { internal: true }));
      await k.c.expect(1, M.exchangeDeclareOk);
    },
    trigger: ({ c, x }) => c.publish(1, x, "k", "hello"),
    scope: "channel",
    code: 403,
    classId: 60,
    methodId: 40,
    text: ({ x, vhost }) => `ACCESS_REFUSED - cannot publish to internal exchange '${x}' in vhost '${vhost}'`,
  },
  // rabbit_exchange:assert_args_equivalence compares alternate-exchange only, with RabbitMQ's
  // texts naming the real values (warren once said "received none but current is the value 'none'")
  ...(
    [
      ["added", {}, { "alternate-exchange": "ae" }, "received the value 'ae' of type 'longstr' but current is none"],
      ["removed", { "alternate-exchange": "ae" }, {}, "received none but current is the value 'ae' of type 'longstr'"],
      ["changed", { "alternate-exchange": "a" }, { "alternate-exchange": "b" }, "received 'b' but current is 'a'"],
    ] as const
  ).map(
    ([how, first, second, detail]): ErrorCase => ({
      name: `redeclare with alternate-exchange ${how}: 406 naming both values`,
      setup: async (k) => {
        k.exchanges.push(k.x);
        k.c.sendMethod(1, M.exchangeDeclare, args.exchangeDeclare(k.x, "direct", { arguments: first }));
        await k.c.expect(1, M.exchangeDeclareOk);
      },
      trigger: ({ c, x }) => c.sendMethod(1, M.exchangeDeclare, args.exchangeDeclare(x, "direct", { arguments: second })),
      scope: "channel",
      code: 406,
      classId: 40,
      methodId: 10,
      text: ({ x, vhost }) => `PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange '${x}' in vhost '${vhost}': ${detail}`,
    }),
  ),
];

for (const k of cases) test(k.name, () => runErrorCase(env, k));

// rabbit_exchange:assert_args_equivalence: arguments other than alternate-exchange are not compared.
test("exchange redeclare with other unknown arguments is declare-ok", async () => {
  const c = await env.openWithChannel();
  const x = uniq("wire-x-args");
  try {
    c.sendMethod(1, M.exchangeDeclare, args.exchangeDeclare(x, "direct", { arguments: { "x-foo": "a" } }));
    await c.expect(1, M.exchangeDeclareOk);
    c.sendMethod(1, M.exchangeDeclare, args.exchangeDeclare(x, "direct", { arguments: { "x-foo": "b", "x-bar": 1 } }));
    await c.expect(1, M.exchangeDeclareOk);
    c.sendMethod(1, M.exchangeDeclare, args.exchangeDeclare(x, "direct"));
    await c.expect(1, M.exchangeDeclareOk);
  } finally {
    c.sendMethod(1, M.exchangeDelete, args.exchangeDelete(x));
    await c.close();
  }
});

// RabbitMQ: check_name applies only on creation — an equivalent redeclare of amq.direct is declare-ok.
test("equivalent redeclare of amq.direct is declare-ok; passive amq.topic too", async () => {
  const c = await env.openWithChannel();
  try {
    c.sendMethod(1, M.exchangeDeclare, args.exchangeDeclare("amq.direct", "direct", { durable: true }));
    await c.expect(1, M.exchangeDeclareOk);
    c.sendMethod(1, M.exchangeDeclare, args.exchangeDeclare("amq.topic", "", { passive: true }));
    await c.expect(1, M.exchangeDeclareOk);
  } finally {
    await c.close();
  }
});

// RabbitMQ: exchange.delete of a missing exchange is delete-ok (idempotent).
test("exchange.delete of a missing exchange is delete-ok", async () => {
  const c = await env.openWithChannel();
  try {
    c.sendMethod(1, M.exchangeDelete, args.exchangeDelete(uniq("wire-nothing")));
    await c.expect(1, M.exchangeDeleteOk);
  } finally {
    await c.close();
  }
});

// RabbitMQ: publishing to the default exchange with an unknown routing key silently drops,
// and a mandatory publish comes back as basic.return 312 NO_ROUTE.
test("mandatory publish with no route: basic.return 312 NO_ROUTE", async () => {
  const c = await env.openWithChannel();
  try {
    const q = uniq("wire-noroute");
    c.publish(1, "", q, "lost");
    c.publish(1, "", q, "back", { mandatory: true });
    const ret = await c.expect(1, M.basicReturn);
    const r = ret.args!;
    assert.equal(r.short(), 312);
    assert.equal(r.shortstr(), "NO_ROUTE");
    assert.equal(r.shortstr(), "");
    assert.equal(r.shortstr(), q);
    const h = await c.next();
    assert.equal(h.type, 2);
    const b = await c.next();
    assert.equal(b.type, 3);
    assert.equal(b.payload.toString(), "back");
    await declareQueue(c, 1, uniq("wire-after"), { exclusive: true }); // channel still fine
  } finally {
    await c.close();
  }
});
