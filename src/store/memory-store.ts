/**
 * MemoryStore: the MessageStore used without a data directory (embedded use,
 * tests). It keeps nothing: persist() leaves storeId at 0 (so the broker keeps
 * the body in memory), pageOut() declines (storeId stays 0, body stays), recover()
 * is empty, and sync() answers on the next turn — the same asynchrony as a real
 * store, so callers cannot come to depend on a synchronous confirm.
 */
import type { MessageStore, RecoveredMessage, StorableMessage } from "./types.js";

export class MemoryStore implements MessageStore {
  private closed = false;

  persist(_msg: StorableMessage, _queueKeys: readonly string[]): void {}

  remove(_queueKey: string, _storeId: number): void {}
  markDelivered(_queueKey: string, _storeId: number): void {}

  sync(cb: (err?: Error) => void): void {
    setImmediate(() => cb(this.closed ? new Error("store is closed") : undefined));
  }

  readBody(storeId: number): Buffer {
    throw new Error(`MemoryStore keeps no bodies (storeId ${storeId})`);
  }

  pageOut(_msg: StorableMessage): void {}

  releasePaged(_storeId: number): void {}

  recover(): Map<string, RecoveredMessage[]> {
    return new Map();
  }

  deleteQueue(_queueKey: string): void {}

  async close(): Promise<void> {
    this.closed = true;
  }

  stats(): { messages: number; bytes: number; segments: number } {
    return { messages: 0, bytes: 0, segments: 0 };
  }
}
