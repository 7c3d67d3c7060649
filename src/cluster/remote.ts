/**
 * Any node serves any queue: the node links. A durable queue lives on the node that declared
 * it (its home, as a RabbitMQ classic queue); on every other member its Queue object gets a
 * RemoteHome from here (broker/cluster-view.ts):
 *
 * - publish: the message was routed on this node; it is published to the home node's queue
 *   by name (default exchange) on one confirm channel per (home node, vhost), so the order of
 *   one publisher's messages to one queue is kept, and the publisher's confirm waits for the
 *   home node's.
 * - consume: while the local Queue has consumers, a link channel consumes from the home
 *   queue (manual ack, prefetch PULL_WINDOW) and puts each message into the local Queue,
 *   which delivers it with the usual prefetch/ack/nack/redelivery code; when the local queue
 *   lets a message go (ack, drop, expiry) it is acked at home. When the last local consumer
 *   leaves, the link channel is closed: the home node requeues what it had not been acked
 *   for (redelivered=true), as for any consumer that goes away.
 *
 * The link is an AMQP 0-9-1 connection (amqplib) as the internal user warren-cluster, whose
 * password lives in etcd next to the cluster's other secrets (docs/cluster.md).
 */
import amqp from "amqplib";
import { Decimal, LongString, TypedValue, type FieldTable, type FieldValue } from "../amqp/field-table.js";
import { encodeProperties, type BasicProperties } from "../amqp/properties.js";
import type { Broker } from "../broker/broker.js";
import type { RemoteHome } from "../broker/cluster-view.js";
import { Message } from "../broker/message.js";
import type { Queue } from "../broker/queue.js";
import type { Logger } from "../lib/logger.js";

export const CLUSTER_USER = "warren-cluster";
/** how many messages a non-home node holds unacked from a home queue at a time */
const PULL_WINDOW = 200;

export interface PeerDirectory {
  /** the AMQP address a running member published, or null when it is not running */
  amqpAddress(node: string): { host: string; port: number } | null;
}

const AMQPLIB_TYPE: Record<string, string> = { b: "int8", B: "uint8", s: "int16", u: "uint16", I: "int32", i: "uint32", l: "int64", f: "float", d: "double", T: "timestamp" };

/** warren's field values as amqplib encodes them, keeping the wire types */
function toAmqplib(v: FieldValue): unknown {
  if (v instanceof TypedValue) return { "!": AMQPLIB_TYPE[v.type] ?? "int64", value: Number(v.value) };
  if (typeof v === "bigint") return { "!": "int64", value: Number(v) };
  if (v instanceof Decimal) return { "!": "decimal", value: { places: v.scale, digits: v.value } };
  if (v instanceof LongString) return v.toString();
  if (Array.isArray(v)) return v.map(toAmqplib);
  if (v !== null && typeof v === "object" && !Buffer.isBuffer(v)) return tableToAmqplib(v as FieldTable);
  return v;
}

function tableToAmqplib(t: FieldTable): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in t) if (t[k] !== undefined) out[k] = toAmqplib(t[k]!);
  return out;
}

function publishOptions(p: BasicProperties): amqp.Options.Publish {
  const o: Record<string, unknown> = {};
  for (const k of ["contentType", "contentEncoding", "deliveryMode", "priority", "correlationId", "replyTo", "expiration", "messageId", "timestamp", "type", "userId", "appId", "clusterId"] as const) {
    if (p[k] !== undefined) o[k] = p[k];
  }
  if (p.headers !== undefined) o["headers"] = tableToAmqplib(p.headers);
  return o as amqp.Options.Publish;
}

function propertiesOf(m: amqp.MessageProperties): BasicProperties {
  const p: BasicProperties = {};
  const src = m as unknown as Record<string, unknown>;
  for (const k of ["contentType", "contentEncoding", "deliveryMode", "priority", "correlationId", "replyTo", "expiration", "messageId", "timestamp", "type", "userId", "appId", "clusterId"] as const) {
    if (src[k] !== undefined) (p as Record<string, unknown>)[k] = src[k];
  }
  if (m.headers !== undefined && Object.keys(m.headers).length > 0) p.headers = m.headers as FieldTable;
  return p;
}

/** One AMQP connection to one (node, vhost), opened on first use and again after it fails. */
class Link {
  private conn: Promise<amqp.ChannelModel> | null = null;
  private pub: Promise<amqp.ConfirmChannel> | null = null;

  constructor(
    private readonly links: PeerLinks,
    readonly node: string,
    readonly vhost: string,
  ) {}

  connection(): Promise<amqp.ChannelModel> {
    if (this.conn) return this.conn;
    const addr = this.links.dir.amqpAddress(this.node);
    if (!addr) return Promise.reject(new Error(`node ${this.node} is not running`));
    const { user, pass } = this.links.credentials;
    const url = `amqp://${encodeURIComponent(user)}:${encodeURIComponent(pass)}@${addr.host}:${addr.port}/${encodeURIComponent(this.vhost)}`;
    const p = this.links.ensureAccess(this.vhost).then(() => amqp.connect(url, { clientProperties: { connection_name: `warren-cluster link ${this.links.self} -> ${this.node}` } }));
    this.conn = p;
    p.then(
      (c) => {
        c.on("error", () => {});
        c.on("close", () => this.reset(p));
      },
      () => this.reset(p),
    );
    return p;
  }

  private reset(p: Promise<amqp.ChannelModel>): void {
    if (this.conn !== p) return;
    this.conn = null;
    this.pub = null;
    this.links.linkLost(this);
  }

  publisher(): Promise<amqp.ConfirmChannel> {
    if (this.pub) return this.pub;
    const p = this.connection().then(async (c) => {
      const ch = await c.createConfirmChannel();
      ch.on("error", () => {});
      ch.on("close", () => {
        if (this.pub === p) this.pub = null;
      });
      return ch;
    });
    this.pub = p;
    p.catch(() => {
      if (this.pub === p) this.pub = null;
    });
    return p;
  }

  close(): void {
    const c = this.conn;
    this.conn = null;
    this.pub = null;
    void c?.then((x) => x.close()).catch(() => {});
  }
}

export class PeerLinks {
  private readonly links = new Map<string, Link>();
  private readonly homes = new Set<RemoteQueue>();

  constructor(
    readonly self: string,
    readonly dir: PeerDirectory,
    readonly credentials: { user: string; pass: string },
    readonly log: Logger,
    /** make sure the link user may use this vhost on every node (a replicated permission) */
    readonly ensureAccess: (vhost: string) => Promise<void>,
  ) {}

  link(node: string, vhost: string): Link {
    const k = `${node}\u0000${vhost}`;
    let l = this.links.get(k);
    if (!l) this.links.set(k, (l = new Link(this, node, vhost)));
    return l;
  }

  /** Give the queue a RemoteHome on `node` (or none, when it lives here). */
  attach(q: Queue, node: string, available: (node: string) => boolean): void {
    if (node === this.self) {
      q.remote = null;
      return;
    }
    const r = new RemoteQueue(this, q, node, available);
    q.remote = r;
    this.homes.add(r);
  }

  detach(r: RemoteQueue): void {
    this.homes.delete(r);
  }

  /**
   * A quorum queue's RemoteHome follows its leader (replication.ts): re-point it to `node`
   * (null: an election is under way; forwards are refused, pulling waits). Local consumers
   * stay: they are served from the new leader, which redelivers what was not acked.
   */
  point(q: Queue, node: string | null, available: () => boolean): void {
    const r = q.remote;
    if (r instanceof RemoteQueue && r.follows) return r.repoint(node);
    if (r instanceof RemoteQueue) {
      r.stopPulling();
      this.homes.delete(r);
    }
    const nr = new RemoteQueue(this, q, node ?? this.self, () => available(), true);
    if (node === null) nr.repoint(null);
    q.remote = nr;
    this.homes.add(nr);
    if (q.consumers.length > 0) nr.startPulling();
  }

  /** This node now leads the quorum queue: it holds the messages itself. */
  unpoint(q: Queue): void {
    const r = q.remote;
    if (!(r instanceof RemoteQueue)) return;
    r.stopPulling();
    r.retire();
    this.homes.delete(r);
    q.remote = null;
  }

  linkLost(l: Link): void {
    for (const r of this.homes) if (r.node === l.node && r.queue.vhost === l.vhost) r.linkLost();
  }

  close(): void {
    for (const l of this.links.values()) l.close();
    this.links.clear();
  }
}

class RemoteQueue implements RemoteHome {
  /** the link channel pulling from home while there are local consumers */
  private puller: Promise<amqp.Channel> | null = null;
  /** delivery tags at home of the messages in the local buffer */
  private readonly tags = new Map<Message, { ch: amqp.Channel; tag: number }>();
  /** a quorum queue's: no leader right now (an election is under way) */
  private leaderless = false;
  private retry: NodeJS.Timeout | null = null;
  private retired = false;
  /** a quorum queue's forwards not yet answered by the leader they went to */
  private readonly inFlight = new Set<(ok: boolean) => void>();

  constructor(
    private readonly links: PeerLinks,
    readonly queue: Queue,
    public node: string,
    private readonly isRunning: (node: string) => boolean,
    /** a quorum queue's: follows the leader (repoint), survives its home going away */
    readonly follows = false,
  ) {}

  get available(): boolean {
    return this.isRunning(this.node);
  }

  private failInFlight(): void {
    if (this.inFlight.size === 0) return;
    const fs = [...this.inFlight];
    this.inFlight.clear();
    for (const f of fs) f(false);
  }

  repoint(node: string | null): void {
    if (node !== this.node || node === null) this.failInFlight();
    if (node === null) {
      if (this.leaderless) return;
      this.leaderless = true;
      this.dropPuller();
      return;
    }
    if (node === this.node && !this.leaderless) return;
    this.dropPuller();
    this.leaderless = false;
    this.node = node;
    if (this.queue.consumers.length > 0) this.startPulling();
  }

  retire(): void {
    this.failInFlight();
    this.retired = true;
    if (this.retry) clearTimeout(this.retry);
  }

  /** close the pull channel; what it had not acked is redelivered by the leader */
  private dropPuller(): void {
    const p = this.puller;
    this.puller = null;
    if (p) void p.then((ch) => ch.close()).catch(() => {});
    this.tags.clear();
    if (this.queue.ready.length > 0) this.queue.purge();
  }

  /** quorum queues: try again shortly (the leader may be starting, or about to change) */
  private retryLater(): void {
    if (!this.follows || this.retry || this.retired) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      if (!this.retired && this.queue.consumers.length > 0 && !this.queue.deleted) this.startPulling();
    }, 250);
  }

  forward(msg: Message): Promise<boolean> {
    if (this.queue.deleted || this.leaderless || this.retired) return Promise.resolve(false);
    const body = msg.body ?? Buffer.alloc(0);
    return this.links
      .link(this.node, this.queue.vhost)
      .publisher()
      .then(
        (ch) =>
          new Promise<boolean>((resolve) => {
            // a quorum queue's forward is failed (nacked) if its leader changes before it answers:
            // a deposed or cut-off leader may never answer, and the publisher's later confirms wait on it
            const done = (ok: boolean): void => {
              if (this.follows) this.inFlight.delete(done);
              resolve(ok);
            };
            if (this.follows) this.inFlight.add(done);
            try {
              ch.publish("", this.queue.name, body, publishOptions(msg.properties), (err) => done(!err));
            } catch {
              done(false);
            }
          }),
      )
      .catch((e: Error) => {
        this.links.log.warn(`cluster: cannot forward a message to queue '${this.queue.name}' on ${this.node}: ${e.message}`);
        return false;
      });
  }

  startPulling(): void {
    if (this.puller || this.queue.deleted || this.leaderless || this.retired) return;
    const q = this.queue;
    const p = this.links
      .link(this.node, q.vhost)
      .connection()
      .then(async (c) => {
        const ch = await c.createChannel();
        ch.on("error", () => {});
        // never more than the queue's max-length: the local buffer must not drop what home keeps
        const maxLen = q.settings.maxLength;
        await ch.prefetch(maxLen !== undefined && maxLen > 0 ? Math.min(PULL_WINDOW, maxLen) : PULL_WINDOW);
        if (this.follows) {
          ch.on("close", () => {
            if (this.puller !== p) return;
            this.dropPuller();
            this.retryLater();
          });
        }
        await ch.consume(q.name, (d) => {
          if (d === null) {
            // cancelled at home: the queue was deleted (the metadata log deletes it here too), or its leader changed
            if (this.follows && this.puller === p) {
              this.dropPuller();
              this.retryLater();
            }
            return;
          }
          if (this.puller !== p || q.deleted) return;
          const props = propertiesOf(d.properties);
          const msg = new Message(d.fields.exchange, d.fields.routingKey, props, encodeProperties(props), d.content, d.content.length, Date.now());
          this.tags.set(msg, { ch, tag: d.fields.deliveryTag });
          q.publish(msg, msg.publishedAt, true, d.fields.redelivered);
        });
        return ch;
      });
    this.puller = p;
    p.catch((e: Error) => {
      if (this.puller !== p) return;
      this.puller = null;
      if (this.follows) return this.retryLater();
      this.links.log.warn(`cluster: cannot consume queue '${q.name}' from its home node ${this.node}: ${e.message}`);
      // home unreachable (e.g. killed, its lease not yet expired): cancel the local consumers as
      // when the home goes away, rather than leave them attached to nothing for good
      this.cancelConsumers();
    });
  }

  stopPulling(): void {
    const p = this.puller;
    if (!p) return;
    this.puller = null;
    // closing the link channel makes the home node requeue everything not acked yet
    void p.then((ch) => ch.close()).catch(() => {});
    this.tags.clear();
    this.queue.purge();
  }

  holds(msg: Message): boolean {
    return this.tags.has(msg);
  }

  released(msg: Message): void {
    const t = this.tags.get(msg);
    if (!t) return;
    this.tags.delete(msg);
    try {
      t.ch.ack({ fields: { deliveryTag: t.tag } } as amqp.Message);
    } catch {
      /* the link channel is gone: the home node requeued it */
    }
  }

  /** The home node went away: its queue is unavailable; local consumers are cancelled, as RabbitMQ does. */
  linkLost(): void {
    if (!this.puller) return;
    if (this.follows) {
      // a quorum queue: the consumers stay; pull again from whoever leads
      this.dropPuller();
      return this.retryLater();
    }
    this.puller = null;
    this.cancelConsumers();
  }

  private cancelConsumers(): void {
    this.tags.clear();
    this.queue.purge();
    for (const c of [...this.queue.consumers]) {
      this.queue.removeConsumer(c);
      c.host.cancelledByServer(c);
    }
  }
}

/** Wire RemoteHomes into the broker's queues from the homes the definitions log names. */
export function attachHomes(broker: Broker, links: PeerLinks, homes: Map<string, string>, available: (node: string) => boolean): void {
  for (const [key, node] of homes) {
    const [vhost, name] = key.split("\u0000") as [string, string];
    const q = broker.vhosts.get(vhost)?.queues.get(name);
    if (q && (q.remote === null) !== (node === links.self)) links.attach(q, node, available);
  }
}
