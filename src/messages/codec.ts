/**
 * A small data-driven codec: each wire structure of the TLS presentation language
 * (RFC 8446 section 3) is declared once as a value, and the same declaration both parses
 * (strictly: bounds, lengths and trailing bytes checked) and serialises.
 *
 *   const KeyShareEntry = struct({ group: u16, key_exchange: opaque(2, 1) });
 *   const KeyShareClientHello = struct({ client_shares: list(2, KeyShareEntry) });
 */
import { decodeError, illegalParameter } from '../errors.js';
import { Reader, Writer } from '../util/bytes.js';

export interface Codec<T> {
  read(r: Reader): T;
  write(w: Writer, value: T): void;
}

export type Infer<C> = C extends Codec<infer T> ? T : never;

type LenBytes = 1 | 2 | 3;

export const u8: Codec<number> = { read: (r) => r.u8(), write: (w, v) => void w.u8(v) };
export const u16: Codec<number> = { read: (r) => r.u16(), write: (w, v) => void w.u16(v) };
export const u24: Codec<number> = { read: (r) => r.u24(), write: (w, v) => void w.u24(v) };
export const u32: Codec<number> = { read: (r) => r.u32(), write: (w, v) => void w.u32(v) };
export const u48: Codec<number> = { read: (r) => r.u48(), write: (w, v) => void w.u48(v) };

/** opaque field[n]: a fixed number of bytes. */
export function fixed(n: number): Codec<Uint8Array> {
  return {
    read: (r) => r.bytes(n),
    write: (w, v) => {
      if (v.length !== n) throw new Error(`fixed field needs ${n} bytes, got ${v.length}`);
      w.bytes(v);
    },
  };
}

/** opaque field<min..max> with a `lenBytes` length prefix. */
export function opaque(lenBytes: LenBytes, min = 0, max = 2 ** (8 * lenBytes) - 1): Codec<Uint8Array> {
  return {
    read: (r) => r.vec(lenBytes, min, max),
    write: (w, v) => void w.vecBytes(lenBytes, v),
  };
}

/** The rest of the enclosing block (e.g. Finished.verify_data, whose length the hash fixes). */
export const rest: Codec<Uint8Array> = { read: (r) => r.rest(), write: (w, v) => void w.bytes(v) };

/** T items<min..max>: a length-prefixed list; min/max count bytes, as the RFC does. */
export function list<T>(lenBytes: LenBytes, item: Codec<T>, min = 0, max = 2 ** (8 * lenBytes) - 1): Codec<T[]> {
  return {
    read: (r) => {
      const sub = r.sub(lenBytes, undefined, min, max);
      const out: T[] = [];
      while (sub.remaining > 0) out.push(item.read(sub));
      return out;
    },
    write: (w, items) => void w.vec(lenBytes, (inner) => items.forEach((v) => item.write(inner, v))),
  };
}

/** A struct: fields read and written in declaration order. */
export function struct<S extends Record<string, Codec<any>>>(fields: S): Codec<{ [K in keyof S]: Infer<S[K]> }> {
  const entries = Object.entries(fields);
  return {
    read: (r) => {
      const out: Record<string, unknown> = {};
      for (const [name, codec] of entries) out[name] = codec.read(r);
      return out as { [K in keyof S]: Infer<S[K]> };
    },
    write: (w, value) => {
      for (const [name, codec] of entries) codec.write(w, (value as Record<string, unknown>)[name]);
    },
  };
}

/** A value that must be one of a fixed set (e.g. KeyUpdateRequest); anything else is illegal_parameter. */
export function oneOf(base: Codec<number>, allowed: readonly number[], what: string): Codec<number> {
  return {
    read: (r) => {
      const v = base.read(r);
      if (!allowed.includes(v)) throw illegalParameter(`${what}: value ${v} not allowed`);
      return v;
    },
    write: base.write,
  };
}

/** An ASCII/UTF-8 string inside an opaque vector. */
export function text(lenBytes: LenBytes, min = 0, max?: number): Codec<string> {
  const raw = opaque(lenBytes, min, max);
  return {
    read: (r) => {
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(raw.read(r));
      } catch (err) {
        if (err instanceof TypeError) throw decodeError('string is not valid UTF-8');
        throw err;
      }
    },
    write: (w, v) => raw.write(w, new TextEncoder().encode(v)),
  };
}

/** A field that is present only if bytes remain (TLS 1.2 hello extensions). */
export function optional<T>(codec: Codec<T>): Codec<T | undefined> {
  return {
    read: (r) => (r.remaining > 0 ? codec.read(r) : undefined),
    write: (w, v) => {
      if (v !== undefined) codec.write(w, v);
    },
  };
}

/** Decode a whole buffer with `codec`, rejecting trailing bytes. */
export function decode<T>(codec: Codec<T>, bytes: Uint8Array, what: string): T {
  const r = new Reader(bytes, what);
  const v = codec.read(r);
  r.end();
  return v;
}

export function encode<T>(codec: Codec<T>, value: T): Uint8Array {
  const w = new Writer();
  codec.write(w, value);
  return w.finish();
}
