/**
 * What the noble and node:crypto providers share: the signature scheme table and the rules
 * of verify and sign around each provider's own primitives, the strict DER handling of ECDSA
 * signatures, and the checks around X25519/X448. One copy,
 * so both providers accept and refuse exactly the same inputs.
 *
 * No node:* imports here: the noble provider must run anywhere JavaScript runs.
 */
import { DerReader, encodeSequence, encodeUnsigned } from '../util/der.js';
import type { CryptoProvider, HashName, PrivateKey, PublicKey, SignatureSchemeName } from './provider.js';
import { hashLength } from './provider.js';
import { rsaVerifyPss } from './rsa.js';

type SchemeKind = 'ecdsa' | 'ed25519' | 'pss' | 'pkcs1';

/** Each TLS signature scheme's algorithm family and hash. */
const signatureSchemes: Record<SignatureSchemeName, { kind: SchemeKind; hash: HashName }> = {
  ecdsa_secp256r1_sha256: { kind: 'ecdsa', hash: 'sha256' },
  ecdsa_secp384r1_sha384: { kind: 'ecdsa', hash: 'sha384' },
  ed25519: { kind: 'ed25519', hash: 'sha512' },
  rsa_pss_rsae_sha256: { kind: 'pss', hash: 'sha256' },
  rsa_pss_rsae_sha384: { kind: 'pss', hash: 'sha384' },
  rsa_pss_rsae_sha512: { kind: 'pss', hash: 'sha512' },
  rsa_pkcs1_sha256: { kind: 'pkcs1', hash: 'sha256' },
  rsa_pkcs1_sha384: { kind: 'pkcs1', hash: 'sha384' },
  rsa_pkcs1_sha512: { kind: 'pkcs1', hash: 'sha512' },
};

type Key<K, T extends { kind: string }> = Extract<T, { kind: K }>;
export type RsaPadding = 'pss' | 'pkcs1';

/** A provider's verification for each algorithm family, called with a key of the right kind. */
export interface SchemeVerifiers {
  ecdsa(hash: HashName, key: Key<'ec', PublicKey>, message: Uint8Array, signature: Uint8Array): boolean;
  ed25519(key: Key<'ed25519', PublicKey>, message: Uint8Array, signature: Uint8Array): boolean;
  rsa(padding: RsaPadding, hash: HashName, key: Key<'rsa', PublicKey>, message: Uint8Array, signature: Uint8Array): boolean;
}

/**
 * CryptoProvider.verify from a provider's per-family checks, with the rules both providers
 * share: an unknown scheme, a key of the wrong kind, or a check that throws is a failure
 * (verify never throws). The scheme fixes the hash; for ECDSA the key fixes the curve
 * (TLS 1.2 and certificates mix them).
 */
export function schemeVerify(v: SchemeVerifiers): CryptoProvider['verify'] {
  return (scheme, key, message, signature) => {
    const s = signatureSchemes[scheme];
    if (!s) return false;
    try {
      switch (s.kind) {
        case 'ecdsa':
          return key.kind === 'ec' && v.ecdsa(s.hash, key, message, signature);
        case 'ed25519':
          return key.kind === 'ed25519' && v.ed25519(key, message, signature);
        case 'pss':
        case 'pkcs1':
          return key.kind === 'rsa' && v.rsa(s.kind, s.hash, key, message, signature);
      }
    } catch {
      return false;
    }
  };
}

/** A provider's signing for each algorithm family, called with a key of the right kind. */
export interface SchemeSigners {
  ecdsa(hash: HashName, key: Key<'ec', PrivateKey>, message: Uint8Array): Uint8Array;
  ed25519(key: Key<'ed25519', PrivateKey>, message: Uint8Array): Uint8Array;
  rsa(padding: RsaPadding, hash: HashName, key: Key<'rsa', PrivateKey>, message: Uint8Array): Uint8Array;
}

/** CryptoProvider.sign from a provider's per-family signers: an unknown scheme or a key of the wrong kind throws. */
export function schemeSign(sg: SchemeSigners): CryptoProvider['sign'] {
  return (scheme, key, message) => {
    const s = signatureSchemes[scheme];
    if (!s) throw new Error(`unsupported signature scheme ${String(scheme)}`);
    const wrongKey = () => new Error(`${scheme}: cannot sign with a ${key.kind} key`);
    switch (s.kind) {
      case 'ecdsa':
        if (key.kind !== 'ec') throw wrongKey();
        return sg.ecdsa(s.hash, key, message);
      case 'ed25519':
        if (key.kind !== 'ed25519') throw wrongKey();
        return sg.ed25519(key, message);
      case 'pss':
      case 'pkcs1':
        if (key.kind !== 'rsa') throw wrongKey();
        return sg.rsa(s.kind, s.hash, key, message);
    }
  };
}

/**
 * CryptoProvider.verifyRsaPss from a provider's hash: RSASSA-PSS with any salt length, on the
 * bigint RSA of ./rsa.ts (only certificates use salts no TLS scheme names, and rarely).
 */
export function rsaPssVerifier(hash: (name: HashName, data: Uint8Array) => Uint8Array): NonNullable<CryptoProvider['verifyRsaPss']> {
  return (key, name, message, signature, saltLength) => {
    try {
      return rsaVerifyPss(key, { name, length: hashLength[name], digest: (d) => hash(name, d) }, message, signature, saltLength);
    } catch {
      return false;
    }
  };
}

/** Strict DER Ecdsa-Sig-Value to fixed-width r || s; null when malformed or oversized. */
export function ecdsaDerToCompact(sig: Uint8Array, size: number): Uint8Array | null {
  try {
    const outer = new DerReader(sig, 'ECDSA signature');
    const seq = outer.sequence();
    const r = seq.unsignedBytes();
    const s = seq.unsignedBytes();
    seq.end();
    outer.end();
    if (r.length > size || s.length > size) return null;
    const out = new Uint8Array(2 * size);
    out.set(r, size - r.length);
    out.set(s, 2 * size - s.length);
    return out;
  } catch {
    return null;
  }
}

/** Fixed-width r || s to DER Ecdsa-Sig-Value. */
export function ecdsaCompactToDer(sig: Uint8Array): Uint8Array {
  const size = sig.length / 2;
  return encodeSequence(encodeUnsigned(sig.subarray(0, size)), encodeUnsigned(sig.subarray(size)));
}

function isAllZero(b: Uint8Array): boolean {
  let acc = 0;
  for (const x of b) acc |= x;
  return acc === 0;
}

/**
 * An X25519/X448 shared secret with the checks both providers make around `compute` (the
 * library's own operation): exact key lengths, a computation that throws means an invalid
 * peer key, and an all-zero result (a low-order peer key, RFC 8446 section 7.4.2) is
 * refused, whatever the library version does about it.
 */
export function montgomerySharedSecret(group: string, size: number, privateKey: Uint8Array, peerPublic: Uint8Array, compute: () => Uint8Array): Uint8Array {
  if (peerPublic.length !== size) throw new Error(`${group}: peer key must be ${size} bytes, got ${peerPublic.length}`);
  if (privateKey.length !== size) throw new Error(`${group}: private key must be ${size} bytes`);
  let secret: Uint8Array;
  try {
    secret = compute();
  } catch (err) {
    throw new Error(`${group}: invalid peer key`, { cause: err });
  }
  if (isAllZero(secret)) throw new Error(`${group}: shared secret is all zero`);
  return secret;
}
