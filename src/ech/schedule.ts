/**
 * What both sides of ECH derive alike (RFC 9849): the HPKE info for a config, the 8-byte
 * acceptance confirmations of ServerHello and HelloRetryRequest (section 7.2), and the
 * message_hash that stands for ClientHelloInner1 after a HelloRetryRequest.
 */
import { hkdfExpandLabel } from '../crypto/keyschedule.js';
import { hashLength, type CryptoProvider, type HashName } from '../crypto/provider.js';
import { HandshakeType } from '../messages/constants.js';
import type { ECHConfig } from '../messages/ech.js';
import { concat, utf8 } from '../util/bytes.js';

const ECH_INFO_PREFIX = utf8.encode('tls ech\0');

/** HPKE info: "tls ech" || 0x00 || ECHConfig (section 6.1). */
export function echHpkeInfo(config: ECHConfig): Uint8Array {
  return concat(ECH_INFO_PREFIX, config.raw);
}

/** HKDF-Expand-Label(HKDF-Extract(0, ClientHelloInner.random), label, transcriptHash, 8). */
export function echConfirmation(
  p: CryptoProvider,
  hash: HashName,
  innerRandom: Uint8Array,
  label: 'ech accept confirmation' | 'hrr ech accept confirmation',
  transcriptHash: Uint8Array,
): Uint8Array {
  const secret = p.hkdfExtract(hash, new Uint8Array(hashLength[hash]), innerRandom);
  return hkdfExpandLabel(p, hash, secret, label, transcriptHash, 8);
}

/** message_hash(ClientHelloInner1) (RFC 8446 section 4.4.1). */
export function messageHash(p: CryptoProvider, hash: HashName, hello: Uint8Array): Uint8Array {
  const digest = p.hash(hash, hello);
  return concat(Uint8Array.of(HandshakeType.message_hash, 0, 0, digest.length), digest);
}
