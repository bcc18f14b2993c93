/**
 * Byte helpers and the strict reader/writer every codec in tsls is built on.
 * The reader throws `decode_error` on any overrun, so a truncated message can never
 * turn into an out-of-bounds read or an exception of another kind.
 */
import { decodeError } from '../errors.js';

export function concat(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Equality that takes the same time whatever the contents (for MACs and Finished). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lower-case hex, two digits a byte (a table lookup: this builds cache keys on hot paths). */
export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX[b[i]!];
  return s;
}

export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/[\s:]/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new Error(`bad hex: ${hex.slice(0, 40)}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export const utf8 = {
  encode: (s: string) => new TextEncoder().encode(s),
  decode: (b: Uint8Array) => new TextDecoder().decode(b),
};

/** Overwrite key material we no longer need. */
export function wipe(...buffers: (Uint8Array | undefined)[]): void {
  for (const b of buffers) b?.fill(0);
}

/** Strict big-endian reader over one buffer. */
export class Reader {
  private pos = 0;
  constructor(readonly buf: Uint8Array, private readonly what = 'message') {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }
  get offset(): number {
    return this.pos;
  }

  private need(n: number): void {
    if (this.remaining < n) throw decodeError(`${this.what}: truncated (need ${n} bytes, have ${this.remaining})`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u16(): number {
    this.need(2);
    const v = (this.buf[this.pos]! << 8) | this.buf[this.pos + 1]!;
    this.pos += 2;
    return v;
  }
  u24(): number {
    this.need(3);
    const v = (this.buf[this.pos]! << 16) | (this.buf[this.pos + 1]! << 8) | this.buf[this.pos + 2]!;
    this.pos += 3;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = ((this.buf[this.pos]! << 24) >>> 0) + ((this.buf[this.pos + 1]! << 16) | (this.buf[this.pos + 2]! << 8) | this.buf[this.pos + 3]!);
    this.pos += 4;
    return v;
  }
  /** 48-bit integer (DTLS sequence numbers); exact in a double. */
  u48(): number {
    const hi = this.u16();
    return hi * 2 ** 32 + this.u32();
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  rest(): Uint8Array {
    return this.bytes(this.remaining);
  }
  /** A vector with a length prefix of `lenBytes` bytes (1, 2 or 3). */
  vec(lenBytes: 1 | 2 | 3, min = 0, max = Infinity): Uint8Array {
    const len = lenBytes === 1 ? this.u8() : lenBytes === 2 ? this.u16() : this.u24();
    if (len < min || len > max) throw decodeError(`${this.what}: vector length ${len} outside [${min}, ${max}]`);
    return this.bytes(len);
  }
  /** A sub-reader over a length-prefixed block. */
  sub(lenBytes: 1 | 2 | 3, what = this.what, min = 0, max = Infinity): Reader {
    return new Reader(this.vec(lenBytes, min, max), what);
  }
  /** Every byte must have been consumed: trailing data is a decode_error. */
  end(): void {
    if (this.remaining !== 0) throw decodeError(`${this.what}: ${this.remaining} trailing bytes`);
  }
}

/** Growable big-endian writer with nested length prefixes. */
export class Writer {
  private buf: Uint8Array;
  private pos = 0;
  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }
  u16(v: number): this {
    this.ensure(2);
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
    return this;
  }
  u24(v: number): this {
    this.ensure(3);
    this.buf[this.pos++] = (v >>> 16) & 0xff;
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
    return this;
  }
  u32(v: number): this {
    this.ensure(4);
    this.buf[this.pos++] = (v >>> 24) & 0xff;
    this.buf[this.pos++] = (v >>> 16) & 0xff;
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
    return this;
  }
  u48(v: number): this {
    this.u16(Math.floor(v / 2 ** 32));
    return this.u32(v >>> 0);
  }
  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }
  /** Write `body` inside a length prefix of `lenBytes` bytes, filled in afterwards. */
  vec(lenBytes: 1 | 2 | 3, body: (w: this) => void): this {
    this.ensure(lenBytes);
    const at = this.pos;
    this.pos += lenBytes;
    body(this);
    const len = this.pos - at - lenBytes;
    if (len >= 2 ** (8 * lenBytes)) throw new Error(`vector too long: ${len}`);
    for (let i = 0; i < lenBytes; i++) this.buf[at + i] = (len >>> (8 * (lenBytes - 1 - i))) & 0xff;
    return this;
  }
  vecBytes(lenBytes: 1 | 2 | 3, b: Uint8Array): this {
    return this.vec(lenBytes, (w) => w.bytes(b));
  }
  get length(): number {
    return this.pos;
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}
