/**
 * AMQP 0-9-1 framing: the protocol header and the frame reader.
 *
 * A frame is: type (octet) | channel (short) | size (long) | payload (size octets) | 0xCE.
 * Types: 1 method, 2 content header, 3 content body, 8 heartbeat.
 *
 * FrameReader is a push parser with two states: "between frames" and "inside a
 * frame that crossed a chunk boundary". Frames wholly inside a chunk are handed
 * to the sink as (chunk, start, end) — parsed in place, no copy. Only a frame
 * split across chunks is copied, once, into a buffer of its exact size (never
 * Buffer.concat of the whole read buffer).
 *
 * Errors: an oversized frame or a bad frame-end octet throws AmqpError
 * FRAME_ERROR (connection-level); the connection turns it into connection.close.
 */
import { AmqpError, FRAME_ERROR } from "./errors.js";

export const FRAME_METHOD = 1;
export const FRAME_HEADER = 2;
export const FRAME_BODY = 3;
export const FRAME_HEARTBEAT = 8;
export const FRAME_END = 0xce;
/** Frame overhead: 7-byte header + frame-end octet. */
export const FRAME_OVERHEAD = 8;

export const PROTOCOL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);

export interface FrameSink {
  /** payload is buf[start, end). Return false to stop parsing the rest of this chunk (connection closing). */
  onFrame(type: number, channel: number, buf: Buffer, start: number, end: number): boolean;
}

export class FrameReader {
  /** Largest accepted payload + overhead, i.e. the negotiated frame_max (0 = unlimited up to hardLimit). */
  frameMax: number;
  private hdr = Buffer.alloc(7);
  private hdrLen = 0;
  private partial: Buffer | null = null;
  private partialLen = 0;

  constructor(frameMax: number) {
    this.frameMax = frameMax;
  }

  /** Feed a chunk from the socket. Throws AmqpError on framing errors. */
  push(chunk: Buffer, sink: FrameSink): void {
    let pos = 0;
    const len = chunk.length;
    if (this.hdrLen > 0 || this.partial) {
      pos = this.continuePartial(chunk, sink);
      if (pos < 0) return;
    }
    while (pos + 7 <= len) {
      const size = chunk.readUInt32BE(pos + 3);
      this.checkSize(chunk[pos]!, size);
      const total = size + FRAME_OVERHEAD;
      if (pos + total > len) break;
      if (chunk[pos + total - 1] !== FRAME_END) throw badEnd(chunk[pos]!, chunk, pos + 7, pos + 7 + size, chunk[pos + total - 1]!);
      const type = chunk[pos]!;
      const channel = chunk.readUInt16BE(pos + 1);
      if (!sink.onFrame(type, channel, chunk, pos + 7, pos + 7 + size)) return;
      pos += total;
    }
    if (pos < len) this.startPartial(chunk, pos, sink);
  }

  private checkSize(type: number, size: number): void {
    if (this.frameMax > 0 && size + FRAME_OVERHEAD > this.frameMax) {
      throw new AmqpError(FRAME_ERROR, `type ${type}, all octets = <<>>: {frame_too_large,${size},${this.frameMax - FRAME_OVERHEAD}}`, 0, 0, true);
    }
  }

  /** Bytes from `pos` are the start of a frame that does not fit in this chunk. */
  private startPartial(chunk: Buffer, pos: number, sink: FrameSink): void {
    const n = Math.min(7, chunk.length - pos);
    chunk.copy(this.hdr, 0, pos, pos + n);
    this.hdrLen = n;
    if (n === 7) this.allocPartial();
    if (this.partial && pos + 7 < chunk.length) {
      const rest = chunk.length - (pos + 7);
      chunk.copy(this.partial, this.partialLen, pos + 7, chunk.length);
      this.partialLen += rest;
    }
    void sink;
  }

  private allocPartial(): void {
    const size = this.hdr.readUInt32BE(3);
    this.checkSize(this.hdr[0]!, size);
    this.partial = Buffer.allocUnsafe(size + 1);
    this.partialLen = 0;
  }

  /** Continue a frame split across chunks; returns the position after it, or -1 if still incomplete/stopped. */
  private continuePartial(chunk: Buffer, sink: FrameSink): number {
    let pos = 0;
    if (this.hdrLen < 7) {
      const n = Math.min(7 - this.hdrLen, chunk.length);
      chunk.copy(this.hdr, this.hdrLen, 0, n);
      this.hdrLen += n;
      pos = n;
      if (this.hdrLen < 7) return -1;
      this.allocPartial();
    }
    const p = this.partial!;
    const need = p.length - this.partialLen;
    const n = Math.min(need, chunk.length - pos);
    chunk.copy(p, this.partialLen, pos, pos + n);
    this.partialLen += n;
    pos += n;
    if (this.partialLen < p.length) return -1;
    if (p[p.length - 1] !== FRAME_END) throw badEnd(this.hdr[0]!, p, 0, p.length - 1, p[p.length - 1]!);
    const type = this.hdr[0]!;
    const channel = this.hdr.readUInt16BE(1);
    this.partial = null;
    this.hdrLen = 0;
    this.partialLen = 0;
    if (!sink.onFrame(type, channel, p, 0, p.length - 1)) return -1;
    return pos;
  }
}

function badEnd(type: number, buf: Buffer, start: number, end: number, octet: number): AmqpError {
  return new AmqpError(FRAME_ERROR, `${frameTerm(type, buf, start, end)}: {invalid_frame_end_marker,${octet}}`, 0, 0, true);
}

/**
 * How rabbit_reader names a frame it cannot use in its reply texts:
 * "type 2, all octets = <<0,60,0,0>>", or "type 1, first 16 octets = <<...>>" for a
 * longer payload — printed as Erlang prints a binary (a quoted string when every
 * octet is printable ASCII, else decimal octets).
 */
export function frameTerm(type: number, buf: Buffer, start: number, end: number): string {
  const which = end - start <= 16 ? "all" : "first 16";
  const stop = Math.min(end, start + 16);
  let printable = stop > start;
  for (let i = start; i < stop && printable; i++) printable = buf[i]! >= 32 && buf[i]! <= 126;
  if (printable) {
    const s = buf.toString("latin1", start, stop).replace(/[\\"]/g, (c) => "\\" + c);
    return `type ${type}, ${which} octets = <<"${s}">>`;
  }
  const octets: number[] = [];
  for (let i = start; i < stop; i++) octets.push(buf[i]!);
  return `type ${type}, ${which} octets = <<${octets.join(",")}>>`;
}

/** rabbit_reader's reply to a frame of a known type whose payload it cannot parse (FRAME_ERROR, 0/0). */
export function unknownFrame(type: number, buf: Buffer, start: number, end: number): AmqpError {
  return new AmqpError(FRAME_ERROR, `${frameTerm(type, buf, start, end)}: unknown_frame`, 0, 0, true);
}

/** Heartbeat frame, shared (immutable). */
export const HEARTBEAT_FRAME = Buffer.from([FRAME_HEARTBEAT, 0, 0, 0, 0, 0, 0, FRAME_END]);
