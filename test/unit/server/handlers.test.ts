/**
 * AMQP method handlers in-process, without a socket or a handshake: each handler gets a
 * Session (src/server/session.ts) over a real Broker without storage, and its answers are
 * recorded (methods) or decoded from what it wrote to the outbox (content frames). The same
 * methods are checked over TCP in test/wire and test/semantics, there also against RabbitMQ.
 * RabbitMQ behaviour pinned down: server-named queues (amq.gen-…), "" meaning the channel's
 * last declared queue in queue.bind, 403 ACCESS_REFUSED texts for a missing configure
 * permission, 406 for an inequivalent exchange redeclare, 405 RESOURCE_LOCKED for another
 * connection's exclusive queue, basic.get-ok carrying the message and the remaining count.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import type { Socket } from "node:net";
import { AmqpError } from "../../../src/amqp/errors.js";
import { FRAME_BODY, FRAME_HEADER, FRAME_METHOD, FrameReader } from "../../../src/amqp/frames.js";
import * as M from "../../../src/amqp/gen/methods.js";
import { Broker } from "../../../src/broker/broker.js";
import { command } from "../../../src/broker/commands.js";
import { Logger } from "../../../src/lib/logger.js";
import { Channel } from "../../../src/server/channel.js";
import { dispatchChannelMethod } from "../../../src/server/handlers/index.js";
import { Outbox } from "../../../src/server/outbox.js";
import { Publisher } from "../../../src/server/publish.js";
import type { Session } from "../../../src/server/session.js";

interface Sent {
  channel: number;
  id: number;
  args: Record<string, unknown>;
}

interface Harness {
  broker: Broker;
  session: Session;
  ch: Channel;
  sent: Sent[];
  /** frames written to the outbox (content and confirms), decoded */
  frames(): Promise<{ type: number; channel: number; payload: Buffer }[]>;
  /** run one method through the dispatcher, as the connection does after decoding the frame header */
  call(id: number, args: object): void;
}

function newBroker(): Broker {
  const b = new Broker({ store: null, definitions: null, log: new Logger("error") });
  b.boot();
  return b;
}

function sessionFor(broker: Broker, userName: string, owner: object = {}): Harness {
  const bytes: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      bytes.push(Buffer.from(chunk));
      cb();
    },
  });
  const outbox = new Outbox(sink as unknown as Socket);
  const sent: Sent[] = [];
  const user = broker.users.get(userName)!;
  const s: { -readonly [K in keyof Session]: Session[K] } = {
    owner,
    id: 1,
    name: "test",
    broker,
    user,
    userName,
    vhost: broker.getVhost("/"),
    frameMax: 131072,
    capabilities: { consumerCancelNotify: true, authFailureClose: false, connectionBlocked: false, publisherConfirms: true },
    outbox,
    publisher: null as unknown as Publisher,
    flowHolder: { heldBy() {}, releasedBy() {} },
    replyTo: new Map(),
    channels: new Map(),
    stats: { publish: 0 },
    lastRecv: Date.now(),
    sendMethod: (channel, id, args) => sent.push({ channel, id, args: args as Record<string, unknown> }),
    awaitCluster: () => assert.fail("no cluster here"),
    closeWithError: (err) => assert.fail(`connection closed: ${err.text}`),
  };
  s.publisher = new Publisher(s);
  const ch = new Channel(1, s);
  s.channels.set(1, ch);
  return {
    broker,
    session: s,
    ch,
    sent,
    async frames() {
      outbox.flushNow();
      await new Promise((r) => setImmediate(r));
      const out: { type: number; channel: number; payload: Buffer }[] = [];
      new FrameReader(131072).push(Buffer.concat(bytes), {
        onFrame(type, channel, buf, start, end) {
          out.push({ type, channel, payload: Buffer.from(buf.subarray(start, end)) });
          return true;
        },
      });
      return out;
    },
    call(id, args) {
      const frame = M.encodeMethodFrame(1, id, args);
      // a method frame: type, channel, size, then the payload (class+method id, arguments), frame end
      dispatchChannelMethod(s, ch, id, frame, 11, frame.length - 1);
    },
  };
}

const lastSent = (h: Harness) => h.sent[h.sent.length - 1]!;

function amqpError(fn: () => void): AmqpError {
  try {
    fn();
  } catch (e) {
    if (e instanceof AmqpError) return e;
    throw e;
  }
  assert.fail("expected an AmqpError");
}

test("queue.declare with an empty name: a server-named amq.gen- queue, and '' in queue.bind means that queue", () => {
  const h = sessionFor(newBroker(), "guest");
  h.call(M.QUEUE_DECLARE, { queue: "", passive: false, durable: false, exclusive: true, autoDelete: true, nowait: false, arguments: {} });
  const ok = lastSent(h);
  assert.equal(ok.id, M.QUEUE_DECLARE_OK);
  const name = ok.args["queue"] as string;
  assert.match(name, /^amq\.gen-[A-Za-z0-9_-]{22}$/);
  assert.equal(ok.args["messageCount"], 0);
  h.call(M.QUEUE_BIND, { queue: "", exchange: "amq.direct", routingKey: "k", nowait: false, arguments: {} });
  assert.equal(lastSent(h).id, M.QUEUE_BIND_OK);
  const bound = [...h.broker.getVhost("/").getExchange("amq.direct").bindings.values()].map((b) => b.destination.name);
  assert.deepEqual(bound, [name]);
});

test("permissions: a user without configure rights gets 403 ACCESS_REFUSED with RabbitMQ's text, and nothing is declared", () => {
  const b = newBroker();
  b.apply(command("user.add", { name: "reader", passwordHash: "", hashingAlgorithm: "warren_scrypt", tags: [] }), { origin: "http" });
  b.apply(command("permission.set", { user: "reader", vhost: "/", configure: "^$", write: ".*", read: ".*" }), { origin: "http" });
  const h = sessionFor(b, "reader");
  const err = amqpError(() => h.call(M.QUEUE_DECLARE, { queue: "jobs", passive: false, durable: true, exclusive: false, autoDelete: false, nowait: false, arguments: {} }));
  assert.equal(err.code, 403);
  assert.equal(err.text, "ACCESS_REFUSED - configure access to queue 'jobs' in vhost '/' refused for user 'reader'");
  assert.equal(b.getVhost("/").queues.has("jobs"), false);
});

test("exchange.declare: an inequivalent redeclare is 406 with RabbitMQ's text; an equivalent one is declare-ok", () => {
  const h = sessionFor(newBroker(), "guest");
  const decl = (type: string) => ({ exchange: "logs", type, passive: false, durable: false, autoDelete: false, internal: false, nowait: false, arguments: {} });
  h.call(M.EXCHANGE_DECLARE, decl("fanout"));
  h.call(M.EXCHANGE_DECLARE, decl("fanout"));
  assert.deepEqual(
    h.sent.map((s) => s.id),
    [M.EXCHANGE_DECLARE_OK, M.EXCHANGE_DECLARE_OK],
  );
  const err = amqpError(() => h.call(M.EXCHANGE_DECLARE, decl("direct")));
  assert.equal(err.code, 406);
  assert.equal(err.text, "PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'logs' in vhost '/': received 'direct' but current is 'fanout'");
});

test("exclusive queues: another connection's session gets 405 RESOURCE_LOCKED, its owner may consume", () => {
  const b = newBroker();
  const owner = sessionFor(b, "guest", { conn: "A" });
  const other = sessionFor(b, "guest", { conn: "B" });
  owner.call(M.QUEUE_DECLARE, { queue: "mine", passive: false, durable: false, exclusive: true, autoDelete: false, nowait: false, arguments: {} });
  const consume = { queue: "mine", consumerTag: "", noLocal: false, noAck: true, exclusive: false, nowait: false, arguments: {} };
  const err = amqpError(() => other.call(M.BASIC_CONSUME, consume));
  assert.equal(err.code, 405);
  assert.match(err.text, /^RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'mine' in vhost '\/'/);
  owner.call(M.BASIC_CONSUME, consume);
  assert.equal(lastSent(owner).id, M.BASIC_CONSUME_OK);
});

test("basic.publish then basic.get: get-ok carries the body and the count left, get-empty after", async () => {
  const h = sessionFor(newBroker(), "guest");
  h.call(M.QUEUE_DECLARE, { queue: "work", passive: false, durable: false, exclusive: false, autoDelete: false, nowait: false, arguments: {} });
  for (const body of ["one", "two"]) {
    h.call(M.BASIC_PUBLISH, { exchange: "", routingKey: "work", mandatory: false, immediate: false });
    const props = Buffer.alloc(14); // class 60, weight 0, body size (8 bytes), no property flags
    props.writeUInt16BE(60, 0);
    props.writeBigUInt64BE(BigInt(body.length), 4);
    h.ch.onHeader(props, 0, props.length);
    const b = Buffer.from(body);
    h.ch.onBody(b, 0, b.length);
  }
  assert.equal(h.broker.getVhost("/").getQueue("work").messageCount, 2);
  h.call(M.BASIC_GET, { queue: "work", noAck: true });
  const frames = await h.frames();
  assert.deepEqual(
    frames.map((f) => f.type),
    [FRAME_METHOD, FRAME_HEADER, FRAME_BODY],
  );
  const getOk = M.decodeMethod(M.BASIC_GET_OK, frames[0]!.payload, 4, frames[0]!.payload.length) as M.BasicGetOk;
  assert.equal(getOk.messageCount, 1);
  assert.equal(getOk.redelivered, false);
  assert.equal(frames[2]!.payload.toString(), "one");
  h.call(M.BASIC_GET, { queue: "work", noAck: true });
  h.call(M.BASIC_GET, { queue: "work", noAck: true });
  assert.equal(lastSent(h).id, M.BASIC_GET_EMPTY);
});
