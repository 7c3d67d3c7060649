/**
 * One AMQP connection over TCP: the socket, frame dispatch to channels (the
 * handshake's methods to handshake.ts until it is done; then channel methods to
 * the handlers with this connection's Session, session.ts), heartbeats,
 * connection.blocked, read holds (flow control, fairness), and the single place
 * where protocol errors become channel.close (soft errors on a channel) or
 * connection.close (hard errors, channel 0, framing).
 *
 * Invariants: after we send connection.close only close-ok/close are processed;
 * after we send channel.close only that channel's close-ok/close are; the
 * socket is destroyed at most CLOSE_TIMEOUT after we start closing.
 */
import type { Socket } from "node:net";
import { ACCESS_REFUSED, AmqpError, CHANNEL_ERROR, COMMAND_INVALID, CONNECTION_FORCED, NOT_ALLOWED, UNEXPECTED_FRAME, internalError, isHardError, replyName } from "../amqp/errors.js";
import type { FieldTable } from "../amqp/field-table.js";
import { frameTerm, unknownFrame, FrameReader, FRAME_BODY, FRAME_HEADER, FRAME_HEARTBEAT, FRAME_METHOD, PROTOCOL_HEADER, HEARTBEAT_FRAME, type FrameSink } from "../amqp/frames.js";
import * as M from "../amqp/gen/methods.js";
import type { Broker, ConnectionInfo } from "../broker/broker.js";
import type { User } from "../broker/auth.js";
import type { VHost } from "../broker/vhost.js";
import type { FlowGate, FlowHolder } from "../broker/flow.js";
import { Channel, ChannelState, unexpected } from "./channel.js";
import { Outbox } from "./outbox.js";
import { channelMessageStats } from "./describe.js";
import { explicitIds, hasExplicitIds } from "./explicit-ids.js";
import { Publisher } from "./publish.js";
import { dispatchChannelMethod } from "./handlers/index.js";
import { Handshake, MIN_FRAME_MAX, SERVER_CHANNEL_MAX, SERVER_FRAME_MAX, SILENT_CLOSE, type HandshakeResult } from "./handshake.js";
import type { Server } from "./server.js";
import type { Capabilities, Session } from "./session.js";

export { SERVER_CHANNEL_MAX, SERVER_FRAME_MAX };

/**
 * RabbitMQ's handshake_timeout (10 s) — counted here as the time the *client* leaves us waiting
 * (since its last byte or our last handshake reply, whichever is later; never while its password
 * is being checked), and checked only after pending socket reads were processed. Counted from
 * accept, as before, a broker busy with 10,000 agents connecting at once timed out clients whose
 * replies sat unread in its own event loop. HANDSHAKE_MAX still bounds a slow (or slowloris)
 * handshake as a whole.
 */
const HANDSHAKE_TIMEOUT = 10_000;
const HANDSHAKE_MAX = 60_000;
/** output backlog past which we stop reading the client (4x the delivery high-water mark) */
const READ_PAUSE_BYTES = 4 * 1024 * 1024;
const CLOSE_TIMEOUT = 3_000;
/** bytes read from one socket before it yields to the other connections (see onData) */
const READ_TURN_BYTES = 256 * 1024;

/** reasons for not reading a socket (Connection.readHolds) */
const HOLD_OUTPUT = 1; // our output to the client is backed up
const HOLD_ALARM = 2; // a memory/disk alarm blocks publishers
const HOLD_FLOW = 4; // a congested queue holds this publisher
const HOLD_TURN = 8; // yielded its turn to other connections
const HOLD_CLUSTER = 16; // a topology change is being committed to the cluster

/** connections that yielded their read turn, resumed together once the loop has served the rest */
const yielded: Connection[] = [];
function yieldTurn(c: Connection): void {
  if (yielded.push(c) === 1) setImmediate(resumeYielded);
}
function resumeYielded(): void {
  const list = yielded.splice(0, yielded.length);
  for (const c of list) c.releaseReading(HOLD_TURN);
}

/**
 * rabbit_reader's SILENT_CLOSE_DELAY: a client that fails the handshake (refused login
 * without authentication_failure_close, unknown mechanism, oversized start-ok) hears
 * nothing for 3 s before the socket closes, which also slows down password guessing.
 */
const SILENT_CLOSE_DELAY = 3_000;

const enum State {
  /** header, start/start-ok, login, tune/tune-ok, open: handshake.ts */
  Handshaking,
  Open,
  /** we sent connection.close and wait for close-ok */
  Closing,
  /** the client closed and got close-ok; the socket is left for it to close (see lingerUntilClientCloses) */
  Lingering,
  Closed,
}

let nextId = 1;

export class Connection implements FrameSink, ConnectionInfo, FlowHolder {
  readonly id = nextId++;
  readonly name: string;
  readonly outbox: Outbox;
  /** until connection.open-ok; then null and `session` is set */
  private handshake: Handshake | null;
  /** the open connection as channels and handlers see it (null until open) */
  session: Session | null = null;
  readonly channels = new Map<number, Channel>();
  /** channels whose close crossed ours: the close-ok the client still owes us is ignored */
  private crossedCloses: Set<number> | null = null;
  /** until tune-ok, frames are limited to the protocol's minimum frame size (as in rabbit_reader) */
  private readonly reader = new FrameReader(MIN_FRAME_MAX);
  private state = State.Handshaking;
  frameMax = SERVER_FRAME_MAX;
  channelMax = SERVER_CHANNEL_MAX;
  heartbeat = 0;
  lastRecv = Date.now();
  lastSend = Date.now();
  user: User | null = null;
  vhost: VHost | null = null;
  clientProperties: FieldTable = {};
  capabilities: Capabilities;
  readonly connectedAt = Date.now();
  private timer: NodeJS.Timeout | null = null;
  /** blocked by a resource alarm: reading held once the client publishes */
  blocked = false;
  private blockedSent = false;
  stats = { recvOct: 0, sendOct: 0, recvCnt: 0, publish: 0 };

  constructor(
    readonly socket: Socket,
    readonly broker: Broker,
    readonly server: Server,
  ) {
    this.name = `${socket.remoteAddress}:${socket.remotePort} -> ${socket.localAddress}:${socket.localPort}`;
    this.outbox = new Outbox(socket);
    this.outbox.onWritable = () => this.kickConsumers();
    this.handshake = new Handshake(this.handshakePeer());
    this.capabilities = this.handshake.capabilities;
    socket.setNoDelay(true);
    socket.on("data", (d: Buffer) => this.onData(d));
    socket.on("error", () => {});
    socket.on("close", () => this.onSocketClosed());
    this.armHandshakeTimer(HANDSHAKE_TIMEOUT);
  }

  /** when we last sent a handshake method (the client's turn starts then) */
  private handshakeSentAt = Date.now();

  private armHandshakeTimer(ms: number): void {
    // setImmediate: the check runs after this loop turn's I/O, so a reply already in our socket
    // buffer (unread because the loop was busy) counts before we judge the client silent
    this.timer = setTimeout(() => setImmediate(() => this.checkHandshake()), ms);
    this.timer.unref();
  }

  private checkHandshake(): void {
    this.timer = null;
    if (this.state !== State.Handshaking) return;
    const now = Date.now();
    const age = now - this.connectedAt;
    const waitingOnUs = this.handshake?.authenticating ?? false;
    const silent = now - Math.max(this.lastRecv, this.handshakeSentAt);
    if (age >= HANDSHAKE_MAX || (!waitingOnUs && silent >= HANDSHAKE_TIMEOUT)) {
      this.broker.log.debug(`connection ${this.name}: handshake timeout (${age} ms since accept, client silent ${silent} ms)`);
      this.destroy();
      return;
    }
    this.armHandshakeTimer(Math.max(50, Math.min(waitingOnUs ? 1000 : HANDSHAKE_TIMEOUT - silent, HANDSHAKE_MAX - age)));
  }

  get userName(): string {
    return this.user?.name ?? "";
  }

  get openChannels(): number {
    return this.channels.size;
  }

  get vhostName(): string {
    return this.vhost?.name ?? "";
  }

  get loopback(): boolean {
    const a = this.socket.remoteAddress ?? "";
    return a.startsWith("127.") || a === "::1" || a.startsWith("::ffff:127.");
  }

  // ---- input -----------------------------------------------------------------

  private onData(d: Buffer): void {
    if (this.state === State.Closed) return;
    this.lastRecv = Date.now();
    this.stats.recvOct += d.length;
    try {
      if (this.handshake?.awaitingHeader) {
        d = this.handshake.onBytes(d);
        if (d.length === 0) return;
      }
      this.reader.push(d, this);
    } catch (e) {
      this.handleError(e, 0, 0);
    }
    // A client that sends but does not read (returns, confirms, method replies pile up)
    // stops being read until its socket drains: its memory cost stays bounded.
    if (this.outbox.pendingBytes > READ_PAUSE_BYTES && (this.readHolds & HOLD_OUTPUT) === 0) {
      this.holdReading(HOLD_OUTPUT);
      this.socket.once("drain", () => this.releaseReading(HOLD_OUTPUT));
    }
    // Fairness: after READ_TURN_BYTES, let every other connection have its turn before
    // reading more (libuv would otherwise read up to 32 chunks from this socket in a row).
    this.turnBytes += d.length;
    if (this.turnBytes >= READ_TURN_BYTES && this.readHolds === 0) {
      this.turnBytes = 0;
      this.holdReading(HOLD_TURN);
      yieldTurn(this);
    }
  }

  // ---- cluster: waiting for the cluster before going on -------------------------

  /**
   * Frames that arrived while this connection waits for the cluster (a declare's first
   * claim, a topology change being committed): copied, and replayed in order afterwards.
   * Always null on a single node (the only per-frame cost is that null check).
   */
  private deferred: Buffer[] | null = null;

  private deferFrame(type: number, channel: number, buf: Buffer, start: number, end: number): boolean {
    const f = Buffer.allocUnsafe(3 + end - start);
    f[0] = type;
    f.writeUInt16BE(channel, 1);
    buf.copy(f, 3, start, end);
    this.deferred!.push(f);
    return true;
  }

  /**
   * Stop reading and processing this connection's frames (and, with holdOutput, its output)
   * until `p` settles; then run `then` (or turn the rejection into a channel/connection
   * error) and replay the frames that came meanwhile.
   */
  awaitCluster(p: Promise<unknown>, holdOutput: boolean, ch: number, methodId: number, then?: () => void): void {
    this.deferred ??= [];
    this.holdReading(HOLD_CLUSTER);
    if (holdOutput) this.outbox.held = true;
    void this.settleCluster(p, ch, methodId, then);
  }

  private async settleCluster(p: Promise<unknown>, ch: number, methodId: number, then?: () => void): Promise<void> {
    const cluster = this.broker.cluster!;
    try {
      await p;
      if (this.state === State.Closed) return;
      if (then) {
        // the method itself, now that the cluster decided: its answer waits for the barrier too
        const before = cluster.changes;
        try {
          then();
        } catch (e) {
          this.handleError(e, ch, methodId);
        }
        if (cluster.changes !== before) {
          this.outbox.held = true;
          await cluster.barrier();
        }
      }
      this.outbox.release();
    } catch (e) {
      this.outbox.release();
      if (this.state === State.Closed) return;
      this.broker.log.error(`connection ${this.name}: cluster: ${(e as Error).message}`);
      this.closeWithError(internalError(`the cluster's metadata store (etcd) did not take the change: ${(e as Error).message}`));
      return;
    }
    this.replayDeferred();
  }

  private replayDeferred(): void {
    const q = this.deferred;
    this.deferred = null;
    if (q !== null) {
      for (let i = 0; i < q.length; i++) {
        if (this.state === State.Closed) return;
        const f = q[i]!;
        try {
          this.onFrame(f[0]!, f.readUInt16BE(1), f, 3, f.length);
        } catch (e) {
          this.handleError(e, 0, 0);
        }
        if (this.deferred !== null) {
          // waiting again: the rest stays queued ahead of anything read later
          (this.deferred as Buffer[]).unshift(...q.slice(i + 1));
          return;
        }
      }
    }
    this.releaseReading(HOLD_CLUSTER);
  }

  // ---- read holds: why the socket is not being read ---------------------------

  /** bitmask of HOLD_*; the socket is read only while it is 0 */
  private readHolds = 0;
  private turnBytes = 0;
  /** queues whose flow gate holds this connection (see broker/flow.ts) */
  private flowGates: Set<FlowGate> | null = null;
  /** when flow control last held this connection (management: "flow" for a second after) */
  flowHeldAt = 0;

  private holdReading(why: number): void {
    if (this.readHolds === 0 && this.state !== State.Closed) this.socket.pause();
    this.readHolds |= why;
  }

  releaseReading(why: number): void {
    if ((this.readHolds & why) === 0) return;
    this.readHolds &= ~why;
    if (this.readHolds === 0 && this.state !== State.Closed) this.socket.resume();
  }

  /** FlowHolder: a congested queue holds this (publishing) connection. */
  heldBy(gate: FlowGate): void {
    (this.flowGates ??= new Set()).add(gate);
    this.flowHeldAt = Date.now();
    this.holdReading(HOLD_FLOW);
  }

  /** FlowHolder: the queue caught up. */
  releasedBy(gate: FlowGate): void {
    const gs = this.flowGates;
    if (gs === null || !gs.delete(gate) || gs.size > 0) return;
    this.releaseReading(HOLD_FLOW);
  }

  /** "flow" while held and for a second after, as RabbitMQ's credit_flow:state/0 reports */
  get inFlow(): boolean {
    return (this.readHolds & HOLD_FLOW) !== 0 || Date.now() - this.flowHeldAt < 1000;
  }

  onFrame(type: number, channel: number, buf: Buffer, start: number, end: number): boolean {
    if (this.state === State.Closed) return false;
    if (this.deferred !== null) return this.deferFrame(type, channel, buf, start, end);
    this.stats.recvCnt++;
    if (type === FRAME_METHOD) {
      if (end - start < 4) throw unknownFrame(type, buf, start, end);
      const id = buf.readUInt32BE(start);
      if (this.state === State.Lingering) {
        // RabbitMQ answers every further connection.close with close-ok and ignores the rest
        if (channel === 0 && id === M.CONNECTION_CLOSE) this.sendMethod(0, M.CONNECTION_CLOSE_OK, {});
        return true;
      }
      if (this.state === State.Closing) {
        if (channel === 0 && (id === M.CONNECTION_CLOSE_OK || id === M.CONNECTION_CLOSE)) {
          if (id === M.CONNECTION_CLOSE) this.sendMethod(0, M.CONNECTION_CLOSE_OK, {});
          this.outbox.flushNow();
          this.destroySoon();
          return false;
        }
        return true;
      }
      try {
        if (channel === 0) this.onConnectionMethod(id, buf, start + 4, end);
        else this.onChannelMethod(channel, id, buf, start + 4, end);
      } catch (e) {
        if (e === SILENT_CLOSE) {
          this.silentClose();
          return false;
        }
        this.handleError(e, channel, id);
      }
      return (this.state as State) !== State.Closed;
    }
    if (this.state === State.Closing || this.state === State.Lingering) return true;
    if (type === FRAME_HEARTBEAT) {
      if (end !== start) throw unknownFrame(type, buf, start, end);
      // rabbit_reader: a heartbeat on a channel is an unexpected frame, named like an unparseable one
      if (channel !== 0) throw new AmqpError(UNEXPECTED_FRAME, frameTerm(type, buf, start, end), 0, 0, true);
      return true;
    }
    if (type === FRAME_HEADER || type === FRAME_BODY) {
      // rabbit_reader names a content frame on channel 0 by its octets
      if (channel === 0) throw new AmqpError(UNEXPECTED_FRAME, frameTerm(type, buf, start, end), 0, 0, true);
      if (this.state !== State.Open) throw new AmqpError(UNEXPECTED_FRAME, `expected method frame, got non method frame instead`, 0, 0, true);
      const ch = this.channels.get(channel);
      if (!ch) throw new AmqpError(CHANNEL_ERROR, `expected 'channel.open'`, 0, 0, true);
      if (ch.state === ChannelState.Closing) return true;
      try {
        if (type === FRAME_HEADER) ch.onHeader(buf, start, end);
        else ch.onBody(buf, start, end);
      } catch (e) {
        this.handleError(e, channel, M.BASIC_PUBLISH);
      }
      return (this.state as State) !== State.Closed;
    }
    throw unknownFrame(type, buf, start, end);
  }

  // ---- channel 0 -----------------------------------------------------------

  private onConnectionMethod(id: number, buf: Buffer, start: number, end: number): void {
    if (this.state === State.Handshaking) return this.handshake!.onMethod(id, buf, start, end);
    if (this.state !== State.Open) return;
    switch (id) {
      case M.CONNECTION_CLOSE:
        this.sendMethod(0, M.CONNECTION_CLOSE_OK, {});
        this.lingerUntilClientCloses();
        return;
      case M.CONNECTION_CLOSE_OK:
        return;
      case M.CONNECTION_UPDATE_SECRET: {
        M.decodeMethod(id, buf, start, end);
        this.sendMethod(0, M.CONNECTION_UPDATE_SECRET_OK, {});
        return;
      }
      case M.CONNECTION_BLOCKED:
      case M.CONNECTION_UNBLOCKED:
        return;
      default:
        if (!M.METHOD_INFO.has(id)) throw new AmqpError(COMMAND_INVALID, `unknown method ${id >>> 16}.${id & 0xffff}`, 0, 0, true);
        // rabbit_reader: a non-connection method on channel 0
        throw new AmqpError(CHANNEL_ERROR, `unexpected method in connection state running`, id >>> 16, id & 0xffff, true);
    }
  }

  /** The handshake's view of this connection (handshake.ts). */
  private handshakePeer() {
    return {
      name: this.name,
      loopback: this.loopback,
      remoteAddress: this.socket.remoteAddress,
      serverProperties: this.server.serverProperties,
      proposedHeartbeat: this.server.heartbeat,
      authenticate: (username: string, password: string) => this.broker.authenticate(username, password, this.loopback, this.socket.remoteAddress),
      openVhost: (user: User, vhost: string) => this.broker.checkVhostAccess(user.name, vhost),
      sendMethod: (id: number, args: object) => {
        this.handshakeSentAt = Date.now();
        this.sendMethod(0, id, args);
      },
      frameMaxAgreed: (frameMax: number) => {
        this.reader.frameMax = frameMax;
      },
      rejectHeader: () => {
        // wrong protocol header: answer with ours and close (AMQP 0-9-1 §4.2.2)
        this.state = State.Closed;
        this.socket.end(PROTOCOL_HEADER);
        this.scheduleDestroy();
      },
      loginRefused: (_username: string, err: AmqpError | null) => {
        if (this.state !== State.Handshaking) return;
        if (err) this.handleError(err, 0, 0);
        else this.silentClose();
      },
      opened: (r: HandshakeResult) => this.opened(r),
      warn: (msg: string) => this.broker.log.warn(`connection ${this.name}: ${msg}`),
    };
  }

  /** connection.open-ok was sent: from now on this is an open connection with a Session. */
  private opened(r: HandshakeResult): void {
    this.handshake = null;
    this.user = r.user;
    this.vhost = r.vhost;
    this.frameMax = r.frameMax;
    this.channelMax = r.channelMax;
    this.heartbeat = r.heartbeat;
    this.clientProperties = r.clientProperties;
    this.state = State.Open;
    this.session = this.makeSession(r.user, r.vhost);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.broker.connections.add(this);
    this.broker.totals.connectionsCreated++;
    this.server.onConnectionOpen(this);
    this.broker.log.debug(`connection ${this.name}: user '${r.user.name}' opened vhost '${r.vhost.name}'`);
    if (this.broker.alarms.size > 0) this.setBlocked(true);
  }

  private makeSession(user: User, vhost: VHost): Session {
    const conn = this;
    const session: { -readonly [K in keyof Session]: Session[K] } = {
      owner: conn,
      id: conn.id,
      name: conn.name,
      broker: conn.broker,
      user,
      userName: user.name,
      vhost,
      frameMax: conn.frameMax,
      capabilities: conn.capabilities,
      outbox: conn.outbox,
      publisher: null as unknown as Publisher, // set below: it needs the session
      flowHolder: conn,
      replyTo: conn.server.replyTo,
      channels: conn.channels,
      stats: conn.stats,
      get lastRecv() {
        return conn.lastRecv;
      },
      sendMethod: (channel, id, args) => conn.sendMethod(channel, id, args),
      awaitCluster: (p, holdOutput, ch, methodId, then) => conn.awaitCluster(p, holdOutput, ch, methodId, then),
      closeWithError: (err, classId, methodId) => conn.closeWithError(err, classId, methodId),
    };
    session.publisher = new Publisher(session);
    return session;
  }

  // ---- channels ------------------------------------------------------------

  private onChannelMethod(channel: number, id: number, buf: Buffer, start: number, end: number): void {
    // rabbit_reader names the frame by its octets (start - 4: the payload with the method id)
    if (this.state !== State.Open) throw explicitIds(new AmqpError(UNEXPECTED_FRAME, frameTerm(FRAME_METHOD, buf, start - 4, end), 0, 0, true));
    let ch = this.channels.get(channel);
    if (id === M.CHANNEL_OPEN) {
      this.crossedCloses?.delete(channel);
      if (ch) throw new AmqpError(CHANNEL_ERROR, "second 'channel.open' seen", 20, 10, true);
      // RabbitMQ 3.10 limits how many channels are open, not the channel number
      if (this.channels.size >= this.channelMax) {
        throw explicitIds(new AmqpError(NOT_ALLOWED, `number of channels opened (${this.channels.size}) has reached the negotiated channel_max (${this.channelMax})`, 0, 0, true));
      }
      try {
        this.broker.checkChannelLimit(this.session!.userName);
      } catch (e) {
        // rabbit_reader closes the connection for the user's channel limit, like for channel_max
        throw explicitIds(new AmqpError(NOT_ALLOWED, (e as AmqpError).explanation, 0, 0, true));
      }
      M.decodeMethod(id, buf, start, end);
      ch = new Channel(channel, this.session!);
      this.channels.set(channel, ch);
      this.broker.totals.channelsCreated++;
      this.sendMethod(channel, M.CHANNEL_OPEN_OK, { channelId: "" });
      return;
    }
    if (!ch) {
      if (id === M.CHANNEL_CLOSE_OK && this.crossedCloses?.delete(channel)) return;
      throw new AmqpError(CHANNEL_ERROR, `expected 'channel.open'`, id >>> 16, id & 0xffff, true);
    }
    if (ch.state === ChannelState.Closing) {
      // After our channel.close every frame but close-ok is ignored (rabbit_reader). A
      // channel.close from the client that crossed ours gets close-ok and frees the channel,
      // as RabbitMQ 3.10 does; the client's close-ok for our close, still on its way, is then
      // ignored rather than treated as a frame on an unknown channel (504).
      if (id === M.CHANNEL_CLOSE_OK) {
        this.channels.delete(channel);
      } else if (id === M.CHANNEL_CLOSE) {
        this.sendMethod(channel, M.CHANNEL_CLOSE_OK, {});
        this.channels.delete(channel);
        (this.crossedCloses ??= new Set()).add(channel);
      }
      return;
    }
    if (ch.pending) {
      throw unexpected(ch.pending.props ? "expected content body, got non content body frame instead" : "expected content header for class 60, got non content header frame instead");
    }
    if (id >>> 16 === 10) throw new AmqpError(COMMAND_INVALID, "unimplemented method", 10, id & 0xffff, true);
    if (this.blocked && id === M.BASIC_PUBLISH) this.pauseForAlarm();
    ch.lastActive = this.lastRecv; // the channel's idle_since (one clock read per socket chunk)
    const cluster = this.broker.cluster;
    if (cluster === null) return dispatchChannelMethod(this.session!, ch, id, buf, start, end);
    // a clustered node answers a topology change once every running node has it
    const before = cluster.changes;
    dispatchChannelMethod(this.session!, ch, id, buf, start, end);
    if (cluster.changes !== before && this.deferred === null) this.awaitCluster(cluster.barrier(), true, channel, id);
  }

  /** Close a channel after a soft error: channel.close now, free it on close-ok. */
  closeChannel(ch: Channel, code: number, text: string, classId: number, methodId: number): void {
    ch.teardown();
    ch.state = ChannelState.Closing;
    this.sendMethod(ch.id, M.CHANNEL_CLOSE, { replyCode: code, replyText: text, classId, methodId });
    ch.state = ChannelState.Closing;
  }

  // ---- errors and closing --------------------------------------------------

  private handleError(e: unknown, channel: number, methodId: number): void {
    if (!(e instanceof AmqpError)) {
      this.broker.log.error(`connection ${this.name}: internal error: ${(e as Error)?.stack ?? String(e)}`);
      e = new AmqpError(541, `${(e as Error)?.message ?? String(e)}`, 0, 0, true);
    }
    const err = e as AmqpError;
    // before tune is done (start-ok larger than the 4096-octet minimum frame, a bad frame),
    // RabbitMQ does not answer: a refused login with authentication_failure_close is the exception
    if (this.state === State.Handshaking && this.handshake!.quiet && err.code !== ACCESS_REFUSED) {
      this.broker.log.debug(`connection ${this.name}: handshake error: ${err.text}`);
      this.silentClose();
      return;
    }
    // errors raised with explicit ids (content assembly, handshake) keep them, even 0/0
    const explicit = hasExplicitIds(err);
    const classId = explicit ? err.classId : methodId >>> 16;
    const mId = explicit ? err.methodId : methodId & 0xffff;
    const text = err.text;
    const ch = channel !== 0 ? this.channels.get(channel) : undefined;
    if (!err.hard && !isHardError(err.code) && ch && this.state === State.Open) {
      this.broker.log.debug(`channel ${this.name}#${channel}: ${text}`);
      this.closeChannel(ch, err.code, text, classId, mId);
      return;
    }
    this.closeWithError(err, classId, mId);
  }

  /** A handshake failure: read nothing more, say nothing, close after SILENT_CLOSE_DELAY. */
  private silentClose(): void {
    this.state = State.Closed;
    this.handshake?.abandon();
    this.socket.pause();
    const t = setTimeout(() => this.destroy(), SILENT_CLOSE_DELAY);
    t.unref();
  }

  /**
   * Server-initiated connection.close with the error's code and text (AmqpError builds every
   * reply text); the socket goes after close-ok or a timeout.
   */
  closeWithError(err: AmqpError, classId = 0, methodId = 0): void {
    const { code, text } = err;
    if (this.state === State.Closing || this.state === State.Closed) return;
    if (this.state === State.Lingering) return this.destroy();
    if (this.state === State.Handshaking && this.handshake!.awaitingHeader) return this.destroy();
    this.broker.log.debug(`connection ${this.name}: closing: ${text}`);
    this.teardownChannels();
    this.state = State.Closing;
    this.sendMethod(0, M.CONNECTION_CLOSE, { replyCode: code, replyText: text, classId, methodId });
    this.outbox.flushNow();
    this.scheduleDestroy();
  }

  /** ConnectionInfo: force-close (management API, vhost/user deletion, shutdown). */
  close(reason: string): void {
    this.closeWithError(new AmqpError(CONNECTION_FORCED, reason));
  }

  private scheduleDestroy(): void {
    const t = setTimeout(() => this.destroy(), CLOSE_TIMEOUT);
    t.unref();
  }

  /**
   * The client closed (connection.close, answered with close-ok): like rabbit_reader, tear the
   * connection down now but leave the socket to the client, reading and discarding whatever it
   * still sends (more connection.close frames from other threads, say) until it hangs up, for
   * at most min(heartbeat, 30) s. Closing first would show a client that is still reading our
   * close-ok an EOF or a reset (amqp091-go's TestConcurrentClose, 32 threads closing at once).
   */
  private lingerUntilClientCloses(): void {
    this.outbox.flushNow();
    this.state = State.Lingering;
    this.cleanup();
    this.socket.resume();
    const secs = this.heartbeat > 0 ? Math.min(this.heartbeat, 30) : 30;
    const t = setTimeout(() => this.socket.destroy(), secs * 1000);
    t.unref();
    this.socket.once("close", () => clearTimeout(t));
  }

  /** After the close-ok exchange of a server-initiated close: close without losing the close-ok. */
  private destroySoon(): void {
    setImmediate(() => this.closeGracefully());
  }

  private closeGracefully(): void {
    if (this.socket.destroyed) return this.destroy();
    this.outbox.flushNow();
    this.state = State.Closed;
    this.outbox.closed = true;
    // Closing a socket that still has unread input makes the kernel answer RST, and a client
    // still reading our close-ok can lose it ("connection reset by peer"; amqp091-go's
    // TestConcurrentClose saw it). So: FIN after the close-ok, keep reading and discarding
    // whatever the client still sends until it closes its side; give up after a second.
    this.socket.resume();
    this.socket.end();
    const t = setTimeout(() => this.socket.destroy(), 1000);
    t.unref();
    this.cleanup();
  }

  destroy(): void {
    if (this.state === State.Closed && this.socket.destroyed) return;
    this.state = State.Closed;
    this.outbox.flushNow();
    this.outbox.closed = true;
    if (!this.socket.destroyed) {
      if (this.socket.writableLength > 0) this.socket.end();
      else this.socket.destroy();
      const t = setTimeout(() => this.socket.destroy(), 1000);
      t.unref();
    }
    this.cleanup();
  }

  private onSocketClosed(): void {
    this.state = State.Closed;
    this.handshake?.abandon();
    this.outbox.closed = true;
    this.cleanup();
  }

  private cleanedUp = false;
  private cleanup(): void {
    if (this.cleanedUp) return;
    this.cleanedUp = true;
    this.handshake?.abandon();
    if (this.timer) clearTimeout(this.timer);
    this.teardownChannels();
    if (this.flowGates) for (const g of this.flowGates) g.forget(this);
    this.flowGates = null;
    this.broker.connections.delete(this);
    this.server.onConnectionClosed(this);
    // exclusive queues die with their owner connection
    if (this.vhost) {
      for (const q of this.vhost.exclusiveQueuesOf(this)) this.vhost.removeQueue(q);
    }
  }

  private teardownChannels(): void {
    for (const ch of this.channels.values()) ch.teardown();
  }

  // ---- output ----------------------------------------------------------------

  sendMethod(channel: number, id: number, args: object): void {
    this.outbox.write(M.encodeMethodFrame(channel, id, args));
  }

  sendHeartbeat(): void {
    this.outbox.write(HEARTBEAT_FRAME);
  }

  private kickConsumers(): void {
    for (const ch of this.channels.values()) ch.kick();
  }

  // ---- resource alarms -------------------------------------------------------

  setBlocked(on: boolean): void {
    this.blocked = on;
    if (on) {
      if (this.capabilities.connectionBlocked && !this.blockedSent) {
        this.blockedSent = true;
        this.sendMethod(0, M.CONNECTION_BLOCKED, { reason: "low on resources" });
      }
    } else {
      if (this.blockedSent) {
        this.blockedSent = false;
        this.sendMethod(0, M.CONNECTION_UNBLOCKED, {});
      }
      this.releaseReading(HOLD_ALARM);
    }
  }

  private pauseForAlarm(): void {
    // like RabbitMQ: a publishing connection stops being read while an alarm is on
    this.holdReading(HOLD_ALARM);
  }

  // ---- heartbeats (called by the server's coarse ticker) -----------------------

  tick(now: number): void {
    if (this.heartbeat <= 0 || this.state !== State.Open) return;
    const ms = this.heartbeat * 1000;
    if (now - this.lastRecv > ms * 2 && !this.socket.isPaused()) {
      this.broker.log.warn(`connection ${this.name}: missed heartbeats from client, timeout: ${this.heartbeat}s`);
      this.destroy();
      return;
    }
    if (now - this.lastSend >= ms / 2) {
      this.lastSend = now;
      this.sendHeartbeat();
    }
  }

  // ---- management ------------------------------------------------------------

  info(): Record<string, unknown> {
    return this.server.describeConnection(this);
  }

  octets(): { recv: number; send: number } {
    return { recv: this.stats.recvOct, send: this.socket.bytesWritten };
  }

  channelStats(): Array<{ name: string; stats: Record<string, number> }> {
    const out: Array<{ name: string; stats: Record<string, number> }> = [];
    for (const ch of this.channels.values()) out.push({ name: `${this.name} (${ch.id})`, stats: channelMessageStats(ch) });
    return out;
  }

  channelsInfo(): Record<string, unknown>[] {
    return [...this.channels.values()].map((ch) => this.server.describeChannel(this, ch));
  }

  consumersInfo(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const ch of this.channels.values()) for (const c of ch.consumers.values()) out.push(this.server.describeConsumer(this, ch, c));
    return out;
  }
}

export { replyName };
