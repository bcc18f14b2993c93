/**
 * What an idle connection pays, in bytes, for each way of holding its small secrets: the
 * A/B behind the layouts the record layer and the key schedule use (not a test, and not
 * a timing: a count of retained memory, so a loaded machine does not skew it).
 *
 *   npx tsc -p bench/tsconfig.json && node --expose-gc dist-bench/bench/idle-bytes-ab.js
 *
 * Each variant builds HOLDERS objects holding the value one way, and reports the heap and
 * ArrayBuffer bytes they retain, per holder. The figures that matter are the differences
 * between variants of one row, against the ~9-10 KB an idle connection pair costs in all
 * (README, Performance).
 */
import { createSecretKey, randomBytes } from 'node:crypto';

const HOLDERS = 20_000;

declare const gc: (() => void) | undefined;

function retained(): number {
  if (typeof gc !== 'function') throw new Error('run with node --expose-gc');
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Bytes retained per holder by `make`, the median of five runs. */
function perHolder(make: (i: number) => unknown): number {
  const runs: number[] = [];
  for (let run = 0; run < 5; run++) {
    const keep: unknown[] = new Array(HOLDERS);
    const before = retained();
    for (let i = 0; i < HOLDERS; i++) keep[i] = make(i);
    const after = retained();
    runs.push((after - before) / HOLDERS);
    keep.length = 0;
  }
  runs.sort((a, b) => a - b);
  return Math.round(runs[2]!);
}

// Inputs as the engine has them: fresh arrays from the key schedule, with their own ArrayBuffers.
const iv = () => new Uint8Array(randomBytes(12));
const key = (n: number) => new Uint8Array(randomBytes(n));
const word = (b: Uint8Array, at: number) => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;

class IvWords {
  constructor(
    readonly iv0: number,
    readonly iv1: number,
    readonly iv2: number,
  ) {}
}
class Holds<T> {
  constructor(readonly value: T) {}
}
class FourFields {
  constructor(
    readonly a: Uint8Array,
    readonly b: Uint8Array,
    readonly c: Uint8Array,
    readonly d: Uint8Array,
  ) {}
}
class SlotStore {
  private held = 0b1111;
  constructor(
    private readonly store: Uint8Array,
    private readonly size: number,
  ) {}
  read(slot: number): Uint8Array | undefined {
    return this.held & (1 << slot) ? this.store.subarray(slot * this.size, (slot + 1) * this.size) : undefined;
  }
}

const rows: [string, Record<string, (i: number) => unknown>][] = [
  [
    'record IV (12 bytes, one direction)',
    {
      'three 32-bit words in the object': () => {
        const v = iv();
        return new IvWords(word(v, 0), word(v, 4), word(v, 8));
      },
      'own Uint8Array (slice)': () => new Holds(iv().slice()),
      'pooled Buffer (Buffer.from)': () => new Holds(Buffer.from(iv())),
    },
  ],
  [
    'node AEAD key (32 bytes, one direction)',
    {
      '16-bit words (number[])': () => {
        const k = key(32);
        const words = new Array<number>(16);
        for (let i = 0; i < 16; i++) words[i] = (k[2 * i]! << 8) | k[2 * i + 1]!;
        return new Holds(words);
      },
      'own Uint8Array (slice)': () => new Holds(key(32).slice()),
      'pooled Buffer (Buffer.from)': () => new Holds(Buffer.from(key(32))),
      KeyObject: () => new Holds(createSecretKey(key(32))),
    },
  ],
  [
    'lasting TLS 1.3 secrets (4 x 32 bytes, one side)',
    {
      'one buffer, slots read through a bitmask': () => {
        const store = new Uint8Array(128);
        for (let s = 0; s < 4; s++) store.set(key(32), 32 * s);
        return new SlotStore(store, 32);
      },
      'four fields, the arrays as derived': () => new FourFields(key(32), key(32), key(32), key(32)),
      'four fields, views of one buffer': () => {
        const store = new Uint8Array(128);
        const view = (s: number) => {
          store.set(key(32), 32 * s);
          return store.subarray(32 * s, 32 * (s + 1));
        };
        return new FourFields(view(0), view(1), view(2), view(3));
      },
      'four fields, pooled Buffers': () => new FourFields(Buffer.from(key(32)), Buffer.from(key(32)), Buffer.from(key(32)), Buffer.from(key(32))),
    },
  ],
];

for (const [what, variants] of rows) {
  console.log(what);
  for (const [name, make] of Object.entries(variants)) console.log(`  ${String(perHolder(make)).padStart(5)} B  ${name}`);
}
