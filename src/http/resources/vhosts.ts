/**
 * /api/vhosts(/name) and /api/vhosts/name/permissions|topic-permissions.
 * Listing: administrators and monitoring users see every vhost, others only
 * those they have permissions in. Create/delete: administrators only, through
 * Broker.apply so the change is persisted like any other definition.
 */
import type { VHost } from "../../broker/vhost.js";
import { badRequest, notFound, sendEmpty, sendJSON, type Ctx } from "../context.js";
import { sendList } from "../listing.js";
import { requireAdmin, vhostFor, visibleVhosts } from "../access.js";
import { vDepthKey, vKey, vNetKey, vhostCounters, vhostDepth, vhostNet } from "../stats.js";
import { active } from "../rates.js";
import type { Route } from "../router.js";
import { permissionJSON, topicPermissionJSON } from "./permissions.js";
import { command } from "../../broker/commands.js";

export function vhostJSON(ctx: Ctx, v: VHost): Record<string, unknown> {
  const counters = vhostCounters(v);
  const out: Record<string, unknown> = {
    name: v.name,
    description: v.meta.description,
    tags: v.meta.tags,
    default_queue_type: v.meta.defaultQueueType ?? "undefined",
    metadata: { description: v.meta.description, tags: v.meta.tags },
    tracing: false,
    cluster_state: { [ctx.node.name]: "running" },
    ...ctx.rates.details(vDepthKey(v), vhostDepth(v)),
    ...ctx.rates.details(vNetKey(v), vhostNet(ctx.broker, v.name)),
  };
  if (active(counters)) out["message_stats"] = ctx.rates.details(vKey(v), counters);
  return out;
}

function list(ctx: Ctx): void {
  sendList(
    ctx,
    visibleVhosts(ctx).map((v) => vhostJSON(ctx, v)),
  );
}

function show(ctx: Ctx): void {
  sendJSON(ctx.res, 200, vhostJSON(ctx, vhostFor(ctx, ctx.params[0]!)));
}

/** RabbitMQ accepts tags as "a,b" or ["a","b"]. */
export function parseTags(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.map(String).filter((t) => t !== "");
  if (typeof v === "string")
    return v
      .split(",")
      .map((t) => t.trim())
      .filter((t) => t !== "");
  throw badRequest("tags must be a string or a list");
}

async function put(ctx: Ctx): Promise<void> {
  requireAdmin(ctx);
  const name = ctx.params[0]!;
  const body = await ctx.body();
  const existed = ctx.broker.vhosts.has(name);
  const description = typeof body["description"] === "string" ? body["description"] : "";
  const tags = parseTags(body["tags"]);
  if (existed) {
    // metadata update of an existing vhost
    const v = ctx.broker.vhosts.get(name)!;
    ctx.broker.apply(
      command("vhost.update", {
        name,
        description: body["description"] !== undefined ? description : v.meta.description,
        tags: body["tags"] !== undefined ? tags : v.meta.tags,
      }),
      { origin: "http" },
    );
  } else {
    ctx.broker.apply(command("vhost.add", { name, description, tags }), { origin: "http" });
    // RabbitMQ's management plugin grants the creating user full permissions
    ctx.broker.apply(command("permission.set", { user: ctx.user.name, vhost: name, configure: ".*", write: ".*", read: ".*" }), { origin: "http" });
  }
  sendEmpty(ctx.res, existed ? 204 : 201);
}

function del(ctx: Ctx): void {
  requireAdmin(ctx);
  const name = ctx.params[0]!;
  if (!ctx.broker.vhosts.has(name)) throw notFound();
  ctx.broker.apply(command("vhost.delete", { name }), { origin: "http" });
  sendEmpty(ctx.res, 204);
}

function permissions(ctx: Ctx): void {
  requireAdmin(ctx);
  const v = vhostFor(ctx, ctx.params[0]!);
  sendJSON(ctx.res, 200, [...ctx.broker.permissions.values()].filter((p) => p.vhost === v.name).map(permissionJSON));
}

function topicPermissions(ctx: Ctx): void {
  requireAdmin(ctx);
  const v = vhostFor(ctx, ctx.params[0]!);
  sendJSON(ctx.res, 200, ctx.broker.topicPermissions.filter((p) => p.vhost === v.name).map(topicPermissionJSON));
}

export const routes: Route[] = [
  { method: "GET", path: "/api/vhosts", handler: list },
  { method: "GET", path: "/api/vhosts/:vhost", handler: show },
  { method: "PUT", path: "/api/vhosts/:vhost", handler: put },
  { method: "DELETE", path: "/api/vhosts/:vhost", handler: del },
  { method: "GET", path: "/api/vhosts/:vhost/permissions", handler: permissions },
  { method: "GET", path: "/api/vhosts/:vhost/topic-permissions", handler: topicPermissions },
];
