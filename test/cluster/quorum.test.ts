/**
 * Replicated quorum queues on three nodes (docs/cluster.md, "Quorum queues"): placement
 * (RabbitMQ: the declaring node leads, members = up to x-quorum-initial-group-size running
 * nodes, `rabbitmqctl list_queues name type leader members online`), and the issue's
 * "done when": a tutorial work queue declared quorum, a publisher with confirms on n2, two
 * workers on n1 and n3, kill -9 of the leader's node mid-run: publishing resumes, the
 * workers keep consuming, every confirmed message is delivered.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import amqp from "amqplib";
import { repoRoot } from "../helpers/broker.js";
import { api, clusterForFile, skipCluster, startNode, waitFor } from "./helpers.js";
import { publishConfirmed, startWorker } from "./quorum-clients.js";

const skip = skipCluster;

const c = clusterForFile({ nodes: 3 });

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
  await waitFor(
    "every confirmed message delivered",
    () => {
      for (const id of pub.confirmed) if (!w1.got.has(id) && !w3.got.has(id)) return false;
      return true;
    },
    30_000,
  );
  await w1.stop();
  await w3.stop();
  assert.equal(pub.confirmed.size, N);
  const lost = [...pub.confirmed].filter((id) => !w1.got.has(id) && !w3.got.has(id));
  assert.deepEqual(lost, []);
  assert.ok(w1.redelivered + w3.redelivered > 0 || w1.deliveries + w3.deliveries === N, "messages not acked at the failover come back redelivered=true");
  // the killed node comes back and catches up
  c.nodes[0] = await startNode(c.etcd.endpoints, "warren@n1", { dataDir: c.nodes[0]!.dataDir, prefix: c.prefix });
  await waitFor("n1 back in sync", async () => ((await api<{ in_sync: string[] }>(c.nodes[1]!.mgmtUrl!, "/api/queues/%2F/task_queue")).body.in_sync ?? []).length === 3, 20_000);
});

function ctl(node: number, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(repoRoot, "bin", "warren.js"), "ctl", "--mgmt-url", c.nodes[node]!.mgmtUrl!, ...args], { timeout: 30_000 }, (err, out, errOut) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out, err: errOut });
    });
  });
}

interface QSync extends QInfo {
  in_sync: string[];
}

test("rabbitmq-queues' verbs: quorum_status, delete_member, add_member, shrink, grow; list_queues name type leader members online", { skip, timeout: 60_000 }, async () => {
  const conn = await amqp.connect(c.nodes[1]!.url);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue("members", { durable: true, arguments: { "x-queue-type": "quorum" } });
  for (let i = 0; i < 50; i++) ch.sendToQueue("members", Buffer.from(String(i)), { persistent: true });
  await ch.waitForConfirms();
  const q = async (): Promise<QSync> => (await api<QSync>(c.nodes[1]!.mgmtUrl!, "/api/queues/%2F/members")).body;
  const leader = (await q()).leader!;
  const other = (await q()).members!.find((m) => m !== leader)!;
  await waitFor("all in sync", async () => (await q()).in_sync.length === 3);

  let r = await ctl(1, "quorum_status", "members");
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^Status of quorum queue members on node warren@n2/m);
  // rabbitmq-queues quorum_status (RabbitMQ 3.10): Node Name, Raft State, Log Index, Commit
  // Index, Snapshot Index, Term, Machine Version; warren adds In Sync and Lag
  assert.match(r.out, /^Node Name\tRaft State\tLog Index\tCommit Index\tSnapshot Index\tTerm\tMachine Version\tIn Sync\tLag$/m);
  assert.match(r.out, new RegExp(`^${leader}\tleader\t[^\t]*\t[^\t]*\t[^\t]*\t\\d+\t1\ttrue\t`, "m"));
  assert.match(r.out, new RegExp(`^${other}\tfollower\t[^\t]*\t[^\t]*\t[^\t]*\t\\d+\t1\ttrue\t`, "m"));
  // the answering node (warren@n2) knows its own log index: at least the 50 confirmed enqueues
  const own = /^warren@n2\t\w+\t(\d+)\t/m.exec(r.out);
  assert.ok(own && Number(own[1]) >= 50, r.out);

  r = await ctl(1, "list_queues", "name", "type", "leader", "members", "online");
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`^members\tquorum\t${leader}\t`, "m"));

  r = await ctl(1, "delete_member", "members", other);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`Removing a replica of queue members on node ${other}`));
  await waitFor("two members", async () => (await q()).members!.length === 2);
  assert.ok(!(await q()).in_sync.includes(other));
  r = await ctl(1, "delete_member", "members", other);
  assert.notEqual(r.code, 0, "not a member any more: refused");

  r = await ctl(1, "add_member", "members", other);
  assert.equal(r.code, 0, r.err);
  await waitFor("the new replica catches up", async () => (await q()).in_sync.includes(other), 20_000);

  r = await ctl(1, "shrink", other);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^\/\tmembers\t2\tok$/m);
  assert.ok(!(await q()).members!.includes(other));
  r = await ctl(1, "grow", other, "all");
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^\/\tmembers\t3\tok$/m);
  await waitFor("back in sync after grow", async () => (await q()).in_sync.length === 3, 20_000);
  // the replica that came back has every message: consume them all
  const got = new Set<string>();
  await ch.consume("members", (m) => {
    if (!m) return;
    got.add(m.content.toString());
    ch.ack(m);
  });
  await waitFor("50 consumed", () => got.size === 50);
  await ch.deleteQueue("members");
  await conn.close();
});
