/**
 * Shared helpers for the store unit tests (temporary data directories, message
 * factories with self-checking bodies, promisified sync). Importing this file
 * does nothing by itself (the test runner also executes it as a file).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MessageStore, StorableMessage } from "../../../src/store/types.js";

export function tempDir(tag: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `warren-store-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Body bytes derived from (seed, length) so any recovered body can be checked. */
export function patternBody(seed: number, len: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = (seed * 7 + i * 13) & 0xff;
  return b;
}

export function makeMessage(seed: number, len = 20): StorableMessage {
  const body = patternBody(seed, len);
  return {
    exchange: "amq.direct",
    routingKey: `k.${seed}.${len}`,
    propertiesRaw: Buffer.from([0x10, 0x00, 0x02]),
    body,
    bodySize: body.length,
    storeId: 0,
  };
}

export function syncP(store: { sync(cb: (err?: Error) => void): void }): Promise<void> {
  return new Promise((resolve, reject) => store.sync((err) => (err ? reject(err) : resolve())));
}

/** Capture the store's log lines instead of printing them. */
export function logSink(): { log: (l: string) => void; lines: string[] } {
  const lines: string[] = [];
  return { lines, log: (l) => lines.push(l) };
}

export type { MessageStore };
