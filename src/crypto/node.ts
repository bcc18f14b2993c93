/**
 * The CryptoProvider on node:crypto (OpenSSL): the same interface and the same behaviour as
 * the noble provider in ./noble.ts, several times faster on Node.
 *
 * Where OpenSSL is more lenient than noble, the stricter rule is checked here first, so
 * a peer's message is accepted or refused the same way whichever provider runs:
 *   - key shares: NIST points must be uncompressed (OpenSSL also takes compressed and
 *     hybrid forms); X25519/X448 outputs of all zeros are refused;
 *   - ECDSA: the DER signature is parsed by the strict reader noble's goes through too
 *     (./provider-rules.ts), and handed to OpenSSL as fixed-width r || s;
 *   - Ed25519: RFC 8032 canonical encodings of A and R, S < L, and no small-order public
 *     key (noble's strict mode), and noble's cofactored equation where OpenSSL's
 *     cofactorless one fails (see `verify`);
 *   - RSA: the modulus, exponent and signature-length checks of ./rsa.ts.
 * The rules around the primitives (scheme table, key kinds, the X25519/X448 checks) are
 * ./provider-rules.ts, the same code the noble provider runs. `verify` never throws; `open`
 * returns null when authentication fails.
 *
 * One difference is left, as it changes no accept/refuse decision: OpenSSL's ECDSA
 * signatures use random nonces and either S, noble's are RFC 6979 deterministic and low-S
 * (Ed25519, RSA PKCS#1 v1.5 and everything else come out byte for byte the same).
 */
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createECDH,
  createHash as nodeCreateHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  randomFillSync,
  sign as nodeSign,
  verify as nodeVerify,
  type CipherCCMTypes,
  type CipherChaCha20Poly1305Types,
  type CipherGCM,
  type CipherGCMTypes,
  type DecipherGCM,
  type ECDH,
  type Hash as NodeHash,
  type KeyObject,
} from 'node:crypto';
import * as nodeCrypto from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { constantTimeEqual } from '../util/bytes.js';
import { encodeDer, encodeOid, encodeSequence, encodeUnsigned } from '../util/der.js';
import type { EcdhGroup } from './groups.js';
import { kemKeyExchange } from './kem.js';
import { exactly, ML_KEM_SEED, mlKemSizes, nobleMlKem, type MlKem, type MlKemParameterSet } from './mlkem.js';
import type { Aead, AeadName, CryptoProvider, Hash, HashName, KeyPair, PrivateKey, PublicKey } from './provider.js';
import { hashLength } from './provider.js';
import { bigIntToBytes, bitLength, bytesToBigInt, checkSigningKey, rsaSignatureRepresentative } from './rsa.js';
import { ecdsaDerToCompact, montgomerySharedSecret, rsaPssVerifier, schemeSign, schemeVerify, type RsaPadding } from './provider-rules.js';
import { cachedVerify, publicKeyId } from './verify-cache.js';

/** A plain Uint8Array view of a Buffer (same memory, no copy), like the noble provider returns. */
function plain(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

// ---- hashes ----

function wrapHash(h: NodeHash): Hash {
  return {
    update(data) {
      h.update(data);
      return this;
    },
    // Digest a copy so the running hash stays usable: the transcript hash is read many times.
    digest: () => plain(h.copy().digest()),
    clone: () => wrapHash(h.copy()),
  };
}

/**
 * One-shot digests: crypto.hash (Node 20.12+) is one native call where
 * createHash().update().digest() is three, which shows for the short inputs of a handshake.
 */
const oneShot = (nodeCrypto as { hash?: (name: string, data: Uint8Array, encoding: 'buffer') => Buffer }).hash;
const digestOf: (name: HashName, data: Uint8Array) => Buffer =
  typeof oneShot === 'function' ? (name, data) => oneShot(name, data, 'buffer') : (name, data) => nodeCreateHash(name).update(data).digest();

function hmac(name: HashName, key: Uint8Array, data: Uint8Array): Uint8Array {
  return plain(createHmac(name, key).update(data).digest());
}

function hkdfExtract(name: HashName, salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  return hmac(name, salt.length ? salt : new Uint8Array(hashLength[name]), ikm);
}

/** HKDF-Expand (RFC 5869 2.3) from HMAC: node:crypto only offers extract-and-expand in one call. */
function hkdfExpand(name: HashName, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const hLen = hashLength[name];
  if (!Number.isSafeInteger(length) || length < 0 || length > 255 * hLen) throw new Error(`HKDF-Expand: length ${length} out of range`);
  const out = new Uint8Array(length);
  const counter = new Uint8Array(1);
  let t: Buffer | undefined;
  for (let at = 0, i = 1; at < length; at += hLen, i++) {
    counter[0] = i;
    const h = createHmac(name, prk);
    if (t) h.update(t);
    t = h.update(info).update(counter).digest();
    out.set(t.subarray(0, Math.min(hLen, length - at)), at);
  }
  t?.fill(0);
  return out;
}

// ---- AEAD ----

/** The record layer's optional fast path (declared in ../record/protection.ts as AeadSealTo). */
interface AeadSealTo {
  sealTo(nonce: Uint8Array, aad: Uint8Array, data: Uint8Array, trailer: Uint8Array, out: Uint8Array, offset: number): void;
}

interface AeadSpec {
  name: AeadName;
  // Node's typings split createCipheriv by mode; the three modes take the same calls here.
  cipher: CipherGCMTypes;
  keyLength: number;
  tagLength: number;
  ccm: boolean;
  options: { authTagLength: number };
}

function aeadSpec(name: AeadName, cipher: CipherGCMTypes | CipherChaCha20Poly1305Types | CipherCCMTypes, keyLength: number, tagLength: number): AeadSpec {
  return { name, cipher: cipher as CipherGCMTypes, keyLength, tagLength, ccm: cipher.endsWith('-ccm'), options: { authTagLength: tagLength } };
}

const aeads: Record<AeadName, AeadSpec> = {
  'AES-128-GCM': aeadSpec('AES-128-GCM', 'aes-128-gcm', 16, 16),
  'AES-256-GCM': aeadSpec('AES-256-GCM', 'aes-256-gcm', 32, 16),
  'CHACHA20-POLY1305': aeadSpec('CHACHA20-POLY1305', 'chacha20-poly1305', 32, 16),
  // RFC 6655 / 7251 / 8446: 12-byte nonce (so L = 3), 16- or 8-byte tag.
  'AES-128-CCM': aeadSpec('AES-128-CCM', 'aes-128-ccm', 16, 16),
  'AES-128-CCM-8': aeadSpec('AES-128-CCM-8', 'aes-128-ccm', 16, 8),
};

const NONCE_LENGTH = 12;

/**
 * An empty input over a non-empty ArrayBuffer. Node passes an empty view over a zero-length
 * ArrayBuffer to OpenSSL as a NULL pointer, and for CCM a NULL input means "set the length",
 * not "process": the tag is then never computed ("tag not set"). Node 20.20, OpenSSL 3.0.
 */
const EMPTY = new Uint8Array(1).subarray(0, 0);
const nonNull = (b: Uint8Array) => (b.length === 0 ? EMPTY : b);

/** CCM with a 12-byte nonce has a 3-byte length field. */
const CCM_MAX_PLAINTEXT = 2 ** 24 - 1;

// A cipher context per record (OpenSSL copies the key into it).
function sealingCipher(spec: AeadSpec, key: Buffer, nonce: Uint8Array): CipherGCM {
  return createCipheriv(spec.cipher, key, nonce, spec.options);
}

function openingCipher(spec: AeadSpec, key: Buffer, nonce: Uint8Array): DecipherGCM {
  return createDecipheriv(spec.cipher, key, nonce, spec.options);
}

/**
 * One key's AEAD. A class rather than closures: connections keep two of these for as long
 * as they live, and the methods on a prototype cost nothing per key.
 */
class NodeAead implements Aead, AeadSealTo {
  /**
   * Our own copy of the key (callers wipe theirs when keys change), in an unpooled Buffer.
   * Not a pooled one (Buffer.from): a 32-byte slice pins the whole 8 KiB pool it shares
   * with short-lived handshake buffers, ~2.9 KB more per idle connection pair (heap snapshots).
   */
  private readonly key: Buffer;
  private readonly spec: AeadSpec;

  constructor(name: AeadName, key: Uint8Array) {
    const spec = aeads[name];
    if (!spec) throw new Error(`unsupported AEAD ${String(name)}`);
    if (key.length !== spec.keyLength) throw new Error(`${name}: key must be ${spec.keyLength} bytes, got ${key.length}`);
    this.key = Buffer.allocUnsafeSlow(key.length);
    this.key.set(key);
    this.spec = spec;
  }

  get tagLength(): number {
    return this.spec.tagLength;
  }

  private checkNonce(nonce: Uint8Array): void {
    if (nonce.length !== NONCE_LENGTH) throw new Error(`${this.spec.name}: nonce must be ${NONCE_LENGTH} bytes, got ${nonce.length}`);
  }

  seal(nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
    const out = Buffer.allocUnsafe(plaintext.length + this.tagLength);
    // Every byte of the (unzeroed, hence cheaper for record-sized buffers) output is written.
    this.sealTo(nonce, aad, plaintext, EMPTY, out, 0);
    return plain(out);
  }

  // The record layer's fast path (see AeadSealTo in ../record/protection.ts): ciphertext
  // straight into the record, with no plaintext or result buffers of our own.
  sealTo(nonce: Uint8Array, aad: Uint8Array, data: Uint8Array, trailer: Uint8Array, out: Uint8Array, offset: number): void {
    this.checkNonce(nonce);
    const { name, tagLength } = this.spec;
    const length = data.length + trailer.length;
    if (this.spec.ccm && length > CCM_MAX_PLAINTEXT) throw new Error(`${name}: plaintext too long`);
    if (offset + length + tagLength > out.length) throw new RangeError(`${name}: output too small`);
    const c = sealingCipher(this.spec, this.key, nonce);
    let at = offset;
    if (this.spec.ccm) {
      // CCM takes its input in one update: put the plaintext where the ciphertext goes.
      out.set(data, offset);
      out.set(trailer, offset + data.length);
      c.setAAD(nonNull(aad), { plaintextLength: length });
      const body = c.update(nonNull(out.subarray(offset, offset + length)));
      out.set(body, at);
      at += body.length;
    } else {
      c.setAAD(nonNull(aad));
      // Stream modes: exactly one ciphertext byte per plaintext byte (checked below).
      if (data.length) {
        const body = c.update(data);
        out.set(body, at);
        at += body.length;
      }
      if (trailer.length) {
        const body = c.update(trailer);
        out.set(body, at);
        at += body.length;
      }
    }
    const rest = c.final();
    if (rest.length) out.set(rest, at);
    at += rest.length;
    if (at - offset !== length) throw new Error(`${name}: unexpected ciphertext length`);
    out.set(c.getAuthTag(), at);
  }

  open(nonce: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Uint8Array | null {
    this.checkNonce(nonce);
    const tagLength = this.tagLength;
    if (ciphertext.length < tagLength) return null;
    const bodyLength = ciphertext.length - tagLength;
    if (this.spec.ccm && bodyLength > CCM_MAX_PLAINTEXT) return null;
    try {
      const d = openingCipher(this.spec, this.key, nonce);
      d.setAuthTag(ciphertext.subarray(bodyLength));
      if (this.spec.ccm) d.setAAD(nonNull(aad), { plaintextLength: bodyLength });
      else d.setAAD(nonNull(aad));
      const body = d.update(nonNull(ciphertext.subarray(0, bodyLength)));
      // final() throws when the tag does not verify (for CCM, update() then returned nothing).
      const rest = d.final();
      if (rest.length === 0) return plain(body);
      const out = new Uint8Array(body.length + rest.length);
      out.set(body);
      out.set(rest, body.length);
      return out;
    } catch {
      return null;
    }
  }
}

function makeAead(name: AeadName, key: Uint8Array): Aead {
  return new NodeAead(name, key);
}

// ---- DER wrappers to turn raw keys into KeyObjects ----

const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  'P-256': '1.2.840.10045.3.1.7',
  'P-384': '1.3.132.0.34',
  X25519: '1.3.101.110',
  X448: '1.3.101.111',
  Ed25519: '1.3.101.112',
} as const;

type OkpName = 'X25519' | 'X448' | 'Ed25519';

function bitString(bytes: Uint8Array): Uint8Array {
  const v = new Uint8Array(bytes.length + 1);
  v.set(bytes, 1);
  return encodeDer(0x03, v);
}

/** PKCS#8 of a raw OKP private key (the fallback route of okpPrivate). */
function okpPkcs8(alg: OkpName, key: Uint8Array): Buffer {
  const der = encodeSequence(encodeUnsigned(0n), encodeSequence(encodeOid(OID[alg])), encodeDer(0x04, encodeDer(0x04, key)));
  const out = Buffer.from(der);
  der.fill(0);
  return out;
}

const b64u = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url');

/**
 * Raw OKP keys go in through JWK, which Node turns into EVP_PKEY_new_raw_*_key: more than
 * ten times faster than OpenSSL 3's DER decoders. Node reads only `d` of a private JWK; if
 * a later version insists on a matching `x`, the DER route takes over.
 */
function okpPrivate(alg: OkpName, raw: Uint8Array): KeyObject {
  try {
    return createPrivateKey({ key: { kty: 'OKP', crv: alg, d: b64u(raw), x: '' }, format: 'jwk' });
  } catch {
    const der = okpPkcs8(alg, raw);
    try {
      return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    } finally {
      der.fill(0);
    }
  }
}

function okpPublic(alg: OkpName, raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: alg, x: b64u(raw) }, format: 'jwk' });
}

/** The raw public key of an OKP key. */
function okpRawPublic(key: KeyObject, size: number): Uint8Array {
  const raw = Buffer.from(key.export({ format: 'jwk' }).x ?? '', 'base64url');
  if (raw.length !== size) throw new Error('unexpected public key export');
  return plain(raw);
}

function ecPublic(curve: 'P-256' | 'P-384', point: Uint8Array): KeyObject {
  if (curve === 'P-256' && point[0] === 0x04 && point.length === 65) {
    // For P-256, JWK import (affine coordinates, checked to be on the curve) is about twice
    // as fast as SPKI; for P-384 it is three times slower (a full key check), so DER there.
    return createPublicKey({ key: { kty: 'EC', crv: curve, x: b64u(point.subarray(1, 33)), y: b64u(point.subarray(33)) }, format: 'jwk' });
  }
  const der = encodeSequence(encodeSequence(encodeOid(OID.ecPublicKey), encodeOid(OID[curve])), bitString(point));
  return createPublicKey({ key: Buffer.from(der.buffer, der.byteOffset, der.byteLength), format: 'der', type: 'spki' });
}

/** SEC1 ECPrivateKey without the public key: OpenSSL recomputes it from d. */
function ecPrivate(curve: 'P-256' | 'P-384', d: Uint8Array): KeyObject {
  const der = encodeSequence(encodeUnsigned(1n), encodeDer(0x04, d), encodeDer(0xa0, encodeOid(OID[curve])));
  try {
    return createPrivateKey({ key: Buffer.from(der.buffer, der.byteOffset, der.byteLength), format: 'der', type: 'sec1' });
  } finally {
    der.fill(0);
  }
}

function b64uInt(n: bigint): string {
  return Buffer.from(bigIntToBytes(n, Math.max(1, Math.ceil(bitLength(n) / 8)))).toString('base64url');
}

// ---- key exchange ----

const nistGroups = {
  secp256r1: { curve: 'prime256v1', size: 32, order: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n },
  secp384r1: {
    curve: 'secp384r1',
    size: 48,
    order: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  },
} as const;
const montgomeryGroups = { x25519: { alg: 'X25519', size: 32 }, x448: { alg: 'X448', size: 56 } } as const;

/**
 * The OpenSSL object behind an ephemeral private key made by ecdhKeyPair, so that
 * ecdh does not rebuild it (for NIST curves that saves a scalar multiplication).
 * The bytes are kept too: a key that was changed since is rebuilt, never reused stale.
 */
interface EphemeralState {
  bytes: Uint8Array;
  ecdh?: ECDH;
  key?: KeyObject;
}

const ecSizes = { 'P-256': 32, 'P-384': 48 } as const;

/** SEC1 point encodings noble accepts: uncompressed (04) or compressed (02/03), of the right length. */
function wellFormedPoint(point: Uint8Array, size: number): boolean {
  const t = point[0];
  return (t === 0x04 && point.length === 1 + 2 * size) || ((t === 0x02 || t === 0x03) && point.length === 1 + size);
}

// ---- Ed25519 (RFC 8032 strict rules, as noble's zip215: false) ----

const ED25519_P = 2n ** 255n - 19n;
const ED25519_L = 2n ** 252n + 27742317777372353535851937790883648493n;

function leBigInt(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
  return n;
}

/** The y coordinates (sign bit cleared) of the eight points of small order. */
const ED25519_SMALL_ORDER_Y = new Set([
  0n,
  1n,
  ED25519_P - 1n,
  leBigInt(Uint8Array.from(Buffer.from('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', 'hex'))),
  leBigInt(Uint8Array.from(Buffer.from('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', 'hex'))),
]);

function edY(encoded: Uint8Array): bigint {
  const b = encoded.slice();
  b[31]! &= 0x7f;
  return leBigInt(b);
}

/** The checks noble's strict verification makes before (and besides) the group equation. */
function ed25519Acceptable(key: Uint8Array, signature: Uint8Array): boolean {
  if (key.length !== 32 || signature.length !== 64) return false;
  const yA = edY(key);
  const yR = edY(signature.subarray(0, 32));
  if (yA >= ED25519_P || yR >= ED25519_P) return false;
  if (ED25519_SMALL_ORDER_Y.has(yA)) return false;
  return leBigInt(signature.subarray(32)) < ED25519_L;
}

/** node:crypto's padding options for RSASSA-PSS (salt as long as the hash, as TLS requires) or PKCS#1 v1.5. */
function rsaPadding(padding: RsaPadding, hash: HashName): { padding: number; saltLength?: number } {
  return padding === 'pss' ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: hashLength[hash] } : { padding: constants.RSA_PKCS1_PADDING };
}

const PUBLIC_KEY_CACHE_SIZE = 256;

// ---- ML-KEM (node:crypto has it from Node 24.7, on OpenSSL 3.5) ----

/** Whether this Node has ML-KEM: feature-detected, as Node 20 and 22 do not. */
export const nodeHasMlKem = typeof (nodeCrypto as { encapsulate?: unknown }).encapsulate === 'function' && typeof (nodeCrypto as { decapsulate?: unknown }).decapsulate === 'function';

const mlKemKeyType = { 'ML-KEM-768': 'ml-kem-768', 'ML-KEM-1024': 'ml-kem-1024' } as const;

/**
 * ML-KEM on node:crypto, some thirty times faster than noble's. Private keys are seeds, as
 * noble's, so keys move between the two. node:crypto cannot take the encapsulation
 * randomness m, so an encapsulation with a given m (a test replaying a handshake), and a
 * decapsulation with an expanded key (which node:crypto cannot import), go to `fallback`.
 * OpenSSL makes FIPS 203's checks: it refuses an encapsulation key that fails the modulus
 * check on import, and a ciphertext of the wrong length.
 */
function nodeMlKem(fallback: MlKem): MlKem {
  const keys = new WeakMap<Uint8Array, { seed: Uint8Array; key: KeyObject }>();
  const privateKey = (set: MlKemParameterSet, seed: Uint8Array) =>
    createPrivateKey({ key: seed, format: 'raw-seed', asymmetricKeyType: mlKemKeyType[set] });
  return {
    keyPair(set, seed) {
      if (seed) exactly(`${set} seed`, seed, ML_KEM_SEED);
      const key = seed ? privateKey(set, seed) : nodeCrypto.generateKeyPairSync(mlKemKeyType[set]).privateKey;
      const d = plain(key.export({ format: 'raw-seed' }));
      keys.set(d, { seed: d.slice(), key });
      return { privateKey: d, publicKey: plain(createPublicKey(key).export({ format: 'raw-public' })) };
    },
    encapsulate(set, encapsulationKey, m) {
      if (m) return fallback.encapsulate(set, encapsulationKey, m);
      exactly(`${set} encapsulation key`, encapsulationKey, mlKemSizes[set].encapsulationKey);
      const { sharedKey, ciphertext } = nodeCrypto.encapsulate({ key: encapsulationKey, format: 'raw-public', asymmetricKeyType: mlKemKeyType[set] });
      return { share: plain(ciphertext), secret: plain(sharedKey) };
    },
    decapsulate(set, d, ciphertext) {
      if (d.length !== ML_KEM_SEED) return fallback.decapsulate(set, d, ciphertext);
      exactly(`${set} ciphertext`, ciphertext, mlKemSizes[set].ciphertext);
      // Used once, as noble's expanded keys: a second call imports the seed again.
      const known = keys.get(d);
      keys.delete(d);
      const key = known && constantTimeEqual(known.seed, d) ? known.key : privateKey(set, d);
      return plain(nodeCrypto.decapsulate(key, ciphertext));
    },
  };
}

export interface NodeProviderOptions {
  /** Source of randomness; defaults to crypto.randomFillSync. */
  random?: (n: number) => Uint8Array;
  /**
   * Certificate signature checks remembered (./verify-cache.ts), default 128; 0 verifies every
   * signature every time (what node:tls does, and what the benchmark compares against).
   */
  verifyCacheSize?: number;
}

/**
 * randomFillSync costs about as much for 4 KiB as for 32 bytes (the call is the cost), and a
 * handshake asks for a handful of small pieces: draw them from a pool refilled 4 KiB at a
 * time. Bytes handed out are copies and are zeroed in the pool, so no value is ever given
 * twice or kept after use.
 */
const POOL_SIZE = 4096;
const pool = new Uint8Array(POOL_SIZE);
let poolAt = POOL_SIZE;

function defaultRandom(n: number): Uint8Array {
  if (n > 256) return randomFillSync(new Uint8Array(n));
  if (poolAt + n > POOL_SIZE) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const out = pool.slice(poolAt, poolAt + n);
  pool.fill(0, poolAt, poolAt + n);
  poolAt += n;
  return out;
}

export function createNodeProvider(options: NodeProviderOptions = {}): CryptoProvider {
  const random = options.random ?? defaultRandom;

  // KeyObjects built from our key structs, once per struct; public keys also by content,
  // since every connection parses the peer's certificates (the same ones, mostly) afresh
  // and an OpenSSL 3 key import costs about as much as a verification.
  const publicKeys = new WeakMap<PublicKey, KeyObject>();
  const publicKeysByContent = new Map<string, KeyObject>();
  const privateKeys = new WeakMap<PrivateKey, KeyObject>();
  const ephemeral = new WeakMap<Uint8Array, EphemeralState>();

  function publicKeyObject(key: PublicKey): KeyObject {
    let k = publicKeys.get(key);
    if (k) return k;
    const id = publicKeyId(key);
    k = publicKeysByContent.get(id);
    if (k) {
      // Least recently used goes first: move this one to the end.
      publicKeysByContent.delete(id);
    } else {
      switch (key.kind) {
        case 'ec':
          k = ecPublic(key.curve, key.point);
          break;
        case 'ed25519':
          k = okpPublic('Ed25519', key.key);
          break;
        case 'rsa':
          k = createPublicKey({ key: { kty: 'RSA', n: b64uInt(key.n), e: b64uInt(key.e) }, format: 'jwk' });
          break;
      }
      if (publicKeysByContent.size >= PUBLIC_KEY_CACHE_SIZE) publicKeysByContent.delete(publicKeysByContent.keys().next().value!);
    }
    publicKeysByContent.set(id, k);
    publicKeys.set(key, k);
    return k;
  }

  function privateKeyObject(key: PrivateKey): KeyObject {
    let k = privateKeys.get(key);
    if (!k) {
      switch (key.kind) {
        case 'ec':
          if (key.d.length !== ecSizes[key.curve]) throw new Error(`${key.curve}: private key must be ${ecSizes[key.curve]} bytes`);
          k = ecPrivate(key.curve, key.d);
          break;
        case 'ed25519':
          if (key.seed.length !== 32) throw new Error('Ed25519: private key must be 32 bytes');
          k = okpPrivate('Ed25519', key.seed);
          break;
        case 'rsa': {
          // As ./rsa.ts: refuse inconsistent CRT parameters rather than sign with them.
          if (key.p * key.q !== key.n) throw new Error('RSA private key: p * q != n');
          const { n, e, d, p, q, dp, dq, qi } = key;
          k = createPrivateKey({
            key: { kty: 'RSA', n: b64uInt(n), e: b64uInt(e), d: b64uInt(d), p: b64uInt(p), q: b64uInt(q), dp: b64uInt(dp), dq: b64uInt(dq), qi: b64uInt(qi) },
            format: 'jwk',
          });
          break;
        }
      }
      privateKeys.set(key, k);
    }
    return k;
  }

  function remember(priv: Uint8Array, state: Omit<EphemeralState, 'bytes'>): void {
    ephemeral.set(priv, { bytes: priv.slice(), ...state });
  }

  function recalled(priv: Uint8Array): EphemeralState | undefined {
    const s = ephemeral.get(priv);
    return s && constantTimeEqual(s.bytes, priv) ? s : undefined;
  }

  function nistEcdh(group: 'secp256r1' | 'secp384r1', priv: Uint8Array): ECDH {
    const { curve, size } = nistGroups[group];
    if (priv.length !== size) throw new Error(`${group}: private key must be ${size} bytes`);
    const ecdh = createECDH(curve);
    try {
      // Throws unless 1 <= d < n.
      ecdh.setPrivateKey(priv);
    } catch (err) {
      throw new Error(`${group}: invalid private key`, { cause: err });
    }
    return ecdh;
  }

  function ecdhKeyPair(group: EcdhGroup, privateKey?: Uint8Array): KeyPair {
    if (group === 'x25519' || group === 'x448') {
      const { alg, size } = montgomeryGroups[group];
      const priv = privateKey ? privateKey.slice() : random(size);
      if (priv.length !== size) throw new Error(`${group}: private key must be ${size} bytes`);
      const key = okpPrivate(alg, priv);
      const pair = { privateKey: priv, publicKey: okpRawPublic(createPublicKey(key), size) };
      remember(priv, { key });
      return pair;
    }
    const g = nistGroups[group];
    if (!g) throw new Error(`unsupported group ${String(group)}`);
    let priv: Uint8Array;
    if (privateKey) {
      priv = privateKey.slice();
    } else {
      // Rejection sampling as noble does: uniform in [1, n-1], from the injected source.
      do priv = random(g.size);
      while (!validScalar(priv, g.order));
    }
    const ecdh = nistEcdh(group, priv);
    const pair = { privateKey: priv, publicKey: plain(ecdh.getPublicKey()) };
    remember(priv, { ecdh });
    return pair;
  }

  function validScalar(b: Uint8Array, order: bigint): boolean {
    const n = bytesToBigInt(b);
    return n > 0n && n < order;
  }

  function ecdh(group: EcdhGroup, privateKey: Uint8Array, peerPublic: Uint8Array): Uint8Array {
    if (group === 'x25519' || group === 'x448') {
      const { alg, size } = montgomeryGroups[group];
      // OpenSSL refuses an all-zero result itself (a low-order peer key): that throws too.
      return montgomerySharedSecret(group, size, privateKey, peerPublic, () => {
        const key = recalled(privateKey)?.key ?? okpPrivate(alg, privateKey);
        return plain(diffieHellman({ privateKey: key, publicKey: okpPublic(alg, peerPublic) }));
      });
    }
    const g = nistGroups[group];
    if (!g) throw new Error(`unsupported group ${String(group)}`);
    // TLS 1.3 (and our TLS 1.2 ec_point_formats) only allow the uncompressed form; OpenSSL
    // would also take the compressed and hybrid ones.
    if (peerPublic.length !== 1 + 2 * g.size || peerPublic[0] !== 0x04) throw new Error(`${group}: peer key is not an uncompressed point`);
    const ecdh = recalled(privateKey)?.ecdh ?? nistEcdh(group, privateKey);
    try {
      // Throws for a point not on the curve; the result is the X coordinate, left-padded.
      return plain(ecdh.computeSecret(peerPublic));
    } catch (err) {
      throw new Error(`${group}: invalid peer key (or private key)`, { cause: err });
    }
  }

  const verify = schemeVerify({
    ecdsa(hash, key, message, signature) {
      const size = ecSizes[key.curve];
      if (!size || !wellFormedPoint(key.point, size)) return false;
      const compact = ecdsaDerToCompact(signature, size);
      if (!compact) return false;
      return nodeVerify(hash, message, { key: publicKeyObject(key), dsaEncoding: 'ieee-p1363' }, compact);
    },
    ed25519(key, message, signature) {
      if (!ed25519Acceptable(key.key, signature)) return false;
      if (nodeVerify(null, message, publicKeyObject(key), signature)) return true;
      // OpenSSL checks the cofactorless equation [S]B = R + [k]A, noble the cofactored one
      // (RFC 8032 allows both). They disagree only when R or A has a small-order component,
      // which no honest signer produces; to keep one behaviour, a signature OpenSSL refuses
      // gets noble's check (cost only on failure, which ends the handshake anyway).
      return ed25519.verify(signature, message, key.key, { zip215: false });
    },
    rsa(padding, hash, key, message, signature) {
      if (!rsaSignatureRepresentative(key, signature)) return false;
      return nodeVerify(hash, message, { key: publicKeyObject(key), ...rsaPadding(padding, hash) }, signature);
    },
  });

  const sign = schemeSign({
    ecdsa: (hash, key, message) => plain(nodeSign(hash, message, { key: privateKeyObject(key), dsaEncoding: 'der' })),
    ed25519: (key, message) => plain(nodeSign(null, message, privateKeyObject(key))),
    rsa(padding, hash, key, message) {
      checkSigningKey(key);
      return plain(nodeSign(hash, message, { key: privateKeyObject(key), ...rsaPadding(padding, hash) }));
    },
  });

  return {
    name: 'node',
    random,
    hash: (name, data) => plain(digestOf(name, data)),
    createHash: (name) => wrapHash(nodeCreateHash(name)),
    hmac,
    hkdfExtract,
    hkdfExpand,
    aead: makeAead,
    recordNumberMask: (name, key, sample) => {
      if (sample.length !== 16) throw new Error('the record number mask takes a 16-byte sample');
      // node's chacha20 takes the 16-byte counter (little-endian) + nonce block: exactly the sample.
      const cipher =
        name === 'CHACHA20-POLY1305' ? nodeCrypto.createCipheriv('chacha20', key, sample) : nodeCrypto.createCipheriv(key.length === 32 ? 'aes-256-ecb' : 'aes-128-ecb', key, null).setAutoPadding(false);
      return plain(cipher.update(name === 'CHACHA20-POLY1305' ? new Uint8Array(16) : sample));
    },
    // node:crypto's ML-KEM only with node:crypto's randomness: it cannot take an injected source.
    ...kemKeyExchange({ random, ecdhKeyPair, ecdh, mlkem: nodeHasMlKem && !options.random ? nodeMlKem(nobleMlKem(random)) : undefined }),
    verify: cachedVerify(verify, options.verifyCacheSize),
    verifyRsaPss: rsaPssVerifier((name, data) => plain(digestOf(name, data))),
    sign,
  };
}

export const nodeProvider: CryptoProvider = createNodeProvider();
