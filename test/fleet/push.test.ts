/**
 * `warren push FILE` end to end, every actor a separate process (collector, agents, CLI) on the
 * test broker (a real RabbitMQ when WARREN_TEST_URL / WARREN_TEST_MGMT_URL are set). The file
 * travels as a signed command through the broker: it pins down Fleet's own contract, and of
 * RabbitMQ's behaviour the same things as commands do — a durable per-host queue keeps a
 * message for an offline consumer until it returns (within the message TTL), publisher
 * confirms before the CLI's task id means "stored".
 *
 * Agents: p1 (--push-dir D1), p2 (--push-dir D2 --push-max 1k), p3 (no --push-dir: refuses
 * every push), p4 (--push-dir D4, stopped and restarted for the offline case).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createHash, randomUUID } from "node:crypto";
import amqp from "amqplib";
import { startBroker, tempDir, type TestBroker } from "../helpers/broker.js";
import { cli, privateVhost, startFleet, stopFleetRig, until, type FleetProc, type Vhost } from "./procs.js";
import { loadPrivateKey, signPayload } from "../../src/fleet/sign.js";
import type { CommandPayload } from "../../src/fleet/protocol.js";
import { PUSH_MAX_BYTES } from "../../src/fleet/push.js";

let broker: TestBroker;
let vh: Vhost;
let dir: string;
let collector: FleetProc;
const agents = new Map<string, FleetProc>();
const pushDir = (n: string): string => join(dir, `in-${n}`);
const AGENT_FLAGS: Record<string, string[]> = {
  p1: ["--push-dir", "IN"],
  p2: ["--push-dir", "IN", "--push-max", "1k"],
  p3: [],
  p4: ["--push-dir", "IN"],
};

const common = (): string[] => ["--url", vh.url, "--data-dir", dir];
const sha = (b: Buffer | string): string => createHash("sha256").update(b).digest("hex");

async function startAgent(name: string): Promise<FleetProc> {
  const flags = AGENT_FLAGS[name]!.map((f) => (f === "IN" ? pushDir(name) : f));
  const a = startFleet("agent", ["--name", name, "--heartbeat", "1s", "--grace", "1s", ...common(), ...flags]);
  agents.set(name, a);
  await a.waitLog(/ready on/);
  return a;
}

interface View {
  id: number;
  state: string;
  command: string;
  results: Array<{ host: string; status: string; stdout: string; error: string | null }>;
}

async function check(id: number): Promise<View> {
  const r = await cli(["check_task", String(id), "--json", ...common()]);
  assert.ok([0, 1, 3, 5, 6].includes(r.code ?? -1), `exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as View;
}

async function waitDone(id: number, ms = 20_000): Promise<View> {
  return until(`task ${id} done`, async () => ((await check(id)).state === "done" ? check(id) : undefined), ms);
}

async function push(args: string[]): Promise<number> {
  const r = await cli(["push", ...args, ...common()]);
  assert.equal(r.code, 0, r.stderr);
  const m = /^task id: (\d+)$/m.exec(r.stdout);
  assert.ok(m, `no task id in ${r.stdout}`);
  return Number(m[1]);
}

function localFile(name: string, content: string | Buffer): string {
  const f = join(dir, "src", name);
  mkdirSync(join(dir, "src"), { recursive: true });
  writeFileSync(f, content);
  return f;
}

const byHost = (v: View): Record<string, View["results"][number]> => Object.fromEntries(v.results.map((r) => [r.host, r]));

before(async () => {
  broker = await startBroker({ mgmt: true });
  vh = await privateVhost(broker.url, broker.mgmtUrl);
  dir = tempDir("push-fleet-");
  for (const n of Object.keys(AGENT_FLAGS)) mkdirSync(pushDir(n));
  collector = startFleet("collector", common());
  await collector.waitLog(/collector consuming/);
  await Promise.all(Object.keys(AGENT_FLAGS).map((n) => startAgent(n)));
  await until("hosts known", async () => {
    const r = await cli(["hosts", "--json", ...common()]);
    return (JSON.parse(r.stdout || "[]") as Array<{ online: boolean }>).filter((h) => h.online).length === 4;
  });
});

after(() => stopFleetRig({ agents: agents.values(), collector, vh, broker, dir }));

test("push to two agents: content and mode on each host, sha256 in each result", async () => {
  const content = "listen 8080;\nworkers 4;\n";
  const f = localFile("app.conf", content);
  const id = await push([f, "--hosts", "p1", "p2", "--mode", "0640"]);
  const v = await waitDone(id);
  const r = byHost(v);
  for (const h of ["p1", "p2"]) {
    assert.equal(r[h]?.status, "ok", `${h}: ${r[h]?.error}`);
    const dest = join(pushDir(h), "app.conf");
    assert.match(r[h]!.stdout, new RegExp(`sha256 ${sha(content)}`));
    assert.equal(readFileSync(dest, "utf8"), content);
    assert.equal(statSync(dest).mode & 0o777, 0o640);
  }
  assert.match(v.command, /^push app\.conf/);
  // --dest DIR/ with a name, then again over the existing file (rename replaces it)
  const id2 = await push([f, "--hosts", "p1", "--dest", join(pushDir("p1"), "renamed.conf")]);
  assert.equal(byHost(await waitDone(id2)).p1?.status, "ok");
  writeFileSync(f, "v2\n");
  const id3 = await push([f, "--hosts", "p1", "--dest", join(pushDir("p1"), "renamed.conf")]);
  assert.equal(byHost(await waitDone(id3)).p1?.status, "ok");
  assert.equal(readFileSync(join(pushDir("p1"), "renamed.conf"), "utf8"), "v2\n");
  assert.equal(statSync(join(pushDir("p1"), "renamed.conf")).mode & 0o777, 0o644, "default mode 0644");
  // --dest naming an existing directory (no trailing /): into it, under the file's name
  mkdirSync(join(pushDir("p1"), "sub"));
  const id4 = await push([f, "--hosts", "p1", "--dest", join(pushDir("p1"), "sub")]);
  assert.equal(byHost(await waitDone(id4)).p1?.status, "ok");
  assert.equal(readFileSync(join(pushDir("p1"), "sub", "app.conf"), "utf8"), "v2\n");
});

test("an agent without --push-dir refuses every push; a destination outside --push-dir is refused", async () => {
  const f = localFile("x.txt", "x\n");
  const outside = join(dir, "outside");
  mkdirSync(outside, { recursive: true });
  const id = await push([f, "--hosts", "p3"]);
  const r3 = byHost(await waitDone(id)).p3!;
  assert.equal(r3.status, "rejected");
  assert.match(r3.error ?? "", /accepts no files.*--push-dir/);

  const id2 = await push([f, "--hosts", "p1", "--dest", join(outside, "x.txt")]);
  const r1 = byHost(await waitDone(id2)).p1!;
  assert.equal(r1.status, "rejected");
  assert.match(r1.error ?? "", /outside this agent's --push-dir/);
  assert.equal(existsSync(join(outside, "x.txt")), false);

  // a symlinked directory inside the push dir leading out of it: resolved, still outside
  symlinkSync(outside, join(pushDir("p1"), "escape"));
  const id3 = await push([f, "--hosts", "p1", "--dest", join(pushDir("p1"), "escape", "x.txt")]);
  assert.match(byHost(await waitDone(id3)).p1?.error ?? "", /outside/);
  assert.equal(existsSync(join(outside, "x.txt")), false);

  // a symlink as the final component: neither followed nor replaced
  const target = join(outside, "target.txt");
  writeFileSync(target, "untouched\n");
  symlinkSync(target, join(pushDir("p1"), "link.txt"));
  const id4 = await push([f, "--hosts", "p1", "--dest", join(pushDir("p1"), "link.txt")]);
  const r4 = byHost(await waitDone(id4)).p1!;
  assert.equal(r4.status, "failed");
  assert.match(r4.error ?? "", /is a symlink/);
  assert.equal(readFileSync(target, "utf8"), "untouched\n");

  // a missing parent directory is not created
  const id5 = await push([f, "--hosts", "p1", "--dest", join(pushDir("p1"), "no-such-dir", "x.txt")]);
  assert.match(byHost(await waitDone(id5)).p1?.error ?? "", /does not exist/);

  // a setuid mode: a usage error, before anything connects
  const suid = await cli(["push", f, "--hosts", "p1", "--mode", "4755", ...common()]);
  assert.equal(suid.code, 2, suid.stderr);
  assert.match(suid.stderr, /mode 04755 out of range/);

  // relative and '..' destinations: refused by the CLI (usage, exit 2) before anything is sent
  for (const bad of ["rel/x.txt", pushDir("p1") + "/../x.txt"]) {
    const r = await cli(["push", f, "--hosts", "p1", "--dest", bad, ...common()]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /relative|'\.\.'/);
  }
});

test("over the cap: refused by the CLI before sending, and by an agent with a smaller --push-max", async () => {
  const big = localFile("big.bin", Buffer.alloc(PUSH_MAX_BYTES + 1, 7));
  const before = await cli(["tasks", "--json", "--limit", "1", ...common()]);
  const r = await cli(["push", big, "--hosts", "p1", ...common()]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /over the push cap of 1048576 bytes.*nothing was sent/);
  const afterTasks = await cli(["tasks", "--json", "--limit", "1", ...common()]);
  assert.equal(afterTasks.stdout, before.stdout, "no task was created");

  const mid = localFile("mid.bin", Buffer.alloc(2048, 1));
  const id = await push([mid, "--hosts", "p1", "p2"]);
  const v = byHost(await waitDone(id));
  assert.equal(v.p1?.status, "ok");
  assert.equal(v.p2?.status, "rejected");
  assert.match(v.p2?.error ?? "", /over this agent's cap of 1024 bytes/);
  assert.equal(existsSync(join(pushDir("p2"), "mid.bin")), false);
  // the human view names each host's outcome and the reason
  const human = await cli(["check_task", String(id), "--no-color", ...common()]);
  assert.equal(human.code, 1, "a host did not succeed: exit 1");
  assert.match(human.stdout, /p2 \(rejected\)[\s\S]*over this agent's cap/);
  assert.match(human.stdout, /p1 \(ok[\s\S]*wrote .*mid\.bin \(2048 bytes, mode 0644, sha256 [0-9a-f]{64}\)/);

  // exactly at the cap: carried through the broker and written whole
  const full = Buffer.alloc(PUSH_MAX_BYTES);
  for (let i = 0; i < full.length; i++) full[i] = (i * 31) & 0xff;
  const atCap = localFile("full.bin", full);
  const id2 = await push([atCap, "--hosts", "p1"]);
  assert.equal(byHost(await waitDone(id2)).p1?.status, "ok");
  assert.equal(sha(readFileSync(join(pushDir("p1"), "full.bin"))), sha(full));
});

test("unsigned, altered and checksum-mismatched push payloads are refused and write nothing", async () => {
  const conn = await amqp.connect(vh.url);
  const ch = await conn.createConfirmChannel();
  const key = loadPrivateKey(join(dir, "fleet", "operator.key"));
  const now = Date.now();
  const data = Buffer.from("evil\n");
  const cmd = (task: number, extra: Partial<NonNullable<CommandPayload["push"]>> = {}): CommandPayload => ({
    v: 1,
    kind: "command",
    task,
    nonce: randomUUID(),
    target: { host: "p1" },
    push: { name: `forged-${task}`, dest: null, mode: 0o644, size: data.length, sha256: sha(data), data: data.toString("base64"), ...extra },
    timeoutMs: 5000,
    issuedAt: now,
    exp: now + 60_000,
    user: "mallory",
  });
  const pub = async (body: unknown): Promise<void> => {
    ch.publish("fleet.commands", "host.p1", Buffer.from(JSON.stringify(body)), { persistent: true });
    await ch.waitForConfirms();
  };
  const base = 800_000 + Math.floor(Math.random() * 90_000);
  await pub({ p: JSON.stringify(cmd(base + 1)) }); // unsigned
  const genuine = signPayload(key, cmd(base + 2));
  await pub({ ...genuine, p: genuine.p.replace(data.toString("base64"), Buffer.from("EVIL\n").toString("base64")) }); // altered after signing
  const other = Buffer.from("other\n");
  await pub(signPayload(key, cmd(base + 3, { data: other.toString("base64"), size: other.length }))); // signed, but the checksum is not the bytes'
  await pub(signPayload(key, cmd(base + 4, { dest: pushDir("p1") + "/../up" }))); // signed '..' destination
  const reasons: Record<number, RegExp> = { 1: /unsigned/, 2: /bad signature/, 3: /checksum mismatch/, 4: /'\.\.'/ };
  try {
    for (const [k, re] of Object.entries(reasons)) {
      const v = await until(`rejection ${k}`, async () => {
        const r = await cli(["check_task", String(base + Number(k)), "--json", ...common()]);
        return r.code !== 4 && r.stdout ? (JSON.parse(r.stdout) as View) : undefined;
      });
      assert.equal(v.results[0]?.status, "rejected", `case ${k}`);
      assert.match(v.results[0]?.error ?? "", re, `case ${k}`);
      assert.equal(existsSync(join(pushDir("p1"), `forged-${base + Number(k)}`)), false);
    }
    assert.equal(existsSync(join(dir, "up")), false);
  } finally {
    await conn.close();
  }
});

test("an offline host gets the file when it returns", async () => {
  await agents.get("p4")!.stop();
  const content = "for the absent\n";
  const f = localFile("later.txt", content);
  const id = await push([f, "--hosts", "p4"]);
  const v = await check(id);
  assert.equal(v.results[0]?.status, "queued");
  assert.equal(existsSync(join(pushDir("p4"), "later.txt")), false);
  await startAgent("p4");
  const done = byHost(await waitDone(id)).p4!;
  assert.equal(done.status, "ok", done.error ?? "");
  assert.match(done.stdout, new RegExp(sha(content)));
  assert.equal(readFileSync(join(pushDir("p4"), "later.txt"), "utf8"), content);
});
