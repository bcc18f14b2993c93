/**
 * A brotli decoder (RFC 7932) that never produces more than the caller allows: output is
 * checked against the limit before each byte is written, so a stream that would expand further
 * stops there, having cost at most work proportional to the limit. Every command writes at least
 * one byte, so decoding is linear in the output; every count the stream declares is bounded by
 * the format and checked before use. A malformed or truncated stream, or bytes after its end, is
 * a BrotliError, never another exception.
 */
import { BlockSwitch } from './block-switch.js';
import { BrotliBitReader } from './brotli-bit-reader.js';
import { BrotliError } from './brotli-error.js';
import { readContextMap } from './context-map.js';
import { DistanceDecoder } from './distance-codes.js';
import { TRANSFORM_COUNT, transformWord } from './dictionary-transforms.js';
import { INSERT_AND_COPY_ALPHABET, insertAndCopy } from './length-codes.js';
import { literalContext } from './literal-context.js';
import { type PrefixCode, readPrefixCode } from './prefix-code.js';
import { MAX_WORD_LENGTH, MIN_WORD_LENGTH, NDBITS, dictionaryWord } from './static-dictionary.js';
import { readCount256 } from './variable-length.js';

/** Decompress a whole brotli stream whose output must not exceed `limit` bytes. */
export function brotliDecompress(data: Uint8Array, limit: number): Uint8Array {
  try {
    return new Decoder(data, limit).run();
  } catch (err) {
    if (err instanceof BrotliError) throw err;
    // Defence in depth: whatever slipped past the checks is still a clean decoding error.
    throw new BrotliError(`malformed stream (${(err as Error).message})`);
  }
}

class Output {
  bytes: Uint8Array;
  length = 0;

  constructor(private readonly limit: number) {
    this.bytes = new Uint8Array(Math.min(limit, 1 << 16));
  }

  /** Make room for `n` more bytes, refusing anything past the limit. */
  reserve(n: number): void {
    const need = this.length + n;
    if (need > this.limit) throw new BrotliError(`output would exceed the limit of ${this.limit} bytes`);
    if (need <= this.bytes.length) return;
    const grown = new Uint8Array(Math.min(this.limit, Math.max(need, this.bytes.length * 2)));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }
}

class Decoder {
  private readonly br: BrotliBitReader;
  private readonly out: Output;
  private readonly distances = new DistanceDecoder();
  private windowSize = 0;

  constructor(data: Uint8Array, limit: number) {
    this.br = new BrotliBitReader(data);
    this.out = new Output(limit);
  }

  run(): Uint8Array {
    this.windowSize = (1 << this.readWindowBits()) - 16;
    for (;;) {
      const last = this.br.read(1) === 1;
      if (last && this.br.read(1) === 1) break; // ISLASTEMPTY
      this.metaBlock(last);
      if (last) break;
    }
    // The stream ends at a byte boundary with zero padding, and nothing may follow it.
    this.br.alignToByte();
    if (this.br.bytesLeft !== 0) throw new BrotliError(`${this.br.bytesLeft} bytes follow the end of the stream`);
    return this.out.bytes.slice(0, this.out.length);
  }

  /** Section 9.1: WBITS, 10..24. */
  private readWindowBits(): number {
    if (this.br.read(1) === 0) return 16;
    const n = this.br.read(3);
    if (n !== 0) return 17 + n;
    const m = this.br.read(3);
    if (m === 1) throw new BrotliError('invalid window size (large-window brotli is not RFC 7932)');
    return m === 0 ? 17 : 8 + m;
  }

  /** Section 9.2: one meta-block after ISLAST (and ISLASTEMPTY). */
  private metaBlock(last: boolean): void {
    const br = this.br;
    const nibbles = br.read(2);
    if (nibbles === 3) {
      // Metadata: skipped, but its reserved bit, length encoding and padding are still checked.
      if (br.read(1) !== 0) throw new BrotliError('reserved bit is set');
      const skipBytes = br.read(2);
      let skip = 0;
      for (let i = 0; i < skipBytes; i++) {
        const byte = br.read(8);
        if (i === skipBytes - 1 && skipBytes > 1 && byte === 0) throw new BrotliError('metadata length has a needless zero byte');
        skip |= byte << (8 * i);
      }
      br.alignToByte();
      if (skipBytes) br.readBytes(skip + 1);
      return;
    }
    const count = nibbles + 4;
    let mlen = 0;
    for (let i = 0; i < count; i++) {
      const nibble = br.read(4);
      if (i === count - 1 && count > 4 && nibble === 0) throw new BrotliError('meta-block length has a needless zero nibble');
      mlen |= nibble << (4 * i);
    }
    mlen += 1;
    if (!last && br.read(1) === 1) {
      br.alignToByte();
      const bytes = br.readBytes(mlen);
      this.out.reserve(mlen);
      this.out.bytes.set(bytes, this.out.length);
      this.out.length += mlen;
      return;
    }
    // Refuse before decoding anything when the meta-block alone would pass the limit.
    this.out.reserve(mlen);
    this.compressedMetaBlock(mlen);
  }

  /** Section 9.2-9.3: the header of a compressed meta-block, then its commands. */
  private compressedMetaBlock(mlen: number): void {
    const br = this.br;
    const literalBlocks = new BlockSwitch(br);
    const commandBlocks = new BlockSwitch(br);
    const distanceBlocks = new BlockSwitch(br);
    const distanceAlphabet = this.distances.readParameters(br);
    const modes = new Uint8Array(literalBlocks.types);
    for (let i = 0; i < modes.length; i++) modes[i] = br.read(2);
    const literalTrees = readCount256(br);
    const literalMap = literalTrees >= 2 ? readContextMap(br, 64 * literalBlocks.types, literalTrees) : new Uint8Array(64 * literalBlocks.types);
    const distanceTrees = readCount256(br);
    const distanceMap = distanceTrees >= 2 ? readContextMap(br, 4 * distanceBlocks.types, distanceTrees) : new Uint8Array(4 * distanceBlocks.types);
    const literalCodes = readCodes(br, literalTrees, 256);
    const commandCodes = readCodes(br, commandBlocks.types, INSERT_AND_COPY_ALPHABET);
    const distanceCodes = readCodes(br, distanceTrees, distanceAlphabet);

    const out = this.out;
    let remaining = mlen;
    while (remaining > 0) {
      commandBlocks.next();
      const command = insertAndCopy(br, commandCodes[commandBlocks.type]!.decode(br));
      if (command.insert > remaining) throw new BrotliError('insert length runs past the meta-block');
      for (let i = 0; i < command.insert; i++) {
        literalBlocks.next();
        const n = out.length;
        const p1 = n > 0 ? out.bytes[n - 1]! : 0;
        const p2 = n > 1 ? out.bytes[n - 2]! : 0;
        const context = literalContext(modes[literalBlocks.type]!, p1, p2);
        const tree = literalMap[literalBlocks.type * 64 + context]!;
        out.bytes[n] = literalCodes[tree]!.decode(br);
        out.length = n + 1;
      }
      remaining -= command.insert;
      // A meta-block may end after a command's literals; its copy length is then unused.
      if (remaining === 0) break;

      let code = 0;
      if (!command.implicitDistance) {
        distanceBlocks.next();
        const context = command.copy > 4 ? 3 : command.copy - 2;
        code = distanceCodes[distanceMap[distanceBlocks.type * 4 + context]!]!.decode(br);
      }
      const distance = code === 0 ? this.distances.lastDistance : this.distances.distance(br, code);
      const reach = Math.min(this.windowSize, out.length);
      if (distance > reach) {
        remaining -= this.dictionaryReference(command.copy, distance - reach - 1, remaining);
        continue;
      }
      if (command.copy > remaining) throw new BrotliError('copy length runs past the meta-block');
      if (code !== 0) this.distances.push(distance);
      // Byte by byte: a copy may overlap what it is writing (distance < length repeats a pattern).
      const bytes = out.bytes;
      for (let i = 0, from = out.length - distance, to = out.length; i < command.copy; i++) bytes[to + i] = bytes[from + i]!;
      out.length += command.copy;
      remaining -= command.copy;
    }
  }

  /** Section 8: a distance past the window names a word of length `length` and a transform. */
  private dictionaryReference(length: number, wordId: number, remaining: number): number {
    if (length < MIN_WORD_LENGTH || length > MAX_WORD_LENGTH) throw new BrotliError(`dictionary reference with length ${length}`);
    const bits = NDBITS[length]!;
    const index = wordId & ((1 << bits) - 1);
    const transform = Math.floor(wordId / (1 << bits));
    if (transform >= TRANSFORM_COUNT) throw new BrotliError(`dictionary reference with transform ${transform}`);
    const word = transformWord(transform, dictionaryWord(length, index));
    // Every command must write something; an empty word would let a stream spin without progress.
    if (word.length === 0) throw new BrotliError('dictionary reference transforms to nothing');
    if (word.length > remaining) throw new BrotliError('dictionary word runs past the meta-block');
    this.out.bytes.set(word, this.out.length);
    this.out.length += word.length;
    return word.length;
  }
}

function readCodes(br: BrotliBitReader, count: number, alphabet: number): PrefixCode[] {
  const codes: PrefixCode[] = [];
  for (let i = 0; i < count; i++) codes.push(readPrefixCode(br, alphabet));
  return codes;
}
