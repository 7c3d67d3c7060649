/**
 * /api/permissions(/vhost/user) and /api/topic-permissions(/vhost/user).
 * Administrators only. A PUT naming a missing vhost or user is 400
 * "vhost_or_user_not_found", an invalid regex 400 — RabbitMQ's answers.
 */
import type { Permission, TopicPermission } from "../../broker/auth.js";
import { invalidRegexReason } from "../../broker/auth.js";
import { badRequest, notFound, sendEmpty, sendJSON, str, type Ctx } from "../context.js";
import { sendList } from "../listing.js";
import { requireAdmin } from "../access.js";
import type { Route } from "../router.js";
import { command } from "../../broker/commands.js";

export function permissionJSON(p: Permission): Record<string, unknown> {
  return { user: p.user, vhost: p.vhost, configure: p.configure, write: p.write, read: p.read };
}

export function topicPermissionJSON(p: TopicPermission): Record<string, unknown> {
  return { user: p.user, vhost: p.vhost, exchange: p.exchange, write: p.write, read: p.read };
}

function regexes<K extends string>(body: Record<string, unknown>, keys: K[]): Record<K, string> {
  const out = {} as Record<K, string>;
  for (const k of keys) {
    const v = str(body, k);
    const why = invalidRegexReason(v);
    if (why !== undefined) throw badRequest(`invalid_regexp: ${k} '${v}': ${why}`);
    out[k] = v;
  }
  return out;
}

function pairExists(ctx: Ctx, vhost: string, user: string): void {
  if (!ctx.broker.vhosts.has(vhost) || !ctx.broker.users.has(user)) throw badRequest("vhost_or_user_not_found");
}

function list(ctx: Ctx): void {
  requireAdmin(ctx);
  sendList(ctx, [...ctx.broker.permissions.values()].map(permissionJSON), { defaultSort: ["vhost", "user"] });
}

function show(ctx: Ctx): void {
  requireAdmin(ctx);
  const [vhost, user] = ctx.params as [string, string];
  const p = ctx.broker.permissions.get(`${vhost}\u0000${user}`);
  if (!p) throw notFound();
  sendJSON(ctx.res, 200, permissionJSON(p));
}

async function put(ctx: Ctx): Promise<void> {
  requireAdmin(ctx);
  const [vhost, user] = ctx.params as [string, string];
  const body = await ctx.body();
  pairExists(ctx, vhost, user);
  const r = regexes(body, ["configure", "write", "read"]);
  const existed = ctx.broker.permissions.has(`${vhost}\u0000${user}`);
  ctx.broker.apply(command("permission.set", { user, vhost, ...r }), { origin: "http" });
  sendEmpty(ctx.res, existed ? 204 : 201);
}

function del(ctx: Ctx): void {
  requireAdmin(ctx);
  const [vhost, user] = ctx.params as [string, string];
  if (!ctx.broker.permissions.has(`${vhost}\u0000${user}`)) throw notFound();
  ctx.broker.apply(command("permission.clear", { user, vhost }), { origin: "http" });
  sendEmpty(ctx.res, 204);
}

function topicList(ctx: Ctx): void {
  requireAdmin(ctx);
  sendList(ctx, ctx.broker.topicPermissions.map(topicPermissionJSON), { defaultSort: ["vhost", "user"] });
}

function topicShow(ctx: Ctx): void {
  requireAdmin(ctx);
  const [vhost, user] = ctx.params as [string, string];
  const ps = ctx.broker.topicPermissions.filter((p) => p.vhost === vhost && p.user === user);
  if (ps.length === 0) throw notFound();
  sendJSON(ctx.res, 200, ps.map(topicPermissionJSON));
}

async function topicPut(ctx: Ctx): Promise<void> {
  requireAdmin(ctx);
  const [vhost, user] = ctx.params as [string, string];
  const body = await ctx.body();
  pairExists(ctx, vhost, user);
  const exchange = str(body, "exchange");
  if (exchange === "") throw badRequest("exchange is required");
  const r = regexes(body, ["write", "read"]);
  const existed = ctx.broker.topicPermissions.some((p) => p.vhost === vhost && p.user === user && p.exchange === exchange);
  ctx.broker.apply(command("topic-permission.set", { user, vhost, exchange, ...r }), { origin: "http" });
  sendEmpty(ctx.res, existed ? 204 : 201);
}

function topicDel(ctx: Ctx): void {
  requireAdmin(ctx);
  const [vhost, user] = ctx.params as [string, string];
  if (!ctx.broker.topicPermissions.some((p) => p.vhost === vhost && p.user === user)) throw notFound();
  ctx.broker.apply(command("topic-permission.clear", { user, vhost }), { origin: "http" });
  sendEmpty(ctx.res, 204);
}

export const routes: Route[] = [
  { method: "GET", path: "/api/permissions", handler: list },
  { method: "GET", path: "/api/permissions/:vhost/:user", handler: show },
  { method: "PUT", path: "/api/permissions/:vhost/:user", handler: put },
  { method: "DELETE", path: "/api/permissions/:vhost/:user", handler: del },
  { method: "GET", path: "/api/topic-permissions", handler: topicList },
  { method: "GET", path: "/api/topic-permissions/:vhost/:user", handler: topicShow },
  { method: "PUT", path: "/api/topic-permissions/:vhost/:user", handler: topicPut },
  { method: "DELETE", path: "/api/topic-permissions/:vhost/:user", handler: topicDel },
];
