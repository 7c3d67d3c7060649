/**
 * Permission matrix with real clients: users and permissions are created
 * through the management API, then every AMQP operation RabbitMQ checks
 * (declare exchange/queue, delete, bind on both ends, publish, consume, get,
 * purge) is tried by amqplib on a resource the user's regexes allow and on one
 * they do not, in two vhosts. Allowed ones succeed; denied ones close the
 * channel with 403 ACCESS_REFUSED — as RabbitMQ does. pika (Debian's python3)
 * logs in only to the vhost the user was given.
 * Validated against RabbitMQ 3.10.8 with WARREN_TEST_URL/WARREN_TEST_MGMT_URL.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import amqp from "amqplib";
import type { TestBroker } from "../helpers/broker.js";
import { type Api, amqpUrl, enc, startMgmtBroker, uniq } from "./helpers.js";

let b: TestBroker;
let api: Api;
let skip = false;
const id = uniq();
const USER = `perm-${id}`;
const PASS = "s3cret";
const VHOSTS = [`perm-a-${id}`, `perm-b-${id}`];
const NOPE = `perm-c-${id}`;

before(async () => {
  const s = await startMgmtBroker();
  if (!s) {
    skip = true;
    return;
  }
  ({ b, api } = s);
  assert.equal((await api.put(`/api/users/${USER}`, { password: PASS, tags: "" })).status, 201);
  for (const v of [...VHOSTS, NOPE]) assert.equal((await api.put(`/api/vhosts/${enc(v)}`)).status, 201);
  for (const v of VHOSTS) {
    assert.equal((await api.put(`/api/permissions/${enc(v)}/${USER}`, { configure: "^ok-", write: "^ok-", read: "^ok-" })).status, 201);
    for (const q of ["ok-q", "no-q"]) await api.put(`/api/queues/${enc(v)}/${q}`, { durable: false });
    for (const x of ["ok-x", "no-x"]) await api.put(`/api/exchanges/${enc(v)}/${x}`, { type: "direct", durable: false });
  }
});

after(async () => {
  if (skip) return;
  await api.del(`/api/users/${USER}`);
  for (const v of [...VHOSTS, NOPE]) await api.del(`/api/vhosts/${enc(v)}`);
  await b.stop();
});

type Op = (ch: amqp.ConfirmChannel) => Promise<unknown>;

/** Run one operation on a fresh channel: "ok", or the reply code that closed the channel. */
async function attempt(conn: Awaited<ReturnType<typeof amqp.connect>>, op: Op): Promise<"ok" | number> {
  const ch = await conn.createConfirmChannel();
  let code: number | undefined;
  ch.on("error", (e: { code?: number }) => {
    code = e.code;
  });
  const closed = new Promise<void>((r) => ch.once("close", () => r()));
  try {
    await op(ch);
    // a denied publish is reported asynchronously by channel.close
    await ch.waitForConfirms();
    await ch.close();
    return "ok";
  } catch (e) {
    await closed;
    return code ?? (e as { code?: number }).code ?? -1;
  }
}

const publish =
  (x: string): Op =>
  async (ch) => {
    ch.publish(x, "k", Buffer.from("m"));
  };

const MATRIX: [string, Op, Op][] = [
  ["exchange.declare", (ch) => ch.assertExchange("ok-x2", "direct", { durable: false }), (ch) => ch.assertExchange("no-x2", "direct", { durable: false })],
  ["queue.declare", (ch) => ch.assertQueue("ok-q2", { durable: false }), (ch) => ch.assertQueue("no-q2", { durable: false })],
  ["queue.bind (queue end: write)", (ch) => ch.bindQueue("ok-q", "ok-x", "k"), (ch) => ch.bindQueue("no-q", "ok-x", "k")],
  ["queue.bind (exchange end: read)", (ch) => ch.bindQueue("ok-q2", "ok-x", "k2"), (ch) => ch.bindQueue("ok-q", "no-x", "k")],
  ["exchange.bind (both ends)", (ch) => ch.bindExchange("ok-x2", "ok-x", "k"), (ch) => ch.bindExchange("ok-x2", "no-x", "k")],
  ["basic.publish", publish("ok-x"), publish("no-x")],
  ["basic.consume", (ch) => ch.consume("ok-q", () => {}), (ch) => ch.consume("no-q", () => {})],
  ["basic.get", (ch) => ch.get("ok-q"), (ch) => ch.get("no-q")],
  ["queue.purge", (ch) => ch.purgeQueue("ok-q"), (ch) => ch.purgeQueue("no-q")],
  ["queue.unbind", (ch) => ch.unbindQueue("ok-q", "ok-x", "k"), (ch) => ch.unbindQueue("no-q", "ok-x", "k")],
  ["queue.delete", (ch) => ch.deleteQueue("ok-q2"), (ch) => ch.deleteQueue("no-q")],
  ["exchange.delete", (ch) => ch.deleteExchange("ok-x2"), (ch) => ch.deleteExchange("no-x")],
];

for (const vhost of VHOSTS) {
  test(`permission matrix in vhost ${vhost.slice(0, 6)}…: allowed succeed, denied are ACCESS_REFUSED`, async (t) => {
    if (skip) return t.skip("no management URL");
    const conn = await amqp.connect(amqpUrl(b, USER, PASS, vhost));
    conn.on("error", () => {});
    try {
      for (const [name, allowed, denied] of MATRIX) {
        assert.equal(await attempt(conn, allowed), "ok", `${name} allowed`);
        assert.equal(await attempt(conn, denied), 403, `${name} denied`);
      }
    } finally {
      await conn.close();
    }
  });
}

test("a user without permissions in a vhost cannot open it (amqplib and pika)", async (t) => {
  if (skip) return t.skip("no management URL");
  // RabbitMQ refuses connection.open with connection.close NOT_ALLOWED (530) for a vhost without permissions
  await assert.rejects(amqp.connect(amqpUrl(b, USER, PASS, NOPE)), /NOT_ALLOWED|530|access to vhost|ConnectionClose/i);
  const script = `
import sys, pika
def login(vhost):
    try:
        c = pika.BlockingConnection(pika.ConnectionParameters(host=sys.argv[1], port=int(sys.argv[2]), virtual_host=vhost,
            credentials=pika.PlainCredentials(sys.argv[3], sys.argv[4]), connection_attempts=1))
        c.close()
        return "ok"
    except Exception as e:
        return "refused:" + type(e).__name__
print(login(sys.argv[5]), login(sys.argv[6]))
`;
  // asynchronous: the broker under test may live in this very process
  const py = (...args: string[]) =>
    new Promise<string>((resolve, reject) =>
      execFile("/usr/bin/python3", ["-c", script, b.host, String(b.port), ...args], { timeout: 30_000 }, (err, out, errOut) => (err ? reject(new Error(errOut || err.message)) : resolve(out))),
    );
  const [mine, other] = (await py(USER, PASS, VHOSTS[0]!, NOPE)).trim().split(" ");
  assert.equal(mine, "ok");
  assert.match(other!, /^refused:/);
  // wrong password: refused too
  assert.match(await py(USER, "wrong", VHOSTS[0]!, VHOSTS[1]!), /^refused:\S+ refused:/);
});

test("a narrowed write permission applies to the next publish on an already open channel", async (t) => {
  if (skip) return t.skip("no management URL");
  // warren remembers a granted publish check per channel only until permissions change.
  // RabbitMQ's channels keep their own permission cache, so this pins warren's behaviour.
  if (b.external) return t.skip("warren-specific: RabbitMQ channels may keep a cached grant");
  const vhost = VHOSTS[0]!;
  const conn = await amqp.connect(amqpUrl(b, USER, PASS, vhost));
  conn.on("error", () => {});
  try {
    const ch = await conn.createConfirmChannel();
    let code: number | undefined;
    ch.on("error", (e: { code?: number }) => (code = e.code));
    const closed = new Promise<void>((r) => ch.once("close", () => r()));
    for (let i = 0; i < 3; i++) ch.publish("ok-x", "k", Buffer.from("before"));
    await ch.waitForConfirms();
    assert.equal((await api.put(`/api/permissions/${enc(vhost)}/${USER}`, { configure: "^ok-", write: "^nothing$", read: "^ok-" })).status, 204);
    ch.publish("ok-x", "k", Buffer.from("after"));
    const outcome = await Promise.race([closed.then(() => "closed"), new Promise((r) => setTimeout(r, 3000, "still open"))]);
    assert.equal(outcome, "closed", "the publish after the change must be refused");
    assert.equal(code, 403);
  } finally {
    await api.put(`/api/permissions/${enc(vhost)}/${USER}`, { configure: "^ok-", write: "^ok-", read: "^ok-" });
    await conn.close().catch(() => {});
  }
});
