/**
 * The Fleet agent: one per host. It owns the durable queue fleet.host.<name>,
 * bound on fleet.commands for "host.<name>" and "group.<g>" of each group; it
 * verifies each command (trusted Ed25519 signature, addressed to it, not
 * expired, nonce never seen), runs it (exec.ts), publishes the result with a
 * publisher confirm and only then acks the command. Commands it refuses get a
 * `rejected` result saying why.
 *
 * Invariants: a nonce is journalled (fsync) before its command starts, so it
 * never runs twice, even across restarts; a command taken and not finished at
 * a crash is reported `interrupted` on restart (never re-run); while the broker
 * is away running commands keep running and their results wait in the journal.
 * Not here: deciding targets or storing results (collector.ts).
 */
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from "amqplib";
import type { KeyObject } from "node:crypto";
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { Backoff, brokerUser, connect, describeError, redact, sleep } from "./conn.js";
import { execute, type ExecSpec, type Running } from "./exec.js";
import { gatherFacts } from "./facts.js";
import { Journal } from "./journal.js";
import type { CancelPayload, CommandPayload, PresenceMessage, ResultMessage, SignedPayload, AgentEvent } from "./protocol.js";
import { verifyEnvelope } from "./sign.js";
import { admitPush, PUSH_MAX_BYTES, writePushed } from "./push.js";
import { Monitor } from "./monitor/runner.js";
import type { ConfigPayload } from "./monitor/protocol.js";
import { COMMANDS_EXCHANGE, PRESENCE_EXCHANGE, RESULTS_EXCHANGE, RK_EVENT, RK_RESULT, agentUser, assertSharedTopology, bindHostQueue, hostQueue } from "./topology.js";

export interface AgentOptions {
  name: string;
  groups: string[];
  url: string;
  /** the URL carries the local collector's own login (beside `warren server`): no note about it */
  loginTrusted?: boolean;
  /** where the journal lives: <stateDir>/journal.log */
  stateDir: string;
  trusted: Map<string, KeyObject>;
  concurrency: number;
  maxOutput: number;
  heartbeatMs: number;
  /** how long a graceful stop waits for running commands before interrupting them */
  graceMs: number;
  log: (line: string) => void;
  /**
   * Runs a command. Only code can pass one: `warren agent` never does (no flag, no environment
   * variable), so a real agent always spawns with exec.ts. The control-plane bench passes its
   * no-op (bench/fleet-noop.ts, not shipped in the package) — test/fleet/operator.test.ts checks
   * both.
   */
  executor?: (spec: ExecSpec) => Running;
  /**
   * false: the journal is written but not fdatasync'd. Only the control-plane bench sets it (its
   * thousands of simulated hosts share one disk, where a real fleet has one each); like
   * `executor`, no flag or environment variable reaches it.
   */
  journalSync?: boolean;
  /**
   * Directories `warren push` may write into (--push-dir, repeatable). Empty or absent: every
   * push is refused — a stolen operator key then runs commands but cannot drop files.
   */
  pushDirs?: string[];
  /** largest pushed file accepted (--push-max; default and ceiling PUSH_MAX_BYTES) */
  pushMax?: number;
}

interface Job {
  payload: CommandPayload;
  /** a push admitted by admitPush: where, what, which mode */
  push?: { dest: string; data: Buffer; mode: number };
  msg: ConsumeMessage;
  gen: number;
  run?: Running;
  /** output events published and not yet confirmed, and whether the command's pipes are paused for them */
  out?: { inflight: number; paused: boolean };
}

const OUTPUT_FLUSH_MS = 200;
/**
 * `started` is announced once a command has run this long, or with its first output: a command
 * that finishes sooner without printing (`true`, `test -f …`, `systemctl is-active -q …`, the
 * bench's no-op) sends only its result, which carries startedAt. That halves the messages the
 * broker routes and the collector stores for it; a long command still shows `running` this soon.
 */
const STARTED_QUIET_MS = 200;
const OUTPUT_CHUNK = 64 * 1024;
/**
 * Output events in flight (published, not yet confirmed by the broker) before the command's
 * pipes stop being read: a command printing 16 MB costs the agent about this much memory, and
 * the command blocks on its full pipe while the broker catches up.
 */
const OUTPUT_WINDOW = 4 * OUTPUT_CHUNK;

export class Agent {
  private journal: Journal;
  private conn: ChannelModel | undefined;
  private ch: ConfirmChannel | undefined;
  /** bumps on every (re)connect: delivery tags of older channels are dead */
  private gen = 0;
  private running = new Map<string, Job>();
  private pending: Job[] = [];
  private stopping = false;
  private consumerTag: string | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** the broker cancelled the command consumer of the current session */
  private consumerCancelled = false;
  private facts;
  /** monitoring: the signed template this host runs and its metric batches (monitor/runner.ts) */
  readonly monitor: Monitor;

  constructor(private readonly o: AgentOptions) {
    this.journal = new Journal(join(o.stateDir, "journal.log"), o.journalSync ?? true);
    this.monitor = new Monitor({ host: o.name, stateDir: o.stateDir, log: o.log, userId: brokerUser(o.url) });
    this.facts = gatherFacts(o.concurrency);
    // Anything started by a previous process and never finished was interrupted: say so, never re-run.
    for (const s of this.journal.nonces.values()) {
      if (s.started && !s.result) {
        o.log(`task ${s.task}: interrupted by an agent restart; reporting it`);
        void this.journal.result(s.nonce, this.resultFor(s.task, s.nonce, "interrupted", { error: "the agent stopped while the command ran; its outcome is unknown and it was not re-run" }));
      }
    }
  }

  start(): void {
    this.loop = this.connectLoop();
    this.monitor.start();
  }

  private async connectLoop(): Promise<void> {
    // 1 s doubling to 60 s, full jitter: after a broker restart 10,000 agents come back spread
    // over a second, then over 2, 4 … s for those the broker could not take yet (docs/fleet.md)
    const backoff = new Backoff(1000, 60_000);
    while (!this.stopping) {
      try {
        await this.session();
        backoff.reset();
        // Until the connection closes or stop(); stop() may already have happened while we connected.
        if (!this.stopping && !this.consumerCancelled) await new Promise<void>((r) => (this.wake = r)); // until the connection closes or stop()
      } catch (e) {
        this.o.log(`broker ${redact(this.o.url)}: ${describeError(e)}`);
      }
      await this.dropConnection();
      if (this.stopping) break;
      const wait = backoff.next();
      this.o.log(`reconnecting in ${wait} ms`);
      const until = Date.now() + wait;
      while (!this.stopping && Date.now() < until) await sleep(Math.min(100, until - Date.now()));
    }
  }

  private async dropConnection(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    this.ch = undefined;
    // No broker: live output is dropped (the result keeps the captured part), never held back.
    for (const job of this.running.values()) {
      if (!job.out) continue;
      job.out.inflight = 0;
      if (job.out.paused) (job.out.paused = false), job.run?.resumeOutput();
    }
    this.monitor.connected(undefined);
    this.consumerTag = undefined;
    // Not-yet-started commands were unacked on the dead channel: the broker redelivers them.
    this.pending = [];
    const c = this.conn;
    this.conn = undefined;
    // Awaited: a clean stop exits the process next, and the close must have left the socket.
    await c?.close().catch(() => {});
  }

  private async session(): Promise<void> {
    this.consumerCancelled = false;
    const conn = await connect(this.o.url, `fleet-agent ${this.o.name}`);
    this.conn = conn;
    conn.on("close", () => {
      if (this.conn === conn) {
        this.o.log("connection to broker lost");
        this.wake?.();
      }
    });
    // Three independent set-ups side by side on their own channels (one after another they were
    // ~15 round trips; 10,000 agents connecting at once are that many times 10,000 replies):
    // topology check + our queue and bindings; the command channel; the metrics channel.
    const [, ch, mch] = await Promise.all([this.ensureQueue(conn), this.commandChannel(conn), this.metricsChannel(conn)]);
    this.ch = ch;
    this.gen++;
    // Confirms of output events sent on the dead channel will not come: start each window afresh.
    for (const job of this.running.values()) {
      if (!job.out) continue;
      job.out.inflight = 0;
      if (job.out.paused) (job.out.paused = false), job.run?.resumeOutput();
    }
    await this.flushJournal(ch);
    this.monitor.connected(mch);
    await this.presence("online");
    this.heartbeat = setInterval(() => void this.presence("heartbeat"), this.o.heartbeatMs);
    this.heartbeat.unref();
    // Exclusive: while we are connected nobody else (even with read permission) can take our commands.
    const { consumerTag } = await ch.consume(
      hostQueue(this.o.name),
      (m) => {
        if (m) return this.onDelivery(m);
        // basic.cancel from the broker (RabbitMQ's consumer cancel notification: the queue was
        // deleted, or its node went down): without a consumer the agent would idle, connected
        // but deaf; start over (reconnect, declare, consume) instead
        if (this.ch !== ch) return;
        this.o.log("the broker cancelled the command consumer (queue deleted or its node down); reconnecting");
        this.consumerCancelled = true;
        this.wake?.();
      },
      { noAck: false, exclusive: true },
    );
    this.consumerTag = consumerTag;
    this.o.log(`agent ${this.o.name} ready on ${redact(this.o.url)} (groups: ${this.o.groups.join(",") || "-"})`);
    const user = brokerUser(this.o.url);
    if (user !== agentUser(this.o.name) && !this.o.loginTrusted && !this.loginNoted) {
      // the collector believes only fleet-agent-NAME (or a user it trusts) about host NAME
      this.loginNoted = true;
      this.o.log(
        `note: logged in as '${user}', not '${agentUser(this.o.name)}': the collector drops what this agent reports unless it trusts '${user}' (its own login or --trust-user); enrol with \`warren hosts add ${this.o.name}\``,
      );
    }
  }
  private loginNoted = false;

  private async commandChannel(conn: ChannelModel): Promise<ConfirmChannel> {
    const ch = await conn.createConfirmChannel();
    ch.on("error", (e: Error) => this.o.log(`channel error: ${e.message}`));
    ch.on("close", () => {
      if (this.ch === ch) this.wake?.();
    });
    // Prefetch beyond the concurrency limit so a cancel can overtake queued work.
    await ch.prefetch(this.o.concurrency + 32);
    return ch;
  }

  /**
   * Exchanges are created by operators/collector; an enrolled agent has no configure permission
   * on them, so it only checks (passive declare). Then declare our queue and, with operator-level
   * credentials (an agent beside `warren server`), bind it for our host and groups. An enrolled
   * agent may not bind (no read permission on fleet.commands): the collector bound its queue for
   * its enrolled groups at `hosts add`. One channel for all of it, closed without waiting.
   */
  private async ensureQueue(conn: ChannelModel): Promise<void> {
    let ch: Channel = await conn.createChannel();
    ch.on("error", () => {});
    try {
      await ch.checkExchange(COMMANDS_EXCHANGE);
      await ch.checkExchange(RESULTS_EXCHANGE);
    } catch {
      /* 404: not there yet — try to create it (works with operator-level credentials) */
      const c = await conn.createChannel();
      c.on("error", () => {});
      try {
        await assertSharedTopology(c, true);
        await c.close();
      } catch (e) {
        throw new Error(`Fleet exchanges are missing and this user may not create them (start the collector or \`warren server\` first): ${describeError(e)}`);
      }
      ch = await conn.createChannel();
      ch.on("error", () => {});
    }
    await this.bindQueue(ch);
  }

  private async bindQueue(ch: Channel): Promise<void> {
    const q = hostQueue(this.o.name);
    // Leaving a group must stop its commands reaching us: unbind groups we had before.
    const file = join(this.o.stateDir, "groups.json");
    let before: string[] = [];
    if (existsSync(file)) {
      try {
        before = JSON.parse(readFileSync(file, "utf8")) as string[];
      } catch {
        before = [];
      }
    }
    try {
      await bindHostQueue(ch, this.o.name, this.o.groups, before); // declares the queue first
      void ch.close().catch(() => {});
    } catch (e) {
      if (!/ACCESS_REFUSED|403/.test(describeError(e))) throw e;
      if (!this.bindRefusedLogged) this.o.log(`this broker user may not bind queues: ${q} receives what \`warren hosts add ${this.o.name} --groups …\` bound it to`);
      this.bindRefusedLogged = true;
      return;
    }
    if (JSON.stringify(before) === JSON.stringify(this.o.groups)) return;
    mkdirSync(this.o.stateDir, { recursive: true });
    writeFileSync(file, JSON.stringify(this.o.groups));
  }

  private bindRefusedLogged = false;

  /** Metrics go on a channel of their own: a failed publish there (exchange missing) cannot close the command channel. */
  private async metricsChannel(conn: ChannelModel): Promise<ConfirmChannel> {
    const mch = await conn.createConfirmChannel();
    mch.on("error", (e: Error) => this.o.log(`metrics channel error: ${e.message}`));
    mch.on("close", () => this.monitor.connected(undefined));
    return mch;
  }

  /** Publish results the journal holds but the broker never confirmed (earlier crash or outage). */
  private async flushJournal(ch: ConfirmChannel): Promise<void> {
    for (const s of this.journal.nonces.values()) {
      if (!s.result || s.acked || this.running.has(s.nonce)) continue;
      await this.publishResult(ch, s.result);
      void this.journal.acked(s.nonce);
    }
  }

  private resultFor(task: number | null, nonce: string | null, status: ResultMessage["status"], extra: Partial<ResultMessage> = {}): ResultMessage {
    return { kind: "result", task, host: this.o.name, nonce, status, finishedAt: Date.now(), ...extra };
  }

  private publishResult(ch: ConfirmChannel, r: ResultMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      ch.publish(RESULTS_EXCHANGE, RK_RESULT, Buffer.from(JSON.stringify(r)), { persistent: true, contentType: "application/json", type: "result", ...this.userId() }, (err) =>
        err ? reject(err) : resolve(),
      );
    });
  }

  /** user_id property: the broker checks it is our login, so the collector knows who reported. */
  private userId(): { userId: string } {
    return { userId: brokerUser(this.o.url) };
  }

  private publishEvent(ev: AgentEvent): void {
    try {
      this.ch?.publish(RESULTS_EXCHANGE, RK_EVENT, Buffer.from(JSON.stringify(ev)), { contentType: "application/json", type: ev.kind, ...this.userId() });
    } catch {
      /* progress events are best effort; the final result carries everything */
    }
  }

  /**
   * Publish our presence. `offline` (a clean stop) waits for the broker's confirm, so it is
   * routed to fleet.presence before our connection closes; heartbeats are fire-and-forget.
   */
  private async presence(state: PresenceMessage["state"]): Promise<void> {
    const ch = this.ch;
    if (!ch) return;
    const m: PresenceMessage = { kind: "presence", host: this.o.name, groups: this.o.groups, state, heartbeatMs: this.o.heartbeatMs, facts: this.facts, at: Date.now(), rev: this.monitor.rev };
    const body = Buffer.from(JSON.stringify(m));
    const props = { contentType: "application/json", type: "presence", ...this.userId() };
    try {
      if (state !== "offline") return void ch.publish(PRESENCE_EXCHANGE, "", body, props);
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error("no confirm within 5 s")), 5000);
        ch.publish(PRESENCE_EXCHANGE, "", body, props, (err) => (clearTimeout(t), err ? reject(err) : resolve()));
      });
    } catch (e) {
      // A heartbeat: the next one will do. `offline`: the collector sees our silence as `lost`.
      if (state === "offline") this.o.log(`could not announce offline: ${describeError(e)}`);
    }
  }

  /** Refuse: publish a `rejected` result saying why, then ack (a refused command is final). */
  private async refuse(m: ConsumeMessage, gen: number, reason: string, p?: Partial<SignedPayload>): Promise<void> {
    this.o.log(`refused a command: ${reason}`);
    const q = p as { task?: unknown; nonce?: unknown } | undefined;
    const task = typeof q?.task === "number" ? q.task : null;
    const nonce = typeof q?.nonce === "string" ? q.nonce : null;
    await this.finishDelivery(m, gen, this.resultFor(task, nonce, "rejected", { error: reason }), null);
  }

  /** Publish `r` (confirmed), then ack `m` if its channel is still ours. */
  private async finishDelivery(m: ConsumeMessage, gen: number, r: ResultMessage, journalNonce: string | null): Promise<void> {
    const ch = this.ch;
    if (!ch || gen !== this.gen) return; // the broker will redeliver; the journal has the result
    try {
      await this.publishResult(ch, r);
      if (journalNonce) void this.journal.acked(journalNonce);
      this.ack(m, gen);
    } catch (e) {
      this.o.log(`could not publish a result (will retry after reconnect): ${describeError(e)}`);
    }
  }

  /** Ack on the channel the delivery came from, if it is still open (else the broker redelivers). */
  private ack(m: ConsumeMessage, gen: number): void {
    if (gen !== this.gen) return;
    try {
      this.ch?.ack(m);
    } catch {
      /* channel closed under us: redelivery is handled by the nonce journal */
    }
  }

  private onDelivery(m: ConsumeMessage): void {
    const gen = this.gen;
    const v = verifyEnvelope<SignedPayload>(m.content, this.o.trusted);
    if (!v.ok) return void this.refuse(m, gen, (v.payload as { kind?: unknown } | undefined)?.kind === "config" ? `template refused: ${v.reason}` : v.reason, v.payload);
    const p = v.payload;
    if (p.kind === "config") return void this.onConfig(m, gen, p);
    if (p.kind !== "command" && p.kind !== "cancel") return void this.refuse(m, gen, `not a command (kind ${String((p as { kind?: unknown }).kind)})`, p);
    const t = p.target as Partial<{ host: string; group: string; hosts: string[] }>;
    // A group command names the members it was signed for: a host that joined later (or a
    // copy replayed into its queue) is not one of them.
    const mine = t.host !== undefined ? t.host === this.o.name : t.group !== undefined && this.o.groups.includes(t.group) && Array.isArray(t.hosts) && t.hosts.includes(this.o.name);
    if (!mine) return void this.refuse(m, gen, `not addressed to this host (target ${JSON.stringify(t.host !== undefined ? t : { group: t.group })})`, p);
    if (typeof p.exp !== "number" || p.exp < Date.now()) return void this.refuse(m, gen, `expired at ${new Date(p.exp).toISOString()}`, p);
    if (p.kind === "cancel") return void this.onCancel(m, gen, p);
    this.onCommand(m, gen, p);
  }

  /** A signed template push (already verified): apply it, or report why not. Applying is idempotent, so no journal. */
  private onConfig(m: ConsumeMessage, gen: number, p: ConfigPayload): void {
    if (p.target?.host !== this.o.name) return void this.refuse(m, gen, `template refused: not addressed to this host (target ${JSON.stringify(p.target)})`);
    if (typeof p.exp !== "number" || p.exp < Date.now()) return void this.refuse(m, gen, `template refused: expired at ${new Date(p.exp).toISOString()}`);
    const why = this.monitor.apply(p);
    if (why) return void this.refuse(m, gen, why);
    this.ack(m, gen);
  }

  private onCommand(m: ConsumeMessage, gen: number, p: CommandPayload): void {
    const job = this.running.get(p.nonce);
    if (job) {
      // Redelivered after a reconnect while still running here: ack this delivery when it ends.
      job.msg = m;
      job.gen = gen;
      return;
    }
    const known = this.journal.nonces.get(p.nonce);
    if (known) {
      if (m.fields.redelivered && known.result) {
        // The same delivery again (our ack was lost with a connection): the result is out already.
        if (known.acked) return this.ack(m, gen);
        return void this.finishDelivery(m, gen, known.result, p.nonce);
      }
      return void this.refuse(m, gen, `replayed nonce ${p.nonce} (already taken at task ${known.task})`, p);
    }
    let push: Job["push"];
    if (p.push !== undefined) {
      const a = admitPush(p.push, { pushDirs: this.o.pushDirs ?? [], maxBytes: Math.min(this.o.pushMax ?? PUSH_MAX_BYTES, PUSH_MAX_BYTES) });
      if ("reason" in a) return void this.refuse(m, gen, a.reason, p);
      push = a;
    } else if (typeof p.shell !== "string" && !(Array.isArray(p.argv) && p.argv.length > 0)) return void this.refuse(m, gen, "no command (neither shell nor argv)", p);
    if (this.pending.some((j) => j.payload.nonce === p.nonce)) return this.ack(m, gen);
    this.pending.push({ payload: p, msg: m, gen, ...(push ? { push } : {}) });
    // Start on the next turn: a cancel delivered in the same burst then finds it still pending.
    setImmediate(() => this.pump());
  }

  private onCancel(m: ConsumeMessage, gen: number, p: CancelPayload): void {
    for (const job of this.running.values()) if (job.payload.task === p.task) job.run?.cancel();
    const keep: Job[] = [];
    for (const job of this.pending) {
      if (job.payload.task !== p.task) keep.push(job);
      else {
        const r = this.resultFor(job.payload.task, job.payload.nonce, "cancelled", { error: `cancelled by ${p.user} before it started` });
        void this.journal
          .seen(job.payload.nonce, job.payload.task, job.payload.exp)
          .then(() => this.journal.result(job.payload.nonce, r))
          .then(
            () => this.finishDelivery(job.msg, job.gen, r, job.payload.nonce),
            (e: Error) => this.o.log(`journal write failed: ${e.message}`),
          );
      }
    }
    this.pending = keep;
    this.ack(m, gen);
  }

  private pump(): void {
    while (!this.stopping && this.running.size < this.o.concurrency && this.pending.length > 0) {
      const job = this.pending.shift()!;
      void this.runJob(job);
    }
  }

  private async runJob(job: Job): Promise<void> {
    const p = job.payload;
    this.running.set(p.nonce, job);
    try {
      await this.journal.start(p.nonce, p.task, p.exp); // on disk before anything runs: never twice
    } catch (e) {
      // Without a durable nonce we cannot promise "never twice": leave the command unacked for later.
      this.running.delete(p.nonce);
      this.o.log(`journal write failed, not running task ${p.task}: ${(e as Error).message}`);
      return;
    }
    const startedAt = Date.now();
    let announced = false;
    const announce = (): void => {
      if (announced) return;
      announced = true;
      clearTimeout(announcer);
      this.publishEvent({ kind: "started", task: p.task, host: this.o.name, nonce: p.nonce, at: startedAt });
    };
    const announcer = setTimeout(announce, STARTED_QUIET_MS);
    // Output events: the first chunk after a quiet spell leaves at once (a live --follow sees
    // it within milliseconds), later ones at most every OUTPUT_FLUSH_MS, and never more than
    // OUTPUT_CHUNK buffered (a command printing 16 MB streams in bounded pieces).
    const buf = { stdout: "", stderr: "" };
    let lastFlush = 0;
    let flusher: NodeJS.Timeout | undefined;
    const win: { inflight: number; paused: boolean } = (job.out = { inflight: 0, paused: false });
    const confirmed = (n: number) => (): void => {
      win.inflight -= n;
      if (win.paused && win.inflight <= OUTPUT_WINDOW / 2) {
        win.paused = false;
        job.run?.resumeOutput();
      }
    };
    const flush = (): void => {
      if (flusher) clearTimeout(flusher);
      flusher = undefined;
      if (!buf.stdout && !buf.stderr) return;
      announce(); // output implies started, and a --follow should see the start before it
      lastFlush = Date.now();
      for (const stream of ["stdout", "stderr"] as const) {
        const data = buf[stream];
        if (!data) continue;
        buf[stream] = "";
        const ch = this.ch;
        if (!ch) continue; // no broker: live output is best effort (the result carries the captured part)
        win.inflight += data.length;
        try {
          ch.publish(
            RESULTS_EXCHANGE,
            RK_EVENT,
            Buffer.from(JSON.stringify({ kind: "output", task: p.task, host: this.o.name, nonce: p.nonce, stream, data })),
            { contentType: "application/json", type: "output", ...this.userId() },
            confirmed(data.length),
          );
        } catch {
          win.inflight -= data.length;
        }
      }
    };
    // false pauses the command's pipes (exec.ts) until confirms bring the window down again
    const onOutput = (s: "stdout" | "stderr", d: string): boolean => {
      buf[s] += d;
      if (buf[s].length >= OUTPUT_CHUNK) flush();
      else flusher ??= setTimeout(flush, Math.max(0, lastFlush + OUTPUT_FLUSH_MS - Date.now()));
      if (win.inflight + buf.stdout.length + buf.stderr.length < OUTPUT_WINDOW) return true;
      win.paused = true;
      return false;
    };
    const maxOutput = Math.min(this.o.maxOutput, p.maxOutput ?? Infinity);
    const env = { FLEET_HOST: this.o.name, FLEET_TASK: String(p.task) };
    const spec = { timeoutMs: p.timeoutMs, maxOutput, env, onOutput };
    const run = this.o.executor ?? execute;
    job.run = job.push ? writePushed(job.push.dest, job.push.data, job.push.mode) : run(p.argv ? { ...spec, argv: p.argv } : { ...spec, shell: p.shell ?? "" });
    const out = await job.run.done;
    flush();
    clearTimeout(announcer); // finished before it was worth announcing: the result says when it started
    const r = this.resultFor(p.task, p.nonce, out.status, {
      exitCode: out.exitCode,
      signal: out.signal,
      stdout: out.stdout,
      stderr: out.stderr,
      truncated: out.truncated,
      startedAt,
      ...(out.error ? { error: out.error } : {}),
    });
    if (this.stopping && out.status === "cancelled") {
      r.status = "interrupted";
      r.error = "the agent was stopped while the command ran; its process group was killed";
    }
    await this.journal.result(p.nonce, r).catch((e: Error) => this.o.log(`journal write failed: ${e.message}`));
    this.running.delete(p.nonce);
    this.o.log(`task ${p.task}: ${r.status}${r.exitCode != null ? ` (exit ${r.exitCode})` : ""}`);
    await this.finishDelivery(job.msg, job.gen, r, p.nonce);
    this.pump();
  }

  /** Graceful stop: take nothing new, let running commands finish (up to graceMs), report, close. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const ch = this.ch;
    if (ch && this.consumerTag) await ch.cancel(this.consumerTag).catch(() => {});
    this.monitor.stop();
    const deadline = Date.now() + this.o.graceMs;
    while (this.running.size > 0 && Date.now() < deadline) await sleep(50);
    for (const job of this.running.values()) job.run?.cancel();
    while (this.running.size > 0) await sleep(50);
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    await this.presence("offline");
    this.wake?.();
    await this.loop;
    await this.journal.close();
  }
}
