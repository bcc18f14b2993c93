/**
 * Prefix codes (RFC 7932 section 3): canonical codes built from code lengths, and the two ways
 * a stream describes them: simple (up to four symbols listed) and complex (code lengths,
 * themselves prefix coded and run-length compressed). Codes are packed most significant bit
 * first, as in DEFLATE.
 */
import type { BrotliBitReader } from './brotli-bit-reader.js';
import { BrotliError } from './brotli-error.js';

export const MAX_CODE_LENGTH = 15;
/** Codes this long or shorter are found with one table look-up; longer ones bit by bit. */
const TABLE_BITS = 8;

export class PrefixCode {
  /** Indexed by the next TABLE_BITS stream bits: symbol << 4 | code length, or 0 for a longer code. */
  private readonly table = new Uint16Array(1 << TABLE_BITS);
  /** Number of codes of each length, and the symbols sorted by (length, value). */
  private readonly counts = new Uint16Array(MAX_CODE_LENGTH + 1);
  private readonly sorted: Uint16Array;
  /** The symbol of a code with only one: it takes no bits at all. */
  private readonly only: number = -1;

  /** `lengths[symbol]` is that symbol's code length, 0 for absent; the code must be complete. */
  constructor(lengths: ArrayLike<number>) {
    let present = 0;
    let space = 1 << MAX_CODE_LENGTH;
    for (let s = 0; s < lengths.length; s++) {
      const len = lengths[s]!;
      if (len === 0) continue;
      this.counts[len]!++;
      present++;
      space -= (1 << MAX_CODE_LENGTH) >> len;
      this.only = s;
    }
    this.sorted = new Uint16Array(present);
    if (present === 1) return;
    if (space !== 0) throw new BrotliError(space > 0 ? 'prefix code is incomplete' : 'prefix code is over-subscribed');
    this.only = -1;
    const offsets = new Uint16Array(MAX_CODE_LENGTH + 2);
    for (let len = 1; len <= MAX_CODE_LENGTH; len++) offsets[len + 1] = offsets[len]! + this.counts[len]!;
    for (let s = 0; s < lengths.length; s++) if (lengths[s]) this.sorted[offsets[lengths[s]!]!++] = s;
    // Fill the short-code table: canonical code values in order, each bit-reversed because the
    // stream delivers a code's first (most significant) bit first.
    let code = 0;
    let at = 0;
    for (let len = 1; len <= TABLE_BITS; len++) {
      for (let i = 0; i < this.counts[len]!; i++, code++) {
        const symbol = this.sorted[at++]!;
        const entry = (symbol << 4) | len;
        for (let idx = reverseBits(code, len); idx < 1 << TABLE_BITS; idx += 1 << len) this.table[idx] = entry;
      }
      code <<= 1;
    }
  }

  decode(br: BrotliBitReader): number {
    if (this.only >= 0) return this.only;
    const bits = br.peek(MAX_CODE_LENGTH);
    const entry = this.table[bits & ((1 << TABLE_BITS) - 1)]!;
    if (entry) {
      br.drop(entry & 15);
      return entry >>> 4;
    }
    // Longer than TABLE_BITS: walk the canonical code one length at a time.
    let code = 0;
    let first = 0;
    let index = 0;
    for (let len = 1; len <= MAX_CODE_LENGTH; len++) {
      code |= (bits >>> (len - 1)) & 1;
      const count = this.counts[len]!;
      if (code - first < count) {
        br.drop(len);
        return this.sorted[index + code - first]!;
      }
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    throw new BrotliError('no prefix code matches'); // unreachable for a complete code
  }
}

/** `code` of `len` bits, reversed: streams carry a code's first (most significant) bit first. */
export function reverseBits(code: number, len: number): number {
  let r = 0;
  for (let i = 0; i < len; i++) r |= ((code >>> i) & 1) << (len - 1 - i);
  return r;
}

/** The fixed code for code length code lengths (section 3.5), indexed by the next 4 bits: value and bits used. */
const CODE_LENGTH_CODE_VALUE = [0, 4, 3, 2, 0, 4, 3, 1, 0, 4, 3, 2, 0, 4, 3, 5];
const CODE_LENGTH_CODE_BITS = [2, 2, 2, 3, 2, 2, 2, 4, 2, 2, 2, 3, 2, 2, 2, 4];
/** The order in which code length code lengths are sent. */
export const CODE_LENGTH_ORDER = [1, 2, 3, 4, 0, 5, 17, 6, 16, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const REPEAT_PREVIOUS = 16;
export const REPEAT_ZERO = 17;

/** Read one prefix code over `alphabetSize` symbols (section 3.2: HSKIP selects simple or complex). */
export function readPrefixCode(br: BrotliBitReader, alphabetSize: number): PrefixCode {
  const hskip = br.read(2);
  return hskip === 1 ? readSimple(br, alphabetSize) : readComplex(br, alphabetSize, hskip);
}

/** Section 3.4: NSYM symbols of ALPHABET_BITS each, with lengths fixed by NSYM (and tree-select). */
function readSimple(br: BrotliBitReader, alphabetSize: number): PrefixCode {
  const nsym = br.read(2) + 1;
  const bits = 32 - Math.clz32(alphabetSize - 1);
  const symbols: number[] = [];
  for (let i = 0; i < nsym; i++) {
    const s = br.read(bits);
    if (s >= alphabetSize) throw new BrotliError(`simple prefix code symbol ${s} is outside the alphabet of ${alphabetSize}`);
    if (symbols.includes(s)) throw new BrotliError('simple prefix code repeats a symbol');
    symbols.push(s);
  }
  const shape =
    nsym === 1 ? [0] : nsym === 2 ? [1, 1] : nsym === 3 ? [1, 2, 2] : br.read(1) === 0 ? [2, 2, 2, 2] : [1, 2, 3, 3];
  const lengths = new Uint8Array(alphabetSize);
  symbols.forEach((s, i) => (lengths[s] = shape[i]!));
  if (nsym === 1) lengths[symbols[0]!] = 1; // one symbol: its code takes no bits (PrefixCode.only)
  return new PrefixCode(lengths);
}

/** Section 3.5: code length code lengths, then the symbols' code lengths with repeat codes 16 and 17. */
function readComplex(br: BrotliBitReader, alphabetSize: number, hskip: number): PrefixCode {
  const clLengths = new Uint8Array(18);
  let space = 32;
  let present = 0;
  for (let i = hskip; i < CODE_LENGTH_ORDER.length && space > 0; i++) {
    const idx = br.peek(4);
    br.drop(CODE_LENGTH_CODE_BITS[idx]!);
    const len = CODE_LENGTH_CODE_VALUE[idx]!;
    clLengths[CODE_LENGTH_ORDER[i]!] = len;
    if (len) {
      space -= 32 >> len;
      present++;
    }
  }
  if (present !== 1 && space !== 0) throw new BrotliError('code length code is not complete');
  const clCode = new PrefixCode(clLengths);

  const lengths = new Uint8Array(alphabetSize);
  let symbol = 0;
  let previous = 8;
  let repeat = 0;
  let repeatLength = 0;
  space = 1 << 15;
  while (symbol < alphabetSize && space > 0) {
    const code = clCode.decode(br);
    if (code < REPEAT_PREVIOUS) {
      repeat = 0;
      lengths[symbol++] = code;
      if (code) {
        previous = code;
        space -= 32768 >> code;
      }
      continue;
    }
    const extraBits = code === REPEAT_ZERO ? 3 : 2;
    const length = code === REPEAT_ZERO ? 0 : previous;
    if (repeatLength !== length) {
      repeat = 0;
      repeatLength = length;
    }
    const before = repeat;
    if (repeat > 0) repeat = (repeat - 2) << extraBits;
    repeat += br.read(extraBits) + 3;
    const delta = repeat - before;
    if (symbol + delta > alphabetSize) throw new BrotliError('code length repeat runs past the alphabet');
    lengths.fill(length, symbol, symbol + delta);
    symbol += delta;
    if (length) space -= delta * (32768 >> length);
  }
  if (space !== 0) throw new BrotliError('prefix code is not complete');
  return new PrefixCode(lengths);
}
