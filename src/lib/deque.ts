/**
 * A growable ring-buffer double-ended queue. Used for queue contents and other
 * FIFOs on the hot path instead of Array.shift (which is O(n) once arrays get
 * large) — the undici/fastify trick.
 *
 * Invariant: capacity is a power of two; `head` indexes the first element;
 * slots outside [head, head+length) are undefined so removed values can be GC'd.
 */
export class Deque<T> {
  private buf: (T | undefined)[];
  private head = 0;
  private len = 0;
  private mask: number;

  constructor(initialCapacity = 8) {
    let cap = 8;
    while (cap < initialCapacity) cap <<= 1;
    this.buf = new Array<T | undefined>(cap);
    this.mask = cap - 1;
  }

  get length(): number {
    return this.len;
  }

  push(v: T): void {
    if (this.len === this.buf.length) this.grow();
    this.buf[(this.head + this.len) & this.mask] = v;
    this.len++;
  }

  unshift(v: T): void {
    if (this.len === this.buf.length) this.grow();
    this.head = (this.head - 1) & this.mask;
    this.buf[this.head] = v;
    this.len++;
  }

  shift(): T | undefined {
    if (this.len === 0) return undefined;
    const v = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.len--;
    return v;
  }

  pop(): T | undefined {
    if (this.len === 0) return undefined;
    const i = (this.head + this.len - 1) & this.mask;
    const v = this.buf[i];
    this.buf[i] = undefined;
    this.len--;
    return v;
  }

  peek(): T | undefined {
    return this.len === 0 ? undefined : this.buf[this.head];
  }

  peekLast(): T | undefined {
    return this.len === 0 ? undefined : this.buf[(this.head + this.len - 1) & this.mask];
  }

  get(i: number): T | undefined {
    if (i < 0 || i >= this.len) return undefined;
    return this.buf[(this.head + i) & this.mask];
  }

  /** Insert at logical index i (0 = front). O(min(i, length-i)) moves. */
  insertAt(i: number, v: T): void {
    if (i <= 0) return this.unshift(v);
    if (i >= this.len) return this.push(v);
    if (this.len === this.buf.length) this.grow();
    if (i < this.len / 2) {
      this.head = (this.head - 1) & this.mask;
      for (let k = 0; k < i; k++) this.buf[(this.head + k) & this.mask] = this.buf[(this.head + k + 1) & this.mask];
    } else {
      for (let k = this.len; k > i; k--) this.buf[(this.head + k) & this.mask] = this.buf[(this.head + k - 1) & this.mask];
    }
    this.buf[(this.head + i) & this.mask] = v;
    this.len++;
  }

  /** Remove and return element at logical index i. */
  removeAt(i: number): T | undefined {
    if (i < 0 || i >= this.len) return undefined;
    if (i === 0) return this.shift();
    const v = this.buf[(this.head + i) & this.mask];
    for (let k = i; k < this.len - 1; k++) this.buf[(this.head + k) & this.mask] = this.buf[(this.head + k + 1) & this.mask];
    this.buf[(this.head + this.len - 1) & this.mask] = undefined;
    this.len--;
    return v;
  }

  clear(): T[] {
    const out = this.toArray();
    this.buf = new Array<T | undefined>(8);
    this.mask = 7;
    this.head = 0;
    this.len = 0;
    return out;
  }

  toArray(): T[] {
    const out: T[] = new Array(this.len);
    for (let k = 0; k < this.len; k++) out[k] = this.buf[(this.head + k) & this.mask] as T;
    return out;
  }

  private grow(): void {
    const old = this.buf;
    const cap = old.length * 2;
    const nb = new Array<T | undefined>(cap);
    for (let k = 0; k < this.len; k++) nb[k] = old[(this.head + k) & this.mask];
    this.buf = nb;
    this.head = 0;
    this.mask = cap - 1;
  }
}
