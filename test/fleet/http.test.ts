/**
 * Fleet's zero-setup path and its HTTP API: startEmbeddedFleet (what
 * `warren server` calls) in this process, an agent started with nothing but a
 * name and the same data dir, the seeds' interactive session through
 * `warren shell`, /api/fleet/... (submit, get, stream as server-sent events,
 * cancel, hosts) through the handler, and the standalone collector's HTTP
 * server authenticating users against the broker's /api/whoami.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { rmSync } from "node:fs";
import { spawn } from "node:child_process";
import { startBroker, tempDir, type TestBroker } from "../helpers/broker.js";
import { BIN, privateVhost, startFleet, until, type FleetProc, type Vhost } from "./procs.js";
import { startEmbeddedFleet } from "../../src/fleet/embedded.js";

let broker: TestBroker;
let vh: Vhost;
let dir: string;
let fleet: Awaited<ReturnType<typeof startEmbeddedFleet>>;
let agent: FleetProc;
let server: Server;
let base = "";
let tags = ["administrator"];

before(async () => {
  broker = await startBroker({ mgmt: true });
  vh = await privateVhost(broker.url, broker.mgmtUrl);
  dir = tempDir("warren-fleet-http-");
  fleet = await startEmbeddedFleet({ amqpUrl: vh.url, ...(vh.mgmtUrl ? { mgmtUrl: vh.mgmtUrl } : {}), dataDir: dir, log: () => {} });
  server = createServer((req, res) => {
    void fleet.http(req, res, new URL(req.url ?? "/", "http://x"), { name: "alice", tags, mayAccessVhost: () => true }).then((owned) => {
      if (!owned) res.writeHead(404).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Zero setup: no --url, no --trust — the agent finds both in the server's data dir.
  agent = startFleet("agent", ["--name", "z1", "--groups", "local", "--heartbeat", "1s", "--data-dir", dir]);
  await agent.waitLog(/ready on/);
  await until("z1 online", async () => {
    const r = await fetch(`${base}/api/fleet/hosts`);
    return ((await r.json()) as Array<{ name: string; online: boolean }>).some((h) => h.name === "z1" && h.online);
  });
});

after(async () => {
  await agent?.stop();
  server?.closeAllConnections();
  server?.close();
  await fleet?.close();
  await vh?.drop();
  await broker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("the seeds' session works in `warren shell` with zero setup", async () => {
  // The exercise of seed 001: run prints a task id at once; check_task shows the host's output.
  const sh = spawn(process.execPath, [BIN, "shell", "--data-dir", dir], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, WARREN_FLEET_HISTORY: `${dir}/history` } });
  let out = "";
  sh.stdout.on("data", (d: Buffer) => (out += d.toString()));
  sh.stdin.write('run "echo seed says hi" --hosts z1\n');
  const id = await until("task id", async () => /task id: (\d+)/.exec(out)?.[1]);
  await until("result", async () => {
    const r = await fetch(`${base}/api/fleet/tasks/${id}`);
    return ((await r.json()) as { state: string }).state === "done";
  });
  sh.stdin.write(`check_task ${id}\nexit\n`);
  await new Promise((r) => sh.once("exit", r));
  assert.match(out, /^>>:task id: \d+$/m);
  assert.match(out, /== z1 \(ok, exit 0\)\nseed says hi/);
});

test("HTTP: submit, stream (server-sent events) until done, get, list", async () => {
  const r = await fetch(`${base}/api/fleet/tasks`, { method: "POST", body: JSON.stringify({ command: "echo one; sleep 0.5; echo two", group: "local" }) });
  assert.equal(r.status, 201);
  const { id, hosts } = (await r.json()) as { id: number; hosts: string[] };
  assert.deepEqual(hosts, ["z1"]);
  const s = await fetch(`${base}/api/fleet/tasks/${id}/stream`);
  assert.equal(s.headers.get("content-type"), "text/event-stream");
  const text = await s.text(); // the server ends the stream when every host is final
  assert.match(text, /event: done/);
  assert.match(text, /"status":"ok"/);
  const v = (await (await fetch(`${base}/api/fleet/tasks/${id}`)).json()) as { results: Array<{ stdout: string }> };
  assert.equal(v.results[0]?.stdout, "one\ntwo\n");
  const list = (await (await fetch(`${base}/api/fleet/tasks`)).json()) as Array<{ id: number; user: string }>;
  assert.equal(list.find((t) => t.id === id)?.user, "alice");
  assert.equal((await fetch(`${base}/api/fleet/nope`)).status, 404);
  const bad = await fetch(`${base}/api/fleet/tasks`, { method: "POST", body: JSON.stringify({ command: "x" }) });
  assert.equal(bad.status, 400);
});

test("HTTP: cancel needs an operator tag, and works", async () => {
  const r = await fetch(`${base}/api/fleet/tasks`, { method: "POST", body: JSON.stringify({ command: "sleep 30", hosts: ["z1"] }) });
  const { id } = (await r.json()) as { id: number };
  await until("running", async () => ((await (await fetch(`${base}/api/fleet/tasks/${id}`)).json()) as { results: Array<{ status: string }> }).results[0]?.status === "running");
  tags = ["monitoring"];
  assert.equal((await fetch(`${base}/api/fleet/tasks/${id}/cancel`, { method: "POST" })).status, 403);
  tags = ["administrator"];
  assert.equal((await fetch(`${base}/api/fleet/tasks/${id}/cancel`, { method: "POST" })).status, 200);
  const v = await until("cancelled", async () => {
    const x = (await (await fetch(`${base}/api/fleet/tasks/${id}`)).json()) as { state: string; results: Array<{ status: string }> };
    return x.state === "done" ? x : undefined;
  });
  assert.equal(v.results[0]?.status, "cancelled");
});

test("standalone collector HTTP authenticates against the broker's management API", async (t) => {
  if (!vh.mgmtUrl) return t.skip("needs a management API");
  const d2 = tempDir("warren-fleet-col-");
  const col = startFleet("collector", ["--url", vh.url, "--data-dir", d2, "--http-port", "0", "--mgmt-url", vh.mgmtUrl!]);
  try {
    await col.waitLog(/fleet HTTP API on http:\/\/127\.0\.0\.1:(\d+)/);
    const port = /fleet HTTP API on http:\/\/127\.0\.0\.1:(\d+)/.exec(col.err)![1];
    const url = `http://127.0.0.1:${port}/api/fleet/hosts`;
    assert.equal((await fetch(url)).status, 401);
    assert.equal((await fetch(url, { headers: { authorization: "Basic " + Buffer.from("guest:wrong").toString("base64") } })).status, 401);
    const ok = await fetch(url, { headers: { authorization: "Basic " + Buffer.from("guest:guest").toString("base64") } });
    assert.equal(ok.status, 200);
    assert.ok(Array.isArray(await ok.json()));
  } finally {
    await col.stop();
    rmSync(d2, { recursive: true, force: true });
  }
});
