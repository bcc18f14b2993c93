/**
 * Bits of a brotli stream, least significant bit of each byte first (RFC 7932 section 2).
 * Bits past the end read as zero so a prefix code can be peeked near the end; consuming them
 * is the error, so a truncated stream fails at the first bit it lacks.
 */
import { BrotliError } from './brotli-error.js';

export class BrotliBitReader {
  /** Up to 32 unread bits, the next one in bit 0. */
  private acc = 0;
  private count = 0;
  /** Index of the next byte to load into `acc` (may run past the end: those load as zero). */
  private next = 0;

  constructor(private readonly data: Uint8Array) {}

  private fill(): void {
    while (this.count <= 24) {
      const byte = this.next < this.data.length ? this.data[this.next]! : 0;
      this.acc = (this.acc | (byte << this.count)) >>> 0;
      this.next++;
      this.count += 8;
    }
  }

  /** Bits consumed so far. */
  get position(): number {
    return this.next * 8 - this.count;
  }

  /** The next `n` (at most 24) bits without consuming them. */
  peek(n: number): number {
    if (this.count < n) this.fill();
    return this.acc & ((1 << n) - 1);
  }

  /** Consume `n` bits already peeked. */
  drop(n: number): void {
    this.acc = this.acc >>> n;
    this.count -= n;
    if (this.position > this.data.length * 8) throw new BrotliError('stream is truncated');
  }

  read(n: number): number {
    if (n === 0) return 0;
    const v = this.peek(n);
    this.drop(n);
    return v;
  }

  /** Skip to the next byte boundary; the skipped bits are padding and must be zero. */
  alignToByte(): void {
    const pad = this.count & 7;
    if (pad && this.read(pad) !== 0) throw new BrotliError('nonzero padding bits');
  }

  /** After alignToByte: the next `n` bytes, copied straight from the input. */
  readBytes(n: number): Uint8Array {
    const start = this.next - (this.count >> 3);
    if (start + n > this.data.length) throw new BrotliError('stream is truncated');
    this.acc = 0;
    this.count = 0;
    this.next = start + n;
    return this.data.subarray(start, start + n);
  }

  /** Bytes not yet touched (after alignToByte). */
  get bytesLeft(): number {
    return this.data.length - (this.next - (this.count >> 3));
  }
}
