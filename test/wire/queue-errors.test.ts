/**
 * Wire conformance: queue.* misuse — exact channel.close codes and texts.
 *
 * Pins down rabbit_channel / rabbit_amqqueue / rabbit_queue_type (RabbitMQ
 * 3.10): passive declare of a missing queue is 404; redeclaring with other
 * durable/auto-delete/arguments is 406 "inequivalent arg"; bad x-arguments are
 * 406 "invalid arg"; "amq." names are 403; another connection's exclusive
 * queue is 405; queue.delete if-unused/if-empty is 406; binding to a missing
 * queue or exchange is 404. All of these are channel-level: the connection
 * stays usable (checked after every case by runErrorCase).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { M, args } from "../helpers/raw-client.js";
import { wireEnv, runErrorCase, declareQueue, uniq, type WireEnv, type ErrorCase, type CaseCtx } from "./wire-helpers.js";

let env: WireEnv;
before(async () => {
  env = await wireEnv();
});
after(async () => {
  await env.broker.stop();
});

const locked = ({ q, vhost }: CaseCtx) =>
  `RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '${q}' in vhost '${vhost}'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.`;

const invalidArg = (arg: string, detail: string) => (x: { q: string; vhost: string }) => `PRECONDITION_FAILED - invalid arg '${arg}' for queue '${x.q}' in vhost '${x.vhost}': ${detail}`;

const cases: ErrorCase[] = [
  {
    // rabbit_amqqueue:not_found — passive declare never creates.
    name: "queue.declare passive on a missing queue: 404",
    trigger: ({ c, q }) => c.sendMethod(1, M.queueDeclare, args.queueDeclare(q, { passive: true })),
    scope: "channel",
    code: 404,
    classId: 50,
    methodId: 10,
    text: ({ q, vhost }) => `NOT_FOUND - no queue '${q}' in vhost '${vhost}'`,
  },
  {
    // rabbit_misc:assert_field_equivalence on durable (not checked for exclusive queues, so a shared one).
    name: "redeclare with other durable: 406 inequivalent arg 'durable'",
    setup: (k) => {
      k.queues.push(k.q);
      return declareQueue(k.c, 1, k.q);
    },
    trigger: ({ c, q }) => c.sendMethod(1, M.queueDeclare, args.queueDeclare(q, { durable: true })),
    scope: "channel",
    code: 406,
    classId: 50,
    methodId: 10,
    text: ({ q, vhost }) => `PRECONDITION_FAILED - inequivalent arg 'durable' for queue '${q}' in vhost '${vhost}': received 'true' but current is 'false'`,
  },
  {
    name: "redeclare with other auto_delete: 406 inequivalent arg 'auto_delete'",
    setup: ({ c, q }) => declareQueue(c, 1, q, { exclusive: true }),
    trigger: ({ c, q }) => c.sendMethod(1, M.queueDeclare, args.queueDeclare(q, { exclusive: true, autoDelete: true })),
    scope: "channel",
    code: 406,
    classId: 50,
    methodId: 10,
    text: ({ q, vhost }) => `PRECONDITION_FAILED - inequivalent arg 'auto_delete' for queue '${q}' in vhost '${vhost}': received 'true' but current is 'false'`,
  },
  {
    // rabbit_amqqueue:check_arguments_equivalence — value and type both shown.
    name: "redeclare with another x-max-length: 406 inequivalent arg",
    setup: ({ c, q }) => declareQueue(c, 1, q, { exclusive: true, arguments: { "x-max-length": 10 } }),
    trigger: ({ c, q }) => c.sendMethod(1, M.queueDeclare, args.queueDeclare(q, { exclusive: true, arguments: { "x-max-length": 20 } })),
    scope: "channel",
    code: 406,
    classId: 50,
    methodId: 10,
    text: ({ q, vhost }) => `PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue '${q}' in vhost '${vhost}': received '20' but current is '10'`,
  },
  {
    name: "redeclare without an x-argument the queue has: 406 inequivalent arg",
    setup: ({ c, q }) => declareQueue(c, 1, q, { exclusive: true, arguments: { "x-message-ttl": 1000 } }),
    trigger: ({ c, q }) => c.sendMethod(1, M.queueDeclare, args.queueDeclare(q, { exclusive: true })),
    scope: "channel",
    code: 406,
    classId: 50,
    methodId: 10,
    text: ({ q, vhost }) => `PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue '${q}' in vhost '${vhost}': received none but current is the value '1000' of type 'signedint'`,
  },
  {
    // rabbit_channel:check_name — reserved prefix on creation.
    name: "queue name beginning with amq.: 403",
    trigger: ({ c }) => c.sendMethod(1, M.queueDeclare, args.queueDeclare("amq.wire-test", { exclusive: true })),
    scope: "channel",
    code: 403,
    classId: 50,
    methodId: 10,
    text: "ACCESS_REFUSED - queue name 'amq.wire-test' contains reserved prefix 'amq.*'",
  },
  {
    // rabbit_amqqueue:check_exclusive_access from another connection.
    name: "declare of another connection's exclusive queue: 405",
    setup: async (k) => {
      const o = await k.env.openWithChannel();
      k.others.push(o);
      await declareQueue(o, 1, k.q, { exclusive: true });
    },
    trigger: ({ c, q }) => c.sendMethod(1, M.queueDeclare, args.queueDeclare(q, { exclusive: true })),
    scope: "channel",
    code: 405,
    classId: 50,
    methodId: 10,
    text: ({ q, vhost }) =>
      `RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '${q}' in vhost '${vhost}'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.`,
  },
  {
    name: "passive declare of another connection's exclusive queue: 405",
    setup: async (k) => {
      const o = await k.env.openWithChannel();
      k.others.push(o);
      await declareQueue(o, 1, k.q, { exclusive: true });
    },
    trigger: ({ c, q }) => c.sendMethod(1, M.queueDeclare, args.queueDeclare(q, { passive: true })),
    scope: "channel",
    code: 405,
    classId: 50,
    methodId: 10,
    text: ({ q, vhost }) =>
      `RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '${q}' in vhost '${vhost}'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.`,
  },
  {
    name: "queue.delete of another connection's exclusive queue: 405",
    setup: async (k) => {
      const o = await k.env.openWithChannel();
      k.others.push(o);
      await declareQueue(o, 1, k.q, { exclusive: true });
    },
    trigger: ({ c, q }) => c.sendMethod(1, M.queueDelete, args.queueDelete(q)),
    scope: "channel",
    code: 405,
    classId: 50,
    methodId: 40,
    text: ({ q, vhost }) =>
      `RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '${q}' in vhost '${vhost}'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.`,
  },
  {
    // rabbit_amqqueue:delete if_unused.
    name: "queue.delete if-unused on a queue with a consumer: 406",
    setup: async ({ c, q }) => {
      await declareQueue(c, 1, q, { exclusive: true });
      c.sendMethod(1, M.basicConsume, args.basicConsume(q, "ctag-1"));
      await c.expect(1, M.basicConsumeOk);
    },
    trigger: ({ c, q }) => c.sendMethod(1, M.queueDelete, args.queueDelete(q, { ifUnused: true })),
    scope: "channel",
    code: 406,
    classId: 50,
    methodId: 40,
    text: ({ q, vhost }) => `PRECONDITION_FAILED - queue '${q}' in vhost '${vhost}' in use`,
  },
  {
    name: "queue.delete if-empty on a queue with a message: 406",
    setup: async ({ c, q }) => {
      await declareQueue(c, 1, q, { exclusive: true });
      c.publish(1, "", q, "m");
    },
    trigger: ({ c, q }) => c.sendMethod(1, M.queueDelete, args.queueDelete(q, { ifEmpty: true })),
    scope: "channel",
    code: 406,
    classId: 50,
    methodId: 40,
    text: ({ q, vhost }) => `PRECONDITION_FAILED - queue '${q}' in vhost '${vhost}' not empty`,
  },
  {
    name: "queue.bind of a missing queue: 404",
    trigger: ({ c, q }) => c.sendMethod(1, M.queueBind, args.queueBind(q, "amq.direct", "k")),
    scope: "channel",
    code: 404,
    classId: 50,
    methodId: 20,
    text: ({ q, vhost }) => `NOT_FOUND - no queue '${q}' in vhost '${vhost}'`,
  },
  {
    name: "queue.bind to a missing exchange: 404",
    setup: ({ c, q }) => declareQueue(c, 1, q, { exclusive: true }),
    trigger: ({ c, q, x }) => c.sendMethod(1, M.queueBind, args.queueBind(q, x, "k")),
    scope: "channel",
    code: 404,
    classId: 50,
    methodId: 20,
    text: ({ x, vhost }) => `NOT_FOUND - no exchange '${x}' in vhost '${vhost}'`,
  },
  {
    // rabbit_channel:check_not_default_exchange.
    name: "queue.bind to the default exchange: 403",
    setup: ({ c, q }) => declareQueue(c, 1, q, { exclusive: true }),
    trigger: ({ c, q }) => c.sendMethod(1, M.queueBind, args.queueBind(q, "", q)),
    scope: "channel",
    code: 403,
    classId: 50,
    methodId: 20,
    text: "ACCESS_REFUSED - operation not permitted on the default exchange",
  },
  {
    name: "queue.purge of a missing queue: 404",
    trigger: ({ c, q }) => c.sendMethod(1, M.queuePurge, args.queuePurge(q)),
    scope: "channel",
    code: 404,
    classId: 50,
    methodId: 30,
    text: ({ q, vhost }) => `NOT_FOUND - no queue '${q}' in vhost '${vhost}'`,
  },
  {
    // rabbit_channel:expand_queue_name_shortcut — "" means "last declared on this channel".
    name: "basic.get with an empty queue name before any declare: 404",
    trigger: ({ c }) => c.sendMethod(1, M.basicGet, args.basicGet("")),
    scope: "channel",
    code: 404,
    classId: 60,
    methodId: 70,
    text: "NOT_FOUND - no previously declared queue",
  },
  // rabbit_queue_type / rabbit_amqqueue:check_arguments — x-argument validation.
  {
    name: "x-message-ttl as a string: 406 invalid arg",
    trigger: ({ c, q }) => c.sendMethod(1, M.queueDeclare, args.queueDeclare(q, { exclusive: true, arguments: { "x-message-ttl": "1000" } })),
    scope: "channel",
    code: 406,
    classId: 50,
    methodId: 10,
    text: invalidArg("x-message-ttl", `"expected integer, got longstr"`),
  },
  {
    name: "negative x-message-ttl: 406 invalid arg",
    trigger: ({ c, q }) => c.sendMethod(1, M.queueDeclare, args.queueDeclare(q, { exclusive: true, arguments: { "x-message-ttl": -1 } })),
    scope: "channel",
    code: 406,
    classId: 50,
    methodId: 10,
    text: invalidArg("x-message-ttl", "{value_negative,-1}"),
  },
  {
    name: "x-expires 0: 406 invalid arg",
    trigger: ({ c, q }) => c.sendMethod(1, M.queueDeclare, args.queueDeclare(q, { exclusive: true, arguments: { "x-expires": 0 } })),
    scope: "channel",
    code: 406,
    classId: 50,
    methodId: 10,
    text: invalidArg("x-expires", "{value_zero,0}"),
  },
  {
    name: "x-max-length as a string: 406 invalid arg",
    trigger: ({ c, q }) => c.sendMethod(1, M.queueDeclare, args.queueDeclare(q, { exclusive: true, arguments: { "x-max-length": "ten" } })),
    scope: "channel",
    code: 406,
    classId: 50,
    methodId: 10,
    text: invalidArg("x-max-length", `"expected integer, got longstr"`),
  },
  {
    name: "x-max-priority as a string: 406 invalid arg",
    trigger: ({ c, q }) => c.sendMethod(1, M.queueDeclare, args.queueDeclare(q, { exclusive: true, arguments: { "x-max-priority": "high" } })),
    scope: "channel",
    code: 406,
    classId: 50,
    methodId: 10,
    text: invalidArg("x-max-priority", `"expected integer, got longstr"`),
  },
  {
    name: "negative x-max-priority: 406 invalid arg",
    trigger: ({ c, q }) => c.sendMethod(1, M.queueDeclare, args.queueDeclare(q, { exclusive: true, arguments: { "x-max-priority": -1 } })),
    scope: "channel",
    code: 406,
    classId: 50,
    methodId: 10,
    text: invalidArg("x-max-priority", "{value_negative,-1}"),
  },
  {
    name: "x-max-priority above 255: 406 invalid arg",
    trigger: ({ c, q }) => c.sendMethod(1, M.queueDeclare, args.queueDeclare(q, { exclusive: true, arguments: { "x-max-priority": 256 } })),
    scope: "channel",
    code: 406,
    classId: 50,
    methodId: 10,
    text: invalidArg("x-max-priority", "{max_value_exceeded,256}"),
  },
  {
    name: "unknown x-overflow value: 406 invalid arg",
    trigger: ({ c, q }) => c.sendMethod(1, M.queueDeclare, args.queueDeclare(q, { exclusive: true, arguments: { "x-overflow": "explode" } })),
    scope: "channel",
    code: 406,
    classId: 50,
    methodId: 10,
    text: invalidArg("x-overflow", "invalid_overflow"),
  },
  {
    name: "x-dead-letter-routing-key without x-dead-letter-exchange: 406 invalid arg",
    trigger: ({ c, q }) => c.sendMethod(1, M.queueDeclare, args.queueDeclare(q, { exclusive: true, arguments: { "x-dead-letter-routing-key": "k" } })),
    scope: "channel",
    code: 406,
    classId: 50,
    methodId: 10,
    text: invalidArg("x-dead-letter-routing-key", "routing_key_but_no_dlx_defined"),
  },
  // rabbit_amqqueue:check_exclusivity: the exclusive flag of a redeclare must match the queue's,
  // on the declaring connection too (issue 19: warren answered declare-ok)
  {
    name: "redeclare a shared queue as exclusive on the same connection: 405",
    setup: (k) => {
      k.queues.push(k.q);
      return declareQueue(k.c, 1, k.q);
    },
    trigger: ({ c, q }) => c.sendMethod(1, M.queueDeclare, args.queueDeclare(q, { exclusive: true })),
    scope: "channel",
    code: 405,
    classId: 50,
    methodId: 10,
    text: locked,
  },
  {
    name: "redeclare an exclusive queue as shared on its own connection: 405",
    setup: ({ c, q }) => declareQueue(c, 1, q, { exclusive: true }),
    trigger: ({ c, q }) => c.sendMethod(1, M.queueDeclare, args.queueDeclare(q)),
    scope: "channel",
    code: 405,
    classId: 50,
    methodId: 10,
    text: locked,
  },
  {
    name: "redeclare a shared queue as exclusive from another connection: 405",
    setup: async (k) => {
      k.queues.push(k.q);
      const o = await k.env.openWithChannel();
      k.others.push(o);
      await declareQueue(o, 1, k.q);
    },
    trigger: ({ c, q }) => c.sendMethod(1, M.queueDeclare, args.queueDeclare(q, { exclusive: true })),
    scope: "channel",
    code: 405,
    classId: 50,
    methodId: 10,
    text: locked,
  },
  // rabbit_channel:check_name applies to every non-passive declare of a client-chosen name, so
  // an existing server-named queue cannot be redeclared by name (passive is fine)
  {
    name: "non-passive redeclare of an existing server-named amq.gen- queue: 403",
    setup: async (k) => {
      k.c.sendMethod(1, M.queueDeclare, args.queueDeclare("", { exclusive: true }));
      const ok = await k.c.expect(1, M.queueDeclareOk);
      k.q = ok.args!.shortstr();
      assert.match(k.q, /^amq\.gen-/);
    },
    trigger: ({ c, q }) => c.sendMethod(1, M.queueDeclare, args.queueDeclare(q, { exclusive: true })),
    scope: "channel",
    code: 403,
    classId: 50,
    methodId: 10,
    text: ({ q }) => `ACCESS_REFUSED - queue name '${q}' contains reserved prefix 'amq.*'`,
  },
  // rabbit_misc:assert_args_equivalence: integers compare by value across wire types, the
  // 406 texts name the real values (typed when only one side has the argument)
  {
    name: "redeclare with another x-message-ttl of another integer type: 406 with both values",
    setup: ({ c, q }) => declareQueue(c, 1, q, { exclusive: true, arguments: { "x-message-ttl": { type: "s", value: 1000 } } }),
    trigger: ({ c, q }) => c.sendMethod(1, M.queueDeclare, args.queueDeclare(q, { exclusive: true, arguments: { "x-message-ttl": { type: "l", value: 2000 } } })),
    scope: "channel",
    code: 406,
    classId: 50,
    methodId: 10,
    text: ({ q, vhost }) => `PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue '${q}' in vhost '${vhost}': received '2000' but current is '1000'`,
  },
  {
    name: "redeclare adding an x-argument the queue lacks: 406 received the value of type short",
    setup: ({ c, q }) => declareQueue(c, 1, q, { exclusive: true }),
    trigger: ({ c, q }) => c.sendMethod(1, M.queueDeclare, args.queueDeclare(q, { exclusive: true, arguments: { "x-message-ttl": { type: "s", value: 1000 } } })),
    scope: "channel",
    code: 406,
    classId: 50,
    methodId: 10,
    text: ({ q, vhost }) => `PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue '${q}' in vhost '${vhost}': received the value '1000' of type 'short' but current is none`,
  },
  {
    name: "redeclare with an integer x-expires as a double: 406 (an integer is not a float)",
    setup: ({ c, q }) => declareQueue(c, 1, q, { exclusive: true, arguments: { "x-expires": 10000 } }),
    trigger: ({ c, q }) => c.sendMethod(1, M.queueDeclare, args.queueDeclare(q, { exclusive: true, arguments: { "x-expires": { type: "d", value: 10000 } } })),
    scope: "channel",
    code: 406,
    classId: 50,
    methodId: 10,
    text: ({ q, vhost }) => `PRECONDITION_FAILED - inequivalent arg 'x-expires' for queue '${q}' in vhost '${vhost}': received '1.0e4' but current is '10000'`,
  },
  {
    name: "redeclare with another x-queue-mode: 406",
    setup: ({ c, q }) => declareQueue(c, 1, q, { exclusive: true, arguments: { "x-queue-mode": "lazy" } }),
    trigger: ({ c, q }) => c.sendMethod(1, M.queueDeclare, args.queueDeclare(q, { exclusive: true, arguments: { "x-queue-mode": "default" } })),
    scope: "channel",
    code: 406,
    classId: 50,
    methodId: 10,
    text: ({ q, vhost }) => `PRECONDITION_FAILED - inequivalent arg 'x-queue-mode' for queue '${q}' in vhost '${vhost}': received 'default' but current is 'lazy'`,
  },
  // rabbit_queue_type: arguments of another queue type are refused
  ...(
    [
      ["classic", "x-delivery-limit", 3, "rabbit_classic_queue"],
      ["classic", "x-max-age", "1D", "rabbit_classic_queue"],
      ["quorum", "x-max-priority", 5, "rabbit_quorum_queue"],
    ] as const
  ).map(
    ([type, arg, value, module]): ErrorCase => ({
      name: `${arg} on a ${type} queue: 406 invalid arg of queue type ${module}`,
      trigger: ({ c, q }) =>
        c.sendMethod(
          1,
          M.queueDeclare,
          args.queueDeclare(q, type === "quorum" ? { durable: true, arguments: { "x-queue-type": "quorum", [arg]: value } } : { exclusive: true, arguments: { [arg]: value } }),
        ),
      scope: "channel",
      code: 406,
      classId: 50,
      methodId: 10,
      text: ({ q, vhost }) => `PRECONDITION_FAILED - invalid arg '${arg}' for queue '${q}' in vhost '${vhost}' of queue type ${module}`,
    }),
  ),
];

for (const k of cases) test(k.name, () => runErrorCase(env, k));

// rabbit_misc:assert_args_equivalence: the same integer in any integer type (a TTL declared as a
// short, redeclared as a long or an unsigned int) is equivalent; arguments RabbitMQ does not know
// are not compared; a missing x-queue-type means the current type.
test("equivalent redeclares: integers across wire types, unknown arguments, x-queue-type omitted", async () => {
  const c = await env.openWithChannel();
  try {
    const q = uniq("wire-equiv");
    await declareQueue(c, 1, q, { exclusive: true, arguments: { "x-message-ttl": { type: "s", value: 1000 }, "x-max-length": { type: "b", value: 10 }, "x-custom": "a" } });
    for (const [ttl, len] of [
      [
        { type: "I", value: 1000 },
        { type: "l", value: 10 },
      ],
      [
        { type: "u", value: 1000 },
        { type: "B", value: 10 },
      ],
      [
        { type: "i", value: 1000 },
        { type: "s", value: 10 },
      ],
    ] as const) {
      await declareQueue(c, 1, q, { exclusive: true, arguments: { "x-message-ttl": ttl, "x-max-length": len, "x-custom": "b", "x-queue-type": "classic" } });
    }
  } finally {
    await c.close();
  }
});

// rabbit_channel: the default exclusive-queue rule makes exclusive queues non-durable
// (Durable = durable andalso not exclusive), so durable and non-durable exclusive declares match.
test("exclusive queues are never durable: a redeclare with the other durable flag is declare-ok", async () => {
  const c = await env.openWithChannel();
  try {
    const q = uniq("wire-excl-durable");
    await declareQueue(c, 1, q, { exclusive: true, durable: true });
    await declareQueue(c, 1, q, { exclusive: true, durable: false });
  } finally {
    await c.close();
  }
});

// RabbitMQ: queue.delete of a queue that does not exist is not an error (delete-ok, 0 messages).
test("queue.delete of a missing queue is delete-ok with message-count 0", async () => {
  const c = await env.openWithChannel();
  try {
    c.sendMethod(1, M.queueDelete, args.queueDelete(uniq("wire-nothing")));
    const ok = await c.expect(1, M.queueDeleteOk);
    assert.equal(ok.args!.long(), 0);
  } finally {
    await c.close();
  }
});

// RabbitMQ: an equivalent redeclare (same flags and arguments) is declare-ok with the counts.
test("equivalent redeclare answers declare-ok with message and consumer counts", async () => {
  const c = await env.openWithChannel();
  try {
    const q = uniq("wire-redeclare");
    await declareQueue(c, 1, q, { exclusive: true, arguments: { "x-max-length": 10 } });
    c.sendMethod(1, M.confirmSelect, Buffer.from([0]));
    await c.expect(1, M.confirmSelectOk);
    c.publish(1, "", q, "one");
    await c.expect(1, M.basicAck); // the message is in the queue before we count
    c.sendMethod(1, M.queueDeclare, args.queueDeclare(q, { exclusive: true, arguments: { "x-max-length": 10 } }));
    const ok = await c.expect(1, M.queueDeclareOk);
    const r = ok.args!;
    assert.equal(r.shortstr(), q);
    assert.equal(r.long(), 1, "message-count");
    assert.equal(r.long(), 0, "consumer-count");
  } finally {
    await c.close();
  }
});
