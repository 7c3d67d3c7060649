/**
 * `warren ctl` end to end: the seeds' commands (add_user, set_user_tags,
 * set_permissions, list_queues) run as a separate process (`node bin/warren.js
 * ctl …`) against the management API, with rabbitmqctl's output shape
 * ("Listing queues for vhost / ...", a tab-separated header line) and exit
 * codes (67 no such user, 69 server unreachable, 64 usage). The same test
 * passes against RabbitMQ 3.10.8's management API (WARREN_TEST_MGMT_URL).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import amqp from "amqplib";
import { repoRoot, tempDir, type TestBroker } from "../helpers/broker.js";
import { type Api, amqpUrl, enc, eventually, startMgmtBroker, uniq } from "../http/helpers.js";

let b: TestBroker;
let api: Api;
let skip = false;
const id = uniq();
const V = `ctl-${id}`;
const USER = `ctl-user-${id}`;
const dir = tempDir();

before(async () => {
  const s = await startMgmtBroker();
  if (!s) {
    skip = true;
    return;
  }
  ({ b, api } = s);
});

after(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (skip) return;
  await api.del(`/api/users/${USER}`);
  await api.del(`/api/vhosts/${enc(V)}`);
  await b.stop();
});

function ctl(args: string[], url = b.mgmtUrl!): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(repoRoot, "bin", "warren.js"), "ctl", "--mgmt-url", url, ...args], { timeout: 30_000 }, (err, out, errOut) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out, err: errOut });
    });
  });
}

test("the seeds' commands: add_vhost, add_user, set_user_tags, set_permissions, then the user logs in", async (t) => {
  if (skip) return t.skip("no management URL");
  let r = await ctl(["add_vhost", V]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.split("\n")[0], `Adding vhost "${V}" ...`);
  r = await ctl(["add_user", USER, "pw-1"]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.split("\n")[0], `Adding user "${USER}" ...`);
  // adding twice is an error, as in rabbitmqctl
  assert.notEqual((await ctl(["add_user", USER, "pw-1"])).code, 0);
  r = await ctl(["set_user_tags", USER, "administrator", "monitoring"]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim(), `Setting tags for user "${USER}" to [administrator, monitoring] ...`);
  r = await ctl(["set_permissions", "-p", V, USER, ".*", ".*", ".*"]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim(), `Setting permissions for user "${USER}" in vhost "${V}" ...`);
  // the password survived the tag change: AMQP login into the granted vhost works
  await (await amqp.connect(amqpUrl(b, USER, "pw-1", V))).close();
  r = await ctl(["change_password", USER, "pw-2"]);
  assert.equal(r.code, 0, r.err);
  await (await amqp.connect(amqpUrl(b, USER, "pw-2", V))).close();

  r = await ctl(["list_users"]);
  assert.ok(r.out.split("\n").includes(`${USER}\t[administrator, monitoring]`), r.out);
  assert.equal(r.out.split("\n")[1], "user\ttags");
  r = await ctl(["list_permissions", "-p", V]);
  assert.ok(r.out.split("\n").includes(`${USER}\t.*\t.*\t.*`), r.out);
  r = await ctl(["list_vhosts"]);
  assert.ok(r.out.split("\n").includes(V));
});

test("list_queues has rabbitmqctl's shape; purge_queue and delete_queue", async (t) => {
  if (skip) return t.skip("no management URL");
  await api.put(`/api/vhosts/${enc(V)}`);
  await api.put(`/api/queues/${enc(V)}/lq-${id}`, { durable: true });
  await api.post(`/api/exchanges/${enc(V)}/amq.default/publish`, { routing_key: `lq-${id}`, payload: "x", payload_encoding: "string", properties: {} });
  let r = await ctl(["list_queues", "-p", V]);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.split("\n");
  assert.deepEqual(lines.slice(0, 3), ["Timeout: 60.0 seconds ...", `Listing queues for vhost ${V} ...`, "name\tmessages"]);
  // RabbitMQ updates message counts in the listing asynchronously; the row is there at once
  assert.ok(
    lines.some((l) => l.startsWith(`lq-${id}\t`)),
    r.out,
  );
  r = await ctl(["list_queues", "-p", V, "-q", "--no-table-headers", "name", "durable"]);
  assert.ok(r.out.split("\n").includes(`lq-${id}\ttrue`), r.out);
  r = await ctl(["list_queues", "-p", V, "--formatter", "json", "name", "durable"]);
  assert.ok(JSON.parse(r.out).some((q: { name: string; durable: boolean }) => q.name === `lq-${id}` && q.durable));
  r = await ctl(["list_exchanges", "-p", V]);
  assert.ok(r.out.split("\n").includes("amq.topic\ttopic"), r.out);

  r = await ctl(["purge_queue", "-p", V, `lq-${id}`]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim(), `Purging queue 'lq-${id}' in vhost '${V}' ...`);
  r = await ctl(["delete_queue", "-p", V, `lq-${id}`]);
  assert.equal(r.code, 0, r.err);
  assert.equal((await api.get(`/api/queues/${enc(V)}/lq-${id}`)).status, 404);
  r = await ctl(["delete_queue", "-p", V, `lq-${id}`]);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /Queue not found/);
});

test("export_definitions and import_definitions round-trip through files", async (t) => {
  if (skip) return t.skip("no management URL");
  await api.put(`/api/vhosts/${enc(V)}`);
  await api.put(`/api/exchanges/${enc(V)}/ex-${id}`, { type: "fanout", durable: true });
  const file = join(dir, "defs.json");
  let r = await ctl(["export_definitions", file]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim(), `Exporting definitions in JSON to a file at "${file}" ...`);
  const defs = JSON.parse(readFileSync(file, "utf8"));
  assert.ok(defs.exchanges.some((x: { name: string; vhost: string }) => x.name === `ex-${id}` && x.vhost === V));
  // remove the exchange, import the file: it is back
  await api.del(`/api/exchanges/${enc(V)}/ex-${id}`);
  const only = { vhosts: [{ name: V }], exchanges: defs.exchanges.filter((x: { vhost: string }) => x.vhost === V) };
  writeFileSync(file, JSON.stringify(only));
  r = await ctl(["import_definitions", file]);
  assert.equal(r.code, 0, r.err);
  assert.equal((await api.get(`/api/exchanges/${enc(V)}/ex-${id}`)).status, 200);
  r = await ctl(["import_definitions", join(dir, "missing.json")]);
  assert.notEqual(r.code, 0);
});

test("errors: exit codes and messages like rabbitmqctl's", async (t) => {
  if (skip) return t.skip("no management URL");
  let r = await ctl(["delete_user", `nobody-${id}`]);
  assert.equal(r.code, 67);
  assert.equal(r.err.trim(), `Error:\nUser "nobody-${id}" does not exist`);
  r = await ctl(["set_permissions", `nobody-${id}`, ".*", ".*", ".*"]);
  assert.equal(r.code, 67);
  r = await ctl(["list_queues"], "http://guest:guest@127.0.0.1:9");
  assert.equal(r.code, 69);
  assert.match(r.err, /could not connect/);
  const u = new URL(b.mgmtUrl!);
  u.password = "wrong";
  r = await ctl(["list_users"], u.toString());
  assert.equal(r.code, 77);
  r = await ctl(["set_permissions", "only-user"]);
  assert.equal(r.code, 64);
  r = await ctl(["no_such_verb"]);
  assert.equal(r.code, 64);
});

test("status and list_connections talk to the running server", async (t) => {
  if (skip) return t.skip("no management URL");
  const r = await ctl(["status"]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^Status of node \S+ \.\.\.$/m);
  assert.match(r.out, /^Alarms$/m);
  const c = await ctl(["list_connections"]);
  assert.equal(c.code, 0, c.err);
  assert.match(c.out, /^user\tpeer_host\tpeer_port\tstate$/m);
});

// ---- the verbs scripts and health checks use (issue 17); pass against RabbitMQ 3.10.8's rabbitmqctl shapes

test("ping, await_startup and node_health_check succeed on a running server; ping says so", async (t) => {
  if (skip) return t.skip("no management URL");
  const p = await ctl(["ping"]);
  assert.equal(p.code, 0, p.err);
  assert.equal(p.out.trim().split("\n").pop(), "Ping succeeded");
  assert.equal((await ctl(["await_startup"])).code, 0);
  const h = await ctl(["node_health_check"]);
  assert.equal(h.code, 0, h.err);
  assert.equal(h.out.trim().split("\n").pop(), "Health check passed");
});

test("an unreachable server: ping and await_startup --timeout exit 69", async () => {
  const url = "http://guest:guest@127.0.0.1:1";
  assert.equal((await ctl(["ping"], url)).code, 69);
  assert.equal((await ctl(["await_startup", "--timeout", "1"], url)).code, 69);
});

test("set_policy / list_policies / clear_policy with rabbitmqctl's lines; clearing a missing one exits 69", async (t) => {
  if (skip) return t.skip("no management URL");
  await ctl(["add_vhost", V]);
  let r = await ctl(["set_policy", "-p", V, "--priority", "3", "--apply-to", "queues", "cap", "^cap\\.", '{"max-length":7}']);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim(), `Setting policy "cap" for pattern "^cap\\." to "{"max-length":7}" with priority "3" for vhost "${V}" ...`);
  r = await ctl(["list_policies", "-p", V]);
  assert.deepEqual(r.out.trim().split("\n"), [`Listing policies for vhost "${V}" ...`, "vhost\tname\tpattern\tapply-to\tdefinition\tpriority", `${V}\tcap\t^cap\\.\tqueues\t{"max-length":7}\t3`]);
  // the policy applies: a matching queue is capped at 7 messages
  await api.put(`/api/queues/${enc(V)}/cap.q`, {});
  const q = await eventually(async () => (await api.get(`/api/queues/${enc(V)}/cap.q`)).json?.effective_policy_definition?.["max-length"]);
  assert.equal(q, 7);
  r = await ctl(["clear_policy", "-p", V, "cap"]);
  assert.equal(r.code, 0, r.err);
  r = await ctl(["clear_policy", "-p", V, "cap"]);
  assert.equal(r.code, 69);
  assert.match(r.err, /Parameter does not exist/);
  assert.equal((await ctl(["set_policy", "bad", "^x", "{not json"])).code, 69);
});

test("authenticate_user: Success and exit 0, or exit 65 for wrong credentials", async (t) => {
  if (skip) return t.skip("no management URL");
  const ok = await ctl(["authenticate_user", "guest", "guest"]);
  assert.equal(ok.code, 0, ok.err);
  assert.deepEqual(ok.out.trim().split("\n"), ['Authenticating user "guest" ...', "Success"]);
  const bad = await ctl(["authenticate_user", "guest", "wrong"]);
  assert.equal(bad.code, 65);
  assert.match(bad.err, /failed to authenticate user "guest"/);
});

test("topic permissions and vhost limits round-trip through the API", async (t) => {
  if (skip) return t.skip("no management URL");
  await ctl(["add_vhost", V]);
  let r = await ctl(["set_topic_permissions", "-p", V, "guest", "amq.topic", "^a", "^b"]);
  assert.equal(r.code, 0, r.err);
  r = await ctl(["list_topic_permissions", "-p", V]);
  assert.ok(r.out.split("\n").includes("guest\tamq.topic\t^a\t^b"), r.out);
  r = await ctl(["set_vhost_limits", "-p", V, '{"max-connections": 10, "max-queues": 20}']);
  assert.equal(r.code, 0, r.err);
  const l = (await api.get(`/api/vhost-limits/${enc(V)}`)).json;
  assert.deepEqual(l, [{ vhost: V, value: { "max-connections": 10, "max-queues": 20 } }]);
  assert.equal((await ctl(["clear_vhost_limits", "-p", V])).code, 0);
  assert.deepEqual(
    (await api.get(`/api/vhost-limits/${enc(V)}`)).json.filter((x: { value: object }) => Object.keys(x.value).length > 0),
    [],
  );
  assert.equal((await ctl(["clear_topic_permissions", "-p", V, "guest"])).code, 0);
  // user limits live on the user (RabbitMQ 3.10): set, read back, survive a tag change, clear
  await ctl(["add_user", `${USER}-lim`, "pw"]);
  r = await ctl(["set_user_limits", `${USER}-lim`, '{"max-connections": 3, "max-channels": 9}']);
  assert.equal(r.code, 0, r.err);
  await ctl(["set_user_tags", `${USER}-lim`, "monitoring"]);
  assert.deepEqual((await api.get(`/api/user-limits/${enc(`${USER}-lim`)}`)).json, [{ user: `${USER}-lim`, value: { "max-connections": 3, "max-channels": 9 } }]);
  const bad = await api.put(`/api/user-limits/${enc(`${USER}-lim`)}/max-foo`, { value: 1 });
  assert.equal(bad.status, 400);
  assert.equal((await ctl(["clear_user_limits", `${USER}-lim`, "all"])).code, 0);
  assert.deepEqual((await api.get(`/api/user-limits/${enc(`${USER}-lim`)}`)).json, []);
  await api.del(`/api/users/${enc(`${USER}-lim`)}`);
});

test("help VERB prints that verb's usage for every verb; an unknown verb exits 64", async () => {
  const all = (await ctl(["help"], "http://unused:1")).out;
  const block = all.slice(all.indexOf("verbs (")).split("\n\n")[0]!;
  const listed = block
    .split("\n")
    .slice(1)
    .join(" ")
    .split(/\s+/)
    .filter((w) => /^[a-z_]+$/.test(w));
  assert.ok(listed.length > 40, block);
  for (const verb of [
    "ping",
    "await_startup",
    "node_health_check",
    "set_policy",
    "list_policies",
    "clear_policy",
    "set_operator_policy",
    "set_vhost_limits",
    "set_user_limits",
    "set_topic_permissions",
    "list_topic_permissions",
    "authenticate_user",
    "set_parameter",
    "environment",
    "report",
    "list_queues",
    "add_user",
  ]) {
    assert.ok(listed.includes(verb), `${verb} listed in help`);
  }
  for (const verb of listed) {
    const r = await ctl(["help", verb], "http://unused:1");
    assert.equal(r.code, 0, `${verb}: ${r.err}`);
    assert.ok(r.out.startsWith(`usage: warren ctl ${verb}`), `${verb}: ${r.out}`);
  }
  assert.equal((await ctl(["help", "no_such_verb"], "http://unused:1")).code, 64);
});

test("without --mgmt-url, ctl finds the local server through <data dir>/fleet/local.json and says which it used", async (t) => {
  if (skip || b.external) return t.skip("warren only: reads a warren data dir");
  const { mkdirSync } = await import("node:fs");
  const dataDir = join(dir, "data");
  mkdirSync(join(dataDir, "fleet"), { recursive: true });
  const local = join(dataDir, "fleet", "local.json");
  writeFileSync(local, JSON.stringify({ mgmtUrl: b.mgmtUrl, pid: process.pid }));
  const env = { ...process.env };
  delete env["WARREN_MGMT_URL"];
  const run = (args: string[]): Promise<{ code: number; out: string; err: string }> =>
    new Promise((resolve) => {
      execFile(process.execPath, [join(repoRoot, "bin", "warren.js"), "ctl", "--data-dir", dataDir, ...args], { timeout: 30_000, env }, (err, out, errOut) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out, err: errOut });
      });
    });
  const r = await run(["list_vhosts"]);
  assert.equal(r.code, 0, r.err);
  assert.ok(r.out.split("\n").includes("/"), r.out);
  assert.match(r.err, new RegExp(`^Using the management API at http://127\\.0\\.0\\.1:\\d+ \\(from ${local.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}\\)$`, "m"));
  // -q keeps stderr quiet for scripts
  assert.equal((await run(["-q", "list_vhosts"])).err, "");
});
