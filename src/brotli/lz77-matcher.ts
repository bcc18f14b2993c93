/**
 * Greedy LZ77 for the brotli encoder: hash chains over 4-byte prefixes, the longest match within
 * the window wins. Bounded work per position (a fixed chain depth), so compression is linear.
 */

export interface Command {
  /** Bytes to insert before the copy. */
  literals: Uint8Array;
  /** Bytes to copy (0 only for a block's final, literals-only command). */
  copyLength: number;
  /** How far back the copy starts; past the window it names a static dictionary word. */
  distance: number;
}

const MIN_MATCH = 4;
const HASH_BITS = 15;
const CHAIN_DEPTH = 32;
/** Longest copy one command takes (the copy length codes reach 2118 + 2^24, far beyond this). */
const MAX_MATCH = 1 << 16;

const hash4 = (d: Uint8Array, i: number) => (Math.imul(d[i]! | (d[i + 1]! << 8) | (d[i + 2]! << 16) | (d[i + 3]! << 24), 0x1e35a7bd) >>> (32 - HASH_BITS));

/** Commands that rebuild `data[start..end)`, copies reaching back at most `window` bytes (and into data before `start`). */
export function findCommands(data: Uint8Array, start: number, end: number, window: number): Command[] {
  const head = new Int32Array(1 << HASH_BITS).fill(-1);
  const prev = new Int32Array(data.length);
  const insert = (i: number) => {
    if (i + MIN_MATCH > data.length) return;
    const h = hash4(data, i);
    prev[i] = head[h]!;
    head[h] = i;
  };
  for (let i = Math.max(0, start - window); i < start; i++) insert(i);

  const commands: Command[] = [];
  let literalStart = start;
  for (let i = start; i < end; ) {
    let best = 0;
    let bestDistance = 0;
    if (i + MIN_MATCH <= end) {
      const limit = Math.min(MAX_MATCH, end - i);
      for (let c = head[hash4(data, i)]!, depth = 0; c >= 0 && i - c <= window && depth < CHAIN_DEPTH; c = prev[c]!, depth++) {
        let n = 0;
        while (n < limit && data[c + n] === data[i + n]) n++;
        if (n > best) {
          best = n;
          bestDistance = i - c;
          if (n === limit) break;
        }
      }
    }
    if (best < MIN_MATCH) {
      insert(i++);
      continue;
    }
    commands.push({ literals: data.subarray(literalStart, i), copyLength: best, distance: bestDistance });
    for (let k = 0; k < best; k++) insert(i + k);
    i += best;
    literalStart = i;
  }
  if (literalStart < end) commands.push({ literals: data.subarray(literalStart, end), copyLength: 0, distance: 0 });
  return commands;
}
