/**
 * Attack (issue 11 row 3, ReDoS): a policymaker sets policy pattern `^(a+)+$`, then anyone
 * declares a queue named "a" x 32 + "!". With a backtracking regex engine that match takes
 * time exponential in the name's length, and since the broker has one thread, every
 * connection froze (21.8 s for 32 characters). The same holds for permission and topic
 * permission regexes. Patterns are now matched in linear time (lib/pattern.ts).
 * A bystander keeps publishing with confirms throughout and must keep being served.
 * RabbitMQ 3.10.8 (Erlang re) passes the same test; warren's 400 for a pattern that cannot
 * be bounded (a backreference) is warren-only: RabbitMQ's PCRE accepts it.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import amqp from "amqplib";
import type { TestBroker } from "../helpers/broker.js";
import { type Api, amqpUrl, enc, startMgmtBroker, uniq } from "../http/helpers.js";
import { startBystander, waitFor } from "./helpers.js";

let b: TestBroker;
let api: Api;
let skip = false;
const id = uniq();
const VHOST = `redos-${id}`;
const MAKER = `policymaker-${id}`;
const EVIL = "^(a+)+$";
const NAME = "a".repeat(32) + "!";

before(async () => {
  const s = await startMgmtBroker();
  if (!s) {
    skip = true;
    return;
  }
  ({ b, api } = s);
  assert.equal((await api.put(`/api/vhosts/${enc(VHOST)}`)).status, 201);
  assert.equal((await api.put(`/api/users/${MAKER}`, { password: "pw", tags: "policymaker" })).status, 201);
  assert.equal((await api.put(`/api/permissions/${enc(VHOST)}/${MAKER}`, { configure: ".*", write: ".*", read: ".*" })).status, 201);
  assert.ok([201, 204].includes((await api.put(`/api/permissions/${enc(VHOST)}/guest`, { configure: ".*", write: ".*", read: ".*" })).status));
});
after(async () => {
  if (skip) return;
  await api.del(`/api/vhosts/${enc(VHOST)}`);
  await api.del(`/api/users/${MAKER}`);
  await b.stop();
});

test("a policy pattern with nested quantifiers does not stall the broker when a queue name is matched", { skip, timeout: 120_000 }, async () => {
  const maker = api.as(MAKER, "pw");
  assert.equal((await maker.put(`/api/policies/${enc(VHOST)}/evil`, { pattern: EVIL, definition: { "max-length": 5 }, "apply-to": "queues" })).status, 201);
  const by = await startBystander(amqpUrl(b, "guest", "guest", VHOST));
  const conn = await amqp.connect(amqpUrl(b, "guest", "guest", VHOST));
  const ch = await conn.createChannel();
  // several names, each doubling the work of the one before for a backtracking engine
  for (let n = 24; n <= 34; n += 2) await ch.assertQueue("a".repeat(n) + "!", { autoDelete: true });
  await ch.assertQueue("aaaa", { autoDelete: true }); // a name the pattern does match
  // any management user's listing filter is a regex too (?name=…&use_regex=true)
  const listed = await api.get(`/api/queues/${enc(VHOST)}?name=${enc(EVIL)}&use_regex=true`);
  assert.equal(listed.status, 200);
  const r = await by.stop();
  await conn.close();
  assert.deepEqual(r.errors, []);
  assert.ok(r.roundTrips >= 1, "the bystander completed round trips");
  assert.ok(r.worstMs < 3000, `the bystander waited ${r.worstMs} ms for one confirm`);
  // the pattern still works: it applies to "aaaa" and not to the "…!" names
  // (RabbitMQ fills `policy` in with its stats, a few seconds later)
  await waitFor(async () => (await api.get(`/api/queues/${enc(VHOST)}/aaaa`)).json?.policy === "evil", 15_000, "policy evil on queue aaaa");
  const miss = await api.get(`/api/queues/${enc(VHOST)}/${enc(NAME.slice(0, 24) + "!")}`);
  assert.notEqual(miss.json?.policy, "evil");
});

test("permission and topic-permission regexes with nested quantifiers are matched in bounded time", { skip, timeout: 120_000 }, async () => {
  const user = `redos-user-${id}`;
  assert.equal((await api.put(`/api/users/${user}`, { password: "pw", tags: "" })).status, 201);
  assert.equal((await api.put(`/api/permissions/${enc(VHOST)}/${user}`, { configure: EVIL, write: ".*", read: ".*" })).status, 201);
  assert.equal((await api.put(`/api/topic-permissions/${enc(VHOST)}/${user}`, { exchange: "amq.topic", write: EVIL, read: ".*" })).status, 201);
  const by = await startBystander(amqpUrl(b, "guest", "guest", VHOST));
  const conn = await amqp.connect(amqpUrl(b, user, "pw", VHOST));
  for (let n = 26; n <= 34; n += 4) {
    const ch = await conn.createChannel();
    ch.on("error", () => {});
    await assert.rejects(ch.assertQueue("a".repeat(n) + "!"), /ACCESS_REFUSED|403/);
  }
  const ch = await conn.createConfirmChannel();
  ch.on("error", () => {});
  ch.publish("amq.topic", NAME, Buffer.from("x"));
  await assert.rejects(ch.waitForConfirms(), /.*/);
  const r = await by.stop();
  await conn.close().catch(() => {});
  await api.del(`/api/users/${user}`);
  assert.deepEqual(r.errors, []);
  assert.ok(r.worstMs < 3000, `the bystander waited ${r.worstMs} ms for one confirm`);
});

test("a pattern that cannot be matched in bounded time is refused with 400 and a reason (warren only)", { skip: skip || !!process.env.WARREN_TEST_URL }, async () => {
  const p = await api.put(`/api/policies/${enc(VHOST)}/backref`, { pattern: "^(a)\\1$", definition: { "max-length": 1 } });
  assert.equal(p.status, 400);
  assert.match(p.json.reason, /backreferences/);
  const q = await api.put(`/api/permissions/${enc(VHOST)}/guest`, { configure: "(?=x)", write: ".*", read: ".*" });
  assert.equal(q.status, 400);
});
