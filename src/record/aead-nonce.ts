/**
 * Per-record nonces and additional data, one path for TLS and DTLS.
 *
 * Every AEAD record protection here derives its nonce from a 64-bit sequence field:
 * TLS's record sequence number (RFC 8446 5.3, RFC 5246 6.2.3.3), or DTLS 1.2's epoch and
 * sequence number side by side (RFC 6347 4.1.2.1), which fill the same eight bytes. The
 * field is passed as two unsigned 32-bit halves, so no value is rounded and nothing is
 * allocated per record: nonces and additional data are built in scratch buffers shared by
 * every protection, each consumed by the AEAD call that follows it, synchronously.
 *
 *   - XOR nonce (TLS 1.3, and ChaCha20-Poly1305 in TLS/DTLS 1.2, RFC 7905): the 12-byte
 *     IV with the sequence field XORed into its last eight bytes.
 *   - Explicit nonce (AES-GCM RFC 5288, AES-CCM RFC 6655/7251 in TLS/DTLS 1.2): the 4-byte
 *     implicit salt, then the 8-byte explicit part the record carries (we send the sequence
 *     field; on receipt the record's own bytes are used, RFC 5288 3).
 *   - TLS/DTLS 1.2 additional data: sequence field + type + version + plaintext length.
 */
import type { Aead, AeadName, CryptoProvider } from '../crypto/provider.js';
import { TLSError } from '../errors.js';

const scratchNonce = new Uint8Array(12);
const scratchAad = new Uint8Array(13);

/** The sequence field of a TLS record: its 64-bit sequence number (2^53 records per key is beyond any AEAD's limit). */
export function tlsSequenceHigh(seq: number): number {
  return Math.floor(seq / 2 ** 32) >>> 0;
}

/** The sequence field of a DTLS 1.2 record: epoch (16 bits) then sequence_number (48 bits). */
export function dtlsSequenceHigh(epoch: number, seq: number): number {
  return ((epoch << 16) | Math.floor(seq / 2 ** 32)) >>> 0;
}

function putWord(out: Uint8Array, at: number, w: number): void {
  out[at] = w >>> 24;
  out[at + 1] = (w >>> 16) & 0xff;
  out[at + 2] = (w >>> 8) & 0xff;
  out[at + 3] = w & 0xff;
}

/** Write the 8-byte sequence field at `at`. */
export function writeSequence(out: Uint8Array, at: number, high: number, low: number): void {
  putWord(out, at, high);
  putWord(out, at + 4, low);
}

/** IV XOR sequence field (RFC 8446 5.3), in the shared scratch nonce. */
export function xorNonce(iv: Uint8Array, high: number, low: number): Uint8Array {
  scratchNonce.set(iv);
  return xorSequence(scratchNonce, high, low);
}

/** XOR the sequence field into the last eight bytes of the 12-byte `nonce`, which holds the IV. */
export function xorSequence(nonce: Uint8Array, high: number, low: number): Uint8Array {
  nonce[4] ^= high >>> 24;
  nonce[5] ^= (high >>> 16) & 0xff;
  nonce[6] ^= (high >>> 8) & 0xff;
  nonce[7] ^= high & 0xff;
  nonce[8] ^= low >>> 24;
  nonce[9] ^= (low >>> 16) & 0xff;
  nonce[10] ^= (low >>> 8) & 0xff;
  nonce[11] ^= low & 0xff;
  return nonce;
}

/** The shared scratch nonce, for a protection that writes its IV into it itself. */
export function nonceScratch(): Uint8Array {
  return scratchNonce;
}

/** Salt + explicit part, in the shared scratch nonce: the explicit part is `explicit` (as received) or the sequence field. */
export function explicitNonce(salt: Uint8Array, high: number, low: number, explicit?: Uint8Array): Uint8Array {
  const nonce = scratchNonce;
  nonce.set(salt);
  if (explicit) nonce.set(explicit, 4);
  else writeSequence(nonce, 4, high, low);
  return nonce;
}

/** TLS/DTLS 1.2 additional_data (RFC 5246 6.2.3.3, RFC 6347 4.1.2.1), in the shared scratch buffer. */
export function additionalData12(high: number, low: number, type: number, version: number, length: number): Uint8Array {
  const aad = scratchAad;
  writeSequence(aad, 0, high, low);
  aad[8] = type;
  aad[9] = version >>> 8;
  aad[10] = version & 0xff;
  aad[11] = length >>> 8;
  aad[12] = length & 0xff;
  return aad;
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

/** The AEAD itself when it offers the fast path, for the protection to keep instead of a flag and a cast. */
export function fastSealer(aead: Aead): (Aead & AeadSealTo) | undefined {
  return typeof (aead as Partial<AeadSealTo>).sealTo === 'function' ? (aead as Aead & AeadSealTo) : undefined;
}

const EMPTY = new Uint8Array(0);

/**
 * The AEAD arithmetic of TLS 1.2 and DTLS 1.2 records, which differ only in where their
 * sequence field comes from and in their headers (the protections around this write those).
 */
export class Aead12 {
  readonly aead: Aead;
  /** 8 for the explicit-nonce AEADs (GCM, CCM), 0 for ChaCha20-Poly1305. */
  readonly explicitLength: 0 | 8;
  private readonly fast: (Aead & AeadSealTo) | undefined;

  constructor(
    provider: CryptoProvider,
    aeadName: AeadName,
    private readonly key: Uint8Array,
    /** The 4-byte salt (explicit-nonce AEADs) or the 12-byte IV (ChaCha20-Poly1305). */
    private readonly iv: Uint8Array,
  ) {
    this.explicitLength = aeadName === 'CHACHA20-POLY1305' ? 0 : 8;
    const ivLength = this.explicitLength ? 4 : 12;
    if (iv.length !== ivLength) throw new TLSError('internal_error', `${aeadName}: a TLS 1.2 IV must be ${ivLength} bytes, got ${iv.length}`);
    this.aead = provider.aead(aeadName, key);
    this.fast = fastSealer(this.aead);
  }

  /** Bytes the protection adds to the plaintext, header excluded. */
  get expansion(): number {
    return this.explicitLength + this.aead.tagLength;
  }

  /**
   * Write [explicit nonce] ciphertext tag of `data` at `at` in `out` (which has `expansion + data.length` bytes of room).
   * `aad`, when given, replaces RFC 5246's additional data (RFC 9146's, for a DTLS record with a connection ID).
   */
  sealInto(high: number, low: number, type: number, version: number, data: Uint8Array, out: Uint8Array, at: number, aad = additionalData12(high, low, type, version, data.length)): void {
    if (this.explicitLength) writeSequence(out, at, high, low);
    const nonce = this.explicitLength ? explicitNonce(this.iv, high, low) : xorNonce(this.iv, high, low);
    const body = at + this.explicitLength;
    if (this.fast) {
      this.fast.sealTo(nonce, aad, data, EMPTY, out, body);
      return;
    }
    const sealed = this.aead.seal(nonce, data, aad);
    if (sealed.length !== data.length + this.aead.tagLength) throw new Error('AEAD output has an unexpected length');
    out.set(sealed, body);
  }

  /** The plaintext of a record's payload ([explicit nonce] ciphertext tag), or undefined when it does not authenticate; `aad` as for sealInto. */
  open(high: number, low: number, type: number, version: number, payload: Uint8Array, aad?: Uint8Array): Uint8Array | undefined {
    if (payload.length < this.expansion) return undefined;
    const explicit = this.explicitLength ? payload.subarray(0, 8) : undefined;
    const ciphertext = payload.subarray(this.explicitLength);
    const nonce = explicit ? explicitNonce(this.iv, high, low, explicit) : xorNonce(this.iv, high, low);
    return this.aead.open(nonce, ciphertext, aad ?? additionalData12(high, low, type, version, ciphertext.length - this.aead.tagLength)) ?? undefined;
  }

  destroy(): void {
    this.key.fill(0);
    this.iv.fill(0);
  }
}
