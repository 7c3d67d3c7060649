/**
 * Connection/channel/consumer descriptions in the JSON shape of RabbitMQ's
 * management API (/api/connections, /api/channels, /api/consumers). Built on
 * request only — never on the message path.
 */
import { tableToJSON } from "../amqp/field-table.js";
import type { Consumer } from "../broker/consumer.js";
import type { Channel } from "./channel.js";
import type { Connection } from "./connection.js";
import { rabbitTimestamp } from "../lib/timestamp.js";

export function describeConnection(c: Connection): Record<string, unknown> {
  const s = c.socket;
  // RabbitMQ lists the name a client gives itself (client property connection_name) only when given
  const named = c.clientProperties["connection_name"];
  return {
    ...(typeof named === "string" ? { user_provided_name: named } : {}),
    name: c.name,
    node: "warren@localhost",
    type: "network",
    state: c.blocked ? "blocked" : c.inFlow ? "flow" : "running",
    user: c.userName,
    vhost: c.vhostName,
    protocol: "AMQP 0-9-1",
    host: s.localAddress,
    port: s.localPort,
    peer_host: s.remoteAddress,
    peer_port: s.remotePort,
    ssl: false,
    auth_mechanism: "PLAIN",
    channels: c.channels.size,
    channel_max: c.channelMax,
    frame_max: c.frameMax,
    timeout: c.heartbeat,
    connected_at: c.connectedAt,
    client_properties: tableToJSON(c.clientProperties),
    recv_oct: c.stats.recvOct,
    recv_cnt: c.stats.recvCnt,
    send_oct: s.bytesWritten,
    send_cnt: c.outbox.sends,
    send_pend: s.writableLength,
  };
}

export function describeChannel(c: Connection, ch: Channel): Record<string, unknown> {
  return {
    name: `${c.name} (${ch.id})`,
    number: ch.id,
    node: "warren@localhost",
    user: c.userName,
    vhost: c.vhostName,
    connection_details: { name: c.name, peer_host: c.socket.remoteAddress, peer_port: c.socket.remotePort },
    state: c.inFlow ? "flow" : "running",
    confirm: ch.confirm,
    transactional: ch.tx,
    consumer_count: ch.consumers.size,
    idle_since: rabbitTimestamp(ch.lastActive),
    messages_unacknowledged: ch.unackedCount,
    messages_unconfirmed: 0,
    messages_uncommitted: ch.txPublishes.length,
    acks_uncommitted: ch.txAcks.length,
    // quorum-queue commands in flight: warren's quorum queues have no Raft log to wait for
    pending_raft_commands: 0,
    prefetch_count: ch.prefetchCount,
    global_prefetch_count: ch.globalPrefetch,
    message_stats: channelMessageStats(ch),
  };
}

export function describeConsumer(c: Connection, ch: Channel, cons: Consumer): Record<string, unknown> {
  // x-single-active-consumer: the first consumer is the active one, the others wait (RabbitMQ's
  // activity_status single_active / waiting; "up" for every consumer of other queues)
  const sac = cons.queue.settings.singleActiveConsumer;
  const active = !sac || cons.queue.consumers[0] === cons;
  return {
    consumer_tag: cons.tag,
    channel_details: {
      name: `${c.name} (${ch.id})`,
      number: ch.id,
      connection_name: c.name,
      peer_host: c.socket.remoteAddress,
      peer_port: c.socket.remotePort,
      user: c.userName,
      node: "warren@localhost",
    },
    queue: { name: cons.queue.name, vhost: cons.queue.vhost },
    ack_required: !cons.noAck,
    exclusive: cons.exclusive,
    prefetch_count: cons.prefetch,
    active,
    activity_status: sac ? (active ? "single_active" : "waiting") : "up",
    arguments: tableToJSON(cons.args),
  };
}

/** A channel's counters under RabbitMQ's message_stats names (also sampled for rates). */
export function channelMessageStats(ch: Channel): Record<string, number> {
  return {
    publish: ch.stats.publish,
    // RabbitMQ's deliver/get are the manual-ack ones
    deliver: ch.stats.deliver - ch.stats.deliverNoAck,
    deliver_no_ack: ch.stats.deliverNoAck,
    ack: ch.stats.ack,
    get: ch.stats.get - ch.stats.getNoAck,
    get_no_ack: ch.stats.getNoAck,
    get_empty: ch.stats.getEmpty,
    deliver_get: ch.stats.deliver + ch.stats.get,
    redeliver: ch.stats.redeliver,
    confirm: ch.stats.confirm,
    return_unroutable: ch.stats.returnUnroutable,
    drop_unroutable: ch.stats.dropUnroutable,
  };
}
