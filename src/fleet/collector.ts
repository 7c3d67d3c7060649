/**
 * The collector: the AMQP side of FleetService. It keeps one connection (with
 * reconnect and backoff), consumes fleet.results (results, progress events and
 * dead-lettered expired commands), fleet.presence (heartbeats) and fleet.api
 * (the CLI's RPC requests: reply_to + correlation_id, as in the seeds), and
 * publishes signed commands for the service with publisher confirms.
 *
 * Invariant: a results message is acked only after its SQLite transaction
 * committed, so a collector crash loses nothing: the broker redelivers, and
 * applying a result twice is harmless (first final status wins).
 */
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from "amqplib";
import type { KeyObject } from "node:crypto";
import { join } from "node:path";
import { Backoff, brokerUser, connect, describeError, redact, sleep } from "./conn.js";
import type { AgentEvent, CommandPayload, PresenceMessage, RequestPayload, ResultMessage } from "./protocol.js";
import { FleetError, FleetService, type Publisher } from "./service.js";
import { ensureOperatorKey, fleetDir, loadTrustedKeys, verifyEnvelope, type OperatorKey } from "./sign.js";
import { FleetStore } from "./store.js";
import { TaskWatchers } from "./watch.js";

/** The AMQP `type` of watch events: a returned one means that CLI's queue is gone. */
const WATCH_TYPE = "fleet.watch";
import { ALERTS_EXCHANGE, METRICS_QUEUE, parseBatch, type MetricsBatch } from "./monitor/protocol.js";
import { MonitorError, MonitorService, type MonitorOptions } from "./monitor/service.js";
import { MetricsStore } from "./monitor/store.js";
import { monitorOp, NOT_MONITOR } from "./monitor/ops.js";
import { API_QUEUE, COMMANDS_EXCHANGE, PRESENCE_QUEUE, RESULTS_QUEUE, RK_EVENT, RK_EXPIRED, agentUser, assertSharedTopology, bindHostQueue, hostFromQueue } from "./topology.js";

/** Acks on a channel that closed meanwhile throw; the broker redelivers those messages anyway. */
function safe(fn: () => void): void {
  try {
    fn();
  } catch {
    /* channel gone */
  }
}

/** A request field that must be a list of strings (absent: empty). */
function strings(v: unknown): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw new FleetError("expected a list of names");
  return v as string[];
}

/** undefined: leave as is; null: clear; else it must have the given type. */
function optional<T extends "string" | "number">(v: unknown, type: T): (T extends "string" ? string : number) | null | undefined {
  if (v === undefined || v === null) return v;
  if (typeof v !== type) throw new FleetError(`expected a ${type}`);
  return v as T extends "string" ? string : number;
}

export interface CollectorOptions {
  url: string;
  dataDir: string;
  log: (line: string) => void;
  /** extra public keys whose signed requests (submit, cancel, hosts, reads) we accept */
  trust?: string[];
  /**
   * broker users besides our own whose messages may speak for any host (agents that share an
   * operator-level login). Enrolled agents (fleet-agent-NAME) always speak for NAME only.
   */
  trustUsers?: string[];
  sweepMs?: number;
  monitor?: MonitorOptions;
}

/** Metric batches are stored in one transaction per this many messages (or per METRICS_TX_MS, whichever first). */
const METRICS_TX_MAX = 500;
/** Results stored per transaction at most (the prefetch is twice this, so the next batch is in flight). */
const RESULTS_TX_MAX = 1000;
/** presence messages stored per transaction (the presence channel's prefetch is 256) */
const PRESENCE_TX_MAX = 256;
const METRICS_TX_MS = 50;

export class Collector implements Publisher {
  readonly store: FleetStore;
  readonly service: FleetService;
  /** monitoring: templates, metrics, alerts (src/fleet/monitor/) */
  readonly monitor: MonitorService;
  private monitorTimer: NodeJS.Timeout | undefined;
  private metricsBuf: ConsumeMessage[] = [];
  /** the channel the buffered metrics deliveries came on */
  private metricsCh: Channel | undefined;
  private metricsFlush: NodeJS.Timeout | undefined;
  private spoofLogged = new Map<string, number>();
  readonly key: OperatorKey;
  private trusted: Map<string, KeyObject>;
  /** only our own key: dead-lettered commands must be ones we signed */
  private own: Map<string, KeyObject>;
  /** our broker login: the user_id our commands carry, and a user trusted to speak for any host */
  readonly selfUser: string;
  private trustUsers: Set<string>;
  private conn: ChannelModel | undefined;
  private ch: ConfirmChannel | undefined;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private seenRequests = new Map<string, number>();
  private returned = new Set<string>();
  private readyResolve: (() => void) | undefined;
  readonly ready: Promise<void>;

  constructor(private readonly o: CollectorOptions) {
    this.key = ensureOperatorKey(o.dataDir);
    this.trusted = loadTrustedKeys(o.dataDir, o.trust ?? []);
    this.own = new Map([[this.key.keyId, this.key.publicKey]]);
    this.selfUser = brokerUser(o.url);
    this.trustUsers = new Set([this.selfUser, ...(o.trustUsers ?? [])]);
    this.store = new FleetStore(join(fleetDir(o.dataDir), "fleet.db"));
    this.service = new FleetService(this.store, this.key, o.log);
    this.monitor = new MonitorService(this.store, new MetricsStore(join(fleetDir(o.dataDir), "metrics.db")), this.key, o.log, o.monitor);
    this.service.on("groups", () => this.monitor.groupsChanged());
    this.ready = new Promise((r) => (this.readyResolve = r));
    this.watchers = new TaskWatchers(this.service, (replyTo, streamId, body) => {
      try {
        // mandatory: if the CLI's queue is gone the broker returns it and we drop the watcher.
        this.ch?.sendToQueue(replyTo, Buffer.from(JSON.stringify(body)), { correlationId: streamId, type: WATCH_TYPE, mandatory: true, contentType: "application/json" });
      } catch {
        /* channel closing: the CLI renews its watch after we reconnect */
      }
    });
  }

  private readonly watchers: TaskWatchers;

  start(): void {
    this.loop = this.connectLoop();
    this.sweeper = setInterval(() => {
      try {
        this.service.markLostHosts();
      } catch (e) {
        this.o.log(`presence sweep: ${(e as Error).message}`);
      }
      void this.service.sweep().catch((e) => this.o.log(`sweep: ${(e as Error).message}`));
    }, this.o.sweepMs ?? 1000);
    this.monitorTimer = setInterval(() => {
      try {
        this.monitor.tick();
      } catch (e) {
        this.o.log(`monitor: ${(e as Error).message}`);
      }
    }, 1000);
  }

  private async connectLoop(): Promise<void> {
    const backoff = new Backoff();
    while (!this.stopping) {
      try {
        await this.session();
        backoff.reset();
        this.readyResolve?.();
        // Until the connection closes or stop(); stop() may already have happened while we connected.
        if (!this.stopping) await new Promise<void>((r) => (this.wake = r));
      } catch (e) {
        this.o.log(`collector: broker ${redact(this.o.url)}: ${describeError(e)}`);
      }
      this.service.publisher = undefined;
      this.monitor.publisher = undefined;
      this.ch = undefined;
      const c = this.conn;
      this.conn = undefined;
      await c?.close().catch(() => {});
      if (this.stopping) break;
      const until = Date.now() + backoff.next();
      while (!this.stopping && Date.now() < until) await sleep(Math.min(100, until - Date.now()));
    }
  }

  private async session(): Promise<void> {
    const conn = await connect(this.o.url, "fleet-collector");
    this.conn = conn;
    conn.on("close", () => {
      if (this.conn === conn) {
        this.o.log("collector: connection to broker lost");
        this.wake?.();
      }
    });
    const ch = await conn.createConfirmChannel();
    ch.on("error", (e: Error) => this.o.log(`collector: channel error: ${e.message}`));
    ch.on("close", () => {
      if (this.ch === ch) this.wake?.();
    });
    ch.on("return", (m: ConsumeMessage) => {
      if (m.properties.type === WATCH_TYPE) return this.watchers.gone(m.fields.routingKey);
      if (m.properties.messageId) this.returned.add(String(m.properties.messageId));
    });
    await assertSharedTopology(ch, true);
    await ch.prefetch(256);
    this.ch = ch;
    this.service.publisher = this;
    // Results on a channel of their own: one SQLite transaction and one ack (multiple) per batch.
    const rch = await conn.createChannel();
    rch.on("error", (e: Error) => this.o.log(`collector: results channel error: ${e.message}`));
    rch.on("close", () => {
      if (this.ch === ch) this.wake?.();
    });
    await rch.prefetch(RESULTS_TX_MAX * 2);
    await rch.consume(RESULTS_QUEUE, (m) => m && this.onResultsMessage(rch, m));
    await ch.consume(PRESENCE_QUEUE, (m) => m && this.onPresence(ch, m));
    await ch.consume(API_QUEUE, (m) => m && void this.onRequest(ch, m));
    // Metrics on a channel of their own: its prefetch covers many batches per transaction.
    const mch = await conn.createChannel();
    mch.on("error", (e: Error) => this.o.log(`collector: metrics channel error: ${e.message}`));
    mch.on("close", () => {
      if (this.ch === ch) this.wake?.();
    });
    await mch.prefetch(METRICS_TX_MAX * 2);
    await mch.consume(METRICS_QUEUE, (m) => m && this.onMetrics(mch, m));
    this.monitor.publisher = this;
    this.monitor.onConnected();
    this.o.log(`fleet collector consuming on ${redact(this.o.url)}`);
    await this.service.sweep();
  }

  /** Publisher: fleet.commands, mandatory, persistent, with per-message TTL; waits for the confirm. */
  publishCommand(routingKey: string, body: Buffer, expirationMs: number, bcc?: string[]): Promise<boolean> {
    const ch = this.ch;
    if (!ch) return Promise.reject(new Error("not connected to the broker"));
    const messageId = Math.random().toString(36).slice(2) + Date.now().toString(36);
    return new Promise((resolve, reject) => {
      // user_id (checked by the broker) survives dead-lettering: an `expired` copy proves it came from us.
      ch.publish(
        COMMANDS_EXCHANGE,
        routingKey,
        body,
        {
          persistent: true,
          mandatory: true,
          expiration: String(Math.ceil(expirationMs)),
          messageId,
          contentType: "application/json",
          userId: this.selfUser,
          ...(bcc?.length ? { headers: { BCC: bcc } } : {}),
        },
        (err) => {
          if (err) return reject(err instanceof Error ? err : new Error("publish nacked"));
          // basic.return always precedes the confirm of the same message.
          const wasReturned = this.returned.delete(messageId);
          resolve(!wasReturned);
        },
      );
    });
  }

  /** MonitorPublisher: an alert event to fleet.alerts, persistent, confirmed. */
  publishAlert(routingKey: string, body: Buffer, messageId: string): Promise<void> {
    const ch = this.ch;
    if (!ch) return Promise.reject(new Error("not connected to the broker"));
    return new Promise((resolve, reject) => {
      ch.publish(ALERTS_EXCHANGE, routingKey, body, { persistent: true, messageId, contentType: "application/json", type: "alert", userId: this.selfUser }, (err) =>
        err ? reject(err instanceof Error ? err : new Error("publish nacked")) : resolve(),
      );
    });
  }

  private onMetrics(ch: Channel, m: ConsumeMessage): void {
    // Delivery tags belong to their channel: after a reconnect, what was buffered from the dead
    // channel is dropped (the broker redelivers it) and its pending flush with it, so nothing is
    // ever acked on the wrong channel (which would close the new one, or leave its deliveries
    // unacked until the prefetch window is full and metrics stop).
    if (this.metricsCh !== ch) {
      if (this.metricsFlush) clearTimeout(this.metricsFlush);
      this.metricsFlush = undefined;
      this.metricsBuf = [];
      this.metricsCh = ch;
    }
    this.metricsBuf.push(m);
    if (this.metricsBuf.length >= METRICS_TX_MAX) this.flushMetrics(ch);
    // gather for a moment: one commit per 50 ms at most, not one per message (a WAL commit costs more than a batch)
    else this.metricsFlush ??= setTimeout(() => this.flushMetrics(ch), METRICS_TX_MS);
  }

  /** Store the buffered batches in one transaction, then ack them all (multiple) — never before the commit. */
  private flushMetrics(ch: Channel): void {
    if (ch !== this.metricsCh) return; // a flush of a channel since replaced: its buffer is gone
    if (this.metricsFlush) clearTimeout(this.metricsFlush);
    this.metricsFlush = undefined;
    const msgs = this.metricsBuf;
    this.metricsBuf = [];
    if (!msgs.length) return;
    const batches: MetricsBatch[] = [];
    for (const m of msgs) {
      const b = parseBatch(m.content);
      const userId = m.properties.userId ? String(m.properties.userId) : undefined;
      if (typeof b === "string") {
        this.o.log(`collector: dropping a metrics message from ${userId ?? "(no user_id)"}: ${b}`);
        continue;
      }
      if (!this.speaksFor(userId, b.host)) {
        // once a minute per sender: a spoofing agent must not flood the audit log
        const k = `${userId}\0${b.host}`;
        if (Date.now() - (this.spoofLogged.get(k) ?? 0) > 60_000) {
          this.spoofLogged.set(k, Date.now());
          this.refuseSender(userId, "metrics", b.host);
        }
        continue;
      }
      batches.push(b);
    }
    try {
      this.monitor.ingest(batches);
    } catch (e) {
      this.o.log(`collector: could not store metrics (${(e as Error).message}); they stay in the queue`);
      setTimeout(() => safe(() => ch.nack(msgs[msgs.length - 1]!, true, true)), 1000);
      return;
    }
    safe(() => ch.ack(msgs[msgs.length - 1]!, true));
  }

  private resultsBuf: ConsumeMessage[] = [];
  private resultsFlush: NodeJS.Immediate | undefined;
  /** the channel the buffered deliveries came on (their tags mean nothing on another) */
  private resultsCh: Channel | undefined;

  /** Buffer until the end of this event-loop turn (or RESULTS_TX_MAX), then store them in one go. */
  private onResultsMessage(ch: Channel, m: ConsumeMessage): void {
    // After a reconnect, what was buffered from the dead channel is redelivered anyway.
    if (this.resultsCh !== ch) (this.resultsBuf = []), (this.resultsCh = ch);
    this.resultsBuf.push(m);
    if (this.resultsBuf.length >= RESULTS_TX_MAX) this.flushResults(ch);
    else this.resultsFlush ??= setImmediate(() => this.flushResults(this.resultsCh!));
  }

  /**
   * One transaction for the batch, then one ack covering it (multiple: the channel carries only
   * results). If the transaction fails, each message is retried alone, so one the store cannot
   * take stays in the queue (nacked, requeued after a second) without holding up the others.
   */
  private flushResults(ch: Channel): void {
    if (this.resultsFlush) clearImmediate(this.resultsFlush);
    this.resultsFlush = undefined;
    const batch = this.resultsBuf;
    this.resultsBuf = [];
    if (!batch.length) return;
    try {
      this.store.tx(() => batch.forEach((m) => this.applyResultsMessage(m)));
      safe(() => ch.ack(batch[batch.length - 1]!, true));
      return;
    } catch (e) {
      this.o.log(`collector: a batch of ${batch.length} result(s) failed (${(e as Error).message}); storing them one by one`);
    }
    for (const m of batch) {
      try {
        this.store.tx(() => this.applyResultsMessage(m));
        safe(() => ch.ack(m));
      } catch (e) {
        this.o.log(`collector: could not store a message (${(e as Error).message}); it stays in the queue`);
        setTimeout(() => safe(() => ch.nack(m, false, true)), 1000); // the store is sick: retry later, never drop
      }
    }
  }

  /**
   * Who may speak for `host`: its enrolled agent's broker user, or a user we trust with any
   * host (our own login, --trust-user). The broker guarantees user_id equals the sender's
   * login (RabbitMQ and warren alike); a message without one is anonymous and refused.
   */
  private speaksFor(userId: string | undefined, host: unknown): boolean {
    if (typeof host !== "string" || userId === undefined) return false;
    return userId === agentUser(host) || this.trustUsers.has(userId);
  }

  private refuseSender(userId: string | undefined, kind: string, host: unknown): void {
    const claimed = typeof host === "string" ? host : null;
    this.store.audit(userId ?? "(no user_id)", "spoofed", null, { kind, claimedHost: claimed });
    // say it once per sender and host in the log too: an agent started with the wrong login
    // (e.g. guest) otherwise looks healthy while everything it reports is dropped
    const key = `${userId ?? ""}\u0000${claimed ?? ""}`;
    if (this.refusalsLogged.has(key) || this.refusalsLogged.size >= 1000) return;
    this.refusalsLogged.add(key);
    const who = userId === undefined ? "a message without user_id" : `user '${userId}'`;
    const expected = claimed === null ? "" : ` (expected '${agentUser(claimed)}' or a --trust-user)`;
    this.o.log(`collector: ${kind} from ${who} claiming host ${claimed ?? "(none)"} refused${expected}; recorded in the audit log, not repeated here`);
  }
  /** (user, host) pairs whose refusal was logged (bounded) */
  private readonly refusalsLogged = new Set<string>();

  private applyResultsMessage(m: ConsumeMessage): void {
    const rk = m.fields.routingKey;
    const userId = m.properties.userId ? String(m.properties.userId) : undefined;
    let body: unknown;
    try {
      body = JSON.parse(m.content.toString());
    } catch {
      this.o.log("collector: dropping a non-JSON message on fleet.results");
      return;
    }
    const death = (m.properties.headers?.["x-death"] as Array<{ queue?: string }> | undefined)?.[0];
    if (rk === RK_EXPIRED || death) {
      // A command dead-lettered by its host queue: its TTL passed before the agent took it. Only
      // the broker's copy of a command we sent counts: our user_id (nobody else can set it), our
      // signature, and the nonce that host's row was sent.
      const host = hostFromQueue(String(death?.queue ?? ""));
      if (userId !== this.selfUser) return this.refuseSender(userId, "expired", host);
      const v = verifyEnvelope<CommandPayload>(m.content, this.own);
      if (!v.ok || v.payload.kind !== "command") return this.refuseSender(userId, "expired (not our signed command)", host);
      const p = v.payload;
      if (host && typeof p.task === "number") this.service.applyExpired(p.task, host, "TTL expired in the host's queue (host offline or busy); dead-lettered by the broker", p.nonce);
      return;
    }
    const b = body as { kind?: string; host?: string };
    if (!this.speaksFor(userId, b.host)) return this.refuseSender(userId, b.kind ?? "result", b.host);
    if (rk === RK_EVENT || b.kind === "started" || b.kind === "output") this.service.applyEvent(body as AgentEvent);
    else if (b.kind === "result") this.service.applyResult(body as ResultMessage, `${userId}@${b.host}`);
  }

  private presenceBuf: ConsumeMessage[] = [];
  private presenceFlush: NodeJS.Immediate | undefined;
  private presenceCh: ConfirmChannel | undefined;

  /**
   * Heartbeats are buffered until the end of this event-loop turn and stored in one SQLite
   * transaction: 10,000 agents coming online (or their heartbeats) one autocommit each kept
   * the collector busy into the next task's results.
   */
  private onPresence(ch: ConfirmChannel, m: ConsumeMessage): void {
    if (this.presenceCh !== ch) (this.presenceBuf = []), (this.presenceCh = ch); // a dead channel's deliveries come again
    this.presenceBuf.push(m);
    if (this.presenceBuf.length >= PRESENCE_TX_MAX) this.flushPresence();
    else this.presenceFlush ??= setImmediate(() => this.flushPresence());
  }

  private flushPresence(): void {
    if (this.presenceFlush) clearImmediate(this.presenceFlush);
    this.presenceFlush = undefined;
    const batch = this.presenceBuf;
    this.presenceBuf = [];
    const ch = this.presenceCh;
    if (!batch.length || !ch) return;
    const stored: PresenceMessage[] = [];
    const parse = (m: ConsumeMessage): PresenceMessage | null => {
      try {
        const p = JSON.parse(m.content.toString()) as PresenceMessage;
        const userId = m.properties.userId ? String(m.properties.userId) : undefined;
        if (this.speaksFor(userId, p?.host)) return p;
        this.refuseSender(userId, "presence", p?.host);
      } catch (e) {
        this.o.log(`collector: bad presence message: ${(e as Error).message}`);
      }
      return null;
    };
    const valid = batch.map(parse);
    try {
      this.store.tx(() => valid.forEach((p) => p && this.service.storePresence(p) && stored.push(p)));
    } catch (e) {
      // one the store cannot take must not lose the others: store them one by one
      this.o.log(`collector: a batch of ${batch.length} presence message(s) failed (${(e as Error).message}); storing them one by one`);
      stored.length = 0;
      for (const p of valid) {
        try {
          if (p && this.service.storePresence(p)) stored.push(p);
        } catch (e2) {
          this.o.log(`collector: could not store presence of ${String(p?.host)}: ${(e2 as Error).message}`);
        }
      }
    }
    for (const p of stored) {
      try {
        this.monitor.onPresence(p.host, p.state, p.rev);
      } catch (e) {
        this.o.log(`collector: monitoring could not take the presence of ${p.host}: ${(e as Error).message}`);
      }
    }
    if (stored.length) this.service.hostsChanged();
    for (const m of batch) safe(() => ch.ack(m));
  }

  /** RPC: every request is a signed RequestPayload (reads too: a vhost user without the operator key learns nothing). */
  private async onRequest(ch: ConfirmChannel, m: ConsumeMessage): Promise<void> {
    let reply: unknown;
    try {
      reply = { ok: true, data: await this.handleSigned(m.content, m.properties.replyTo ? String(m.properties.replyTo) : undefined) };
    } catch (e) {
      reply = { ok: false, error: (e as Error).message, status: e instanceof FleetError || e instanceof MonitorError ? e.status : 500 };
    }
    const { replyTo, correlationId } = m.properties;
    if (replyTo) {
      try {
        ch.sendToQueue(String(replyTo), Buffer.from(JSON.stringify(reply)), { correlationId, contentType: "application/json" });
      } catch {
        /* the caller went away */
      }
    }
    safe(() => ch.ack(m));
  }

  private async handleSigned(content: Buffer, replyTo: string | undefined): Promise<unknown> {
    const v = verifyEnvelope<RequestPayload>(content, this.trusted);
    if (!v.ok) throw new FleetError(`request refused: ${v.reason} (every Fleet request must be signed by a trusted operator key)`, 403);
    const p = v.payload;
    const now = Date.now();
    if (p.kind !== "request" || p.exp < now) throw new FleetError("request refused: expired or not a request", 403);
    for (const [n, exp] of this.seenRequests) if (exp < now) this.seenRequests.delete(n);
    if (this.seenRequests.has(p.nonce)) throw new FleetError("request refused: replayed", 403);
    this.seenRequests.set(p.nonce, p.exp);
    const b = p.body ?? {};
    const mon = monitorOp(this.monitor, p.op, b, p.user);
    if (mon !== NOT_MONITOR) return mon;
    switch (p.op) {
      case "task": {
        const t = this.service.view(Number(b.id));
        if (!t) throw new FleetError(`no task ${String(b.id)}`, 404);
        return t;
      }
      case "watch": {
        // Live events for one task to the caller's reply queue (watch.ts); answers with the view now.
        const t = this.service.view(Number(b.id));
        if (!t) throw new FleetError(`no task ${String(b.id)}`, 404);
        if (!replyTo || typeof b.stream !== "string" || !/^[A-Za-z0-9-]{1,64}$/.test(b.stream)) throw new FleetError("watch needs a reply queue and a stream id");
        try {
          this.watchers.watch(t.id, replyTo, b.stream);
        } catch (e) {
          throw new FleetError((e as Error).message, 503);
        }
        return t;
      }
      case "tasks":
        return this.service.tasks(b);
      case "hosts":
        return this.service.hostsView();
      case "audit":
        return this.store.recentAudit(Number(b.limit ?? 50));
      case "submit":
        return this.service.submit({ ...(b as object), user: p.user } as Parameters<FleetService["submit"]>[0]);
      case "cancel":
        return this.service.cancel(Number(b.id), p.user);
      case "hosts.add": {
        const name = String(b.name);
        const groups = (b.groups as string[] | undefined) ?? [];
        const previous = this.service.addHost(name, groups, p.user);
        // The enrolled agent may not bind: we bind its queue for exactly its enrolled groups.
        await this.withChannel((ch) => bindHostQueue(ch, name, groups, previous));
        return { name };
      }
      case "hosts.remove":
        return { removed: this.service.removeHost(String(b.name), p.user) };
      case "hosts.set":
        return this.service.setHost(String(b.name), optional(b.address, "string"), optional(b.port, "number"), p.user);
      case "groups":
        return this.service.groupsView();
      case "groups.add":
        return this.service.addGroup(String(b.name), typeof b.description === "string" ? b.description : "", strings(b.hosts), p.user);
      case "groups.rm":
        return this.service.removeGroup(String(b.name), p.user);
      case "groups.assign":
      case "groups.unassign":
        return this.service.assignGroup(String(b.name), strings(b.hosts), p.op === "groups.assign", p.user);
      default:
        throw new FleetError(`unknown request ${JSON.stringify(p.op)}`);
    }
  }

  /** A short-lived channel for topology changes (an error closes it, not our consuming one). */
  private async withChannel(fn: (ch: Channel) => Promise<void>): Promise<void> {
    if (!this.conn) throw new FleetError("not connected to the broker", 503);
    const ch = await this.conn.createChannel();
    ch.on("error", () => {});
    try {
      await fn(ch);
    } finally {
      await ch.close().catch(() => {});
    }
  }

  async close(): Promise<void> {
    this.stopping = true;
    this.watchers.close();
    if (this.sweeper) clearInterval(this.sweeper);
    if (this.monitorTimer) clearInterval(this.monitorTimer);
    this.wake?.();
    await this.loop;
    this.monitor.store.close();
    this.store.close();
  }
}
