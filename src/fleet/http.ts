/**
 * Fleet's HTTP API under /api/fleet/ (JSON; ready for the web UI):
 *   GET  /api/fleet/hosts                  known agents (groups, online, last seen, facts)
 *   GET  /api/fleet/tasks[?limit=N]        recent tasks with per-status counts
 *   POST /api/fleet/tasks                  submit {command | argv | push, hosts | group | match, ttlMs, timeoutMs, batch, maxOutput}
 *                                          (push: {name, dest?, mode?, data (base64), sha256?, size?} — docs/fleet.md)
 *   GET  /api/fleet/tasks/ID               one task with per-host results
 *   GET  /api/fleet/tasks/ID/stream        server-sent events: "task" (full view), "output" chunks, "done"
 *   POST /api/fleet/tasks/ID/cancel        (also DELETE /api/fleet/tasks/ID)
 *   GET  /api/fleet/audit[?limit=N]        the audit log, newest first
 *   GET  /api/fleet/groups                 central and announced groups with their members
 *   PUT  /api/fleet/groups/NAME            create a central group {description?, hosts?}
 *   DELETE /api/fleet/groups/NAME          delete it (announced memberships stay)
 *   POST /api/fleet/groups/NAME/assign     {hosts}; /unassign likewise
 * Authentication is the caller's job (the management server, or the standalone
 * server below which asks the broker's /api/whoami). Like the rest of the
 * management API, everything here needs access to Fleet's vhost (a permission
 * there, or the administrator tag); submitting and cancelling also need the
 * "administrator" (or "fleet") tag.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { FleetError, type FleetService, type SubmitRequest } from "./service.js";
import type { AgentEvent } from "./protocol.js";
import { COMMANDS_EXCHANGE } from "./topology.js";
import { applyServerLimits, HTTP_SERVER_LIMITS, isBrowser, refusalFor } from "../lib/http-guard.js";
import { MonitorError, type MonitorService } from "./monitor/service.js";
import { monitorRoutes } from "./monitor/http.js";

/** The caller, as the server that authenticated it knows it. */
export interface FleetHttpUser {
  name: string;
  tags: string[];
  /** may this user use `vhost` (a permission there, or administrator)? */
  mayAccessVhost(vhost: string): boolean | Promise<boolean>;
}

export type FleetHttpHandler = (req: IncomingMessage, res: ServerResponse, url: URL, user: FleetHttpUser) => Promise<boolean>;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-cache" });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    // 2 MiB: a push of the largest file (1 MiB) is ~1.37 MiB of base64 in its JSON
    if (n > 2 << 20) throw new FleetError("request body too large", 413);
    chunks.push(c as Buffer);
  }
  if (!n) return {};
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString()) as unknown;
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error();
    return v as Record<string, unknown>;
  } catch {
    throw new FleetError("body must be a JSON object", 400);
  }
}

const canOperate = (tags: string[]): boolean => tags.includes("administrator") || tags.includes("fleet");

/** `vhost` is the one Fleet's collector uses: its data is that vhost's. */
export function createFleetHttpHandler(service: FleetService, vhost: string, monitor?: MonitorService): FleetHttpHandler {
  return async (req, res, url, user) => {
    if (!url.pathname.startsWith("/api/fleet/") && url.pathname !== "/api/fleet") return false;
    const parts = url.pathname.split("/").filter(Boolean).slice(2); // after "api", "fleet"
    const m = req.method ?? "GET";
    try {
      if (!(await user.mayAccessVhost(vhost))) throw new FleetError(`user not authorised to access virtual host ${vhost} (Fleet's)`, 401);
      const [res0, id, sub] = parts;
      // monitoring (templates, metrics, alerts, silences, webhooks): monitor/http.ts
      if (monitor && (await monitorRoutes(monitor, parts, { req, res, url, user, send: (s, b) => send(res, s, b), readJson: () => readJson(req) }))) return true;
      if (res0 === "hosts" && !id && m === "GET") return (send(res, 200, service.hostsView()), true);
      if (res0 === "groups") return (await groups(service, req, res, m, id, sub, user), true);
      if (res0 === "audit" && !id && m === "GET") return (send(res, 200, service.store.recentAudit(Number(url.searchParams.get("limit") ?? 100))), true);
      if (res0 === "tasks" && !id) {
        if (m === "GET") {
          const q: Record<string, unknown> = { limit: url.searchParams.get("limit") ?? 50 };
          for (const k of ["host", "status", "user", "since"]) if (url.searchParams.has(k)) q[k] = url.searchParams.get(k);
          return (send(res, 200, service.tasks(q)), true);
        }
        if (m === "POST") {
          if (!canOperate(user.tags)) throw new FleetError("submitting tasks needs the administrator (or fleet) tag", 403);
          const b = await readJson(req);
          const r = await service.submit({ ...(b as Partial<SubmitRequest>), user: user.name });
          return (send(res, 201, r), true);
        }
        throw new FleetError("method not allowed", 405);
      }
      if (res0 === "tasks" && id) {
        const taskId = Number(id);
        if (!Number.isInteger(taskId)) throw new FleetError("bad task id", 400);
        if (!sub && m === "GET") {
          const v = service.view(taskId);
          if (!v) throw new FleetError(`no task ${taskId}`, 404);
          return (send(res, 200, v), true);
        }
        if ((sub === "cancel" && m === "POST") || (!sub && m === "DELETE")) {
          if (!canOperate(user.tags)) throw new FleetError("cancelling needs the administrator (or fleet) tag", 403);
          return (send(res, 200, await service.cancel(taskId, user.name)), true);
        }
        if (sub === "stream" && m === "GET") return (stream(service, taskId, req, res), true);
      }
      throw new FleetError(`no such Fleet resource ${url.pathname}`, 404);
    } catch (e) {
      const status = e instanceof FleetError || e instanceof MonitorError ? e.status : 500;
      send(res, status, { error: status === 500 ? "internal_error" : status === 401 ? "not_authorised" : status === 403 ? "forbidden" : "bad_request", reason: (e as Error).message });
      return true;
    }
  };
}

async function groups(service: FleetService, req: IncomingMessage, res: ServerResponse, m: string, name: string | undefined, sub: string | undefined, user: FleetHttpUser): Promise<void> {
  if (!name && m === "GET") return send(res, 200, service.groupsView());
  if (!name) throw new FleetError("method not allowed", 405);
  if (!canOperate(user.tags)) throw new FleetError("managing groups needs the administrator (or fleet) tag", 403);
  const b = m === "DELETE" ? {} : await readJson(req);
  const hosts = b.hosts === undefined ? [] : b.hosts;
  if (!Array.isArray(hosts) || hosts.some((h) => typeof h !== "string")) throw new FleetError("hosts must be a list of names");
  if (!sub && m === "PUT") return send(res, 201, service.addGroup(name, typeof b.description === "string" ? b.description : "", hosts as string[], user.name));
  if (!sub && m === "DELETE") return send(res, 200, service.removeGroup(name, user.name));
  if ((sub === "assign" || sub === "unassign") && m === "POST") return send(res, 200, service.assignGroup(name, hosts as string[], sub === "assign", user.name));
  throw new FleetError(`no such Fleet resource`, 404);
}

/** Server-sent events until every host is final (or the client leaves). */
function stream(service: FleetService, taskId: number, req: IncomingMessage, res: ServerResponse): void {
  const first = service.view(taskId);
  if (!first) throw new FleetError(`no task ${taskId}`, 404);
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  const event = (name: string, data: unknown): void => void res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  let pending: NodeJS.Timeout | undefined;
  const finish = (): void => {
    service.off("task", onTask);
    clearInterval(keepAlive);
    if (pending) clearTimeout(pending);
  };
  const pushView = (): void => {
    pending = undefined;
    const v = service.view(taskId);
    if (!v) return;
    event("task", v);
    if (v.state === "done") {
      event("done", { id: taskId, counts: v.counts });
      finish();
      res.end();
    }
  };
  const onTask = (id: number, ev?: AgentEvent): void => {
    if (id !== taskId) return;
    if (ev?.kind === "output") event("output", { host: ev.host, stream: ev.stream, data: ev.data });
    else if (!pending) pending = setTimeout(pushView, 100); // coalesce bursts of results
  };
  const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), 15_000);
  service.on("task", onTask);
  req.on("close", finish);
  pushView();
}

/**
 * `warren collector --http-port N`: serve the handler alone, authenticating
 * each request's basic credentials against the broker's /api/whoami.
 */
export async function startStandaloneHttp(service: FleetService, port: number, mgmtUrl: string, vhost: string, monitor?: MonitorService): Promise<{ port: number; close(): Promise<void> }> {
  const handler = createFleetHttpHandler(service, vhost, monitor);
  const mgmtBase = new URL(mgmtUrl);
  mgmtBase.username = "";
  mgmtBase.password = "";
  const server = createServer(HTTP_SERVER_LIMITS, (req, res) => {
    void (async () => {
      const refusal = refusalFor(req, 1 << 20);
      if (refusal) return send(res, refusal.status, { error: refusal.error, reason: refusal.reason });
      const auth = req.headers.authorization;
      if (!auth?.startsWith("Basic ")) {
        // no Basic challenge for browsers: their prompt would cache the credentials (lib/http-guard.ts)
        res.writeHead(401, { ...(isBrowser(req) ? {} : { "www-authenticate": 'Basic realm="warren fleet"' }), "content-type": "application/json" });
        res.end(JSON.stringify({ error: "not_authorised", reason: "Login failed" }));
        return;
      }
      let who: { name: string; tags: string[] | string } | undefined;
      try {
        const r = await fetch(new URL("/api/whoami", mgmtBase), { headers: { authorization: auth } });
        if (r.ok) who = (await r.json()) as { name: string; tags: string[] | string };
      } catch {
        who = undefined;
      }
      if (!who) {
        res.writeHead(401, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: "not_authorised", reason: "Login failed" }));
        return;
      }
      const tags = Array.isArray(who.tags) ? who.tags : String(who.tags).split(",").filter(Boolean);
      const url = new URL(req.url ?? "/", "http://localhost");
      // Vhost access the way the broker decides it: RabbitMQ's GET /api/exchanges/VHOST/NAME answers
      // 401 to a user (even monitoring) without access to the vhost.
      const mayAccessVhost = async (v: string): Promise<boolean> => {
        try {
          const r = await fetch(new URL(`/api/exchanges/${encodeURIComponent(v)}/${encodeURIComponent(COMMANDS_EXCHANGE)}`, mgmtBase), { headers: { authorization: auth } });
          return r.ok;
        } catch {
          return false;
        }
      };
      if (!(await handler(req, res, url, { name: who.name, tags, mayAccessVhost }))) send(res, 404, { error: "not_found", reason: "Not Found" });
    })().catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, { error: "internal_error", reason: (e as Error).message });
    });
  });
  applyServerLimits(server);
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
