/**
 * HPKE (RFC 9180) against the RFC's own test vectors (appendix A, base and PSK modes; the
 * suites whose primitives the providers have), on both providers, plus the failure paths a
 * peer can trigger: a wrong key, a tampered ciphertext, a malformed `enc`.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hpkeDeriveKeyPair, hpkeGenerateKeyPair, hpkeSetupRecipient, hpkeSetupSender, type HpkePsk, type HpkeSuite } from '../src/crypto/hpke.js';
import { nobleProvider } from '../src/crypto/noble.js';
import { nodeProvider } from '../src/crypto/node.js';
import type { CryptoProvider } from '../src/crypto/provider.js';
import { fromHex, toHex, utf8 } from '../src/util/bytes.js';

interface Vector {
  suite: string;
  mode: number;
  kem_id: number;
  kdf_id: number;
  aead_id: number;
  info: string;
  ikmE: string;
  pkEm: string;
  skEm: string;
  ikmR: string;
  pkRm: string;
  skRm: string;
  enc: string;
  psk?: string;
  psk_id?: string;
  encryptions: { seq: number; pt: string; aad: string; ct: string }[];
  exports: { context: string; length: number; value: string }[];
}

const VECTORS = JSON.parse(readFileSync(new URL('../vectors/hpke/rfc9180.json', import.meta.url), 'utf8')) as Vector[];
const PROVIDERS: CryptoProvider[] = [nobleProvider, nodeProvider];

function suiteOf(v: Vector): HpkeSuite {
  return { kem: v.kem_id, kdf: v.kdf_id, aead: v.aead_id };
}
function pskOf(v: Vector): HpkePsk | undefined {
  return v.psk ? { psk: fromHex(v.psk), pskId: fromHex(v.psk_id!) } : undefined;
}

describe.each(PROVIDERS.map((p) => [p.name, p] as const))('HPKE on the %s provider', (_name, p) => {
  it('the vector file covers X25519 and P-256, three KDFs, three AEADs and both modes', () => {
    expect(new Set(VECTORS.map((v) => v.kem_id))).toEqual(new Set([0x10, 0x20]));
    expect(new Set(VECTORS.map((v) => v.kdf_id))).toEqual(new Set([1, 3]));
    expect(new Set(VECTORS.map((v) => v.aead_id))).toEqual(new Set([1, 3, 0xffff]));
    expect(new Set(VECTORS.map((v) => v.mode))).toEqual(new Set([0, 1]));
  });

  describe.each(VECTORS.map((v) => [`${v.suite} mode ${v.mode}`, v] as const))('%s', (_title, v) => {
    it('DeriveKeyPair gives the vector key pairs', () => {
      const r = hpkeDeriveKeyPair(p, v.kem_id, fromHex(v.ikmR));
      expect(toHex(r.privateKey)).toBe(v.skRm);
      expect(toHex(r.publicKey)).toBe(v.pkRm);
      const e = hpkeDeriveKeyPair(p, v.kem_id, fromHex(v.ikmE));
      expect(toHex(e.publicKey)).toBe(v.pkEm);
    });

    it('the sender makes the vector enc, ciphertexts (sequence numbers included) and exports', () => {
      const { enc, context } = hpkeSetupSender(p, suiteOf(v), fromHex(v.pkRm), fromHex(v.info), { ikmE: fromHex(v.ikmE), psk: pskOf(v) });
      expect(toHex(enc)).toBe(v.enc);
      let seq = 0;
      for (const e of v.encryptions) {
        // The vectors skip sequence numbers (0, 1, 2, 4, 255, 256): seal throwaway messages to get there.
        for (; seq < e.seq; seq++) context.seal(new Uint8Array(0), new Uint8Array(0));
        expect(toHex(context.seal(fromHex(e.aad), fromHex(e.pt)))).toBe(e.ct);
        seq++;
      }
      for (const x of v.exports) expect(toHex(context.export(fromHex(x.context), x.length))).toBe(x.value);
    });

    it('the recipient opens the vector ciphertexts in order and exports the same values', () => {
      const recipient = { privateKey: fromHex(v.skRm), publicKey: fromHex(v.pkRm) };
      const context = hpkeSetupRecipient(p, suiteOf(v), fromHex(v.enc), recipient, fromHex(v.info), { psk: pskOf(v) });
      const sender = hpkeSetupSender(p, suiteOf(v), fromHex(v.pkRm), fromHex(v.info), { ikmE: fromHex(v.ikmE), psk: pskOf(v) }).context;
      let seq = 0;
      for (const e of v.encryptions) {
        for (; seq < e.seq; seq++) expect(context.open(new Uint8Array(0), sender.seal(new Uint8Array(0), new Uint8Array(0)))).not.toBeNull();
        expect(toHex(context.open(fromHex(e.aad), fromHex(e.ct))!)).toBe(e.pt);
        sender.seal(new Uint8Array(0), new Uint8Array(0));
        seq++;
      }
      for (const x of v.exports) expect(toHex(context.export(fromHex(x.context), x.length))).toBe(x.value);
    });
  });

  const SUITES: HpkeSuite[] = [
    { kem: 0x20, kdf: 1, aead: 1 },
    { kem: 0x20, kdf: 2, aead: 2 },
    { kem: 0x10, kdf: 2, aead: 3 },
    { kem: 0x10, kdf: 1, aead: 2 },
  ];
  it.each(SUITES.map((s) => [`${s.kem}/${s.kdf}/${s.aead}`, s] as const))('suite %s: round trip; a wrong key, a tampered ciphertext or other aad fail', (_t, s) => {
    const r = hpkeGenerateKeyPair(p, s.kem);
    const info = utf8.encode('tls ech');
    const { enc, context } = hpkeSetupSender(p, s, r.publicKey, info);
    const ct = context.seal(utf8.encode('aad'), utf8.encode('ClientHelloInner'));
    expect(utf8.decode(hpkeSetupRecipient(p, s, enc, r, info).open(utf8.encode('aad'), ct)!)).toBe('ClientHelloInner');
    expect(hpkeSetupRecipient(p, s, enc, r, info).open(utf8.encode('other'), ct)).toBeNull();
    const tampered = ct.slice();
    tampered[0]! ^= 1;
    expect(hpkeSetupRecipient(p, s, enc, r, info).open(utf8.encode('aad'), tampered)).toBeNull();
    expect(hpkeSetupRecipient(p, s, enc, hpkeGenerateKeyPair(p, s.kem), info).open(utf8.encode('aad'), ct)).toBeNull();
    expect(() => hpkeSetupRecipient(p, s, enc.subarray(1), r, info)).toThrow();
  });

  it('an unsupported suite is refused, not guessed', () => {
    expect(() => hpkeSetupSender(p, { kem: 0x12, kdf: 1, aead: 1 }, new Uint8Array(133), new Uint8Array(0))).toThrow(/unsupported/);
  });
});
