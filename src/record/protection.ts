/**
 * Record protection: how one direction of one epoch turns a fragment into the bytes of a
 * record and back. The record layer swaps these objects on every key change; the
 * handshake never touches sequence numbers or nonces itself.
 */
import type { Aead, CryptoProvider, AeadName } from '../crypto/provider.js';
import { TLSError } from '../errors.js';
import { ContentType } from '../messages/constants.js';
import { wipe } from '../util/bytes.js';

/** Largest TLSPlaintext.fragment (RFC 8446 5.1) and the expansion a protected record may add. */
export const MAX_FRAGMENT = 2 ** 14;
export const MAX_CIPHERTEXT_EXPANSION = 256;

export interface Opened {
  type: number;
  data: Uint8Array;
}

export interface RecordProtection {
  /** True once records are encrypted in this direction. */
  readonly encrypted: boolean;
  /** Encrypt `data` of content `type` into a whole record (header included). */
  seal(type: number, data: Uint8Array): Uint8Array;
  /** The size of the whole record (header included) `seal` makes of `length` bytes of data. */
  sealedLength(length: number): number;
  /** `seal`, written into `out` at `offset` (which must have `sealedLength` bytes of room); returns the bytes written. */
  sealInto(type: number, data: Uint8Array, out: Uint8Array, offset: number): number;
  /**
   * Decrypt one record's payload; `header` is its 5 header bytes. Throws bad_record_mac.
   * `header` and `payload` may be views of a buffer that is reused once this returns: the
   * result must not share their memory (decryption makes new bytes anyway).
   */
  open(header: Uint8Array, payload: Uint8Array): Opened;
  /** Records sealed so far under this key (the AEAD usage limits count these). */
  readonly sealedRecords: number;
  /** Forget keys. */
  destroy(): void;
}

/**
 * What an Aead may offer besides the CryptoProvider interface, for the record layer's
 * sake (the node provider does): seal `data || trailer` with `aad` straight into `out`
 * at `offset` as ciphertext || tag, without building the plaintext or the result in
 * buffers of their own. Exactly `data.length + trailer.length + tagLength` bytes are
 * written. `aad` may be a view of `out` (the record header), before `offset`.
 */
export interface AeadSealTo {
  sealTo(nonce: Uint8Array, aad: Uint8Array, data: Uint8Array, trailer: Uint8Array, out: Uint8Array, offset: number): void;
}

function hasSealTo(aead: Aead): aead is Aead & AeadSealTo {
  return typeof (aead as Partial<AeadSealTo>).sealTo === 'function';
}

/**
 * Scratch shared by every protection: the per-record nonce (and TLS 1.2 additional data)
 * are built here and consumed by the AEAD call that follows, synchronously, so no two
 * uses overlap; a connection at rest then keeps no buffers of its own for them.
 */
const scratchNonce = new Uint8Array(12);
const scratchAad = new Uint8Array(13);
/** TLS 1.3's inner content type, without padding. */
const TYPE_BYTE = new Uint8Array(1);

export function recordHeader(type: number, version: number, length: number): Uint8Array {
  const h = new Uint8Array(5);
  writeHeader(h, 0, type, version, length);
  return h;
}

function writeHeader(out: Uint8Array, at: number, type: number, version: number, length: number): void {
  out[at] = type;
  out[at + 1] = version >>> 8;
  out[at + 2] = version & 0xff;
  out[at + 3] = length >>> 8;
  out[at + 4] = length & 0xff;
}

/** Epoch 0: records in the clear. */
export class NullProtection implements RecordProtection {
  readonly encrypted = false;
  readonly sealedRecords = 0;
  constructor(private readonly version = 0x0303) {}
  seal(type: number, data: Uint8Array): Uint8Array {
    const out = new Uint8Array(5 + data.length);
    this.sealInto(type, data, out, 0);
    return out;
  }
  sealedLength(length: number): number {
    return 5 + length;
  }
  sealInto(type: number, data: Uint8Array, out: Uint8Array, offset: number): number {
    writeHeader(out, offset, type, this.version, data.length);
    out.set(data, offset + 5);
    return 5 + data.length;
  }
  open(header: Uint8Array, payload: Uint8Array): Opened {
    return { type: header[0]!, data: payload };
  }
  destroy(): void {}
}

/** Per-record nonce: the 64-bit sequence number, left-padded, XORed into the IV (RFC 8446 5.3). */
export function xorNonce(iv: Uint8Array, seq: number, out: Uint8Array): Uint8Array {
  out.set(iv);
  return xorSeq(out, seq);
}

function word(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) | 0;
}

function putWord(b: Uint8Array, at: number, w: number): void {
  b[at] = w >>> 24;
  b[at + 1] = (w >>> 16) & 0xff;
  b[at + 2] = (w >>> 8) & 0xff;
  b[at + 3] = w & 0xff;
}

/** XOR the 64-bit sequence number into the last 8 bytes of `nonce` (which holds the IV). */
function xorSeq(nonce: Uint8Array, seq: number): Uint8Array {
  let s = seq;
  for (let i = nonce.length - 1; i >= nonce.length - 8 && s > 0; i--) {
    nonce[i]! ^= s & 0xff;
    s = Math.floor(s / 256);
  }
  return nonce;
}

/** TLS 1.3 AEAD protection: TLSInnerPlaintext with the real content type inside (RFC 8446 5.2). */
export class Tls13Protection implements RecordProtection {
  /** Records sealed (a protection is used for one direction only: seq or readSeq moves). */
  private seq = 0;
  private readSeq = 0;
  private readonly aead: Aead;
  private readonly fast: boolean;
  /**
   * The 12-byte IV as three big-endian 32-bit words: numbers in the object itself, not an
   * array of their own. The key is kept by the AEAD alone (providers copy it), so this
   * keeps no copy of it; the caller wipes its own.
   */
  private iv0: number;
  private iv1: number;
  private iv2: number;
  /** The content type byte and the padding after it (the type is rewritten per record). */
  private readonly trailer: Uint8Array | undefined;

  constructor(
    provider: CryptoProvider,
    aeadName: AeadName,
    key: Uint8Array,
    iv: Uint8Array,
    /** Zero bytes of padding to add to every record (RFC 8446 5.4); 0 by default. */
    private readonly padding = 0,
  ) {
    if (iv.length !== 12) throw new Error('TLS 1.3 record protection needs a 12-byte IV');
    this.iv0 = word(iv, 0);
    this.iv1 = word(iv, 4);
    this.iv2 = word(iv, 8);
    this.aead = provider.aead(aeadName, key);
    this.fast = hasSealTo(this.aead);
    this.trailer = padding > 0 ? new Uint8Array(1 + padding) : undefined;
  }

  get encrypted(): boolean {
    return true;
  }

  get sealedRecords(): number {
    return this.seq;
  }

  /** The nonce for sequence number `seq`; 2^53 is beyond any AEAD's limit (KeyUpdate comes first). */
  private nonceAt(seq: number): Uint8Array {
    const nonce = scratchNonce;
    putWord(nonce, 0, this.iv0);
    putWord(nonce, 4, this.iv1);
    putWord(nonce, 8, this.iv2);
    return xorSeq(nonce, seq);
  }

  seal(type: number, data: Uint8Array): Uint8Array {
    const out = new Uint8Array(this.sealedLength(data.length));
    this.sealInto(type, data, out, 0);
    return out;
  }

  sealedLength(length: number): number {
    return 5 + length + 1 + this.padding + this.aead.tagLength;
  }

  sealInto(type: number, data: Uint8Array, out: Uint8Array, offset: number): number {
    const innerLength = data.length + 1 + this.padding;
    const length = innerLength + this.aead.tagLength;
    writeHeader(out, offset, ContentType.application_data, 0x0303, length);
    const header = out.subarray(offset, offset + 5);
    const nonce = this.nonceAt(this.seq++);
    if (this.fast) {
      const trailer = this.trailer ?? TYPE_BYTE;
      trailer[0] = type;
      (this.aead as Aead & AeadSealTo).sealTo(nonce, header, data, trailer, out, offset + 5);
    } else {
      const inner = new Uint8Array(innerLength);
      inner.set(data);
      inner[data.length] = type;
      const sealed = this.aead.seal(nonce, inner, header);
      if (sealed.length !== length) throw new Error('AEAD output has an unexpected length');
      out.set(sealed, offset + 5);
    }
    return 5 + length;
  }

  open(header: Uint8Array, payload: Uint8Array): Opened {
    if (header[0] !== ContentType.application_data) {
      throw new TLSError('unexpected_message', `record of type ${header[0]} where a protected record was expected`);
    }
    if (payload.length > MAX_FRAGMENT + MAX_CIPHERTEXT_EXPANSION) throw new TLSError('record_overflow', 'protected record too long');
    // The sequence number moves on only for a record that opened: a record skipped as
    // undecryptable early data (RFC 8446 4.2.10) leaves the next one at the same number.
    const inner = this.aead.open(this.nonceAt(this.readSeq), payload, header);
    if (!inner) throw new TLSError('bad_record_mac', 'record authentication failed');
    this.readSeq++;
    // RFC 8446 5.4: content, type and padding together at most 2^14 + 1 bytes.
    if (inner.length > MAX_FRAGMENT + 1) throw new TLSError('record_overflow', `TLSInnerPlaintext of ${inner.length} bytes exceeds 2^14 + 1`);
    let end = inner.length - 1;
    while (end >= 0 && inner[end] === 0) end--;
    if (end < 0) throw new TLSError('unexpected_message', 'protected record has no content type');
    return { type: inner[end]!, data: inner.subarray(0, end) };
  }

  destroy(): void {
    this.iv0 = this.iv1 = this.iv2 = 0;
  }
}

/**
 * TLS 1.2 AEAD protection. AES-GCM (RFC 5288) carries an 8-byte explicit nonce (we send
 * the sequence number) after a 4-byte implicit salt; ChaCha20-Poly1305 (RFC 7905) XORs
 * the sequence number into a 12-byte IV like TLS 1.3. The additional data is
 * seq_num + type + version + plaintext length (RFC 5246 6.2.3.3).
 */
export class Tls12AeadProtection implements RecordProtection {
  readonly encrypted = true;
  private seq = 0;
  get sealedRecords(): number {
    return this.seq;
  }
  private readonly aead: Aead;
  private readonly fast: boolean;
  private readonly explicitNonce: boolean;

  constructor(
    provider: CryptoProvider,
    aeadName: AeadName,
    private readonly key: Uint8Array,
    private readonly iv: Uint8Array,
    private readonly version = 0x0303,
  ) {
    this.aead = provider.aead(aeadName, key);
    this.fast = hasSealTo(this.aead);
    this.explicitNonce = aeadName !== 'CHACHA20-POLY1305';
  }

  private additionalData(seq: number, type: number, length: number): Uint8Array {
    const aad = scratchAad;
    writeSeq(aad, 0, seq);
    aad[8] = type;
    aad[9] = this.version >>> 8;
    aad[10] = this.version & 0xff;
    aad[11] = length >>> 8;
    aad[12] = length & 0xff;
    return aad;
  }

  /** The nonce for `seq`; with an explicit nonce, its 8 bytes are `explicit` (the sequence number we send, or the peer's). */
  private nonceFor(seq: number, explicit: Uint8Array | undefined): Uint8Array {
    if (!this.explicitNonce) return xorNonce(this.iv, seq, scratchNonce);
    const nonce = scratchNonce;
    nonce.set(this.iv.subarray(0, 4));
    if (explicit) nonce.set(explicit, 4);
    else writeSeq(nonce, 4, seq);
    return nonce;
  }

  seal(type: number, data: Uint8Array): Uint8Array {
    const out = new Uint8Array(this.sealedLength(data.length));
    this.sealInto(type, data, out, 0);
    return out;
  }

  sealedLength(length: number): number {
    return 5 + (this.explicitNonce ? 8 : 0) + length + this.aead.tagLength;
  }

  sealInto(type: number, data: Uint8Array, out: Uint8Array, offset: number): number {
    const seq = this.seq++;
    const explicitLength = this.explicitNonce ? 8 : 0;
    const bodyLength = explicitLength + data.length + this.aead.tagLength;
    writeHeader(out, offset, type, this.version, bodyLength);
    if (explicitLength) writeSeq(out, offset + 5, seq);
    const nonce = this.nonceFor(seq, undefined);
    const aad = this.additionalData(seq, type, data.length);
    const at = offset + 5 + explicitLength;
    if (this.fast) {
      (this.aead as Aead & AeadSealTo).sealTo(nonce, aad, data, EMPTY, out, at);
    } else {
      const sealed = this.aead.seal(nonce, data, aad);
      if (sealed.length !== data.length + this.aead.tagLength) throw new Error('AEAD output has an unexpected length');
      out.set(sealed, at);
    }
    return 5 + bodyLength;
  }

  open(header: Uint8Array, payload: Uint8Array): Opened {
    const type = header[0]!;
    const explicitLength = this.explicitNonce ? 8 : 0;
    if (payload.length < explicitLength + this.aead.tagLength) throw new TLSError('bad_record_mac', 'protected record too short');
    if (payload.length > MAX_FRAGMENT + 2048) throw new TLSError('record_overflow', 'protected record too long');
    const seq = this.seq++;
    const explicit = this.explicitNonce ? payload.subarray(0, 8) : undefined;
    const ciphertext = payload.subarray(explicitLength);
    const plainLength = ciphertext.length - this.aead.tagLength;
    const data = this.aead.open(this.nonceFor(seq, explicit), ciphertext, this.additionalData(seq, type, plainLength));
    if (!data) throw new TLSError('bad_record_mac', 'record authentication failed');
    if (data.length > MAX_FRAGMENT) throw new TLSError('record_overflow', 'decrypted record too long');
    return { type, data };
  }

  destroy(): void {
    wipe(this.key, this.iv);
  }
}

const EMPTY = new Uint8Array(0);

function writeSeq(out: Uint8Array, at: number, seq: number): void {
  let s = seq;
  for (let i = at + 7; i >= at; i--) {
    out[i] = s & 0xff;
    s = Math.floor(s / 256);
  }
}
