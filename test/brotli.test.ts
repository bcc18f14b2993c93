/**
 * The brotli decoder (RFC 7932, src/brotli): it decodes the reference streams of google/brotli
 * and node:zlib's encoder at every quality and many window sizes, checks the static dictionary
 * it embeds, never writes past its limit, and meets truncated, bit-flipped and random streams
 * with a BrotliError in bounded time.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, constants, crc32, createBrotliCompress } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { brotliDecompress } from '../src/brotli/brotli-decoder.js';
import { BrotliError } from '../src/brotli/brotli-error.js';
import { BrotliBitWriter } from '../src/brotli/brotli-bit-writer.js';
import { BrotliStreamWriter, brotliCompress } from '../src/brotli/brotli-encoder.js';
import { TRANSFORM_COUNT, transformWord } from '../src/brotli/dictionary-transforms.js';
import { DICTIONARY_DEFLATED_BASE64 } from '../src/brotli/dictionary-deflated.js';
import { DICTIONARY_SHA256, DICTIONARY_SIZE, DOFFSET, MAX_WORD_LENGTH, NDBITS, dictionaryWord, loadDictionary } from '../src/brotli/static-dictionary.js';
import { cpuMsSince } from './helpers/cpu-time.js';
import { mulberry32 } from './helpers/random.js';

const VECTORS = join(import.meta.dirname, '..', 'vectors', 'brotli');
const vector = (name: string) => new Uint8Array(readFileSync(join(VECTORS, name)));

function compress(data: Uint8Array, quality: number, lgwin: number, mode = constants.BROTLI_MODE_GENERIC): Uint8Array {
  return new Uint8Array(
    brotliCompressSync(data, {
      params: { [constants.BROTLI_PARAM_QUALITY]: quality, [constants.BROTLI_PARAM_LGWIN]: lgwin, [constants.BROTLI_PARAM_MODE]: mode, [constants.BROTLI_PARAM_SIZE_HINT]: data.length },
    }),
  );
}

/** Decoding either succeeds within the limit or fails with a BrotliError: nothing else may escape. */
function decodeOrError(data: Uint8Array, limit: number): Uint8Array | BrotliError {
  try {
    const out = brotliDecompress(data, limit);
    expect(out.length).toBeLessThanOrEqual(limit);
    return out;
  } catch (err) {
    expect(err).toBeInstanceOf(BrotliError);
    return err as BrotliError;
  }
}

const rng = mulberry32(0x7932);
/** Inputs that reach different parts of the format: text (dictionary words, UTF8 context), binary, runs, noise. */
// A fixed English text (not a file of ours that changes): the bit-flip counts below depend on it.
const text = vector('asyoulik.txt').subarray(0, 24_000);
const utf8Text = new TextEncoder().encode('Größenordnung — ünïcödé テキスト данные κείμενο 文本 '.repeat(200));
const der = new Uint8Array(readFileSync(join(import.meta.dirname, '..', 'vectors', 'pki', 'leaf-ecdsa-p384.crt')));
const INPUTS: Record<string, Uint8Array> = {
  text,
  'UTF-8 text': utf8Text,
  'random bytes': rng.bytes(9_000),
  'mixed runs and noise': Uint8Array.from({ length: 20_000 }, (_, i) => (i % 1000 < 300 ? rng.int(256) : i % 1000 < 600 ? 0 : (i * 7) & 0xff)),
  'signed samples': Uint8Array.from({ length: 12_000 }, (_, i) => (Math.round(100 * Math.sin(i / 9) + rng.int(5)) & 0xff)),
  'a certificate repeated': new Uint8Array(Array.from({ length: 6 }, () => [...der]).flat()),
  'one byte': Uint8Array.of(42),
  empty: new Uint8Array(0),
};

describe('reference streams from google/brotli', () => {
  const streams = readdirSync(VECTORS).filter((f) => /\.compressed(\.\d+)?$/.test(f));
  it('the set is there', () => expect(streams.length).toBeGreaterThanOrEqual(40));

  it.each(streams)('%s decodes to its original', (name) => {
    const original = vector(name.replace(/\.compressed(\.\d+)?$/, ''));
    expect(Buffer.from(brotliDecompress(vector(name), original.length)).equals(Buffer.from(original))).toBe(true);
  });
});

describe("node:zlib's encoder", () => {
  const QUALITIES = Array.from({ length: 12 }, (_, q) => q);
  const WINDOWS = [10, 12, 16, 18, 22, 24];

  it.each(Object.keys(INPUTS))('%s: every quality 0..11 at window sizes 2^10..2^24 round-trips', (name) => {
    const input = INPUTS[name]!;
    for (const q of QUALITIES) {
      for (const w of WINDOWS) {
        const out = brotliDecompress(compress(input, q, w), input.length);
        expect(Buffer.from(out).equals(Buffer.from(input)), `quality ${q}, window ${w}`).toBe(true);
      }
    }
  });

  it.each([
    ['text', constants.BROTLI_MODE_TEXT],
    ['font', constants.BROTLI_MODE_FONT],
  ] as const)('%s mode at qualities 5, 9 and 11 round-trips every input', (_, mode) => {
    for (const [name, input] of Object.entries(INPUTS)) {
      for (const q of [5, 9, 11]) {
        const out = brotliDecompress(compress(input, q, 22, mode), input.length);
        expect(Buffer.from(out).equals(Buffer.from(input)), `${name}, quality ${q}`).toBe(true);
      }
    }
  });

  it('a 3 MB input spans several meta-blocks and still round-trips', () => {
    const big = new Uint8Array(3 << 20);
    for (let i = 0; i < big.length; i += text.length) big.set(text.subarray(0, Math.min(text.length, big.length - i)), i);
    for (let i = 0; i < big.length; i += 4099) big[i] = rng.int(256);
    expect(Buffer.from(brotliDecompress(compress(big, 5, 18), big.length)).equals(Buffer.from(big))).toBe(true);
  });
});

describe('the static dictionary', () => {
  const published = vector('dictionary.bin');

  it('the reference copy has the published SHA-256 and the CRC-32 of RFC 7932 appendix A', () => {
    expect(published.length).toBe(DICTIONARY_SIZE);
    expect(createHash('sha256').update(published).digest('hex')).toBe(DICTIONARY_SHA256);
    expect(crc32(published)).toBe(0x5136cb04);
  });

  it('the embedded copy inflates to exactly the reference copy', () => {
    expect(Buffer.from(loadDictionary(DICTIONARY_DEFLATED_BASE64)).equals(Buffer.from(published))).toBe(true);
  });

  it('a damaged embedded copy is refused, not used', () => {
    // Re-encode the embedded data with one dictionary byte changed: it still inflates, but the hash no longer matches.
    const bytes = Buffer.from(DICTIONARY_DEFLATED_BASE64, 'base64');
    const tampered = Buffer.from(bytes);
    tampered[bytes.length >> 1] ^= 1;
    expect(() => loadDictionary(tampered.toString('base64'))).toThrow(BrotliError);
    expect(() => loadDictionary(bytes.subarray(0, 1000).toString('base64'))).toThrow(BrotliError);
  });

  it('word counts and lengths (NDBITS) account for all 122,784 bytes', () => {
    const end = DOFFSET[MAX_WORD_LENGTH]! + (MAX_WORD_LENGTH << NDBITS[MAX_WORD_LENGTH]!);
    expect(end).toBe(DICTIONARY_SIZE);
  });
});

describe('the output limit', () => {
  it('a stream that fits exactly decodes; one byte less is refused', () => {
    const s = compress(text, 9, 16);
    expect(brotliDecompress(s, text.length).length).toBe(text.length);
    expect(() => brotliDecompress(s, text.length - 1)).toThrow(/exceed the limit/);
  });

  it('a bomb (10 MB of zeros, 13 bytes compressed) is refused at a 1000-byte limit in a fraction of a full decode', () => {
    const bomb = compress(new Uint8Array(10_000_000), 11, 24);
    expect(bomb.length).toBeLessThan(100);
    /** The least CPU time of a few runs: a refusal costs microseconds, so one GC pause would hide it. */
    const cpu = (runs: number, f: () => void) =>
      Math.min(
        ...Array.from({ length: runs }, () => {
          const start = process.cpuUsage();
          f();
          return cpuMsSince(start);
        }),
      );
    const refused = cpu(5, () => expect(() => brotliDecompress(bomb, 1000)).toThrow(/exceed the limit/));
    const full = cpu(2, () => expect(brotliDecompress(bomb, 10_000_000).length).toBe(10_000_000));
    expect(refused).toBeLessThan(full / 10);
  });

  it('the limit holds across many small meta-blocks too (stream flushed every 100 bytes)', async () => {
    // Many meta-blocks, each under the limit: the running total is what is checked.
    const parts = Array.from({ length: 50 }, (_, i) => text.subarray(i * 100, i * 100 + 100));
    const whole = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((at, p) => (whole.set(p, at), at + p.length), 0);
    const s = await compressFlushed(parts);
    expect(Buffer.from(brotliDecompress(s, whole.length)).equals(Buffer.from(whole))).toBe(true);
    expect(() => brotliDecompress(s, whole.length - 1)).toThrow(/exceed the limit/);
  });
});

/**
 * A stream of several meta-blocks: node's encoder ends one at each flush (and pads to a byte
 * boundary with an empty metadata block).
 */
async function compressFlushed(parts: Uint8Array[]): Promise<Uint8Array> {
  const encoder = createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: 5 } });
  const chunks: Buffer[] = [];
  encoder.on('data', (chunk: Buffer) => chunks.push(chunk));
  for (const part of parts) {
    encoder.write(part);
    await new Promise<void>((resolve) => encoder.flush(constants.BROTLI_OPERATION_FLUSH, () => resolve()));
  }
  encoder.end();
  await once(encoder, 'end');
  return new Uint8Array(Buffer.concat(chunks));
}

describe('malformed streams', () => {
  const good = compress(text.subarray(0, 4000), 11, 16);
  const goodUncompressed = compress(rng.bytes(3000), 2, 16);

  it('every truncation of a stream is a BrotliError', () => {
    for (const s of [good, goodUncompressed]) {
      for (let n = 0; n < s.length; n++) expect(() => brotliDecompress(s.subarray(0, n), 1 << 16), `cut at ${n}`).toThrow(BrotliError);
    }
  });

  it('a byte after the end, and nonzero padding after the last meta-block, are refused', () => {
    expect(() => brotliDecompress(Uint8Array.from([...good, 0]), 1 << 16)).toThrow(/follow the end/);
    // 0x06: WBITS 16 (bit 0 clear), then ISLAST and ISLASTEMPTY, then five zero bits of padding.
    expect(brotliDecompress(Uint8Array.of(0x06), 10).length).toBe(0);
    expect(() => brotliDecompress(Uint8Array.of(0x86), 10)).toThrow(/padding/);
  });

  it('header errors: the large-window WBITS code, a needless zero nibble, a set reserved bit', () => {
    // WBITS: a 1, three zero bits, then three bits of value 1: the large-window escape.
    expect(() => brotliDecompress(Uint8Array.of(0b00010001, 0), 10)).toThrow(/window/);
    // WBITS 16, ISLAST 0, MNIBBLES code 1 (five nibbles), all five zero: the last one is needless.
    expect(() => brotliDecompress(Uint8Array.of(0b00000100, 0, 0, 0), 1 << 20)).toThrow(/nibble/);
    // WBITS 16, ISLAST 0, MNIBBLES code 3 (metadata), then the reserved bit set.
    expect(() => brotliDecompress(Uint8Array.of(0b00111100 | 0b01000000, 0), 10)).toThrow(/reserved/);
  });

  it('random bit flips never raise anything but a BrotliError, and never pass the limit', () => {
    const r = mulberry32(1);
    const sources = [good, goodUncompressed, compress(utf8Text, 11, 22), compress(INPUTS['signed samples']!, 10, 18), vector('alice29.txt.compressed').subarray(0, 3000)];
    let errors = 0;
    const start = process.cpuUsage();
    for (let i = 0; i < 1500; i++) {
      const s = Uint8Array.from(r.pick(sources));
      for (let k = r.between(1, 4); k > 0; k--) s[r.int(s.length)]! ^= 1 << r.int(8);
      if (decodeOrError(s, 1 << 15) instanceof BrotliError) errors++;
    }
    // Most flips are caught (1,015 of 1,500 with these inputs); a flip inside stored or literal
    // bytes can leave a valid stream, so not all are.
    expect(errors).toBeGreaterThan(750);
    expect(cpuMsSince(start)).toBeLessThan(30_000);
  });

  it('random bytes never raise anything but a BrotliError', () => {
    const r = mulberry32(2);
    for (let i = 0; i < 3000; i++) decodeOrError(r.bytes(r.between(0, 300)), 1 << 15);
  });
});

describe('our encoder', () => {
  it.each(Object.keys(INPUTS))("%s: node:zlib's decoder and ours both read back what we compress", (name) => {
    const input = INPUTS[name]!;
    const stream = brotliCompress(input);
    expect(Buffer.from(brotliDecompressSync(stream)).equals(Buffer.from(input))).toBe(true);
    expect(Buffer.from(brotliDecompress(stream, input.length)).equals(Buffer.from(input))).toBe(true);
  });

  it('compresses text and repetition, and stores what does not compress with only a few bytes of overhead', () => {
    expect(brotliCompress(text).length).toBeLessThan(text.length / 2);
    expect(brotliCompress(new Uint8Array(100_000)).length).toBeLessThan(100);
    const noise = INPUTS['random bytes']!;
    expect(brotliCompress(noise).length).toBeLessThanOrEqual(noise.length + 8);
  });
});

describe("static dictionary references, checked against node:zlib's decoder", () => {
  /** A stream of meta-blocks, each some literals then one dictionary reference: [literals, word length, word index, transform]. */
  function dictionaryStream(refs: [string, number, number, number][]): { stream: Uint8Array; expectedLength: number } {
    const w = new BrotliStreamWriter(16);
    let written = 0;
    for (const [literals, length, index, transform] of refs) {
      const bytes = new TextEncoder().encode(literals);
      const reach = Math.min(w.window, written + bytes.length);
      const bits = NDBITS[length] ?? 0;
      const wordId = (transform << bits) | index;
      // A reference the format refuses still needs a meta-block length: say the word's length.
      const valid = length >= 4 && length <= 24 && transform < TRANSFORM_COUNT;
      const outLength = valid ? transformWord(transform, dictionaryWord(length, index)).length || length : length;
      w.encodeMetaBlock([{ literals: bytes, copyLength: length, distance: reach + 1 + wordId }], false, bytes.length + outLength);
      written += bytes.length + outLength;
    }
    return { stream: w.finish(), expectedLength: written };
  }

  function sameAsNode(refs: [string, number, number, number][]): void {
    const { stream, expectedLength } = dictionaryStream(refs);
    const theirs = brotliDecompressSync(stream);
    expect(theirs.length).toBe(expectedLength);
    expect(Buffer.from(brotliDecompress(stream, expectedLength)).equals(theirs)).toBe(true);
  }

  const r = mulberry32(121);
  const produces = (length: number, index: number, transform: number) => transformWord(transform, dictionaryWord(length, index)).length > 0;

  it.each(Array.from({ length: TRANSFORM_COUNT }, (_, t) => t))('transform %i on a word of every length 4..24', (transform) => {
    const refs: [string, number, number, number][] = [];
    for (let length = 4; length <= 24; length++) {
      const index = r.int(1 << NDBITS[length]!);
      if (produces(length, index, transform)) refs.push(['<', length, index, transform]);
    }
    expect(refs.length).toBeGreaterThan(10);
    sameAsNode(refs);
  });

  it('3000 random references (so UTF-8 words meet the uppercasing transforms too)', () => {
    const refs: [string, number, number, number][] = [];
    while (refs.length < 3000) {
      const length = r.between(4, 24);
      const ref: [string, number, number, number] = [r.pick(['', 'x', ' the ']), length, r.int(1 << NDBITS[length]!), r.int(TRANSFORM_COUNT)];
      if (produces(ref[1], ref[2], ref[3])) refs.push(ref);
    }
    sameAsNode(refs);
  });

  it('a reference that transforms to nothing, a word length outside 4..24 and a transform past 120 are refused, by node too', () => {
    const cases: [[string, number, number, number], RegExp][] = [
      [['', 4, 0, 54], /transforms to nothing/], // OmitFirst9 of a 4-byte word, no prefix or suffix
      [['ab', 25, 0, 0], /length 25/],
      [['ab', 3, 0, 0], /length 3/],
      [['ab', 4, 0, 121], /transform 121/],
    ];
    for (const [ref, reason] of cases) {
      const { stream } = dictionaryStream([ref]);
      expect(() => brotliDecompressSync(stream)).toThrow();
      expect(() => brotliDecompress(stream, 1 << 16)).toThrow(reason);
    }
  });
});

describe('work per input byte', () => {
  /**
   * One meta-block built to cost the most per byte it takes: 256 literal block types (a
   * 16,384-entry context map, every entry from a code of zero bits), 256 insert-and-copy types
   * (256 prefix trees over 704 symbols), for one byte of output.
   */
  function expensiveMetaBlock(w: BrotliBitWriter): void {
    w.write(0, 1); // ISLAST
    w.write(0, 2); // MNIBBLES 4
    w.write(0, 16); // MLEN - 1 = 0
    w.write(0, 1); // ISUNCOMPRESSED
    const types256 = () => (w.write(1, 1), w.write(7, 3), w.write(127, 7)); // NBLTYPES = 256
    const oneSymbol = (symbol: number, bits: number) => (w.write(1, 2), w.write(0, 2), w.write(symbol, bits)); // simple code, NSYM 1
    types256();
    oneSymbol(0, 9); // block type code over 258
    oneSymbol(0, 5); // block count code: count 1..4
    w.write(0, 2);
    types256();
    oneSymbol(0, 9);
    oneSymbol(0, 5);
    w.write(0, 2);
    w.write(0, 1); // NBLTYPESD = 1
    w.write(0, 6); // NPOSTFIX, NDIRECT
    for (let i = 0; i < 256; i++) w.write(2, 2); // UTF8 context mode
    w.write(1, 1), w.write(0, 3); // NTREESL = 2
    w.write(0, 1); // RLEMAX 0
    oneSymbol(0, 1); // context map code: always tree 0, zero bits each
    w.write(0, 1); // no IMTF
    w.write(0, 1); // NTREESD = 1
    oneSymbol(97, 8);
    oneSymbol(97, 8); // two literal trees: 'a'
    for (let i = 0; i < 256; i++) oneSymbol(8, 10); // insert 1, copy 2, last distance
    oneSymbol(0, 6); // distance code
  }

  it('a stream of the costliest meta-blocks decodes in time linear in its size', () => {
    const timeFor = (blocks: number) => {
      const w = new BrotliBitWriter();
      w.write(0, 1); // WBITS 16
      for (let i = 0; i < blocks; i++) expensiveMetaBlock(w);
      w.write(3, 2); // ISLAST, ISLASTEMPTY
      const stream = w.finish();
      const start = process.cpuUsage();
      expect(Buffer.from(brotliDecompress(stream, blocks)).toString()).toBe('a'.repeat(blocks));
      return { ms: cpuMsSince(start), bytes: stream.length };
    };
    timeFor(10); // warm up
    const small = timeFor(30);
    const large = timeFor(120);
    expect(large.bytes).toBeGreaterThan(60_000);
    // Four times the input: well under sixteen times the work (quadratic), and fast in absolute terms.
    expect(large.ms).toBeLessThan(Math.max(small.ms, 5) * 10);
    expect(large.ms).toBeLessThan(3_000);
  });
});

describe('the core rule', () => {
  it('src/brotli imports no node:* module (it runs in browsers)', () => {
    const dir = join(import.meta.dirname, '..', 'src', 'brotli');
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) expect(readFileSync(join(dir, f), 'utf8'), f).not.toMatch(/from ['"]node:|import\(['"]node:|require\(/);
  });
});
