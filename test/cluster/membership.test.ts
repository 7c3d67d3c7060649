/**
 * Cluster membership on etcd: three warren nodes (child processes) and one etcd member,
 * all on loopback. Checks /api/nodes on every node, a kill -9 seen as running=false by the
 * others, and that a node name bound to one data directory's id cannot be taken by another.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { api, clusterForFile, skipCluster, startNode, waitFor } from "./helpers.js";
import { startBrokerProcess, tempDir } from "../helpers/broker.js";

const skip = skipCluster;

const c = clusterForFile({ nodes: 3 });

interface NodeJSON {
  name: string;
  type: string;
  running: boolean;
  os_pid?: string;
}

test("every node lists the three members in /api/nodes, running, as disc nodes", { skip }, async () => {
  for (const n of c.nodes) {
    const r = await waitFor(`3 running nodes on ${n.name}`, async () => {
      const x = await api<NodeJSON[]>(n.mgmtUrl!, "/api/nodes");
      return x.body.length === 3 && x.body.every((m) => m.running) ? x : undefined;
    });
    assert.deepEqual(
      r.body.map((m) => m.name),
      ["warren@n1", "warren@n2", "warren@n3"],
    );
    assert.deepEqual(
      r.body.map((m) => m.type),
      ["disc", "disc", "disc"],
    );
    // each node's pid is the real process's, whichever node answers
    assert.deepEqual(
      r.body.map((m) => m.os_pid),
      c.nodes.map((x) => String(x.child.pid)),
    );
    const one = await api<NodeJSON>(n.mgmtUrl!, "/api/nodes/warren%40n2");
    assert.equal(one.status, 200);
    assert.equal(one.body.name, "warren@n2");
    const ov = await api<{ cluster_name: string; node: string }>(n.mgmtUrl!, "/api/overview");
    assert.equal(ov.body.cluster_name, "warren@n1");
    assert.equal(ov.body.node, n.name);
  }
});

test("a node killed with -9 is shown running=false by the others once its lease runs out", { skip }, async () => {
  const victim = c.nodes[2]!;
  await victim.kill();
  for (const n of c.nodes.slice(0, 2)) {
    const down = await waitFor(
      `${victim.name} down on ${n.name}`,
      async () => {
        const x = await api<NodeJSON[]>(n.mgmtUrl!, "/api/nodes");
        const v = x.body.find((m) => m.name === victim.name);
        return v && v.running === false ? x.body : undefined;
      },
      20_000,
    );
    assert.equal(down.length, 3, "a stopped node stays a member");
  }
  // it comes back with its data directory: the same member again
  const again = await startNode(c.etcd.endpoints, victim.name, { dataDir: victim.dataDir, prefix: c.prefix });
  c.nodes[2] = again;
  await waitFor(
    `${victim.name} running again`,
    async () => {
      const x = await api<NodeJSON[]>(c.nodes[0]!.mgmtUrl!, "/api/nodes");
      return x.body.find((m) => m.name === victim.name)?.running === true;
    },
    20_000,
  );
});

test("a node name is bound to its data directory's id: another directory cannot take it", { skip }, async () => {
  const dir = tempDir("warren-node-");
  try {
    await assert.rejects(
      startBrokerProcess(dir, ["--no-fleet", "--prometheus-port", "off", "--etcd-endpoints", c.etcd.endpoints, "--etcd-prefix", c.prefix, "--node-name", "warren@n2"]),
      /node name warren@n2 belongs to another member/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("warren server refuses cluster options without etcd endpoints, and unreachable etcd clearly", { skip }, async () => {
  const dir = tempDir("warren-node-");
  try {
    await assert.rejects(startBrokerProcess(dir, ["--no-fleet", "--node-name", "warren@x"]), /need --etcd-endpoints/);
    await assert.rejects(startBrokerProcess(dir, ["--no-fleet", "--etcd-endpoints", "127.0.0.1:1"]), /cannot reach etcd at 127\.0\.0\.1:1/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("Fleet's broker address may list several nodes: a dead one is skipped, a reconnect moves to the next", { skip }, async () => {
  const { connect, redact } = await import("../../src/fleet/conn.js");
  const [n1, n2] = [c.nodes[0]!, c.nodes[1]!];
  const list = `amqp://guest:guest@127.0.0.1:1,${n1.url},${n2.url}`;
  assert.equal(redact(list), "amqp://guest:***@127.0.0.1:1,amqp://guest:***@127.0.0.1:" + n1.port + ",amqp://guest:***@127.0.0.1:" + n2.port);
  const port = async (conn: { connection: unknown }): Promise<number> => (conn.connection as { stream: { remotePort: number } }).stream.remotePort;
  const a = await connect(list, "fleet-failover-test");
  assert.equal(await port(a), n1.port, "the closed port is skipped");
  const b = await connect(list, "fleet-failover-test");
  assert.equal(await port(b), n2.port, "the next connect starts after the node used last");
  await a.close();
  await b.close();
});
