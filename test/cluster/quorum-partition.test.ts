/**
 * A quorum queue's leader cut off by a partition that drops packets (docs/cluster.md,
 * "Failover"; docs/chaos.md, isolate-leader). In the harness the isolated node's etcd member is
 * cut off with it, so the other nodes' connections to that member go silent too (a blackhole
 * resets nothing). Here, on loopback: n1 (the leader) reaches etcd only through proxy A, n2 and
 * n3 through proxy B and directly; freezing A and B stops every byte through them without
 * closing anything (new connections are refused at once, as a blackhole route refuses them).
 * n1 must fence itself, and n2/n3, whose etcd client may have its watch or lease keepalive on
 * the silent connection, must still see n1's election key expire and elect a new leader from
 * the in-sync set within seconds (RabbitMQ's quorum queue elects a new leader once the old one
 * is unreachable; the target is 3 s). Before gRPC keepalives, the silent connection
 * was never noticed and the election waited out 5 s call deadlines or more.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import amqp from "amqplib";
import { api, EtcdProxy, skipCluster, startEtcd, startNode, stopNodes, waitFor, type Etcd, type WarrenNode } from "./helpers.js";

const skip = skipCluster;

let etcd: Etcd;
let a: EtcdProxy;
let b: EtcdProxy;
const nodes: WarrenNode[] = [];
const prefix = `/warren-partition-${Date.now()}/`;

before(async () => {
  if (skip) return;
  etcd = await startEtcd(1);
  a = await EtcdProxy.to(etcd.endpoints);
  b = await EtcdProxy.to(etcd.endpoints);
  nodes.push(await startNode(`127.0.0.1:${a.port}`, "warren@n1", { prefix }));
  // B first: the client picks an endpoint at random per call and stream, so some land on B
  const both = `127.0.0.1:${b.port},${etcd.endpoints}`;
  nodes.push(...(await Promise.all([startNode(both, "warren@n2", { prefix }), startNode(both, "warren@n3", { prefix })])));
});
after(async () => {
  a?.close();
  b?.close();
  await stopNodes(nodes, etcd);
});

interface QInfo {
  leader: string | null;
  in_sync: string[];
}
const info = async (n: WarrenNode, q: string): Promise<QInfo> => (await api<QInfo>(n.mgmtUrl!, `/api/queues/%2F/${q}`)).body;

test("a leader cut off silently (its etcd path and the others' path to its etcd member go quiet) is replaced by an in-sync follower within seconds", { skip, timeout: 60_000 }, async () => {
  const conn = await amqp.connect(nodes[0]!.url);
  conn.on("error", () => {});
  await (await conn.createChannel()).assertQueue("silent", { durable: true, arguments: { "x-queue-type": "quorum" } });
  await waitFor("n1 leads with 3 in sync", async () => {
    const q = await info(nodes[1]!, "silent");
    return q.leader === "warren@n1" && q.in_sync.length === 3;
  });
  // a few publishes through n2 and n3 so their etcd clients have used every endpoint
  for (const n of nodes.slice(1)) {
    const c2 = await amqp.connect(n.url);
    const ch = await c2.createConfirmChannel();
    for (let i = 0; i < 20; i++) ch.sendToQueue("silent", Buffer.from(`${n.name}:${i}`), { persistent: true });
    await ch.waitForConfirms();
    await c2.close();
  }

  const t0 = Date.now();
  a.setFrozen(true);
  b.setFrozen(true);
  const q = await waitFor(
    "an in-sync follower leads",
    async () => {
      const x = await info(nodes[1]!, "silent");
      return x.leader !== null && x.leader !== "warren@n1" ? x : undefined;
    },
    15_000,
  );
  const electedMs = Date.now() - t0;
  assert.ok(["warren@n2", "warren@n3"].includes(q.leader!));
  // and it confirms through the other survivor
  const c3 = await amqp.connect(nodes[2]!.url);
  const ch = await c3.createConfirmChannel();
  let confirmed = false;
  while (!confirmed) {
    confirmed = await new Promise<boolean>((resolve) => ch.sendToQueue("silent", Buffer.from("after"), { persistent: true }, (err) => resolve(!err)));
    if (!confirmed) await new Promise((r) => setTimeout(r, 100));
  }
  const confirmedMs = Date.now() - t0;
  await c3.close();
  // the election lease is 2 s: the bound leaves room for a loaded machine, not for a stalled client
  assert.ok(electedMs < 8000, `new leader after ${electedMs} ms`);
  console.log(`# new leader ${q.leader} after ${electedMs} ms, first confirm after ${confirmedMs} ms`);
  a.setFrozen(false);
  b.setFrozen(false);
});
