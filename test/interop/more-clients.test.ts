/**
 * Interop with two more client families the brief names, as Debian ships them:
 *  - kombu and py-amqp (Celery's stack): python3-kombu, python3-amqp;
 *  - rabbitmq-c, through its command-line tools (amqp-tools: amqp-declare-queue,
 *    amqp-publish, amqp-get, amqp-consume).
 * Each runs against the broker the suite starts (or WARREN_TEST_URL, so the same
 * expectations hold against RabbitMQ).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { interopBroker, runPyOk, runProcess, killAllPy, uniq, type InteropBroker } from "./interop-helpers.js";

let broker: InteropBroker;
before(async () => {
  broker = await interopBroker("clients");
});
after(async () => {
  await killAllPy();
  await broker?.stop();
});

test("kombu SimpleQueue, topic Producer/Consumer and py-amqp confirms, get, 404", async () => {
  const suffix = uniq("k");
  const out = JSON.parse((await runPyOk("extras/kombu_pyamqp.py", broker.url, [suffix], { ms: 30_000 })).trim()) as Record<string, unknown>;
  assert.deepEqual(out["simple"], { hello: "world" });
  assert.deepEqual(out["topic"], [{ n: 1 }, { n: 3 }], "a.* matches a.b and a.c, not x.y or a.b.c");
  assert.equal(out["product"], "RabbitMQ");
  assert.deepEqual(out["get"], ["via py-amqp", { k: [1, "two", { x: 3 }], f: 1.5 }, 2]);
  assert.equal(out["empty"], true);
  const passive = out["passive"] as [number, string];
  assert.equal(passive[0], 404);
  assert.match(passive[1], /^NOT_FOUND - no queue 'pyamqp-missing-.*' in vhost '.*'$/);
});

const tool = (cmd: string, args: string[]) => runProcess(cmd, args, 10_000, "Debian package amqp-tools");

test("rabbitmq-c tools: declare a durable queue, publish persistent, get, consume, and a 404", async () => {
  const url = broker.url;
  const q = uniq("rabbitmq-c");
  const d = await tool("amqp-declare-queue", ["--url", url, "-q", q, "-d"]);
  assert.equal(d.code, 0, d.err);
  assert.equal(d.out.trim(), q);
  for (const body of ["first", "second"]) {
    const p = await tool("amqp-publish", ["--url", url, "-r", q, "-p", "-C", "text/plain", "-b", body]);
    assert.equal(p.code, 0, p.err);
  }
  const g = await tool("amqp-get", ["--url", url, "-q", q]);
  assert.equal(g.code, 0, g.err);
  assert.equal(g.out, "first");
  // one message to a child `cat`, then exit
  const c = await tool("amqp-consume", ["--url", url, "-q", q, "-c", "1", "cat"]);
  assert.equal(c.code, 0, c.err);
  assert.equal(c.out, "second");
  const empty = await tool("amqp-get", ["--url", url, "-q", q]);
  assert.notEqual(empty.code, 0, "amqp-get on an empty queue fails");
  const missing = await tool("amqp-get", ["--url", url, "-q", uniq("no-such-queue")]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.err, /server channel error 404, message: NOT_FOUND - no queue 'no-such-queue-.*' in vhost '.*'/);
  const del = await tool("amqp-delete-queue", ["--url", url, "-q", q]);
  assert.equal(del.code, 0, del.err);
});
