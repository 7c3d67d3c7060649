/**
 * Fleet as an operator uses it day to day (issue 18), every actor a separate
 * process against the test broker (a real RabbitMQ when WARREN_TEST_URL /
 * WARREN_TEST_MGMT_URL are set; nothing here depends on which broker it is):
 * presence that tells the truth (offline on a clean stop, lost after missed
 * heartbeats, "queued — host offline since …").
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { startBroker, tempDir, type TestBroker } from "../helpers/broker.js";
import { cli, privateVhost, startFleet, until, type FleetProc, type Vhost } from "./procs.js";

let broker: TestBroker;
let vh: Vhost;
let dir: string;
let collector: FleetProc;
const agents = new Map<string, FleetProc>();

const common = (): string[] => ["--url", vh.url, "--data-dir", dir];

async function startAgent(name: string, groups: string, extra: string[] = []): Promise<FleetProc> {
  const a = startFleet("agent", ["--name", name, "--groups", groups, "--heartbeat", "1s", "--grace", "1s", ...common(), ...extra]);
  agents.set(name, a);
  await a.waitLog(/ready on/);
  return a;
}

interface HostJson { name: string; presence: string; since: number | null; online: boolean; groups: string[] }

async function hosts(): Promise<HostJson[]> {
  const r = await cli(["hosts", "--json", ...common()]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as HostJson[];
}

const presence = async (name: string): Promise<string | undefined> => (await hosts()).find((h) => h.name === name)?.presence;

before(async () => {
  broker = await startBroker({ mgmt: true });
  vh = await privateVhost(broker.url, broker.mgmtUrl);
  dir = tempDir("warren-fleet-op-");
  collector = startFleet("collector", common());
  await collector.waitLog(/collector consuming/);
  await Promise.all([startAgent("op1", "web"), startAgent("op2", "web"), startAgent("op3", "db")]);
  await until("agents online", async () => (await hosts()).filter((h) => h.presence === "online").length === 3);
});

after(async () => {
  await Promise.all([...agents.values()].map((a) => a.stop()));
  await collector?.stop();
  await vh?.drop();
  await broker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("a clean stop announces offline before the connection closes; a queued task says the host is offline", async () => {
  // A stopped agent must read `offline` (its own word), never `lost` (which is what three
  // missed heartbeats would give without the announcement).
  const a = agents.get("op3")!;
  await a.stop();
  await until("op3 offline", async () => (await presence("op3")) === "offline", 2500);
  const h = (await hosts()).find((x) => x.name === "op3")!;
  assert.equal(h.online, false);
  assert.ok(h.since && h.since <= Date.now());
  const run = await cli(["run", "echo later", "--hosts", "op3", ...common()]);
  assert.equal(run.code, 0, run.stderr);
  const id = /task id: (\d+)/.exec(run.stdout)![1]!;
  const human = await until("queued shown", async () => {
    const r = await cli(["check_task", id, ...common()]);
    return /queued/.test(r.stdout) ? r.stdout : undefined;
  });
  assert.match(human, /== op3 \(queued — host offline since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\)/);
  const j = await cli(["check_task", id, "--json", ...common()]);
  assert.equal((JSON.parse(j.stdout) as { hosts: Record<string, { presence: string }> }).hosts.op3?.presence, "offline");
  const table = await cli(["hosts", ...common()]);
  assert.match(table.stdout, /^op3\s+offline\s+\d{4}-/m);
  // The host returns: online again, and the queued task runs.
  await startAgent("op3", "db");
  await until("op3 online", async () => (await presence("op3")) === "online");
  await until("queued task ran", async () => /ok, exit 0/.test((await cli(["check_task", id, ...common()])).stdout));
});

test("an agent that dies without a word is lost after three missed heartbeats", async () => {
  const a = agents.get("op2")!;
  await a.kill(); // SIGKILL: no offline announcement
  await until("op2 lost", async () => (await presence("op2")) === "lost", 15_000);
  // The sweeper stored it (what other readers of the store and the web UI see), with when it was last heard.
  const h = await until("op2 stored lost", async () => {
    const x = (await hosts()).find((y) => y.name === "op2") as HostJson & { state: string; lastSeen: number };
    return x.state === "lost" ? x : undefined;
  }, 5000);
  assert.equal(h.since, h.lastSeen);
  await startAgent("op2", "web");
  await until("op2 back", async () => (await presence("op2")) === "online");
});
