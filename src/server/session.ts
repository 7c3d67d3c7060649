/**
 * An open AMQP connection as its channels and method handlers see it: who is asking (user,
 * vhost: never null here, the handshake is over), how to answer (sendMethod, the outbox), and
 * the few connection-wide services a handler uses. Deliberately narrow: no socket, no frame
 * reader, no handshake or close state machine, so a handler runs in a unit test against a real
 * Broker with a recording Session (test/unit/handlers.test.ts). Connection builds one at
 * connection.open (connection.ts `opened`).
 */
import type { AmqpError } from "../amqp/errors.js";
import type { User } from "../broker/auth.js";
import type { Broker } from "../broker/broker.js";
import type { FlowHolder } from "../broker/flow.js";
import type { VHost } from "../broker/vhost.js";
import type { Channel } from "./channel.js";
import type { Outbox } from "./outbox.js";
import type { Publisher } from "./publish.js";

/** What the client announced in start-ok's `capabilities` table. */
export interface Capabilities {
  consumerCancelNotify: boolean;
  authFailureClose: boolean;
  connectionBlocked: boolean;
  publisherConfirms: boolean;
}

export interface Session {
  /** the connection: owner of its exclusive queues, identity in listings */
  readonly owner: object;
  readonly id: number;
  readonly name: string;
  readonly broker: Broker;
  readonly user: User;
  readonly userName: string;
  readonly vhost: VHost;
  /** negotiated in tune-ok */
  readonly frameMax: number;
  readonly capabilities: Readonly<Capabilities>;
  /** frames to the client (content frames are written here directly) */
  readonly outbox: Outbox;
  readonly publisher: Publisher;
  /** what a congested queue holds back (flow control), i.e. this connection's reading */
  readonly flowHolder: FlowHolder;
  /** direct reply-to: token → the channel consuming from amq.rabbitmq.reply-to (node-wide) */
  readonly replyTo: Map<string, Channel>;
  readonly channels: Map<number, Channel>;
  readonly stats: { publish: number };
  /** when the last bytes arrived (one clock read per socket chunk) */
  readonly lastRecv: number;
  sendMethod(channel: number, id: number, args: object): void;
  /** hold this connection's frames (and output) until the cluster has `p` (topology changes) */
  awaitCluster(p: Promise<unknown>, holdOutput: boolean, ch: number, methodId: number, then?: () => void): void;
  closeWithError(err: AmqpError, classId?: number, methodId?: number): void;
}
