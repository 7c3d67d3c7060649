/**
 * The management HTTP server: RabbitMQ's /api (one module per resource under
 * resources/, routed from one table) and the web UI's static files on / (ui/,
 * served by ui/static.ts). Prometheus metrics have their own listener
 * (prometheus.ts), as in RabbitMQ. Authentication is HTTP basic against the
 * broker's users (access.ts); errors are JSON `{"error", "reason"}` with RabbitMQ's codes.
 *
 * Owns: the HTTP listener, request → Ctx, error mapping (HttpError, and
 * AmqpError raised by broker methods: ACCESS_REFUSED → 401, NOT_FOUND → 404,
 * anything else → 400 with the AMQP text), the 5-second rate sampler.
 * Does not own: broker state — every change goes through Broker.apply or the
 * VHost methods the AMQP handlers use, so it is persisted the same way.
 */
import { displayHost } from "../lib/net.js";
import http, { type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { AmqpError, ACCESS_REFUSED, NOT_FOUND } from "../amqp/errors.js";
import type { Broker } from "../broker/broker.js";
import type { ClusterView } from "../broker/cluster-view.js";
import type { Logger } from "../lib/logger.js";
import type { Server } from "../server/server.js";
import { authenticate, isAdmin } from "./access.js";
import { applyServerLimits, DEFAULT_MAX_BODY, HTTP_SERVER_LIMITS, refusalFor } from "../lib/http-guard.js";
import { HttpError, badRequest, methodNotAllowed, notFound, parseJSONBody, readBody, sendError, sendJSON, type Ctx, type NodeInfo } from "./context.js";
import { Rates } from "./rates.js";
import { collect } from "./stats.js";
import { RouteTable, type Route } from "./router.js";
import { StaticFiles } from "./ui/static.js";
import * as overview from "./resources/overview.js";
import * as vhosts from "./resources/vhosts.js";
import * as users from "./resources/users.js";
import * as permissions from "./resources/permissions.js";
import * as connections from "./resources/connections.js";
import * as exchanges from "./resources/exchanges.js";
import * as queues from "./resources/queues.js";
import * as bindings from "./resources/bindings.js";
import * as definitions from "./resources/definitions.js";
import * as parameters from "./resources/parameters.js";
import * as limits from "./resources/limits.js";
import * as cluster from "./resources/cluster.js";

/** Routes served beside the API (Fleet's /api/fleet); `mayAccessVhost` applies the API's vhost rule. */
export type ExtraRoutes = (req: http.IncomingMessage, res: http.ServerResponse, url: URL, user: { name: string; tags: string[]; mayAccessVhost(vhost: string): boolean }) => Promise<boolean>;

export interface ManagementOptions {
  broker: Broker;
  server: Server;
  /** undefined = every interface, IPv6 and IPv4 where available */
  host: string | undefined;
  port: number;
  log: Logger;
  extraRoutes?: ExtraRoutes;
  /** this node's name (default warren@<hostname>) */
  nodeName?: string;
  /** warren's own version (product_version); the emulated RabbitMQ's is RABBITMQ_COMPAT_VERSION */
  version?: string;
  /** rate sampling interval, ms (default 5000, RabbitMQ's) */
  sampleIntervalMs?: number;
  /** largest request body in bytes (default 20 MB, RabbitMQ's management.http.max_body_size) */
  maxBodyBytes?: number;
}

const ROUTES: Route[] = [
  ...overview.routes,
  ...vhosts.routes,
  ...users.routes,
  ...permissions.routes,
  ...connections.routes,
  ...exchanges.routes,
  ...queues.routes,
  ...bindings.routes,
  ...definitions.routes,
  ...parameters.routes,
  ...limits.routes,
  ...cluster.routes,
];

/**
 * A change through the management API on a cluster member: a PUT of a new exchange or queue
 * is first made the cluster's first declare of that name (ClusterView.claim), and the
 * answer is held until every running node has the change (barrier), as for AMQP.
 */
async function clusteredChange(cluster: ClusterView, ctx: Ctx, route: Route): Promise<void> {
  const kind = route.path === "/api/queues/:vhost/:name" ? "queue" : route.path === "/api/exchanges/:vhost/:name" ? "exchange" : null;
  if (kind !== null && ctx.req.method === "PUT") {
    const vh = ctx.broker.vhosts.get(ctx.params[0]!);
    if (vh !== undefined && !(kind === "queue" ? vh.queues.has(ctx.params[1]!) : vh.exchanges.has(ctx.params[1]!))) await cluster.claim(kind, vh.name, ctx.params[1]!);
  }
  const before = cluster.changes;
  const res = ctx.res;
  const end = res.end.bind(res) as (...a: unknown[]) => ServerResponse;
  // the handler answers synchronously; its answer leaves once the cluster has the change
  res.end = ((...a: unknown[]) => {
    if (cluster.changes === before) return end(...a);
    cluster.barrier().then(
      () => end(...a),
      () => {
        res.removeHeader("content-length");
        res.statusCode = 503;
        end(JSON.stringify({ error: "cluster_unavailable", reason: "the cluster's metadata store (etcd) did not take the change" }));
      },
    );
    return res;
  }) as typeof res.end;
  await route.handler(ctx);
}

export async function startManagement(opts: ManagementOptions): Promise<{ port: number; host: string; close(): Promise<void> }> {
  const { broker, log } = opts;
  const table = new RouteTable(ROUTES);
  const ui = new StaticFiles();
  const rates = new Rates(() => collect(broker), opts.sampleIntervalMs ?? 5000);
  const { amqp, amqps } = opts.server.listenAddresses;
  const node: NodeInfo = {
    name: opts.nodeName ?? `warren@${os.hostname()}`,
    version: opts.version ?? "0.0.0",
    amqpPort: amqp?.port,
    amqpHost: amqp?.address,
    amqpsPort: amqps?.port,
    amqpsHost: amqps?.address,
    mgmtPort: opts.port,
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const method = req.method ?? "GET";
    if (ui.serve(req, res, url.pathname)) return;
    if (!url.pathname.startsWith("/api/") && url.pathname !== "/api") throw notFound();
    // the UI asks before logging in whether OAuth is configured; RabbitMQ answers anonymously
    if (method === "GET" && url.pathname === "/api/auth") return sendJSON(res, 200, { enable_uaa: false, uaa_client_id: "", uaa_location: "" });
    const refusal = refusalFor(req, maxBody);
    if (refusal) throw new HttpError(refusal.status, refusal.error, refusal.reason);
    const user = await authenticate(broker, req);
    const m = table.match(method, url.pathname);
    if (m === null || m === "wrong-method") {
      const mayAccessVhost = (vhost: string): boolean => isAdmin(user) || broker.permissions.has(`${vhost}\u0000${user.name}`);
      if (opts.extraRoutes && (await opts.extraRoutes(req, res, url, { name: user.name, tags: user.tags, mayAccessVhost }))) return;
      throw m === null ? notFound() : methodNotAllowed();
    }
    let raw: Buffer | null = null;
    const rawBody = async (): Promise<Buffer> => (raw ??= await readBody(req, maxBody));
    const ctx: Ctx = { req, res, url, params: m.params, user, broker, rates: rates.forRequest(url), node, rawBody, body: async () => parseJSONBody(await rawBody()) };
    if (broker.cluster !== null && method !== "GET") return clusteredChange(broker.cluster, ctx, m.route);
    await m.route.handler(ctx);
  };

  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const srv = http.createServer(HTTP_SERVER_LIMITS, (req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const err = toHttpError(e);
      if (err.status >= 500) log.warn(`management API ${req.method} ${req.url}: ${(e as Error).stack ?? String(e)}`);
      sendError(res, err);
    });
  });
  srv.keepAliveTimeout = 5000;
  applyServerLimits(srv);
  await new Promise<void>((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(opts.port, opts.host, () => {
      srv.off("error", reject);
      resolve();
    });
  });
  const port = (srv.address() as AddressInfo).port;
  node.mgmtPort = port;
  rates.start();
  log.info(`management API listening on http://${displayHost(srv.address())}:${port}`);
  return {
    port,
    host: displayHost(srv.address()),
    close: async () => {
      rates.stop();
      srv.closeIdleConnections();
      await new Promise<void>((r) => srv.close(() => r()));
    },
  };
}

function toHttpError(e: unknown): HttpError {
  if (e instanceof HttpError) return e;
  if (e instanceof AmqpError) {
    if (e.code === ACCESS_REFUSED) return new HttpError(401, "not_authorised", "Access refused.");
    if (e.code === NOT_FOUND) return notFound();
    return badRequest(e.text.replace(/^[A-Z_]+ - /, ""));
  }
  return new HttpError(500, "internal_server_error", (e as Error)?.message ?? String(e));
}
