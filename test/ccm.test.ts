import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { aesCcm } from '../src/crypto/ccm.js';
import { fromHex, toHex } from '../src/util/bytes.js';

describe('AES-CCM', () => {
  it('matches RFC 3610 packet vector #1 (8-byte tag, 13-byte nonce)', () => {
    const key = fromHex('c0c1c2c3c4c5c6c7c8c9cacbcccdcecf');
    const nonce = fromHex('00000003020100a0a1a2a3a4a5');
    const aad = fromHex('0001020304050607');
    const plaintext = fromHex('08090a0b0c0d0e0f101112131415161718191a1b1c1d1e');
    const sealed = aesCcm(key, 8).seal(nonce, plaintext, aad);
    expect(toHex(sealed)).toBe('588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0');
    expect(aesCcm(key, 8).open(nonce, sealed, aad)).toEqual(plaintext);
  });

  // A deterministic sweep of lengths, each sealed by us and by node:crypto's OpenSSL.
  const cases = Array.from({ length: 24 }, (_, i) => ({ len: i * 7, aadLen: (i * 5) % 19, tag: (i % 2 ? 8 : 16) as 8 | 16 }));
  it.each(cases)('agrees with node:crypto for $len bytes, $aadLen bytes of AAD, $tag-byte tag', ({ len, aadLen, tag }) => {
    const key = Uint8Array.from({ length: 16 }, (_, i) => i * 13 + len);
    const nonce = Uint8Array.from({ length: 12 }, (_, i) => i + aadLen);
    const aad = Uint8Array.from({ length: aadLen }, (_, i) => i ^ 0x5a);
    const plaintext = Uint8Array.from({ length: len }, (_, i) => (i * 31) & 0xff);
    const c = createCipheriv('aes-128-ccm', key, nonce, { authTagLength: tag });
    c.setAAD(aad, { plaintextLength: len });
    const expected = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
    const ours = aesCcm(key, tag).seal(nonce, plaintext, aad);
    expect(toHex(ours)).toBe(expected.toString('hex'));
    expect(aesCcm(key, tag).open(nonce, ours, aad)).toEqual(plaintext);
  });

  it('refuses a tampered tag, ciphertext or AAD', () => {
    const key = new Uint8Array(16).fill(1);
    const nonce = new Uint8Array(12).fill(2);
    const sealed = aesCcm(key, 8).seal(nonce, new Uint8Array(40).fill(3), new Uint8Array(13));
    for (const i of [0, 20, sealed.length - 1]) {
      const bad = sealed.slice();
      bad[i]! ^= 1;
      expect(aesCcm(key, 8).open(nonce, bad, new Uint8Array(13))).toBeNull();
    }
    expect(aesCcm(key, 8).open(nonce, sealed, new Uint8Array(13).fill(1))).toBeNull();
    expect(aesCcm(key, 8).open(nonce, sealed.subarray(0, 5), new Uint8Array(13))).toBeNull();
  });
});
