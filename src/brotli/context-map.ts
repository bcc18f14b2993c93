/**
 * Context maps (RFC 7932 section 7.3): which prefix tree each (block type, context ID) pair
 * uses, sent run-length coded for zeros and optionally move-to-front transformed.
 */
import type { BrotliBitReader } from './brotli-bit-reader.js';
import { BrotliError } from './brotli-error.js';
import { readPrefixCode } from './prefix-code.js';

/** A context map of `size` entries over `trees` prefix trees (trees >= 2; with one tree the map is all zeros). */
export function readContextMap(br: BrotliBitReader, size: number, trees: number): Uint8Array {
  const map = new Uint8Array(size);
  const rleMax = br.read(1) ? br.read(4) + 1 : 0;
  const code = readPrefixCode(br, trees + rleMax);
  for (let i = 0; i < size; ) {
    const symbol = code.decode(br);
    if (symbol === 0) {
      map[i++] = 0;
    } else if (symbol <= rleMax) {
      const run = (1 << symbol) + br.read(symbol);
      if (i + run > size) throw new BrotliError('context map run of zeros overflows the map');
      i += run; // already zero
    } else {
      map[i++] = symbol - rleMax;
    }
  }
  if (br.read(1)) inverseMoveToFront(map);
  return map;
}

/** Section 7.3's IMTF: each value is an index into a list that moves the used value to its front. */
function inverseMoveToFront(map: Uint8Array): void {
  const list = new Uint8Array(256);
  for (let i = 0; i < 256; i++) list[i] = i;
  for (let i = 0; i < map.length; i++) {
    const index = map[i]!;
    const value = list[index]!;
    map[i] = value;
    list.copyWithin(1, 0, index);
    list[0] = value;
  }
}
