/**
 * Who may use the management API and what they may see, as RabbitMQ's
 * management plugin decides it:
 *
 * - HTTP basic auth against the broker's users (same passwords as AMQP, same
 *   loopback-only rule for guest); only users tagged management, policymaker,
 *   monitoring or administrator get in at all.
 * - administrator: everything (users, vhosts, permissions, definitions, every vhost).
 * - monitoring: also sees every vhost, every connection/channel and node data.
 * - policymaker: may manage policies and parameters in its vhosts.
 * - management: only the vhosts it has permissions in, only its own connections.
 * Object operations (declare, delete, bind, publish, get, purge) are also checked
 * against the user's configure/write/read permissions, exactly as over AMQP.
 *
 * Every refusal is 401 not_authorised with RabbitMQ's reason text.
 */
import type { IncomingMessage } from "node:http";
import { AmqpError } from "../amqp/errors.js";
import type { Broker, ConnectionInfo } from "../broker/broker.js";
import type { User, PermissionKind } from "../broker/auth.js";
import type { VHost } from "../broker/vhost.js";
import { HttpError, notAuthorised, notFound, type Ctx } from "./context.js";

const MGMT_TAGS = ["management", "policymaker", "monitoring", "administrator"];

export async function authenticate(broker: Broker, req: IncomingMessage): Promise<User> {
  const h = req.headers["authorization"];
  if (!h || !/^basic /i.test(h)) throw notAuthorised("Not_Authorized");
  const decoded = Buffer.from(h.slice(6).trim(), "base64").toString("utf8");
  const i = decoded.indexOf(":");
  const name = i < 0 ? decoded : decoded.slice(0, i);
  const pass = i < 0 ? "" : decoded.slice(i + 1);
  let user: User;
  try {
    user = await broker.authenticate(name, pass, isLoopback(req.socket.remoteAddress), req.socket.remoteAddress);
  } catch {
    // RabbitMQ spells this one with a 'z'
    throw new HttpError(401, "not_authorized", "Login failed");
  }
  if (!user.tags.some((t) => MGMT_TAGS.includes(t))) throw notAuthorised("Not management user");
  return user;
}

function isLoopback(addr: string | undefined): boolean {
  if (!addr) return false;
  return addr === "::1" || addr.startsWith("127.") || addr.startsWith("::ffff:127.");
}

export const isAdmin = (u: User): boolean => u.tags.includes("administrator");
export const isMonitor = (u: User): boolean => isAdmin(u) || u.tags.includes("monitoring");
export const isPolicymaker = (u: User): boolean => isAdmin(u) || u.tags.includes("policymaker");

export function requireAdmin(ctx: Ctx): void {
  if (!isAdmin(ctx.user)) throw notAuthorised("Not administrator user");
}

export function requireMonitor(ctx: Ctx): void {
  if (!isMonitor(ctx.user)) throw notAuthorised("Not monitor user");
}

export function requirePolicymaker(ctx: Ctx): void {
  if (!isPolicymaker(ctx.user)) throw notAuthorised("Not policymaker user");
}

function hasPermissions(broker: Broker, user: string, vhost: string): boolean {
  return broker.permissions.has(`${vhost}\u0000${user}`);
}

/** A vhost named in the path: 404 if missing, 401 if the user may not use it. */
export function vhostFor(ctx: Ctx, name: string): VHost {
  const v = ctx.broker.vhosts.get(name);
  if (!v) throw notFound();
  if (!isAdmin(ctx.user) && !hasPermissions(ctx.broker, ctx.user.name, name)) {
    throw notAuthorised("User not authorised to access virtual host");
  }
  return v;
}

/** Vhosts whose objects appear in unscoped listings for this user. */
export function visibleVhosts(ctx: Ctx): VHost[] {
  const all = [...ctx.broker.vhosts.values()];
  if (isMonitor(ctx.user)) return all;
  return all.filter((v) => hasPermissions(ctx.broker, ctx.user.name, v.name));
}

/** The vhosts a listing covers: the one in the path, or all visible ones. */
export function listVhosts(ctx: Ctx, name: string | undefined): VHost[] {
  return name === undefined ? visibleVhosts(ctx) : [vhostFor(ctx, name)];
}

/** May this user see a connection (or its channels/consumers)? */
export function seesConnection(ctx: Ctx, owner: string, vhost: string): boolean {
  if (isMonitor(ctx.user)) return true;
  return owner === ctx.user.name && hasPermissions(ctx.broker, ctx.user.name, vhost);
}

/**
 * Does a connection listing (connections, channels, consumers, overview totals) include `c`?
 * As seesConnection, and the broker's own internal connections only when the request asks
 * for them with ?internal=true (they stay reachable by name either way).
 */
export function listsConnection(ctx: Ctx, c: ConnectionInfo): boolean {
  if (!seesConnection(ctx, c.userName, c.vhostName)) return false;
  return !ctx.broker.isInternalConnection(c) || ctx.url.searchParams.get("internal") === "true";
}

/** AMQP resource permission check, answered the HTTP way (401 "Access refused."). */
export function checkResource(ctx: Ctx, vhost: string, kind: PermissionKind, resourceKind: "queue" | "exchange", name: string): void {
  try {
    ctx.broker.checkPermission(ctx.user.name, vhost, kind, resourceKind, name);
  } catch (e) {
    if (e instanceof AmqpError) throw notAuthorised("Access refused.");
    throw e;
  }
}
