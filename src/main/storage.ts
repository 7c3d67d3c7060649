/**
 * Opens the stores behind the broker's ports for a data directory (or none).
 */
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
  const [{ SegmentStore }, { DefinitionsLog }] = await Promise.all([import("../store/segment-store.js"), import("../store/definitions-log.js")]);
  const definitions = DefinitionsLog.open({ dataDir, log: (l: string) => log.info(l) });
  const messages = SegmentStore.open({ dir: join(dataDir, "messages"), fsync, log: (l: string) => log.info(l) });
  return {
    messages,
    definitions,
    async close() {
      await messages.close();
      await definitions.close();
    },
  };
}
