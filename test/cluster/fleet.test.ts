/**
 * Fleet end to end on a 3-node cluster (issue #14 item 5): a collector, two agents and the
 * CLI, each a separate process given the broker as a list of the three nodes
 * (`--url amqp://…n1,amqp://…n2,amqp://…n3`, rotated so the agents start on n2 and n3), on
 * warren (3 nodes, 1 etcd member, loopback) and, with WARREN_TEST_RMQ_CLUSTER=1, on three
 * private RabbitMQ 3.10 nodes clustered with join_cluster (test/chaos/targets.ts; about a
 * minute to start, so not in CI).
 *
 * What it pins down, on both brokers: a task reaches agents connected to other nodes than the
 * CLI and the collector, and their results come back through the collector; when the node an
 * agent is connected to dies (kill -9) the agent reconnects to another node of its list; its
 * command queue is a classic queue homed on the dead node, so (RabbitMQ classic-queue
 * semantics) it gets its tasks again once that node is back, and the other agent is served
 * all along.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers/broker.js";
import { cli, privateVhost, startFleet, until, type FleetProc, type Vhost } from "../fleet/procs.js";
import { startRabbitCluster, startWarrenCluster, type ChaosCluster } from "../chaos/targets.js";
import { skipCluster } from "./helpers.js";

const skip = skipCluster;
const targets: ("warren" | "rabbitmq")[] = ["warren", ...(process.env.WARREN_TEST_RMQ_CLUSTER ? (["rabbitmq"] as const) : [])];

interface View {
  id: number;
  state: string;
  results: { host: string; status: string; stdout: string }[];
}

for (const target of targets) {
  let c: ChaosCluster;
  let vh: Vhost;
  let dir: string;
  const procs: FleetProc[] = [];
  const agents = new Map<string, FleetProc>();
  /** node urls with the private vhost, the list rotated to start at node `first` */
  const list = (first: number): string =>
    [0, 1, 2]
      .map((k) => {
        const u = new URL(c.nodes[(first + k) % 3]!.url);
        u.pathname = `/${vh.name}`;
        return u.toString();
      })
      .join(",");
  const common = (): string[] => ["--url", list(0), "--data-dir", dir];
  const startAgent = async (name: string, first: number): Promise<FleetProc> => {
    const a = startFleet("agent", ["--name", name, "--groups", "web", "--heartbeat", "1s", "--grace", "1s", "--url", list(first), "--data-dir", dir]);
    procs.push(a);
    agents.set(name, a);
    await a.waitLog(/ready on/, 30_000);
    return a;
  };
  const runWait = async (hosts: string[], cmd: string): Promise<View> => {
    const r = await cli(["run", cmd, "--hosts", ...hosts, "--wait", ...common()], 90_000);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const id = Number(/^task id: (\d+)$/m.exec(r.stdout)?.[1]);
    const v = await cli(["check_task", String(id), "--json", ...common()]);
    return JSON.parse(v.stdout) as View;
  };
  /** the node (index) the connection named `fleet-agent NAME` is on, from the management API */
  const nodeOf = async (name: string): Promise<number | undefined> => {
    for (let i = 0; i < 3; i++) {
      if (!c.nodes[i]!.running()) continue;
      const u = new URL(c.nodes[i]!.mgmtUrl);
      const r = await fetch(`http://${u.host}/api/connections`, {
        headers: { authorization: `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString("base64")}` },
        signal: AbortSignal.timeout(3000),
      }).catch(() => undefined);
      if (!r?.ok) continue;
      const conns = (await r.json()) as { node: string; client_properties?: { connection_name?: string } }[];
      const mine = conns.find((x) => x.client_properties?.connection_name === `fleet-agent ${name}`);
      // any node lists the cluster's connections, each with its node (RabbitMQ and warren alike)
      if (mine) return c.nodes.findIndex((n) => n.name === mine.node);
    }
    return undefined;
  };

  test(`${target}: Fleet on a 3-node cluster`, { skip, timeout: 300_000 }, async (t) => {
    c = target === "rabbitmq" ? await startRabbitCluster() : await startWarrenCluster({ mode: "loopback", etcdMembers: 1 });
    t.after(async () => {
      await Promise.all(procs.map((p) => p.stop()));
      await vh?.drop().catch(() => {});
      await c.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });
    vh = await privateVhost(c.nodes[0]!.url, c.nodes[0]!.mgmtUrl);
    dir = tempDir("warren-fleet-cluster-");
    mkdirSync(join(dir, "marks"));
    const collector = startFleet("collector", common());
    procs.push(collector);
    await collector.waitLog(/collector consuming/, 30_000);
    await startAgent("web1", 1);
    await startAgent("web2", 2);
    let last = "";
    await until(
      "both hosts online",
      async () => {
        const r = await cli(["hosts", "--json", ...common()]);
        last = `${r.stdout}${r.stderr}`;
        const hosts = JSON.parse(r.stdout || "[]") as { name: string; online: boolean }[];
        return hosts.filter((h) => h.online).length === 2;
      },
      30_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}: hosts said ${last}; collector: ${collector.err.slice(-1500)}; web1: ${agents.get("web1")!.err.slice(-800)}`);
    });

    await t.test("a task reaches agents on n2 and n3 from the CLI on n1; results come back", async () => {
      // RabbitMQ's management lists a connection once its stats were emitted (seconds later)
      const where = (name: string): Promise<{ i: number }> =>
        until(
          `${name}'s connection listed`,
          async () => {
            const i = await nodeOf(name);
            return i === undefined ? undefined : { i };
          },
          30_000,
        );
      assert.equal((await where("web1")).i, 1);
      assert.equal((await where("web2")).i, 2);
      const v = await runWait(["web1", "web2"], "echo hi from $FLEET_HOST");
      assert.deepEqual(v.results.map((r) => [r.host, r.status, r.stdout]).sort(), [
        ["web1", "ok", "hi from web1\n"],
        ["web2", "ok", "hi from web2\n"],
      ]);
    });

    await t.test("kill -9 web2's node: web2 reconnects to another node, web1 is served meanwhile, web2 again once its queue's node is back", async () => {
      const web2 = agents.get("web2")!;
      const before = web2.err.length;
      await c.nodes[2]!.kill();
      await until("web2 reconnecting", async () => /reconnecting in/.test(web2.err.slice(before)), 30_000);
      const v1 = await runWait(["web1"], "echo still here");
      assert.equal(v1.results[0]?.status, "ok");
      assert.equal(v1.results[0]?.stdout, "still here\n");
      await c.nodes[2]!.start();
      await until("web2 ready again", async () => /ready on/.test(web2.err.slice(before)), 60_000);
      const v2 = await runWait(["web1", "web2"], "echo back on $FLEET_HOST").catch((e: Error) => {
        throw new Error(`${e.message}\nweb2: ${web2.err.slice(before).slice(-3000)}`);
      });
      assert.deepEqual(v2.results.map((r) => [r.host, r.status, r.stdout]).sort(), [
        ["web1", "ok", "back on web1\n"],
        ["web2", "ok", "back on web2\n"],
      ]);
    });
  });
}
