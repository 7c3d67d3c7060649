/**
 * Taking back publishes whose write failed. When the store cannot write (ENOSPC, EIO) the
 * waiting publishers get basic.nack (or their tx.commit fails): the broker has not taken
 * responsibility for those messages, and a publisher that resends on nack must not see them
 * delivered as well. So every nacked message still waiting in a queue is removed from it (and
 * its store reference released, so it does not come back after a restart either).
 *
 * The failures of one group commit arrive as one burst of callbacks; they are collected and
 * swept in a microtask, once per burst, before anything else can deliver. Store ids grow in
 * publish order, so each queue is searched from its newest entry back to the oldest failed id
 * only (see ReadyList.withdraw). A message a consumer already received before the write failed
 * stays delivered: the nack then means "not stored", as RabbitMQ's does.
 */
import type { Message } from "./message.js";
import type { VHost } from "./vhost.js";

export class Withdrawals {
  private readonly ids = new Set<number>();
  private minId = Infinity;
  private scheduled = false;
  /** messages removed from queues since start (logged; a test reads it) */
  total = 0;

  constructor(
    private readonly vhosts: ReadonlyMap<string, VHost>,
    private readonly log: (line: string) => void,
  ) {}

  /** The publish of `msg` was nacked because its write failed: take it back from every queue. */
  add(msg: Message): void {
    const id = msg.storeId;
    if (id === 0) return;
    this.ids.add(id);
    if (id < this.minId) this.minId = id;
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(this.sweep);
  }

  private readonly sweep = (): void => {
    this.scheduled = false;
    let n = 0;
    for (const vh of this.vhosts.values()) for (const q of vh.queues.values()) n += q.withdraw(this.ids, this.minId);
    if (n > 0) this.log(`store: ${n} nacked message(s) taken back from their queues (write failed)`);
    this.total += n;
    this.ids.clear();
    this.minId = Infinity;
  };
}
