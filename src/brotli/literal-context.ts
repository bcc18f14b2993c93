/**
 * Context modelling of literals (RFC 7932 section 7.1): the context ID of a literal, from the
 * two bytes before it under the block type's context mode.
 */

export const CONTEXT_MODES = ['LSB6', 'MSB6', 'UTF8', 'Signed'] as const;

/** Lut0 (section 7.1) for bytes 0..127: the class of the last byte under UTF8 mode. */
const UTF8_LAST = [
  0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  8, 12, 16, 12, 12, 20, 12, 16, 24, 28, 12, 12, 32, 12, 36, 12, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 32, 32, 24, 40, 28, 12,
  12, 48, 52, 52, 52, 48, 52, 52, 52, 48, 52, 52, 52, 52, 52, 48, 52, 52, 52, 52, 52, 48, 52, 52, 52, 52, 52, 24, 12, 28, 12, 12,
  12, 56, 60, 60, 60, 56, 60, 60, 60, 56, 60, 60, 60, 60, 60, 56, 60, 60, 60, 60, 60, 56, 60, 60, 60, 60, 60, 24, 12, 28, 12, 0,
];
/** Lut1 for bytes 0..127: the class of the second last byte under UTF8 mode. */
const UTF8_SECOND = [
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1,
  1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1,
  1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 1, 1, 1, 1, 0,
];

/**
 * Lut0 and Lut1 over all 256 bytes. Above 127 they follow UTF-8's shape: continuation bytes
 * (0x80..0xBF) and lead bytes (0xC0..0xFF) in the last byte alternate 0,1 and 2,3; as the
 * second last byte, 0x80..0xDF are 0 and the lead bytes of 3- and 4-byte sequences (0xE0..) 2.
 */
const LUT0 = new Uint8Array(256);
const LUT1 = new Uint8Array(256);
/** Lut2: the signed class of a byte, 0..7 by magnitude bands (0, 1-15, 16-63, 64-127, 128-191, 192-239, 240-254, 255). */
const LUT2 = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  LUT0[b] = b < 128 ? UTF8_LAST[b]! : (b < 192 ? 0 : 2) + (b & 1);
  LUT1[b] = b < 128 ? UTF8_SECOND[b]! : b < 224 ? 0 : 2;
  LUT2[b] = b === 0 ? 0 : b < 16 ? 1 : b < 64 ? 2 : b < 128 ? 3 : b < 192 ? 4 : b < 240 ? 5 : b < 255 ? 6 : 7;
}

/** The context ID (0..63) of the next literal, after bytes p2, p1 (p1 the last), under `mode` (0..3). */
export function literalContext(mode: number, p1: number, p2: number): number {
  switch (mode) {
    case 0:
      return p1 & 0x3f;
    case 1:
      return p1 >> 2;
    case 2:
      return LUT0[p1]! | LUT1[p2]!;
    default:
      return (LUT2[p1]! << 3) | LUT2[p2]!;
  }
}
