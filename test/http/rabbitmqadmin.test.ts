/**
 * The stock rabbitmqadmin (Debian's rabbitmq-server package, Python) works
 * against warren's management API: declare, list, publish, get, delete,
 * export — the commands operators script with. Same test passes against
 * RabbitMQ 3.10.8 (WARREN_TEST_URL + WARREN_TEST_MGMT_URL).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { TestBroker } from "../helpers/broker.js";
import { tempDir } from "../helpers/broker.js";
import { type Api, enc, startMgmtBroker, uniq } from "./helpers.js";

const ADMIN = "/usr/bin/rabbitmqadmin";
let b: TestBroker;
let api: Api;
let skip: string | false = false;
const id = uniq();
const V = `radmin-${id}`;

before(async () => {
  if (!existsSync(ADMIN)) {
    skip = "rabbitmqadmin not installed";
    return;
  }
  const s = await startMgmtBroker();
  if (!s) {
    skip = "no management URL";
    return;
  }
  ({ b, api } = s);
  await api.put(`/api/vhosts/${enc(V)}`);
});

after(async () => {
  if (skip) return;
  await api.del(`/api/vhosts/${enc(V)}`);
  await b.stop();
});

/** Run rabbitmqadmin asynchronously (the broker may be in this process). */
function admin(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const u = new URL(api.base);
  const base = ["-H", u.hostname, "-P", u.port, "-u", api.user, "-p", api.pass, "-V", V];
  return new Promise((resolve) => {
    execFile("/usr/bin/python3", [ADMIN, ...base, ...args], { timeout: 30_000 }, (err, out, errOut) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out, err: errOut });
    });
  });
}

test("rabbitmqadmin declares, lists, publishes, gets and deletes", async (t) => {
  if (skip) return t.skip(skip);
  const q = `q-${id}`;
  let r = await admin("declare", "queue", `name=${q}`, "durable=true");
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /queue declared/);
  r = await admin("declare", "exchange", `name=x-${id}`, "type=fanout");
  assert.equal(r.code, 0, r.err);
  r = await admin("declare", "binding", `source=x-${id}`, `destination=${q}`);
  assert.equal(r.code, 0, r.err);

  r = await admin("-f", "tsv", "-q", "list", "queues", "name", "durable");
  assert.equal(r.code, 0, r.err);
  assert.ok(r.out.split("\n").includes(`${q}\tTrue`), r.out);
  r = await admin("-f", "tsv", "-q", "list", "exchanges", "name", "type");
  assert.ok(r.out.split("\n").includes(`x-${id}\tfanout`), r.out);
  r = await admin("-f", "tsv", "-q", "list", "bindings", "source", "destination");
  assert.ok(r.out.split("\n").includes(`x-${id}\t${q}`), r.out);

  r = await admin("publish", `exchange=x-${id}`, "routing_key=any", "payload=hello admin");
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /Message published$/m);
  r = await admin("publish", "exchange=amq.default", `routing_key=${q}`, "payload=second");
  assert.match(r.out, /Message published$/m);

  // get with the default ackmode requeues; the count stays 2
  r = await admin("-f", "raw_json", "get", `queue=${q}`);
  assert.equal(r.code, 0, r.err);
  const got = JSON.parse(r.out);
  assert.equal(got[0].payload, "hello admin");
  assert.equal(got[0].message_count, 1);
  r = await admin("-f", "raw_json", "get", `queue=${q}`, "ackmode=ack_requeue_false", "count=5");
  assert.deepEqual(
    JSON.parse(r.out).map((m: { payload: string }) => m.payload),
    ["hello admin", "second"],
  );
  r = await admin("-f", "raw_json", "get", `queue=${q}`);
  assert.deepEqual(JSON.parse(r.out), []);

  const dir = tempDir();
  try {
    r = await admin("export", join(dir, "defs.json"));
    assert.equal(r.code, 0, r.err);
    const defs = JSON.parse(readFileSync(join(dir, "defs.json"), "utf8"));
    assert.ok(defs.queues.some((x: { name: string }) => x.name === q));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  r = await admin("delete", "queue", `name=${q}`);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /queue deleted/);
  r = await admin("delete", "exchange", `name=x-${id}`);
  assert.equal(r.code, 0, r.err);
  r = await admin("-f", "tsv", "-q", "list", "queues", "name");
  assert.ok(!r.out.split("\n").includes(q));
  // a missing object: rabbitmqadmin prints "Not found" and exits non-zero
  r = await admin("delete", "queue", `name=${q}`);
  assert.notEqual(r.code, 0);
  assert.match(r.out + r.err, /Not found/);
});

test("rabbitmqadmin with bad credentials is refused", async (t) => {
  if (skip) return t.skip(skip);
  const u = new URL(api.base);
  const r = await new Promise<{ code: number; text: string }>((resolve) =>
    execFile("/usr/bin/python3", [ADMIN, "-H", u.hostname, "-P", u.port, "-u", "guest", "-p", "wrong", "list", "vhosts"], { timeout: 30_000 }, (err, out, e) =>
      resolve({ code: err ? 1 : 0, text: out + e }),
    ),
  );
  assert.notEqual(r.code, 0);
  assert.match(r.text, /Access refused/);
});
