/**
 * One AMQP connection over TCP: protocol header, handshake (start/start-ok with
 * PLAIN or AMQPLAIN, tune/tune-ok, open), frame dispatch to channels, heartbeats,
 * connection.blocked, and the single place where protocol errors become
 * channel.close (soft errors on a channel) or connection.close (hard errors,
 * channel 0, framing).
 *
 * Invariants: after we send connection.close only close-ok/close are processed;
 * after we send channel.close only that channel's close-ok/close are; the
 * socket is destroyed at most CLOSE_TIMEOUT after we start closing.
 */
import type { Socket } from "node:net";
import { ACCESS_REFUSED, AmqpError, CHANNEL_ERROR, COMMAND_INVALID, CONNECTION_FORCED, FRAME_ERROR, NOT_ALLOWED, UNEXPECTED_FRAME, internalError, isHardError, replyName } from "../amqp/errors.js";
import { decodeTable, type FieldTable } from "../amqp/field-table.js";
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
import type { Server } from "./server.js";

export const SERVER_FRAME_MAX = 131072;
export const SERVER_CHANNEL_MAX = 2047;
const MIN_FRAME_MAX = 4096;
const HANDSHAKE_TIMEOUT = 10_000;
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
  AwaitHeader,
  AwaitStartOk,
  /** start-ok received, the password is being checked (off the event loop); frames are ignored */
  Authenticating,
  AwaitTuneOk,
  AwaitOpen,
  Open,
  /** we sent connection.close and wait for close-ok */
  Closing,
  /** the client closed and got close-ok; the socket is left for it to close (see lingerUntilClientCloses) */
  Lingering,
  Closed,
}

let nextId = 1;
const AMQP_0_9_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 1, 1, 0, 9]);

export class Connection implements FrameSink, ConnectionInfo, FlowHolder {
  readonly id = nextId++;
  readonly name: string;
  readonly outbox: Outbox;
  readonly publisher: Publisher;
  readonly channels = new Map<number, Channel>();
  /** channels whose close crossed ours: the close-ok the client still owes us is ignored */
  private crossedCloses: Set<number> | null = null;
  /** until tune-ok, frames are limited to the protocol's minimum frame size (as in rabbit_reader) */
  private readonly reader = new FrameReader(MIN_FRAME_MAX);
  private state = State.AwaitHeader;
  private headerBuf: Buffer | null = null;
  frameMax = SERVER_FRAME_MAX;
  channelMax = SERVER_CHANNEL_MAX;
  heartbeat = 0;
  lastRecv = Date.now();
  lastSend = Date.now();
  user: User | null = null;
  vhost: VHost | null = null;
  clientProperties: FieldTable = {};
  capabilities = { consumerCancelNotify: false, authFailureClose: false, connectionBlocked: false, publisherConfirms: false };
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
    this.publisher = new Publisher(this);
    socket.setNoDelay(true);
    socket.on("data", (d: Buffer) => this.onData(d));
    socket.on("error", () => {});
    socket.on("close", () => this.onSocketClosed());
    this.timer = setTimeout(() => {
      if (this.state !== State.Open && this.state !== State.Closed) {
        this.broker.log.debug(`connection ${this.name}: handshake timeout`);
        this.destroy();
      }
    }, HANDSHAKE_TIMEOUT);
    this.timer.unref();
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
      if (this.state === State.AwaitHeader) {
        d = this.readProtocolHeader(d);
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

  private readProtocolHeader(d: Buffer): Buffer {
    const have = this.headerBuf ? Buffer.concat([this.headerBuf, d]) : d;
    if (have.length < 8) {
      // reject early if what we have cannot become "AMQP"
      if (!PROTOCOL_HEADER.subarray(0, Math.min(4, have.length)).equals(have.subarray(0, Math.min(4, have.length)))) return this.badHeader();
      this.headerBuf = have;
      return Buffer.alloc(0);
    }
    this.headerBuf = null;
    // RabbitMQ also accepts the AMQP 0-9 header ("AMQP" 1 1 0 9) and speaks 0-9-1 on it
    if (!have.subarray(0, 8).equals(PROTOCOL_HEADER) && !have.subarray(0, 8).equals(AMQP_0_9_HEADER)) return this.badHeader();
    this.state = State.AwaitStartOk;
    this.sendMethod(0, M.CONNECTION_START, {
      versionMajor: 0,
      versionMinor: 9,
      serverProperties: this.server.serverProperties,
      mechanisms: "AMQPLAIN PLAIN",
      locales: "en_US",
    });
    return have.subarray(8);
  }

  /** Wrong protocol header: answer with ours and close (AMQP 0-9-1 §4.2.2). */
  private badHeader(): Buffer {
    this.state = State.Closed;
    this.socket.end(PROTOCOL_HEADER);
    this.scheduleDestroy();
    return Buffer.alloc(0);
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
    switch (this.state) {
      case State.AwaitStartOk:
        if (id !== M.CONNECTION_START_OK) throw handshakeError(id);
        return this.onStartOk(M.decodeMethod(id, buf, start, end) as M.ConnectionStartOk);
      case State.AwaitTuneOk:
        if (id !== M.CONNECTION_TUNE_OK) throw handshakeError(id);
        return this.onTuneOk(M.decodeMethod(id, buf, start, end) as M.ConnectionTuneOk);
      case State.AwaitOpen:
        if (id !== M.CONNECTION_OPEN) throw handshakeError(id);
        return this.onOpen(M.decodeMethod(id, buf, start, end) as M.ConnectionOpen);
      case State.Open:
        break;
      default:
        return;
    }
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

  private onStartOk(a: M.ConnectionStartOk): void {
    this.clientProperties = a.clientProperties ?? {};
    const caps = this.clientProperties["capabilities"];
    if (caps && typeof caps === "object" && !Array.isArray(caps) && !Buffer.isBuffer(caps)) {
      const c = caps as FieldTable;
      this.capabilities.consumerCancelNotify = c["consumer_cancel_notify"] === true;
      this.capabilities.authFailureClose = c["authentication_failure_close"] === true;
      this.capabilities.connectionBlocked = c["connection.blocked"] === true;
      this.capabilities.publisherConfirms = c["publisher_confirms"] === true;
    }
    let username: string;
    let password: string;
    const resp = Buffer.isBuffer(a.response) ? a.response : Buffer.from(String(a.response));
    if (a.mechanism === "PLAIN") {
      const parts = resp.toString("utf8").split("\u0000");
      // RabbitMQ: an unparseable response is a handshake error: the socket just closes
      if (parts.length !== 3) throw SILENT_CLOSE;
      username = parts[1]!;
      password = parts[2]!;
    } else if (a.mechanism === "AMQPLAIN") {
      // AMQPLAIN's response is a field table without the length prefix
      const withLen = Buffer.allocUnsafe(resp.length + 4);
      withLen.writeUInt32BE(resp.length, 0);
      resp.copy(withLen, 4);
      const t = decodeTable(withLen, 0).table;
      username = String(t["LOGIN"] ?? "");
      password = String(t["PASSWORD"] ?? "");
    } else {
      throw SILENT_CLOSE; // RabbitMQ closes silently on an unknown mechanism, capability or not
    }
    this.state = State.Authenticating;
    void this.login(username, password, a.mechanism);
  }

  /** The password check is asynchronous (scrypt on the thread pool); the handshake resumes here. */
  private async login(username: string, password: string, mechanism: string): Promise<void> {
    let user: User;
    try {
      user = await this.broker.authenticate(username, password, this.loopback, this.socket.remoteAddress);
    } catch (e) {
      if (this.state !== State.Authenticating) return; // the client went away meanwhile
      this.broker.log.warn(`connection ${this.name}: login refused for user '${username}'`);
      const err = e as AmqpError;
      if (this.capabilities.authFailureClose) {
        this.handleError(explicitIds(new AmqpError(err.code, err.explanation.replace("mechanism PLAIN", `mechanism ${mechanism}`), 0, 0, true)), 0, 0);
        return;
      }
      // clients without authentication_failure_close just see the socket close (RabbitMQ behaviour)
      this.silentClose();
      return;
    }
    if (this.state !== State.Authenticating) return;
    this.user = user;
    this.state = State.AwaitTuneOk;
    this.sendMethod(0, M.CONNECTION_TUNE, { channelMax: SERVER_CHANNEL_MAX, frameMax: SERVER_FRAME_MAX, heartbeat: this.server.heartbeat });
  }

  private onTuneOk(a: M.ConnectionTuneOk): void {
    if (a.frameMax === 0 || a.channelMax > SERVER_CHANNEL_MAX) {
      // outside the limits we announced (frame_max 0 = unlimited, which we do not offer)
      throw new AmqpError(FRAME_ERROR, `tune-ok outside the server's limits (frame_max=${a.frameMax}, channel_max=${a.channelMax})`, 10, 31, true);
    }
    if (a.frameMax < MIN_FRAME_MAX) {
      throw new AmqpError(FRAME_ERROR, `frame_max=${a.frameMax} < ${MIN_FRAME_MAX} min size`, 0, 0, true);
    }
    if (a.frameMax > SERVER_FRAME_MAX) {
      throw new AmqpError(FRAME_ERROR, `frame_max=${a.frameMax} > ${SERVER_FRAME_MAX} max size`, 0, 0, true);
    }
    this.frameMax = a.frameMax === 0 ? SERVER_FRAME_MAX : a.frameMax;
    this.channelMax = a.channelMax === 0 ? SERVER_CHANNEL_MAX : Math.min(a.channelMax, SERVER_CHANNEL_MAX);
    this.heartbeat = a.heartbeat;
    this.reader.frameMax = this.frameMax;
    this.state = State.AwaitOpen;
  }

  private onOpen(a: M.ConnectionOpen): void {
    const vhost = a.virtualHost;
    this.vhost = this.broker.checkVhostAccess(this.user!.name, vhost);
    this.state = State.Open;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.sendMethod(0, M.CONNECTION_OPEN_OK, { knownHosts: "" });
    this.broker.connections.add(this);
    this.broker.totals.connectionsCreated++;
    this.server.onConnectionOpen(this);
    this.broker.log.debug(`connection ${this.name}: user '${this.user!.name}' opened vhost '${vhost}'`);
    if (this.broker.alarms.size > 0) this.setBlocked(true);
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
        this.broker.checkChannelLimit(this.user!.name);
      } catch (e) {
        // rabbit_reader closes the connection for the user's channel limit, like for channel_max
        throw explicitIds(new AmqpError(NOT_ALLOWED, (e as AmqpError).explanation, 0, 0, true));
      }
      M.decodeMethod(id, buf, start, end);
      ch = new Channel(channel, this);
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
    if (cluster === null) return dispatchChannelMethod(this, ch, id, buf, start, end);
    // a clustered node answers a topology change once every running node has it
    const before = cluster.changes;
    dispatchChannelMethod(this, ch, id, buf, start, end);
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
    if ((this.state === State.AwaitStartOk || this.state === State.AwaitTuneOk) && err.code !== ACCESS_REFUSED) {
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
    if (this.state === State.AwaitHeader) return this.destroy();
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
    this.outbox.closed = true;
    this.cleanup();
  }

  private cleanedUp = false;
  private cleanup(): void {
    if (this.cleanedUp) return;
    this.cleanedUp = true;
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

/** Thrown to end a connection without a frame (RabbitMQ's behaviour for some handshake errors). */
const SILENT_CLOSE = Symbol("silent-close");

function handshakeError(id: number): AmqpError {
  return new AmqpError(COMMAND_INVALID, `unexpected method during handshake: ${M.METHOD_INFO.has(id) ? M.methodName(id) : id}`, id >>> 16, id & 0xffff, true);
}

export { replyName };
