/**
 * Cluster figures for docs/benchmarks.md (short runs; the machine is shared):
 *   node dist/bench/cluster-bench.js [messages]
 * 1. empty → a serving 3-node cluster: one etcd member started, three warren nodes started
 *    (the first creates the cluster, two join in parallel), until a message published on n2
 *    to a queue declared on n1 is consumed on n3;
 * 2. declares/s through the cluster (each declare-ok waits for every node), one channel
 *    sequentially and 8 channels at once;
 * 3. cross-node publish → consume: publisher (confirms, 1,000 in flight, 1 KiB persistent) on
 *    n2, queue on n1, consumer on n3 (manual ack, prefetch 500): msgs/s and publish→deliver
 *    latency p50/p99; the same on a single node without etcd.
 */
import amqp from "amqplib";
import { rmSync } from "node:fs";
import { startBrokerProcess, tempDir } from "../test/helpers/broker.js";
import { api, startEtcd, startNode, type WarrenNode } from "../test/cluster/helpers.js";

const N = Number(process.argv[2] ?? 20_000);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function pubConsume(pubUrl: string, subUrl: string, declUrl: string, queue: string): Promise<{ rate: number; p50: number; p99: number }> {
  const d = await amqp.connect(declUrl);
  await (await d.createChannel()).assertQueue(queue, { durable: true });
  const sub = await amqp.connect(subUrl);
  const sc = await sub.createChannel();
  await sc.prefetch(500);
  const lat: number[] = [];
  const body = Buffer.alloc(1024, 0x61);
  let got = 0;
  const done = new Promise<void>((resolve) => {
    void sc.consume(queue, (m) => {
      if (!m) return;
      lat.push(Date.now() - m.content.readDoubleBE(0));
      sc.ack(m);
      if (++got === N) resolve();
    });
  });
  const pub = await amqp.connect(pubUrl);
  const pc = await pub.createConfirmChannel();
  const t0 = Date.now();
  let inFlight = 0;
  let wake: (() => void) | null = null;
  for (let i = 0; i < N; i++) {
    while (inFlight >= 1000) await new Promise<void>((r) => (wake = r));
    const b = Buffer.from(body);
    b.writeDoubleBE(Date.now(), 0);
    inFlight++;
    pc.sendToQueue(queue, b, { persistent: true }, () => {
      inFlight--;
      const w = wake;
      wake = null;
      w?.();
    });
  }
  await pc.waitForConfirms();
  await done;
  const secs = (Date.now() - t0) / 1000;
  await pub.close();
  await sub.close();
  await d.close();
  return { rate: Math.round(N / secs), p50: pct(lat, 50), p99: pct(lat, 99) };
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const etcd = await startEtcd(1);
  const tEtcd = Date.now() - t0;
  const prefix = `/warren-bench-${Date.now()}/`;
  const nodes: WarrenNode[] = [];
  try {
    nodes.push(await startNode(etcd.endpoints, "warren@n1", { prefix }));
    nodes.push(...(await Promise.all([startNode(etcd.endpoints, "warren@n2", { prefix }), startNode(etcd.endpoints, "warren@n3", { prefix })])));
    for (;;) {
      const r = await api<{ running: boolean }[]>(nodes[0]!.mgmtUrl!, "/api/nodes");
      if (r.body.length === 3 && r.body.every((x) => x.running)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const tNodes = Date.now() - t0;
    // first cross-node message
    const c1 = await amqp.connect(nodes[0]!.url);
    await (await c1.createChannel()).assertQueue("first", { durable: true });
    const c2 = await amqp.connect(nodes[1]!.url);
    const p = await c2.createConfirmChannel();
    p.sendToQueue("first", Buffer.from("x"));
    await p.waitForConfirms();
    const c3 = await amqp.connect(nodes[2]!.url);
    const ch3 = await c3.createChannel();
    await new Promise<void>((r) => void ch3.consume("first", (m) => m && r(), { noAck: true }));
    const tServing = Date.now() - t0;
    await Promise.all([c1.close(), c2.close(), c3.close()]);
    console.log(`serving 3-node cluster: etcd healthy ${tEtcd} ms, 3 nodes running ${tNodes} ms, first cross-node message consumed ${tServing} ms`);

    // declares/s
    const dc = await amqp.connect(nodes[0]!.url);
    const dch = await dc.createChannel();
    let t = Date.now();
    for (let i = 0; i < 300; i++) await dch.assertQueue(`decl-${i}`, { durable: true });
    const seq = Math.round(300 / ((Date.now() - t) / 1000));
    const chans = await Promise.all(Array.from({ length: 8 }, () => dc.createChannel()));
    t = Date.now();
    await Promise.all(
      chans.map(async (ch, k) => {
        for (let i = 0; i < 100; i++) await ch.assertQueue(`decl-${k}-${i}`, { durable: true });
      }),
    );
    const par = Math.round(800 / ((Date.now() - t) / 1000));
    await dc.close();
    console.log(`declares/s through the cluster (declare-ok after every node has it): 1 channel ${seq}/s, 8 channels ${par}/s`);

    const x = await pubConsume(nodes[1]!.url, nodes[2]!.url, nodes[0]!.url, "xnode");
    console.log(`cross-node (publish n2, queue n1, consume n3), ${N} x 1 KiB persistent, confirms: ${x.rate} msg/s, latency p50 ${x.p50} ms p99 ${x.p99} ms`);
  } finally {
    for (const n of nodes) await n.kill();
    for (const n of nodes) rmSync(n.dataDir, { recursive: true, force: true });
    await etcd.stop();
  }
  const dir = tempDir("warren-bench-");
  const single = await startBrokerProcess(dir, ["--no-fleet", "--prometheus-port", "off", "--log-level", "warn"]);
  try {
    const s = await pubConsume(single.url, single.url, single.url, "single");
    console.log(`single node, same workload: ${s.rate} msg/s, latency p50 ${s.p50} ms p99 ${s.p99} ms`);
  } finally {
    await single.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
