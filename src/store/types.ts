/**
 * The ports through which the broker persists state. The broker (src/broker)
 * depends only on these interfaces; src/store implements them on disk, and a
 * memory implementation exists for embedded/transient use.
 *
 * Invariants:
 *  - A message routed to several durable queues is persisted once (one record),
 *    referenced by each queue; it is deleted from disk when no queue references it.
 *  - persist()/remove() are synchronous from the broker's point of view (they
 *    buffer writes); sync(cb) calls cb once everything submitted before the call
 *    is durable according to the configured FsyncPolicy (group commit: one fsync
 *    serves all callers that arrived meanwhile). Removals reach the OS in the same
 *    event-loop turn (they survive kill -9) but under "always" they are fsynced
 *    lazily (timer, segment deletion, close), not on the confirm path: a power loss
 *    can bring a just-acked message back (redelivered), never lose a confirmed one.
 *  - recover() may return keys of queues that no longer exist (deleted while the
 *    broker was down, or definitions lost); the broker should deleteQueue() them.
 *  - Recovered messages routed to several queues are ONE shared RecoveredMessage
 *    object in each queue's list, and propertiesRaw buffers may be shared between
 *    messages: treat them as read-only.
 *  - A storeId is 0 (not stored), a durable record's id, or a paged-out transient
 *    body's id; the broker tells them apart only with isDurableId / isPagedId below,
 *    never by the numbers themselves.
 *  - Nothing here knows AMQP: properties are kept as the opaque encoded bytes
 *    of the content header's property list (flags + values).
 */

/** What the store needs to know about a message. src/broker/message.ts implements it. */
export interface StorableMessage {
  exchange: string;
  routingKey: string;
  /** encoded basic properties (property flags + property list), as in the content header */
  propertiesRaw: Buffer;
  /** null when the body has been paged out to disk (then storeId != 0) */
  body: Buffer | null;
  bodySize: number;
  /** 0 = not on disk; otherwise the store's id for this message's record */
  storeId: number;
}

/** One message of a durable queue as found on disk at start. */
export interface RecoveredMessage {
  storeId: number;
  exchange: string;
  routingKey: string;
  propertiesRaw: Buffer;
  /** body loaded eagerly for small backlogs; null when left on disk (readBody later) */
  body: Buffer | null;
  bodySize: number;
  /** keys of the queues that had delivered it before the restart (it comes back redelivered there) */
  deliveredIn?: string[];
}

/**
 * always:   confirm only after fsync (group commit). Loses nothing confirmed, even on power loss.
 * interval: fsync every `fsyncIntervalMs`; confirm after the write reached the OS. Survives
 *           kill -9 (the OS has the data); a power loss can lose the last interval.
 * none:     never fsync; confirm after write to the OS. Survives kill -9, not power loss.
 */
export type FsyncPolicy = "always" | "interval" | "none";

export interface MessageStore {
  /**
   * Persist `msg` for the given durable queues (queue keys, see queueKey()).
   * Sets msg.storeId. Called once per message whatever the number of queues.
   */
  persist(msg: StorableMessage, queueKeys: readonly string[]): void;
  /** Queue `queueKey` no longer holds the message (acked, purged, expired, dropped, dead-lettered). */
  remove(queueKey: string, storeId: number): void;
  /**
   * Queue `queueKey` delivered the message for the first time (to a consumer or basic.get that
   * must ack): after a restart it comes back redelivered=true, messages never delivered come back
   * redelivered=false. Buffered with the turn's other writes (no sync of its own), like
   * RabbitMQ's queue-index "delivered" mark.
   */
  markDelivered(queueKey: string, storeId: number): void;
  /**
   * Invoke cb when everything persisted before this call is durable per the policy
   * (removals: see the invariant above). On an I/O error cb gets the error (nack the
   * publishes); the store keeps the data and retries, it never throws here.
   */
  sync(cb: (err?: Error) => void): void;
  /** Read a paged-out body back (synchronously; used on delivery). */
  readBody(storeId: number): Buffer;
  /**
   * Write a transient message's body to a scratch file so the queues can drop it from memory
   * (backlogs beyond memory), once for `holders` queues (default 1). Sets msg.storeId; scratch
   * data is never recovered.
   */
  pageOut(msg: StorableMessage, holders?: number): void;
  /** One more queue holds a paged-out body (a fanout: the body stays on disk once for all). */
  retainPaged(storeId: number): void;
  /** A queue no longer holds a paged-out body (delivered+acked, dropped); gone with the last holder. */
  releasePaged(storeId: number): void;
  /** All messages per durable queue key, in queue order. Called once at start, before any persist. */
  recover(): Map<string, RecoveredMessage[]>;
  /**
   * Forget every reference held by a deleted durable queue. Calls made before
   * recover() (and before any persist) are definitions-log replay and are ignored:
   * that deletion is already on disk, and re-applying it would hit a queue
   * re-declared under the same name afterwards.
   */
  deleteQueue(queueKey: string): void;
  /** Flush, fsync and close files. */
  close(): Promise<void>;
  /** Disk/latency stats for management and logs. */
  stats(): { messages: number; bytes: number; segments: number; corruptRecords?: number; diskWrites?: number; diskReads?: number };
}

/**
 * Append-only log of durable definitions (vhosts, users, permissions, exchanges,
 * queues, bindings, policies, parameters). Each entry is a plain JSON-able command
 * object; the broker replays them in order at start. Compacted from a snapshot
 * the broker supplies.
 */
export interface DefinitionsStore {
  append(cmd: Record<string, unknown>): void;
  /** Commands to replay, in order (the last snapshot, then what was appended after it). */
  load(): Record<string, unknown>[];
  /** Commands the log holds now (the broker compares it with the live definitions). */
  readonly count: number;
  /**
   * Replace the log with this (smaller) list of commands that recreates the same state,
   * atomically: after a crash at any point the log is either the old one or the new one.
   */
  compact(cmds: Record<string, unknown>[]): void;
  /** Invoke cb when appended definitions are durable. */
  sync(cb: (err?: Error) => void): void;
  close(): Promise<void>;
}

/** Stable key for a durable queue in the store. */
export function queueKey(vhost: string, queue: string): string {
  return `${vhost}\u0000${queue}`;
}

/** Paged-out transient bodies get ids from here up; durable records stay below (2^48). */
export const PAGED_ID_BASE = 2 ** 50;

/** The id of a message persisted in the store (survives a restart). */
export function isDurableId(storeId: number): boolean {
  return storeId !== 0 && storeId < PAGED_ID_BASE;
}

/** The id of a transient body paged out to scratch space (gone at restart; releasePaged when done). */
export function isPagedId(storeId: number): boolean {
  return storeId >= PAGED_ID_BASE;
}
