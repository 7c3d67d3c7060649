/**
 * rabbitmqctl's cluster verbs over the management API (warren's own paths, under
 * /api/warren/: RabbitMQ's CLI reaches its nodes through Erlang distribution, warren ctl
 * through HTTP). Administrators only. GET cluster-status answers in the shape of
 * `rabbitmqctl cluster_status --formatter json`; the POSTs carry out the verbs on the
 * node that answers (src/cluster/cluster.ts) and return rabbitmqctl's refusals as
 * {error, reason, exit_code}.
 */
import { ClusterError, type ClusterView, type NodeType } from "../../broker/cluster-view.js";
import { RABBITMQ_COMPAT_VERSION } from "../../lib/compat.js";
import { requireAdmin } from "../access.js";
import { badRequest, sendJSON, type Ctx } from "../context.js";
import type { Route } from "../router.js";
import { FEATURE_FLAGS } from "./overview.js";

function listenersOf(node: string, info: Record<string, unknown> | null): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const mgmt = info?.["mgmt"] as { host: string; port: number } | null | undefined;
  const amqp = info?.["amqp"] as { host: string; port: number } | undefined;
  if (mgmt) out.push({ interface: mgmt.host, node, port: mgmt.port, protocol: "http", purpose: "HTTP API" });
  if (amqp) out.push({ interface: amqp.host, node, port: amqp.port, protocol: "amqp", purpose: "AMQP 0-9-1 and AMQP 1.0" });
  return out;
}

function status(ctx: Ctx): void {
  requireAdmin(ctx);
  const c = ctx.broker.cluster;
  const self = ctx.node.name;
  const version = { erlang_version: process.version, rabbitmq_name: "warren", rabbitmq_version: RABBITMQ_COMPAT_VERSION, warren_version: ctx.node.version };
  const members = c
    ? c.members()
    : [
        {
          name: self,
          id: "",
          type: "disc" as NodeType,
          running: true,
          info: { amqp: ctx.node.amqpPort !== undefined ? { host: ctx.node.amqpHost ?? "[::]", port: ctx.node.amqpPort } : undefined, mgmt: { host: "[::]", port: ctx.node.mgmtPort } },
        },
      ];
  const running = members.filter((m) => m.running);
  sendJSON(ctx.res, 200, {
    alarms: [...ctx.broker.alarms].map((resource) => ({ node: self, resource })),
    cluster_name: c?.clusterName ?? self,
    disk_nodes: members.filter((m) => m.type === "disc").map((m) => m.name),
    feature_flags: FEATURE_FLAGS.map(([name, desc, provided_by]) => ({ desc, doc_url: "", name, provided_by, stability: "stable", state: "enabled" })),
    listeners: Object.fromEntries(running.map((m) => [m.name, listenersOf(m.name, m.info)])),
    maintenance_status: Object.fromEntries(running.map((m) => [m.name, "not under maintenance"])),
    partitions: {},
    ram_nodes: members.filter((m) => m.type === "ram").map((m) => m.name),
    running_nodes: running.map((m) => m.name),
    versions: Object.fromEntries(running.map((m) => [m.name, { ...version, warren_version: String(m.info?.["version"] ?? ctx.node.version) }])),
  });
}

function clusterOf(ctx: Ctx): ClusterView {
  const c = ctx.broker.cluster;
  // a node started without etcd is a cluster of one, as a fresh RabbitMQ node
  if (!c) throw new ClusterError(`Error:\n{:not_clustered, 'Non-clustered node ${ctx.node.name}: start it with --etcd-endpoints to cluster it (docs/cluster.md).'}`, 69);
  return c;
}

async function verb(ctx: Ctx): Promise<void> {
  requireAdmin(ctx);
  const body = await ctx.body();
  const str = (k: string): string => {
    const v = body[k];
    if (typeof v !== "string" || v === "") throw badRequest(`'${k}' is required`);
    return v;
  };
  const type = (): NodeType => {
    const t = str("type");
    if (t !== "disc" && t !== "ram") throw badRequest(`node type must be disc or ram, not '${t}'`);
    return t;
  };
  try {
    const c = clusterOf(ctx);
    switch (ctx.params[0]) {
      case "stop_app":
        await c.stopApp();
        break;
      case "start_app":
        await c.startApp();
        break;
      case "join_cluster":
        await c.join(str("node"), type());
        break;
      case "change_cluster_node_type":
        await c.setType(type());
        break;
      case "reset":
        await c.reset(false);
        break;
      case "force_reset":
        await c.reset(true);
        break;
      case "forget_cluster_node":
        await c.forget(str("node"));
        break;
      default:
        throw badRequest(`unknown cluster verb '${ctx.params[0]}'`);
    }
  } catch (e) {
    if (!(e instanceof ClusterError)) throw e;
    return sendJSON(ctx.res, 409, { error: "cluster_refused", reason: e.message, exit_code: e.exitCode });
  }
  sendJSON(ctx.res, 200, { ok: true });
}

/** rabbitmq-queues' quorum verbs: quorum_status, add_member, delete_member, grow, shrink */
async function quorum(ctx: Ctx): Promise<void> {
  requireAdmin(ctx);
  try {
    const c = clusterOf(ctx);
    const verbName = ctx.params[0];
    if (ctx.req.method === "GET") {
      const [, vhost = "/", name = ""] = ctx.params;
      return sendJSON(ctx.res, 200, c.quorumStatus(vhost, name));
    }
    const body = await ctx.body();
    const str = (k: string, dflt?: string): string => {
      const v = body[k] ?? dflt;
      if (typeof v !== "string" || v === "") throw badRequest(`'${k}' is required`);
      return v;
    };
    switch (verbName) {
      case "add_member":
      case "delete_member":
        await c.changeMember(str("vhost", "/"), str("queue"), str("node"), verbName === "add_member");
        return sendJSON(ctx.res, 200, { ok: true });
      case "grow":
      case "shrink": {
        const strategy = str("strategy", "all");
        if (strategy !== "all" && strategy !== "even") throw badRequest("strategy must be all or even");
        return sendJSON(ctx.res, 200, await c.growShrink(str("node"), verbName === "grow", strategy, str("vhost_pattern", ".*"), str("queue_pattern", ".*")));
      }
      default:
        throw badRequest(`unknown quorum verb '${verbName}'`);
    }
  } catch (e) {
    if (!(e instanceof ClusterError)) throw e;
    return sendJSON(ctx.res, 409, { error: "cluster_refused", reason: e.message, exit_code: e.exitCode });
  }
}

export const routes: Route[] = [
  { method: "GET", path: "/api/warren/cluster-status", handler: status },
  { method: "POST", path: "/api/warren/cluster/:verb", handler: verb },
  { method: "GET", path: "/api/warren/quorum/:verb/:vhost/:name", handler: quorum },
  { method: "POST", path: "/api/warren/quorum/:verb", handler: quorum },
];
