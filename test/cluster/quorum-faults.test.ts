/**
 * Quorum queues under faults (docs/cluster.md, "Quorum queues"), three nodes:
 * - a killed follower that restarts catches up from the leader and is back in the in-sync set;
 * - with two of three nodes down a publish is nacked, never confirmed (RabbitMQ's quorum queue
 *   cannot commit without a majority: its publishes wait and time out; warren nacks after a hold);
 * - a SIGSTOPped leader that wakes up after another node took over cannot confirm: every
 *   message a publisher got a confirm for is in the queue the new leader serves.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import amqp from "amqplib";
import { api, clusterForFile, drain, skipCluster, startNode, waitFor } from "./helpers.js";
import { connectRepl, readSmall, T } from "../../src/cluster/repl-wire.js";

const skip = skipCluster;

const c = clusterForFile({ nodes: 3 });

interface QInfo {
  leader: string | null;
  members: string[];
  online: string[];
  in_sync: string[];
  messages: number;
}

const info = async (node: number, q: string): Promise<QInfo> => (await api<QInfo>(c.nodes[node]!.mgmtUrl!, `/api/queues/%2F/${q}`)).body;

/** publish ids with confirms on one channel; resolves to [confirmed ids, nacked ids] */
async function publishBatch(url: string, queue: string, ids: number[]): Promise<{ acked: number[]; nacked: number[] }> {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createConfirmChannel();
    const acked: number[] = [];
    const nacked: number[] = [];
    await Promise.all(ids.map((id) => new Promise<void>((resolve) => ch.sendToQueue(queue, Buffer.from(String(id)), { persistent: true }, (err) => ((err ? nacked : acked).push(id), resolve())))));
    return { acked, nacked };
  } finally {
    await conn.close().catch(() => {});
  }
}

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

test("a killed follower that restarts catches up and is back in the in-sync set; then it can lead with everything", { skip, timeout: 60_000 }, async () => {
  const conn = await amqp.connect(c.nodes[0]!.url);
  await (await conn.createChannel()).assertQueue("catchup", { durable: true, arguments: { "x-queue-type": "quorum" } });
  await conn.close();
  await waitFor("3 in sync", async () => (await info(0, "catchup")).in_sync.length === 3);
  assert.equal((await publishBatch(c.nodes[0]!.url, "catchup", range(0, 200))).acked.length, 200);

  // kill -9 n3 (a follower): the leader drops it from the ISR; 2 of 3 in sync still confirm
  const n3 = c.nodes[2]!;
  await n3.kill();
  const r = await publishBatch(c.nodes[1]!.url, "catchup", range(200, 400));
  assert.equal(r.acked.length, 200, "two in-sync replicas of three: publishes are confirmed");
  assert.deepEqual((await info(0, "catchup")).in_sync, ["warren@n1", "warren@n2"]);

  // it comes back with its old data directory: snapshot from the leader, back in the ISR
  c.nodes[2] = await startNode(c.etcd.endpoints, n3.name, { dataDir: n3.dataDir, prefix: c.prefix });
  await waitFor("n3 back in sync", async () => (await info(0, "catchup")).in_sync.includes("warren@n3"), 20_000);

  // now the other two go: n3 alone has... no majority. Kill only the leader: n2 or n3 leads with all 400
  await c.nodes[0]!.kill();
  const lead = await waitFor(
    "a new leader",
    async () => {
      const q = await info(1, "catchup");
      return q.leader && q.leader !== "warren@n1" ? q.leader : undefined;
    },
    20_000,
  );
  const got = await drain(c.nodes[2]!.url, "catchup", 400);
  for (const id of range(0, 400)) assert.ok(got.has(id), `confirmed message ${id} delivered after the failover to ${lead}`);
  c.nodes[0] = await startNode(c.etcd.endpoints, "warren@n1", { dataDir: c.nodes[0]!.dataDir, prefix: c.prefix });
  await waitFor("n1 back in sync", async () => (await info(1, "catchup")).in_sync.length === 3, 20_000);
});

test("with two of three nodes down, publishes are nacked, not confirmed; confirmed again once a second replica is back", { skip, timeout: 60_000 }, async () => {
  const conn = await amqp.connect(c.nodes[0]!.url);
  await (await conn.createChannel()).assertQueue("minority", { durable: true, arguments: { "x-queue-type": "quorum" } });
  await conn.close();
  const lead = (await info(0, "minority")).leader!;
  assert.equal(lead, "warren@n1");
  await waitFor("3 in sync", async () => (await info(0, "minority")).in_sync.length === 3);
  const n2 = c.nodes[1]!;
  const n3 = c.nodes[2]!;
  await n2.kill();
  await n3.kill();
  const r = await publishBatch(c.nodes[0]!.url, "minority", range(0, 20));
  assert.deepEqual(r.acked, [], "nothing is confirmed without a majority in sync");
  assert.equal(r.nacked.length, 20);
  // a transaction is not committed either: no commit-ok, the connection is closed (541)
  const tconn = await amqp.connect(c.nodes[0]!.url);
  tconn.on("error", () => {});
  const tch = await tconn.createChannel();
  tch.on("error", () => {});
  // amqplib has no tx API: tx.* through its channel RPC, with ids from its generated defs
  const defsModule = "amqplib/lib/defs.js";
  const defs = (await import(defsModule)) as Record<string, number>;
  const call = (tch as unknown as { rpc(m: number, f: object, e: number): Promise<unknown> }).rpc.bind(tch);
  await call(defs["TxSelect"]!, {}, defs["TxSelectOk"]!);
  tch.sendToQueue("minority", Buffer.from("tx"), { persistent: true });
  await assert.rejects(call(defs["TxCommit"]!, {}, defs["TxCommitOk"]!), "tx.commit-ok only once the replicas have the messages");
  await tconn.close().catch(() => {});

  c.nodes[1] = await startNode(c.etcd.endpoints, n2.name, { dataDir: n2.dataDir, prefix: c.prefix });
  await waitFor("n2 back in sync", async () => (await info(0, "minority")).in_sync.includes("warren@n2"), 20_000);
  const r2 = await publishBatch(c.nodes[0]!.url, "minority", range(20, 40));
  assert.equal(r2.acked.length, 20);
  c.nodes[2] = await startNode(c.etcd.endpoints, n3.name, { dataDir: n3.dataDir, prefix: c.prefix });
  await waitFor("n3 back in sync", async () => (await info(0, "minority")).in_sync.length === 3, 20_000);
});

test("a SIGSTOPped leader that wakes up after a new leader was elected confirms nothing the new leader lacks (epoch fencing)", { skip, timeout: 60_000 }, async () => {
  const conn = await amqp.connect(c.nodes[0]!.url);
  await (await conn.createChannel()).assertQueue("paused", { durable: true, arguments: { "x-queue-type": "quorum" } });
  await conn.close();
  const leaderIdx = c.nodes.findIndex((n) => n.name === "warren@n1");
  await waitFor("3 in sync", async () => (await info(1, "paused")).in_sync.length === 3);
  assert.equal((await publishBatch(c.nodes[0]!.url, "paused", range(0, 50))).acked.length, 50);

  // a publisher connected to the leader; the leader freezes with its publishes unread
  const pconn = await amqp.connect(c.nodes[leaderIdx]!.url);
  pconn.on("error", () => {});
  const ch = await pconn.createConfirmChannel();
  ch.on("error", () => {});
  c.nodes[leaderIdx]!.child.kill("SIGSTOP");
  const acked: number[] = [];
  const settled = Promise.all(
    range(50, 100).map(
      (id) =>
        new Promise<void>((resolve) => {
          try {
            ch.sendToQueue("paused", Buffer.from(String(id)), { persistent: true }, (err) => {
              if (!err) acked.push(id);
              resolve();
            });
          } catch {
            resolve();
          }
        }),
    ),
  );
  const other = leaderIdx === 1 ? 2 : 1;
  const newLeader = await waitFor(
    "another leader",
    async () => {
      const q = await info(other, "paused");
      return q.leader && q.leader !== "warren@n1" ? q.leader : undefined;
    },
    20_000,
  );
  c.nodes[leaderIdx]!.child.kill("SIGCONT");
  // the old leader finds out (its lease is gone / its followers answer with a newer epoch)
  await Promise.race([settled, new Promise<void>((r) => pconn.once("close", () => r()))]);
  await pconn.close().catch(() => {});
  const got = await drain(c.nodes[other]!.url, "paused", 50 + acked.length);
  for (const id of range(0, 50)) assert.ok(got.has(id), `message ${id} confirmed before the pause is with ${newLeader}`);
  for (const id of acked) assert.ok(got.has(id), `message ${id} confirmed by the woken leader is in the queue ${newLeader} serves`);
});

test("the replication listener: a wrong cluster secret is refused; a leader's snapshot at an older epoch is answered STALE", { skip, timeout: 60_000 }, async () => {
  const conn = await amqp.connect(c.nodes[0]!.url);
  await (await conn.createChannel()).assertQueue("epochs", { durable: true, arguments: { "x-queue-type": "quorum" } });
  await conn.close();
  const status = (await api<{ "Node Name": string; Term: number }[]>(c.nodes[0]!.mgmtUrl!, "/api/warren/quorum/status/%2F/epochs")).body;
  const epoch = status[0]!.Term;
  assert.ok(epoch > 0);
  // the follower n2's listener and the cluster secret, from etcd
  const { Etcd3 } = await import("etcd3");
  const etcd = new Etcd3({ hosts: c.etcd.endpoints.split(",").map((e) => `http://${e}`) });
  try {
    const secret = (await etcd.get(`${c.prefix}secret`).string())!;
    const liveAddr = async () => (JSON.parse((await etcd.get(`${c.prefix}live/${encodeURIComponent("warren@n2")}`).string())!) as { repl: { host: string; port: number } }).repl;
    const frames: { type: number; qid: number; epoch: number }[] = [];
    // (the live record of a node restarted by an earlier test may lag a moment)
    const w = await waitFor("connected to n2's replication listener", async () => {
      const a = await liveAddr();
      return connectRepl(
        a.host,
        a.port,
        "warren@n1",
        secret,
        (type, body) => frames.push({ type, ...readSmall(body) }),
        () => {},
      );
    });
    const a = await liveAddr();
    await assert.rejects(
      connectRepl(
        a.host,
        a.port,
        "warren@n1",
        "not-the-secret",
        () => {},
        () => {},
      ),
      "bad credentials: closed during the handshake",
    );
    // a deposed leader (epoch before the current one) tries to stream the queue
    w.snapBegin(7, epoch - 1, "/", "epochs");
    await waitFor("STALE", () => frames.some((f) => f.type === T.STALE && f.qid === 7));
    w.socket.destroy();
  } finally {
    etcd.close();
  }
  // the real leader's stream is undisturbed: publishes are confirmed with all three in sync
  assert.equal((await publishBatch(c.nodes[1]!.url, "epochs", range(0, 10))).acked.length, 10);
});
