/**
 * Opens the stores behind the broker's ports for a data directory (or none). The data
 * directory is made private (0700) first: it holds every user's password hash, the Fleet
 * operator key and every persistent message, so nobody else on the machine may enter it.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../lib/logger.js";
import type { DefinitionsStore, FsyncPolicy, MessageStore } from "../store/types.js";

export interface Storage {
  messages: MessageStore | null;
  definitions: DefinitionsStore | null;
  close(): Promise<void>;
}

export async function openStorage(dataDir: string | null, fsync: FsyncPolicy, log: Logger): Promise<Storage> {
  if (!dataDir) return { messages: null, definitions: null, close: async () => {} };
  makePrivate(dataDir, log);
  const [{ SegmentStore }, { DefinitionsLog }] = await Promise.all([import("../store/segment-store.js"), import("../store/definitions-log.js")]);
  const definitions = DefinitionsLog.open({ dataDir, log: (l: string) => log.info(l) });
  const messages = SegmentStore.open({ dir: join(dataDir, "messages"), fsync, log: (l: string) => log.info(l), logError: (l: string) => log.error(l) });
  return {
    messages,
    definitions,
    async close() {
      await messages.close();
      await definitions.close();
    },
  };
}

/** Data dir 0700, and its top-level files 0600 (those an earlier version left 0644). */
export function makePrivate(dataDir: string, log: Logger): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (process.platform === "win32") return;
  if ((statSync(dataDir).mode & 0o077) !== 0) {
    chmodSync(dataDir, 0o700);
    log.warn(`data directory ${dataDir} was readable by other users; it is now mode 0700`);
  }
  for (const f of readdirSync(dataDir)) {
    const p = join(dataDir, f);
    if (existsSync(p) && statSync(p).isFile() && (statSync(p).mode & 0o077) !== 0) chmodSync(p, 0o600);
  }
}
