import { describe, expect, it } from 'vitest';
import { createNobleProvider, nobleProvider as p } from '../src/crypto/noble.js';
import type { AeadName, GroupName } from '../src/crypto/provider.js';
import { fromHex, toHex, utf8 } from '../src/util/bytes.js';

const abc = utf8.encode('abc');

describe('hashes', () => {
  it('SHA-256 / SHA-384 / SHA-512 of "abc" (FIPS 180-2)', () => {
    expect(toHex(p.hash('sha256', abc))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(toHex(p.hash('sha384', abc))).toBe(
      'cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7',
    );
    expect(toHex(p.hash('sha512', abc))).toBe(
      'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    );
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
    const key = utf8.encode('Jefe');
    const data = utf8.encode('what do ya want for nothing?');
    expect(toHex(p.hmac('sha256', key, data))).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
    expect(toHex(p.hmac('sha384', key, data))).toBe(
      'af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649',
    );
    expect(toHex(p.hmac('sha512', key, data))).toBe(
      '164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737',
    );
  });

  it('HKDF-SHA-256 (RFC 5869 test case 1)', () => {
    const ikm = fromHex('0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b');
    const salt = fromHex('000102030405060708090a0b0c');
    const info = fromHex('f0f1f2f3f4f5f6f7f8f9');
    const prk = p.hkdfExtract('sha256', salt, ikm);
    expect(toHex(prk)).toBe('077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5');
    expect(toHex(p.hkdfExpand('sha256', prk, info, 42))).toBe(
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    );
  });

  it('HKDF-Extract with an empty salt equals a zero salt of hash length (RFC 5869 test case 3)', () => {
    const ikm = fromHex('0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b');
    const prk = p.hkdfExtract('sha256', new Uint8Array(0), ikm);
    expect(toHex(prk)).toBe('19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04');
    expect(toHex(p.hkdfExpand('sha256', prk, new Uint8Array(0), 42))).toBe(
      '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
    );
  });
});

describe('AEAD', () => {
  // McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 4 (AES-128) and 16 (AES-256).
  const gcmPlain =
    'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39';
  const gcmAad = 'feedfacedeadbeeffeedfacedeadbeefabaddad2';
  const gcmNonce = 'cafebabefacedbaddecaf888';

  it('AES-128-GCM (GCM spec test case 4)', () => {
    const a = p.aead('AES-128-GCM', fromHex('feffe9928665731c6d6a8f9467308308'));
    const sealed = a.seal(fromHex(gcmNonce), fromHex(gcmPlain), fromHex(gcmAad));
    expect(toHex(sealed)).toBe(
      '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091' +
        '5bc94fbc3221a5db94fae95ae7121a47',
    );
    expect(toHex(a.open(fromHex(gcmNonce), sealed, fromHex(gcmAad))!)).toBe(gcmPlain);
  });

  it('AES-256-GCM (GCM spec test case 16)', () => {
    const a = p.aead('AES-256-GCM', fromHex('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308'));
    const sealed = a.seal(fromHex(gcmNonce), fromHex(gcmPlain), fromHex(gcmAad));
    expect(toHex(sealed)).toBe(
      '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662' +
        '76fc6ece0f4e1768cddf8853bb2d551b',
    );
    expect(toHex(a.open(fromHex(gcmNonce), sealed, fromHex(gcmAad))!)).toBe(gcmPlain);
  });

  it('ChaCha20-Poly1305 (RFC 8439 section 2.8.2)', () => {
    const key = fromHex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
    const nonce = fromHex('070000004041424344454647');
    const aad = fromHex('50515253c0c1c2c3c4c5c6c7');
    const plain = utf8.encode(
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
    );
    const a = p.aead('CHACHA20-POLY1305', key);
    const sealed = a.seal(nonce, plain, aad);
    expect(toHex(sealed)).toBe(
      'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36' +
        '92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116' +
        '1ae10b594f09e26a7e902ecbd0600691',
    );
    expect(a.tagLength).toBe(16);
    expect(utf8.decode(a.open(nonce, sealed, aad)!)).toBe(utf8.decode(plain));
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

  it('rejects wrong key lengths and CCM', () => {
    expect(() => p.aead('AES-128-GCM', new Uint8Array(32))).toThrow();
    expect(() => p.aead('AES-128-CCM', new Uint8Array(16))).toThrow('AES-CCM not supported yet');
    expect(() => p.aead('AES-128-CCM-8', new Uint8Array(16))).toThrow('AES-CCM not supported yet');
  });
});

describe('key exchange', () => {
  it('X25519 (RFC 7748 section 6.1), both directions', () => {
    const aPriv = fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    const bPriv = fromHex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
    const a = p.generateKeyPair('x25519', aPriv);
    const b = p.generateKeyPair('x25519', bPriv);
    expect(toHex(a.publicKey)).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    expect(toHex(b.publicKey)).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
    expect(toHex(p.sharedSecret('x25519', aPriv, b.publicKey))).toBe(shared);
    expect(toHex(p.sharedSecret('x25519', bPriv, a.publicKey))).toBe(shared);
  });

  it('X448 (RFC 7748 section 6.2), both directions', () => {
    const aPriv = fromHex(
      '9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28dd9c9baf574a9419744897391006382a6f127ab1d9ac2d8c0a598726b',
    );
    const bPriv = fromHex(
      '1c306a7ac2a0e2e0990b294470cba339e6453772b075811d8fad0d1d6927c120bb5ee8972b0d3e21374c9c921b09d1b0366f10b65173992d',
    );
    const a = p.generateKeyPair('x448', aPriv);
    const b = p.generateKeyPair('x448', bPriv);
    expect(toHex(a.publicKey)).toBe(
      '9b08f7cc31b7e3e67d22d5aea121074a273bd2b83de09c63faa73d2c22c5d9bbc836647241d953d40c5b12da88120d53177f80e532c41fa0',
    );
    expect(toHex(b.publicKey)).toBe(
      '3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b43027d8b972fc3e34fb4232a13ca706dcb57aec3dae07bdc1c67bf33609',
    );
    const shared =
      '07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282bb60c0b56fd2464c335543936521c24403085d59a449a5037514a879d';
    expect(toHex(p.sharedSecret('x448', aPriv, b.publicKey))).toBe(shared);
    expect(toHex(p.sharedSecret('x448', bPriv, a.publicKey))).toBe(shared);
  });

  it('X25519 / X448 reject low-order points and wrong lengths', () => {
    const priv = p.generateKeyPair('x25519').privateKey;
    expect(() => p.sharedSecret('x25519', priv, new Uint8Array(32))).toThrow();
    const one = new Uint8Array(32);
    one[0] = 1;
    expect(() => p.sharedSecret('x25519', priv, one)).toThrow();
    expect(() => p.sharedSecret('x25519', priv, new Uint8Array(31).fill(9))).toThrow();
    const priv448 = p.generateKeyPair('x448').privateKey;
    expect(() => p.sharedSecret('x448', priv448, new Uint8Array(56))).toThrow();
    expect(() => p.sharedSecret('x448', priv448, new Uint8Array(32).fill(5))).toThrow();
  });

  it.each<GroupName>(['secp256r1', 'secp384r1', 'x25519', 'x448'])('%s: both sides derive the same secret', (group) => {
    const a = p.generateKeyPair(group);
    const b = p.generateKeyPair(group);
    const s1 = p.sharedSecret(group, a.privateKey, b.publicKey);
    const s2 = p.sharedSecret(group, b.privateKey, a.publicKey);
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
    expect(toHex(p.sharedSecret('secp256r1', one, peer.publicKey))).toBe(toHex(peer.publicKey.subarray(1, 33)));
  });

  it('P-256 / P-384 reject invalid peer points', () => {
    const a = p.generateKeyPair('secp256r1');
    const b = p.generateKeyPair('secp256r1');
    const offCurve = b.publicKey.slice();
    offCurve[64]! ^= 1;
    expect(() => p.sharedSecret('secp256r1', a.privateKey, offCurve)).toThrow();
    // The compressed form is not allowed in TLS 1.3.
    const compressed = Uint8Array.of(2 + (b.publicKey[64]! & 1), ...b.publicKey.subarray(1, 33));
    expect(() => p.sharedSecret('secp256r1', a.privateKey, compressed)).toThrow();
    expect(() => p.sharedSecret('secp256r1', a.privateKey, b.publicKey.subarray(0, 64))).toThrow();
    expect(() => p.sharedSecret('secp256r1', a.privateKey, new Uint8Array(65))).toThrow();
    const notFour = b.publicKey.slice();
    notFour[0] = 6;
    expect(() => p.sharedSecret('secp256r1', a.privateKey, notFour)).toThrow();
    // A P-256 point is not a P-384 point.
    const c = p.generateKeyPair('secp384r1');
    expect(() => p.sharedSecret('secp384r1', c.privateKey, b.publicKey)).toThrow();
  });

  it('generateKeyPair is deterministic given the private key, and uses the injected random source', () => {
    const priv = fromHex('c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721');
    const k1 = p.generateKeyPair('secp256r1', priv);
    const k2 = p.generateKeyPair('secp256r1', priv);
    expect(toHex(k1.publicKey)).toBe(toHex(k2.publicKey));
    // RFC 6979 appendix A.2.5 key pair.
    expect(toHex(k1.publicKey)).toBe(
      '0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb67903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299',
    );
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
    const seed = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
    // RFC 8032 section 7.1, test 1.
    const priv = { kind: 'ed25519', seed, key: fromHex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a') } as const;
    const sig = p.sign('ed25519', priv, new Uint8Array(0));
    expect(toHex(sig)).toBe(
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    );
    const pub = { kind: 'ed25519', key: priv.key } as const;
    expect(p.verify('ed25519', pub, new Uint8Array(0), sig)).toBe(true);
    const bad = sig.slice();
    bad[10]! ^= 0x40;
    expect(p.verify('ed25519', pub, new Uint8Array(0), bad)).toBe(false);
    expect(p.verify('ed25519', pub, new Uint8Array(0), sig.subarray(1))).toBe(false);
  });

  it('ECDSA signing is deterministic (RFC 6979)', () => {
    const d = fromHex('c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721');
    const kp = p.generateKeyPair('secp256r1', d);
    const priv = { kind: 'ec', curve: 'P-256', d, point: kp.publicKey } as const;
    const msg = utf8.encode('sample');
    expect(toHex(p.sign('ecdsa_secp256r1_sha256', priv, msg))).toBe(toHex(p.sign('ecdsa_secp256r1_sha256', priv, msg)));
  });
});
