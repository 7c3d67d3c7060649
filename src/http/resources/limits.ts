/**
 * /api/vhost-limits(/vhost(/name)), /api/operator-policies(/vhost(/name)) and
 * /api/user-limits in RabbitMQ 3.10's shapes.
 *
 * Stored the way RabbitMQ stores them — vhost limits as the runtime parameter
 * vhost-limits/limits of the vhost, operator policies as runtime parameters of
 * component operator_policy — so they persist, export and import with the
 * definitions like every other parameter; user limits on the user record, as
 * RabbitMQ keeps them. Enforced by the broker: limits in src/broker/limits.ts, operator policies
 * in src/broker/policy.ts (validated here with RabbitMQ's texts).
 */
import { badRequest, notFound, sendEmpty, sendJSON, type Ctx } from "../context.js";
import { sendList } from "../listing.js";
import { listVhosts, requireAdmin, requirePolicymaker, vhostFor } from "../access.js";
import type { User } from "../../broker/auth.js";
import { Broker } from "../../broker/broker.js";
import type { Route } from "../router.js";
import { parsePolicyBody } from "./parameters.js";
import {
  command,
  LIMITS_COMPONENT as LIMITS,
  OPERATOR_POLICY_COMPONENT as OPERATOR_POLICY,
  operatorPolicyClear,
  operatorPolicySet,
  vhostLimitsClear,
  vhostLimitsSet,
  type CommandOf,
} from "../../broker/commands.js";
import { operatorPolicyError } from "../../broker/policy.js";

const VHOST_LIMIT_NAMES = new Set(["max-connections", "max-queues"]);

const key = (component: string, vhost: string, name: string): string => Broker.parameterKey({ component, vhost, name });

function limitsOf(ctx: Ctx, vhost: string): Record<string, number> | undefined {
  const p = ctx.broker.parameters.get(key(LIMITS, vhost, "limits"));
  return p ? (p["value"] as Record<string, number>) : undefined;
}

function listVhostLimits(ctx: Ctx): void {
  const out: Record<string, unknown>[] = [];
  for (const v of listVhosts(ctx, ctx.params[0])) {
    const l = limitsOf(ctx, v.name);
    if (l) out.push({ vhost: v.name, value: l });
  }
  sendList(ctx, out, { defaultSort: [] });
}

async function putVhostLimit(ctx: Ctx): Promise<void> {
  requireAdmin(ctx);
  const v = vhostFor(ctx, ctx.params[0]!);
  const name = ctx.params[1]!;
  const body = await ctx.body();
  const value = body["value"];
  if (!VHOST_LIMIT_NAMES.has(name)) throw badRequest(`Validation failed\n\nUnrecognised terms [{<<"${name}">>,${JSON.stringify(value)}}] in limits\n`);
  if (typeof value !== "number" || !Number.isInteger(value)) throw badRequest(`Validation failed\n\n${name} should be a number, actually was ${JSON.stringify(value)}\n`);
  const limits = { ...(limitsOf(ctx, v.name) ?? {}), [name]: value };
  ctx.broker.apply(vhostLimitsSet(v.name, limits), { origin: "http" });
  sendEmpty(ctx.res, 204);
}

function delVhostLimit(ctx: Ctx): void {
  requireAdmin(ctx);
  const v = vhostFor(ctx, ctx.params[0]!);
  const limits = { ...(limitsOf(ctx, v.name) ?? {}) };
  delete limits[ctx.params[1]!];
  if (Object.keys(limits).length === 0) {
    if (limitsOf(ctx, v.name)) ctx.broker.apply(vhostLimitsClear(v.name), { origin: "http" });
  } else {
    ctx.broker.apply(vhostLimitsSet(v.name, limits), { origin: "http" });
  }
  sendEmpty(ctx.res, 204);
}

/** user limits are part of the user: the user.add command that keeps everything else */
function userWithLimits(u: User, limits: Record<string, number>): CommandOf<"user.add"> {
  const { name, passwordHash, hashingAlgorithm, tags, exportHash } = u;
  return command("user.add", { name, passwordHash, hashingAlgorithm, tags, ...(exportHash ? { exportHash } : {}), ...(Object.keys(limits).length > 0 ? { limits } : {}) });
}

const USER_LIMIT_NAMES = new Set(["max-connections", "max-channels"]);

function listUserLimits(ctx: Ctx): void {
  requireAdmin(ctx);
  const name = ctx.params[0];
  if (name !== undefined && !ctx.broker.users.has(name)) throw notFound();
  const out = [...ctx.broker.users.values()].filter((u) => (name === undefined || u.name === name) && u.limits && Object.keys(u.limits).length > 0).map((u) => ({ user: u.name, value: u.limits }));
  sendList(ctx, out, { defaultSort: [] });
}

async function putUserLimit(ctx: Ctx): Promise<void> {
  requireAdmin(ctx);
  const u = ctx.broker.users.get(ctx.params[0]!);
  if (!u) throw notFound();
  const name = ctx.params[1]!;
  const value = (await ctx.body())["value"];
  if (!USER_LIMIT_NAMES.has(name)) throw badRequest(`Unrecognised terms [{<<"${name}">>,${JSON.stringify(value)}}] in user-limits`);
  if (typeof value !== "number" || !Number.isInteger(value)) throw badRequest(`${name} should be a number, actually was ${JSON.stringify(value)}`);
  ctx.broker.apply(userWithLimits(u, { ...(u.limits ?? {}), [name]: value }), { origin: "http" });
  sendEmpty(ctx.res, 204);
}

function delUserLimit(ctx: Ctx): void {
  requireAdmin(ctx);
  const u = ctx.broker.users.get(ctx.params[0]!);
  if (!u) throw notFound();
  const limits = { ...(u.limits ?? {}) };
  delete limits[ctx.params[1]!];
  ctx.broker.apply(userWithLimits(u, limits), { origin: "http" });
  sendEmpty(ctx.res, 204);
}

// ---- operator policies -----------------------------------------------------------

function operatorPolicyJSON(p: Record<string, unknown>): Record<string, unknown> {
  return { vhost: p["vhost"], name: p["name"], ...(p["value"] as Record<string, unknown>) };
}

function listOperatorPolicies(ctx: Ctx): void {
  requirePolicymaker(ctx);
  const names = new Set(listVhosts(ctx, ctx.params[0]).map((v) => v.name));
  const out = [...ctx.broker.parameters.values()].filter((p) => p["component"] === OPERATOR_POLICY && names.has(String(p["vhost"]))).map(operatorPolicyJSON);
  sendList(ctx, out);
}

function showOperatorPolicy(ctx: Ctx): void {
  requirePolicymaker(ctx);
  const v = vhostFor(ctx, ctx.params[0]!);
  const p = ctx.broker.parameters.get(key(OPERATOR_POLICY, v.name, ctx.params[1]!));
  if (!p) throw notFound();
  sendJSON(ctx.res, 200, operatorPolicyJSON(p));
}

async function putOperatorPolicy(ctx: Ctx): Promise<void> {
  requireAdmin(ctx);
  const v = vhostFor(ctx, ctx.params[0]!);
  const name = ctx.params[1]!;
  const { pattern, applyTo, definition, priority } = parsePolicyBody(await ctx.body());
  const why = operatorPolicyError(definition as Record<string, unknown>);
  if (why !== undefined) throw badRequest(`Validation failed\n\n${why}\n`);
  const existed = ctx.broker.parameters.has(key(OPERATOR_POLICY, v.name, name));
  const value = { pattern, "apply-to": applyTo, definition, priority };
  ctx.broker.apply(operatorPolicySet(v.name, name, value), { origin: "http" });
  sendEmpty(ctx.res, existed ? 204 : 201);
}

function delOperatorPolicy(ctx: Ctx): void {
  requireAdmin(ctx);
  const v = vhostFor(ctx, ctx.params[0]!);
  const name = ctx.params[1]!;
  if (!ctx.broker.parameters.has(key(OPERATOR_POLICY, v.name, name))) throw notFound();
  ctx.broker.apply(operatorPolicyClear(v.name, name), { origin: "http" });
  sendEmpty(ctx.res, 204);
}

export const routes: Route[] = [
  { method: "GET", path: "/api/vhost-limits", handler: listVhostLimits },
  { method: "GET", path: "/api/vhost-limits/:vhost", handler: listVhostLimits },
  { method: "PUT", path: "/api/vhost-limits/:vhost/:name", handler: putVhostLimit },
  { method: "DELETE", path: "/api/vhost-limits/:vhost/:name", handler: delVhostLimit },
  { method: "GET", path: "/api/user-limits", handler: listUserLimits },
  { method: "GET", path: "/api/user-limits/:user", handler: listUserLimits },
  { method: "PUT", path: "/api/user-limits/:user/:name", handler: putUserLimit },
  { method: "DELETE", path: "/api/user-limits/:user/:name", handler: delUserLimit },
  { method: "GET", path: "/api/operator-policies", handler: listOperatorPolicies },
  { method: "GET", path: "/api/operator-policies/:vhost", handler: listOperatorPolicies },
  { method: "GET", path: "/api/operator-policies/:vhost/:name", handler: showOperatorPolicy },
  { method: "PUT", path: "/api/operator-policies/:vhost/:name", handler: putOperatorPolicy },
  { method: "DELETE", path: "/api/operator-policies/:vhost/:name", handler: delOperatorPolicy },
];
