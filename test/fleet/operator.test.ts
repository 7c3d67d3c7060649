/**
 * Fleet as an operator uses it day to day (issue 18), every actor a separate
 * process against the test broker (a real RabbitMQ when WARREN_TEST_URL /
 * WARREN_TEST_MGMT_URL are set; nothing here depends on which broker it is):
 * presence that tells the truth (offline on a clean stop, lost after missed
 * heartbeats, "queued — host offline since …"), central groups, --where, exit
 * codes, colours, one-line, pushed --follow, Ctrl-C, tasks filters, hosts remove,
 * and the bench no-op executor being out of reach of real agents.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { repoRoot, startBroker, tempDir, type TestBroker } from "../helpers/broker.js";
import { cli, privateVhost, startFleet, stopFleetRig, until, type FleetProc, type Vhost } from "./procs.js";

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

interface HostJson {
  name: string;
  presence: string;
  since: number | null;
  online: boolean;
  groups: string[];
}

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

after(() => stopFleetRig({ agents: agents.values(), collector, vh, broker, dir }));

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
  const h = await until(
    "op2 stored lost",
    async () => {
      const x = (await hosts()).find((y) => y.name === "op2") as HostJson & { state: string; lastSeen: number };
      return x.state === "lost" ? x : undefined;
    },
    5000,
  );
  assert.equal(h.since, h.lastSeen);
  await startAgent("op2", "web");
  await until("op2 back", async () => (await presence("op2")) === "online");
});

async function runJson(args: string[], code = 0): Promise<{ id: number; hosts: string[] }> {
  const r = await cli(["run", ...args, "--json", ...common()]);
  assert.equal(r.code, code, r.stderr);
  return JSON.parse(r.stdout) as { id: number; hosts: string[] };
}

async function outputs(id: number): Promise<Record<string, string>> {
  return until(`task ${id} done`, async () => {
    const r = await cli(["check_task", String(id), "--json", ...common()]);
    const v = JSON.parse(r.stdout) as { state: string; results: Array<{ host: string; status: string; stdout: string }> };
    return v.state === "done" ? Object.fromEntries(v.results.map((x) => [x.host, `${x.status}:${x.stdout.trim()}`])) : undefined;
  });
}

test("central groups: run --group reaches announced and assigned members; unassign and rm take effect", async () => {
  // web is announced by op1/op2's agents; it is not central until someone adds it.
  const notCentral = await cli(["groups", "assign", "web", "op3", ...common()]);
  assert.notEqual(notCentral.code, 0);
  assert.match(notCentral.stderr, /no central group web: create it with `warren groups add web`/);
  const add = await cli(["groups", "add", "web", "--description", "front ends", "--hosts", "op3", ...common()]);
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stdout, /group web created; assigned op3/);
  const list = JSON.parse((await cli(["groups", "--json", ...common()])).stdout) as Array<{ name: string; central: boolean; assigned: string[]; announced: string[]; description: string }>;
  assert.deepEqual(
    list.find((g) => g.name === "web"),
    { ...list.find((g) => g.name === "web")!, central: true, assigned: ["op3"], announced: ["op1", "op2"], description: "front ends" },
  );
  assert.equal(list.find((g) => g.name === "db")?.central, false);
  // op1, op2 by the one group.web message, op3 by its own host.op3 message: all three run it.
  const t = await runJson(['echo "$FLEET_HOST"', "--group", "web"]);
  assert.deepEqual(t.hosts, ["op1", "op2", "op3"]);
  assert.deepEqual(await outputs(t.id), { op1: "ok:op1", op2: "ok:op2", op3: "ok:op3" });
  const human = await cli(["hosts", ...common()]);
  assert.match(human.stdout, /^op3 .* db,web /m);
  const un = await cli(["groups", "unassign", "web", "op3", ...common()]);
  assert.match(un.stdout, /op3 unassigned from web/);
  assert.deepEqual((await runJson(['echo "$FLEET_HOST"', "--group", "web"])).hosts, ["op1", "op2"]);
  // rm deletes the central definition; what agents announce is theirs, and says so.
  const rm = await cli(["groups", "rm", "web", "--json", ...common()]);
  assert.equal(rm.code, 0, rm.stderr);
  assert.deepEqual((JSON.parse(rm.stdout) as { stillAnnounced: string[] }).stillAnnounced, ["op1", "op2"]);
  const again = await cli(["groups", "rm", "web", ...common()]);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /no central group web \(its members announce it themselves/);
  const bad = await cli(["groups", "add", "no spaces", ...common()]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /invalid group name/);
});

test("inventory and --where: targeting by facts, compound with groups", async () => {
  const set = await cli(["hosts", "set", "op1", "--address", "192.168.3.55", "--port", "2222", ...common()]);
  assert.equal(set.code, 0, set.stderr);
  const h = (await hosts()).find((x) => x.name === "op1") as HostJson & { address: string; port: number };
  assert.equal(h.address, "192.168.3.55");
  assert.equal(h.port, 2222);
  assert.deepEqual((await runJson(["true", "--where", "address=192.168.3.*"])).hosts, ["op1"]);
  assert.deepEqual((await runJson(["true", "--group", "web", "--where", "os=linux", "--where", "name!=op1"])).hosts, ["op2"]);
  const distro = /^ID=("?)([^"\n]+)\1$/m.exec(readFileSync("/etc/os-release", "utf8"))?.[2];
  if (distro) assert.deepEqual((await runJson(["true", "--where", `os=${distro}`])).hosts, ["op1", "op2", "op3"]);
  const none = await cli(["run", "true", "--group", "web", "--where", "os=plan9", ...common()]);
  assert.notEqual(none.code, 0);
  assert.match(none.stderr, /no known host is in group web where os=plan9/);
  const unknown = await cli(["run", "true", "--where", "colour=blue", ...common()]);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /unknown fact "colour" \(known: name, hostname, os/);
  const badPort = await cli(["hosts", "set", "op1", "--port", "70000", ...common()]);
  assert.notEqual(badPort.code, 0);
  assert.match(badPort.stderr, /bad --port 70000/);
});

const ESC = "\x1b[";

test("exit codes a CI job can gate on: ok 0, failed 1, unreachable 3, not found 4, not done 6", async () => {
  const ok = await cli(["run", "true", "--hosts", "op1", "--wait", ...common()]);
  assert.equal(ok.code, 0, ok.stderr);
  const failed = await cli(["run", "exit 7", "--hosts", "op1", "--wait", ...common()]);
  assert.equal(failed.code, 1);
  const failedId = /task id: (\d+)/.exec(failed.stdout)![1]!;
  // check_task used to exit 0 here
  assert.equal((await cli(["check_task", failedId, ...common()])).code, 1);
  const unroutable = await cli(["run", "true", "--hosts", "nosuchhost", "--wait", ...common()]);
  assert.equal(unroutable.code, 3, unroutable.stdout + unroutable.stderr);
  assert.match(unroutable.stdout, /unroutable/);
  // check_task used to exit 3 (the "unreachable" code) here
  const missing = await cli(["check_task", "99999999", ...common()]);
  assert.equal(missing.code, 4);
  assert.match(missing.stderr, /no task 99999999/);
  const running = await runJson(["sleep 30", "--hosts", "op1"]);
  await until("running", async () => /running/.test((await cli(["check_task", String(running.id), ...common()])).stdout));
  assert.equal((await cli(["check_task", String(running.id), ...common()])).code, 6);
  assert.equal((await cli(["cancel", String(running.id), ...common()])).code, 0);
  const usage = await cli(["tasks", "--status", "bogus", ...common()]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /unknown status "bogus"/);
});

test("colours only when asked or on a terminal; --one-line gives one line per host", async () => {
  const t = await runJson(['printf "a\\nb\\n"; [ "$FLEET_HOST" = op2 ] && exit 4; true', "--hosts", "op1", "op2", "--wait"], 1);
  await outputs(t.id);
  const plain = await cli(["check_task", String(t.id), ...common()]);
  assert.ok(!plain.stdout.includes(ESC), "escape codes on a pipe");
  const colour = await cli(["check_task", String(t.id), "--color", ...common()]);
  assert.ok(colour.stdout.includes(`${ESC}32mok, exit 0`), colour.stdout);
  assert.ok(colour.stdout.includes(`${ESC}31mfailed, exit 4`), colour.stdout);
  const off = await cli(["check_task", String(t.id), "--color", "--no-color", ...common()]);
  assert.ok(!off.stdout.includes(ESC));
  const one = await cli(["check_task", String(t.id), "--one-line", ...common()]);
  assert.equal(one.stdout.trim(), "op1 | ok | rc=0 | a\\nb\nop2 | failed | rc=4 | a\\nb");
});

test("--follow streams each line as it appears; Ctrl-C says how to come back", async () => {
  const mark = `${dir}/follow-go`;
  // The second line is printed only after the test saw the first one: streamed, not at the end.
  const f = startFleet("run", [`echo one; while [ ! -f ${mark} ]; do sleep 0.05; done; echo two`, "--hosts", "op1", "--follow", ...common()]);
  await until("first line streamed", async () => /^\[op1\] one$/m.test(f.out), 15_000);
  assert.ok(!/two/.test(f.out));
  writeFileSync(mark, "");
  assert.equal(await f.exited, 0, f.err);
  assert.match(f.out, /^\[op1\] two$/m);
  assert.match(f.out, /task \d+ done: 1 ok/);
  // Ctrl-C while following: exit 130, the task keeps running, and we are told how to come back.
  const g = startFleet("run", ["echo started; sleep 30", "--hosts", "op1", "--follow", ...common()]);
  await until("following", async () => /\[op1\] started/.test(g.out), 15_000);
  const id = /task id: (\d+)/.exec(g.out)![1]!;
  g.child.kill("SIGINT");
  assert.equal(await g.exited, 130);
  assert.match(g.err, new RegExp(`detached from task ${id}; it keeps running`));
  assert.match(g.err, new RegExp(`warren check_task ${id} --follow`));
  assert.match(g.err, new RegExp(`warren cancel ${id}`));
  assert.match((await cli(["check_task", id, ...common()])).stdout, /running/);
  await cli(["cancel", id, ...common()]);
});

test("tasks filters: host, status, who, since", async () => {
  const a = await runJson(["exit 3", "--hosts", "op3", "--user", "alice", "--wait"], 1);
  const b = await runJson(["true", "--hosts", "op1", "--user", "bob", "--wait"]);
  const ids = async (args: string[]): Promise<number[]> => {
    const r = await cli(["tasks", "--json", "--limit", "200", ...args, ...common()]);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as Array<{ id: number }>).map((x) => x.id);
  };
  const failed = await ids(["--status", "failed"]);
  assert.ok(failed.includes(a.id) && !failed.includes(b.id));
  const onOp1 = await ids(["--host", "op1"]);
  assert.ok(onOp1.includes(b.id) && !onOp1.includes(a.id));
  assert.deepEqual(await ids(["--by", "alice"]), [a.id]);
  const recent = await ids(["--since", "1h", "--status", "done"]);
  assert.ok(recent.includes(a.id) && recent.includes(b.id));
  assert.deepEqual(await ids(["--since", "1h", "--by", "nobody"]), []);
});

test("hosts remove says only what it did", async (t) => {
  if (!vh.mgmtUrl) return t.skip("needs a management API");
  const none = await cli(["hosts", "remove", "ghost0", "--mgmt-url", vh.mgmtUrl, ...common()]);
  assert.equal(none.code, 4);
  assert.match(none.stderr, /no host ghost0: .*nothing removed/);
  await cli(["hosts", "set", "ghost1", "--address", "10.0.0.1", ...common()]);
  const inv = await cli(["hosts", "remove", "ghost1", "--mgmt-url", vh.mgmtUrl, ...common()]);
  assert.equal(inv.code, 0, inv.stderr);
  // it used to claim "broker user fleet-agent-ghost1 deleted"
  assert.match(inv.stdout, /removed ghost1: no broker user fleet-agent-ghost1 \(never enrolled\), no queue fleet\.host\.ghost1, forgotten by the collector/);
});

test("the bench's no-op executor is unreachable from a normally started agent", async () => {
  // A real agent really runs the command: output and a side effect a no-op could not produce.
  const mark = `${dir}/really-ran`;
  const t = await runJson([`echo real-$FLEET_HOST; touch ${mark}`, "--hosts", "op1", "--wait"]);
  assert.deepEqual(await outputs(t.id), { op1: "ok:real-op1" });
  assert.ok(readFileSync(mark, "utf8") === "");
  // No flag selects it…
  const flag = await cli(["agent", "--name", "x1", "--noop", ...common()]);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /unknown option --noop/);
  // …and no shipped code can reach it: only bench/ imports it, only AgentOptions carries it,
  // and the CLI that starts agents never sets `executor` or `journalSync`.
  const { readdirSync, statSync } = await import("node:fs");
  const { join } = await import("node:path");
  const root = join(repoRoot, "dist", "src");
  const files: string[] = [];
  const walk = (d: string): void => readdirSync(d).forEach((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : f.endsWith(".js") && files.push(join(d, f))));
  walk(root);
  assert.ok(files.length > 50);
  for (const f of files) assert.ok(!/fleet-noop|benchNoop/.test(readFileSync(f, "utf8")), `${f} refers to the bench no-op`);
  assert.ok(!/executor|journalSync/.test(readFileSync(join(root, "fleet", "cli.js"), "utf8")));
  const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { files: string[] };
  assert.ok(!pkg.files.some((f) => f.includes("bench")), "bench/ is not in the published package");
});
