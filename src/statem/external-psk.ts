/**
 * TLS 1.3 external pre-shared keys (RFC 8446 4.2.11, RFC 9257): an identity and key the
 * application provisioned out of band (the client's `psk`, the server's `pskCallback`, the
 * same options TLS 1.2's PSK suites use), offered and accepted in pre_shared_key like a
 * ticket, with binders under the "ext binder" label. The key's hash is SHA-256, the default
 * RFC 8446 4.2.11 sets for a PSK provisioned without one (and what OpenSSL's -psk uses), so
 * it fits the TLS_AES_128_GCM_SHA256 and TLS_CHACHA20_POLY1305_SHA256 suites.
 */
import type { HashName } from '../crypto/provider.js';
import { utf8 } from '../util/bytes.js';
import type { ClientHandshake, ServerHandshake } from './context.js';
import type { Phase } from './declare.js';

export const EXTERNAL_PSK_HASH: HashName = 'sha256';

/** What a client offers in pre_shared_key: a ticket's PSK or an external one. */
export interface PskOffer {
  identity: Uint8Array;
  obfuscatedAge: number;
  secret: Uint8Array;
  hash: HashName;
  external: boolean;
}

/**
 * The client's external PSK, when it has one, speaks TLS 1.3, and (after a HelloRetryRequest)
 * the chosen suite's hash is the PSK's. An external PSK's ticket age is 0 (RFC 8446 4.2.11).
 */
export function externalPskOffer(hs: Phase<ClientHandshake, 'transcript'>): PskOffer | undefined {
  const psk = hs.options.psk;
  if (!psk || !hs.common.versions.includes('TLSv1.3')) return undefined;
  if (!hs.common.cipherSuites.some((s) => s.version === 'TLSv1.3' && s.hash === EXTERNAL_PSK_HASH)) return undefined;
  if (hs.transcript.hashName && hs.transcript.hashName !== EXTERNAL_PSK_HASH) return undefined;
  const identity = typeof psk.identity === 'string' ? utf8.encode(psk.identity) : psk.identity;
  return { identity, obfuscatedAge: 0, secret: psk.key, hash: EXTERNAL_PSK_HASH, external: true };
}

/**
 * The server's key for an identity that is not one of our tickets: the application's, when
 * the chosen suite has the external PSK hash. A copy, since the handshake wipes its PSK.
 */
export function externalPskKey(hs: ServerHandshake, identity: Uint8Array, suiteHash: HashName): Uint8Array | undefined {
  const callback = hs.options.pskCallback;
  if (!callback || suiteHash !== EXTERNAL_PSK_HASH) return undefined;
  const key = callback(identity);
  // new Uint8Array(key) copies; a Buffer's slice() would be a view of the application's key.
  return key && new Uint8Array(key);
}
