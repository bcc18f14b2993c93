import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nobleProvider as p } from '../src/crypto/noble.js';
import type { HashName, PrivateKey, PublicKey, SignatureSchemeName } from '../src/crypto/provider.js';
import {
  bigIntToBytes,
  bytesToBigInt,
  modInverse,
  modPow,
  rsaSignPkcs1,
  rsaSignPss,
  rsaVerifyPkcs1,
  rsaVerifyPss,
  type RsaHash,
} from '../src/crypto/rsa.js';
import { parsePrivateKey } from '../src/x509/parse-chain.js';
import { fromHex, toHex, utf8 } from '../src/util/bytes.js';

const keyPath = new URL('../vectors/pki/leaf-rsa2048.key', import.meta.url).pathname;
const priv = parsePrivateKey(readFileSync(keyPath, 'utf8')) as Extract<PrivateKey, { kind: 'rsa' }>;
const pub: PublicKey = { kind: 'rsa', n: priv.n, e: priv.e, bits: priv.bits };
const hashes: HashName[] = ['sha256', 'sha384', 'sha512'];
const rsaHash = (name: HashName): RsaHash => ({ name, length: p.hash(name, new Uint8Array(0)).length, digest: (d) => p.hash(name, d) });

const dir = mkdtempSync(join(tmpdir(), 'tsls-rsa-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Deliberately not guarded: without openssl these tests must fail, not skip.
function openssl(...args: string[]): Buffer {
  return execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
}

const message = utf8.encode('tsls RSA test message\n');
const messagePath = join(dir, 'message.txt');
writeFileSync(messagePath, message);

describe('bigint helpers', () => {
  it('modPow and modInverse agree with naive arithmetic', () => {
    for (const [b, e, m] of [
      [4n, 13n, 497n],
      [2n, 0n, 7n],
      [123456789n, 98765n, 1000000007n],
      [-5n, 3n, 13n],
    ] as const) {
      let naive = 1n;
      for (let i = 0n; i < e; i++) naive = (naive * b) % m;
      expect(modPow(b, e, m)).toBe(((naive % m) + m) % m);
    }
    expect((modInverse(3n, 11n) * 3n) % 11n).toBe(1n);
    expect(() => modInverse(6n, 9n)).toThrow();
    expect(bytesToBigInt(bigIntToBytes(0x1234n, 4))).toBe(0x1234n);
    expect(toHex(bigIntToBytes(0x1234n, 4))).toBe('00001234');
    expect(() => bigIntToBytes(0x123456n, 2)).toThrow();
  });
});

describe('RSA round trips', () => {
  it.each(hashes)('PSS and PKCS#1 v1.5 with %s through the provider', (hash) => {
    for (const kind of ['pss_rsae', 'pkcs1'] as const) {
      const scheme = `rsa_${kind}_${hash}` as SignatureSchemeName;
      const sig = p.sign(scheme, priv, message);
      expect(sig.length).toBe(256);
      expect(p.verify(scheme, pub, message, sig)).toBe(true);
      expect(p.verify(scheme, pub, utf8.encode('something else'), sig)).toBe(false);
      const bad = sig.slice();
      bad[100]! ^= 1;
      expect(p.verify(scheme, pub, message, bad)).toBe(false);
      // A signature for one hash does not verify under another.
      const other = hashes.find((h) => h !== hash)!;
      expect(p.verify(`rsa_${kind}_${other}` as SignatureSchemeName, pub, message, sig)).toBe(false);
    }
  });

  it('PSS is randomised by the salt and reproducible with a fixed random source', () => {
    const fixed = (n: number) => new Uint8Array(n).fill(0x5a);
    const h = rsaHash('sha256');
    const a = rsaSignPss(priv, h, message, fixed);
    const b = rsaSignPss(priv, h, message, fixed);
    expect(toHex(a)).toBe(toHex(b));
    expect(toHex(p.sign('rsa_pss_rsae_sha256', priv, message))).not.toBe(toHex(p.sign('rsa_pss_rsae_sha256', priv, message)));
    // Blinding must not change the (deterministic) PKCS#1 signature.
    let counter = 0;
    const varying = (n: number) => new Uint8Array(n).fill(++counter);
    expect(toHex(rsaSignPkcs1(priv, h, message, varying))).toBe(toHex(rsaSignPkcs1(priv, h, message, fixed)));
    expect(rsaVerifyPss(pub, h, message, a)).toBe(true);
    // Salt length is part of the verification.
    expect(rsaVerifyPss(pub, h, message, a, 20)).toBe(false);
    const noSalt = rsaSignPss(priv, h, message, fixed, 0);
    expect(rsaVerifyPss(pub, h, message, noSalt, 0)).toBe(true);
  });

  it('rejects signatures of the wrong length or not below n, and wrong key kinds', () => {
    const sig = p.sign('rsa_pkcs1_sha256', priv, message);
    expect(p.verify('rsa_pkcs1_sha256', pub, message, sig.subarray(1))).toBe(false);
    expect(p.verify('rsa_pkcs1_sha256', pub, message, Uint8Array.of(0, ...sig))).toBe(false);
    expect(p.verify('rsa_pkcs1_sha256', pub, message, bigIntToBytes(priv.n, 256))).toBe(false);
    expect(p.verify('rsa_pkcs1_sha256', pub, message, new Uint8Array(256).fill(0xff))).toBe(false);
    expect(p.verify('rsa_pkcs1_sha256', { kind: 'ed25519', key: new Uint8Array(32) }, message, sig)).toBe(false);
    expect(p.verify('ecdsa_secp256r1_sha256', pub, message, sig)).toBe(false);
    expect(() => p.sign('ecdsa_secp256r1_sha256', priv, message)).toThrow();
  });

  it('PKCS#1 v1.5 verification compares the whole encoded block', () => {
    const digest = p.hash('sha256', message);
    const k = 256;
    // A correctly padded block whose DigestInfo omits the NULL parameters: some parsers accept it.
    const noNull = fromHex('302f300b0609608648016503040201' + '0420' + toHex(digest));
    // And one with the right DigestInfo followed by garbage.
    const trailing = fromHex('3031300d060960864801650304020105000420' + toHex(digest) + '00');
    for (const t of [noNull, trailing]) {
      const em = new Uint8Array(k).fill(0xff);
      em[0] = 0;
      em[1] = 1;
      em[k - t.length - 1] = 0;
      em.set(t, k - t.length);
      const forged = bigIntToBytes(modPow(bytesToBigInt(em), priv.d, priv.n), k);
      expect(rsaVerifyPkcs1(pub, rsaHash('sha256'), message, forged)).toBe(false);
    }
  });
});

describe('interoperability with openssl', () => {
  it('PKCS#1 v1.5 signatures are byte-for-byte those of openssl dgst -sign', () => {
    for (const hash of hashes) {
      const sigPath = join(dir, `pkcs1-${hash}.sig`);
      openssl('dgst', `-${hash}`, '-sign', keyPath, '-out', sigPath, messagePath);
      const theirs = new Uint8Array(readFileSync(sigPath));
      const ours = p.sign(`rsa_pkcs1_${hash}` as SignatureSchemeName, priv, message);
      expect(toHex(ours)).toBe(toHex(theirs));
    }
  });

  it('openssl PSS signatures (salt length = digest length) verify; tampered ones do not', () => {
    for (const hash of hashes) {
      const sigPath = join(dir, `pss-${hash}.sig`);
      openssl('dgst', `-${hash}`, '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:digest', '-sign', keyPath, '-out', sigPath, messagePath);
      const sig = new Uint8Array(readFileSync(sigPath));
      const scheme = `rsa_pss_rsae_${hash}` as SignatureSchemeName;
      expect(p.verify(scheme, pub, message, sig)).toBe(true);
      const bad = sig.slice();
      bad[sig.length - 1]! ^= 0x80;
      expect(p.verify(scheme, pub, message, bad)).toBe(false);
      expect(p.verify(scheme, pub, Uint8Array.of(...message, 0), sig)).toBe(false);
    }
  });

  it('keys under 1024 bits are refused even with a valid signature', () => {
    const smallKeyPath = join(dir, 'small.key');
    openssl('genpkey', '-quiet', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:768', '-out', smallKeyPath);
    const small = parsePrivateKey(readFileSync(smallKeyPath, 'utf8')) as Extract<PrivateKey, { kind: 'rsa' }>;
    const sigPath = join(dir, 'small.sig');
    openssl('dgst', '-sha256', '-sign', smallKeyPath, '-out', sigPath, messagePath);
    const sig = new Uint8Array(readFileSync(sigPath));
    const smallPub = { n: small.n, e: small.e };
    expect(rsaVerifyPkcs1(smallPub, rsaHash('sha256'), message, sig)).toBe(false);
    // The same signature is valid arithmetic: only the size rule rejects it.
    const em = bigIntToBytes(modPow(bytesToBigInt(sig), small.e, small.n), 96);
    expect(toHex(em).endsWith(toHex(p.hash('sha256', message)))).toBe(true);
    expect(() => rsaSignPkcs1(small, rsaHash('sha256'), message, p.random)).toThrow();
  });
});
