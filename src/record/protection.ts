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
