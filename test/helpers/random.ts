/**
 * Seeded randomness for tests: no Math.random anywhere, so a failing case replays from its
 * seed. Two generators because recorded seeds depend on them: mulberry32 for choices,
 * xorshift32 for byte streams (and the `random` option of a connection).
 */

/** mulberry32: small and good enough to shuffle, pick and mutate with. */
export function mulberry32(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  /** An integer in [0, n). */
  const int = (n: number) => Math.floor(next() * n);
  /** An integer in [lo, hi], both included. */
  const between = (lo: number, hi: number) => lo + int(hi - lo + 1);
  return {
    next,
    int,
    between,
    chance: (p: number) => next() < p,
    bytes: (n: number) => Uint8Array.from({ length: n }, () => int(256)),
    pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]!,
    /** Shuffles `xs` in place (Fisher–Yates) and returns it. */
    shuffle<T>(xs: T[]): T[] {
      for (let i = xs.length - 1; i > 0; i--) {
        const j = between(0, i);
        [xs[i], xs[j]] = [xs[j]!, xs[i]!];
      }
      return xs;
    },
  };
}
export type Mulberry32 = ReturnType<typeof mulberry32>;

/** xorshift32: each call gives the next unsigned 32-bit value. */
export function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** A seeded byte source (xorshift32, the low byte of each value): what a connection's `random` option takes. */
export function seededBytes(seed: number): (n: number) => Uint8Array {
  const next = xorshift32(seed);
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = next() & 0xff;
    return out;
  };
}

/** A seeded float in [0, 1) per call (xorshift32). */
export function seededFloats(seed: number): () => number {
  const next = xorshift32(seed);
  return () => next() / 2 ** 32;
}
