/**
 * What the broker, the AMQP server and the management API know of the cluster a node is
 * in (src/cluster implements it; a single node has none: `Broker.cluster` is null and
 * nothing here is ever called). Types only, so the lower layers do not import etcd code.
 */

import type { OtherNodesCounts } from "./limits.js";

export type NodeType = "disc" | "ram";

export interface ClusterMember {
  name: string;
  /** the random id kept in the node's data directory (node.id) */
  id: string;
  type: NodeType;
  /** holds a live lease in etcd right now */
  running: boolean;
  /** the last facts the node published about itself (listeners, memory, pid, …) */
  info: Record<string, unknown> | null;
}

export interface ClusterView {
  readonly nodeName: string;
  readonly clusterName: string;
  /** every member, this node included, sorted by name */
  members(): ClusterMember[];
  /**
   * Resolves once every definition change made on this node so far is committed to etcd
   * and applied by every running node (rejects when etcd cannot be reached).
   */
  barrier(): Promise<void>;
  /**
   * Before declaring an exchange or queue this node does not have: make the declare the
   * cluster's first for that name, or wait until the winner's declare is applied here, so
   * the equivalence check (406) runs against the cluster-wide definition.
   */
  claim(kind: "exchange" | "queue", vhost: string, name: string): Promise<void>;
  /**
   * The management listeners of the other running members (what each published in etcd with
   * its lease), for the cluster-wide views of the management API (src/http/peers.ts).
   */
  peerEndpoints(): { node: string; host: string; port: number }[];
  /** the connections and channels the other running members last published (vhost and user limits count the cluster's) */
  otherNodesCounts(): OtherNodesCounts;
  /** the consumers the other running members last published on a queue homed here (eventual) */
  remoteConsumers(vhost: string, name: string): number;
  /** the internal user the nodes use with each other (node links, management fan-out) */
  linkCredentials(): { user: string; pass: string };
  /** bumped by every definition change this node makes (not by those it applies from others) */
  readonly changes: number;
  /** `stop_app` / `start_app`: client listeners closed or open (the node stays a member) */
  readonly appRunning: boolean;
  /** the node a durable queue lives on (its declaring node; a quorum queue's leader), undefined for a node-local queue */
  queueHome(vhost: string, name: string): string | undefined;
  /** a quorum queue's replicas: leader (null during an election), members, online members, in-sync members */
  quorumInfo(vhost: string, name: string): { leader: string | null; members: string[]; online: string[]; isr: string[]; epoch: number } | undefined;

  // rabbitmqctl's cluster verbs (src/http/resources/cluster.ts); errors carry rabbitmqctl's texts
  stopApp(): Promise<void>;
  startApp(): Promise<void>;
  /** join_cluster: this node (app stopped) becomes a member of `via`'s cluster, as `type` */
  join(via: string, type: NodeType): Promise<void>;
  /** change_cluster_node_type (app stopped) */
  setType(type: NodeType): Promise<void>;
  /** reset / force_reset: this node (app stopped; force: even if not) leaves the cluster */
  reset(force: boolean): Promise<void>;
  /** forget_cluster_node: remove a stopped member and the durable queues homed on it */
  forget(node: string): Promise<void>;

  // rabbitmq-queues' quorum verbs (src/http/resources/cluster.ts)
  /** quorum_status: one row per member */
  quorumStatus(vhost: string, name: string): Record<string, unknown>[];
  /** add_member / delete_member; errors carry rabbitmq-queues' texts */
  changeMember(vhost: string, name: string, node: string, add: boolean): Promise<void>;
  /** grow <node> all|even / shrink <node>: one result row per queue */
  growShrink(node: string, grow: boolean, strategy: "all" | "even", vhostPattern: string, queuePattern: string): Promise<{ vhost: string; name: string; size: number; result: string }[]>;
}

/** A cluster verb refused: the message rabbitmqctl would print, and its exit status. */
export class ClusterError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/**
 * A durable queue whose home is another node, as this node's Queue object reaches it. The
 * local Queue then holds no messages of its own: routed messages are forwarded home, and
 * while it has local consumers it pulls from the home node into a small local buffer
 * (bounded by the link's prefetch), so prefetch, acks, nacks, redelivery and cancel work
 * through the ordinary queue and channel code. Implemented by src/cluster/remote.ts.
 */
export interface RemoteHome {
  /** the home node's name (listings' `node`) */
  readonly node: string;
  /** the home node holds a live lease */
  readonly available: boolean;
  /** send a routed message home; resolves true once the home node has it (its confirm) */
  forward(msg: import("./message.js").Message): Promise<boolean>;
  /** the first local consumer came / the last one left */
  startPulling(): void;
  stopPulling(): void;
  /** the local buffer let go of a pulled message (acked, dropped, expired, purged) */
  released(msg: import("./message.js").Message): void;
  /** is this pulled message still unacked at home through the current link (false once the link is gone) */
  holds(msg: import("./message.js").Message): boolean;
}

/**
 * A quorum queue's leader (src/cluster/replication.ts): the Queue tells it every enqueue and
 * every removal (ack, purge, expiry, dead-letter, drop), which it streams to the followers.
 * `enqueued` adds to `forwarding.pending` what the publisher's confirm must wait for (the
 * in-sync followers' acks). Null on every other queue.
 */
export interface QueueReplica {
  enqueued(msg: import("./message.js").Message): void;
  removed(msg: import("./message.js").Message): void;
}

/**
 * Forwards made while routing one publish (the publisher sets `pending` to [] before routing
 * on a cluster member, and waits for them before confirming). Null on a single node.
 */
export const forwarding: { pending: Promise<boolean>[] | null } = { pending: null };

export function homeDownError(node: string, queue: string, vhost: string): string {
  return `home node '${node}' of durable queue '${queue}' in vhost '${vhost}' is down or inaccessible`;
}
