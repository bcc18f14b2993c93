/**
 * The running transcript hash (RFC 8446 4.4.1). The hash function is only known once the
 * cipher suite is chosen, so messages are held until then and fed in at `setHash`.
 */
import type { CryptoProvider, Hash, HashName } from '../crypto/provider.js';
import { HandshakeType } from '../messages/constants.js';
import { concat } from '../util/bytes.js';

export class Transcript {
  private pending: Uint8Array[] = [];
  /** Every message as sent: a TLS 1.2 CertificateVerify signs the messages themselves, not a hash. */
  private all: Uint8Array[] = [];
  private h: Hash | undefined;
  hashName: HashName | undefined;

  constructor(private readonly provider: CryptoProvider) {}

  setHash(name: HashName): void {
    if (this.h) return;
    this.hashName = name;
    this.h = this.provider.createHash(name);
    for (const m of this.pending) this.h.update(m);
    this.pending = [];
  }

  add(message: Uint8Array): void {
    this.all.push(message);
    if (this.h) this.h.update(message);
    else this.pending.push(message);
  }

  /** The concatenated handshake messages so far (TLS 1.2 CertificateVerify). */
  messages(): Uint8Array {
    return concat(...this.all);
  }

  /**
   * Rewrite the messages held before the hash was chosen (DTLS 1.3: a ClientHello hashed in
   * DTLS 1.2's framing, before the version was known, goes in as TLS 1.3 frames it).
   */
  reframe(frame: (message: Uint8Array) => Uint8Array): void {
    if (this.h) return;
    this.pending = this.pending.map(frame);
    this.all = this.all.map(frame);
  }

  /** Start over (DTLS: the first ClientHello and HelloVerifyRequest are not hashed, RFC 6347 4.2.6). */
  reset(): void {
    this.pending = [];
    this.all = [];
    this.h = this.hashName ? this.provider.createHash(this.hashName) : undefined;
  }

  /** Transcript-Hash of everything added so far. */
  hash(): Uint8Array {
    if (!this.h) throw new Error('transcript hash used before the cipher suite was chosen');
    return this.h.clone().digest();
  }

  /** Transcript-Hash(messages so far + `extra`), without adding `extra` (PSK binders). */
  hashWith(extra: Uint8Array): Uint8Array {
    if (!this.h) throw new Error('transcript hash used before the cipher suite was chosen');
    return this.h.clone().update(extra).digest();
  }

  /**
   * After a HelloRetryRequest, ClientHello1 is replaced by the synthetic message_hash
   * message carrying Hash(ClientHello1) (RFC 8446 4.4.1).
   */
  replaceWithMessageHash(): void {
    const digest = this.hash();
    // hash() threw if there were no running hash, so there is a hash name.
    if (!this.hashName) throw new Error('transcript hash used before the cipher suite was chosen');
    this.h = this.provider.createHash(this.hashName);
    this.h.update(new Uint8Array([HandshakeType.message_hash, 0, 0, digest.length]));
    this.h.update(digest);
  }
}
