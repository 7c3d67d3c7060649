/**
 * Fleet's AMQP topology: the names of every exchange and queue Fleet uses, the
 * routing keys, the per-host queue arguments and the broker permissions an
 * enrolled agent gets. Pure data and string helpers: no connections here.
 *
 * Invariants: host and group names match NAME_RE (so they are safe inside queue
 * names, routing keys and permission regexes); every host queue is declared with
 * exactly hostQueueArgs() by everyone, or RabbitMQ would refuse the declare
 * (406 PRECONDITION_FAILED on differing arguments).
 */
import type { Channel } from "amqplib";
import { ALERTS_EXCHANGE, METRICS_EXCHANGE, METRICS_QUEUE, METRICS_QUEUE_MAX } from "./monitor/protocol.js";

/** direct exchange: routing key "host.NAME" or "group.GROUP" */
export const COMMANDS_EXCHANGE = "fleet.commands";
/** direct exchange agents publish results to; also the hosts' dead-letter exchange */
export const RESULTS_EXCHANGE = "fleet.results";
/** durable queue the collector consumes (results, started/output events, expiries) */
export const RESULTS_QUEUE = "fleet.results";
/** fanout exchange for presence/heartbeats; its queue drops stale beats (message TTL) */
export const PRESENCE_EXCHANGE = "fleet.presence";
export const PRESENCE_QUEUE = "fleet.presence";
/** the collector's request queue (the seed's RPC pattern: reply_to + correlation_id) */
export const API_QUEUE = "fleet.api";

export const RK_RESULT = "result";
export const RK_EVENT = "event";
export const RK_EXPIRED = "expired";

export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function assertName(kind: string, name: string): string {
  if (!NAME_RE.test(name)) throw new Error(`invalid ${kind} name ${JSON.stringify(name)}: use letters, digits, '.', '_' or '-' (max 100)`);
  return name;
}

export const hostQueue = (host: string): string => `fleet.host.${host}`;
export const hostKey = (host: string): string => `host.${host}`;
export const groupKey = (group: string): string => `group.${group}`;
export const agentUser = (host: string): string => `fleet-agent-${host}`;

/** The host's name back from its queue name (used for dead-lettered commands). */
export function hostFromQueue(queue: string): string | undefined {
  return queue.startsWith("fleet.host.") ? queue.slice("fleet.host.".length) : undefined;
}

/** Expired commands are dead-lettered into the results queue with routing key "expired". */
export function hostQueueArgs(): Record<string, unknown> {
  return { "x-dead-letter-exchange": RESULTS_EXCHANGE, "x-dead-letter-routing-key": RK_EXPIRED };
}

const esc = (s: string): string => s.replace(/[.\\^$|?*+()[\]{}-]/g, "\\$&");

/**
 * RabbitMQ permissions (configure, write, read) for an enrolled agent: it may declare and
 * consume only its own queue and publish only to fleet.results, fleet.presence and fleet.metrics. It has
 * no read permission on fleet.commands, so it cannot bind any queue to it (queue.bind needs
 * read on the exchange): the collector binds the host's queue at enrolment (bindHostQueue),
 * so an agent receives only its own and its enrolled groups' commands. It cannot publish
 * commands, nor read anyone else's queue. The broker checks user_id on what it publishes,
 * which is how the collector knows who sent a result.
 */
export function agentPermissions(host: string): { configure: string; write: string; read: string } {
  const q = esc(hostQueue(host));
  return {
    configure: `^${q}$`,
    write: `^(fleet\\.results|fleet\\.presence|fleet\\.metrics)$`,
    read: `^${q}$`,
  };
}

/**
 * Declare a host's queue and bind it for its own key and each group's (done by the
 * collector at enrolment, and by a local agent that runs with operator-level credentials).
 * Groups in `previous` and not in `groups` are unbound.
 */
export async function bindHostQueue(ch: Channel, host: string, groups: string[], previous: string[] = []): Promise<void> {
  const q = hostQueue(host);
  await ch.assertQueue(q, { durable: true, arguments: hostQueueArgs() });
  await ch.bindQueue(q, COMMANDS_EXCHANGE, hostKey(host));
  for (const g of groups) await ch.bindQueue(q, COMMANDS_EXCHANGE, groupKey(g));
  for (const g of previous) if (!groups.includes(g)) await ch.unbindQueue(q, COMMANDS_EXCHANGE, groupKey(g));
}

/**
 * Declare the shared exchanges and queues. Operators and the collector may
 * configure; an enrolled agent may not, so for it we only check they exist
 * (passive declare needs no configure permission) and say what is missing.
 */
export async function assertSharedTopology(ch: Channel, canConfigure: boolean): Promise<void> {
  if (!canConfigure) return;
  await ch.assertExchange(COMMANDS_EXCHANGE, "direct", { durable: true });
  await ch.assertExchange(RESULTS_EXCHANGE, "direct", { durable: true });
  await ch.assertExchange(PRESENCE_EXCHANGE, "fanout", { durable: true });
  await ch.assertQueue(RESULTS_QUEUE, { durable: true });
  for (const rk of [RK_RESULT, RK_EVENT, RK_EXPIRED]) await ch.bindQueue(RESULTS_QUEUE, RESULTS_EXCHANGE, rk);
  // Heartbeats older than a minute say nothing useful; cap the backlog while no collector runs.
  await ch.assertQueue(PRESENCE_QUEUE, { durable: true, arguments: { "x-message-ttl": 60_000, "x-max-length": 100_000 } });
  await ch.bindQueue(PRESENCE_QUEUE, PRESENCE_EXCHANGE, "");
  await ch.assertQueue(API_QUEUE, { durable: true });
  // Monitoring: metric batches (transient; the queue is capped, oldest dropped) and alert events.
  await ch.assertExchange(METRICS_EXCHANGE, "topic", { durable: true });
  await ch.assertExchange(ALERTS_EXCHANGE, "topic", { durable: true });
  await ch.assertQueue(METRICS_QUEUE, { durable: true, arguments: { "x-max-length": METRICS_QUEUE_MAX, "x-overflow": "drop-head" } });
  await ch.bindQueue(METRICS_QUEUE, METRICS_EXCHANGE, "metrics.#");
}
