/**
 * The CryptoProvider on @noble/* and the bigint RSA in ./rsa.ts: pure JavaScript, so it runs
 * wherever the engine does (browsers, Deno, Node without OpenSSL).
 */
import { ecb, gcm } from '@noble/ciphers/aes.js';
import { chacha20, chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { x448 } from '@noble/curves/ed448.js';
import { p256, p384 } from '@noble/curves/nist.js';
import { expand, extract } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
import { aesCcm } from './ccm.js';
import type { EcdhGroup } from './groups.js';
import { kemKeyExchange } from './kem.js';
import type { Aead, AeadName, CryptoProvider, Hash, HashName, KeyPair } from './provider.js';
import { hashLength } from './provider.js';
import { rsaSignPkcs1, rsaSignPss, rsaVerifyPkcs1, rsaVerifyPss, type RsaHash } from './rsa.js';
import { ecdsaCompactToDer, ecdsaDerToCompact, montgomerySharedSecret, rsaPssVerifier, schemeSign, schemeVerify } from './provider-rules.js';
import { cachedVerify } from './verify-cache.js';

const hashes = { sha256, sha384, sha512 } as const;

type NobleHashInstance = ReturnType<(typeof hashes)[HashName]['create']>;

function wrapHash(h: NobleHashInstance): Hash {
  return {
    update(data) {
      h.update(data);
      return this;
    },
    // Digest a copy so the running hash stays usable: the transcript hash is read many times.
    digest: () => h.clone().digest(),
    clone: () => wrapHash(h.clone()),
  };
}

const rsaHashes: Record<HashName, RsaHash> = {
  sha256: { name: 'sha256', length: 32, digest: (d) => sha256(d) },
  sha384: { name: 'sha384', length: 48, digest: (d) => sha384(d) },
  sha512: { name: 'sha512', length: 64, digest: (d) => sha512(d) },
};

// ---- AEAD ----

const aeadKeyLength: Record<AeadName, number> = {
  'AES-128-GCM': 16,
  'AES-256-GCM': 32,
  'CHACHA20-POLY1305': 32,
  'AES-128-CCM': 16,
  'AES-128-CCM-8': 16,
};

const TAG_LENGTH = 16;
const NONCE_LENGTH = 12;

function makeAead(name: AeadName, key: Uint8Array): Aead {
  if (key.length !== aeadKeyLength[name]) throw new Error(`${name}: key must be ${aeadKeyLength[name]} bytes, got ${key.length}`);
  if (name === 'AES-128-CCM' || name === 'AES-128-CCM-8') return aesCcm(key.slice(), name === 'AES-128-CCM' ? 16 : 8);
  // Our own copy: callers wipe their key buffers when keys change.
  const k = key.slice();
  const cipher = name === 'CHACHA20-POLY1305' ? chacha20poly1305 : gcm;
  const checkNonce = (nonce: Uint8Array) => {
    if (nonce.length !== NONCE_LENGTH) throw new Error(`${name}: nonce must be ${NONCE_LENGTH} bytes, got ${nonce.length}`);
  };
  return {
    tagLength: TAG_LENGTH,
    seal(nonce, plaintext, aad) {
      checkNonce(nonce);
      return cipher(k, nonce, aad).encrypt(plaintext);
    },
    open(nonce, ciphertext, aad) {
      checkNonce(nonce);
      if (ciphertext.length < TAG_LENGTH) return null;
      try {
        return cipher(k, nonce, aad).decrypt(ciphertext);
      } catch {
        return null;
      }
    },
  };
}

// ---- key exchange ----

const nistGroups = { secp256r1: p256, secp384r1: p384 } as const;
const montgomeryGroups = { x25519: { fn: x25519, size: 32 }, x448: { fn: x448, size: 56 } } as const;

const ecCurves = { 'P-256': p256, 'P-384': p384 } as const;

export interface NobleProviderOptions {
  /** Source of randomness; defaults to globalThis.crypto.getRandomValues. */
  random?: (n: number) => Uint8Array;
  /**
   * Certificate signature checks remembered (./verify-cache.ts), default 128; 0 verifies every
   * signature every time (what node:tls does, and what the benchmark compares against).
   */
  verifyCacheSize?: number;
}

function defaultRandom(n: number): Uint8Array {
  const out = new Uint8Array(n);
  // getRandomValues refuses more than 65536 bytes per call.
  for (let at = 0; at < n; at += 65536) globalThis.crypto.getRandomValues(out.subarray(at, Math.min(n, at + 65536)));
  return out;
}

export function createNobleProvider(options: NobleProviderOptions = {}): CryptoProvider {
  const random = options.random ?? defaultRandom;

  function ecdhKeyPair(group: EcdhGroup, privateKey?: Uint8Array): KeyPair {
    if (group === 'x25519' || group === 'x448') {
      const { fn, size } = montgomeryGroups[group];
      const priv = privateKey ? privateKey.slice() : random(size);
      if (priv.length !== size) throw new Error(`${group}: private key must be ${size} bytes`);
      return { privateKey: priv, publicKey: fn.getPublicKey(priv) };
    }
    const curve = nistGroups[group];
    if (!curve) throw new Error(`unsupported group ${String(group)}`);
    let priv: Uint8Array;
    if (privateKey) {
      if (!curve.utils.isValidSecretKey(privateKey)) throw new Error(`${group}: invalid private key`);
      priv = privateKey.slice();
    } else {
      // Rejection sampling: uniform in [1, n-1]; for P-256 and P-384 a retry is vanishingly rare.
      do priv = random(curve.lengths.secretKey!);
      while (!curve.utils.isValidSecretKey(priv));
    }
    return { privateKey: priv, publicKey: curve.getPublicKey(priv, false) };
  }

  function ecdh(group: EcdhGroup, privateKey: Uint8Array, peerPublic: Uint8Array): Uint8Array {
    if (group === 'x25519' || group === 'x448') {
      const { fn, size } = montgomeryGroups[group];
      return montgomerySharedSecret(group, size, privateKey, peerPublic, () => fn.getSharedSecret(privateKey, peerPublic));
    }
    const curve = nistGroups[group];
    if (!curve) throw new Error(`unsupported group ${String(group)}`);
    const size = curve.lengths.publicKeyUncompressed!;
    // TLS 1.3 (and our TLS 1.2 ec_point_formats) only allow the uncompressed form.
    if (peerPublic.length !== size || peerPublic[0] !== 0x04) throw new Error(`${group}: peer key is not an uncompressed point`);
    let shared: Uint8Array;
    try {
      shared = curve.getSharedSecret(privateKey, peerPublic, true);
    } catch (err) {
      throw new Error(`${group}: invalid peer key (or private key)`, { cause: err });
    }
    return shared.slice(1);
  }

  const verify = schemeVerify({
    ecdsa(hash, key, message, signature) {
      const curve = ecCurves[key.curve];
      const compact = ecdsaDerToCompact(signature, curve.lengths.secretKey!);
      if (!compact) return false;
      return curve.verify(compact, hashes[hash](message), key.point, { prehash: false, lowS: false, format: 'compact' });
    },
    ed25519(key, message, signature) {
      if (signature.length !== 64 || key.key.length !== 32) return false;
      // RFC 8032 rules, not the more permissive ZIP-215 ones.
      return ed25519.verify(signature, message, key.key, { zip215: false });
    },
    rsa: (padding, hash, key, message, signature) =>
      padding === 'pss' ? rsaVerifyPss(key, rsaHashes[hash], message, signature) : rsaVerifyPkcs1(key, rsaHashes[hash], message, signature),
  });

  const sign = schemeSign({
    ecdsa(hash, key, message) {
      const curve = ecCurves[key.curve];
      // RFC 6979 deterministic nonces.
      const compact = curve.sign(hashes[hash](message), key.d, { prehash: false, format: 'compact' });
      return ecdsaCompactToDer(compact);
    },
    ed25519: (key, message) => ed25519.sign(message, key.seed),
    rsa: (padding, hash, key, message) =>
      padding === 'pss' ? rsaSignPss(key, rsaHashes[hash], message, random) : rsaSignPkcs1(key, rsaHashes[hash], message, random),
  });

  return {
    name: 'noble',
    random,
    hash: (name, data) => hashes[name](data),
    createHash: (name) => wrapHash(hashes[name].create()),
    hmac: (name, key, data) => hmac(hashes[name], key, data),
    hkdfExtract: (name, salt, ikm) => extract(hashes[name], ikm, salt.length ? salt : new Uint8Array(hashLength[name])),
    hkdfExpand: (name, prk, info, length) => expand(hashes[name], prk, info, length),
    aead: makeAead,
    recordNumberMask: (name, key, sample) => {
      if (sample.length !== 16) throw new Error('the record number mask takes a 16-byte sample');
      if (name === 'CHACHA20-POLY1305') {
        const counter = (sample[0]! | (sample[1]! << 8) | (sample[2]! << 16) | (sample[3]! << 24)) >>> 0;
        return chacha20(key, sample.subarray(4), new Uint8Array(16), undefined, counter);
      }
      return ecb(key, { disablePadding: true }).encrypt(sample);
    },
    ...kemKeyExchange({ random, ecdhKeyPair, ecdh }),
    verify: cachedVerify(verify, options.verifyCacheSize),
    verifyRsaPss: rsaPssVerifier((name, data) => hashes[name](data)),
    sign,
  };
}

export const nobleProvider: CryptoProvider = createNobleProvider();
