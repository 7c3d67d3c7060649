/**
 * The storeIds one durable queue references, in queue order (= ascending
 * storeId), held in a Float64Array: 8 bytes per reference, no per-message objects.
 *
 * Owns: membership of (queue, storeId) pairs. It is what makes remove()
 * idempotent (a second ack of the same message, or an ack for a message the
 * queue never held, is a no-op instead of a wrong reference count) and what lets
 * deleteQueue() find every message the queue still holds.
 *
 * Invariants: ids[head..tail) ascending by |id|; a removed entry is stored
 * negated; ids[head] is live whenever live > 0 (removals at the head advance
 * it, so a FIFO queue never accumulates dead entries); the array is compacted
 * when more than half of it is dead.
 */
export class QueueRefs {
  private ids = new Float64Array(16);
  private head = 0;
  private tail = 0;
  live = 0;

  /** Append a reference; ids must be pushed in ascending order. */
  push(id: number): void {
    if (this.tail === this.ids.length) this.makeRoom();
    this.ids[this.tail++] = id;
    this.live++;
  }

  /** Drop the reference to `id`; false when the queue does not hold it (idempotent). */
  remove(id: number): boolean {
    const i = this.find(id);
    if (i < 0 || this.ids[i]! < 0) return false;
    this.ids[i] = -id;
    this.live--;
    while (this.head < this.tail && this.ids[this.head]! < 0) this.head++;
    if (this.live === 0) this.head = this.tail = 0;
    return true;
  }

  has(id: number): boolean {
    const i = this.find(id);
    return i >= 0 && this.ids[i]! > 0;
  }

  forEachLive(fn: (id: number) => void): void {
    for (let i = this.head; i < this.tail; i++) {
      const v = this.ids[i]!;
      if (v > 0) fn(v);
    }
  }

  get memoryBytes(): number {
    return this.ids.byteLength;
  }

  private find(id: number): number {
    let lo = this.head;
    let hi = this.tail - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = Math.abs(this.ids[mid]!);
      if (v === id) return mid;
      if (v < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Called when the array is full: compact away dead entries, grow if still more than half full. */
  private makeRoom(): void {
    let w = 0;
    for (let r = this.head; r < this.tail; r++) {
      const v = this.ids[r]!;
      if (v > 0) this.ids[w++] = v;
    }
    this.head = 0;
    this.tail = w;
    if (w * 2 > this.ids.length) {
      const bigger = new Float64Array(this.ids.length * 2);
      bigger.set(this.ids.subarray(0, w));
      this.ids = bigger;
    }
  }
}
