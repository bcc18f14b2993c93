/**
 * AES-CCM (RFC 3610, NIST SP 800-38C) on top of noble's AES: CBC-MAC for the tag, CTR for
 * the encryption. TLS and DTLS use a 12-byte nonce (so a 3-byte length field) and 16- or
 * 8-byte tags (RFC 6655, RFC 7251); CoAP's mandatory DTLS suites need the 8-byte one.
 */
import { cbc, ctr } from '@noble/ciphers/aes.js';
import type { Aead } from './provider.js';
import { constantTimeEqual } from '../util/bytes.js';

function formatB0(nonce: Uint8Array, tagLength: number, aadLength: number, messageLength: number): Uint8Array {
  const L = 15 - nonce.length;
  const b0 = new Uint8Array(16);
  b0[0] = (aadLength > 0 ? 0x40 : 0) | (((tagLength - 2) / 2) << 3) | (L - 1);
  b0.set(nonce, 1);
  for (let i = 0, n = messageLength; i < L; i++, n = Math.floor(n / 256)) b0[15 - i] = n & 0xff;
  return b0;
}

function counterBlock(nonce: Uint8Array, counter: number): Uint8Array {
  const a = new Uint8Array(16);
  a[0] = 15 - nonce.length - 1;
  a.set(nonce, 1);
  a[15] = counter; // the CTR stream below starts at 1 and increments the whole block
  return a;
}

/** CBC-MAC over B0, the length-prefixed AAD and the message, each zero-padded to 16 bytes. */
function cbcMac(key: Uint8Array, b0: Uint8Array, aad: Uint8Array, message: Uint8Array): Uint8Array {
  if (aad.length >= 0xff00) throw new Error('CCM: additional data too long');
  const aadBlock = aad.length > 0 ? 2 + aad.length : 0;
  const padded = (n: number) => Math.ceil(n / 16) * 16;
  const input = new Uint8Array(16 + padded(aadBlock) + padded(message.length));
  input.set(b0);
  if (aad.length > 0) {
    input[16] = aad.length >> 8;
    input[17] = aad.length & 0xff;
    input.set(aad, 18);
  }
  input.set(message, 16 + padded(aadBlock));
  const chained = cbc(key, new Uint8Array(16), { disablePadding: true }).encrypt(input);
  return chained.subarray(chained.length - 16);
}

function keystreamXor(key: Uint8Array, nonce: Uint8Array, counter: number, data: Uint8Array): Uint8Array {
  return ctr(key, counterBlock(nonce, counter)).encrypt(data);
}

export function aesCcm(key: Uint8Array, tagLength: 16 | 8): Aead {
  return {
    tagLength,
    seal(nonce, plaintext, aad) {
      const mac = cbcMac(key, formatB0(nonce, tagLength, aad.length, plaintext.length), aad, plaintext);
      const s0 = keystreamXor(key, nonce, 0, mac).subarray(0, tagLength);
      const out = new Uint8Array(plaintext.length + tagLength);
      out.set(keystreamXor(key, nonce, 1, plaintext));
      out.set(s0, plaintext.length);
      return out;
    },
    open(nonce, ciphertext, aad) {
      if (ciphertext.length < tagLength) return null;
      const body = ciphertext.subarray(0, ciphertext.length - tagLength);
      const tag = ciphertext.subarray(ciphertext.length - tagLength);
      const plaintext = keystreamXor(key, nonce, 1, body);
      const mac = cbcMac(key, formatB0(nonce, tagLength, aad.length, plaintext.length), aad, plaintext);
      const expected = keystreamXor(key, nonce, 0, mac).subarray(0, tagLength);
      return constantTimeEqual(expected, tag) ? plaintext : null;
    },
  };
}
