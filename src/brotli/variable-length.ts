/**
 * The small variable-length integer of RFC 7932 section 9.2 that counts block types (NBLTYPES)
 * and prefix trees (NTREES): 1..256.
 */
import type { BrotliBitReader } from './brotli-bit-reader.js';

export function readCount256(br: BrotliBitReader): number {
  if (br.read(1) === 0) return 1;
  const n = br.read(3);
  return n === 0 ? 2 : (1 << n) + br.read(n) + 1;
}
