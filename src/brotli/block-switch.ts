/**
 * Block types and block counts (RFC 7932 section 6): each of the three categories (literals,
 * insert-and-copy, distances) is split into blocks; a block's type picks the prefix tree (or
 * context map row) and its count says how many symbols it covers.
 */
import type { BrotliBitReader } from './brotli-bit-reader.js';
import { BLOCK_COUNT_ALPHABET, blockCount } from './length-codes.js';
import { type PrefixCode, readPrefixCode } from './prefix-code.js';
import { readCount256 } from './variable-length.js';

export class BlockSwitch {
  readonly types: number;
  type = 0;
  /** Symbols left in the current block. */
  left: number;
  private previous = 1;
  private readonly typeCode: PrefixCode | undefined;
  private readonly countCode: PrefixCode | undefined;

  /** Reads NBLTYPES and, when there are several types, their two prefix codes and the first count. */
  constructor(private readonly br: BrotliBitReader) {
    this.types = readCount256(br);
    if (this.types < 2) {
      // One type: the block never ends (the meta-block length bounds the symbols anyway).
      this.left = Number.MAX_SAFE_INTEGER;
      return;
    }
    this.typeCode = readPrefixCode(br, this.types + 2);
    this.countCode = readPrefixCode(br, BLOCK_COUNT_ALPHABET);
    this.left = blockCount(br, this.countCode.decode(br));
  }

  /** Account for one symbol of this category, switching to the next block first when this one is used up. */
  next(): void {
    if (this.left === 0) this.switchBlock();
    this.left--;
  }

  /** Section 6: code 0 repeats the type before last, 1 is the last type plus one, n >= 2 is type n - 2. */
  private switchBlock(): void {
    const code = this.typeCode!.decode(this.br);
    let type = code === 0 ? this.previous : code === 1 ? this.type + 1 : code - 2;
    if (type >= this.types) type -= this.types;
    this.previous = this.type;
    this.type = type;
    this.left = blockCount(this.br, this.countCode!.decode(this.br));
  }
}
