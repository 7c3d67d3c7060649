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
import { notAuthorised, notFound, sendEmpty, sendJSON, type Ctx } from "../context.js";
import { sendList } from "../listing.js";
import { isAdmin, listsConnection, seesConnection, vhostFor } from "../access.js";
import { cKey, chKey, num } from "../stats.js";
import type { Route } from "../router.js";

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
    user_who_performed_action: c.userName,
    // rates, and samples when the request asks for data_rates_age/_incr
    ...ctx.rates.details(key, { recv_oct: num(info["recv_oct"]), send_oct: num(info["send_oct"]) }),
  };
}

function channelJSON(ctx: Ctx, ch: Record<string, unknown>): Record<string, unknown> {
  const ms = (ch["message_stats"] ?? {}) as Record<string, unknown>;
  const counters: Record<string, number> = {};
  for (const k in ms) counters[k] = num(ms[k]);
  return { ...ch, user_who_performed_action: ch["user"], message_stats: ctx.rates.details(chKey(String(ch["name"])), counters) };
}

function findConnection(ctx: Ctx, name: string): ConnectionInfo {
  for (const c of ctx.broker.connections) if (c.name === name && seesConnection(ctx, c.userName, c.vhostName)) return c;
  throw notFound();
}

function listConnections(ctx: Ctx): void {
  const vhost = ctx.params[0] !== undefined ? vhostFor(ctx, ctx.params[0]).name : undefined;
  sendList(
    ctx,
    visible(ctx, vhost).map((c) => connectionJSON(ctx, c)),
    { paginate: true },
  );
}

function showConnection(ctx: Ctx): void {
  sendJSON(ctx.res, 200, connectionJSON(ctx, findConnection(ctx, ctx.params[0]!)));
}

function closeConnection(ctx: Ctx): void {
  const c = findConnection(ctx, ctx.params[0]!);
  if (c.userName !== ctx.user.name && !isAdmin(ctx.user)) throw notAuthorised("Not administrator user");
  const reason = ctx.req.headers["x-reason"];
  c.close(typeof reason === "string" && reason !== "" ? reason : "Closed via management plugin");
  sendEmpty(ctx.res, 204);
}

function connectionChannels(ctx: Ctx): void {
  const c = findConnection(ctx, ctx.params[0]!);
  sendList(
    ctx,
    c.channelsInfo().map((ch) => channelJSON(ctx, ch)),
  );
}

function allChannels(ctx: Ctx, vhost?: string): Record<string, unknown>[] {
  return visible(ctx, vhost).flatMap((c) => c.channelsInfo().map((ch) => channelJSON(ctx, ch)));
}

function listChannels(ctx: Ctx): void {
  const vhost = ctx.params[0] !== undefined ? vhostFor(ctx, ctx.params[0]).name : undefined;
  sendList(ctx, allChannels(ctx, vhost), { paginate: true });
}

function showChannel(ctx: Ctx): void {
  // by name, internal connections' channels too
  const ch = [...ctx.broker.connections]
    .filter((c) => seesConnection(ctx, c.userName, c.vhostName))
    .flatMap((c) => c.channelsInfo().map((x) => channelJSON(ctx, x)))
    .find((c) => c["name"] === ctx.params[0]);
  if (!ch) throw notFound();
  sendJSON(ctx.res, 200, ch);
}

function listConsumers(ctx: Ctx): void {
  const vhost = ctx.params[0] !== undefined ? vhostFor(ctx, ctx.params[0]).name : undefined;
  sendList(
    ctx,
    visible(ctx, vhost).flatMap((c) => c.consumersInfo()),
  );
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
