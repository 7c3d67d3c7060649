/**
 * Broker internals in-process, no socket: a Broker without storage, changed through
 * Broker.apply like every caller does, and messages routed with the vhost's Router.
 * RabbitMQ behaviour pinned down (the TCP tests in test/semantics check the same against
 * RabbitMQ): topic routing with * and #, exchange-to-exchange bindings, alternate exchanges,
 * FIFO queues with max-length drop-head, x-dead-letter-exchange with the x-death header,
 * 406 on an inequivalent redeclare, 405 on another owner's exclusive queue.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Broker } from "../../../src/broker/broker.js";
import { command, type ApplyContext } from "../../../src/broker/commands.js";
import { Message } from "../../../src/broker/message.js";
import { encodeProperties, type BasicProperties } from "../../../src/amqp/properties.js";
import { AmqpError } from "../../../src/amqp/errors.js";
import { TypedValue } from "../../../src/amqp/field-table.js";
import { Logger } from "../../../src/lib/logger.js";

const amqp: ApplyContext = { origin: "amqp" };
const vhost = "/";

function broker(): Broker {
  const b = new Broker({ store: null, definitions: null, log: new Logger("error") });
  b.boot();
  return b;
}

function publish(b: Broker, exchange: string, routingKey: string, body: string, props: BasicProperties = {}): number {
  const v = b.getVhost(vhost);
  const bytes = Buffer.from(body);
  const msg = new Message(exchange, routingKey, props, encodeProperties(props), bytes, bytes.length, Date.now());
  return v.router.publish(v.getExchange(exchange), msg, routingKey);
}

function drain(b: Broker, queue: string): string[] {
  const q = b.getVhost(vhost).getQueue(queue);
  const out: string[] = [];
  for (let e = q.get(true); e; e = q.get(true)) out.push(e.msg.body!.toString());
  return out;
}

const declareQueue = (b: Broker, name: string, args = {}) => b.apply(command("queue.declare", { vhost, name, durable: false, autoDelete: false, arguments: args }), amqp);
const declareExchange = (b: Broker, name: string, type: string, args = {}) =>
  b.apply(command("exchange.declare", { vhost, name, type, durable: false, autoDelete: false, internal: false, arguments: args }), amqp);
const bind = (b: Broker, source: string, destination: string, routingKey: string, destinationType: "queue" | "exchange" = "queue") =>
  b.apply(command("bind", { vhost, source, destination, destinationType, routingKey, arguments: {} }), amqp);

test("router: topic patterns, exchange-to-exchange bindings and an alternate exchange, each queue gets a message once", () => {
  const b = broker();
  declareExchange(b, "ae", "fanout");
  declareExchange(b, "t", "topic", { "alternate-exchange": "ae" });
  declareExchange(b, "inner", "direct");
  for (const q of ["star", "hash", "inner-q", "lost"]) declareQueue(b, q);
  bind(b, "t", "star", "a.*");
  bind(b, "t", "hash", "a.#");
  bind(b, "t", "hash", "#.c"); // a second matching binding to the same queue: still one copy
  bind(b, "t", "inner", "a.b.c", "exchange");
  bind(b, "inner", "inner-q", "a.b.c");
  bind(b, "ae", "lost", "");
  publish(b, "t", "a.b", "1");
  publish(b, "t", "a.b.c", "2");
  publish(b, "t", "x.y", "3"); // matches nothing: the alternate exchange takes it
  assert.deepEqual(drain(b, "star"), ["1"]);
  assert.deepEqual(drain(b, "hash"), ["1", "2"]);
  assert.deepEqual(drain(b, "inner-q"), ["2"]);
  assert.deepEqual(drain(b, "lost"), ["3"]);
});

test("queue: max-length drops from the head into the dead-letter exchange with an x-death header", () => {
  const b = broker();
  declareExchange(b, "dlx", "fanout");
  declareQueue(b, "dead");
  bind(b, "dlx", "dead", "");
  declareQueue(b, "short", { "x-max-length": new TypedValue("b", 2), "x-dead-letter-exchange": "dlx" });
  for (const body of ["m1", "m2", "m3", "m4"]) publish(b, "", "short", body);
  assert.deepEqual(drain(b, "short"), ["m3", "m4"]);
  const dq = b.getVhost(vhost).getQueue("dead");
  const first = dq.get(true)!;
  assert.equal(first.msg.body!.toString(), "m1");
  const death = (first.msg.properties.headers!["x-death"] as Record<string, unknown>[])[0]!;
  assert.equal(death["reason"], "maxlen");
  assert.equal(death["queue"], "short");
  assert.equal(first.msg.properties.headers?.["x-first-death-reason"], "maxlen");
  assert.deepEqual(drain(b, "dead"), ["m2"]);
});

test("queue: a requeued message comes back first; one rejected without requeue is dead-lettered as 'rejected'", () => {
  const b = broker();
  declareExchange(b, "dlx", "fanout");
  declareQueue(b, "dead");
  bind(b, "dlx", "dead", "");
  declareQueue(b, "work", { "x-dead-letter-exchange": "dlx" });
  publish(b, "", "work", "a");
  publish(b, "", "work", "b");
  const q = b.getVhost(vhost).getQueue("work");
  const a = q.get(false)!;
  q.requeue(a); // back at its place, ahead of b
  assert.equal(q.get(true)!.msg.body!.toString(), "a");
  q.reject([q.get(false)!]); // without requeue: to the dead-letter exchange
  const dead = b.getVhost(vhost).getQueue("dead").get(true)!;
  assert.equal(dead.msg.body!.toString(), "b");
  assert.equal((dead.msg.properties.headers!["x-death"] as Record<string, unknown>[])[0]!["reason"], "rejected");
});

test("vhost: inequivalent redeclare is 406 with RabbitMQ's text; another owner's exclusive queue is 405", () => {
  const b = broker();
  declareQueue(b, "q", { "x-max-length": new TypedValue("b", 5) });
  assert.throws(
    () => declareQueue(b, "q", { "x-max-length": new TypedValue("b", 6) }),
    (e: unknown) => e instanceof AmqpError && e.code === 406 && e.text === "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'q' in vhost '/': received '6' but current is '5'",
  );
  const owner = {};
  b.apply(command("queue.declare", { vhost, name: "mine", durable: false, exclusive: true, autoDelete: false, arguments: {} }), { origin: "amqp", owner });
  assert.throws(
    () => b.apply(command("queue.delete", { vhost, name: "mine" }), { origin: "amqp", owner: {} }),
    (e: unknown) => e instanceof AmqpError && e.code === 405 && e.text.startsWith("RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'mine' in vhost '/'"),
  );
  assert.equal(b.apply(command("queue.delete", { vhost, name: "mine" }), { origin: "amqp", owner }), 0);
  assert.ok(!b.getVhost(vhost).queues.has("mine"));
});
