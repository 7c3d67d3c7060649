/**
 * Compact encoding of one series' samples (timestamp ms, float64 value), after
 * Facebook's Gorilla paper as Prometheus uses it: timestamps as
 * delta-of-delta (a regular interval costs 1 bit), values XORed with the
 * previous one (an unchanged value costs 1 bit; a changed one only its
 * meaningful bits). Bit-packed into a Buffer; decode(encode(x)) === x exactly.
 *
 * Layout: u32 count, f64 first t, f64 first v, then per later sample:
 *   dod: '0' | '10'+zigzag(8) | '110'+zigzag(16) | '1110'+zigzag(32) | '1111'+f64 raw t
 *   xor: '0' | '10' + bits in the previous window | '11' + 6-bit leading + 6-bit (length-1) + bits
 */

class BitWriter {
  private buf = Buffer.alloc(256);
  private bit = 0; // bits written

  private ensure(n: number): void {
    if ((this.bit + n + 7) >> 3 <= this.buf.length) return;
    const b = Buffer.alloc(Math.max(this.buf.length * 2, ((this.bit + n + 7) >> 3) + 64));
    this.buf.copy(b);
    this.buf = b;
  }

  /** Write the low `n` (≤ 32) bits of `v`, most significant first. */
  write(v: number, n: number): void {
    this.ensure(n);
    for (let i = n - 1; i >= 0; i--) {
      if ((v >>> i) & 1) this.buf[this.bit >> 3]! |= 0x80 >> (this.bit & 7);
      this.bit++;
    }
  }

  bytes(): Buffer {
    return this.buf.subarray(0, (this.bit + 7) >> 3);
  }
}

class BitReader {
  private bit = 0;
  constructor(
    private readonly buf: Buffer,
    startByte: number,
  ) {
    this.bit = startByte * 8;
  }
  read(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const byte = this.buf[this.bit >> 3];
      if (byte === undefined) throw new Error("chunk truncated");
      v = ((v << 1) | ((byte >> (7 - (this.bit & 7))) & 1)) >>> 0;
      this.bit++;
    }
    return v;
  }
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer); // little-endian hosts: [0] low word, [1] high word
const hiLo = (x: number): [number, number] => {
  f64[0] = x;
  return [u32[1]!, u32[0]!];
};
const fromHiLo = (hi: number, lo: number): number => {
  u32[1] = hi;
  u32[0] = lo;
  return f64[0]!;
};
const clz64 = (hi: number, lo: number): number => (hi ? Math.clz32(hi) : 32 + Math.clz32(lo));
const ctz32 = (x: number): number => (x === 0 ? 32 : 31 - Math.clz32(x & -x));
const ctz64 = (hi: number, lo: number): number => (lo ? ctz32(lo) : 32 + ctz32(hi));
const zig = (n: number): number => (n >= 0 ? n * 2 : -n * 2 - 1);
const unzig = (z: number): number => (z % 2 === 0 ? z / 2 : -(z + 1) / 2);

/** Write the `len` bits of (hi,lo) that start `lead` bits from the top. */
function writeBits(w: BitWriter, hi: number, lo: number, lead: number, len: number): void {
  for (let i = 0; i < len; i++) {
    const pos = lead + i; // 0 = top bit
    const bit = pos < 32 ? (hi >>> (31 - pos)) & 1 : (lo >>> (63 - pos)) & 1;
    w.write(bit, 1);
  }
}

export function encodeChunk(ts: ArrayLike<number>, vs: ArrayLike<number>): Buffer {
  const n = ts.length;
  const head = Buffer.alloc(20);
  head.writeUInt32LE(n, 0);
  if (n === 0) return head.subarray(0, 4);
  head.writeDoubleLE(ts[0]!, 4);
  head.writeDoubleLE(vs[0]!, 12);
  const w = new BitWriter();
  let prevT = ts[0]!;
  let prevDelta = 0;
  let [pHi, pLo] = hiLo(vs[0]!);
  let winLead = -1;
  let winLen = 0;
  for (let i = 1; i < n; i++) {
    const t = ts[i]!;
    const delta = t - prevT;
    const dod = delta - prevDelta;
    const z = zig(dod);
    if (dod === 0) w.write(0, 1);
    else if (z < 1 << 8) w.write(0b10, 2), w.write(z, 8);
    else if (z < 1 << 16) w.write(0b110, 3), w.write(z, 16);
    else if (z < 2 ** 32) w.write(0b1110, 4), w.write(z >>> 0, 32);
    else {
      w.write(0b1111, 4);
      const [h, l] = hiLo(t);
      w.write(h, 32);
      w.write(l, 32);
    }
    prevDelta = delta;
    prevT = t;
    const [hi, lo] = hiLo(vs[i]!);
    const xHi = (hi ^ pHi) >>> 0;
    const xLo = (lo ^ pLo) >>> 0;
    pHi = hi;
    pLo = lo;
    if (xHi === 0 && xLo === 0) {
      w.write(0, 1);
      continue;
    }
    const lead = Math.min(63, clz64(xHi, xLo));
    const trail = ctz64(xHi, xLo);
    if (winLead >= 0 && lead >= winLead && trail >= 64 - winLead - winLen) {
      w.write(0b10, 2);
      writeBits(w, xHi, xLo, winLead, winLen);
    } else {
      winLead = lead;
      winLen = 64 - lead - trail;
      w.write(0b11, 2);
      w.write(lead, 6);
      w.write(winLen - 1, 6);
      writeBits(w, xHi, xLo, winLead, winLen);
    }
  }
  return Buffer.concat([head, w.bytes()]);
}

export function decodeChunk(buf: Buffer): { ts: number[]; vs: number[] } {
  const n = buf.readUInt32LE(0);
  const ts: number[] = [];
  const vs: number[] = [];
  if (n === 0) return { ts, vs };
  let t = buf.readDoubleLE(4);
  let v = buf.readDoubleLE(12);
  ts.push(t);
  vs.push(v);
  const r = new BitReader(buf, 20);
  let delta = 0;
  let [pHi, pLo] = hiLo(v);
  let winLead = 0;
  let winLen = 0;
  for (let i = 1; i < n; i++) {
    if (r.read(1) === 0) t += delta;
    else if (r.read(1) === 0) (delta += unzig(r.read(8))), (t += delta);
    else if (r.read(1) === 0) (delta += unzig(r.read(16))), (t += delta);
    else if (r.read(1) === 0) (delta += unzig(r.read(32))), (t += delta);
    else {
      const nt = fromHiLo(r.read(32), r.read(32));
      delta = nt - t;
      t = nt;
    }
    ts.push(t);
    if (r.read(1) === 1) {
      if (r.read(1) === 1) {
        winLead = r.read(6);
        winLen = r.read(6) + 1;
      }
      let xHi = 0;
      let xLo = 0;
      for (let b = 0; b < winLen; b++) {
        const pos = winLead + b;
        if (r.read(1)) {
          if (pos < 32) xHi = (xHi | (1 << (31 - pos))) >>> 0;
          else xLo = (xLo | (1 << (63 - pos))) >>> 0;
        }
      }
      pHi = (pHi ^ xHi) >>> 0;
      pLo = (pLo ^ xLo) >>> 0;
      v = fromHiLo(pHi, pLo);
    }
    vs.push(v);
  }
  return { ts, vs };
}
