/**
 * CRC-32 (IEEE 802.3, the zlib/PNG polynomial) for record checksums.
 *
 * Owns: one function, crc32(data, start?) with the same contract as zlib.crc32
 * (start = running value, so a record can be checksummed in pieces).
 * Node >= 20.15 ships zlib.crc32 (native, ~GB/s); older Node 20 releases get the
 * table-driven fallback below. Both produce identical values, so files written
 * by either are readable by the other.
 */
import * as zlib from "node:zlib";

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Portable table implementation; exported so tests can check it agrees with zlib's. */
export function crc32Table(data: Uint8Array, start = 0): number {
  let c = (start ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

type Crc = (data: Uint8Array, start?: number) => number;
const native = (zlib as unknown as { crc32?: Crc }).crc32;

export const crc32: Crc = typeof native === "function" ? (d, s = 0) => native(d, s) : crc32Table;
