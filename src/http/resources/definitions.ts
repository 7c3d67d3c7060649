/**
 * /api/definitions (GET export, POST import) and /api/definitions/:vhost, in
 * RabbitMQ's JSON format, so definitions move both ways between RabbitMQ and
 * warren: users (password_hash + hashing_algorithm; RabbitMQ's sha256/sha512/md5
 * hashes are accepted), vhosts, permissions, topic_permissions, parameters,
 * global_parameters, policies, queues, exchanges, bindings.
 *
 * Import applies items in dependency order through Broker.apply and the VHost
 * methods — the same paths AMQP declarations take — so everything durable is
 * persisted. Like RabbitMQ's, import is not transactional: the first failing
 * item stops it with 400 and a reason naming the item.
 *
 * Export skips what RabbitMQ skips: the default exchange, amq.* exchanges,
 * exclusive queues and bindings from the default exchange.
 * Users created in warren are exported with a RabbitMQ-compatible salted
 * SHA-256 of their password beside the scrypt hash (see users.ts), so RabbitMQ
 * can import them and they log in there with the same password.
 */
import { tableToJSON, type FieldTable } from "../../amqp/field-table.js";
import type { Broker } from "../../broker/broker.js";
import type { VHost } from "../../broker/vhost.js";
import { badRequest, parseJSONBody, sendEmpty, sendJSON, type Ctx } from "../context.js";
import { requireAdmin, vhostFor } from "../access.js";
import type { Route } from "../router.js";
import { API_LEVEL } from "./overview.js";
import { userCommand, userDefinitionJSON } from "./users.js";
import { permissionJSON, topicPermissionJSON } from "./permissions.js";
import { parseTags } from "./vhosts.js";
import { command } from "../../broker/commands.js";

type Item = Record<string, unknown>;

function vhostItems(v: VHost, withVhost: boolean): { queues: Item[]; exchanges: Item[]; bindings: Item[] } {
  const tag = (o: Item): Item => (withVhost ? { ...o, vhost: v.name } : o);
  const queues: Item[] = [];
  for (const q of v.queues.values()) {
    if (q.exclusive) continue;
    queues.push(tag({ name: q.name, durable: q.durable, auto_delete: q.autoDelete, arguments: tableToJSON(q.arguments) }));
  }
  const exchanges: Item[] = [];
  for (const x of v.exchanges.values()) {
    if (x.name === "" || x.name.startsWith("amq.")) continue;
    exchanges.push(tag({ name: x.name, type: x.type, durable: x.durable, auto_delete: x.autoDelete, internal: x.internal, arguments: tableToJSON(x.options.arguments) }));
  }
  const bindings: Item[] = [];
  for (const b of v.allBindings()) {
    if (b.source === "") continue;
    const dq = b.destinationType === "queue" ? v.queues.get(b.destination) : undefined;
    if (dq?.exclusive) continue;
    bindings.push(tag({ source: b.source, destination: b.destination, destination_type: b.destinationType, routing_key: b.routingKey, arguments: tableToJSON(b.arguments) }));
  }
  // RabbitMQ's key order inside items: name/source first, then vhost
  const order = (o: Item): Item => {
    if (!withVhost) return o;
    const { vhost, ...rest } = o;
    const [firstKey, ...others] = Object.keys(rest);
    const out: Item = { [firstKey!]: rest[firstKey!], vhost };
    for (const k of others) out[k] = rest[k];
    return out;
  };
  return { queues: queues.map(order), exchanges: exchanges.map(order), bindings: bindings.map(order) };
}

export function exportAll(b: Broker, version: string): Item {
  const queues: Item[] = [];
  const exchanges: Item[] = [];
  const bindings: Item[] = [];
  for (const v of b.vhosts.values()) {
    const items = vhostItems(v, true);
    queues.push(...items.queues);
    exchanges.push(...items.exchanges);
    bindings.push(...items.bindings);
  }
  return {
    rabbit_version: API_LEVEL,
    rabbitmq_version: API_LEVEL,
    product_name: "warren",
    product_version: version,
    users: [...b.users.values()].map(userDefinitionJSON),
    vhosts: [...b.vhosts.values()].map((v) => ({ name: v.name, description: v.meta.description, tags: v.meta.tags })),
    permissions: [...b.permissions.values()].map(permissionJSON),
    topic_permissions: b.topicPermissions.map(topicPermissionJSON),
    parameters: [...b.parameters.values()],
    global_parameters: [...b.globalParameters.values()],
    policies: [...b.policies.values()],
    queues,
    exchanges,
    bindings,
  };
}

function exportVhost(b: Broker, v: VHost): Item {
  const strip = (o: Item): Item => {
    const { vhost: _v, ...rest } = o;
    return rest;
  };
  return {
    rabbit_version: API_LEVEL,
    parameters: [...b.parameters.values()].filter((p) => p["vhost"] === v.name).map(strip),
    // RabbitMQ keeps the vhost on policies in a vhost's export (not on parameters)
    policies: [...b.policies.values()].filter((p) => p["vhost"] === v.name),
    ...vhostItems(v, false),
  };
}

function list(d: Item, key: string): Item[] {
  const v = d[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw badRequest(`definitions: ${key} must be a list`);
  return v as Item[];
}

const s = (o: Item, k: string): string => (typeof o[k] === "string" ? (o[k] as string) : "");

/** Import RabbitMQ-format definitions; `onlyVhost` for /api/definitions/:vhost. */
export function importDefinitions(b: Broker, d: Item, onlyVhost?: string): void {
  const step = (what: string, item: Item, f: () => void): void => {
    try {
      f();
    } catch (e) {
      const name = s(item, "name") || s(item, "source") || s(item, "user");
      throw badRequest(`could not import ${what} '${name}': ${(e as Error).message.replace(/^[A-Z_]+ - /, "")}`);
    }
  };
  const vh = (item: Item): string => onlyVhost ?? s(item, "vhost");
  if (onlyVhost === undefined) {
    for (const u of list(d, "users")) step("user", u, () => b.apply(userCommand(s(u, "name"), u, b.users.get(s(u, "name")), b.exportRabbitHashes), { origin: "import" }));
    for (const v of list(d, "vhosts")) {
      step("vhost", v, () => {
        const meta = (v["metadata"] ?? {}) as Item;
        b.apply(command("vhost.add", { name: s(v, "name"), description: s(v, "description") || s(meta, "description"), tags: parseTags(v["tags"] ?? meta["tags"]) }), { origin: "import" });
      });
    }
    for (const p of list(d, "permissions")) {
      step("permission", p, () =>
        b.apply(command("permission.set", { user: s(p, "user"), vhost: s(p, "vhost"), configure: s(p, "configure"), write: s(p, "write"), read: s(p, "read") }), { origin: "import" }),
      );
    }
    for (const p of list(d, "topic_permissions")) {
      step("topic permission", p, () =>
        b.apply(command("topic-permission.set", { user: s(p, "user"), vhost: s(p, "vhost"), exchange: s(p, "exchange"), write: s(p, "write"), read: s(p, "read") }), { origin: "import" }),
      );
    }
    for (const p of list(d, "global_parameters")) step("global parameter", p, () => b.apply(command("global-parameter.set", { name: s(p, "name"), value: p }), { origin: "import" }));
  }
  for (const p of list(d, "parameters")) {
    const value = { ...p, vhost: vh(p) };
    step("parameter", p, () => b.apply(command("parameter.set", { component: s(p, "component"), vhost: vh(p), name: s(p, "name"), value }), { origin: "import" }));
  }
  for (const p of list(d, "policies")) {
    const value = { vhost: vh(p), ...p };
    value["vhost"] = vh(p);
    step("policy", p, () => b.apply(command("policy.set", { vhost: vh(p), name: s(p, "name"), value }), { origin: "import" }));
  }
  for (const x of list(d, "exchanges")) {
    step("exchange", x, () =>
      b.apply(
        command("exchange.declare", {
          vhost: vh(x),
          name: s(x, "name"),
          type: s(x, "type"),
          durable: x["durable"] !== false,
          autoDelete: x["auto_delete"] === true,
          internal: x["internal"] === true,
          arguments: (x["arguments"] ?? {}) as FieldTable,
        }),
        { origin: "import" },
      ),
    );
  }
  for (const q of list(d, "queues")) {
    step("queue", q, () =>
      b.apply(
        command("queue.declare", {
          vhost: vh(q),
          name: s(q, "name"),
          durable: q["durable"] !== false,
          autoDelete: q["auto_delete"] === true,
          arguments: (q["arguments"] ?? {}) as FieldTable,
        }),
        { origin: "import" },
      ),
    );
  }
  for (const bd of list(d, "bindings")) {
    step("binding", bd, () =>
      b.apply(
        command("bind", {
          vhost: vh(bd),
          source: s(bd, "source"),
          destination: s(bd, "destination"),
          destinationType: s(bd, "destination_type") === "exchange" ? "exchange" : "queue",
          routingKey: s(bd, "routing_key"),
          arguments: (bd["arguments"] ?? {}) as FieldTable,
        }),
        { origin: "import" },
      ),
    );
  }
}

function get(ctx: Ctx): void {
  requireAdmin(ctx);
  const body = exportAll(ctx.broker, ctx.node.version);
  if (ctx.url.searchParams.get("download")) ctx.res.setHeader("content-disposition", `attachment; filename="${ctx.url.searchParams.get("download")}"`);
  sendJSON(ctx.res, 200, body);
}

async function post(ctx: Ctx): Promise<void> {
  requireAdmin(ctx);
  importDefinitions(ctx.broker, parseJSONBody(await ctx.rawBody()));
  sendEmpty(ctx.res, 204);
}

function getVhost(ctx: Ctx): void {
  requireAdmin(ctx);
  sendJSON(ctx.res, 200, exportVhost(ctx.broker, vhostFor(ctx, ctx.params[0]!)));
}

async function postVhost(ctx: Ctx): Promise<void> {
  requireAdmin(ctx);
  const v = vhostFor(ctx, ctx.params[0]!);
  importDefinitions(ctx.broker, parseJSONBody(await ctx.rawBody()), v.name);
  sendEmpty(ctx.res, 204);
}

export const routes: Route[] = [
  { method: "GET", path: "/api/definitions", handler: get },
  { method: "POST", path: "/api/definitions", handler: post },
  { method: "GET", path: "/api/definitions/:vhost", handler: getVhost },
  { method: "POST", path: "/api/definitions/:vhost", handler: postVhost },
];
