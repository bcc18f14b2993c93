/**
 * Distances (RFC 7932 section 4): codes 0..15 refer to the last four distances (exactly or
 * nudged by up to 3), the next NDIRECT codes are small distances, and the rest carry extra bits
 * under NPOSTFIX.
 */
import type { BrotliBitReader } from './brotli-bit-reader.js';
import { BrotliError } from './brotli-error.js';

/** Codes 0..15: which of the last distances (0 = last) and what to add to it. */
const SHORT_INDEX = [0, 1, 2, 3, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1];
const SHORT_DELTA = [0, 0, 0, 0, -1, 1, -2, 2, -3, 3, -1, 1, -2, 2, -3, 3];

export class DistanceDecoder {
  /** The last four distances, last first; the format starts them at 4, 11, 15, 16. */
  private readonly last = [4, 11, 15, 16];
  postfix = 0;
  direct = 0;

  /** NPOSTFIX and NDIRECT of a meta-block header; returns the distance alphabet size. */
  readParameters(br: BrotliBitReader): number {
    this.postfix = br.read(2);
    this.direct = br.read(4) << this.postfix;
    return 16 + this.direct + (48 << this.postfix);
  }

  /** The distance that `code` stands for (reading its extra bits). */
  distance(br: BrotliBitReader, code: number): number {
    if (code < 16) {
      const d = this.last[SHORT_INDEX[code]!]! + SHORT_DELTA[code]!;
      if (d <= 0) throw new BrotliError(`distance code ${code} gives distance ${d}`);
      return d;
    }
    if (code < 16 + this.direct) return code - 15;
    const c = code - this.direct - 16;
    const bits = 1 + (c >> (this.postfix + 1));
    const high = c >> this.postfix;
    const low = c & ((1 << this.postfix) - 1);
    const offset = ((2 + (high & 1)) << bits) - 4;
    return ((offset + br.read(bits)) << this.postfix) + low + this.direct + 1;
  }

  /** Remember a distance used for a backward copy (not code 0's repeat, not a dictionary reference). */
  push(d: number): void {
    this.last.unshift(d);
    this.last.length = 4;
  }

  get lastDistance(): number {
    return this.last[0]!;
  }
}
