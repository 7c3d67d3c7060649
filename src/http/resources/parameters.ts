/**
 * /api/policies(/vhost(/name)), /api/parameters/component(/vhost(/name)) and
 * /api/global-parameters(/name): stored, persisted (Broker.apply) and exported
 * in RabbitMQ's shapes. Policies and parameters are not yet *applied* to
 * queues or exchanges by warren; they exist so definitions round-trip and
 * tools that manage them keep working. Policymakers and administrators may
 * change them in vhosts they can access; global parameters are admin-only.
 */
import { badRequest, notFound, sendEmpty, sendJSON, str, type Ctx } from "../context.js";
import { sendList } from "../listing.js";
import { listVhosts, requireAdmin, requirePolicymaker, vhostFor } from "../access.js";
import { invalidRegexReason } from "../../broker/auth.js";
import type { Route } from "../router.js";
import { command } from "../../broker/commands.js";
import { policyError } from "../../broker/policy.js";

function listPolicies(ctx: Ctx): void {
  const names = new Set(listVhosts(ctx, ctx.params[0]).map((v) => v.name));
  sendList(
    ctx,
    [...ctx.broker.policies.values()].filter((p) => names.has(String(p["vhost"]))),
  );
}

function policyKey(vhost: string, name: string): string {
  return ["", vhost, name].join("\u0000");
}

function showPolicy(ctx: Ctx): void {
  const v = vhostFor(ctx, ctx.params[0]!);
  const p = ctx.broker.policies.get(policyKey(v.name, ctx.params[1]!));
  if (!p) throw notFound();
  sendJSON(ctx.res, 200, p);
}

/** A policy's or operator policy's body, checked as RabbitMQ checks it (400 with the reason). */
export function parsePolicyBody(body: Record<string, unknown>): { pattern: string; applyTo: string; definition: object; priority: number } {
  const pattern = str(body, "pattern");
  const why = invalidRegexReason(pattern);
  if (why !== undefined) throw badRequest(`invalid pattern '${pattern}': ${why}`);
  const definition = body["definition"];
  if (!definition || typeof definition !== "object" || Array.isArray(definition)) throw badRequest("definition must be an object");
  const applyTo = str(body, "apply-to", "all");
  // RabbitMQ 3.10 (rabbit_policy:apply_to_validation); classic_queues / quorum_queues / streams came
  // with 3.12 and are refused here (a definitions import of a newer RabbitMQ still carries them)
  if (!["all", "queues", "exchanges"].includes(applyTo)) throw badRequest(`Validation failed\n\napply-to '${applyTo}' unrecognised; should be 'queues', 'exchanges' or 'all'\n`);
  const priority = Number(body["priority"] ?? 0);
  if (!Number.isInteger(priority)) throw badRequest("priority must be an integer");
  return { pattern, applyTo, definition, priority };
}

async function putPolicy(ctx: Ctx): Promise<void> {
  requirePolicymaker(ctx);
  const v = vhostFor(ctx, ctx.params[0]!);
  const name = ctx.params[1]!;
  const { pattern, applyTo, definition, priority } = parsePolicyBody(await ctx.body());
  const why = policyError(definition as Record<string, unknown>);
  // rabbit_mgmt_wm_policy escapes the reason's HTML tags (operator policies' reasons are not)
  if (why !== undefined) throw badRequest(`Validation failed\n\n${why}\n`.replace(/[<>&]/g, (c) => (c === "<" ? "&lt;" : c === ">" ? "&gt;" : "&amp;")));
  const existed = ctx.broker.policies.has(policyKey(v.name, name));
  const value = { vhost: v.name, name, pattern, "apply-to": applyTo, definition, priority };
  ctx.broker.apply(command("policy.set", { vhost: v.name, name, value }), { origin: "http" });
  sendEmpty(ctx.res, existed ? 204 : 201);
}

function delPolicy(ctx: Ctx): void {
  requirePolicymaker(ctx);
  const v = vhostFor(ctx, ctx.params[0]!);
  const name = ctx.params[1]!;
  if (!ctx.broker.policies.has(policyKey(v.name, name))) throw notFound();
  ctx.broker.apply(command("policy.clear", { vhost: v.name, name }), { origin: "http" });
  sendEmpty(ctx.res, 204);
}

function listParameters(ctx: Ctx): void {
  const [component, vhost] = ctx.params;
  const names = new Set(listVhosts(ctx, vhost).map((v) => v.name));
  const out = [...ctx.broker.parameters.values()].filter((p) => names.has(String(p["vhost"])) && (component === undefined || p["component"] === component));
  sendList(ctx, out);
}

function showParameter(ctx: Ctx): void {
  const [component, vhost, name] = ctx.params as [string, string, string];
  vhostFor(ctx, vhost);
  const p = ctx.broker.parameters.get([component, vhost, name].join("\u0000"));
  if (!p) throw notFound();
  sendJSON(ctx.res, 200, p);
}

async function putParameter(ctx: Ctx): Promise<void> {
  requirePolicymaker(ctx);
  const [component, vhost, name] = ctx.params as [string, string, string];
  vhostFor(ctx, vhost);
  const body = await ctx.body();
  if (body["value"] === undefined) throw badRequest("value is required");
  const existed = ctx.broker.parameters.has([component, vhost, name].join("\u0000"));
  ctx.broker.apply(command("parameter.set", { component, vhost, name, value: { value: body["value"], vhost, component, name } }), { origin: "http" });
  sendEmpty(ctx.res, existed ? 204 : 201);
}

function delParameter(ctx: Ctx): void {
  requirePolicymaker(ctx);
  const [component, vhost, name] = ctx.params as [string, string, string];
  vhostFor(ctx, vhost);
  if (!ctx.broker.parameters.has([component, vhost, name].join("\u0000"))) throw notFound();
  ctx.broker.apply(command("parameter.clear", { component, vhost, name }), { origin: "http" });
  sendEmpty(ctx.res, 204);
}

function listGlobal(ctx: Ctx): void {
  requireAdmin(ctx);
  sendJSON(ctx.res, 200, [...ctx.broker.globalParameters.values()]);
}

async function putGlobal(ctx: Ctx): Promise<void> {
  requireAdmin(ctx);
  const name = ctx.params[0]!;
  const body = await ctx.body();
  if (body["value"] === undefined) throw badRequest("value is required");
  const existed = ctx.broker.globalParameters.has(["", "", name].join("\u0000"));
  ctx.broker.apply(command("global-parameter.set", { name, value: { name, value: body["value"] } }), { origin: "http" });
  sendEmpty(ctx.res, existed ? 204 : 201);
}

function delGlobal(ctx: Ctx): void {
  requireAdmin(ctx);
  const name = ctx.params[0]!;
  if (!ctx.broker.globalParameters.has(["", "", name].join("\u0000"))) throw notFound();
  ctx.broker.apply(command("global-parameter.clear", { name }), { origin: "http" });
  sendEmpty(ctx.res, 204);
}

export const routes: Route[] = [
  { method: "GET", path: "/api/policies", handler: listPolicies },
  { method: "GET", path: "/api/policies/:vhost", handler: listPolicies },
  { method: "GET", path: "/api/policies/:vhost/:name", handler: showPolicy },
  { method: "PUT", path: "/api/policies/:vhost/:name", handler: putPolicy },
  { method: "DELETE", path: "/api/policies/:vhost/:name", handler: delPolicy },
  { method: "GET", path: "/api/parameters", handler: listParameters },
  { method: "GET", path: "/api/parameters/:component", handler: listParameters },
  { method: "GET", path: "/api/parameters/:component/:vhost", handler: listParameters },
  { method: "GET", path: "/api/parameters/:component/:vhost/:name", handler: showParameter },
  { method: "PUT", path: "/api/parameters/:component/:vhost/:name", handler: putParameter },
  { method: "DELETE", path: "/api/parameters/:component/:vhost/:name", handler: delParameter },
  { method: "GET", path: "/api/global-parameters", handler: listGlobal },
  { method: "PUT", path: "/api/global-parameters/:name", handler: putGlobal },
  { method: "DELETE", path: "/api/global-parameters/:name", handler: delGlobal },
];
