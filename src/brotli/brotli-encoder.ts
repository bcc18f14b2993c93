/**
 * A small brotli encoder (RFC 7932), enough for a server to send a CompressedCertificate with
 * algorithm 2: greedy LZ77, then per meta-block one prefix code for each of literals,
 * insert-and-copy lengths and distances (no block splitting, no context modelling, no use of the
 * static dictionary when compressing). Any meta-block that would not shrink is stored
 * uncompressed. `encodeMetaBlock` also writes given commands as they are, which is how tests
 * reach the static dictionary's words and transforms.
 */
import { BrotliBitWriter } from './brotli-bit-writer.js';
import { COPY_BASE, COPY_EXTRA, INSERT_AND_COPY_ALPHABET, INSERT_BASE, INSERT_EXTRA, insertAndCopySymbol } from './length-codes.js';
import { type Command, findCommands } from './lz77-matcher.js';
import { PrefixEncoder } from './prefix-code-writer.js';

export type { Command } from './lz77-matcher.js';

/** The most one meta-block can hold (MLEN is at most 2^24). */
const MAX_META_BLOCK = 1 << 24;
const DISTANCE_ALPHABET = 16 + 48; // NPOSTFIX 0, NDIRECT 0

const codeFor = (base: number[], value: number) => {
  let code = base.length - 1;
  while (base[code]! > value) code--;
  return code;
};

/** The window (WBITS, 10..24) that covers `length` bytes, or the largest. */
export function windowBitsFor(length: number): number {
  let bits = 10;
  while (bits < 24 && (1 << bits) - 16 < length) bits++;
  return bits;
}

/** Encoder state that spans meta-blocks: what the decoder will have as its last distance and output size. */
export class BrotliStreamWriter {
  readonly w = new BrotliBitWriter();
  private lastDistance = 4;
  private written = 0;
  readonly window: number;

  constructor(readonly windowBits: number) {
    this.window = (1 << windowBits) - 16;
    // Section 9.1: WBITS.
    if (windowBits === 16) this.w.write(0, 1);
    else if (windowBits >= 18) this.w.write(1 | ((windowBits - 17) << 1), 4);
    else if (windowBits === 17) this.w.write(1, 7);
    else this.w.write(1 | ((windowBits - 8) << 4), 7);
  }

  /** Section 9.2: ISLAST, MNIBBLES and MLEN - 1 (and ISUNCOMPRESSED when not last). */
  private header(mlen: number, last: boolean, uncompressed: boolean): void {
    const w = this.w;
    w.write(last ? 1 : 0, 1);
    if (last) w.write(0, 1); // ISLASTEMPTY
    const nibbles = mlen - 1 < 1 << 16 ? 4 : mlen - 1 < 1 << 20 ? 5 : 6;
    w.write(nibbles - 4, 2);
    for (let i = 0; i < nibbles; i++) w.write(((mlen - 1) >>> (4 * i)) & 15, 4);
    if (!last) w.write(uncompressed ? 1 : 0, 1);
  }

  /** A meta-block stored as it is (never the last one: the format does not allow that). Distances are untouched. */
  uncompressed(data: Uint8Array): void {
    this.header(data.length, false, true);
    this.w.writeBytes(data);
    this.written += data.length;
  }

  /** Compressed, or stored when compressing would not make it smaller. */
  metaBlock(data: Uint8Array, commands: Command[]): void {
    const mark = this.w.length;
    const saved = [this.lastDistance, this.written] as const;
    this.encodeMetaBlock(commands, false);
    if (this.w.length - mark <= 8 * data.length) return;
    this.w.truncate(mark);
    [this.lastDistance, this.written] = saved;
    this.uncompressed(data);
  }

  /**
   * A compressed meta-block holding exactly `commands`. `mlen` is what they decode to: the
   * literals and copy lengths, unless a command names a dictionary word, whose transform
   * changes its length (the caller then knows and says so).
   */
  encodeMetaBlock(commands: Command[], last: boolean, mlen = commands.reduce((n, c) => n + c.literals.length + c.copyLength, 0)): void {
    const before = this.written;
    // First pass: the symbols, so their prefix codes can be built.
    type Coded = { command: Command; symbol: number; insertCode: number; copyCode: number; distanceSymbol: number; distanceExtra: number; distanceBits: number };
    const coded: Coded[] = [];
    const literalFreq = new Uint32Array(256);
    const commandFreq = new Uint32Array(INSERT_AND_COPY_ALPHABET);
    const distanceFreq = new Uint32Array(DISTANCE_ALPHABET);
    let lastDistance = this.lastDistance;
    let written = before; // within the meta-block: exact, since a dictionary word can only end one
    for (const command of commands) {
      for (const b of command.literals) literalFreq[b]!++;
      written += command.literals.length;
      const insertCode = codeFor(INSERT_BASE, command.literals.length);
      const copyCode = codeFor(COPY_BASE, Math.max(2, command.copyLength));
      const final = command.copyLength === 0;
      let distanceSymbol = -1;
      let distanceExtra = 0;
      let distanceBits = 0;
      const reuse = !final && command.distance === lastDistance;
      if (!final && !reuse) {
        // Section 4 with NPOSTFIX = NDIRECT = 0: distance + 3 = (2 + hcode bit) << nbits | extra.
        const x = command.distance + 3;
        distanceBits = 31 - Math.clz32(x) - 1;
        const high = (x >>> distanceBits) & 1;
        distanceSymbol = 16 + 2 * (distanceBits - 1) + high;
        distanceExtra = x - ((2 + high) << distanceBits);
        // Section 4: the ring buffer takes the distances of backward copies, not of dictionary words.
        if (command.distance <= Math.min(this.window, written)) lastDistance = command.distance;
      }
      // Cells 0 and 1 imply the last distance; otherwise reusing it takes distance code 0.
      let symbol = final || reuse ? insertAndCopySymbol(insertCode, copyCode, true) : -1;
      if (symbol < 0) {
        if (reuse) distanceSymbol = 0;
        symbol = insertAndCopySymbol(insertCode, copyCode, false);
      }
      commandFreq[symbol]!++;
      if (!final && distanceSymbol >= 0) distanceFreq[distanceSymbol]!++;
      written += command.copyLength;
      coded.push({ command, symbol, insertCode, copyCode, distanceSymbol, distanceExtra, distanceBits });
    }
    const literals = new PrefixEncoder(literalFreq, 256);
    const commandCode = new PrefixEncoder(commandFreq, INSERT_AND_COPY_ALPHABET);
    const distanceCode = new PrefixEncoder(distanceFreq, DISTANCE_ALPHABET);

    const w = this.w;
    this.header(mlen, last, false);
    w.write(0, 1); // NBLTYPESL = 1
    w.write(0, 1); // NBLTYPESI = 1
    w.write(0, 1); // NBLTYPESD = 1
    w.write(0, 2); // NPOSTFIX = 0
    w.write(0, 4); // NDIRECT = 0
    w.write(0, 2); // context mode LSB6 (one tree, so it does not matter)
    w.write(0, 1); // NTREESL = 1
    w.write(0, 1); // NTREESD = 1
    literals.writeDescription(w);
    commandCode.writeDescription(w);
    distanceCode.writeDescription(w);
    for (const c of coded) {
      commandCode.writeSymbol(w, c.symbol);
      w.write(c.command.literals.length - INSERT_BASE[c.insertCode]!, INSERT_EXTRA[c.insertCode]!);
      w.write(Math.max(2, c.command.copyLength) - COPY_BASE[c.copyCode]!, COPY_EXTRA[c.copyCode]!);
      for (const b of c.command.literals) literals.writeSymbol(w, b);
      if (c.command.copyLength === 0) continue;
      if (c.distanceSymbol >= 0) {
        distanceCode.writeSymbol(w, c.distanceSymbol);
        if (c.distanceSymbol >= 16) w.write(c.distanceExtra, c.distanceBits);
      }
    }
    this.lastDistance = lastDistance;
    this.written = before + mlen;
  }

  /** An empty last meta-block (ISLAST, ISLASTEMPTY), then the stream as bytes. */
  finish(): Uint8Array {
    this.w.write(3, 2);
    return this.w.finish();
  }
}

/** Compress `data` into one brotli stream. */
export function brotliCompress(data: Uint8Array): Uint8Array {
  const stream = new BrotliStreamWriter(windowBitsFor(data.length));
  for (let start = 0; start < data.length; start += MAX_META_BLOCK) {
    const end = Math.min(data.length, start + MAX_META_BLOCK);
    stream.metaBlock(data.subarray(start, end), findCommands(data, start, end, stream.window));
  }
  return stream.finish();
}
