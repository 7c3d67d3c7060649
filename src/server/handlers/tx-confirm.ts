/**
 * confirm.select and tx.select/commit/rollback. A channel is in at most one of
 * the two modes (RabbitMQ refuses mixing with PRECONDITION_FAILED).
 * tx.commit-ok is sent only after the store has synced what the transaction
 * persisted (and, on a cluster, after queues on other nodes and quorum queues' replicas
 * have the messages), so a commit means "on disk" like a confirm does.
 */
import { internalError, preconditionFailed } from "../../amqp/errors.js";
import * as M from "../../amqp/gen/methods.js";
import { NEEDS_SYNC } from "../../broker/router.js";
import type { Channel } from "../channel.js";
import type { Session } from "../session.js";

export function confirmSelect(conn: Session, ch: Channel, a: M.ConfirmSelect): void {
  if (ch.tx) throw preconditionFailed("cannot switch from tx to confirm mode");
  ch.confirm = true;
  if (!a.nowait) conn.sendMethod(ch.id, M.CONFIRM_SELECT_OK, {});
}

export function txSelect(conn: Session, ch: Channel): void {
  if (ch.confirm) throw preconditionFailed("cannot switch from confirm to tx mode");
  ch.tx = true;
  conn.sendMethod(ch.id, M.TX_SELECT_OK, {});
}

export function txCommit(conn: Session, ch: Channel): void {
  if (!ch.tx) throw preconditionFailed("channel is not transactional");
  const pubs = ch.txPublishes;
  const acks = ch.txAcks;
  ch.txPublishes = [];
  ch.txAcks = [];
  let needsSync = false;
  // the messages are enqueued now: their TTL starts at commit, not at basic.publish
  const now = Date.now();
  // on a cluster member: forwards to queues on other nodes and quorum-queue replication
  let forwards: Promise<boolean>[] | null = null;
  for (const p of pubs) {
    p.msg.publishedAt = now;
    const flags = conn.publisher.route(ch, p.exchange, p.msg, p.mandatory, 0);
    if (flags & NEEDS_SYNC) needsSync = true;
    const f = conn.publisher.lastForwards;
    if (f !== null) (forwards ??= []).push(...f);
  }
  for (const a of acks) ch.settle(a.list, a.kind);
  const store = conn.broker.store;
  const commitOk = (): void => {
    if (forwards === null) {
      if (ch.open) conn.sendMethod(ch.id, M.TX_COMMIT_OK, {});
      return;
    }
    // commit-ok means every queue has the messages: forwarded ones at their node, quorum ones on enough replicas
    void Promise.all(forwards).then((oks) => {
      if (oks.every((ok) => ok)) {
        if (ch.open) conn.sendMethod(ch.id, M.TX_COMMIT_OK, {});
        return;
      }
      conn.closeWithError(internalError("tx.commit failed: a queue on another node, or a quorum queue's replicas, did not take every message"), 90, 20);
    });
  };
  if (needsSync && store) {
    store.sync((err) => {
      if (!err) return commitOk();
      // commit-ok would claim the messages are safe: take them back, and fail the connection
      // as rabbit_channel does when a commit cannot complete (541, a hard error)
      for (const p of pubs) conn.broker.withdrawals.add(p.msg);
      const reason = (err as NodeJS.ErrnoException).code ?? err.message;
      conn.closeWithError(internalError(`tx.commit failed: the message store could not write (${reason})`), 90, 20);
    });
  } else {
    commitOk();
  }
}

export function txRollback(conn: Session, ch: Channel): void {
  if (!ch.tx) throw preconditionFailed("channel is not transactional");
  ch.txPublishes = [];
  ch.restoreTxAcks();
  conn.sendMethod(ch.id, M.TX_ROLLBACK_OK, {});
}
