/**
 * A strict DER (X.690) reader, plus the few encoders tsls needs.
 *
 * Certificates arrive from the network, so the reader accepts exactly one encoding of each
 * value: definite, minimal lengths; minimal INTEGERs and OID arcs; primitive strings; no
 * trailing bytes. Anything else is a `DerError` (a TLSError with alert bad_certificate), never
 * another kind of exception.
 *
 * Tags are plain data (`TagSpec`), and every value decoder takes the tag to expect, so
 * IMPLICIT context tags are read with the same code as the universal types.
 */
import { TLSError, type AlertName } from '../errors.js';
import { concat } from './bytes.js';

export class DerError extends TLSError {
  constructor(message: string, alert: AlertName = 'bad_certificate') {
    super(alert, message);
    this.name = 'DerError';
  }
}

export const TagClass = { universal: 0, application: 1, context: 2, private: 3 } as const;
export type TagClassValue = (typeof TagClass)[keyof typeof TagClass];

/** Identifier octets of the universal types (constructed bit included for SEQUENCE and SET). */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8String: 0x0c,
  NumericString: 0x12,
  PrintableString: 0x13,
  T61String: 0x14,
  IA5String: 0x16,
  UTCTime: 0x17,
  GeneralizedTime: 0x18,
  VisibleString: 0x1a,
  UniversalString: 0x1c,
  BMPString: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/**
 * Which tag to expect: an identifier octet (tag numbers below 31, i.e. nearly everything),
 * or the full triple for high tag numbers.
 */
export type TagSpec = number | { cls: TagClassValue; constructed: boolean; number: number };

/** The identifier octet of a context-specific tag [n] (n < 31). */
export function contextTag(n: number, constructed: boolean): number {
  if (n < 0 || n > 30) throw new RangeError(`context tag [${n}] needs the high-tag-number form`);
  return 0x80 | (constructed ? 0x20 : 0) | n;
}

export interface DerNode {
  /** The first identifier octet (class | constructed | number, or 0x1f for high tag numbers). */
  readonly tag: number;
  readonly cls: TagClassValue;
  readonly constructed: boolean;
  readonly number: number;
  /** Contents octets. */
  readonly value: Uint8Array;
  /** The whole encoding, header included (what signatures and name comparisons cover). */
  readonly raw: Uint8Array;
}

function fail(what: string, message: string): never {
  throw new DerError(`${what}: ${message}`);
}

function tagMatches(node: DerNode, spec: TagSpec): boolean {
  if (typeof spec === 'number') return node.number < 31 && node.tag === spec;
  return node.cls === spec.cls && node.constructed === spec.constructed && node.number === spec.number;
}

function tagName(spec: TagSpec): string {
  if (typeof spec === 'number') return `0x${spec.toString(16).padStart(2, '0')}`;
  return `[class ${spec.cls} ${spec.constructed ? 'constructed' : 'primitive'} ${spec.number}]`;
}

/** Reads one TLV at `at`; returns it and the offset just past it. */
export function readNode(buf: Uint8Array, at: number, what = 'DER'): { node: DerNode; next: number } {
  const start = at;
  const byte = (): number => {
    if (at >= buf.length) fail(what, 'truncated');
    return buf[at++]!;
  };

  const id = byte();
  const cls = (id >> 6) as TagClassValue;
  const constructed = (id & 0x20) !== 0;
  let number = id & 0x1f;
  if (number === 0x1f) {
    number = 0;
    let b: number;
    let count = 0;
    do {
      b = byte();
      if (count === 0 && b === 0x80) fail(what, 'non-minimal tag number');
      if (++count > 4) fail(what, 'tag number too large');
      number = number * 128 + (b & 0x7f);
    } while (b & 0x80);
    if (number < 31) fail(what, 'high-tag-number form used for a low tag number');
  }

  let length = byte();
  if (length === 0x80) fail(what, 'indefinite length');
  if (length > 0x80) {
    const n = length & 0x7f;
    // 4 length octets already allow 4 GiB, far beyond anything we parse.
    if (n > 4) fail(what, `length of ${n} octets`);
    length = 0;
    for (let i = 0; i < n; i++) {
      const b = byte();
      if (i === 0 && b === 0) fail(what, 'non-minimal length');
      length = length * 256 + b;
    }
    if (length < 0x80) fail(what, 'long-form length for a short length');
  }

  if (buf.length - at < length) fail(what, `truncated (need ${length} bytes, have ${buf.length - at})`);
  const value = buf.subarray(at, at + length);
  const next = at + length;
  return { node: { tag: id, cls, constructed, number, value, raw: buf.subarray(start, next) }, next };
}

/** Decodes a buffer that must hold exactly one DER value. */
export function decodeDer(buf: Uint8Array, what = 'DER'): DerNode {
  const { node, next } = readNode(buf, 0, what);
  if (next !== buf.length) fail(what, `${buf.length - next} trailing bytes`);
  return node;
}

// ---- content decoders: each takes the contents octets of a value already tag-checked ----

/**
 * Caps on what one value may cost to decode. The largest INTEGER a certificate or key
 * legitimately holds is an RSA modulus of 16384 bits (plus its sign octet); the longest
 * OBJECT IDENTIFIER in use is a few dozen octets, and its longest arc a 128-bit UUID
 * (2.25.N, 19 octets). Anything larger is refused before any arithmetic, so a hostile
 * value costs a length check.
 */
export const MAX_INTEGER_OCTETS = 16384 / 8 + 1;
export const MAX_OID_OCTETS = 128;
export const MAX_OID_ARC_OCTETS = 20;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Big-endian magnitude to bigint in one parse of a hex string: linear, where a shift per byte is quadratic. */
export function bytesToBigInt(v: Uint8Array): bigint {
  if (v.length === 0) return 0n;
  let hex = '0x';
  for (const b of v) hex += HEX[b]!;
  return BigInt(hex);
}

/** Bits in a non-negative INTEGER's contents (sign octet and leading zeros not counted), without building it. */
export function unsignedBitLength(v: Uint8Array): number {
  let i = 0;
  while (i < v.length && v[i] === 0) i++;
  return i === v.length ? 0 : (v.length - i) * 8 - Math.clz32(v[i]!) + 24;
}

export function decodeInteger(v: Uint8Array, what = 'INTEGER'): bigint {
  checkInteger(v, what);
  const n = bytesToBigInt(v);
  return v[0]! & 0x80 ? n - (1n << BigInt(v.length * 8)) : n;
}

/** The DER rules for INTEGER contents, and the size cap; no arithmetic. */
function checkInteger(v: Uint8Array, what: string): void {
  if (v.length === 0) fail(what, 'empty INTEGER');
  if (v.length > MAX_INTEGER_OCTETS) fail(what, `INTEGER of ${v.length} octets (at most ${MAX_INTEGER_OCTETS})`);
  if (v.length > 1 && ((v[0] === 0x00 && v[1]! < 0x80) || (v[0] === 0xff && v[1]! >= 0x80))) {
    fail(what, 'non-minimal INTEGER');
  }
}

/** A non-negative INTEGER as its magnitude bytes (the sign octet stripped). */
export function decodeUnsigned(v: Uint8Array, what = 'INTEGER'): Uint8Array {
  checkInteger(v, what);
  if (v[0]! & 0x80) fail(what, 'negative INTEGER where a non-negative one is required');
  return v.length > 1 && v[0] === 0 ? v.subarray(1) : v;
}

export function decodeOid(v: Uint8Array, what = 'OID'): string {
  if (v.length === 0) fail(what, 'empty OID');
  if (v.length > MAX_OID_OCTETS) fail(what, `OID of ${v.length} octets (at most ${MAX_OID_OCTETS})`);
  if (v[v.length - 1]! & 0x80) fail(what, 'truncated OID arc');
  const arcs: (number | bigint)[] = [];
  let start = 0;
  for (let i = 0; i < v.length; i++) {
    if (i === start && v[i] === 0x80) fail(what, 'non-minimal OID arc');
    if (v[i]! & 0x80) continue;
    if (i - start + 1 > MAX_OID_ARC_OCTETS) fail(what, `OID arc of more than ${MAX_OID_ARC_OCTETS} octets`);
    // Arcs of up to 7 octets (49 bits) are exact as numbers; longer ones (UUIDs) go through bigint.
    if (i - start < 7) {
      let arc = 0;
      for (let j = start; j <= i; j++) arc = arc * 128 + (v[j]! & 0x7f);
      arcs.push(arc);
    } else {
      let arc = 0n;
      for (let j = start; j <= i; j++) arc = (arc << 7n) | BigInt(v[j]! & 0x7f);
      arcs.push(arc);
    }
    start = i + 1;
  }
  // The first subidentifier packs two arcs: 40 * X + Y, where only X = 2 allows Y >= 40.
  const first = arcs[0]!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, Number(first) - 40] : [2, typeof first === 'bigint' ? first - 80n : first - 80];
  arcs.splice(0, 1, ...head);
  return arcs.join('.');
}

export interface BitString {
  bytes: Uint8Array;
  unusedBits: number;
}

export function decodeBitString(v: Uint8Array, what = 'BIT STRING'): BitString {
  if (v.length === 0) fail(what, 'empty BIT STRING');
  const unusedBits = v[0]!;
  if (unusedBits > 7 || (v.length === 1 && unusedBits !== 0)) fail(what, `bad unused-bit count ${unusedBits}`);
  if (unusedBits && v[v.length - 1]! & ((1 << unusedBits) - 1)) fail(what, 'unused bits not zero');
  return { bytes: v.subarray(1), unusedBits };
}

export function decodeBoolean(v: Uint8Array, what = 'BOOLEAN'): boolean {
  if (v.length !== 1 || (v[0] !== 0x00 && v[0] !== 0xff)) fail(what, 'BOOLEAN must be one octet, 0x00 or 0xff');
  return v[0] === 0xff;
}

export function decodeNull(v: Uint8Array, what = 'NULL'): null {
  if (v.length !== 0) fail(what, 'NULL with contents');
  return null;
}

const daysIn = (y: number, m: number) => new Date(Date.UTC(y, m, 0)).getUTCDate();

function timeFromParts(what: string, y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): number {
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || s > 59) fail(what, 'time out of range');
  const t = new Date(0);
  t.setUTCFullYear(y, mo - 1, d); // setUTCFullYear, unlike Date.UTC, does not remap years 0-99
  t.setUTCHours(h, mi, s, ms);
  return t.getTime();
}

/** UTCTime in its DER form YYMMDDHHMMSSZ, as ms since the epoch (RFC 5280: YY < 50 is 20YY). */
export function decodeUtcTime(v: Uint8Array, what = 'UTCTime'): number {
  const m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(ascii(v, what));
  if (!m) fail(what, 'UTCTime not in YYMMDDHHMMSSZ form');
  const yy = Number(m[1]);
  return timeFromParts(what, yy < 50 ? 2000 + yy : 1900 + yy, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!, 0);
}

/** GeneralizedTime in its DER form YYYYMMDDHHMMSS[.f]Z (fraction without trailing zeros). */
export function decodeGeneralizedTime(v: Uint8Array, what = 'GeneralizedTime'): number {
  const m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.(\d*[1-9]))?Z$/.exec(ascii(v, what));
  if (!m) fail(what, 'GeneralizedTime not in YYYYMMDDHHMMSS[.f]Z form');
  // Milliseconds from the digits themselves: float arithmetic could turn .123 into 122.99...
  const ms = m[7] ? Number(m[7].padEnd(3, '0').slice(0, 3)) : 0;
  return timeFromParts(what, +m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!, ms);
}

function ascii(v: Uint8Array, what: string): string {
  let s = '';
  for (const b of v) {
    if (b > 0x7e || b < 0x20) fail(what, 'non-printable character');
    s += String.fromCharCode(b);
  }
  return s;
}

// A loop rather than String.fromCharCode(...v): spreading a huge hostile value would blow the stack.
function latin1(v: Uint8Array): string {
  let s = '';
  for (const b of v) s += String.fromCharCode(b);
  return s;
}

function checkedAscii(v: Uint8Array, what: string, ok: (c: number) => boolean): string {
  for (const b of v) if (!ok(b)) fail(what, `character 0x${b.toString(16)} not allowed`);
  return latin1(v);
}

const isPrintable = (c: number) =>
  (c >= 0x41 && c <= 0x5a) ||
  (c >= 0x61 && c <= 0x7a) ||
  (c >= 0x30 && c <= 0x39) ||
  // The PrintableString set, plus '*' and '&' that real CAs have put into names.
  " '()+,-./:=?*&".includes(String.fromCharCode(c));

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function codePointsToString(points: number[], what: string): string {
  let s = '';
  for (const p of points) {
    if (p > 0x10ffff || (p >= 0xd800 && p <= 0xdfff)) fail(what, 'invalid code point');
    s += String.fromCodePoint(p);
  }
  return s;
}

/** Decoders for the string types that appear in names and GeneralNames, keyed by tag. */
const stringDecoders: Record<number, (v: Uint8Array, what: string) => string> = {
  [Tag.UTF8String]: (v, what) => {
    try {
      return utf8Decoder.decode(v);
    } catch {
      return fail(what, 'invalid UTF-8');
    }
  },
  [Tag.PrintableString]: (v, what) => checkedAscii(v, what, isPrintable),
  [Tag.IA5String]: (v, what) => checkedAscii(v, what, (c) => c < 0x80),
  [Tag.NumericString]: (v, what) => checkedAscii(v, what, (c) => c === 0x20 || (c >= 0x30 && c <= 0x39)),
  [Tag.VisibleString]: (v, what) => checkedAscii(v, what, (c) => c >= 0x20 && c <= 0x7e),
  // TeletexString is in practice Latin-1.
  [Tag.T61String]: (v) => latin1(v),
  [Tag.BMPString]: (v, what) => {
    if (v.length % 2) fail(what, 'odd-length BMPString');
    const units: number[] = [];
    for (let i = 0; i < v.length; i += 2) units.push((v[i]! << 8) | v[i + 1]!);
    return codePointsToString(units, what);
  },
  [Tag.UniversalString]: (v, what) => {
    if (v.length % 4) fail(what, 'UniversalString length not a multiple of 4');
    const points: number[] = [];
    for (let i = 0; i < v.length; i += 4) points.push(((v[i]! << 24) >>> 0) + ((v[i + 1]! << 16) | (v[i + 2]! << 8) | v[i + 3]!));
    return codePointsToString(points, what);
  },
};

export function isStringTag(tag: number): boolean {
  return tag in stringDecoders;
}

/** Decode any of the ASN.1 string types by its universal tag. */
export function decodeString(tag: number, v: Uint8Array, what = 'string'): string {
  const dec = stringDecoders[tag];
  if (!dec) fail(what, `tag 0x${tag.toString(16)} is not a string type`);
  return dec(v, what);
}

// ---- the reader ----

/** Reads the successive values inside one buffer (or one constructed value). */
export class DerReader {
  private pos = 0;
  readonly buf: Uint8Array;

  constructor(source: Uint8Array | DerNode, readonly what = 'DER') {
    if (source instanceof Uint8Array) {
      this.buf = source;
    } else {
      if (!source.constructed) fail(what, 'expected a constructed value');
      this.buf = source.value;
    }
  }

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  /** The value at `aheadAt` and the offset after it: decoded once however often it is peeked at. */
  private aheadAt = -1;
  private ahead: { node: DerNode; next: number } | undefined;

  private lookahead(): { node: DerNode; next: number } | undefined {
    if (this.done) return undefined;
    if (this.aheadAt !== this.pos) {
      this.ahead = readNode(this.buf, this.pos, this.what);
      this.aheadAt = this.pos;
    }
    return this.ahead;
  }

  peek(): DerNode | undefined {
    return this.lookahead()?.node;
  }

  /** True when the next value has the given tag. */
  isNext(tag: TagSpec): boolean {
    const n = this.peek();
    return n !== undefined && tagMatches(n, tag);
  }

  /** The next value, whatever its tag. */
  any(): DerNode {
    const n = this.lookahead();
    if (!n) return fail(this.what, 'missing value');
    this.pos = n.next;
    return n.node;
  }

  /** The next value, which must have the given tag. */
  read(tag: TagSpec, label?: string): DerNode {
    const n = this.peek();
    if (!n) fail(this.what, `missing ${label ?? tagName(tag)}`);
    if (!tagMatches(n, tag)) fail(this.what, `expected ${label ?? tagName(tag)}, got tag ${tagName(n.tag)}`);
    return this.any();
  }

  /** The next value if it has the given tag (OPTIONAL and DEFAULT fields). */
  optional(tag: TagSpec): DerNode | undefined {
    return this.isNext(tag) ? this.any() : undefined;
  }

  /** Every value must have been read. */
  end(): void {
    if (!this.done) fail(this.what, `${this.buf.length - this.pos} unexpected trailing bytes`);
  }

  sequence(what = this.what, tag: TagSpec = Tag.SEQUENCE): DerReader {
    return new DerReader(this.read(tag, 'SEQUENCE'), what);
  }
  set(what = this.what, tag: TagSpec = Tag.SET): DerReader {
    return new DerReader(this.read(tag, 'SET'), what);
  }
  /** The contents of an EXPLICIT [n] tag if present: a reader that must hold one value. */
  explicit(n: number, what = this.what): DerReader | undefined {
    const node = this.optional(contextTag(n, true));
    return node && new DerReader(node, what);
  }

  integer(tag: TagSpec = Tag.INTEGER): bigint {
    return decodeInteger(this.read(tag, 'INTEGER').value, this.what);
  }
  /** An INTEGER that must fit comfortably in a JS number (versions, path lengths, salt lengths). */
  smallInteger(tag: TagSpec = Tag.INTEGER): number {
    const n = this.integer(tag);
    if (n < -(2n ** 31n) || n >= 2n ** 31n) fail(this.what, 'INTEGER out of range');
    return Number(n);
  }
  unsignedBytes(tag: TagSpec = Tag.INTEGER): Uint8Array {
    return decodeUnsigned(this.read(tag, 'INTEGER').value, this.what);
  }
  oid(tag: TagSpec = Tag.OID): string {
    return decodeOid(this.read(tag, 'OBJECT IDENTIFIER').value, this.what);
  }
  bitString(tag: TagSpec = Tag.BIT_STRING): BitString {
    return decodeBitString(this.read(tag, 'BIT STRING').value, this.what);
  }
  /** A BIT STRING that carries whole octets (keys, signatures). */
  bitStringBytes(tag: TagSpec = Tag.BIT_STRING): Uint8Array {
    const b = this.bitString(tag);
    if (b.unusedBits !== 0) fail(this.what, 'BIT STRING is not octet-aligned');
    return b.bytes;
  }
  octetString(tag: TagSpec = Tag.OCTET_STRING): Uint8Array {
    return this.read(tag, 'OCTET STRING').value;
  }
  null(tag: TagSpec = Tag.NULL): null {
    return decodeNull(this.read(tag, 'NULL').value, this.what);
  }
  boolean(tag: TagSpec = Tag.BOOLEAN): boolean {
    return decodeBoolean(this.read(tag, 'BOOLEAN').value, this.what);
  }
  /** UTCTime or GeneralizedTime (X.509 Time), as ms since the epoch. */
  time(): number {
    const n = this.any();
    if (n.tag === Tag.UTCTime) return decodeUtcTime(n.value, this.what);
    if (n.tag === Tag.GeneralizedTime) return decodeGeneralizedTime(n.value, this.what);
    return fail(this.what, `expected a time, got tag ${tagName(n.tag)}`);
  }
  /** Any of the string types (DirectoryString and friends). */
  string(): string {
    const n = this.any();
    return decodeString(n.tag, n.value, this.what);
  }
}

// ---- encoders (minimal DER; used for ECDSA signatures and tests) ----

function encodeLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** One TLV with a low-number identifier octet. */
export function encodeDer(tag: number, content: Uint8Array): Uint8Array {
  const len = encodeLength(content.length);
  const out = new Uint8Array(1 + len.length + content.length);
  out[0] = tag;
  out.set(len, 1);
  out.set(content, 1 + len.length);
  return out;
}

export function encodeSequence(...items: Uint8Array[]): Uint8Array {
  return encodeDer(Tag.SEQUENCE, concat(...items));
}

/** A non-negative INTEGER from its magnitude (big-endian bytes or bigint). */
export function encodeUnsigned(value: Uint8Array | bigint): Uint8Array {
  let bytes: Uint8Array;
  if (typeof value === 'bigint') {
    if (value < 0n) throw new RangeError('encodeUnsigned: negative value');
    let hex = value.toString(16);
    if (hex.length % 2) hex = '0' + hex;
    bytes = new Uint8Array(hex.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  } else {
    let i = 0;
    while (i < value.length - 1 && value[i] === 0) i++;
    bytes = value.length === 0 ? new Uint8Array(1) : value.subarray(i);
  }
  if (bytes[0]! & 0x80) {
    const padded = new Uint8Array(bytes.length + 1);
    padded.set(bytes, 1);
    bytes = padded;
  }
  return encodeDer(Tag.INTEGER, bytes);
}

/** An OBJECT IDENTIFIER from its dotted form. */
export function encodeOid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map((a) => BigInt(a));
  if (arcs.length < 2) throw new RangeError(`encodeOid: ${dotted}`);
  const bytes: number[] = [];
  const push = (v: bigint) => {
    const groups: number[] = [Number(v & 0x7fn)];
    for (v >>= 7n; v > 0n; v >>= 7n) groups.unshift(Number(v & 0x7fn) | 0x80);
    bytes.push(...groups);
  };
  push(arcs[0]! * 40n + arcs[1]!);
  for (const arc of arcs.slice(2)) push(arc);
  return encodeDer(Tag.OID, Uint8Array.from(bytes));
}
