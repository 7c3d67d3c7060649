/**
 * Vhost and user limits, enforced as RabbitMQ 3.10 enforces them:
 *  - vhost `max-connections` (connection.open), `max-queues` (declaring a new queue, over AMQP or
 *    HTTP), kept as the runtime parameter vhost-limits/limits of the vhost;
 *  - user `max-connections` (connection.open, across vhosts) and `max-channels` (channel.open,
 *    across the user's connections), kept on the user record.
 * A negative value means no limit; 0 allows none. Existing connections, channels and queues are
 * never closed when a limit is lowered below what is in use (RabbitMQ neither): only new ones
 * are refused, with RabbitMQ's codes and texts.
 *
 * Counting walks the live connections, and only when a limit is set: a broker without limits
 * pays nothing per connection or channel.
 *
 * On a cluster the counts are the cluster's, as RabbitMQ's connection and channel tracking is
 * cluster-wide: this node's connections plus what every other running member last published
 * of its own (cluster.ts, in its live record in etcd; eventually consistent, as RabbitMQ's
 * tracking is). The node links (the internal user warren-cluster, cluster/remote.ts) are the
 * cluster's own connections: never counted, never refused.
 */
import { notAllowed, preconditionFailed } from "../amqp/errors.js";
import type { User } from "./auth.js";

export const VHOST_LIMITS_COMPONENT = "vhost-limits";
export type VhostLimitName = "max-connections" | "max-queues";
export type UserLimitName = "max-connections" | "max-channels";

/** What the limit checks need to know about a live connection. */
export interface LimitedConnection {
  readonly userName: string;
  readonly vhostName: string;
  /** channels open on it now */
  readonly openChannels: number;
}

/** The other running members' connections and channels (empty on a single node). */
export interface OtherNodesCounts {
  vhostConnections(vhost: string): number;
  userConnections(user: string): number;
  userChannels(user: string): number;
}

export const NO_OTHER_NODES: OtherNodesCounts = { vhostConnections: () => 0, userConnections: () => 0, userChannels: () => 0 };

/** What a node publishes of its own connections: per vhost, and per user [connections, channels]. */
export interface ConnectionCounts {
  v: Record<string, number>;
  u: Record<string, [number, number]>;
  /** consumers on this node of queues homed elsewhere (vhost \0 name), for the home node's `consumers` */
  q?: Record<string, number>;
}

/**
 * This node's counts for the vhosts and users that have a limit (`limited`): only those are
 * ever checked, and a fleet of 10,000 agents, each its own user, would otherwise put 10,000
 * entries in every live record (etcd refuses requests over 1.5 MiB).
 */
export function countConnections(connections: Iterable<LimitedConnection>, exemptUser: string | null, limited: { vhost(name: string): boolean; user(name: string): boolean }): ConnectionCounts {
  const v: Record<string, number> = {};
  const u: Record<string, [number, number]> = {};
  for (const c of connections) {
    if (c.userName === exemptUser) continue;
    if (limited.vhost(c.vhostName)) v[c.vhostName] = (v[c.vhostName] ?? 0) + 1;
    if (!limited.user(c.userName)) continue;
    const e = (u[c.userName] ??= [0, 0]);
    e[0]++;
    e[1] += c.openChannels;
  }
  return { v, u };
}

function effective(v: unknown): number | undefined {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : undefined;
}

/** A vhost's limit from the runtime parameters (key component \0 vhost \0 name), if set and not negative. */
export function vhostLimit(parameters: ReadonlyMap<string, Record<string, unknown>>, vhost: string, name: VhostLimitName): number | undefined {
  if (parameters.size === 0) return undefined;
  const p = parameters.get(`${VHOST_LIMITS_COMPONENT}\u0000${vhost}\u0000limits`);
  return effective((p?.["value"] as Record<string, unknown> | undefined)?.[name]);
}

export function userLimit(user: User, name: UserLimitName): number | undefined {
  return user.limits === undefined ? undefined : effective(user.limits[name]);
}

/** connection.open: refuse a connection past the vhost's or the user's connection limit (530). */
export function checkConnectionLimits(
  connections: Iterable<LimitedConnection>,
  parameters: ReadonlyMap<string, Record<string, unknown>>,
  user: User,
  vhost: string,
  exemptUser: string | null = null,
  others: OtherNodesCounts = NO_OTHER_NODES,
): void {
  if (user.name === exemptUser) return;
  const perVhost = vhostLimit(parameters, vhost, "max-connections");
  const perUser = userLimit(user, "max-connections");
  if (perVhost === undefined && perUser === undefined) return;
  let inVhost = perVhost === undefined ? 0 : others.vhostConnections(vhost);
  let ofUser = perUser === undefined ? 0 : others.userConnections(user.name);
  for (const c of connections) {
    if (c.userName === exemptUser) continue;
    if (c.vhostName === vhost) inVhost++;
    if (c.userName === user.name) ofUser++;
  }
  if (perVhost !== undefined && inVhost >= perVhost) throw notAllowed(`access to vhost '${vhost}' refused for user '${user.name}': connection limit (${perVhost}) is reached`);
  if (perUser !== undefined && ofUser >= perUser) throw notAllowed(`connection refused for user '${user.name}': user connection limit (${perUser}) is reached`);
}

/** channel.open: refuse a channel past the user's channel limit (530, closes the connection). */
export function checkChannelLimit(connections: Iterable<LimitedConnection>, user: User, others: OtherNodesCounts = NO_OTHER_NODES): void {
  const limit = userLimit(user, "max-channels");
  if (limit === undefined) return;
  let open = others.userChannels(user.name);
  for (const c of connections) if (c.userName === user.name) open += c.openChannels;
  if (open >= limit) throw notAllowed(`number of channels opened for user '${user.name}' has reached the maximum allowed user limit of (${limit})`);
}

/** Declaring a new queue: refuse it past the vhost's queue limit (406). */
export function checkQueueLimit(limit: number | undefined, queuesInVhost: number, vhost: string, queue: string): void {
  if (limit !== undefined && queuesInVhost >= limit) throw preconditionFailed(`cannot declare queue '${queue}': queue limit in vhost '${vhost}' (${limit}) is reached`);
}
