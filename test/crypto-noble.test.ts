import { describe, expect, it } from 'vitest';
import { createNobleProvider, nobleProvider as p } from '../src/crypto/noble.js';
import type { EcdhGroup } from '../src/crypto/groups.js';
import type { AeadName } from '../src/crypto/provider.js';
import { fromHex, toHex, utf8 } from '../src/util/bytes.js';
import { AEAD_VECTORS, ECDH_RFC7748, ED25519_RFC8032_1, HASH_ABC, HKDF_RFC5869, HMAC_RFC4231_2, P256_RFC6979 } from './helpers/kat.js';

const abc = utf8.encode('abc');

describe('hashes', () => {
  it('SHA-256 / SHA-384 / SHA-512 of "abc" (FIPS 180-2)', () => {
    expect(toHex(p.hash('sha256', abc))).toBe(HASH_ABC.sha256);
    expect(toHex(p.hash('sha384', abc))).toBe(HASH_ABC.sha384);
    expect(toHex(p.hash('sha512', abc))).toBe(HASH_ABC.sha512);
  });

  it('incremental hash: clone snapshots, digest leaves the running hash usable', () => {
    const h = p.createHash('sha256').update(utf8.encode('a'));
    const snap = h.clone();
    h.update(utf8.encode('bc'));
    expect(toHex(h.digest())).toBe(toHex(p.hash('sha256', abc)));
    expect(toHex(h.digest())).toBe(toHex(p.hash('sha256', abc)));
    expect(toHex(snap.digest())).toBe(toHex(p.hash('sha256', utf8.encode('a'))));
    snap.update(utf8.encode('bc'));
    expect(toHex(snap.digest())).toBe(toHex(p.hash('sha256', abc)));
  });

  it('HMAC-SHA-256/384/512 (RFC 4231 test case 2)', () => {
    const key = utf8.encode(HMAC_RFC4231_2.key);
    const data = utf8.encode(HMAC_RFC4231_2.data);
    for (const name of ['sha256', 'sha384', 'sha512'] as const) expect(toHex(p.hmac(name, key, data))).toBe(HMAC_RFC4231_2[name]);
  });

  // Test case 3 has an empty salt: HKDF-Extract must treat it as a zero salt of hash length.
  it.each(HKDF_RFC5869)('HKDF-SHA-256 ($name)', (v) => {
    const prk = p.hkdfExtract('sha256', fromHex(v.salt), fromHex(v.ikm));
    expect(toHex(prk)).toBe(v.prk);
    expect(toHex(p.hkdfExpand('sha256', prk, fromHex(v.info), v.okm.length / 2))).toBe(v.okm);
  });
});

describe('AEAD', () => {
  // GCM spec test cases 4 and 16, RFC 8439 section 2.8.2, Wycheproof and SP 800-38C CCM.
  it.each(AEAD_VECTORS)('$aead ($source)', (v) => {
    const a = p.aead(v.aead, fromHex(v.key));
    expect(a.tagLength).toBe(v.aead === 'AES-128-CCM-8' ? 8 : 16);
    const sealed = a.seal(fromHex(v.nonce), fromHex(v.plaintext), fromHex(v.aad));
    expect(toHex(sealed)).toBe(v.sealed);
    expect(toHex(a.open(fromHex(v.nonce), sealed, fromHex(v.aad))!)).toBe(v.plaintext);
  });

  it.each<AeadName>(['AES-128-GCM', 'AES-256-GCM', 'CHACHA20-POLY1305'])('%s: tampering makes open return null', (name) => {
    const a = p.aead(name, new Uint8Array(name === 'AES-128-GCM' ? 16 : 32).fill(7));
    const nonce = new Uint8Array(12).fill(1);
    const aad = utf8.encode('header');
    const sealed = a.seal(nonce, utf8.encode('attack at dawn'), aad);
    for (const i of [0, sealed.length - 1]) {
      const bad = sealed.slice();
      bad[i]! ^= 1;
      expect(a.open(nonce, bad, aad)).toBeNull();
    }
    expect(a.open(nonce, sealed, utf8.encode('Header'))).toBeNull();
    expect(a.open(new Uint8Array(12), sealed, aad)).toBeNull();
    expect(a.open(nonce, sealed.subarray(0, 15), aad)).toBeNull();
    expect(a.open(nonce, new Uint8Array(0), aad)).toBeNull();
  });

  it('rejects wrong key lengths', () => {
    expect(() => p.aead('AES-128-GCM', new Uint8Array(32))).toThrow();
    expect(() => p.aead('AES-128-CCM', new Uint8Array(32))).toThrow();
    expect(() => p.aead('AES-128-CCM-8', new Uint8Array(15))).toThrow();
  });
});

describe('key exchange', () => {
  it('X25519 (RFC 7748 section 6.1), both directions', () => {
    const v = ECDH_RFC7748.x25519;
    const a = p.generateKeyPair('x25519', fromHex(v.alicePrivate));
    const b = p.generateKeyPair('x25519', fromHex(v.bobPrivate));
    expect(toHex(a.publicKey)).toBe(v.alicePublic);
    expect(toHex(b.publicKey)).toBe(v.bobPublic);
    expect(toHex(p.decapsulate('x25519', fromHex(v.alicePrivate), b.publicKey))).toBe(v.shared);
    expect(toHex(p.decapsulate('x25519', fromHex(v.bobPrivate), a.publicKey))).toBe(v.shared);
  });

  it('X448 (RFC 7748 section 6.2), both directions', () => {
    const v = ECDH_RFC7748.x448;
    const a = p.generateKeyPair('x448', fromHex(v.alicePrivate));
    const b = p.generateKeyPair('x448', fromHex(v.bobPrivate));
    expect(toHex(a.publicKey)).toBe(v.alicePublic);
    expect(toHex(b.publicKey)).toBe(v.bobPublic);
    expect(toHex(p.decapsulate('x448', fromHex(v.alicePrivate), b.publicKey))).toBe(v.shared);
    expect(toHex(p.decapsulate('x448', fromHex(v.bobPrivate), a.publicKey))).toBe(v.shared);
  });

  it('X25519 / X448 reject low-order points and wrong lengths', () => {
    const priv = p.generateKeyPair('x25519').privateKey;
    expect(() => p.decapsulate('x25519', priv, new Uint8Array(32))).toThrow();
    const one = new Uint8Array(32);
    one[0] = 1;
    expect(() => p.decapsulate('x25519', priv, one)).toThrow();
    expect(() => p.decapsulate('x25519', priv, new Uint8Array(31).fill(9))).toThrow();
    const priv448 = p.generateKeyPair('x448').privateKey;
    expect(() => p.decapsulate('x448', priv448, new Uint8Array(56))).toThrow();
    expect(() => p.decapsulate('x448', priv448, new Uint8Array(32).fill(5))).toThrow();
  });

  it.each<EcdhGroup>(['secp256r1', 'secp384r1', 'x25519', 'x448'])('%s: both sides derive the same secret', (group) => {
    const a = p.generateKeyPair(group);
    const b = p.generateKeyPair(group);
    const s1 = p.decapsulate(group, a.privateKey, b.publicKey);
    const s2 = p.decapsulate(group, b.privateKey, a.publicKey);
    expect(toHex(s1)).toBe(toHex(s2));
    const size = { secp256r1: 32, secp384r1: 48, x25519: 32, x448: 56 }[group];
    expect(s1.length).toBe(size);
    if (group.startsWith('secp')) {
      expect(a.publicKey.length).toBe(1 + 2 * size);
      expect(a.publicKey[0]).toBe(4);
    }
  });

  it('P-256: the shared secret is the X coordinate of d * Q', () => {
    // d = 1 makes the secret the peer's own X coordinate.
    const one = new Uint8Array(32);
    one[31] = 1;
    const peer = p.generateKeyPair('secp256r1');
    expect(toHex(p.decapsulate('secp256r1', one, peer.publicKey))).toBe(toHex(peer.publicKey.subarray(1, 33)));
  });

  it('P-256 / P-384 reject invalid peer points', () => {
    const a = p.generateKeyPair('secp256r1');
    const b = p.generateKeyPair('secp256r1');
    const offCurve = b.publicKey.slice();
    offCurve[64]! ^= 1;
    expect(() => p.decapsulate('secp256r1', a.privateKey, offCurve)).toThrow();
    // The compressed form is not allowed in TLS 1.3.
    const compressed = Uint8Array.of(2 + (b.publicKey[64]! & 1), ...b.publicKey.subarray(1, 33));
    expect(() => p.decapsulate('secp256r1', a.privateKey, compressed)).toThrow();
    expect(() => p.decapsulate('secp256r1', a.privateKey, b.publicKey.subarray(0, 64))).toThrow();
    expect(() => p.decapsulate('secp256r1', a.privateKey, new Uint8Array(65))).toThrow();
    const notFour = b.publicKey.slice();
    notFour[0] = 6;
    expect(() => p.decapsulate('secp256r1', a.privateKey, notFour)).toThrow();
    // A P-256 point is not a P-384 point.
    const c = p.generateKeyPair('secp384r1');
    expect(() => p.decapsulate('secp384r1', c.privateKey, b.publicKey)).toThrow();
  });

  it('generateKeyPair is deterministic given the private key, and uses the injected random source', () => {
    const priv = fromHex(P256_RFC6979.d);
    const k1 = p.generateKeyPair('secp256r1', priv);
    const k2 = p.generateKeyPair('secp256r1', priv);
    expect(toHex(k1.publicKey)).toBe(toHex(k2.publicKey));
    // RFC 6979 appendix A.2.5 key pair.
    expect(toHex(k1.publicKey)).toBe(P256_RFC6979.publicKey);
    let calls = 0;
    const seeded = createNobleProvider({ random: (n) => (calls++, new Uint8Array(n).fill(0x42)) });
    expect(toHex(seeded.random(3))).toBe('424242');
    const kp = seeded.generateKeyPair('x25519');
    expect(toHex(kp.privateKey)).toBe('42'.repeat(32));
    expect(calls).toBe(2);
  });

  it('default random handles requests above 65536 bytes', () => {
    const big = p.random(200_000);
    expect(big.length).toBe(200_000);
    expect(big.subarray(150_000).some((x) => x !== 0)).toBe(true);
  });
});

describe('signatures', () => {
  it('ECDSA P-256 / P-384 and Ed25519 sign/verify, DER on the wire', () => {
    for (const [curve, group, scheme] of [
      ['P-256', 'secp256r1', 'ecdsa_secp256r1_sha256'],
      ['P-384', 'secp384r1', 'ecdsa_secp384r1_sha384'],
    ] as const) {
      const kp = p.generateKeyPair(group);
      const priv = { kind: 'ec', curve, d: kp.privateKey, point: kp.publicKey } as const;
      const pub = { kind: 'ec', curve, point: kp.publicKey } as const;
      const msg = utf8.encode('signed content');
      const sig = p.sign(scheme, priv, msg);
      expect(sig[0]).toBe(0x30);
      expect(p.verify(scheme, pub, msg, sig)).toBe(true);
      expect(p.verify(scheme, pub, utf8.encode('other content'), sig)).toBe(false);
      // Trailing garbage after the DER is not accepted.
      expect(p.verify(scheme, pub, msg, Uint8Array.of(...sig, 0))).toBe(false);
      // Non-minimal length encoding of the SEQUENCE is not accepted.
      expect(p.verify(scheme, pub, msg, Uint8Array.of(0x30, 0x81, sig[1]!, ...sig.subarray(2)))).toBe(false);
      expect(p.verify(scheme, pub, msg, new Uint8Array(0))).toBe(false);
      expect(p.verify(scheme, { kind: 'ed25519', key: new Uint8Array(32) }, msg, sig)).toBe(false);
    }
    // RFC 8032 section 7.1, test 1.
    const priv = { kind: 'ed25519', seed: fromHex(ED25519_RFC8032_1.seed), key: fromHex(ED25519_RFC8032_1.publicKey) } as const;
    const sig = p.sign('ed25519', priv, new Uint8Array(0));
    expect(toHex(sig)).toBe(ED25519_RFC8032_1.signature);
    const pub = { kind: 'ed25519', key: priv.key } as const;
    expect(p.verify('ed25519', pub, new Uint8Array(0), sig)).toBe(true);
    const bad = sig.slice();
    bad[10]! ^= 0x40;
    expect(p.verify('ed25519', pub, new Uint8Array(0), bad)).toBe(false);
    expect(p.verify('ed25519', pub, new Uint8Array(0), sig.subarray(1))).toBe(false);
  });

  it('ECDSA signing is deterministic (RFC 6979)', () => {
    const d = fromHex(P256_RFC6979.d);
    const kp = p.generateKeyPair('secp256r1', d);
    const priv = { kind: 'ec', curve: 'P-256', d, point: kp.publicKey } as const;
    const msg = utf8.encode('sample');
    expect(toHex(p.sign('ecdsa_secp256r1_sha256', priv, msg))).toBe(toHex(p.sign('ecdsa_secp256r1_sha256', priv, msg)));
  });
});
