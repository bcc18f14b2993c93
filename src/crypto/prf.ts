/**
 * The TLS 1.2 key derivation (RFC 5246 section 5 and 6.3, RFC 7627): the PRF built on
 * P_hash, the extended master secret, the key block and Finished.
 */
import { concat, utf8 } from '../util/bytes.js';
import type { CryptoProvider, HashName } from './provider.js';

/** PRF(secret, label, seed) = P_<hash>(secret, label + seed), cut to `length` bytes. */
export function prf(p: CryptoProvider, hash: HashName, secret: Uint8Array, label: string, seed: Uint8Array, length: number): Uint8Array {
  const labelSeed = concat(utf8.encode(label), seed);
  const out = new Uint8Array(length);
  let a = labelSeed; // A(0)
  for (let at = 0; at < length; ) {
    a = p.hmac(hash, secret, a); // A(i) = HMAC(secret, A(i-1))
    const block = p.hmac(hash, secret, concat(a, labelSeed));
    out.set(block.subarray(0, Math.min(block.length, length - at)), at);
    at += block.length;
  }
  return out;
}

/** RFC 7627: master_secret = PRF(pre_master_secret, "extended master secret", session_hash)[0..47]. */
export function extendedMasterSecret(p: CryptoProvider, hash: HashName, preMaster: Uint8Array, sessionHash: Uint8Array): Uint8Array {
  return prf(p, hash, preMaster, 'extended master secret', sessionHash, 48);
}

export interface KeyBlock {
  clientKey: Uint8Array;
  serverKey: Uint8Array;
  clientIv: Uint8Array;
  serverIv: Uint8Array;
}

/** key_block = PRF(master, "key expansion", server_random + client_random); AEAD suites have no MAC keys. */
export function keyBlock(
  p: CryptoProvider,
  hash: HashName,
  master: Uint8Array,
  clientRandom: Uint8Array,
  serverRandom: Uint8Array,
  keyLength: number,
  ivLength: number,
): KeyBlock {
  const block = prf(p, hash, master, 'key expansion', concat(serverRandom, clientRandom), 2 * keyLength + 2 * ivLength);
  let at = 0;
  const take = (n: number) => block.slice(at, (at += n));
  return { clientKey: take(keyLength), serverKey: take(keyLength), clientIv: take(ivLength), serverIv: take(ivLength) };
}

/** verify_data = PRF(master, finished_label, Hash(handshake_messages))[0..11]. */
export function finished12(p: CryptoProvider, hash: HashName, master: Uint8Array, sender: 'client' | 'server', transcriptHash: Uint8Array): Uint8Array {
  return prf(p, hash, master, `${sender} finished`, transcriptHash, 12);
}
