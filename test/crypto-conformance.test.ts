/**
 * The two crypto providers against each other: the same known answers, the same
 * strictness on bad input, and interoperability (what one seals, signs or shares, the
 * other opens, verifies or derives), up to a full handshake with one provider on each side.
 */
import { constants, createPrivateKey, createPublicKey, generateKeyPairSync, randomInt, sign as nodeSign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Connection } from '../src/connection.js';
import type { EcdhGroup } from '../src/crypto/groups.js';
import { nobleProvider } from '../src/crypto/noble.js';
import { nodeProvider, createNodeProvider } from '../src/crypto/node.js';
import type { AeadName, CryptoProvider, GroupName, HashName, PrivateKey, PublicKey, SignatureSchemeName } from '../src/crypto/provider.js';
import { CIPHER_SUITES } from '../src/messages/constants.js';
import { concat, fromHex, toHex, utf8 } from '../src/util/bytes.js';
import { encodeSequence, encodeUnsigned } from '../src/util/der.js';
import { AEAD_VECTORS, ECDH_RFC7748, ED25519_RFC8032_1, ED25519_SPECCHECK, HASH_ABC, HKDF_RFC5869, HMAC_RFC4231_2, P256_RFC6979 } from './helpers/kat.js';
import { defaultClientOptions, defaultServerOptions } from './helpers/pair.js';
import { LEAVES, certifiedKey, readPki, rootCa, type LeafName } from './helpers/pki.js';

const PROVIDERS: CryptoProvider[] = [nobleProvider, nodeProvider];
/** Both orders: [A, B] means A produces, B consumes. */
const PAIRS: [CryptoProvider, CryptoProvider][] = [
  [nobleProvider, nodeProvider],
  [nodeProvider, nobleProvider],
];

const HASHES: HashName[] = ['sha256', 'sha384', 'sha512'];
const GROUPS: GroupName[] = ['x25519', 'secp256r1', 'secp384r1', 'x448'];
const AEADS: AeadName[] = ['AES-128-GCM', 'AES-256-GCM', 'CHACHA20-POLY1305', 'AES-128-CCM', 'AES-128-CCM-8'];
const TAG_LENGTH: Record<AeadName, number> = { 'AES-128-GCM': 16, 'AES-256-GCM': 16, 'CHACHA20-POLY1305': 16, 'AES-128-CCM': 16, 'AES-128-CCM-8': 8 };
const KEY_LENGTH: Record<AeadName, number> = { 'AES-128-GCM': 16, 'AES-256-GCM': 32, 'CHACHA20-POLY1305': 32, 'AES-128-CCM': 16, 'AES-128-CCM-8': 16 };
const PRIVATE_LENGTH: Record<EcdhGroup, number> = { x25519: 32, x448: 56, secp256r1: 32, secp384r1: 48 };

const rand = (n: number) => nodeProvider.random(n);

function flip(b: Uint8Array, i: number, bit = 1): Uint8Array {
  const c = b.slice();
  c[(i + c.length) % c.length]! ^= bit;
  return c;
}

// ---- test keys ----

const leafKeys = Object.fromEntries(
  LEAVES.map((name) => {
    const ck = certifiedKey(name);
    return [name, { priv: ck.key, pub: ck.chain[0]!.publicKey }];
  }),
) as Record<Exclude<LeafName, 'client-ecdsa-p256'>, { priv: PrivateKey; pub: PublicKey }>;

const SCHEMES_FOR: Record<keyof typeof leafKeys, SignatureSchemeName[]> = {
  // The scheme picks the hash, the key picks the curve: both ECDSA schemes work with either curve.
  'leaf-ecdsa-p256': ['ecdsa_secp256r1_sha256', 'ecdsa_secp384r1_sha384'],
  'leaf-ecdsa-p384': ['ecdsa_secp384r1_sha384', 'ecdsa_secp256r1_sha256'],
  'leaf-ed25519': ['ed25519'],
  'leaf-rsa2048': ['rsa_pss_rsae_sha256', 'rsa_pss_rsae_sha384', 'rsa_pss_rsae_sha512', 'rsa_pkcs1_sha256', 'rsa_pkcs1_sha384', 'rsa_pkcs1_sha512'],
};

const ALL_SCHEMES = Object.values(SCHEMES_FOR).flat();

function rsaJwk(k: PrivateKey) {
  if (k.kind !== 'rsa') throw new Error('not RSA');
  const b = (v: bigint) => {
    let hex = v.toString(16);
    if (hex.length % 2) hex = '0' + hex;
    return Buffer.from(hex, 'hex').toString('base64url');
  };
  return { kty: 'RSA', n: b(k.n), e: b(k.e), d: b(k.d), p: b(k.p), q: b(k.q), dp: b(k.dp), dq: b(k.dq), qi: b(k.qi) };
}

/** A 768-bit RSA key: below the 1024-bit floor both providers keep. */
const SMALL_RSA: PrivateKey = (() => {
  const jwk = generateKeyPairSync('rsa', { modulusLength: 768 }).privateKey.export({ format: 'jwk' });
  const big = (s: string | undefined) => BigInt('0x' + Buffer.from(s!, 'base64url').toString('hex'));
  return { kind: 'rsa', n: big(jwk.n), e: big(jwk.e), d: big(jwk.d), p: big(jwk.p), q: big(jwk.q), dp: big(jwk.dp), dq: big(jwk.dq), qi: big(jwk.qi), bits: 768 };
})();

/** An ECDSA DER signature's r and s as bigints (minimal encodings only, which both providers produce). */
function ecdsaParts(sig: Uint8Array): { r: bigint; s: bigint } {
  let at = 2;
  const read = () => {
    const len = sig[at + 1]!;
    const v = sig.subarray(at + 2, at + 2 + len);
    at += 2 + len;
    return BigInt('0x' + toHex(v));
  };
  return { r: read(), s: read() };
}

const ORDER = {
  'P-256': 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  'P-384': 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
};

// ---- the same known answers and the same strictness, provider by provider ----

describe.each(PROVIDERS)('$name provider', (p) => {
  describe('hashes, HMAC, HKDF', () => {
    it('SHA-2 of "abc" (FIPS 180-2), one-shot and incremental', () => {
      for (const h of HASHES) {
        expect(toHex(p.hash(h, utf8.encode('abc')))).toBe(HASH_ABC[h]);
        expect(toHex(p.createHash(h).update(utf8.encode('a')).update(utf8.encode('bc')).digest())).toBe(HASH_ABC[h]);
      }
    });

    it('digest leaves the running hash usable; clone snapshots', () => {
      const h = p.createHash('sha384').update(utf8.encode('a'));
      const snap = h.clone();
      h.update(utf8.encode('bc'));
      expect(toHex(h.digest())).toBe(HASH_ABC.sha384);
      expect(toHex(h.digest())).toBe(HASH_ABC.sha384);
      expect(toHex(snap.digest())).toBe(toHex(p.hash('sha384', utf8.encode('a'))));
      snap.update(utf8.encode('bc'));
      expect(toHex(snap.digest())).toBe(HASH_ABC.sha384);
      expect(h.digest()).toBeInstanceOf(Uint8Array);
    });

    it('HMAC (RFC 4231 test case 2)', () => {
      for (const h of HASHES) {
        expect(toHex(p.hmac(h, utf8.encode(HMAC_RFC4231_2.key), utf8.encode(HMAC_RFC4231_2.data)))).toBe(HMAC_RFC4231_2[h]);
      }
    });

    it.each(HKDF_RFC5869)('HKDF extract and expand separately ($name)', (v) => {
      const prk = p.hkdfExtract('sha256', fromHex(v.salt), fromHex(v.ikm));
      expect(toHex(prk)).toBe(v.prk);
      expect(toHex(p.hkdfExpand('sha256', prk, fromHex(v.info), v.okm.length / 2))).toBe(v.okm);
    });

    it('HKDF-Expand refuses more than 255 blocks', () => {
      expect(p.hkdfExpand('sha256', new Uint8Array(32), new Uint8Array(0), 255 * 32).length).toBe(255 * 32);
      expect(() => p.hkdfExpand('sha256', new Uint8Array(32), new Uint8Array(0), 255 * 32 + 1)).toThrow();
    });

    it('random', () => {
      expect(p.random(0).length).toBe(0);
      const big = p.random(200_000);
      expect(big.length).toBe(200_000);
      expect(big.subarray(150_000).some((x) => x !== 0)).toBe(true);
      expect(toHex(p.random(16))).not.toBe(toHex(p.random(16)));
    });
  });

  describe('AEAD', () => {
    it.each(AEAD_VECTORS)('$aead known answer ($source)', (v) => {
      const a = p.aead(v.aead, fromHex(v.key));
      expect(a.tagLength).toBe(TAG_LENGTH[v.aead]);
      const sealed = a.seal(fromHex(v.nonce), fromHex(v.plaintext), fromHex(v.aad));
      expect(toHex(sealed)).toBe(v.sealed);
      expect(toHex(a.open(fromHex(v.nonce), sealed, fromHex(v.aad))!)).toBe(v.plaintext);
    });

    it.each(AEADS)('%s: every tampering makes open return null', (name) => {
      const a = p.aead(name, rand(KEY_LENGTH[name]));
      const nonce = rand(12);
      const aad = utf8.encode('header');
      const sealed = a.seal(nonce, utf8.encode('attack at dawn'), aad);
      for (let i = 0; i < sealed.length; i++) expect(a.open(nonce, flip(sealed, i, 0x80), aad)).toBeNull();
      expect(a.open(nonce, sealed, utf8.encode('Header'))).toBeNull();
      expect(a.open(nonce, sealed, new Uint8Array(0))).toBeNull();
      expect(a.open(flip(nonce, 11), sealed, aad)).toBeNull();
      expect(a.open(nonce, sealed.subarray(0, sealed.length - 1), aad)).toBeNull();
      expect(a.open(nonce, sealed.subarray(1), aad)).toBeNull();
      expect(a.open(nonce, sealed.subarray(0, a.tagLength - 1), aad)).toBeNull();
      expect(a.open(nonce, new Uint8Array(0), aad)).toBeNull();
      expect(a.open(nonce, concat(sealed, new Uint8Array(1)), aad)).toBeNull();
      // A different key of the same kind.
      expect(p.aead(name, rand(KEY_LENGTH[name])).open(nonce, sealed, aad)).toBeNull();
      expect(utf8.decode(a.open(nonce, sealed, aad)!)).toBe('attack at dawn');
    });

    it.each(AEADS)('%s: empty plaintext and AAD, whatever buffer they sit in', (name) => {
      const key = rand(KEY_LENGTH[name]);
      const nonce = rand(12);
      const a = p.aead(name, key);
      const empties = [new Uint8Array(0), new Uint8Array(new ArrayBuffer(0)), new Uint8Array(8).subarray(3, 3), Buffer.alloc(0)];
      const sealed = empties.map((e) => toHex(a.seal(nonce, e, e)));
      expect(new Set(sealed).size).toBe(1);
      expect(sealed[0]!.length).toBe(2 * TAG_LENGTH[name]);
      for (const e of empties) expect(a.open(nonce, fromHex(sealed[0]!), e)?.length).toBe(0);
    });

    it('refuses wrong key and nonce lengths by throwing', () => {
      expect(() => p.aead('AES-128-GCM', new Uint8Array(32))).toThrow();
      expect(() => p.aead('AES-256-GCM', new Uint8Array(16))).toThrow();
      expect(() => p.aead('CHACHA20-POLY1305', new Uint8Array(16))).toThrow();
      expect(() => p.aead('AES-128-CCM', new Uint8Array(32))).toThrow();
      expect(() => p.aead('AES-128-CCM-8', new Uint8Array(15))).toThrow();
      const a = p.aead('AES-128-GCM', new Uint8Array(16));
      expect(() => a.seal(new Uint8Array(8), new Uint8Array(1), new Uint8Array(0))).toThrow();
      expect(() => a.open(new Uint8Array(16), new Uint8Array(32), new Uint8Array(0))).toThrow();
    });

    it('keeps its own copy of the key', () => {
      const key = rand(16);
      const nonce = rand(12);
      const a = p.aead('AES-128-GCM', key);
      const before = a.seal(nonce, utf8.encode('x'), new Uint8Array(0));
      key.fill(0);
      expect(toHex(a.seal(nonce, utf8.encode('x'), new Uint8Array(0)))).toBe(toHex(before));
    });
  });

  describe('key exchange', () => {
    it.each(['x25519', 'x448'] as const)('%s (RFC 7748 section 6)', (group) => {
      const v = ECDH_RFC7748[group];
      expect(toHex(p.generateKeyPair(group, fromHex(v.alicePrivate)).publicKey)).toBe(v.alicePublic);
      expect(toHex(p.generateKeyPair(group, fromHex(v.bobPrivate)).publicKey)).toBe(v.bobPublic);
      expect(toHex(p.decapsulate(group, fromHex(v.alicePrivate), fromHex(v.bobPublic)))).toBe(v.shared);
      expect(toHex(p.decapsulate(group, fromHex(v.bobPrivate), fromHex(v.alicePublic)))).toBe(v.shared);
    });

    it('P-256 public key from a given private key (RFC 6979 A.2.5); the shared secret is an X coordinate', () => {
      expect(toHex(p.generateKeyPair('secp256r1', fromHex(P256_RFC6979.d)).publicKey)).toBe(P256_RFC6979.publicKey);
      const one = new Uint8Array(32);
      one[31] = 1;
      const peer = fromHex(P256_RFC6979.publicKey);
      expect(toHex(p.decapsulate('secp256r1', one, peer))).toBe(toHex(peer.subarray(1, 33)));
    });

    it('X25519 refuses the low-order points of RFC 7748 (and their non-canonical forms) and wrong lengths', () => {
      const priv = p.generateKeyPair('x25519').privateKey;
      const lowOrder = [
        '0000000000000000000000000000000000000000000000000000000000000000',
        '0100000000000000000000000000000000000000000000000000000000000000',
        'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
        '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
        'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
        'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
        'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
        // The same with the (ignored) top bit set.
        '0000000000000000000000000000000000000000000000000000000000000080',
        '0100000000000000000000000000000000000000000000000000000000000080',
        'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880',
        'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
      ];
      for (const point of lowOrder) expect(() => p.decapsulate('x25519', priv, fromHex(point)), point).toThrow();
      expect(() => p.decapsulate('x25519', priv, new Uint8Array(31).fill(9))).toThrow();
      expect(() => p.decapsulate('x25519', priv, new Uint8Array(33).fill(9))).toThrow();
      expect(() => p.decapsulate('x25519', priv.subarray(1), new Uint8Array(32).fill(9))).toThrow();
    });

    it('X448 refuses low-order points and wrong lengths', () => {
      const priv = p.generateKeyPair('x448').privateKey;
      const pMinus1 = new Uint8Array(56).fill(0xff);
      pMinus1[0] = 0xfe;
      pMinus1[28] = 0xfe;
      for (const point of [new Uint8Array(56), Uint8Array.of(1, ...new Uint8Array(55)), pMinus1]) {
        expect(() => p.decapsulate('x448', priv, point)).toThrow();
      }
      expect(() => p.decapsulate('x448', priv, new Uint8Array(32).fill(5))).toThrow();
    });

    it.each(['secp256r1', 'secp384r1'] as const)('%s refuses invalid peer points', (group) => {
      const size = PRIVATE_LENGTH[group];
      const a = p.generateKeyPair(group);
      const b = p.generateKeyPair(group);
      const bad: [string, Uint8Array][] = [
        ['off the curve', flip(b.publicKey, -1)],
        ['compressed', Uint8Array.of(2 + (b.publicKey[2 * size]! & 1), ...b.publicKey.subarray(1, 1 + size))],
        ['hybrid', Uint8Array.of(6 + (b.publicKey[2 * size]! & 1), ...b.publicKey.subarray(1))],
        ['truncated', b.publicKey.subarray(0, 2 * size)],
        ['too long', concat(b.publicKey, new Uint8Array(1))],
        ['all zero', new Uint8Array(1 + 2 * size)],
        ['04 then zeros', Uint8Array.of(4, ...new Uint8Array(2 * size))],
        ['infinity', new Uint8Array(1)],
        ['empty', new Uint8Array(0)],
        ['x = p', Uint8Array.of(4, ...new Uint8Array(size).fill(0xff), ...b.publicKey.subarray(1 + size))],
        ['the other curve', p.generateKeyPair(group === 'secp256r1' ? 'secp384r1' : 'secp256r1').publicKey],
      ];
      for (const [what, point] of bad) expect(() => p.decapsulate(group, a.privateKey, point), what).toThrow();
      // And the good one still works.
      expect(p.decapsulate(group, a.privateKey, b.publicKey).length).toBe(size);
    });

    it.each(['secp256r1', 'secp384r1'] as const)('%s refuses private keys of zero, the group order and beyond, and of the wrong length', (group) => {
      const size = PRIVATE_LENGTH[group];
      const order = fromHex(ORDER[group === 'secp256r1' ? 'P-256' : 'P-384'].toString(16));
      expect(() => p.generateKeyPair(group, new Uint8Array(size))).toThrow();
      expect(() => p.generateKeyPair(group, order)).toThrow();
      expect(() => p.generateKeyPair(group, new Uint8Array(size).fill(0xff))).toThrow();
      expect(() => p.generateKeyPair(group, new Uint8Array(size - 1).fill(1))).toThrow();
      expect(() => p.generateKeyPair(group, new Uint8Array(size + 1).fill(1))).toThrow();
      const orderMinus1 = order.slice();
      orderMinus1[size - 1]! -= 1;
      expect(p.generateKeyPair(group, orderMinus1).publicKey.length).toBe(1 + 2 * size);
    });

    it.each(['x25519', 'x448'] as const)('%s refuses private keys of the wrong length', (group) => {
      expect(() => p.generateKeyPair(group, new Uint8Array(PRIVATE_LENGTH[group] - 1))).toThrow();
    });

    it('uses a private key that changed after generateKeyPair as it is now', () => {
      const a = p.generateKeyPair('secp256r1');
      const b = p.generateKeyPair('secp256r1');
      const before = toHex(p.decapsulate('secp256r1', a.privateKey, b.publicKey));
      a.privateKey.set(b.privateKey);
      // a.privateKey is now b's key: b * B, not a * B.
      expect(toHex(p.decapsulate('secp256r1', a.privateKey, b.publicKey))).not.toBe(before);
      expect(toHex(p.decapsulate('secp256r1', a.privateKey, b.publicKey))).toBe(toHex(p.decapsulate('secp256r1', b.privateKey, b.publicKey)));
    });
  });

  describe('signatures', () => {
    it('Ed25519 (RFC 8032 7.1 test 1)', () => {
      const v = ED25519_RFC8032_1;
      const priv: PrivateKey = { kind: 'ed25519', seed: fromHex(v.seed), key: fromHex(v.publicKey) };
      expect(toHex(p.sign('ed25519', priv, fromHex(v.message)))).toBe(v.signature);
      expect(p.verify('ed25519', { kind: 'ed25519', key: fromHex(v.publicKey) }, fromHex(v.message), fromHex(v.signature))).toBe(true);
    });

    // Noble's strict (RFC 8032, cofactored) verification; OpenSSL alone is cofactorless and
    // would refuse 4, 7 and 8, and accept some small-order keys: node.ts makes up for both.
    const SPECCHECK_ACCEPTED = [false, false, false, false, true, true, true, true, true, false, false, false, false, false, false];
    it.each(ED25519_SPECCHECK.map((c, i) => ({ ...c, i })))('Ed25519 edge case $i of "Taming the many EdDSAs"', (c) => {
      expect(p.verify('ed25519', { kind: 'ed25519', key: fromHex(c.publicKey) }, fromHex(c.message), fromHex(c.signature))).toBe(SPECCHECK_ACCEPTED[c.i]);
    });

    it('Ed25519 refuses every small-order public key, in every encoding', () => {
      const ys = [
        '0000000000000000000000000000000000000000000000000000000000000000',
        '0100000000000000000000000000000000000000000000000000000000000000',
        'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
        'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
        '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
      ];
      const msg = utf8.encode('m');
      for (const y of ys) {
        for (const sign of [0, 0x80]) {
          const key = fromHex(y);
          key[31]! |= sign;
          // R = identity, S = 0: satisfies [S]B = R + [k]A whenever [k]A is the identity.
          const sig = concat(fromHex(ys[1]!), new Uint8Array(32));
          expect(p.verify('ed25519', { kind: 'ed25519', key }, msg, sig)).toBe(false);
        }
      }
    });

    it('Ed25519 refuses S >= L and non-canonical R', () => {
      const v = ED25519_RFC8032_1;
      const key = { kind: 'ed25519', key: fromHex(v.publicKey) } as const;
      const sig = fromHex(v.signature);
      const L = 2n ** 252n + 27742317777372353535851937790883648493n;
      let s = 0n;
      for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i]!);
      const sPlusL = s + L;
      const high = sig.slice();
      for (let i = 0, v2 = sPlusL; i < 32; i++, v2 >>= 8n) high[32 + i] = Number(v2 & 0xffn);
      expect(p.verify('ed25519', key, new Uint8Array(0), high)).toBe(false);
      const nonCanonicalR = sig.slice();
      nonCanonicalR.set(fromHex('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'), 0);
      expect(p.verify('ed25519', key, new Uint8Array(0), nonCanonicalR)).toBe(false);
    });

    it.each(['leaf-ecdsa-p256', 'leaf-ecdsa-p384'] as const)('ECDSA with %s: strict DER, any valid S', (leaf) => {
      const { priv, pub } = leafKeys[leaf];
      if (pub.kind !== 'ec') throw new Error('not EC');
      const n = ORDER[pub.curve];
      const size = pub.curve === 'P-256' ? 32 : 48;
      const scheme = SCHEMES_FOR[leaf][0]!;
      const msg = utf8.encode('signed content');
      const sig = p.sign(scheme, priv, msg);
      expect(sig[0]).toBe(0x30);
      expect(p.verify(scheme, pub, msg, sig)).toBe(true);
      const { r, s } = ecdsaParts(sig);
      const der = (r: bigint, s: bigint) => encodeSequence(encodeUnsigned(r), encodeUnsigned(s));
      // The canonical re-encoding verifies; so does the other S (no low-S rule, as in TLS).
      expect(p.verify(scheme, pub, msg, der(r, s))).toBe(true);
      expect(p.verify(scheme, pub, msg, der(r, n - s))).toBe(true);
      const bad: [string, Uint8Array][] = [
        ['trailing byte', concat(sig, new Uint8Array(1))],
        ['long-form length', Uint8Array.of(0x30, 0x81, sig[1]!, ...sig.subarray(2))],
        ['non-minimal INTEGER', encodeSequenceRaw(intRaw(concat(new Uint8Array(2), bigBytesNoPad(r, false))), intRaw(bigBytesNoPad(s, false)))],
        ['negative r', encodeSequenceRaw(intRaw(bigBytesNoPad(r, true)), intRaw(bigBytes(s, size)))],
        ['r = 0', der(0n, s)],
        ['s = 0', der(r, 0n)],
        ['r = n', der(n, s)],
        ['s = n', der(r, n)],
        ['r + n', der(r + n, s)],
        ['raw r || s', concat(bigBytes(r, size), bigBytes(s, size))],
        ['empty', new Uint8Array(0)],
        ['SET instead of SEQUENCE', Uint8Array.of(0x31, ...sig.subarray(1))],
        ['last byte flipped', flip(sig, -1)],
      ];
      for (const [what, b] of bad) expect(p.verify(scheme, pub, msg, b), what).toBe(false);
      expect(p.verify(scheme, pub, utf8.encode('other content'), sig)).toBe(false);
      // The point must be a point of the key's curve.
      expect(p.verify(scheme, { ...pub, point: flip(pub.point, -1) }, msg, sig)).toBe(false);
      expect(p.verify(scheme, { ...pub, point: pub.point.subarray(0, 1 + size) }, msg, sig)).toBe(false);
      expect(p.verify(scheme, { ...pub, curve: pub.curve === 'P-256' ? 'P-384' : 'P-256' }, msg, sig)).toBe(false);
    });

    it('RSA: PSS salt must be the hash length; PSS and PKCS#1 do not stand in for each other', () => {
      const { priv, pub } = leafKeys['leaf-rsa2048'];
      const msg = utf8.encode('signed content');
      const pem = readPki('leaf-rsa2048.key');
      const key = createPrivateKey(pem);
      for (const saltLength of [0, 20, 48, 64]) {
        const sig = nodeSign('sha256', msg, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
        expect(p.verify('rsa_pss_rsae_sha256', pub, msg, sig), `salt ${saltLength}`).toBe(false);
      }
      const good = nodeSign('sha256', msg, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
      expect(p.verify('rsa_pss_rsae_sha256', pub, msg, good)).toBe(true);
      const pss = p.sign('rsa_pss_rsae_sha256', priv, msg);
      const pkcs1 = p.sign('rsa_pkcs1_sha256', priv, msg);
      expect(p.verify('rsa_pkcs1_sha256', pub, msg, pss)).toBe(false);
      expect(p.verify('rsa_pss_rsae_sha256', pub, msg, pkcs1)).toBe(false);
      expect(p.verify('rsa_pss_rsae_sha384', pub, msg, pss)).toBe(false);
      expect(p.verify('rsa_pkcs1_sha384', pub, msg, pkcs1)).toBe(false);
      if (pub.kind !== 'rsa') throw new Error('not RSA');
      // The signature must be exactly k bytes and below n.
      for (const sig of [pss, pkcs1]) {
        expect(p.verify('rsa_pkcs1_sha256', pub, msg, concat(new Uint8Array(1), sig))).toBe(false);
        expect(p.verify('rsa_pkcs1_sha256', pub, msg, sig.subarray(1))).toBe(false);
      }
      expect(p.verify('rsa_pkcs1_sha256', pub, msg, new Uint8Array(256).fill(0xff))).toBe(false);
      // Keys that are too small or have a bad exponent are refused before any arithmetic.
      expect(p.verify('rsa_pkcs1_sha256', { ...pub, e: 2n }, msg, pkcs1)).toBe(false);
      expect(p.verify('rsa_pkcs1_sha256', { ...pub, e: 1n }, msg, pkcs1)).toBe(false);
      // A valid signature by a 768-bit key (OpenSSL alone would take it).
      const small = createPrivateKey({ key: rsaJwk(SMALL_RSA), format: 'jwk' });
      const smallPub: PublicKey = SMALL_RSA.kind === 'rsa' ? { kind: 'rsa', n: SMALL_RSA.n, e: SMALL_RSA.e, bits: 768 } : pub;
      expect(p.verify('rsa_pkcs1_sha256', smallPub, msg, nodeSign('sha256', msg, { key: small, padding: constants.RSA_PKCS1_PADDING }))).toBe(false);
      expect(
        p.verify('rsa_pss_rsae_sha256', smallPub, msg, nodeSign('sha256', msg, { key: small, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })),
      ).toBe(false);
    });

    it('RSA signing refuses keys below 1024 bits and inconsistent keys', () => {
      const { priv } = leafKeys['leaf-rsa2048'];
      if (priv.kind !== 'rsa') throw new Error('not RSA');
      expect(() => p.sign('rsa_pss_rsae_sha256', { ...priv, p: priv.p + 2n }, utf8.encode('m'))).toThrow();
      expect(() => p.sign('rsa_pkcs1_sha256', SMALL_RSA, utf8.encode('m'))).toThrow();
      expect(() => p.sign('rsa_pss_rsae_sha256', SMALL_RSA, utf8.encode('m'))).toThrow();
    });

    it('verify never throws: wrong key kinds, unknown schemes, garbage', () => {
      const msg = utf8.encode('m');
      const keys: PublicKey[] = [...Object.values(leafKeys).map((k) => k.pub), { kind: 'ed25519', key: new Uint8Array(5) }, { kind: 'ec', curve: 'P-256', point: new Uint8Array(0) }, { kind: 'rsa', n: 0n, e: 0n, bits: 0 }];
      const sigs = [new Uint8Array(0), new Uint8Array(64), rand(256), Uint8Array.of(0x30, 0x00), Uint8Array.of(0x30, 0x80)];
      for (const scheme of [...new Set(ALL_SCHEMES), 'ed448', 'nonsense'] as SignatureSchemeName[]) {
        for (const key of keys) for (const sig of sigs) expect(p.verify(scheme, key, msg, sig)).toBe(false);
      }
    });

    it('sign refuses a key of the wrong kind', () => {
      const msg = utf8.encode('m');
      expect(() => p.sign('ed25519', leafKeys['leaf-ecdsa-p256'].priv, msg)).toThrow();
      expect(() => p.sign('ecdsa_secp256r1_sha256', leafKeys['leaf-rsa2048'].priv, msg)).toThrow();
      expect(() => p.sign('rsa_pss_rsae_sha256', leafKeys['leaf-ed25519'].priv, msg)).toThrow();
      expect(() => p.sign('rsa_pkcs1_sha256', leafKeys['leaf-ecdsa-p384'].priv, msg)).toThrow();
    });
  });
});

function bigBytes(v: bigint, size: number): Uint8Array {
  return fromHex(v.toString(16).padStart(2 * size, '0'));
}
/** The magnitude without a sign octet: with `forceHigh`, one whose top bit is set (so DER reads it as negative). */
function bigBytesNoPad(v: bigint, forceHigh: boolean): Uint8Array {
  let hex = v.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  const b = fromHex(hex);
  if (forceHigh) b[0]! |= 0x80;
  return b;
}
function intRaw(content: Uint8Array): Uint8Array {
  return Uint8Array.of(0x02, content.length, ...content);
}
function encodeSequenceRaw(...items: Uint8Array[]): Uint8Array {
  const body = concat(...items);
  return body.length < 0x80 ? Uint8Array.of(0x30, body.length, ...body) : Uint8Array.of(0x30, 0x81, body.length, ...body);
}

// ---- one provider against the other ----

describe.each(PAIRS.map(([a, b]) => ({ a, b, label: `${a.name} → ${b.name}` })))('$label', ({ a, b }) => {
  it('hash, HMAC and HKDF agree on random inputs', () => {
    for (let i = 0; i < 20; i++) {
      const data = rand(randomInt(0, 300));
      const key = rand(randomInt(0, 200));
      for (const h of HASHES) {
        expect(toHex(b.hash(h, data))).toBe(toHex(a.hash(h, data)));
        expect(toHex(b.hmac(h, key, data))).toBe(toHex(a.hmac(h, key, data)));
        const prk = a.hkdfExtract(h, key, data);
        expect(toHex(b.hkdfExtract(h, key, data))).toBe(toHex(prk));
        const len = randomInt(0, 255 * 8);
        expect(toHex(b.hkdfExpand(h, prk, key, len))).toBe(toHex(a.hkdfExpand(h, prk, key, len)));
      }
    }
  });

  it.each(AEADS)('%s: A seals, B opens (and both seal alike)', (name) => {
    for (const len of [0, 1, 15, 16, 17, 255, 1000, 16385]) {
      const key = rand(KEY_LENGTH[name]);
      const nonce = rand(12);
      const aad = rand(randomInt(0, 30));
      const plaintext = rand(len);
      const sealed = a.aead(name, key).seal(nonce, plaintext, aad);
      expect(sealed.length).toBe(len + TAG_LENGTH[name]);
      expect(toHex(b.aead(name, key).seal(nonce, plaintext, aad))).toBe(toHex(sealed));
      expect(toHex(b.aead(name, key).open(nonce, sealed, aad)!)).toBe(toHex(plaintext));
      expect(b.aead(name, key).open(nonce, flip(sealed, randomInt(0, sealed.length)), aad)).toBeNull();
    }
  });

  it.each(GROUPS)('%s: the key pair of A and the key pair of B agree on the shared secret', (group) => {
    for (let i = 0; i < 3; i++) {
      const ka = a.generateKeyPair(group);
      const kb = b.generateKeyPair(group);
      expect(toHex(b.decapsulate(group, kb.privateKey, ka.publicKey))).toBe(toHex(a.decapsulate(group, ka.privateKey, kb.publicKey)));
      // The same private key gives the same public key in both.
      expect(toHex(b.generateKeyPair(group, ka.privateKey).publicKey)).toBe(toHex(ka.publicKey));
    }
  });

  it('X25519 / X448 public keys with the top bit set or >= p are read the same way', () => {
    for (const group of ['x25519', 'x448'] as const) {
      const k = a.generateKeyPair(group);
      const peer = b.generateKeyPair(group).publicKey.slice();
      if (group === 'x25519') peer[31]! |= 0x80;
      expect(toHex(b.decapsulate(group, k.privateKey, peer))).toBe(toHex(a.decapsulate(group, k.privateKey, peer)));
      // u = p + 2 (non-canonical, not of low order).
      const u = group === 'x25519' ? leBytes(2n ** 255n - 19n + 2n, 32) : leBytes(2n ** 448n - 2n ** 224n - 1n + 2n, 56);
      let sa: string | Error;
      let sb: string | Error;
      try {
        sa = toHex(a.decapsulate(group, k.privateKey, u));
      } catch (e) {
        sa = e as Error;
      }
      try {
        sb = toHex(b.decapsulate(group, k.privateKey, u));
      } catch (e) {
        sb = e as Error;
      }
      expect(typeof sb).toBe(typeof sa);
      if (typeof sa === 'string') expect(sb).toBe(sa);
    }
  });

  it.each(Object.keys(SCHEMES_FOR) as (keyof typeof SCHEMES_FOR)[])('%s: A signs, B verifies; tampering is refused by both', (leaf) => {
    const { priv, pub } = leafKeys[leaf];
    for (const scheme of SCHEMES_FOR[leaf]) {
      const msg = rand(randomInt(1, 200));
      const sig = a.sign(scheme, priv, msg);
      expect(b.verify(scheme, pub, msg, sig), scheme).toBe(true);
      expect(a.verify(scheme, pub, msg, sig), scheme).toBe(true);
      for (const [what, m, s] of [
        ['message bit', flip(msg, 0), sig],
        ['message end', flip(msg, -1, 0x80), sig],
        ['longer message', concat(msg, new Uint8Array(1)), sig],
        ['signature start', msg, flip(sig, 4)],
        ['signature end', msg, flip(sig, -1)],
        ['signature middle', msg, flip(sig, sig.length >> 1, 0x10)],
        ['truncated signature', msg, sig.subarray(0, sig.length - 1)],
      ] as const) {
        expect(b.verify(scheme, pub, m, s), `${scheme}: ${what}`).toBe(false);
        expect(a.verify(scheme, pub, m, s), `${scheme}: ${what}`).toBe(false);
      }
      // Another key of the same kind does not verify it.
      const other = Object.entries(leafKeys).find(([n, k]) => n !== leaf && k.pub.kind === pub.kind && SCHEMES_FOR[n as keyof typeof SCHEMES_FOR].includes(scheme));
      if (other) expect(b.verify(scheme, other[1].pub, msg, sig)).toBe(false);
    }
  });

  it('deterministic signatures come out byte for byte the same (Ed25519, RSA PKCS#1 v1.5)', () => {
    const msg = rand(100);
    expect(toHex(b.sign('ed25519', leafKeys['leaf-ed25519'].priv, msg))).toBe(toHex(a.sign('ed25519', leafKeys['leaf-ed25519'].priv, msg)));
    expect(toHex(b.sign('rsa_pkcs1_sha384', leafKeys['leaf-rsa2048'].priv, msg))).toBe(toHex(a.sign('rsa_pkcs1_sha384', leafKeys['leaf-rsa2048'].priv, msg)));
  });

  it('Ed25519 and ECDSA on fresh random keys', () => {
    for (let i = 0; i < 5; i++) {
      const seed = rand(32);
      const pubKey = ed25519Public(seed);
      const msg = rand(i * 10);
      const sig = a.sign('ed25519', { kind: 'ed25519', seed, key: pubKey }, msg);
      expect(b.verify('ed25519', { kind: 'ed25519', key: pubKey }, msg, sig)).toBe(true);
      for (const [group, curve, scheme] of [
        ['secp256r1', 'P-256', 'ecdsa_secp256r1_sha256'],
        ['secp384r1', 'P-384', 'ecdsa_secp384r1_sha384'],
      ] as const) {
        const kp = a.generateKeyPair(group);
        const ecSig = a.sign(scheme, { kind: 'ec', curve, d: kp.privateKey, point: kp.publicKey }, msg);
        expect(b.verify(scheme, { kind: 'ec', curve, point: kp.publicKey }, msg, ecSig)).toBe(true);
      }
    }
  });
});

function leBytes(v: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

function ed25519Public(seed: Uint8Array): Uint8Array {
  const der = concat(fromHex('302e020100300506032b657004220420'), seed);
  const spki = createPublicKey(createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(spki.length - 32));
}

// ---- the node provider's own corners ----

describe('node provider options', () => {
  it('uses an injected random source for key generation', () => {
    let calls = 0;
    const seeded = createNodeProvider({ random: (n) => (calls++, new Uint8Array(n).fill(0x42)) });
    expect(toHex(seeded.random(3))).toBe('424242');
    expect(toHex(seeded.generateKeyPair('x25519').privateKey)).toBe('42'.repeat(32));
    expect(toHex(seeded.generateKeyPair('secp256r1').privateKey)).toBe('42'.repeat(32));
    expect(calls).toBe(3);
  });
});

// ---- a whole handshake with one provider on each side ----

describe.each(PAIRS.map(([c, s]) => ({ c, s, label: `client on ${c.name}, server on ${s.name}` })))('handshake: $label', ({ c, s }) => {
  function handshake(clientExtra: object, serverExtra: object) {
    const client = Connection.client(defaultClientOptions({ provider: c, ...clientExtra }));
    const server = Connection.server(defaultServerOptions({ provider: s, ...serverExtra }));
    const got = { client: [] as string[], server: [] as string[], errors: [] as unknown[] };
    client.on('data', (d) => got.client.push(utf8.decode(d)));
    server.on('data', (d) => got.server.push(utf8.decode(d)));
    client.on('error', (e) => got.errors.push(e));
    server.on('error', (e) => got.errors.push(e));
    const pump = () => {
      for (let i = 0; i < 100; i++) {
        const a = client.takeOutput();
        const b = server.takeOutput();
        if (!a.length && !b.length) return;
        if (a.length) server.feed(a);
        if (b.length) client.feed(b);
      }
    };
    pump();
    expect(got.errors).toEqual([]);
    expect(client.state).toBe('ESTABLISHED');
    expect(server.state).toBe('ESTABLISHED');
    client.write(utf8.encode('ping'));
    server.write(utf8.encode('pong'));
    pump();
    expect(got.server.join('')).toBe('ping');
    expect(got.client.join('')).toBe('pong');
    if (client.protocol === 'TLSv1.3') {
      expect(toHex(client.exportKeyingMaterial(32, 'EXPERIMENTAL conformance'))).toBe(toHex(server.exportKeyingMaterial(32, 'EXPERIMENTAL conformance')));
    }
    return { client, server };
  }

  it.each(LEAVES)('TLS 1.3 with a %s server certificate', (leaf) => {
    const { client } = handshake({}, { certificates: [certifiedKey(leaf)] });
    expect(client.protocol).toBe('TLSv1.3');
  });

  const suites = CIPHER_SUITES.filter((x) => x.version === 'TLSv1.3').map((x) => x.name);
  it.each(suites.flatMap((suite) => GROUPS.map((group) => ({ suite, group }))))('TLS 1.3 $suite over $group', ({ suite, group }) => {
    const { client, server } = handshake({ cipherSuites: [suite], groups: [group] }, {});
    expect(client.cipher?.standardName).toBe(suite);
    expect(server.group).toBe(group);
  });

  it('TLS 1.3 with a client certificate', () => {
    const { server } = handshake({ certificate: certifiedKey('client-ecdsa-p256') }, { requestCert: true, ca: rootCa() });
    expect(server.peerCertificates.length).toBeGreaterThan(0);
  });

  it('TLS 1.2, when the engine speaks it', () => {
    const { client } = handshake({ maxVersion: 'TLSv1.2' }, {});
    expect(client.protocol).toBe('TLSv1.2');
  });
});
