/**
 * A consumer attached to a queue. The broker knows consumers only through
 * ConsumerHost, which the server's channel implements: the queue asks the host
 * whether it may deliver (prefetch, channel.flow, socket backpressure) and hands
 * it entries; the host writes frames and tracks delivery tags.
 */
import type { FieldTable } from "../amqp/field-table.js";
import type { QueueEntry } from "./message.js";
import type { Queue } from "./queue.js";

export interface ConsumerHost {
  canDeliver(c: Consumer): boolean;
  deliver(c: Consumer, q: Queue, e: QueueEntry): void;
  /** the queue went away (deleted): notify the client (basic.cancel) if it announced the capability */
  cancelledByServer(c: Consumer): void;
}

export class Consumer {
  /** deliveries not yet acked (manual-ack consumers only) */
  unacked = 0;
  constructor(
    readonly tag: string,
    readonly queue: Queue,
    readonly host: ConsumerHost,
    readonly noAck: boolean,
    readonly exclusive: boolean,
    readonly priority: number,
    /** per-consumer prefetch count (basic.qos global=false); 0 = unlimited */
    readonly prefetch: number,
    readonly args: FieldTable,
    /** owner identity for listings: channel/connection name */
    readonly owner: { connectionName: string; channelNumber: number; user: string },
  ) {}
}
