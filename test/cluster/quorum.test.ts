/**
 * Replicated quorum queues on three nodes (docs/cluster.md, "Quorum queues"): placement
 * (RabbitMQ: the declaring node leads, members = up to x-quorum-initial-group-size running
 * nodes, `rabbitmqctl list_queues name type leader members online`), and the issue's
 * "done when": a tutorial work queue declared quorum, a publisher with confirms on n2, two
 * workers on n1 and n3, kill -9 of the leader's node mid-run: publishing resumes, the
 * workers keep consuming, every confirmed message is delivered.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import amqp from "amqplib";
import { api, haveEtcd, startCluster, waitFor, type TestCluster } from "./helpers.js";
import { publishConfirmed, startWorker } from "./quorum-clients.js";

const skip = !haveEtcd || process.env.WARREN_TEST_URL ? "needs /usr/bin/etcd (Debian etcd-server) and runs warren itself" : false;

let c: TestCluster;
before(async () => {
  if (skip) return;
  c = await startCluster({ nodes: 3 });
});
after(async () => {
  if (c) await c.stop();
});

interface QInfo {
  type: string;
  leader?: string | null;
  members?: string[];
  online?: string[];
  node: string;
  messages: number;
}

test("placement: the declaring node leads, members are up to 3 running disc nodes (x-quorum-initial-group-size honoured), shown on every node", { skip }, async () => {
  const conn = await amqp.connect(c.nodes[0]!.url);
  try {
    const ch = await conn.createChannel();
    await ch.assertQueue("placed", { durable: true, arguments: { "x-queue-type": "quorum" } });
    await ch.assertQueue("placed2", { durable: true, arguments: { "x-queue-type": "quorum", "x-quorum-initial-group-size": 2 } });
    await ch.assertQueue("classic1", { durable: true });
    for (const n of c.nodes) {
      const q = (await api<QInfo>(n.mgmtUrl!, "/api/queues/%2F/placed")).body;
      assert.equal(q.type, "quorum");
      assert.equal(q.leader, "warren@n1");
      assert.equal(q.node, "warren@n1");
      assert.deepEqual(q.members, ["warren@n1", "warren@n2", "warren@n3"]);
      assert.deepEqual(q.online, ["warren@n1", "warren@n2", "warren@n3"]);
    }
    const q2 = (await api<QInfo>(c.nodes[1]!.mgmtUrl!, "/api/queues/%2F/placed2")).body;
    assert.deepEqual(q2.members, ["warren@n1", "warren@n2"]);
    const cl = (await api<QInfo>(c.nodes[1]!.mgmtUrl!, "/api/queues/%2F/classic1")).body;
    assert.equal(cl.leader, undefined, "a classic queue has no replicas");
    assert.equal(cl.node, "warren@n1");
    await ch.deleteQueue("placed");
    await ch.deleteQueue("placed2");
    await ch.deleteQueue("classic1");
  } finally {
    await conn.close();
  }
});

test("work queue: kill -9 of the leader's node mid-run; publishing resumes, workers keep consuming, every confirmed message is delivered", { skip, timeout: 90_000 }, async () => {
  const urls = c.nodes.map((n) => n.url);
  const setup = await amqp.connect(c.nodes[0]!.url);
  const ch = await setup.createChannel();
  await ch.assertQueue("task_queue", { durable: true, arguments: { "x-queue-type": "quorum" } });
  await setup.close();
  assert.equal((await api<QInfo>(c.nodes[1]!.mgmtUrl!, "/api/queues/%2F/task_queue")).body.leader, "warren@n1");

  const N = 3000;
  // publisher on n2; workers on n1 and n3 (each reconnects to the next node if its node dies)
  const w1 = startWorker(urls, "task_queue", 0);
  const w3 = startWorker(urls, "task_queue", 2);
  let killed = false;
  const pub = publishConfirmed(urls, "task_queue", N, {
    start: 1,
    onConfirm: (n) => {
      if (n === 800 && !killed) {
        killed = true;
        void c.nodes[0]!.kill();
      }
    },
  });
  await pub.done;
  assert.ok(killed);
  const after = (await api<QInfo>(c.nodes[1]!.mgmtUrl!, "/api/queues/%2F/task_queue")).body;
  assert.notEqual(after.leader, "warren@n1", "an in-sync follower took over");
  assert.ok(after.leader === "warren@n2" || after.leader === "warren@n3");
  // every confirmed message reaches a worker
  await waitFor("every confirmed message delivered", () => {
    for (const id of pub.confirmed) if (!w1.got.has(id) && !w3.got.has(id)) return false;
    return true;
  }, 30_000);
  await w1.stop();
  await w3.stop();
  console.log(`# nacked ${pub.nacked}, publisher reconnects ${pub.reconnects}, deliveries ${w1.deliveries + w3.deliveries}, redelivered ${w1.redelivered + w3.redelivered}, leader ${after.leader}`);
  assert.equal(pub.confirmed.size, N);
  const lost = [...pub.confirmed].filter((id) => !w1.got.has(id) && !w3.got.has(id));
  assert.deepEqual(lost, []);
  assert.ok(w1.redelivered + w3.redelivered > 0 || w1.deliveries + w3.deliveries === N, "messages not acked at the failover come back redelivered=true");
});
