/**
 * Live AMQP connections, channels and consumers: /api/connections(/name),
 * DELETE /api/connections/name (closes it with CONNECTION_FORCED, reason from
 * the X-Reason header as in RabbitMQ), /api/channels(/name), /api/consumers(/vhost),
 * and the per-vhost / per-connection variants.
 *
 * Descriptions come from the server's registry (Broker.connections, built by
 * src/server/describe.ts on request); this module adds rate details and
 * filters what a user may see: monitoring/administrator users see all,
 * management users only their own connections; listings leave out the broker's
 * internal connections (the embedded Fleet collector) unless ?internal=true.
 */
import type { ConnectionInfo } from "../../broker/broker.js";
import { HttpError, notAuthorised, notFound, sendEmpty, sendJSON, type Ctx } from "../context.js";
import { sendList } from "../listing.js";
import { isAdmin, listsConnection, seesConnection, vhostFor } from "../access.js";
import { cKey, chKey, num } from "../stats.js";
import type { Route } from "../router.js";
import { askPeers, localOnly, peerLists, peerObject } from "../peers.js";

type Item = Record<string, unknown>;
const enc = encodeURIComponent;

function visible(ctx: Ctx, vhost?: string): ConnectionInfo[] {
  return [...ctx.broker.connections].filter((c) => listsConnection(ctx, c) && (vhost === undefined || c.vhostName === vhost));
}

function connectionJSON(ctx: Ctx, c: ConnectionInfo): Record<string, unknown> {
  const info = c.info();
  const key = cKey(c.name);
  const tls = info["ssl"] === true;
  return {
    ...info,
    // RabbitMQ's TLS fields are null on a plain connection
    ...(tls ? {} : { peer_cert_issuer: null, peer_cert_subject: null, peer_cert_validity: null, ssl_cipher: null, ssl_hash: null, ssl_key_exchange: null, ssl_protocol: null }),
    node: ctx.node.name,
    user_who_performed_action: c.userName,
    // rates, and samples when the request asks for data_rates_age/_incr
    ...ctx.rates.details(key, { recv_oct: num(info["recv_oct"]), send_oct: num(info["send_oct"]) }),
  };
}

function channelJSON(ctx: Ctx, ch: Record<string, unknown>): Record<string, unknown> {
  const ms = (ch["message_stats"] ?? {}) as Record<string, unknown>;
  const counters: Record<string, number> = {};
  for (const k in ms) counters[k] = num(ms[k]);
  return {
    ...ch,
    node: ctx.node.name,
    user_who_performed_action: ch["user"],
    message_stats: ctx.rates.details(chKey(String(ch["name"])), counters),
  };
}

function consumerJSON(ctx: Ctx, c: Item): Item {
  const cd = c["channel_details"];
  return cd !== null && typeof cd === "object" ? { ...c, channel_details: { ...cd, node: ctx.node.name } } : c;
}

/** May this user see an item another node listed (its owner and vhost as the item says)? */
function seesItem(ctx: Ctx, owner: unknown, vhost: unknown, wantVhost?: string): boolean {
  if (typeof owner !== "string" || typeof vhost !== "string") return false;
  return (wantVhost === undefined || vhost === wantVhost) && seesConnection(ctx, owner, vhost);
}

/**
 * RabbitMQ lists every node's connections wherever it is asked (its management database
 * aggregates the cluster): this node's, then the other running members' (peers.ts).
 */
async function withPeers(ctx: Ctx, local: Item[], path: string, keep: (it: Item) => boolean): Promise<Item[]> {
  if (localOnly(ctx)) return local;
  return [...local, ...(await peerLists(ctx, path)).filter(keep)];
}

function findConnection(ctx: Ctx, name: string): ConnectionInfo {
  for (const c of ctx.broker.connections) if (c.name === name && seesConnection(ctx, c.userName, c.vhostName)) return c;
  throw notFound();
}

async function listConnections(ctx: Ctx): Promise<void> {
  const vhost = ctx.params[0] !== undefined ? vhostFor(ctx, ctx.params[0]).name : undefined;
  const local = visible(ctx, vhost).map((c) => connectionJSON(ctx, c));
  sendList(ctx, await withPeers(ctx, local, "/api/connections", (it) => seesItem(ctx, it["user"], it["vhost"], vhost)), { paginate: true });
}

function localConnection(ctx: Ctx, name: string): ConnectionInfo | null {
  try {
    return findConnection(ctx, name);
  } catch (e) {
    if (localOnly(ctx)) throw e;
    return null;
  }
}

/** A connection another running member holds: its description, and that node (404 when none has it, or this user may not see it). */
async function remoteConnection(ctx: Ctx, name: string): Promise<{ node: string; body: Item }> {
  const r = await peerObject(ctx, `/api/connections/${enc(name)}`);
  if (!r) throw notFound();
  const body = r.body as Item;
  if (!seesItem(ctx, body["user"], body["vhost"])) throw notFound();
  return { node: r.node, body };
}

async function showConnection(ctx: Ctx): Promise<void> {
  const c = localConnection(ctx, ctx.params[0]!);
  sendJSON(ctx.res, 200, c ? connectionJSON(ctx, c) : (await remoteConnection(ctx, ctx.params[0]!)).body);
}

/** As RabbitMQ: any node closes any node's connection (CONNECTION_FORCED, the X-Reason header as the reason). */
async function closeConnection(ctx: Ctx): Promise<void> {
  const name = ctx.params[0]!;
  const reason = ctx.req.headers["x-reason"];
  const c = localConnection(ctx, name);
  if (c) {
    if (c.userName !== ctx.user.name && !isAdmin(ctx.user)) throw notAuthorised("Not administrator user");
    c.close(typeof reason === "string" && reason !== "" ? reason : "Closed via management plugin");
    return sendEmpty(ctx.res, 204);
  }
  const r = await remoteConnection(ctx, name);
  if (r.body["user"] !== ctx.user.name && !isAdmin(ctx.user)) throw notAuthorised("Not administrator user");
  const headers: Record<string, string> = typeof reason === "string" && reason !== "" ? { "x-reason": reason } : {};
  const [done] = await askPeers(ctx, `/api/connections/${enc(name)}`, { method: "DELETE", headers, node: r.node });
  // gone in between: as RabbitMQ, a connection that is no longer there is not found
  if (!done || done.status === 404) throw notFound();
  if (done.status !== 204) throw new HttpError(502, "bad_gateway", `node ${r.node} answered ${done.status} closing connection '${name}'`);
  sendEmpty(ctx.res, 204);
}

async function connectionChannels(ctx: Ctx): Promise<void> {
  const name = ctx.params[0]!;
  const c = localConnection(ctx, name);
  if (c)
    return sendList(
      ctx,
      c.channelsInfo().map((ch) => channelJSON(ctx, ch)),
    );
  const r = await remoteConnection(ctx, name);
  const [chs] = await askPeers(ctx, `/api/connections/${enc(name)}/channels`, { node: r.node });
  sendList(ctx, chs && chs.status === 200 && Array.isArray(chs.body) ? (chs.body as Item[]) : []);
}

function allChannels(ctx: Ctx, vhost?: string): Record<string, unknown>[] {
  return visible(ctx, vhost).flatMap((c) => c.channelsInfo().map((ch) => channelJSON(ctx, ch)));
}

async function listChannels(ctx: Ctx): Promise<void> {
  const vhost = ctx.params[0] !== undefined ? vhostFor(ctx, ctx.params[0]).name : undefined;
  sendList(ctx, await withPeers(ctx, allChannels(ctx, vhost), "/api/channels", (it) => seesItem(ctx, it["user"], it["vhost"], vhost)), { paginate: true });
}

async function showChannel(ctx: Ctx): Promise<void> {
  // by name, internal connections' channels too
  const ch = [...ctx.broker.connections]
    .filter((c) => seesConnection(ctx, c.userName, c.vhostName))
    .flatMap((c) => c.channelsInfo().map((x) => channelJSON(ctx, x)))
    .find((c) => c["name"] === ctx.params[0]);
  if (ch) return sendJSON(ctx.res, 200, ch);
  if (localOnly(ctx)) throw notFound();
  const r = await peerObject(ctx, `/api/channels/${enc(ctx.params[0]!)}`);
  const body = r?.body as Item | undefined;
  if (!body || !seesItem(ctx, body["user"], body["vhost"])) throw notFound();
  sendJSON(ctx.res, 200, body);
}

async function listConsumers(ctx: Ctx): Promise<void> {
  const vhost = ctx.params[0] !== undefined ? vhostFor(ctx, ctx.params[0]).name : undefined;
  const local = visible(ctx, vhost).flatMap((c) => c.consumersInfo().map((x) => consumerJSON(ctx, x)));
  const keep = (it: Item): boolean => {
    const q = it["queue"] as Item | undefined;
    const cd = it["channel_details"] as Item | undefined;
    return seesItem(ctx, cd?.["user"], q?.["vhost"], vhost);
  };
  sendList(ctx, await withPeers(ctx, local, "/api/consumers", keep));
}

export const routes: Route[] = [
  { method: "GET", path: "/api/connections", handler: listConnections },
  { method: "GET", path: "/api/vhosts/:vhost/connections", handler: listConnections },
  { method: "GET", path: "/api/connections/:name", handler: showConnection },
  { method: "DELETE", path: "/api/connections/:name", handler: closeConnection },
  { method: "GET", path: "/api/connections/:name/channels", handler: connectionChannels },
  { method: "GET", path: "/api/channels", handler: listChannels },
  { method: "GET", path: "/api/vhosts/:vhost/channels", handler: listChannels },
  { method: "GET", path: "/api/channels/:name", handler: showChannel },
  { method: "GET", path: "/api/consumers", handler: listConsumers },
  { method: "GET", path: "/api/consumers/:vhost", handler: listConsumers },
];
