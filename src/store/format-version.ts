/**
 * The data directory's format marker: <dataDir>/meta.json = {"format": N}.
 *
 * Owns: creating it in a new data directory and refusing to start on a
 * directory written by a newer (or unknown) format, with an error that says what
 * to do, instead of misreading its files. Segment files also carry their own
 * version in their header (record.ts); this file guards the directory as a whole.
 */
import * as fs from "node:fs";
import { join } from "node:path";

export const DATA_FORMAT = 1;
export const META_FILE = "meta.json";

export class DataFormatError extends Error {
  readonly code = "WARREN_DATA_FORMAT";
}

/** Create <dataDir> and meta.json if new; throw DataFormatError if it holds another format. */
export function ensureFormatVersion(dataDir: string): void {
  fs.mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, META_FILE);
  let text: string;
  try {
    text = fs.readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    writeMeta(dataDir, path);
    return;
  }
  let format: unknown;
  try {
    format = (JSON.parse(text) as { format?: unknown }).format;
  } catch {
    throw new DataFormatError(`${path} is not valid JSON; is ${dataDir} a warren data directory?`);
  }
  if (format === DATA_FORMAT) return;
  if (typeof format === "number" && Number.isInteger(format) && format > DATA_FORMAT) {
    throw new DataFormatError(
      `${dataDir} was written by a newer warren (data format ${format}); this version reads format ${DATA_FORMAT}. ` + `Upgrade warren, or point it at another data directory.`,
    );
  }
  throw new DataFormatError(`${path}: unknown data format ${JSON.stringify(format)} (expected ${DATA_FORMAT})`);
}

function writeMeta(dataDir: string, path: string): void {
  const tmp = path + ".tmp";
  const fd = fs.openSync(tmp, "w");
  try {
    fs.writeSync(fd, JSON.stringify({ format: DATA_FORMAT }) + "\n");
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path);
  const d = fs.openSync(dataDir, "r");
  try {
    fs.fsyncSync(d);
  } finally {
    fs.closeSync(d);
  }
}
