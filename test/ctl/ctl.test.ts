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
import { Api, amqpUrl, enc, startMgmtBroker, uniq } from "../http/helpers.js";

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
  assert.ok(lines.some((l) => l.startsWith(`lq-${id}\t`)), r.out);
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
