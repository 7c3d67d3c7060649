/**
 * Attacks on Fleet (issue 11 rows 1, 5, 6, 7, 8, 13), each performed with the credentials
 * the attacker really has, against real processes: a collector (with its HTTP API) and
 * enrolled agents web1, web2 and "mallory" (all in group web), through the test broker.
 * Mallory is a compromised enrolled host: it holds the broker user fleet-agent-mallory and
 * nothing else. "eve" is an ordinary broker user with `.*` permissions in Fleet's vhost;
 * "watcher" a monitoring user with no permission there.
 *
 * What each attack must achieve and no longer does:
 * - row 1: results, expiries and presence forged by mallory for other hosts are dropped
 *   (the broker validates user_id; the collector matches it, and the nonce each host was sent);
 * - row 5: watcher reads nothing under /api/fleet;
 * - row 6: eve's unsigned RPC reads are refused; eve cannot take a connected agent's commands;
 * - row 7: mallory cannot bind its queue to another host's (or group's) routing key;
 * - row 8: a captured group command replayed after a new host joined the group is refused
 *   by that host and not counted in the task;
 * - row 13: enrolment never puts the agent's password on a command line.
 * The permission checks pin RabbitMQ 3.10.8's behaviour (WARREN_TEST_URL/WARREN_TEST_MGMT_URL):
 * queue.bind needs read on the exchange, user_id must equal the login, exclusive consumers.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import amqp from "amqplib";
import { startBroker, tempDir, type TestBroker } from "../helpers/broker.js";
import { cli, mgmt, privateVhost, startFleet, until, type FleetProc, type Vhost } from "../fleet/procs.js";

let broker: TestBroker;
let vh: Vhost;
let dir: string;
let collector: FleetProc;
let httpBase = "";
const agents = new Map<string, FleetProc>();
const agentDirs: string[] = [];
const enrolled = new Map<string, { url: string; urlFile: string; user: string; password: string }>();
let skip = false;

const common = (): string[] => ["--url", vh.url, "--data-dir", dir];
const marks = (): string => join(dir, "marks");

interface View {
  id: number;
  results: Array<{ host: string; status: string; stdout: string; error: string | null }>;
  rejections?: Array<{ host: string; error: string }>;
}

async function check(id: number): Promise<View> {
  const r = await cli(["check_task", String(id), "--json", ...common()]);
  // check_task's exit code gates CI jobs (src/fleet/exitcodes.ts): 0 all ok, 1 some host failed,
  // 3 some never ran, 6 not done yet — each with the task's view; anything else is an error here
  assert.ok([0, 1, 3, 6].includes(r.code ?? -1), `check_task exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as View;
}

async function run(args: string[]): Promise<number> {
  const r = await cli(["run", ...args, ...common()]);
  assert.equal(r.code, 0, r.stderr);
  return Number(/^task id: (\d+)$/m.exec(r.stdout)![1]);
}

async function enrol(name: string, groups: string): Promise<void> {
  const r = await cli(["hosts", "add", name, "--groups", groups, "--json", "--mgmt-url", vh.mgmtUrl!, ...common()]);
  assert.equal(r.code, 0, r.stderr);
  enrolled.set(name, JSON.parse(r.stdout) as { url: string; urlFile: string; user: string; password: string });
}

async function startAgent(name: string, groups: string): Promise<FleetProc> {
  const e = enrolled.get(name)!;
  const own = tempDir(`sec-agent-${name}-`);
  agentDirs.push(own);
  const pub = join(own, "operator.pub");
  writeFileSync(pub, readFileSync(join(dir, "fleet", "operator.pub")));
  const a = startFleet("agent", ["--name", name, "--groups", groups, "--heartbeat", "1s", "--grace", "1s", "--url-file", e.urlFile, "--data-dir", own, "--trust", pub]);
  agents.set(name, a);
  await a.waitLog(/ready on/);
  return a;
}

async function audit(): Promise<Array<{ actor: string; action: string; detail: { claimedHost?: string; kind?: string } }>> {
  const r = await fetch(`${httpBase}/api/fleet/audit?limit=500`, { headers: { authorization: "Basic " + Buffer.from("guest:guest").toString("base64") } });
  assert.equal(r.status, 200);
  return (await r.json()) as Array<{ actor: string; action: string; detail: { claimedHost?: string; kind?: string } }>;
}

async function spoofsSeen(n: number): Promise<void> {
  await until(`${n} spoof attempts audited`, async () => (await audit()).filter((a) => a.action === "spoofed").length >= n);
}

before(async () => {
  broker = await startBroker({ mgmt: true });
  if (!broker.mgmtUrl) {
    skip = true;
    return;
  }
  vh = await privateVhost(broker.url, broker.mgmtUrl);
  dir = tempDir("sec-fleet-");
  mkdirSync(marks());
  collector = startFleet("collector", [...common(), "--http-port", "0", "--mgmt-url", broker.mgmtUrl]);
  await collector.waitLog(/fleet HTTP API on (http:\/\/\S+)\/api\/fleet/);
  httpBase = /fleet HTTP API on (http:\/\/\S+)\/api\/fleet/.exec(collector.err)![1]!;
  await collector.waitLog(/collector consuming/);
  for (const h of ["web1", "web2", "mallory"]) await enrol(h, "web");
  for (const h of ["web1", "web2", "mallory"]) await startAgent(h, "web");
});

after(async () => {
  for (const a of agents.values()) await a.stop();
  await collector?.stop();
  if (vh) {
    for (const name of enrolled.keys()) await mgmt(vh.mgmtUrl!, "DELETE", `/api/users/fleet-agent-${name}`);
    for (const u of ["eve", "watcher"]) await mgmt(vh.mgmtUrl!, "DELETE", `/api/users/sec-${u}-${vh.name}`);
    await vh.drop();
  }
  await broker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  for (const d of agentDirs) rmSync(d, { recursive: true, force: true });
});

test("row 13: enrolment keeps the agent's password off command lines (0600 URL file, --url-file)", { skip }, async () => {
  const e = enrolled.get("web1")!;
  assert.equal(statSync(e.urlFile).mode & 0o077, 0, "the URL file is private");
  assert.ok(readFileSync(e.urlFile, "utf8").includes(e.password));
  const human = await cli(["hosts", "add", "web1", "--groups", "web", "--password", e.password, "--mgmt-url", vh.mgmtUrl!, ...common()]);
  assert.equal(human.code, 0, human.stderr);
  const cmdLine = human.stdout.split("\n").find((l) => l.includes("warren agent"))!;
  assert.ok(cmdLine.includes("--url-file"), cmdLine);
  assert.ok(!human.stdout.includes(e.password), "the printed instructions carry no password");
  const argv = readFileSync(`/proc/${agents.get("web1")!.child.pid}/cmdline`, "utf8");
  assert.ok(!argv.includes(e.password), "the running agent's command line has no password");
});

test("row 1: results, progress and presence forged by an enrolled agent for another host are dropped", { skip, timeout: 120_000 }, async () => {
  const m = enrolled.get("mallory")!;
  await agents.get("web1")!.stop(); // web1's command waits in its queue while mallory forges
  const id = await run(["echo real", "--hosts", "web1"]);
  await until("queued", async () => (await check(id)).results[0]?.status === "queued");
  const conn = await amqp.connect(m.url);
  const ch = await conn.createConfirmChannel();
  const forged = { kind: "result", task: id, host: "web1", nonce: null, status: "ok", exitCode: 0, stdout: "forged\n", finishedAt: Date.now() };
  // without user_id (the broker lets anyone omit it) and with mallory's own (the broker checks it)
  ch.publish("fleet.results", "result", Buffer.from(JSON.stringify(forged)), { persistent: true });
  ch.publish("fleet.results", "result", Buffer.from(JSON.stringify(forged)), { persistent: true, userId: m.user });
  ch.publish("fleet.results", "event", Buffer.from(JSON.stringify({ kind: "output", task: id, host: "web1", nonce: "x", stream: "stdout", data: "forged output\n" })), {});
  // a ghost host joining group web
  const ghost = { kind: "presence", host: "ghost", groups: ["web"], state: "online", heartbeatMs: 60_000, facts: {}, at: Date.now() };
  ch.publish("fleet.presence", "", Buffer.from(JSON.stringify(ghost)), {});
  ch.publish("fleet.presence", "", Buffer.from(JSON.stringify(ghost)), { userId: m.user });
  await ch.waitForConfirms();
  // claiming another user's identity is refused by the broker itself (406 PRECONDITION_FAILED)
  const other = await conn.createConfirmChannel();
  other.on("error", () => {});
  other.publish("fleet.results", "result", Buffer.from(JSON.stringify(forged)), { userId: "fleet-agent-web1" });
  await assert.rejects(other.waitForConfirms());
  await conn.close();
  await spoofsSeen(5);
  const before = await check(id);
  assert.equal(before.results[0]?.status, "queued", "the forged result did not land");
  assert.equal(before.results[0]?.stdout, "");
  const hosts = await cli(["hosts", "--json", ...common()]);
  assert.ok(!hosts.stdout.includes("ghost"), "the ghost host is not known");
  await startAgent("web1", "web");
  const v = await until("real result", async () => {
    const x = await check(id);
    return x.results[0]?.status === "ok" ? x : undefined;
  });
  assert.equal(v.results[0]?.stdout, "real\n");
});

test("row 1: a forged `expired` (fake x-death) and row 8: a group command replayed to a later member", { skip, timeout: 120_000 }, async () => {
  const m = enrolled.get("mallory")!;
  await agents.get("mallory")!.stop(); // mallory's own queue now holds what it is sent: the attacker reads it
  await agents.get("web2")!.stop(); // web2's copy waits in its queue
  const id = await run(["echo group >> " + join(marks(), "late") + "-$FLEET_HOST; echo ok", "--group", "web"]);
  await until("web1 done", async () => (await check(id)).results.find((r) => r.host === "web1")?.status === "ok");
  const conn = await amqp.connect(m.url);
  const ch = await conn.createConfirmChannel();
  const captured = await until("captured command", async () => (await ch.get("fleet.host.mallory", { noAck: true })) || undefined);
  // mallory pretends the broker dead-lettered web2's copy
  ch.publish("fleet.results", "expired", captured.content, {
    persistent: true,
    headers: { "x-death": [{ queue: "fleet.host.web2", reason: "expired", count: 1, exchange: "fleet.commands", "routing-keys": ["group.web"] }] },
  });
  ch.publish("fleet.results", "expired", captured.content, { persistent: true, userId: m.user, headers: { "x-death": [{ queue: "fleet.host.web2", reason: "expired", count: 1 }] } });
  await ch.waitForConfirms();
  await conn.close();
  await spoofsSeen(7);
  assert.equal((await check(id)).results.find((r) => r.host === "web2")?.status, "queued", "web2 was not marked expired");
  await startAgent("web2", "web");
  await until("web2 ran it", async () => (await check(id)).results.find((r) => r.host === "web2")?.status === "ok");

  // row 8: a host that joins group web later is sent the captured command (by anyone who may
  // write to fleet.commands; here the operator's own login stands in for such a user)
  await enrol("late", "web");
  await startAgent("late", "web");
  const op = await amqp.connect(vh.url);
  const och = await op.createConfirmChannel();
  och.publish("fleet.commands", "group.web", captured.content, { persistent: true });
  await och.waitForConfirms();
  await op.close();
  const v = await until("late refused it", async () => {
    const x = await check(id);
    return x.rejections?.some((r) => r.host === "late") ? x : undefined;
  });
  assert.match(v.rejections!.find((r) => r.host === "late")!.error, /not addressed to this host/);
  assert.deepEqual(v.results.map((r) => r.host).sort(), ["mallory", "web1", "web2"], "the late host is not counted in the old task");
  assert.throws(() => readFileSync(join(marks(), "late") + "-late"), "the late host did not run it");
  await startAgent("mallory", "web");
});

test("row 7: an enrolled agent cannot bind its queue to another host's or group's commands", { skip }, async () => {
  const m = enrolled.get("mallory")!;
  const conn = await amqp.connect(m.url);
  for (const key of ["host.web1", "group.db", "group.web"]) {
    const ch = await conn.createChannel();
    ch.on("error", () => {});
    await assert.rejects(ch.bindQueue("fleet.host.mallory", "fleet.commands", key), /ACCESS_REFUSED|403/, key);
  }
  // nor publish commands, nor read another host's queue
  const pub = await conn.createConfirmChannel();
  pub.on("error", () => {});
  pub.publish("fleet.commands", "host.web1", Buffer.from("{}"), {});
  await assert.rejects(pub.waitForConfirms());
  const rd = await conn.createChannel();
  rd.on("error", () => {});
  await assert.rejects(rd.get("fleet.host.web1"), (e: { message?: string; fields?: { replyCode?: number } }) => e.fields?.replyCode === 403 || /ACCESS_REFUSED/.test(e.message ?? ""));
  await conn.close();
});

test("row 6: a vhost user with `.*` gets no answer to unsigned RPC reads and cannot take a connected agent's commands", { skip }, async () => {
  const eve = `sec-eve-${vh.name}`;
  assert.ok((await mgmt(vh.mgmtUrl!, "PUT", `/api/users/${eve}`, { password: "eve-pw", tags: "" })).status < 300);
  assert.ok((await mgmt(vh.mgmtUrl!, "PUT", `/api/permissions/${vh.name}/${eve}`, { configure: ".*", write: ".*", read: ".*" })).status < 300);
  const u = new URL(vh.url);
  u.username = eve;
  u.password = "eve-pw";
  const conn = await amqp.connect(u.toString());
  const ch = await conn.createChannel();
  const reply = await ch.assertQueue("", { exclusive: true });
  const answers: Array<{ ok: boolean; error?: string; data?: unknown }> = [];
  await ch.consume(reply.queue, (msg) => msg && answers.push(JSON.parse(msg.content.toString())), { noAck: true });
  for (const op of ["tasks", "hosts", "audit"]) ch.sendToQueue("fleet.api", Buffer.from(JSON.stringify({ op, args: {} })), { replyTo: reply.queue, correlationId: op });
  await until("three answers", async () => answers.length === 3);
  for (const a of answers) {
    assert.equal(a.ok, false);
    assert.match(a.error ?? "", /must be signed/);
    assert.equal(a.data, undefined);
  }
  // web1's agent consumes its queue exclusively: nobody else may consume it while it is connected
  const steal = await conn.createChannel();
  steal.on("error", () => {});
  await assert.rejects(
    steal.consume("fleet.host.web1", () => {}),
    /ACCESS_REFUSED|403|exclusive/,
  );
  await conn.close();
});

test("row 5: Fleet's HTTP API refuses a monitoring user without permission on Fleet's vhost", { skip }, async () => {
  const watcher = `sec-watcher-${vh.name}`;
  assert.ok((await mgmt(vh.mgmtUrl!, "PUT", `/api/users/${watcher}`, { password: "w-pw", tags: "monitoring" })).status < 300);
  const auth = { authorization: "Basic " + Buffer.from(`${watcher}:w-pw`).toString("base64") };
  for (const path of ["/api/fleet/tasks", "/api/fleet/hosts", "/api/fleet/audit"]) {
    const r = await fetch(httpBase + path, { headers: auth });
    assert.equal(r.status, 401, path);
    const text = await r.text();
    assert.ok(!text.includes("echo"), "no task content leaks");
  }
  // with a permission in the vhost it may read (not submit: no administrator/fleet tag)
  assert.ok((await mgmt(vh.mgmtUrl!, "PUT", `/api/permissions/${vh.name}/${watcher}`, { configure: "", write: "", read: ".*" })).status < 300);
  assert.equal((await fetch(httpBase + "/api/fleet/tasks", { headers: auth })).status, 200);
  const submit = await fetch(httpBase + "/api/fleet/tasks", { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ command: "id", hosts: ["web1"] }) });
  assert.equal(submit.status, 403);
});
