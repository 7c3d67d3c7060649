/**
 * /api/bindings(/vhost), /api/bindings/V/e/SRC/q|e/DST (list, POST to bind),
 * and /api/bindings/V/e/SRC/q|e/DST/PROPS (show, DELETE to unbind).
 *
 * A binding is named in URLs by its "properties key", RabbitMQ's scheme: the
 * routing key form-encoded ("~" when empty), plus "~" and a short hash of the
 * arguments when there are any. POST answers 201 with a Location of
 * "DST/PROPS". Binding needs write on the destination and read on the source
 * (plus topic read permission for topic exchanges), as over AMQP.
 */
import { createHash } from "node:crypto";
import { AmqpError } from "../../amqp/errors.js";
import { tableToJSON, type FieldTable } from "../../amqp/field-table.js";
import { stableKey } from "../../broker/args.js";
import type { VHost } from "../../broker/vhost.js";
import { notAuthorised, notFound, obj, sendEmpty, sendJSON, type Ctx } from "../context.js";
import { sendList } from "../listing.js";
import { checkResource, listVhosts, vhostFor } from "../access.js";
import type { Route } from "../router.js";
import { command } from "../../broker/commands.js";

export interface BindingRow {
  source: string;
  destination: string;
  destinationType: "queue" | "exchange";
  routingKey: string;
  arguments: FieldTable;
}

/** Python's quote_plus, which RabbitMQ's key matches. */
function quotePlus(s: string): string {
  return encodeURIComponent(s)
    .replace(/%20/g, "+")
    .replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

export function propertiesKey(routingKey: string, args: FieldTable): string {
  const rk = routingKey === "" ? "" : quotePlus(routingKey);
  const a = stableKey(args);
  if (a === "") return rk === "" ? "~" : rk;
  const h = createHash("sha256").update(a).digest("base64url").slice(0, 6);
  return `${rk}~${h}`;
}

export function bindingsJSON(vhost: string, rows: Iterable<BindingRow>): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const b of rows) {
    out.push({
      source: b.source,
      vhost,
      destination: b.destination,
      destination_type: b.destinationType,
      routing_key: b.routingKey,
      arguments: tableToJSON(b.arguments),
      properties_key: propertiesKey(b.routingKey, b.arguments),
    });
  }
  return out;
}

function list(ctx: Ctx): void {
  const out = listVhosts(ctx, ctx.params[0]).flatMap((v) => bindingsJSON(v.name, v.allBindings()));
  sendList(ctx, out, { defaultSort: ["vhost", "source", "type", "destination", "routing_key", "properties_key"] });
}

interface Ends {
  v: VHost;
  source: string;
  destType: "queue" | "exchange";
  dest: string;
}

function ends(ctx: Ctx): Ends {
  const [vhost, source, dt, dest] = ctx.params as [string, string, string, string];
  const v = vhostFor(ctx, vhost);
  if (dt !== "q" && dt !== "e") throw notFound();
  const destType = dt === "q" ? "queue" : "exchange";
  const src = source === "amq.default" ? "" : source;
  if (!v.exchanges.has(src)) throw notFound();
  if (destType === "queue" ? !v.queues.has(dest) : !v.exchanges.has(dest)) throw notFound();
  return { v, source: src, destType, dest };
}

function between(e: Ends): BindingRow[] {
  return [...e.v.allBindings()].filter((b) => b.source === e.source && b.destinationType === e.destType && b.destination === e.dest);
}

function listBetween(ctx: Ctx): void {
  const e = ends(ctx);
  sendJSON(ctx.res, 200, bindingsJSON(e.v.name, between(e)));
}

function checkBind(ctx: Ctx, e: Ends, routingKey: string): void {
  checkResource(ctx, e.v.name, "write", e.destType, e.dest);
  checkResource(ctx, e.v.name, "read", "exchange", e.source);
  const src = e.v.exchanges.get(e.source);
  if (src?.type === "topic") {
    try {
      ctx.broker.checkTopicPermission(ctx.user.name, e.v.name, "read", e.source, routingKey);
    } catch (err) {
      if (err instanceof AmqpError) throw notAuthorised("Access refused.");
      throw err;
    }
  }
}

async function create(ctx: Ctx): Promise<void> {
  const e = ends(ctx);
  const body = await ctx.body();
  const routingKey = typeof body["routing_key"] === "string" ? body["routing_key"] : "";
  const args = obj(body, "arguments") as FieldTable;
  checkBind(ctx, e, routingKey);
  ctx.broker.apply(command("bind", { vhost: e.v.name, source: e.source, destination: e.dest, destinationType: e.destType, routingKey, arguments: args }), { origin: "http", owner: ownerOf(e) });
  sendEmpty(ctx.res, 201, `${encodeURIComponent(e.dest)}/${encodeURIComponent(propertiesKey(routingKey, args))}`);
}

/** The exclusive owner of a destination queue: the API acts on its behalf. */
function ownerOf(e: Ends): object | null {
  return e.destType === "queue" ? (e.v.queues.get(e.dest)?.exclusiveOwner ?? null) : null;
}

function findOne(ctx: Ctx): { e: Ends; b: BindingRow } {
  const e = ends(ctx);
  const props = ctx.params[4]!;
  const b = between(e).find((r) => propertiesKey(r.routingKey, r.arguments) === props);
  if (!b || e.source === "") throw notFound();
  return { e, b };
}

function show(ctx: Ctx): void {
  const { e, b } = findOne(ctx);
  sendJSON(ctx.res, 200, bindingsJSON(e.v.name, [b])[0]);
}

function del(ctx: Ctx): void {
  const { e, b } = findOne(ctx);
  checkBind(ctx, e, b.routingKey);
  ctx.broker.apply(command("unbind", { vhost: e.v.name, source: e.source, destination: e.dest, destinationType: e.destType, routingKey: b.routingKey, arguments: b.arguments }), {
    origin: "http",
    owner: ownerOf(e),
  });
  sendEmpty(ctx.res, 204);
}

export const routes: Route[] = [
  { method: "GET", path: "/api/bindings", handler: list },
  { method: "GET", path: "/api/bindings/:vhost", handler: list },
  { method: "GET", path: "/api/bindings/:vhost/e/:source/:dtype/:dest", handler: listBetween },
  { method: "POST", path: "/api/bindings/:vhost/e/:source/:dtype/:dest", handler: create },
  { method: "GET", path: "/api/bindings/:vhost/e/:source/:dtype/:dest/:props", handler: show },
  { method: "DELETE", path: "/api/bindings/:vhost/e/:source/:dtype/:dest/:props", handler: del },
];
