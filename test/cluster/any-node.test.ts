/**
 * Any node serves any queue: a durable queue lives on its declaring node, and clients on the
 * other nodes publish to it (confirms after the home node has the message) and consume from
 * it (prefetch, acks, nacks with redelivery). A queue whose home node is down answers
 * RabbitMQ's 404 "home node ... is down or inaccessible" (RabbitMQ 3.10 classic queues).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import amqp from "amqplib";
import { api, clusterForFile, skipCluster, waitFor } from "./helpers.js";

const skip = skipCluster;

const c = clusterForFile({ nodes: 3 });

test("publish on n2 with confirms, consume on n3 with manual acks: a queue homed on n1 gets every message, in order", { skip }, async () => {
  const home = await amqp.connect(c.nodes[0]!.url);
  const pubConn = await amqp.connect(c.nodes[1]!.url);
  const subConn = await amqp.connect(c.nodes[2]!.url);
  try {
    const h = await home.createChannel();
    await h.assertQueue("work", { durable: true });
    const listed = await api<{ node: string }>(c.nodes[2]!.mgmtUrl!, "/api/queues/%2F/work");
    assert.equal(listed.body.node, "warren@n1", "every node lists the queue with its home node");

    const pub = await pubConn.createConfirmChannel();
    const N = 300;
    for (let i = 0; i < N; i++) pub.sendToQueue("work", Buffer.from(String(i)), { persistent: true, headers: { seq: i } });
    await pub.waitForConfirms();
    // confirmed means the home node has them
    const onHome = await waitFor("300 messages on n1", async () => {
      const q = await api<{ messages: number }>(c.nodes[0]!.mgmtUrl!, "/api/queues/%2F/work");
      return q.body.messages === N ? q.body : undefined;
    });
    assert.equal(onHome.messages, N);

    const sub = await subConn.createChannel();
    await sub.prefetch(10);
    const got: number[] = [];
    let maxUnacked = 0;
    let unacked = 0;
    await new Promise<void>((resolve) => {
      void sub.consume("work", (m) => {
        if (!m) return;
        unacked++;
        maxUnacked = Math.max(maxUnacked, unacked);
        got.push(Number(m.content.toString()));
        assert.equal(m.properties.headers?.["seq"], Number(m.content.toString()));
        // ack a little later, so prefetch is what limits the flow
        setImmediate(() => {
          unacked--;
          sub.ack(m);
          if (got.length === N) resolve();
        });
      });
    });
    assert.deepEqual(
      got,
      Array.from({ length: N }, (_, i) => i),
      "every message, once, in publish order",
    );
    assert.ok(maxUnacked <= 10, `prefetch 10 held across nodes (max unacked ${maxUnacked})`);
    await waitFor("the home queue empty after the acks", async () => {
      const q = await api<{ messages: number }>(c.nodes[0]!.mgmtUrl!, "/api/queues/%2F/work");
      return q.body.messages === 0;
    });
  } finally {
    await home.close();
    await pubConn.close();
    await subConn.close();
  }
});

test("a nack with requeue on a non-home node redelivers with redelivered=true; a reject without requeue removes it at home", { skip }, async () => {
  const conn = await amqp.connect(c.nodes[1]!.url);
  try {
    const ch = await conn.createChannel();
    await ch.assertQueue("nacks", { durable: true }); // homed on n2
    const other = await amqp.connect(c.nodes[2]!.url);
    const o = await other.createConfirmChannel();
    o.sendToQueue("nacks", Buffer.from("a"));
    await o.waitForConfirms();
    const oc = await other.createChannel();
    const seen: { body: string; redelivered: boolean }[] = [];
    await new Promise<void>((resolve) => {
      void oc.consume("nacks", (m) => {
        if (!m) return;
        seen.push({ body: m.content.toString(), redelivered: m.fields.redelivered });
        if (seen.length === 1) oc.nack(m, false, true);
        else {
          oc.reject(m, false);
          resolve();
        }
      });
    });
    assert.deepEqual(seen, [
      { body: "a", redelivered: false },
      { body: "a", redelivered: true },
    ]);
    await waitFor("nacks empty at home", async () => (await api<{ messages: number }>(c.nodes[1]!.mgmtUrl!, "/api/queues/%2F/nacks")).body.messages === 0);
    await other.close();
  } finally {
    await conn.close();
  }
});

test("user_id set to the publisher's own user is kept across nodes; a forged one is refused on the publishing node", { skip }, async () => {
  // RabbitMQ checks user_id against the authenticated user on the channel that publishes
  // (rabbit_channel:check_user_id_header, 406 PRECONDITION_FAILED); the node link forwarding
  // the message to its queue's home must not refuse it again (Fleet's results carry user_id)
  const home = await amqp.connect(c.nodes[0]!.url);
  const pubConn = await amqp.connect(c.nodes[1]!.url);
  try {
    const h = await home.createChannel();
    await h.assertQueue("with-user-id", { durable: true });
    const pub = await pubConn.createConfirmChannel();
    await new Promise<void>((resolve, reject) =>
      pub.sendToQueue("with-user-id", Buffer.from("me"), { userId: "guest", persistent: true }, (e: unknown) => (e ? reject(new Error("nacked")) : resolve())),
    );
    const m = await waitFor("the message on n1", async () => (await h.get("with-user-id", { noAck: true })) || undefined);
    assert.equal(m.properties.userId, "guest");
    const forged = await pubConn.createChannel();
    const closed = new Promise<Error & { code?: number }>((r) => forged.once("error", r));
    forged.sendToQueue("with-user-id", Buffer.from("not me"), { userId: "someone-else" });
    const e = await closed;
    assert.equal(e.code, 406);
    assert.match(e.message, /PRECONDITION_FAILED - user_id property set to 'someone-else' but authenticated user was 'guest'/);
  } finally {
    await pubConn.close().catch(() => {});
    await home.close();
  }
});

test("a queue whose home node is down: 404 home node ... is down or inaccessible; the others serve their own queues", { skip }, async () => {
  const c3 = await amqp.connect(c.nodes[2]!.url);
  const ch3 = await c3.createChannel();
  await ch3.assertQueue("on-n3", { durable: true });
  await c3.close().catch(() => {});
  const c1 = await amqp.connect(c.nodes[0]!.url);
  const ch1 = await c1.createChannel();
  await ch1.assertQueue("on-n1", { durable: true });
  await c.nodes[2]!.kill();
  await waitFor(
    "n3 down on n1",
    async () => {
      const x = await api<{ name: string; running: boolean }[]>(c.nodes[0]!.mgmtUrl!, "/api/nodes");
      return x.body.find((m) => m.name === "warren@n3")?.running === false;
    },
    20_000,
  );
  const conn = await amqp.connect(c.nodes[1]!.url);
  try {
    const ch = await conn.createChannel();
    ch.on("error", () => {});
    await assert.rejects(ch.checkQueue("on-n3"), (e: Error & { code?: number }) => {
      assert.equal(e.code, 404);
      assert.match(e.message, /NOT_FOUND - home node 'warren@n3' of durable queue 'on-n3' in vhost '\/' is down or inaccessible/);
      return true;
    });
    // n1's queue still works from n2
    const ok = await conn.createConfirmChannel();
    ok.sendToQueue("on-n1", Buffer.from("still here"));
    await ok.waitForConfirms();
    const m = await waitFor("the message on n1", async () => (await ch1.get("on-n1", { noAck: true })) || undefined);
    assert.equal(m.content.toString(), "still here");
  } finally {
    await conn.close();
    await c1.close();
  }
});
