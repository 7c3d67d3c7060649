/**
 * The publish path after content assembly: direct reply-to, routing,
 * mandatory returns, publisher confirms and transactions.
 *
 * Flow: basic.publish handler (permissions, exchange lookup) → Channel
 * assembles content → Publisher.publish → Router.publish (queues, store) →
 * confirm (after the store's group commit when the message was persisted).
 */
import { NO_ROUTE, preconditionFailed } from "../amqp/errors.js";
import { encodeProperties } from "../amqp/properties.js";
import type { FieldTable } from "../amqp/field-table.js";
import { typeName } from "../broker/args.js";
import type { Exchange } from "../broker/exchanges/exchange.js";
import type { Message } from "../broker/message.js";
import { NEEDS_SYNC, REJECTED, ROUTED } from "../broker/router.js";
import { publishing } from "../broker/flow.js";
import { forwarding } from "../broker/cluster-view.js";
import type { Channel } from "./channel.js";
import type { Session } from "./session.js";
import { writeDeliver, writeReturn } from "./frames-out.js";

export const REPLY_TO_QUEUE = "amq.rabbitmq.reply-to";
const REPLY_TO_PREFIX = "amq.rabbitmq.reply-to.";

/** the empty array a publish collects its forwards in (kept while nothing was forwarded: no allocation per publish) */
let spare: Promise<boolean>[] = [];

export class Publisher {
  /** the cluster forwards / quorum replication the last route() is waiting on (tx.commit collects them) */
  lastForwards: Promise<boolean>[] | null = null;
  constructor(private readonly conn: Session) {}

  publish(ch: Channel, ex: Exchange | null, msg: Message, mandatory: boolean): void {
    ch.stats.publish++;
    this.conn.stats.publish++;
    this.conn.broker.totals.publish++;
    const props = msg.properties;
    // RabbitMQ (rabbit_channel:check_user_id_header): a user tagged `impersonator` may set any
    // user_id; warren's node-link user has the tag, so it forwards what another node validated
    if (props.userId !== undefined && props.userId !== this.conn.userName && !this.conn.user?.tags.includes("impersonator")) {
      throw preconditionFailed(`user_id property set to '${props.userId}' but authenticated user was '${this.conn.userName}'`);
    }
    if (props.expiration !== undefined && !/^\d+$/.test(props.expiration)) {
      // rabbit_basic:parse_expiration: an integer that is negative, or not an integer at all
      const detail = /^-\d+$/.test(props.expiration) ? `{value_negative,${props.expiration}}` : "no_integer";
      throw preconditionFailed(`invalid expiration '${props.expiration}': ${detail}`);
    }
    const dm = props.deliveryMode;
    if (dm !== undefined && dm !== 1 && dm !== 2 && dm !== 0) throw preconditionFailed(`invalid message: {delivery_mode_unknown,${dm}}`);
    const headers = props.headers;
    if (headers !== undefined) checkRoutingHeaders(headers);
    if (props.replyTo === REPLY_TO_QUEUE) this.rewriteReplyTo(ch, msg);
    const seq = ch.confirm ? ch.nextPublishSeq() : 0;
    if (seq) this.conn.broker.totals.receivedConfirm++;
    if (ex === null) {
      // default exchange, routing key amq.rabbitmq.reply-to.<token>
      const ok = this.deliverReplyTo(msg);
      if (!ok && mandatory) this.returnMessage(ch, msg);
      if (seq) ch.settlePublish(seq, false, true, null);
      return;
    }
    if (ch.tx) {
      ch.txPublishes.push({ exchange: ex, msg, mandatory });
      return;
    }
    this.route(ch, ex, msg, mandatory, seq);
  }

  /** Route one message; returns the router flags. Used directly and by tx.commit. */
  route(ch: Channel, ex: Exchange, msg: Message, mandatory: boolean, seq: number): number {
    const vhost = this.conn.vhost;
    // a congested queue on the way holds this connection (flow control, broker/flow.ts)
    publishing.holder = this.conn.flowHolder;
    // on a cluster member, collect the forwards to queues homed elsewhere: the confirm waits for them
    const clustered = this.conn.broker.cluster !== null;
    if (clustered) forwarding.pending = spare;
    let flags: number;
    let forwards: Promise<boolean>[] | null = null;
    try {
      flags = vhost.router.publish(ex, msg, msg.routingKey);
    } finally {
      publishing.holder = null;
      if (clustered) {
        const f = forwarding.pending!;
        if (f.length > 0) {
          forwards = f;
          spare = [];
        }
        forwarding.pending = null;
      }
    }
    this.lastForwards = forwards;
    if ((flags & ROUTED) !== 0) this.conn.broker.totals.routed++;
    else if (mandatory) this.returnMessage(ch, msg);
    else {
      vhost.stats.dropUnroutable++;
      ch.stats.dropUnroutable++;
      this.conn.broker.totals.dropUnroutable++;
    }
    if (seq) ch.settlePublish(seq, (flags & NEEDS_SYNC) !== 0, (flags & REJECTED) === 0, msg, forwards);
    return flags;
  }

  private returnMessage(ch: Channel, msg: Message): void {
    ch.stats.returnUnroutable++;
    this.conn.vhost.stats.returnUnroutable++;
    this.conn.broker.totals.returnUnroutable++;
    writeReturn(this.conn.outbox, ch.id, NO_ROUTE, "NO_ROUTE", msg, this.conn.frameMax);
  }

  /** reply_to=amq.rabbitmq.reply-to: point it at this channel's pseudo-queue. */
  private rewriteReplyTo(ch: Channel, msg: Message): void {
    if (!ch.replyTo) throw preconditionFailed("fast reply consumer does not exist");
    msg.properties = { ...msg.properties, replyTo: REPLY_TO_PREFIX + ch.replyTo.token };
    msg.propertiesRaw = encodeProperties(msg.properties);
  }

  /** Deliver a reply straight to the requesting channel's reply-to consumer. */
  private deliverReplyTo(msg: Message): boolean {
    const token = msg.routingKey.slice(REPLY_TO_PREFIX.length);
    const target = this.conn.replyTo.get(token);
    if (!target || !target.replyTo || !target.open) return false;
    // replies are delivered no-ack on the requester's channel, with the routing key it published to
    writeDeliver(target.conn.outbox, target.id, target.replyTo.consumerTag, target.nextReplyTag(), false, msg, target.conn.frameMax);
    return true;
  }
}

/** rabbit_basic:header_routes: CC and BCC, when present, must be arrays. */
function checkRoutingHeaders(headers: FieldTable): void {
  const cc = headers["CC"];
  if (cc !== undefined && !Array.isArray(cc)) throw preconditionFailed(`invalid message: {unacceptable_type_in_header,"CC",${typeName(cc)}}`);
  const bcc = headers["BCC"];
  if (bcc !== undefined && !Array.isArray(bcc)) throw preconditionFailed(`invalid message: {unacceptable_type_in_header,"BCC",${typeName(bcc)}}`);
}

export function isReplyToKey(routingKey: string): boolean {
  return routingKey.startsWith(REPLY_TO_PREFIX);
}
