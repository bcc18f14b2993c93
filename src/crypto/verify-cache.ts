/**
 * A small cache of signature verifications that succeeded, for certificate signatures.
 *
 * Every full handshake verifies the peer's chain again, and the signatures in it are
 * mostly the same ones: an intermediate signed by its root, a server's leaf signed by its
 * intermediate (with a P-384 intermediate that one check costs more than the rest of the
 * handshake's crypto together). A signature check is a pure function of (scheme, public
 * key, message, signature), so a success remembered for exactly those bytes is a success
 * again; nothing time-dependent is cached (validity periods, names, constraints and trust
 * are checked by the path validation on every handshake, as before).
 *
 * Only messages that are DER SEQUENCEs (a tbsCertificate) are remembered: handshake
 * signatures (CertificateVerify, ServerKeyExchange) are over fresh randoms and never repeat.
 * Failures are never cached. A hit compares every byte of the message, the signature, the
 * scheme and the key, so no collision of any kind can turn a failure into a success.
 */
import { equal, toHex } from '../util/bytes.js';
import type { PublicKey, SignatureSchemeName } from './provider.js';

/** Everything that makes up a public key, as a string. */
export function publicKeyId(key: PublicKey): string {
  switch (key.kind) {
    case 'ec':
      return `ec:${key.curve}:${toHex(key.point)}`;
    case 'ed25519':
      return `ed25519:${toHex(key.key)}`;
    case 'rsa':
      return `rsa:${key.n.toString(16)}:${key.e.toString(16)}`;
  }
}

/** Largest message remembered (certificates beyond this are rare and just verified each time). */
const MAX_MESSAGE = 16 * 1024;

export type VerifyFn = (scheme: SignatureSchemeName, key: PublicKey, message: Uint8Array, signature: Uint8Array) => boolean;

/**
 * `verify` with successful certificate signature checks remembered (least recently used
 * out first, `size` entries at most).
 */
export function cachedVerify(verify: VerifyFn, size = 128): VerifyFn {
  const entries = new Map<string, Uint8Array>();
  return (scheme, key, message, signature) => {
    if (message.length === 0 || message[0] !== 0x30 || message.length > MAX_MESSAGE || size <= 0) return verify(scheme, key, message, signature);
    const k = `${scheme}|${publicKeyId(key)}|${toHex(signature)}|${message.length}`;
    const seen = entries.get(k);
    if (seen && equal(seen, message)) {
      // Most recently used goes last.
      entries.delete(k);
      entries.set(k, seen);
      return true;
    }
    const ok = verify(scheme, key, message, signature);
    if (ok) {
      if (entries.size >= size && !entries.has(k)) entries.delete(entries.keys().next().value!);
      entries.set(k, message.slice());
    }
    return ok;
  };
}
