/**
 * The AMQP 0-9-1 connection handshake, as its own state machine: protocol header →
 * connection.start / start-ok (PLAIN or AMQPLAIN; the password check is asynchronous) →
 * tune / tune-ok → open / open-ok. What it produces is an open session's facts (user, vhost,
 * tuning, capabilities); the Connection (connection.ts) owns the socket and hands the
 * handshake its bytes and channel-0 methods until `done`.
 *
 * RabbitMQ's behaviour kept here (rabbit_reader): a wrong protocol header is answered with
 * ours and the socket closed; an unparseable or unknown mechanism closes silently; a refused
 * login is reported with connection.close only to clients announcing
 * authentication_failure_close (others see the socket close); errors before tune-ok get no
 * answer (`quiet`).
 */
import { AmqpError, COMMAND_INVALID, FRAME_ERROR } from "../amqp/errors.js";
import { decodeTable, type FieldTable } from "../amqp/field-table.js";
import { PROTOCOL_HEADER } from "../amqp/frames.js";
import * as M from "../amqp/gen/methods.js";
import type { User } from "../broker/auth.js";
import type { VHost } from "../broker/vhost.js";
import { explicitIds } from "./explicit-ids.js";
import type { Capabilities } from "./session.js";

export const SERVER_FRAME_MAX = 131072;
export const SERVER_CHANNEL_MAX = 2047;
/** the protocol's minimum frame size: the limit until tune-ok (as in rabbit_reader) */
export const MIN_FRAME_MAX = 4096;

const AMQP_0_9_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 1, 1, 0, 9]);

/** Thrown to end a connection without a frame (RabbitMQ's behaviour for some handshake errors). */
export const SILENT_CLOSE = Symbol("silent-close");

/** What the handshake needs from its connection. */
export interface HandshakePeer {
  readonly name: string;
  readonly loopback: boolean;
  readonly remoteAddress: string | undefined;
  readonly serverProperties: FieldTable;
  /** the heartbeat this server proposes in connection.tune, seconds */
  readonly proposedHeartbeat: number;
  authenticate(username: string, password: string): Promise<User>;
  /** connection.open: the vhost this user may use (throws RabbitMQ's errors otherwise) */
  openVhost(user: User, vhost: string): VHost;
  sendMethod(id: number, args: object): void;
  /** tune-ok accepted: the frame size limit for what the client sends from now on */
  frameMaxAgreed(frameMax: number): void;
  /** the wrong protocol header: answer with ours and close */
  rejectHeader(): void;
  /** the login failed: `err` to send (authentication_failure_close), or null to close silently */
  loginRefused(username: string, err: AmqpError | null): void;
  /** open-ok was sent: the connection is open */
  opened(facts: HandshakeResult): void;
  warn(msg: string): void;
}

export interface HandshakeResult {
  user: User;
  vhost: VHost;
  frameMax: number;
  channelMax: number;
  heartbeat: number;
  clientProperties: FieldTable;
  capabilities: Capabilities;
}

type Phase = "header" | "start-ok" | "authenticating" | "tune-ok" | "open" | "done" | "abandoned";

export class Handshake {
  private phase: Phase = "header";
  private headerBuf: Buffer | null = null;
  private user: User | null = null;
  clientProperties: FieldTable = {};
  readonly capabilities: Capabilities = { consumerCancelNotify: false, authFailureClose: false, connectionBlocked: false, publisherConfirms: false };
  private frameMax = SERVER_FRAME_MAX;
  private channelMax = SERVER_CHANNEL_MAX;
  private heartbeat = 0;

  constructor(private readonly peer: HandshakePeer) {}

  /** still waiting for the protocol header */
  get awaitingHeader(): boolean {
    return this.phase === "header";
  }

  /** errors now get no answer: before tune-ok, RabbitMQ just closes (the start-ok may not even fit a frame) */
  get quiet(): boolean {
    return this.phase === "start-ok" || this.phase === "tune-ok";
  }

  /** the password check is running: the handshake waits on us, not on the client */
  get authenticating(): boolean {
    return this.phase === "authenticating";
  }

  /** The connection went away or gave up: a login still running is ignored when it ends. */
  abandon(): void {
    if (this.phase !== "done") this.phase = "abandoned";
  }

  /** The first bytes: the protocol header. Returns what follows it (frames). */
  onBytes(d: Buffer): Buffer {
    const have = this.headerBuf ? Buffer.concat([this.headerBuf, d]) : d;
    if (have.length < 8) {
      // reject early if what we have cannot become "AMQP"
      const n = Math.min(4, have.length);
      if (!PROTOCOL_HEADER.subarray(0, n).equals(have.subarray(0, n))) return this.badHeader();
      this.headerBuf = have;
      return Buffer.alloc(0);
    }
    this.headerBuf = null;
    // RabbitMQ also accepts the AMQP 0-9 header ("AMQP" 1 1 0 9) and speaks 0-9-1 on it
    if (!have.subarray(0, 8).equals(PROTOCOL_HEADER) && !have.subarray(0, 8).equals(AMQP_0_9_HEADER)) return this.badHeader();
    this.phase = "start-ok";
    this.peer.sendMethod(M.CONNECTION_START, { versionMajor: 0, versionMinor: 9, serverProperties: this.peer.serverProperties, mechanisms: "AMQPLAIN PLAIN", locales: "en_US" });
    return have.subarray(8);
  }

  private badHeader(): Buffer {
    this.phase = "abandoned";
    this.peer.rejectHeader();
    return Buffer.alloc(0);
  }

  /** A method on channel 0 before the connection is open. */
  onMethod(id: number, buf: Buffer, start: number, end: number): void {
    switch (this.phase) {
      case "start-ok":
        if (id !== M.CONNECTION_START_OK) throw handshakeError(id);
        return this.onStartOk(M.decodeMethod(id, buf, start, end) as M.ConnectionStartOk);
      case "tune-ok":
        if (id !== M.CONNECTION_TUNE_OK) throw handshakeError(id);
        return this.onTuneOk(M.decodeMethod(id, buf, start, end) as M.ConnectionTuneOk);
      case "open":
        if (id !== M.CONNECTION_OPEN) throw handshakeError(id);
        return this.onOpen(M.decodeMethod(id, buf, start, end) as M.ConnectionOpen);
      default:
        // while the password is being checked: ignored, as before
        return;
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
    const { username, password } = credentials(a);
    this.phase = "authenticating";
    void this.login(username, password, a.mechanism);
  }

  /** The password check is asynchronous (scrypt on the thread pool); the handshake resumes here. */
  private async login(username: string, password: string, mechanism: string): Promise<void> {
    let user: User;
    try {
      user = await this.peer.authenticate(username, password);
    } catch (e) {
      if (this.phase !== "authenticating") return; // the client went away meanwhile
      this.phase = "abandoned";
      this.peer.warn(`login refused for user '${username}'`);
      const err = e as AmqpError;
      // clients without authentication_failure_close just see the socket close (RabbitMQ behaviour)
      this.peer.loginRefused(
        username,
        this.capabilities.authFailureClose ? explicitIds(new AmqpError(err.code, err.explanation.replace("mechanism PLAIN", `mechanism ${mechanism}`), 0, 0, true)) : null,
      );
      return;
    }
    if (this.phase !== "authenticating") return;
    this.user = user;
    this.phase = "tune-ok";
    this.peer.sendMethod(M.CONNECTION_TUNE, { channelMax: SERVER_CHANNEL_MAX, frameMax: SERVER_FRAME_MAX, heartbeat: this.peer.proposedHeartbeat });
  }

  private onTuneOk(a: M.ConnectionTuneOk): void {
    if (a.frameMax === 0 || a.channelMax > SERVER_CHANNEL_MAX) {
      // outside the limits we announced (frame_max 0 = unlimited, which we do not offer)
      throw new AmqpError(FRAME_ERROR, `tune-ok outside the server's limits (frame_max=${a.frameMax}, channel_max=${a.channelMax})`, 10, 31, true);
    }
    if (a.frameMax < MIN_FRAME_MAX) throw new AmqpError(FRAME_ERROR, `frame_max=${a.frameMax} < ${MIN_FRAME_MAX} min size`, 0, 0, true);
    if (a.frameMax > SERVER_FRAME_MAX) throw new AmqpError(FRAME_ERROR, `frame_max=${a.frameMax} > ${SERVER_FRAME_MAX} max size`, 0, 0, true);
    this.frameMax = a.frameMax;
    this.channelMax = a.channelMax === 0 ? SERVER_CHANNEL_MAX : Math.min(a.channelMax, SERVER_CHANNEL_MAX);
    this.heartbeat = a.heartbeat;
    this.peer.frameMaxAgreed(this.frameMax);
    this.phase = "open";
  }

  private onOpen(a: M.ConnectionOpen): void {
    const user = this.user!;
    const vhost = this.peer.openVhost(user, a.virtualHost);
    this.phase = "done";
    this.peer.sendMethod(M.CONNECTION_OPEN_OK, { knownHosts: "" });
    this.peer.opened({ user, vhost, frameMax: this.frameMax, channelMax: this.channelMax, heartbeat: this.heartbeat, clientProperties: this.clientProperties, capabilities: this.capabilities });
  }
}

/** start-ok's response as a user name and password (PLAIN or AMQPLAIN). */
function credentials(a: M.ConnectionStartOk): { username: string; password: string } {
  const resp = Buffer.isBuffer(a.response) ? a.response : Buffer.from(String(a.response));
  if (a.mechanism === "PLAIN") {
    const parts = resp.toString("utf8").split("\u0000");
    // RabbitMQ: an unparseable response is a handshake error: the socket just closes
    if (parts.length !== 3) throw SILENT_CLOSE;
    return { username: parts[1]!, password: parts[2]! };
  }
  if (a.mechanism === "AMQPLAIN") {
    // AMQPLAIN's response is a field table without the length prefix
    const withLen = Buffer.allocUnsafe(resp.length + 4);
    withLen.writeUInt32BE(resp.length, 0);
    resp.copy(withLen, 4);
    const t = decodeTable(withLen, 0).table;
    return { username: String(t["LOGIN"] ?? ""), password: String(t["PASSWORD"] ?? "") };
  }
  throw SILENT_CLOSE; // RabbitMQ closes silently on an unknown mechanism, capability or not
}

function handshakeError(id: number): AmqpError {
  return new AmqpError(COMMAND_INVALID, `unexpected method during handshake: ${M.METHOD_INFO.has(id) ? M.methodName(id) : id}`, id >>> 16, id & 0xffff, true);
}
