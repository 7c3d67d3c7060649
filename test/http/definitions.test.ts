/**
 * Definitions in RabbitMQ's JSON format, both ways:
 * - a file exported from a real RabbitMQ 3.10.8 (test/http/fixtures, trimmed
 *   to one vhost) imports cleanly, users keep their passwords (RabbitMQ's
 *   rabbit_password_hashing_sha256 hashes), and everything comes back out;
 * - warren export → import into a fresh broker → export is identical, and the
 *   imported definitions survive a restart (they went through Broker.apply).
 * warren-only: it needs fresh brokers (skipped when WARREN_TEST_URL is set).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes, scryptSync } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import amqp from "amqplib";
import { repoRoot, startBroker, tempDir } from "../helpers/broker.js";
import { Api, amqpUrl } from "./helpers.js";

const FIXTURE = join(repoRoot, "test", "http", "fixtures", "rabbitmq-3.10-definitions.json");
const external = !!process.env.WARREN_TEST_URL;
// these brokers live for a moment only; the embedded Fleet collector is not under test
const NO_FLEET = { fleet: false };

/** Key-order-insensitive canonical form of a list of items. */
function canon(items: unknown[]): string[] {
  const sortKeys = (v: unknown): unknown =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v as object)
            .sort()
            .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
        )
      : v;
  return items.map((i) => JSON.stringify(sortKeys(i))).sort();
}

test("a RabbitMQ 3.10 export imports cleanly and users log in with their passwords", async (t) => {
  if (external) return t.skip("needs a fresh warren");
  const b = await startBroker({ mgmt: true, options: NO_FLEET });
  try {
    const api = new Api(b.mgmtUrl!);
    const fixture = JSON.parse(readFileSync(FIXTURE, "utf8"));
    const r = await api.req("POST", "/api/definitions", readFileSync(FIXTURE, "utf8"));
    assert.equal(r.status, 204, r.text);

    // sha256 hashes from RabbitMQ verify: the app user (password "apppass") and guest
    const conn = await amqp.connect(amqpUrl(b, "ops-fix-app", "apppass", "ops-fixture"));
    const ch = await conn.createChannel();
    // imported topology routes: topic → queue, with the fixture's permissions in force
    await ch.publish("app.events", "orders.new", Buffer.from("o1"));
    const got = await ch.get("app.orders", { noAck: true });
    assert.ok(got && got.content.toString() === "o1");
    await conn.close();
    await (await amqp.connect(amqpUrl(b, "guest", "guest", "ops-fixture"))).close();
    await assert.rejects(amqp.connect(amqpUrl(b, "ops-fix-app", "wrong", "ops-fixture")), /ACCESS_REFUSED|403/);

    // everything in the file comes back out of warren's export
    const out = (await api.get("/api/definitions")).json;
    for (const key of ["queues", "exchanges", "bindings", "permissions", "topic_permissions", "policies"]) {
      const mine = (out[key] as Record<string, unknown>[]).filter((i) => i["vhost"] === "ops-fixture");
      assert.deepEqual(canon(mine), canon(fixture[key]), key);
    }
    const users = out.users as Record<string, unknown>[];
    assert.deepEqual(
      users.find((u) => u["name"] === "ops-fix-app"),
      fixture.users[0],
    );
    assert.deepEqual(out.global_parameters, fixture.global_parameters);
    // the quorum queue is hosted (as a classic queue) but keeps its declared type
    const q = (await api.get("/api/queues/ops-fixture/app.quorum")).json;
    assert.equal(q.type, "quorum");
  } finally {
    await b.stop();
  }
});

test("export → import into a fresh broker → export is identical, and survives restart", async (t) => {
  if (external) return t.skip("needs fresh warrens");
  const a = await startBroker({ mgmt: true, options: NO_FLEET });
  const dir = tempDir();
  let b2 = await startBroker({ mgmt: true, dataDir: dir, options: NO_FLEET });
  try {
    const api = new Api(a.mgmtUrl!);
    await api.put("/api/vhosts/rt", { description: "round trip", tags: "x,y" });
    await api.put("/api/users/rt-user", { password: "pw", tags: "management,monitoring" });
    await api.put("/api/permissions/rt/rt-user", { configure: "^rt\\.", write: ".*", read: "" });
    await api.put("/api/topic-permissions/rt/rt-user", { exchange: "amq.topic", write: "^a", read: "^b" });
    await api.put("/api/exchanges/rt/rt.x", { type: "headers", durable: true, arguments: { "alternate-exchange": "rt.ae" } });
    await api.put("/api/exchanges/rt/rt.ae", { type: "fanout", durable: true });
    await api.put("/api/queues/rt/rt.q", { durable: true, arguments: { "x-message-ttl": 1000, "x-dead-letter-exchange": "rt.ae" } });
    await api.post("/api/bindings/rt/e/rt.x/q/rt.q", { routing_key: "", arguments: { "x-match": "all", k: "v" } });
    await api.post("/api/bindings/rt/e/rt.ae/e/rt.x", { routing_key: "" });
    await api.put("/api/policies/rt/p1", { pattern: "^rt\\.", definition: { "max-length": 10 }, "apply-to": "queues", priority: 2 });
    const d1 = (await api.get("/api/definitions")).json;

    const api2 = new Api(b2.mgmtUrl!);
    assert.equal((await api2.post("/api/definitions", d1)).status, 204);
    const d2 = (await api2.get("/api/definitions")).json;
    assert.deepEqual(d2, d1);

    await b2.stop();
    b2 = await startBroker({ mgmt: true, dataDir: dir, options: NO_FLEET });
    const d3 = (await new Api(b2.mgmtUrl!).get("/api/definitions")).json;
    assert.deepEqual(d3, d1);
    // the imported user logs in with its password after the restart
    await (await amqp.connect(amqpUrl(b2, "rt-user", "pw", "rt"))).close();
  } finally {
    await a.stop();
    await b2.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

// RabbitMQ imports only its own hashing algorithms (and silently keeps an unknown one, after which
// the user can never log in -- importing an early warren export into RabbitMQ 3.10 locked out
// even guest). A user created in warren therefore leaves with rabbit_password_hashing_sha256
// (base64(salt4 ++ sha256(salt4 ++ password))), the scrypt hash riding along for warren.
test("users created in warren export with a RabbitMQ-importable hash of their password", async (t) => {
  if (external) return t.skip("needs fresh warrens");
  const a = await startBroker({ mgmt: true, options: { ...NO_FLEET, exportRabbitHashes: true } });
  const b2 = await startBroker({ mgmt: true, options: { ...NO_FLEET, exportRabbitHashes: true } });
  try {
    const api = new Api(a.mgmtUrl!);
    await api.put("/api/users/mover", { password: "s3cret-pw", tags: "" });
    await api.put("/api/permissions/%2F/mover", { configure: ".*", write: ".*", read: ".*" });
    const d = (await api.get("/api/definitions")).json as { users: Record<string, unknown>[] };
    const u = d.users.find((x) => x["name"] === "mover")!;
    assert.equal(u["hashing_algorithm"], "rabbit_password_hashing_sha256");
    const raw = Buffer.from(String(u["password_hash"]), "base64");
    assert.equal(raw.length, 4 + 32);
    const expect = createHash("sha256")
      .update(Buffer.concat([raw.subarray(0, 4), Buffer.from("s3cret-pw")]))
      .digest();
    assert.deepEqual(raw.subarray(4), expect, "RabbitMQ's salted SHA-256 of the password");
    assert.equal(typeof u["warren_password_hash"], "string");
    // what RabbitMQ sees (no warren_password_hash): the user logs in with its password
    const asRabbit = { users: [{ ...u, warren_password_hash: undefined }], permissions: d["permissions" as keyof typeof d] };
    assert.equal((await new Api(b2.mgmtUrl!).post("/api/definitions", JSON.parse(JSON.stringify(asRabbit)))).status, 204);
    await (await amqp.connect(amqpUrl(b2, "mover", "s3cret-pw", "/"))).close();
    await assert.rejects(amqp.connect(amqpUrl(b2, "mover", "wrong", "/")));
    // the management API itself still shows the stored (scrypt) hash, as RabbitMQ shows its own
    assert.equal((await api.get("/api/users/mover")).json["hashing_algorithm"], "warren_scrypt");
  } finally {
    await a.stop();
    await b2.stop();
  }
});

// Users from data directories written before export hashes existed carry only scrypt; warren
// makes their RabbitMQ-importable hash at their first successful login (it never stores the
// password, so that is the only moment it can).
test("a scrypt-only user gets its RabbitMQ-importable export hash at its first login", async (t) => {
  if (external) return t.skip("needs a fresh warren");
  const b = await startBroker({ mgmt: true, options: { ...NO_FLEET, exportRabbitHashes: true } });
  try {
    const api = new Api(b.mgmtUrl!);
    const salt = randomBytes(16);
    const scrypt = Buffer.concat([salt, scryptSync("old-pw", salt, 32, { N: 16384, r: 8, p: 1 })]).toString("base64");
    assert.equal((await api.put("/api/users/legacy", { password_hash: scrypt, hashing_algorithm: "warren_scrypt", tags: "" })).status, 201);
    await api.put("/api/permissions/%2F/legacy", { configure: ".*", write: ".*", read: ".*" });
    const exported = async () => ((await api.get("/api/definitions")).json as { users: Record<string, unknown>[] }).users.find((u) => u["name"] === "legacy")!;
    assert.equal((await exported())["hashing_algorithm"], "warren_scrypt", "nothing to export for RabbitMQ yet");
    await assert.rejects(amqp.connect(amqpUrl(b, "legacy", "wrong", "/")));
    assert.equal((await exported())["hashing_algorithm"], "warren_scrypt", "a failed login makes nothing");
    await (await amqp.connect(amqpUrl(b, "legacy", "old-pw", "/"))).close();
    const u = await exported();
    assert.equal(u["hashing_algorithm"], "rabbit_password_hashing_sha256");
    assert.equal(u["warren_password_hash"], scrypt);
    const raw = Buffer.from(String(u["password_hash"]), "base64");
    assert.deepEqual(
      raw.subarray(4),
      createHash("sha256")
        .update(Buffer.concat([raw.subarray(0, 4), Buffer.from("old-pw")]))
        .digest(),
    );
  } finally {
    await b.stop();
  }
});

test("bad definitions are refused with 400 and a reason", async (t) => {
  if (external) return t.skip("needs a fresh warren");
  const b = await startBroker({ mgmt: true, options: NO_FLEET });
  try {
    const api = new Api(b.mgmtUrl!);
    assert.deepEqual((await api.req("POST", "/api/definitions", "{nope")).json, { error: "bad_request", reason: "not_json" });
    const r = await api.post("/api/definitions", { queues: [{ name: "q", vhost: "no-such-vhost", durable: true, auto_delete: false, arguments: {} }] });
    assert.equal(r.status, 400);
    assert.match(r.json.reason, /could not import queue 'q'/);
  } finally {
    await b.stop();
  }
});
