/**
 * A quorum queue's leader whose disk fills (docs/cluster.md, "Disk alarm"; docs/chaos.md,
 * disk-full): the node's disk alarm goes on (RabbitMQ's disk_free_limit alarm), it cannot
 * persist what it would confirm, so it hands leadership to an in-sync follower at once (as a
 * graceful stop does) instead of leading a queue that confirms nothing; every message confirmed
 * before and after is delivered, and once the alarm clears the node is back in the in-sync set.
 *
 * The disk is filled for real: n1 runs with `--disk-free-limit` 2 GiB below what its file system
 * has free at start, and the test allocates a 4 GiB file next to its data directory (fallocate),
 * then removes it.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { rmSync, statfsSync } from "node:fs";
import { join } from "node:path";
import amqp from "amqplib";
import { api, skipCluster, startEtcd, startNode, stopNodes, waitFor, type Etcd, type WarrenNode } from "./helpers.js";
import { tempDir } from "../helpers/broker.js";

const GiB = 1024 ** 3;
const free = (dir: string): number => {
  const s = statfsSync(dir);
  return Number(s.bavail) * Number(s.bsize);
};
const fillDir = tempDir("warren-diskfill-");
const canFill = ((): boolean => {
  if (free(fillDir) < 8 * GiB) return false;
  try {
    execFileSync("fallocate", ["-l", "4096", join(fillDir, "probe")], { stdio: "ignore" });
    rmSync(join(fillDir, "probe"));
    return true;
  } catch {
    return false;
  }
})();
const skip = skipCluster || (!canFill ? "needs fallocate and 8 GiB free" : false);

let etcd: Etcd;
const nodes: WarrenNode[] = [];
const prefix = `/warren-disk-${Date.now()}/`;

before(async () => {
  if (skip) return;
  etcd = await startEtcd(1);
  const limit = free(fillDir) - 2 * GiB;
  nodes.push(await startNode(etcd.endpoints, "warren@n1", { prefix, args: ["--disk-free-limit", String(limit)] }));
  nodes.push(...(await Promise.all([startNode(etcd.endpoints, "warren@n2", { prefix }), startNode(etcd.endpoints, "warren@n3", { prefix })])));
});
after(async () => {
  rmSync(fillDir, { recursive: true, force: true });
  await stopNodes(nodes, etcd);
});

interface QInfo {
  leader: string | null;
  in_sync: string[];
}
const info = async (n: WarrenNode, q: string): Promise<QInfo> => (await api<QInfo>(n.mgmtUrl!, `/api/queues/%2F/${q}`)).body;

async function publishConfirmed(url: string, queue: string, ids: string[]): Promise<Set<string>> {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createConfirmChannel();
    const ok = new Set<string>();
    for (let round = 0; round < 50 && ok.size < ids.length; round++) {
      await Promise.all(
        ids.filter((id) => !ok.has(id)).map((id) => new Promise<void>((resolve) => ch.sendToQueue(queue, Buffer.from(id), { persistent: true }, (err) => (err ? undefined : ok.add(id), resolve())))),
      );
      if (ok.size < ids.length) await new Promise((r) => setTimeout(r, 200));
    }
    return ok;
  } finally {
    await conn.close().catch(() => {});
  }
}

test("a leader whose disk alarm goes on hands the quorum queue to an in-sync follower; nothing confirmed is lost; it rejoins after the alarm clears", { skip, timeout: 60_000 }, async () => {
  const conn = await amqp.connect(nodes[0]!.url);
  const setup = await conn.createChannel();
  await setup.assertQueue("diskq", { durable: true, arguments: { "x-queue-type": "quorum" } });
  // a one-member queue on n1: no follower to hand over to
  await setup.assertQueue("diskq1", { durable: true, arguments: { "x-queue-type": "quorum", "x-quorum-initial-group-size": 1 } });
  await conn.close();
  await waitFor("n1 leads diskq1", async () => (await info(nodes[1]!, "diskq1")).leader === "warren@n1");
  const single = await publishConfirmed(
    nodes[0]!.url,
    "diskq1",
    Array.from({ length: 20 }, (_, i) => `s${i}`),
  );
  assert.equal(single.size, 20);
  await waitFor("n1 leads with 3 in sync", async () => {
    const q = await info(nodes[1]!, "diskq");
    return q.leader === "warren@n1" && q.in_sync.length === 3;
  });
  const before = await publishConfirmed(
    nodes[2]!.url,
    "diskq",
    Array.from({ length: 100 }, (_, i) => `a${i}`),
  );
  assert.equal(before.size, 100);

  const filler = join(fillDir, "filler");
  execFileSync("fallocate", ["-l", String(4 * GiB), filler]);
  const t0 = Date.now();
  const q = await waitFor(
    "another node leads",
    async () => {
      const x = await info(nodes[1]!, "diskq");
      return x.leader !== null && x.leader !== "warren@n1" ? x : undefined;
    },
    20_000,
  );
  console.log(`# ${q.leader} leads ${Date.now() - t0} ms after the fill (the alarm is checked every second)`);
  // a queue whose only in-sync replica is n1 keeps its leader (stepping down would leave it
  // leaderless) and its consumers drain it during the alarm
  assert.equal((await info(nodes[1]!, "diskq1")).leader, "warren@n1");
  {
    const c = await amqp.connect(nodes[1]!.url);
    const dch = await c.createChannel();
    const drained = new Set<string>();
    await dch.consume("diskq1", (m) => {
      if (!m) return;
      drained.add(m.content.toString());
      dch.ack(m);
    });
    await waitFor("diskq1 drained during the alarm", () => [...single].every((id) => drained.has(id)), 15_000);
    await c.close();
  }
  const during = await publishConfirmed(
    nodes[2]!.url,
    "diskq",
    Array.from({ length: 100 }, (_, i) => `b${i}`),
  );
  assert.equal(during.size, 100, "confirmed through n3 while n1's disk is full");

  rmSync(filler);
  await waitFor(
    "n1 back in sync",
    async () => {
      const x = await info(nodes[1]!, "diskq");
      return x.in_sync.includes("warren@n1") && x.in_sync.length === 3;
    },
    30_000,
  );

  // every confirmed message is delivered
  const c2 = await amqp.connect(nodes[1]!.url);
  const ch = await c2.createChannel();
  await ch.prefetch(500);
  const got = new Set<string>();
  await ch.consume("diskq", (m) => {
    if (!m) return;
    got.add(m.content.toString());
    ch.ack(m);
  });
  await waitFor("every confirmed message delivered", () => [...before, ...during].every((id) => got.has(id)), 20_000);
  await c2.close();
});
