/**
 * Record protection: how one direction of one epoch turns a fragment into the bytes of a
 * record and back. The record layer swaps these objects on every key change; the
 * handshake never touches sequence numbers or nonces itself.
 */
import type { Aead, CryptoProvider, AeadName } from '../crypto/provider.js';
import { Aead12, fastSealer, nonceScratch, tlsSequenceHigh, writeSequence, xorSequence, type AeadSealTo } from './aead-nonce.js';

/** The AEAD fast path providers may offer (crypto/node.ts does). */
export type { AeadSealTo } from './aead-nonce.js';
import { TLSError } from '../errors.js';
import { ContentType } from '../messages/constants.js';

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

function word(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

/** TLS 1.3 AEAD protection: TLSInnerPlaintext with the real content type inside (RFC 8446 5.2). */
export class Tls13Protection implements RecordProtection {
  /** Records sealed (a protection is used for one direction only: seq or readSeq moves). */
  private seq = 0;
  private readSeq = 0;
  private readonly aead: Aead;
  private readonly fast: (Aead & AeadSealTo) | undefined;
  /**
   * The 12-byte IV as three big-endian 32-bit words: numbers in the object itself, not an
   * array of their own (bench/idle-bytes-ab.ts: 73 bytes held against 248 for a Uint8Array
   * copy, some 700 bytes or 7% of an idle connection pair's four directions; the core has
   * no pooled Buffer to put it in). The key is kept by the AEAD alone (providers copy it),
   * so this keeps no copy of it; the caller wipes its own.
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
    this.fast = fastSealer(this.aead);
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
    const nonce = nonceScratch();
    writeSequence(nonce, 0, this.iv0, this.iv1);
    writeSequence(nonce, 4, this.iv1, this.iv2);
    return xorSequence(nonce, tlsSequenceHigh(seq), seq >>> 0);
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
      this.fast.sealTo(nonce, header, data, trailer, out, offset + 5);
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
 * TLS 1.2 AEAD protection (RFC 5246 6.2.3.3): AES-GCM and AES-CCM with an explicit nonce,
 * ChaCha20-Poly1305 with an XOR nonce; the arithmetic is aead-nonce.ts's Aead12, shared
 * with DTLS 1.2, fed with the record sequence number.
 */
export class Tls12AeadProtection implements RecordProtection {
  readonly encrypted = true;
  private seq = 0;
  private readonly aead: Aead12;

  get sealedRecords(): number {
    return this.seq;
  }

  constructor(
    provider: CryptoProvider,
    aeadName: AeadName,
    key: Uint8Array,
    iv: Uint8Array,
    private readonly version = 0x0303,
  ) {
    this.aead = new Aead12(provider, aeadName, key, iv);
  }

  seal(type: number, data: Uint8Array): Uint8Array {
    const out = new Uint8Array(this.sealedLength(data.length));
    this.sealInto(type, data, out, 0);
    return out;
  }

  sealedLength(length: number): number {
    return 5 + this.aead.expansion + length;
  }

  sealInto(type: number, data: Uint8Array, out: Uint8Array, offset: number): number {
    const seq = this.seq++;
    const bodyLength = this.aead.expansion + data.length;
    writeHeader(out, offset, type, this.version, bodyLength);
    this.aead.sealInto(tlsSequenceHigh(seq), seq >>> 0, type, this.version, data, out, offset + 5);
    return 5 + bodyLength;
  }

  open(header: Uint8Array, payload: Uint8Array): Opened {
    const type = header[0];
    if (payload.length < this.aead.expansion) throw new TLSError('bad_record_mac', 'protected record too short');
    if (payload.length > MAX_FRAGMENT + 2048) throw new TLSError('record_overflow', 'protected record too long');
    const seq = this.seq++;
    const data = this.aead.open(tlsSequenceHigh(seq), seq >>> 0, type, this.version, payload);
    if (!data) throw new TLSError('bad_record_mac', 'record authentication failed');
    if (data.length > MAX_FRAGMENT) throw new TLSError('record_overflow', 'decrypted record too long');
    return { type, data };
  }

  destroy(): void {
    this.aead.destroy();
  }
}
