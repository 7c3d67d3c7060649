/**
 * The AMQP listener: accepts TCP connections, owns the registry of live
 * connections and direct reply-to pseudo-queues, and runs one coarse 250 ms
 * ticker for all heartbeats (not a timer per connection) and flow control's stall rule.
 */
import net, { type AddressInfo } from "node:net";
import tls from "node:tls";
import { displayHost } from "../lib/net.js";
import { RABBITMQ_COMPAT_VERSION } from "../lib/compat.js";
import type { FieldTable } from "../amqp/field-table.js";
import type { Broker } from "../broker/broker.js";
import type { Channel } from "./channel.js";
import { Connection } from "./connection.js";
import { describeChannel, describeConnection, describeConsumer } from "./describe.js";
import type { Consumer } from "../broker/consumer.js";
import { checkFlowGates } from "../broker/flow.js";

export interface ServerOptions {
  /** address to listen on; undefined = every interface, IPv6 and IPv4 where available (as RabbitMQ) */
  host: string | undefined;
  port: number;
  /**
   * An amqps listener beside the plain one (RabbitMQ's listeners.ssl): PEM certificate chain
   * and key, optional CA bundle; with verifyPeer, clients must present a certificate signed by
   * that CA (RabbitMQ's ssl_options.verify = verify_peer + fail_if_no_peer_cert).
   */
  tls?: { port: number; host?: string | undefined; cert: Buffer; key: Buffer; ca?: Buffer; verifyPeer?: boolean } | undefined;
  /** heartbeat proposed in connection.tune, seconds (RabbitMQ default 60) */
  heartbeat?: number | undefined;
  version: string;
}

/**
 * Length of the accept queue (Linux caps it at net.core.somaxconn, 4096 by default). Node's
 * default, 511, overflows when thousands of agents connect at once while the event loop is busy:
 * the kernel then drops their SYNs and the clients retry after 1, 3, 7 s… (RabbitMQ's default
 * tcp_listen_options backlog is 128; installs expecting connection storms set it to 4096).
 */
const ACCEPT_BACKLOG = 4096;

export class Server {
  readonly connections = new Set<Connection>();
  /** direct reply-to token -> channel consuming amq.rabbitmq.reply-to */
  readonly replyTo = new Map<string, Channel>();
  readonly heartbeat: number;
  readonly serverProperties: FieldTable;
  private readonly tcp: net.Server;
  private ticker: NodeJS.Timeout | null = null;

  constructor(
    readonly broker: Broker,
    private readonly opts: ServerOptions,
  ) {
    this.heartbeat = opts.heartbeat ?? 60;
    // product/version say "RabbitMQ <the version whose behaviour warren follows>" as a
    // RabbitMQ node does: clients and programs (amqplib's own test suite among them) check
    // `product` to decide they talk to RabbitMQ. What warren really is goes in platform and
    // information, and in the management API's product_name/product_version.
    this.serverProperties = {
      product: "RabbitMQ",
      version: RABBITMQ_COMPAT_VERSION,
      platform: `warren ${opts.version} on Node.js ${process.version}`,
      copyright: "warren contributors",
      information: `warren ${opts.version}, a RabbitMQ-compatible broker. Licensed under the MIT license. See https://www.npmjs.com/package/warren`,
      cluster_name: "warren",
      capabilities: {
        publisher_confirms: true,
        exchange_exchange_bindings: true,
        "basic.nack": true,
        consumer_cancel_notify: true,
        "connection.blocked": true,
        consumer_priorities: true,
        authentication_failure_close: true,
        per_consumer_qos: true,
        direct_reply_to: true,
      },
    };
    this.tcp = net.createServer({ noDelay: true }, (s) => this.accept(s));
    if (opts.tls) {
      const t = opts.tls;
      this.tlsServer = tls.createServer({ cert: t.cert, key: t.key, ...(t.ca ? { ca: t.ca } : {}), requestCert: !!t.verifyPeer, rejectUnauthorized: !!t.verifyPeer, noDelay: true }, (s) =>
        this.accept(s),
      );
      // a failed TLS handshake never reaches AMQP: nothing to clean up but the socket
      this.tlsServer.on("tlsClientError", (_e, s) => s.destroy());
    }
    this.broker.onAlarm((active) => {
      for (const c of this.connections) c.setBlocked(active);
    });
  }

  /** where the AMQP listener is bound, for URLs and logs ("[::]", "0.0.0.0", "127.0.0.1") */
  get boundHost(): string {
    return displayHost(this.tcp.address());
  }

  private tlsServer: tls.Server | null = null;

  /** the listeners' socket addresses once listening (amqps: null without TLS), for /api/overview */
  get listenAddresses(): { amqp: AddressInfo | null; amqps: AddressInfo | null } {
    const asInfo = (a: AddressInfo | string | null | undefined): AddressInfo | null => (a && typeof a === "object" ? a : null);
    return { amqp: asInfo(this.tcp.address()), amqps: asInfo(this.tlsServer?.address()) };
  }

  /** the amqps listener's host (as in URLs) and port, once listening (null without TLS) */
  get tlsAddress(): { host: string; port: number } | null {
    const a = this.listenAddresses.amqps;
    return a ? { host: displayHost(a), port: a.port } : null;
  }

  async listen(): Promise<number> {
    const listenOn = (srv: net.Server, port: number, host: string | undefined) =>
      new Promise<void>((resolve, reject) => {
        srv.once("error", reject);
        srv.listen({ port, host, backlog: ACCEPT_BACKLOG }, () => {
          srv.off("error", reject);
          resolve();
        });
      });
    await listenOn(this.tcp, this.opts.port, this.opts.host);
    if (this.tlsServer && this.opts.tls) {
      try {
        await listenOn(this.tlsServer, this.opts.tls.port, this.opts.tls.host ?? this.opts.host);
      } catch (e) {
        this.tcp.close();
        throw e;
      }
    }
    // Heartbeats go out every heartbeat/2 seconds of silence, as RabbitMQ's do; a 250 ms tick
    // keeps that true for heartbeat=1 (some clients, e.g. @cloudamqp/amqp-client, only echo the
    // server's heartbeats and drop the connection after `heartbeat` seconds without a frame).
    this.ticker = setInterval(() => {
      const now = Date.now();
      for (const c of this.pending) c.tick(now);
      checkFlowGates(now);
    }, 250);
    this.ticker.unref();
    const addr = this.tcp.address();
    return typeof addr === "object" && addr ? addr.port : this.opts.port;
  }

  /** `stop_app`: stop accepting and close every client connection (the process keeps running) */
  async stopApp(): Promise<void> {
    const closed = new Promise<void>((r) => (this.tcp.listening ? this.tcp.close(() => r()) : r()));
    const tlsClosed = this.tlsServer?.listening ? new Promise<void>((r) => this.tlsServer!.close(() => r())) : Promise.resolve();
    for (const c of this.pending) c.close("broker forced connection closure with reason 'shutdown'");
    await closed;
    await tlsClosed;
  }

  /** `start_app`: listen again on the ports bound at start */
  async startApp(port: number, tlsPort: number | null): Promise<void> {
    const listenOn = (srv: net.Server, p: number, host: string | undefined) =>
      new Promise<void>((resolve, reject) => {
        if (srv.listening) return resolve();
        srv.once("error", reject);
        srv.listen({ port: p, host, backlog: ACCEPT_BACKLOG }, () => {
          srv.off("error", reject);
          resolve();
        });
      });
    await listenOn(this.tcp, port, this.opts.host);
    if (this.tlsServer && this.opts.tls && tlsPort !== null) await listenOn(this.tlsServer, tlsPort, this.opts.tls.host ?? this.opts.host);
  }

  /** every accepted socket, open or still in handshake */
  private readonly pending = new Set<Connection>();

  private accept(socket: net.Socket): void {
    const c = new Connection(socket, this.broker, this);
    this.pending.add(c);
    socket.once("close", () => this.pending.delete(c));
  }

  onConnectionOpen(c: Connection): void {
    this.connections.add(c);
  }

  onConnectionClosed(c: Connection): void {
    this.connections.delete(c);
  }

  /** Stop accepting, close every connection with CONNECTION_FORCED, wait briefly. */
  async close(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    const closed = new Promise<void>((r) => this.tcp.close(() => r()));
    const tlsClosed = this.tlsServer?.listening ? new Promise<void>((r) => this.tlsServer!.close(() => r())) : Promise.resolve();
    for (const c of this.pending) c.close("broker forced connection closure with reason 'shutdown'");
    const deadline = Date.now() + 2000;
    while (this.pending.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const c of this.pending) c.destroy();
    await closed;
    await tlsClosed;
  }

  describeConnection(c: Connection): Record<string, unknown> {
    return describeConnection(c);
  }
  describeChannel(c: Connection, ch: Channel): Record<string, unknown> {
    return describeChannel(c, ch);
  }
  describeConsumer(c: Connection, ch: Channel, cons: Consumer): Record<string, unknown> {
    return describeConsumer(c, ch, cons);
  }
}
