/**
 * Fleet end to end, every actor a separate process: collector, agents in
 * different groups, and the CLI, all talking through the test broker (a real
 * RabbitMQ when WARREN_TEST_URL / WARREN_TEST_MGMT_URL are set). Covers issue
 * 5's list: group dispatch, task id before results, check_task per host, offline
 * host on return, TTL expiry (dead-lettering), timeout killing the process group,
 * output cap, cancel, refused commands (unsigned, forged, expired, replayed),
 * agent and collector restarts, enrolment with restricted permissions.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync, rmSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { randomUUID, generateKeyPairSync } from "node:crypto";
import amqp from "amqplib";
import { startBroker, tempDir, type TestBroker } from "../helpers/broker.js";
import { cli, mgmt, privateVhost, sleep, startFleet, stopFleetRig, until, type FleetProc, type Vhost } from "./procs.js";
import { loadPrivateKey, signPayload, keyIdOf } from "../../src/fleet/sign.js";
import type { CommandPayload } from "../../src/fleet/protocol.js";

let broker: TestBroker;
let vh: Vhost;
let dir: string;
let collector: FleetProc;
const agents = new Map<string, FleetProc>();
const marks = (): string => join(dir, "marks");

// Groups: web = {web1, web2}, db = {db1}.
const GROUPS: Record<string, string> = { web1: "web", web2: "web,eu", db1: "db" };

function common(): string[] {
  return ["--url", vh.url, "--data-dir", dir];
}

async function startAgent(name: string, extra: string[] = []): Promise<FleetProc> {
  const a = startFleet("agent", ["--name", name, "--groups", GROUPS[name] ?? "", "--heartbeat", "1s", "--grace", "1s", ...common(), ...extra]);
  agents.set(name, a);
  await a.waitLog(/ready on/);
  return a;
}

async function startCollector(): Promise<FleetProc> {
  collector = startFleet("collector", common());
  await collector.waitLog(/collector consuming/);
  return collector;
}

interface View {
  id: number;
  state: string;
  results: Array<{ host: string; status: string; stdout: string; stderr: string; truncated: boolean; error: string | null; exitCode: number | null }>;
  rejections?: Array<{ host: string; error: string }>;
}

async function check(id: number): Promise<View> {
  const r = await cli(["check_task", String(id), "--json", ...common()]);
  // exit codes say the outcome (0 ok, 1 failed, 3 unreachable, 6 not done yet); the view is JSON either way
  assert.ok([0, 1, 3, 6].includes(r.code ?? -1), `exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as View;
}

async function run(args: string[]): Promise<number> {
  const r = await cli(["run", ...args, ...common()]);
  assert.equal(r.code, 0, r.stderr);
  const m = /^task id: (\d+)$/m.exec(r.stdout);
  assert.ok(m, `no task id in ${r.stdout}`);
  return Number(m[1]);
}

async function waitDone(id: number, ms = 20_000): Promise<View> {
  return until(
    `task ${id} done`,
    async () => {
      const v = await check(id);
      return v.state === "done" ? v : undefined;
    },
    ms,
  );
}

const byHost = (v: View): Record<string, View["results"][number]> => Object.fromEntries(v.results.map((r) => [r.host, r]));

before(async () => {
  broker = await startBroker({ mgmt: true });
  vh = await privateVhost(broker.url, broker.mgmtUrl);
  dir = tempDir("warren-fleet-");
  mkdirSync(marks());
  await startCollector();
  await Promise.all(Object.keys(GROUPS).map((n) => startAgent(n)));
  // The collector learns groups from presence: wait until it knows all three.
  await until("hosts known", async () => {
    const r = await cli(["hosts", "--json", ...common()]);
    const hosts = JSON.parse(r.stdout || "[]") as Array<{ name: string; online: boolean }>;
    return hosts.filter((h) => h.online).length === 3;
  });
});

after(() => stopFleetRig({ agents: agents.values(), collector, vh, broker, dir }));

test("group dispatch reaches exactly the group's hosts", async () => {
  // Pins down sender-selected distribution (RabbitMQ's BCC header): the group message is routed
  // to host.web1 with host.web2 in BCC, and reaches those two queues only.
  const id = await run(['echo "$FLEET_HOST" >> ' + join(marks(), "group"), "--group", "web", "--wait"]);
  const v = await check(id);
  assert.deepEqual(v.results.map((r) => r.host).sort(), ["web1", "web2"]);
  assert.ok(v.results.every((r) => r.status === "ok"));
  await sleep(300);
  assert.deepEqual(readFileSync(join(marks(), "group"), "utf8").trim().split("\n").sort(), ["web1", "web2"]);
});

test("run prints the task id before any result; check_task shows every host", async () => {
  // The seed's contract: `run` answers at once; results come later (async RPC).
  const t0 = Date.now();
  // the command outlasts run + check_task by far even on a loaded machine (was 1.5 s: flaky)
  const id = await run(["sleep 6; echo hello from $FLEET_HOST", "--hosts", "web1", "web2", "db1"]);
  assert.ok(Date.now() - t0 < 6000, "run waited for the command");
  const early = await check(id);
  assert.equal(early.state, "active");
  assert.ok(
    early.results.every((r) => ["pending", "queued", "running"].includes(r.status)),
    JSON.stringify(early.results),
  );
  const v = await waitDone(id);
  const h = byHost(v);
  for (const n of ["web1", "web2", "db1"]) {
    assert.equal(h[n]?.status, "ok");
    assert.equal(h[n]?.stdout, `hello from ${n}\n`);
  }
  const human = await cli(["check_task", String(id), ...common()]);
  for (const n of ["web1", "web2", "db1"]) assert.match(human.stdout, new RegExp(`== ${n} \\(ok, exit 0\\)`));
});

test("identical outputs are folded in the human view; failures show exit codes", async () => {
  // --wait exits 1 when any host did not end ok.
  const w = await cli(["run", '[ "$FLEET_HOST" = db1 ] && exit 3; echo same', "--hosts", "web1", "web2", "db1", "--wait", ...common()]);
  assert.equal(w.code, 1, w.stderr);
  const id = Number(/^task id: (\d+)$/m.exec(w.stdout)?.[1]);
  const human = await cli(["check_task", String(id), ...common()]);
  assert.match(human.stdout, /== web1 web2 \(ok, exit 0\) ×2\nsame/);
  assert.match(human.stdout, /== db1 \(failed, exit 3\)/);
});

test("an offline host gets the task when it comes back", async () => {
  // Pins down durable queues: the command waits in fleet.host.db1 while no consumer exists.
  await agents.get("db1")!.stop();
  const id = await run(["echo back", "--hosts", "db1"]);
  await sleep(500);
  assert.equal((await check(id)).results[0]?.status, "queued");
  await startAgent("db1");
  const v = await waitDone(id);
  assert.equal(v.results[0]?.status, "ok");
  assert.equal(v.results[0]?.stdout, "back\n");
});

test("a task whose TTL passes while the host is offline is reported expired and never runs", async () => {
  // Pins down per-message TTL + dead-lettering to fleet.results ("expired").
  await agents.get("db1")!.stop();
  const id = await run(["touch " + join(marks(), "expired"), "--hosts", "db1", "--ttl", "1s"]);
  const v = await waitDone(id, 20_000);
  assert.equal(v.results[0]?.status, "expired");
  assert.match(v.results[0]?.error ?? "", /dead-lettered by the broker/);
  await startAgent("db1");
  await sleep(800);
  assert.equal(existsSync(join(marks(), "expired")), false);
});

test("timeout kills the whole process group (the backgrounded grandchild too)", async () => {
  const pidFile = join(marks(), "grandchild.pid");
  const id = await run([`sleep 300 & echo $! > ${pidFile}; wait`, "--hosts", "web1", "--timeout", "1s"]);
  const v = await waitDone(id);
  assert.equal(v.results[0]?.status, "timeout");
  const pid = Number(readFileSync(pidFile, "utf8"));
  // Gone, or a zombie waiting for init to reap it (no longer running).
  const gone = await until(
    "grandchild gone",
    async () => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        return / Z /.test(stat) ? true : undefined;
      } catch {
        return true;
      }
    },
    5000,
  );
  assert.ok(gone);
});

test("output is capped with a truncated flag", async () => {
  const id = await run(["head -c 100000 /dev/zero | tr '\\0' x", "--hosts", "web2", "--max-output", "1k", "--wait"]);
  const r = (await check(id)).results[0]!;
  assert.equal(r.status, "ok");
  assert.equal(r.truncated, true);
  assert.equal(r.stdout.length, 1024);
});

test("cancel stops a running command and reports cancelled", async () => {
  const id = await run(["sleep 30", "--hosts", "web1"]);
  await until("running", async () => (await check(id)).results[0]?.status === "running");
  const t0 = Date.now();
  const c = await cli(["cancel", String(id), ...common()]);
  assert.equal(c.code, 0, c.stderr);
  const v = await waitDone(id, 10_000);
  assert.equal(v.results[0]?.status, "cancelled");
  assert.ok(Date.now() - t0 < 8000);
});

test("unsigned, forged, expired and replayed commands are refused with `rejected`", async () => {
  const conn = await amqp.connect(vh.url);
  const ch = await conn.createConfirmChannel();
  const key = loadPrivateKey(join(dir, "fleet", "operator.key"));
  const now = Date.now();
  const cmd = (task: number, extra: Partial<CommandPayload> = {}): CommandPayload => ({
    v: 1,
    kind: "command",
    task,
    nonce: randomUUID(),
    target: { host: "web2" },
    shell: "touch " + join(marks(), `bad-${task}`),
    timeoutMs: 5000,
    issuedAt: now,
    exp: now + 60_000,
    user: "mallory",
    ...extra,
  });
  const pub = async (body: unknown): Promise<void> => {
    ch.publish("fleet.commands", "host.web2", Buffer.from(typeof body === "string" ? body : JSON.stringify(body)), { persistent: true });
    await ch.waitForConfirms();
  };
  const base = 900_000 + Math.floor(Math.random() * 90_000);
  // unsigned: a bare payload with no signature
  await pub({ p: JSON.stringify(cmd(base + 1)) });
  // forged: signed by a key nobody trusts
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  await pub(signPayload({ privateKey, publicKey, keyId: keyIdOf(publicKey), publicPem: "" }, cmd(base + 2)));
  // altered: a genuine signature over different bytes, claiming the trusted key id
  const genuine = signPayload(key, cmd(base + 3));
  await pub({ ...genuine, p: genuine.p.replace("mallory", "mallorx") });
  // expired: genuinely signed, but past its expiry
  await pub(signPayload(key, cmd(base + 4, { exp: now - 1000 })));
  // not for this host: signed for db1, pushed into web2's queue
  await pub(signPayload(key, cmd(base + 5, { target: { host: "db1" } })));
  const reasons: Record<number, RegExp> = { 1: /unsigned/, 2: /untrusted key/, 3: /bad signature/, 4: /expired/, 5: /not addressed/ };
  for (const [k, re] of Object.entries(reasons)) {
    const v = await until(`rejection ${k}`, async () => {
      const r = await cli(["check_task", String(base + Number(k)), "--json", ...common()]);
      return r.code !== 4 && r.stdout ? (JSON.parse(r.stdout) as View) : undefined;
    });
    assert.equal(v.results[0]?.status, "rejected", `case ${k}`);
    assert.match(v.results[0]?.error ?? "", re, `case ${k}`);
    assert.equal(existsSync(join(marks(), `bad-${base + Number(k)}`)), false);
  }

  // replayed: copy a real command off the exchange (an extra queue bound for host.web2), re-send it.
  const spy = await ch.assertQueue("", { exclusive: true });
  await ch.bindQueue(spy.queue, "fleet.commands", "host.web2");
  const id = await run(["echo run >> " + join(marks(), "replay"), "--hosts", "web2", "--wait"]);
  const copy = await until("copied command", async () => (await ch.get(spy.queue, { noAck: true })) || undefined);
  await pub(copy.content.toString());
  const v = await until("replay rejected", async () => {
    const x = await check(id);
    return x.rejections?.length ? x : undefined;
  });
  assert.match(v.rejections![0]!.error, /replayed nonce/);
  assert.equal(v.results[0]?.status, "ok"); // the genuine result stands
  assert.equal(readFileSync(join(marks(), "replay"), "utf8"), "run\n"); // ran once
  await conn.close();
});

test("an agent killed mid-task reports it interrupted on restart; queued work is not lost", async () => {
  const id = await run(["sleep 2; echo first", "--hosts", "web2"]);
  await until("running", async () => (await check(id)).results[0]?.status === "running");
  await agents.get("web2")!.kill(); // SIGKILL: no goodbye
  const next = await run(["echo second", "--hosts", "web2"]); // queued behind it while the agent is dead
  await startAgent("web2");
  const v = await waitDone(id);
  assert.equal(v.results[0]?.status, "interrupted");
  const w = await waitDone(next);
  assert.equal(w.results[0]?.status, "ok");
  assert.equal(w.results[0]?.stdout, "second\n");
});

test("a collector killed mid-task loses nothing: results wait in the durable queue", async () => {
  const id = await run(["sleep 1; echo kept from $FLEET_HOST", "--hosts", "web1", "db1"]);
  await collector.kill();
  await sleep(2500); // the agents finish and publish while no collector runs
  await startCollector();
  const v = await waitDone(id);
  const h = byHost(v);
  assert.equal(h.web1?.stdout, "kept from web1\n");
  assert.equal(h.db1?.stdout, "kept from db1\n");
});

test("an agent whose broker connection is dropped mid-task reconnects; the command runs once and its result arrives", async (t) => {
  if (!vh.mgmtUrl) return t.skip("needs a management API");
  // Pins down: closing a connection (DELETE /api/connections/NAME) requeues its unacked deliveries;
  // the agent reconnects with backoff, sees the redelivered command (same nonce) still running, and
  // acks it once the result is out.
  const id = await run(["sleep 2; echo survived >> " + join(marks(), "reconnect") + "; echo done", "--hosts", "web1"]);
  await until("running", async () => (await check(id)).results[0]?.status === "running");
  const conns = (await (await mgmt(vh.mgmtUrl!, "GET", `/api/vhosts/${encodeURIComponent(vh.name)}/connections`)).json()) as Array<{ name: string; client_properties?: { connection_name?: string } }>;
  const mine = conns.filter((c) => c.client_properties?.connection_name === "fleet-agent web1");
  assert.equal(mine.length, 1, "agent connection not listed by the management API");
  await mgmt(vh.mgmtUrl!, "DELETE", `/api/connections/${encodeURIComponent(mine[0]!.name)}`);
  await agents.get("web1")!.waitLog(/connection to broker lost/);
  const v = await waitDone(id);
  assert.equal(v.results[0]?.status, "ok");
  assert.equal(v.results[0]?.stdout, "done\n");
  await sleep(500);
  assert.equal(readFileSync(join(marks(), "reconnect"), "utf8"), "survived\n");
});

test("--batch runs hosts in waves", async () => {
  const id = await run(["date +%s%N >> " + join(marks(), "batch") + "; sleep 0.5", "--hosts", "web1", "web2", "db1", "--batch", "1", "--wait"]);
  const v = await check(id);
  assert.ok(v.results.every((r) => r.status === "ok"));
  const times = readFileSync(join(marks(), "batch"), "utf8")
    .trim()
    .split("\n")
    .map((s) => Number(s.slice(0, 13)));
  assert.equal(times.length, 3);
  times.sort((a, b) => a - b);
  assert.ok(times[1]! - times[0]! >= 400 && times[2]! - times[1]! >= 400, `waves overlapped: ${times}`);
});

test("enrolment: the agent's broker user is limited to its queue; removal revokes it", async (t) => {
  if (!vh.mgmtUrl) return t.skip("needs a management API");
  const add = await cli(["hosts", "add", "enr1", "--groups", "web", "--json", "--mgmt-url", vh.mgmtUrl!, ...common()]);
  assert.equal(add.code, 0, add.stderr);
  const info = JSON.parse(add.stdout) as { url: string; user: string };
  // Its own data dir, trusting only the printed key: the cross-machine path.
  const other = tempDir("warren-fleet-enr-");
  const pubFile = join(other, "operator.pub");
  const { writeFileSync } = await import("node:fs");
  writeFileSync(pubFile, readFileSync(join(dir, "fleet", "operator.pub")));
  const a = startFleet("agent", ["--name", "enr1", "--groups", "web", "--heartbeat", "1s", "--url", info.url, "--data-dir", other, "--trust", pubFile]);
  agents.set("enr1", a);
  await a.waitLog(/ready on/);
  const id = await run(["echo enrolled", "--hosts", "enr1", "--wait"]);
  assert.equal((await check(id)).results[0]?.stdout, "enrolled\n");
  // RabbitMQ permissions: the agent's user may not publish commands (403 ACCESS_REFUSED on basic.publish).
  const conn = await amqp.connect(info.url);
  conn.on("error", () => {});
  const ch = await conn.createConfirmChannel();
  const refused = await new Promise<boolean>((resolve) => {
    ch.on("error", () => resolve(true));
    ch.publish("fleet.commands", "host.web1", Buffer.from("{}"), {}, (err) => resolve(!!err));
  });
  assert.ok(refused);
  await conn.close().catch(() => {});
  const rm = await cli(["hosts", "remove", "enr1", "--mgmt-url", vh.mgmtUrl!, ...common()]);
  assert.equal(rm.code, 0, rm.stderr);
  const users = (await (await mgmt(vh.mgmtUrl!, "GET", "/api/users")).json()) as Array<{ name: string }>;
  assert.ok(!users.some((u) => u.name === info.user));
  await a.waitLog(/connection to broker lost|access refused/);
  await a.stop();
  agents.delete("enr1");
  rmSync(other, { recursive: true, force: true });
});

test("an agent logged in as a user the collector does not trust is told so, and so is the collector's log; its presence is refused", async (t) => {
  // RabbitMQ (and warren) stamp user_id with the sender's login, so the collector can tell who
  // speaks for a host: fleet-agent-NAME or a user it trusts. Anyone else's reports are dropped.
  if (!vh.mgmtUrl) return t.skip("needs a management API");
  const user = `stranger-${randomUUID().slice(0, 8)}`;
  const pass = randomUUID();
  assert.ok((await mgmt(vh.mgmtUrl, "PUT", `/api/users/${user}`, { password: pass, tags: "" })).ok);
  try {
    assert.ok((await mgmt(vh.mgmtUrl, "PUT", `/api/permissions/${encodeURIComponent(vh.name)}/${user}`, { configure: ".*", write: ".*", read: ".*" })).ok);
    const u = new URL(vh.url);
    u.username = user;
    u.password = pass;
    const a = startFleet("agent", ["--name", "stray1", "--heartbeat", "1s", "--url", u.toString(), "--data-dir", dir]);
    try {
      await a.waitLog(new RegExp(`note: logged in as '${user}', not 'fleet-agent-stray1'`));
      await collector.waitLog(new RegExp(`presence from user '${user}' claiming host stray1 refused \\(expected 'fleet-agent-stray1' or a --trust-user\\)`));
      // several heartbeats later: still unknown to the collector, and the refusal logged once
      await sleep(2500);
      const hosts = JSON.parse((await cli(["hosts", "--json", ...common()])).stdout || "[]") as Array<{ name: string }>;
      assert.ok(!hosts.some((h) => h.name === "stray1"), "a refused agent must not appear among the hosts");
      assert.equal(collector.err.split(`claiming host stray1 refused`).length - 1, 1, collector.err);
    } finally {
      await a.stop();
    }
  } finally {
    await mgmt(vh.mgmtUrl, "DELETE", `/api/users/${user}`);
  }
});

test("bad input: clear errors and non-zero exit codes", async () => {
  const r1 = await cli(["run", "echo x", ...common()]);
  assert.equal(r1.code, 2);
  assert.match(r1.stderr, /exactly one of --hosts, --group or --match/);
  const r2 = await cli(["check_task", "123", ...common()]);
  assert.equal(r2.code, 4); // not found (exitcodes.ts)
  assert.match(r2.stderr, /no task 123/);
  const r3 = await cli(["tasks", "--url", "amqp://guest:guest@127.0.0.1:1/", "--data-dir", dir]);
  assert.equal(r3.code, 3);
  assert.match(r3.stderr, /cannot connect/);
  const r4 = await cli(["run", "echo x", "--group", "nosuchgroup", ...common()]);
  assert.equal(r4.code, 4);
  assert.match(r4.stderr, /no known host is in group nosuchgroup/);
});
