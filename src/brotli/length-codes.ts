/**
 * The value ranges behind prefix-coded lengths (RFC 7932 sections 5 and 6): block counts, and
 * the insert and copy lengths that one insert-and-copy symbol carries together.
 */
import type { BrotliBitReader } from './brotli-bit-reader.js';

/** Block count codes 0..25: [base, extra bits] (section 6). */
const BLOCK_COUNT: readonly (readonly [number, number])[] = [
  [1, 2], [5, 2], [9, 2], [13, 2], [17, 3], [25, 3], [33, 3], [41, 3], [49, 4], [65, 4], [81, 4], [97, 4], [113, 5],
  [145, 5], [177, 5], [209, 5], [241, 6], [305, 6], [369, 7], [497, 8], [753, 9], [1265, 10], [2289, 11], [4337, 12],
  [8433, 13], [16625, 24],
];
export const BLOCK_COUNT_ALPHABET = BLOCK_COUNT.length;

export function blockCount(br: BrotliBitReader, code: number): number {
  const [base, extra] = BLOCK_COUNT[code]!;
  return base + br.read(extra);
}

/** Extra bits of insert length codes 0..23 and copy length codes 0..23 (section 5); bases follow from them. */
export const INSERT_EXTRA = [0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 7, 8, 9, 10, 12, 14, 24];
export const COPY_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 7, 8, 9, 10, 24];
const bases = (extra: number[], first: number) => extra.map((_, i) => extra.slice(0, i).reduce((sum, e) => sum + (1 << e), first));
export const INSERT_BASE = bases(INSERT_EXTRA, 0);
export const COPY_BASE = bases(COPY_EXTRA, 2);

/**
 * The 704 insert-and-copy symbols are 11 cells of 64; each cell fixes the high bits of the insert
 * and copy codes (0, 8 or 16), and whether the distance is implicitly the last one (cells 0 and 1).
 */
const CELL_INSERT = [0, 0, 0, 0, 8, 8, 0, 16, 8, 16, 16];
const CELL_COPY = [0, 8, 0, 8, 0, 8, 16, 0, 16, 8, 16];
export const INSERT_AND_COPY_ALPHABET = 704;

export interface InsertAndCopy {
  insert: number;
  copy: number;
  /** The command reuses the last distance without reading a distance code. */
  implicitDistance: boolean;
}

export function insertAndCopy(br: BrotliBitReader, symbol: number): InsertAndCopy {
  const cell = symbol >> 6;
  const insertCode = CELL_INSERT[cell]! + ((symbol >> 3) & 7);
  const copyCode = CELL_COPY[cell]! + (symbol & 7);
  const insert = INSERT_BASE[insertCode]! + br.read(INSERT_EXTRA[insertCode]!);
  const copy = COPY_BASE[copyCode]! + br.read(COPY_EXTRA[copyCode]!);
  return { insert, copy, implicitDistance: cell < 2 };
}

/**
 * The encoder's direction: the symbol for an insert code and a copy code, in cells 0 and 1 when
 * the distance is to be implied (-1 if those cells cannot hold the pair), else in cells 2..10.
 */
export function insertAndCopySymbol(insertCode: number, copyCode: number, implicitDistance: boolean): number {
  for (let cell = implicitDistance ? 0 : 2; cell < (implicitDistance ? 2 : CELL_INSERT.length); cell++) {
    if (CELL_INSERT[cell] === (insertCode & ~7) && CELL_COPY[cell] === (copyCode & ~7)) return cell * 64 + ((insertCode & 7) << 3) + (copyCode & 7);
  }
  return -1;
}
