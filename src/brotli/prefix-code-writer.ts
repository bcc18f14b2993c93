/**
 * Prefix codes on the writing side (RFC 7932 section 3): code lengths from symbol frequencies
 * (Huffman, limited to 15 bits), the canonical codes, and the code's description in the
 * stream: simple when at most four symbols occur, complex otherwise.
 */
import type { BrotliBitWriter } from './brotli-bit-writer.js';
import { CODE_LENGTH_ORDER, MAX_CODE_LENGTH, REPEAT_ZERO, reverseBits } from './prefix-code.js';
/** The fixed code for code length code lengths 0..5, as [bits, count] to write (section 3.5). */
const CODE_LENGTH_CODE: readonly (readonly [number, number])[] = [[0, 2], [7, 4], [3, 3], [2, 2], [1, 2], [15, 4]];

/** Huffman code lengths for `freqs`, none longer than `maxBits`; symbols with frequency 0 get 0. */
export function codeLengths(freqs: ArrayLike<number>, maxBits: number): Uint8Array {
  const lengths = new Uint8Array(freqs.length);
  const used = Array.from(freqs, (f, s) => [f, s] as const).filter(([f]) => f > 0);
  if (used.length === 1) lengths[used[0]![1]] = 1;
  if (used.length < 2) return lengths;
  // Raise rare frequencies to a floor until the tree fits in maxBits (the floor doubles each time).
  for (let floor = 1; ; floor *= 2) {
    type Node = { weight: number; symbol: number; left?: Node; right?: Node };
    const queue: Node[] = used.map(([f, s]) => ({ weight: Math.max(f, floor), symbol: s }));
    queue.sort((a, b) => a.weight - b.weight || a.symbol - b.symbol);
    const merged: Node[] = [];
    const take = (): Node => (merged.length && (!queue.length || merged[0]!.weight < queue[0]!.weight) ? merged.shift()! : queue.shift()!);
    while (queue.length + merged.length > 1) {
      const a = take();
      const b = take();
      merged.push({ weight: a.weight + b.weight, symbol: -1, left: a, right: b });
    }
    let deepest = 0;
    const walk = (n: Node, depth: number) => {
      if (n.left) {
        walk(n.left, depth + 1);
        walk(n.right!, depth + 1);
      } else {
        lengths[n.symbol] = depth;
        deepest = Math.max(deepest, depth);
      }
    };
    walk(merged[0]!, 0);
    if (deepest <= maxBits) return lengths;
  }
}

/** A prefix code ready to write symbols with: each symbol's code, bit-reversed for LSB-first output. */
export class PrefixEncoder {
  readonly codes: Uint16Array;
  readonly lengths: Uint8Array;
  /** The symbols of a simple code (section 3.4), in the order that gives them their lengths; else undefined. */
  private readonly simple: number[] | undefined;

  constructor(
    freqs: ArrayLike<number>,
    private readonly alphabetSize: number,
  ) {
    const used = Array.from(freqs, (f, s) => [f, s] as const).filter(([f]) => f > 0);
    if (used.length === 0) used.push([1, 0]); // a code must exist even when unused
    if (used.length <= 4) {
      // Simple code: the most frequent symbols first, so they get the shorter lengths.
      const order = used.sort((a, b) => b[0] - a[0] || a[1] - b[1]).map(([, s]) => s);
      const shape = [[0], [1, 1], [1, 2, 2], [2, 2, 2, 2]][order.length - 1]!;
      this.simple = order;
      this.lengths = new Uint8Array(alphabetSize);
      order.forEach((s, i) => (this.lengths[s] = shape[i]!));
    } else {
      this.simple = undefined;
      this.lengths = codeLengths(freqs, MAX_CODE_LENGTH);
    }
    this.codes = canonicalCodes(this.lengths);
  }

  writeSymbol(w: BrotliBitWriter, symbol: number): void {
    w.write(this.codes[symbol]!, this.lengths[symbol]!);
  }

  /** The code's description (section 3.2). */
  writeDescription(w: BrotliBitWriter): void {
    if (this.simple) {
      w.write(1, 2); // HSKIP 1: simple
      w.write(this.simple.length - 1, 2);
      const bits = 32 - Math.clz32(this.alphabetSize - 1);
      for (const s of this.simple) w.write(s, bits);
      if (this.simple.length === 4) w.write(0, 1); // tree-select: four codes of length 2
      return;
    }
    // Complex: the code lengths up to the last used symbol (the reader stops once the code is full),
    // runs of three or more zeros as code 17. Two 17s in a row would multiply, so runs are split.
    let end = this.lengths.length;
    while (this.lengths[end - 1] === 0) end--;
    const sequence: [number, number][] = []; // [code length symbol, its extra bits]
    for (let i = 0; i < end; ) {
      let run = 0;
      while (i + run < end && this.lengths[i + run] === 0) run++;
      if (run >= 3) {
        const n = Math.min(run, 10);
        sequence.push([REPEAT_ZERO, n - 3]);
        i += n;
        if (i < end && this.lengths[i] === 0) sequence.push([0, 0]), i++;
      } else {
        sequence.push([this.lengths[i]!, 0]);
        i++;
      }
    }
    const freqs = new Array<number>(18).fill(0);
    for (const [s] of sequence) freqs[s]!++;
    const clLengths = codeLengths(freqs, 5);
    const clCodes = canonicalCodes(clLengths);
    const present = clLengths.filter((l) => l > 0).length;
    w.write(0, 2); // HSKIP 0
    let lastInOrder = CODE_LENGTH_ORDER.length - 1;
    if (present > 1) while (clLengths[CODE_LENGTH_ORDER[lastInOrder]!] === 0) lastInOrder--;
    for (let i = 0; i <= lastInOrder; i++) {
      const [bits, n] = CODE_LENGTH_CODE[clLengths[CODE_LENGTH_ORDER[i]!]!]!;
      w.write(bits, n);
    }
    // With a single code length symbol its code takes no bits.
    for (const [s, extra] of sequence) {
      if (present > 1) w.write(clCodes[s]!, clLengths[s]!);
      if (s === REPEAT_ZERO) w.write(extra, 3);
    }
  }
}

/** Canonical codes for `lengths` (shorter first, then by symbol), bit-reversed for writing. */
function canonicalCodes(lengths: Uint8Array): Uint16Array {
  const counts = new Uint16Array(MAX_CODE_LENGTH + 2);
  for (const l of lengths) if (l) counts[l]!++;
  const next = new Uint16Array(MAX_CODE_LENGTH + 2);
  for (let len = 1, code = 0; len <= MAX_CODE_LENGTH; len++) {
    code = (code + counts[len - 1]!) << 1;
    if (len === 1) code = 0;
    next[len] = code;
  }
  const codes = new Uint16Array(lengths.length);
  for (let s = 0; s < lengths.length; s++) {
    const len = lengths[s]!;
    if (!len) continue;
    codes[s] = reverseBits(next[len]!++, len);
  }
  return codes;
}
