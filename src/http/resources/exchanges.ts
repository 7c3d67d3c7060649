/**
 * /api/exchanges(/vhost(/name)) GET/PUT/DELETE, POST …/publish, and
 * …/bindings/source|destination. The default exchange is "amq.default" in
 * paths and "" in JSON, as in RabbitMQ.
 *
 * Declares and deletes go through the VHost methods the AMQP handlers use
 * (durable ones are persisted by them), after the same configure-permission
 * check; publish needs write permission on the exchange.
 */
import { tableToJSON, type FieldTable } from "../../amqp/field-table.js";
import type { Exchange } from "../../broker/exchanges/exchange.js";
import { EXCHANGE_TYPES } from "../../broker/vhost.js";
import { badRequest, bool, notAuthorised, notFound, obj, sendEmpty, sendJSON, str, type Ctx } from "../context.js";
import { sendList } from "../listing.js";
import { checkResource, listVhosts, vhostFor } from "../access.js";
import { exchangeCounters, xKey } from "../stats.js";
import { active } from "../rates.js";
import { publishJSON } from "../messages.js";
import type { Route } from "../router.js";
import { bindingsJSON } from "./bindings.js";
import { AmqpError } from "../../amqp/errors.js";
import { command } from "../../broker/commands.js";

export const exchangeName = (pathName: string): string => (pathName === "amq.default" ? "" : pathName);

export function exchangeJSON(ctx: Ctx, x: Exchange): Record<string, unknown> {
  const out: Record<string, unknown> = {
    name: x.name,
    vhost: x.vhost,
    type: x.type,
    durable: x.durable,
    auto_delete: x.autoDelete,
    internal: x.internal,
    arguments: tableToJSON(x.options.arguments),
    user_who_performed_action: "",
  };
  // RabbitMQ shows `policy` on an exchange only when one applies
  if (x.policy !== undefined) out["policy"] = x.policy;
  const c = exchangeCounters(x);
  if (active(c)) out["message_stats"] = ctx.rates.details(xKey(x), c);
  return out;
}

function list(ctx: Ctx): void {
  const out = listVhosts(ctx, ctx.params[0]).flatMap((v) => [...v.exchanges.values()].map((x) => exchangeJSON(ctx, x)));
  sendList(ctx, out, { paginate: true });
}

function find(ctx: Ctx): Exchange {
  const v = vhostFor(ctx, ctx.params[0]!);
  const x = v.exchanges.get(exchangeName(ctx.params[1]!));
  if (!x) throw notFound();
  return x;
}

function show(ctx: Ctx): void {
  const x = find(ctx);
  const v = ctx.broker.getVhost(x.vhost);
  const all = [...v.allBindings()];
  sendJSON(ctx.res, 200, {
    ...exchangeJSON(ctx, x),
    incoming: [],
    outgoing: bindingsJSON(
      v.name,
      all.filter((b) => b.source === x.name),
    ).map((b) => ({ ...b, stats: { publish: 0 } })),
  });
}

async function put(ctx: Ctx): Promise<void> {
  const v = vhostFor(ctx, ctx.params[0]!);
  const name = exchangeName(ctx.params[1]!);
  const body = await ctx.body();
  if (body["type"] === undefined) throw badRequest("[{key_missing,type}]");
  const type = str(body, "type");
  if (!(EXCHANGE_TYPES as readonly string[]).includes(type)) throw badRequest(`unknown exchange type '${type}'`);
  checkResource(ctx, v.name, "configure", "exchange", name);
  const args = obj(body, "arguments") as FieldTable;
  const ae = args["alternate-exchange"];
  if (typeof ae === "string") {
    // RabbitMQ checks the declarer may use the alternate exchange
    checkResource(ctx, v.name, "write", "exchange", ae);
  }
  const existed = v.exchanges.has(name);
  ctx.broker.apply(
    command("exchange.declare", {
      vhost: v.name,
      name,
      type,
      durable: bool(body, "durable", false),
      autoDelete: bool(body, "auto_delete", false),
      internal: bool(body, "internal", false),
      arguments: args,
    }),
    { origin: "http" },
  );
  sendEmpty(ctx.res, existed ? 204 : 201);
}

function del(ctx: Ctx): void {
  const x = find(ctx);
  checkResource(ctx, x.vhost, "configure", "exchange", x.name);
  ctx.broker.apply(command("exchange.delete", { vhost: x.vhost, name: x.name, ifUnused: ctx.url.searchParams.get("if-unused") === "true" }), { origin: "http" });
  sendEmpty(ctx.res, 204);
}

async function publish(ctx: Ctx): Promise<void> {
  const x = find(ctx);
  const v = ctx.broker.getVhost(x.vhost);
  const body = await ctx.body();
  checkResource(ctx, v.name, "write", "exchange", x.name);
  if (x.internal) throw notAuthorised("Access refused.");
  const routingKey = typeof body["routing_key"] === "string" ? body["routing_key"] : "";
  if (x.type === "topic") {
    try {
      ctx.broker.checkTopicPermission(ctx.user.name, v.name, "write", x.name, routingKey);
    } catch (e) {
      if (e instanceof AmqpError) throw notAuthorised("Access refused.");
      throw e;
    }
  }
  sendJSON(ctx.res, 200, { routed: publishJSON(ctx.broker, v, x, body, ctx.user.name) });
}

function bindingsAs(side: "source" | "destination") {
  return (ctx: Ctx): void => {
    const x = find(ctx);
    const all = [...ctx.broker.getVhost(x.vhost).allBindings()];
    const mine = side === "source" ? all.filter((b) => b.source === x.name) : all.filter((b) => b.destinationType === "exchange" && b.destination === x.name);
    sendJSON(ctx.res, 200, bindingsJSON(x.vhost, mine));
  };
}

export const routes: Route[] = [
  { method: "GET", path: "/api/exchanges", handler: list },
  { method: "GET", path: "/api/exchanges/:vhost", handler: list },
  { method: "GET", path: "/api/exchanges/:vhost/:name", handler: show },
  { method: "PUT", path: "/api/exchanges/:vhost/:name", handler: put },
  { method: "DELETE", path: "/api/exchanges/:vhost/:name", handler: del },
  { method: "POST", path: "/api/exchanges/:vhost/:name/publish", handler: publish },
  { method: "GET", path: "/api/exchanges/:vhost/:name/bindings/source", handler: bindingsAs("source") },
  { method: "GET", path: "/api/exchanges/:vhost/:name/bindings/destination", handler: bindingsAs("destination") },
];
