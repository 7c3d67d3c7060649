/**
 * Wire conformance: basic.*, tx.* and confirm.* misuse.
 *
 * Pins down rabbit_channel (RabbitMQ 3.10): unknown or already-acked delivery
 * tags are 406 "unknown delivery tag N" (ack, nack, reject; with multiple=true
 * too, when that very tag is not outstanding); a consumer x-priority that is not
 * an integer is 406 "invalid arg"; basic.qos with a
 * prefetch_size, basic.recover requeue=false are 540 NOT_IMPLEMENTED and close
 * the connection; a reused consumer tag is 530 NOT_ALLOWED (connection); an
 * exclusive consumer conflicts with others (403 "in exclusive use"); another
 * connection's exclusive queue is 405 for consume and get; invalid expiration
 * or delivery-mode are 406; a message over max_message_size is 406; tx.commit
 * / tx.rollback without tx.select are 406; switching between tx and confirm
 * modes is 406.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { M, args, Args, headerFrame, bodyFrame, methodFrame, decodeClose, frame, FRAME_BODY } from "../helpers/raw-client.js";
import { wireEnv, runErrorCase, declareQueue, assertConnectionUsable, assertClose, uniq, type WireEnv, type ErrorCase, type CaseCtx } from "./wire-helpers.js";

let env: WireEnv;
before(async () => {
  env = await wireEnv();
});
after(async () => {
  await env.broker.stop();
});

const locked = ({ q, vhost }: CaseCtx) =>
  `RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '${q}' in vhost '${vhost}'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.`;

async function otherConnectionsExclusiveQueue(k: CaseCtx): Promise<void> {
  const o = await k.env.openWithChannel();
  k.others.push(o);
  await declareQueue(o, 1, k.q, { exclusive: true });
}

/** Declares ctx.q, publishes one message, gets it with no-ack=false (delivery tag 1). */
async function getOneUnacked(k: CaseCtx): Promise<void> {
  await declareQueue(k.c, 1, k.q, { exclusive: true });
  k.c.publish(1, "", k.q, "m");
  k.c.sendMethod(1, M.basicGet, args.basicGet(k.q, false));
  const ok = await k.c.expect(1, M.basicGetOk);
  assert.equal(ok.args!.longlong(), 1);
  await k.c.next(); // header
  await k.c.next(); // body
}

const cases: ErrorCase[] = [
  {
    name: "basic.ack of an unknown delivery tag: 406",
    trigger: ({ c }) => c.sendMethod(1, M.basicAck, args.basicAck(1)),
    scope: "channel",
    code: 406,
    classId: 60,
    methodId: 80,
    text: "PRECONDITION_FAILED - unknown delivery tag 1",
  },
  {
    // delivery tag 0 without multiple is not "everything": it is unknown.
    name: "basic.ack of delivery tag 0 (multiple=false): 406",
    trigger: ({ c }) => c.sendMethod(1, M.basicAck, args.basicAck(0)),
    scope: "channel",
    code: 406,
    classId: 60,
    methodId: 80,
    text: "PRECONDITION_FAILED - unknown delivery tag 0",
  },
  {
    name: "double basic.ack: 406 on the second",
    setup: async (k) => {
      await getOneUnacked(k);
      k.c.sendMethod(1, M.basicAck, args.basicAck(1));
    },
    trigger: ({ c }) => c.sendMethod(1, M.basicAck, args.basicAck(1)),
    scope: "channel",
    code: 406,
    classId: 60,
    methodId: 80,
    text: "PRECONDITION_FAILED - unknown delivery tag 1",
  },
  {
    name: "basic.ack of a no-ack delivery: 406",
    setup: async (k) => {
      await declareQueue(k.c, 1, k.q, { exclusive: true });
      k.c.publish(1, "", k.q, "m");
      k.c.sendMethod(1, M.basicGet, args.basicGet(k.q, true));
      await k.c.expect(1, M.basicGetOk);
      await k.c.next();
      await k.c.next();
    },
    trigger: ({ c }) => c.sendMethod(1, M.basicAck, args.basicAck(1)),
    scope: "channel",
    code: 406,
    classId: 60,
    methodId: 80,
    text: "PRECONDITION_FAILED - unknown delivery tag 1",
  },
  {
    name: "basic.nack of an unknown delivery tag: 406",
    trigger: ({ c }) => c.sendMethod(1, M.basicNack, args.basicNack(3)),
    scope: "channel",
    code: 406,
    classId: 60,
    methodId: 120,
    text: "PRECONDITION_FAILED - unknown delivery tag 3",
  },
  {
    name: "basic.reject of an unknown delivery tag: 406",
    trigger: ({ c }) => c.sendMethod(1, M.basicReject, args.basicReject(3)),
    scope: "channel",
    code: 406,
    classId: 60,
    methodId: 90,
    text: "PRECONDITION_FAILED - unknown delivery tag 3",
  },
  {
    // rabbit_channel:collect_acks: multiple=true needs the tag itself outstanding, even when
    // lower tags are (they are not acked either)
    name: "basic.ack multiple=true of a tag never delivered (tag 1 outstanding): 406",
    setup: getOneUnacked,
    trigger: ({ c }) => c.sendMethod(1, M.basicAck, args.basicAck(5, true)),
    scope: "channel",
    code: 406,
    classId: 60,
    methodId: 80,
    text: "PRECONDITION_FAILED - unknown delivery tag 5",
  },
  {
    name: "basic.nack multiple=true of a tag never delivered (tag 1 outstanding): 406",
    setup: getOneUnacked,
    trigger: ({ c }) => c.sendMethod(1, M.basicNack, args.basicNack(7, true)),
    scope: "channel",
    code: 406,
    classId: 60,
    methodId: 120,
    text: "PRECONDITION_FAILED - unknown delivery tag 7",
  },
  {
    name: "basic.ack multiple=true with nothing outstanding: 406",
    trigger: ({ c }) => c.sendMethod(1, M.basicAck, args.basicAck(2, true)),
    scope: "channel",
    code: 406,
    classId: 60,
    methodId: 80,
    text: "PRECONDITION_FAILED - unknown delivery tag 2",
  },
  // rabbit_amqqueue:check_consumer_args: x-priority must be an integer, x-cancel-on-ha-failover a bool
  ...(
    [
      ["longstr", "high"],
      ["double", { type: "d", value: 1.5 }],
      ["bool", true],
    ] as const
  ).map(
    ([type, value]): ErrorCase => ({
      name: `basic.consume with x-priority of type ${type}: 406`,
      setup: async ({ c, q }) => {
        await declareQueue(c, 1, q, { exclusive: true });
      },
      trigger: ({ c, q }) => c.sendMethod(1, M.basicConsume, args.basicConsume(q, "", { arguments: { "x-priority": value } })),
      scope: "channel",
      code: 406,
      classId: 60,
      methodId: 20,
      text: ({ q, vhost }) => `PRECONDITION_FAILED - invalid arg 'x-priority' for queue '${q}' in vhost '${vhost}': "expected integer, got ${type}"`,
    }),
  ),
  {
    name: "basic.consume with x-cancel-on-ha-failover not a bool: 406",
    setup: async ({ c, q }) => {
      await declareQueue(c, 1, q, { exclusive: true });
    },
    trigger: ({ c, q }) => c.sendMethod(1, M.basicConsume, args.basicConsume(q, "", { arguments: { "x-cancel-on-ha-failover": "yes" } })),
    scope: "channel",
    code: 406,
    classId: 60,
    methodId: 20,
    text: ({ q, vhost }) => `PRECONDITION_FAILED - invalid arg 'x-cancel-on-ha-failover' for queue '${q}' in vhost '${vhost}': {unacceptable_type,longstr}`,
  },
  // rabbit_basic:header_routes: a CC or BCC header that is not an array is refused
  ...(
    [
      ["CC", "k", "longstr"],
      ["BCC", "k", "longstr"],
      ["CC", { a: 1 }, "table"],
      ["BCC", 7, "signedint"],
    ] as const
  ).map(
    ([h, v, type]): ErrorCase => ({
      name: `publish with a ${h} header of type ${type}: 406`,
      trigger: ({ c }) => c.publish(1, "amq.direct", "k", "m", { props: { headers: { [h]: v } } }),
      scope: "channel",
      code: 406,
      classId: 60,
      methodId: 40,
      text: `PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"${h}",${type}}`,
    }),
  ),
  {
    name: "basic.qos with prefetch_size: connection.close 540",
    trigger: ({ c }) => c.sendMethod(1, M.basicQos, args.basicQos(1, 0)),
    scope: "connection",
    code: 540,
    classId: 60,
    methodId: 10,
    text: "NOT_IMPLEMENTED - prefetch_size!=0 (1)",
  },
  {
    name: "basic.recover requeue=false: connection.close 540",
    trigger: ({ c }) => c.sendMethod(1, M.basicRecover, new Args().bit(false).build()),
    scope: "connection",
    code: 540,
    classId: 60,
    methodId: 110,
    text: "NOT_IMPLEMENTED - requeue=false",
  },
  {
    name: "basic.consume with a consumer tag in use on the channel: connection.close 530",
    setup: async ({ c, q }) => {
      await declareQueue(c, 1, q, { exclusive: true });
      c.sendMethod(1, M.basicConsume, args.basicConsume(q, "ctag"));
      await c.expect(1, M.basicConsumeOk);
    },
    trigger: ({ c, q }) => c.sendMethod(1, M.basicConsume, args.basicConsume(q, "ctag")),
    scope: "connection",
    code: 530,
    classId: 60,
    methodId: 20,
    text: "NOT_ALLOWED - attempt to reuse consumer tag 'ctag'",
  },
  {
    name: "exclusive basic.consume on a queue that has a consumer: 403",
    setup: async ({ c, q }) => {
      await declareQueue(c, 1, q, { exclusive: true });
      c.sendMethod(1, M.basicConsume, args.basicConsume(q, "a"));
      await c.expect(1, M.basicConsumeOk);
    },
    trigger: ({ c, q }) => c.sendMethod(1, M.basicConsume, args.basicConsume(q, "b", { exclusive: true })),
    scope: "channel",
    code: 403,
    classId: 60,
    methodId: 20,
    text: ({ q, vhost }) => `ACCESS_REFUSED - queue '${q}' in vhost '${vhost}' in exclusive use`,
  },
  {
    name: "basic.consume on a queue with an exclusive consumer: 403",
    setup: async ({ c, q }) => {
      await declareQueue(c, 1, q, { exclusive: true });
      c.sendMethod(1, M.basicConsume, args.basicConsume(q, "a", { exclusive: true }));
      await c.expect(1, M.basicConsumeOk);
    },
    trigger: ({ c, q }) => c.sendMethod(1, M.basicConsume, args.basicConsume(q, "b")),
    scope: "channel",
    code: 403,
    classId: 60,
    methodId: 20,
    text: ({ q, vhost }) => `ACCESS_REFUSED - queue '${q}' in vhost '${vhost}' in exclusive use`,
  },
  {
    name: "basic.consume from another connection's exclusive queue: 405",
    setup: otherConnectionsExclusiveQueue,
    trigger: ({ c, q }) => c.sendMethod(1, M.basicConsume, args.basicConsume(q)),
    scope: "channel",
    code: 405,
    classId: 60,
    methodId: 20,
    text: locked,
  },
  {
    name: "basic.get from another connection's exclusive queue: 405",
    setup: otherConnectionsExclusiveQueue,
    trigger: ({ c, q }) => c.sendMethod(1, M.basicGet, args.basicGet(q)),
    scope: "channel",
    code: 405,
    classId: 60,
    methodId: 70,
    text: locked,
  },
  {
    name: "basic.consume from a missing queue: 404",
    trigger: ({ c, q }) => c.sendMethod(1, M.basicConsume, args.basicConsume(q)),
    scope: "channel",
    code: 404,
    classId: 60,
    methodId: 20,
    text: ({ q, vhost }) => `NOT_FOUND - no queue '${q}' in vhost '${vhost}'`,
  },
  {
    name: "basic.get from a missing queue: 404",
    trigger: ({ c, q }) => c.sendMethod(1, M.basicGet, args.basicGet(q)),
    scope: "channel",
    code: 404,
    classId: 60,
    methodId: 70,
    text: ({ q, vhost }) => `NOT_FOUND - no queue '${q}' in vhost '${vhost}'`,
  },
  {
    // rabbit_channel:check_expiration_header.
    name: "publish with a non-numeric expiration: 406",
    trigger: ({ c, q }) => c.publish(1, "", q, "m", { props: { expiration: "abc" } }),
    scope: "channel",
    code: 406,
    classId: 60,
    methodId: 40,
    text: "PRECONDITION_FAILED - invalid expiration 'abc': no_integer",
  },
  {
    name: "publish with a negative expiration: 406",
    trigger: ({ c, q }) => c.publish(1, "", q, "m", { props: { expiration: "-5" } }),
    scope: "channel",
    code: 406,
    classId: 60,
    methodId: 40,
    text: "PRECONDITION_FAILED - invalid expiration '-5': {value_negative,-5}",
  },
  {
    // rabbit_basic:message — delivery-mode must be 1 or 2 (or absent).
    name: "publish with delivery-mode 7: 406",
    trigger: ({ c, q }) => c.publish(1, "", q, "m", { props: { deliveryMode: 7 } }),
    scope: "channel",
    code: 406,
    classId: 60,
    methodId: 40,
    text: "PRECONDITION_FAILED - invalid message: {delivery_mode_unknown,7}",
  },
  {
    name: "tx.commit without tx.select: 406",
    trigger: ({ c }) => c.sendMethod(1, M.txCommit),
    scope: "channel",
    code: 406,
    classId: 90,
    methodId: 20,
    text: "PRECONDITION_FAILED - channel is not transactional",
  },
  {
    name: "tx.rollback without tx.select: 406",
    trigger: ({ c }) => c.sendMethod(1, M.txRollback),
    scope: "channel",
    code: 406,
    classId: 90,
    methodId: 30,
    text: "PRECONDITION_FAILED - channel is not transactional",
  },
  {
    name: "confirm.select on a transactional channel: 406",
    setup: async ({ c }) => {
      c.sendMethod(1, M.txSelect);
      await c.expect(1, M.txSelectOk);
    },
    trigger: ({ c }) => c.sendMethod(1, M.confirmSelect, new Args().bit(false).build()),
    scope: "channel",
    code: 406,
    classId: 85,
    methodId: 10,
    text: "PRECONDITION_FAILED - cannot switch from tx to confirm mode",
  },
  {
    name: "tx.select on a confirm channel: 406",
    setup: async ({ c }) => {
      c.sendMethod(1, M.confirmSelect, new Args().bit(false).build());
      await c.expect(1, M.confirmSelectOk);
    },
    trigger: ({ c }) => c.sendMethod(1, M.txSelect),
    scope: "channel",
    code: 406,
    classId: 90,
    methodId: 10,
    text: "PRECONDITION_FAILED - cannot switch from confirm to tx mode",
  },
];

for (const k of cases) test(k.name, () => runErrorCase(env, k));

// RabbitMQ: basic.cancel of an unknown consumer tag is cancel-ok, not an error.
test("basic.cancel of an unknown consumer tag is cancel-ok", async () => {
  const c = await env.openWithChannel();
  try {
    c.sendMethod(1, M.basicCancel, args.basicCancel("no-such-tag"));
    const ok = await c.expect(1, M.basicCancelOk);
    assert.equal(ok.args!.shortstr(), "no-such-tag");
  } finally {
    await c.close();
  }
});

// RabbitMQ: ack multiple=true with tag 0 means "everything outstanding" and is fine when nothing is.
test("basic.ack multiple=true with delivery tag 0 and nothing outstanding is not an error", async () => {
  const c = await env.openWithChannel();
  try {
    c.sendMethod(1, M.basicAck, args.basicAck(0, true));
    c.sendMethod(1, M.basicQos, args.basicQos(0, 5));
    await c.expect(1, M.basicQosOk);
  } finally {
    await c.close();
  }
});

// rabbit_channel:check_msg_size: a body over max_message_size (default 128 MiB) is 406 once the
// content is complete. The body is streamed in frame_max-sized frames with backpressure.
test("message larger than max_message_size: 406", { timeout: 60_000 }, async () => {
  const maxSize = 134_217_728;
  const c = await env.openWithChannel();
  try {
    const q = uniq("wire-big");
    c.sendMethod(1, M.basicPublish, args.basicPublish("", q));
    c.send(headerFrame(1, maxSize + 1));
    const chunk = c.tune!.frameMax - 8;
    const full = frame(FRAME_BODY, 1, Buffer.alloc(chunk, 0x61));
    let left = maxSize + 1;
    while (left > 0 && !c.closed) {
      const n = Math.min(chunk, left);
      const ok = c.socket.write(n === chunk ? full : frame(FRAME_BODY, 1, Buffer.alloc(n, 0x61)));
      left -= n;
      if (!ok) await Promise.race([once(c.socket, "drain"), once(c.socket, "close")]);
    }
    const close = await c.expectChannelClose(1, 406, 30_000);
    assertClose(close, 406, `PRECONDITION_FAILED - message size ${maxSize + 1} is larger than configured max size ${maxSize}`, 60, 40);
    await assertConnectionUsable(c, 2);
  } finally {
    await c.close();
  }
});

// rabbit_channel (RabbitMQ 3.10): once the server has sent channel.close, nothing but that
// close is sent on the channel — not the confirms of persistent messages published just before
// the error (warren once sent a late basic.ack after the close, which clients that reuse the
// channel number read as an ack on the new channel). The persistent publishes and the failing
// one go out in one write, so their confirms are still waiting for the disk when the 404 closes
// the channel.
test("confirm channel closed by an error: no late basic.ack after channel.close, none on the reopened channel", async () => {
  const c = await env.openWithChannel();
  const q = uniq("wire-late-ack");
  try {
    c.sendMethod(1, M.confirmSelect, new Args().bit(false).build());
    await c.expect(1, M.confirmSelectOk);
    await declareQueue(c, 1, q, { durable: true });
    const frames: Buffer[] = [];
    for (let i = 0; i < 20; i++) {
      frames.push(methodFrame(1, M.basicPublish, args.basicPublish("", q)), headerFrame(1, 1, { deliveryMode: 2 }), bodyFrame(1, "m"));
    }
    frames.push(methodFrame(1, M.basicPublish, args.basicPublish(uniq("wire-missing-x"), "k")), headerFrame(1, 1), bodyFrame(1, "x"));
    c.send(Buffer.concat(frames));
    // acks that were ready before the error may come first
    let close = await c.next(5000);
    while (close.classId === 60 && close.methodId === 80) close = await c.next(5000);
    assert.equal(`${close.classId}.${close.methodId}`, "20.40", "channel.close");
    assertClose(decodeClose(close), 404, /^NOT_FOUND - no exchange 'wire-missing-x-[0-9a-f]+' in vhost '.*'$/, 60, 40);
    // frames before the close may include acks; after it, silence until we answer
    await c.expectSilence(500);
    c.sendMethod(1, M.channelCloseOk);
    await c.openChannel(1);
    c.sendMethod(1, M.queueDeclare, args.queueDeclare(q, { passive: true }));
    const next = await c.next(5000);
    assert.equal(`${next.classId}.${next.methodId}`, "50.11", `expected queue.declare-ok on the reopened channel, got ${next.classId}.${next.methodId}`);
  } finally {
    c.sendMethod(1, M.queueDelete, args.queueDelete(q));
    await c.close();
  }
});
