/**
 * Vhost and user limits count the whole cluster's connections and channels, as RabbitMQ's
 * connection and channel tracking does (rabbit_connection_tracking / rabbit_channel_tracking
 * count every node's tracked items; per_vhost_connection_limit_SUITE and
 * per_user_connection_channel_tracking_SUITE run on 2-node clusters):
 *  - vhost max-connections N: with N clients spread over two nodes, connection.open on a third
 *    node is closed 530 NOT_ALLOWED "access to vhost 'V' refused for user 'U': connection limit
 *    (N) is reached"; once one of them closes, a connection is accepted again;
 *  - the node links (warren's internal connections between nodes; RabbitMQ's inter-node
 *    traffic is not AMQP and never counts) neither count toward the limit nor are refused by it;
 *  - user max-connections: 530 "connection refused for user 'U': user connection limit (N) is
 *    reached" counts the user's connections on every node; user max-channels counts the user's
 *    channels on every node (the channel.open past it closes the connection, 530).
 * Warren's counts travel through etcd (each node's live record), so a refusal is eventual: the
 * tests retry a connection that is let in (closing it again) until the refusal arrives, bounded.
 * Three warren nodes, one etcd member, loopback.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import amqp from "amqplib";
import { AMQPClient } from "@cloudamqp/amqp-client";
import { api, clusterForFile, skipCluster, waitFor } from "./helpers.js";

const skip = skipCluster;

const c = clusterForFile({ nodes: 3 });

const mgmt = (i: number): string => c.nodes[i]!.mgmtUrl!;
const url = (i: number, vhost: string, user = "guest:guest"): string => c.nodes[i]!.url.replace("guest:guest", user) + "/" + encodeURIComponent(vhost);
const open: amqp.ChannelModel[] = [];

async function connect(i: number, vhost: string, user?: string): Promise<amqp.ChannelModel> {
  const conn = await amqp.connect(url(i, vhost, user));
  conn.on("error", () => {});
  open.push(conn);
  return conn;
}

after(async () => {
  for (const conn of open) await conn.close().catch(() => {});
});

async function vhost(name: string, limits: Record<string, number>): Promise<void> {
  assert.equal((await api(mgmt(0), `/api/vhosts/${name}`, { method: "PUT", body: {} })).status, 201);
  assert.ok([201, 204].includes((await api(mgmt(0), `/api/permissions/${name}/guest`, { method: "PUT", body: { configure: ".*", write: ".*", read: ".*" } })).status));
  for (const [k, v] of Object.entries(limits)) assert.equal((await api(mgmt(0), `/api/vhost-limits/${name}/${k}`, { method: "PUT", body: { value: v } })).status, 204);
}

/**
 * Connect on node i (and open a channel if `channel`) until that is refused (a connection let in
 * is closed again); the refusal's message (amqp-client puts the server's reply code and text in it).
 */
async function refusedOn(i: number, vhost: string, what: string, user?: string, channel = false): Promise<string> {
  return waitFor(what, async () => {
    const conn = new AMQPClient(url(i, vhost, user));
    try {
      await conn.connect();
      if (channel) await conn.channel();
    } catch (e) {
      return (e as Error).message;
    }
    await conn.close().catch(() => {});
    await new Promise((r) => setTimeout(r, 100));
    return undefined;
  });
}

/** Connect on node i until one is let in (kept open). */
async function acceptedOn(i: number, vhost: string, what: string): Promise<amqp.ChannelModel> {
  return waitFor(what, async () => {
    try {
      return await connect(i, vhost);
    } catch {
      await new Promise((r) => setTimeout(r, 100));
      return undefined;
    }
  });
}

async function homeQueue(i: number, vhost: string, name: string): Promise<void> {
  assert.equal((await api(mgmt(i), `/api/queues/${vhost}/${name}`, { method: "PUT", body: { durable: true } })).status, 201);
}

/** A message published on `conn` to `queue` and consumed back on `conn` (through the node links when the queue is homed elsewhere). */
async function roundTrip(conn: amqp.ChannelModel, queue: string, body: string): Promise<void> {
  const ch = await conn.createConfirmChannel();
  const got = new Promise<string>((resolve) => {
    void ch.consume(queue, (m) => {
      if (m && m.content.toString() === body) resolve(body);
      if (m) ch.ack(m);
    });
  });
  ch.sendToQueue(queue, Buffer.from(body));
  await ch.waitForConfirms();
  assert.equal(await got, body);
}

test("vhost max-connections counts the cluster's client connections, not the node links", { skip }, async () => {
  await vhost("lim2", { "max-connections": 2 });
  await homeQueue(1, "lim2", "q-on-n2");
  await homeQueue(2, "lim2", "q-on-n3");
  // a client on n1 using a queue homed on n2: n1's node link into vhost lim2 on n2
  const c1 = await connect(0, "lim2");
  await roundTrip(c1, "q-on-n2", "via-link-to-n2");
  const c2 = await connect(1, "lim2");
  const msg = await refusedOn(2, "lim2", "a third connection (on n3) refused");
  assert.match(msg, /530/);
  assert.match(msg, /NOT_ALLOWED - access to vhost 'lim2' refused for user 'guest': connection limit \(2\) is reached/);
  // at the limit, n1 opens a node link into lim2 on n3 for a queue homed there: not refused
  await roundTrip(c1, "q-on-n3", "via-link-to-n3");
  // the links on n2 and n3 do not count: with c2 gone there is room for exactly one more
  await c2.close();
  const c3 = await acceptedOn(2, "lim2", "a connection on n3 after n2's closed");
  const again = await refusedOn(1, "lim2", "a connection on n2 with c1 and c3 open");
  assert.match(again, /connection limit \(2\) is reached/);
  await c3.close();
});

test("user max-connections and max-channels count the user's connections and channels on every node", { skip }, async () => {
  await vhost("limu", {});
  for (const [name, limits] of [
    ["limu-conns", { "max-connections": 1 }],
    ["limu-chans", { "max-channels": 2 }],
  ] as const) {
    assert.equal((await api(mgmt(0), `/api/users/${name}`, { method: "PUT", body: { password: "pw", tags: "" } })).status, 201);
    assert.ok([201, 204].includes((await api(mgmt(0), `/api/permissions/limu/${name}`, { method: "PUT", body: { configure: ".*", write: ".*", read: ".*" } })).status));
    for (const [k, v] of Object.entries(limits)) assert.equal((await api(mgmt(0), `/api/user-limits/${name}/${k}`, { method: "PUT", body: { value: v } })).status, 204);
  }
  await connect(0, "limu", "limu-conns:pw");
  const msg = await refusedOn(1, "limu", "limu-conns's second connection (on n2) refused", "limu-conns:pw");
  assert.match(msg, /NOT_ALLOWED - connection refused for user 'limu-conns': user connection limit \(1\) is reached/);

  const a = await connect(0, "limu", "limu-chans:pw");
  await a.createChannel();
  await a.createChannel();
  const chMsg = await refusedOn(2, "limu", "limu-chans's third channel (on n3) refused", "limu-chans:pw", true);
  assert.match(chMsg, /530/);
  assert.match(chMsg, /number of channels opened for user 'limu-chans' has reached the maximum allowed user limit of \(2\)/);
});
