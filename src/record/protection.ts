/**
 * Record protection: how one direction of one epoch turns a fragment into the bytes of a
 * record and back. The record layer swaps these objects on every key change; the
 * handshake never touches sequence numbers or nonces itself.
 */
import type { Aead, CryptoProvider, AeadName } from '../crypto/provider.js';
import { TLSError } from '../errors.js';
import { ContentType } from '../messages/constants.js';
import { concat, wipe } from '../util/bytes.js';

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
  /** Decrypt one record's payload; `header` is its 5 header bytes. Throws bad_record_mac. */
  open(header: Uint8Array, payload: Uint8Array): Opened;
  /** Forget keys. */
  destroy(): void;
}

export function recordHeader(type: number, version: number, length: number): Uint8Array {
  return new Uint8Array([type, version >>> 8, version & 0xff, length >>> 8, length & 0xff]);
}

/** Epoch 0: records in the clear. */
export class NullProtection implements RecordProtection {
  readonly encrypted = false;
  constructor(private readonly version = 0x0303) {}
  seal(type: number, data: Uint8Array): Uint8Array {
    const out = new Uint8Array(5 + data.length);
    out.set(recordHeader(type, this.version, data.length));
    out.set(data, 5);
    return out;
  }
  open(header: Uint8Array, payload: Uint8Array): Opened {
    return { type: header[0]!, data: payload };
  }
  destroy(): void {}
}

/** Per-record nonce: the 64-bit sequence number, left-padded, XORed into the IV (RFC 8446 5.3). */
export function xorNonce(iv: Uint8Array, seq: number, out: Uint8Array): Uint8Array {
  out.set(iv);
  let s = seq;
  for (let i = out.length - 1; i >= out.length - 8 && s > 0; i--) {
    out[i]! ^= s & 0xff;
    s = Math.floor(s / 256);
  }
  return out;
}

/** TLS 1.3 AEAD protection: TLSInnerPlaintext with the real content type inside (RFC 8446 5.2). */
export class Tls13Protection implements RecordProtection {
  readonly encrypted = true;
  private seq = 0;
  private readonly aead: Aead;
  private readonly nonce = new Uint8Array(12);

  constructor(
    provider: CryptoProvider,
    aeadName: AeadName,
    private readonly key: Uint8Array,
    private readonly iv: Uint8Array,
    /** Zero bytes of padding to add to every record (RFC 8446 5.4); 0 by default. */
    private readonly padding = 0,
  ) {
    this.aead = provider.aead(aeadName, key);
  }

  private nextNonce(): Uint8Array {
    // 2^53 records per key is far beyond any AEAD's safe limit; KeyUpdate comes first.
    return xorNonce(this.iv, this.seq++, this.nonce);
  }

  seal(type: number, data: Uint8Array): Uint8Array {
    const inner = new Uint8Array(data.length + 1 + this.padding);
    inner.set(data);
    inner[data.length] = type;
    const length = inner.length + this.aead.tagLength;
    const header = recordHeader(ContentType.application_data, 0x0303, length);
    const sealed = this.aead.seal(this.nextNonce(), inner, header);
    const out = new Uint8Array(5 + sealed.length);
    out.set(header);
    out.set(sealed, 5);
    return out;
  }

  open(header: Uint8Array, payload: Uint8Array): Opened {
    if (header[0] !== ContentType.application_data) {
      throw new TLSError('unexpected_message', `record of type ${header[0]} where a protected record was expected`);
    }
    if (payload.length > MAX_FRAGMENT + MAX_CIPHERTEXT_EXPANSION) throw new TLSError('record_overflow', 'protected record too long');
    const inner = this.aead.open(this.nextNonce(), payload, header);
    if (!inner) throw new TLSError('bad_record_mac', 'record authentication failed');
    let end = inner.length - 1;
    while (end >= 0 && inner[end] === 0) end--;
    if (end < 0) throw new TLSError('unexpected_message', 'protected record has no content type');
    if (end > MAX_FRAGMENT) throw new TLSError('record_overflow', 'decrypted record too long');
    return { type: inner[end]!, data: inner.subarray(0, end) };
  }

  destroy(): void {
    wipe(this.key, this.iv);
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
  private readonly aead: Aead;
  private readonly explicitNonce: boolean;

  constructor(
    provider: CryptoProvider,
    aeadName: AeadName,
    private readonly key: Uint8Array,
    private readonly iv: Uint8Array,
    private readonly version = 0x0303,
  ) {
    this.aead = provider.aead(aeadName, key);
    this.explicitNonce = aeadName !== 'CHACHA20-POLY1305';
  }

  private additionalData(seq: number, type: number, length: number): Uint8Array {
    const aad = new Uint8Array(13);
    writeSeq(aad, seq);
    aad[8] = type;
    aad[9] = this.version >>> 8;
    aad[10] = this.version & 0xff;
    aad[11] = length >>> 8;
    aad[12] = length & 0xff;
    return aad;
  }

  private nonceFor(seq: number, explicit: Uint8Array | undefined): Uint8Array {
    if (!this.explicitNonce) return xorNonce(this.iv, seq, new Uint8Array(12));
    const nonce = new Uint8Array(12);
    nonce.set(this.iv.subarray(0, 4));
    nonce.set(explicit!, 4);
    return nonce;
  }

  seal(type: number, data: Uint8Array): Uint8Array {
    const seq = this.seq++;
    const explicit = this.explicitNonce ? seqBytes(seq) : undefined;
    const sealed = this.aead.seal(this.nonceFor(seq, explicit), data, this.additionalData(seq, type, data.length));
    const body = explicit ? concat(explicit, sealed) : sealed;
    const out = new Uint8Array(5 + body.length);
    out.set(recordHeader(type, this.version, body.length));
    out.set(body, 5);
    return out;
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

function writeSeq(out: Uint8Array, seq: number): void {
  let s = seq;
  for (let i = 7; i >= 0; i--) {
    out[i] = s & 0xff;
    s = Math.floor(s / 256);
  }
}

function seqBytes(seq: number): Uint8Array {
  const b = new Uint8Array(8);
  writeSeq(b, seq);
  return b;
}

