/**
 * The RSA private-key operation is constant-time in structure: a fixed window count,
 * masked table selection, exponent and base blinding. BigInt itself is variable-time, so
 * what can be tested is the structure (the source has no secret-dependent branch, index or
 * string) and that blinding keeps every signature correct.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nobleProvider as p } from '../../src/crypto/noble.js';
import type { PrivateKey } from '../../src/crypto/provider.js';
import { modPow, modPowSecret, rsaSignPkcs1, rsaSignPss, rsaVerifyPkcs1, rsaVerifyPss, selectInConstantStructure, type RsaHash } from '../../src/crypto/rsa.js';
import { parsePrivateKey } from '../../src/x509/parse-chain.js';
import { toHex, utf8 } from '../../src/util/bytes.js';
import { mulberry32 } from '../helpers/random.js';

const keyPath = new URL('../../vectors/pki/leaf-rsa2048.key', import.meta.url).pathname;
const priv = parsePrivateKey(readFileSync(keyPath, 'utf8')) as Extract<PrivateKey, { kind: 'rsa' }>;
const sha256: RsaHash = { name: 'sha256', length: 32, digest: (d) => p.hash('sha256', d) };
const message = utf8.encode('blinded RSA signature');

/** The text of one top-level function of src/crypto/rsa.ts. */
function functionSource(name: string): string {
  const source = readFileSync(new URL('../../src/crypto/rsa.ts', import.meta.url), 'utf8');
  const start = source.search(new RegExp(`\\nfunction ${name}\\(|\\nexport function ${name}\\(`));
  expect(start, `function ${name} in rsa.ts`).toBeGreaterThan(0);
  const end = source.indexOf('\n}\n', start);
  return source.slice(start, end + 2);
}

describe('RSA private-key exponentiation', () => {
  it('modPowSecret agrees with modPow, zero windows and leading zero bits included', () => {
    const rng = mulberry32(20);
    const big = (bytes: number) => rng.bytes(bytes).reduce((n, b) => (n << 8n) | BigInt(b), 0n);
    const m = priv.p;
    for (let i = 0; i < 20; i++) {
      const base = big(64);
      // Exponents with runs of zero digits and far fewer bits than the stated length.
      const exp = i % 3 === 0 ? big(2) << 100n : i % 3 === 1 ? 0n : big(100);
      expect(modPowSecret(base, exp, m, 1024 + 65)).toBe(modPow(base, exp, m));
    }
    expect(() => modPowSecret(3n, 1n << 80n, m, 64)).toThrow(RangeError);
  });

  it('selects each table entry by a full masked scan', () => {
    const table = Array.from({ length: 16 }, (_, i) => BigInt(i) * 0x1234567890abcdefn + 1n);
    for (let i = 0; i < 16; i++) expect(selectInConstantStructure(table, i)).toBe(table[i]);
  });

  it('signs correctly with exponent and base blinding on: every signature verifies, PKCS#1 stays deterministic', () => {
    let counter = 0;
    // A different blinding on every call, as from a real random source.
    const varying = (n: number) => new Uint8Array(n).map((_, i) => (++counter * 31 + i) & 0xff);
    const first = rsaSignPkcs1(priv, sha256, message, varying);
    for (let i = 0; i < 4; i++) {
      const again = rsaSignPkcs1(priv, sha256, message, varying);
      expect(toHex(again)).toBe(toHex(first));
      expect(rsaVerifyPkcs1(priv, sha256, message, again)).toBe(true);
      const pss = rsaSignPss(priv, sha256, message, varying);
      expect(rsaVerifyPss(priv, sha256, message, pss)).toBe(true);
    }
    // And through the provider, whose random source is the real one.
    const sig = p.sign('rsa_pss_rsae_sha256', priv, message);
    expect(p.verify('rsa_pss_rsae_sha256', priv, message, sig)).toBe(true);
  });

  it('has no secret-dependent branch, table index or string conversion in its source', () => {
    const secret = ['modPowSecret', 'selectInConstantStructure', 'blindedExponentiation'].map(functionSource).join('\n');
    // Digits are never read through a string.
    expect(secret).not.toMatch(/toString|parseInt/);
    // No table lookup by a computed digit: only the scan's own loop variable indexes it.
    expect(secret.match(/table\[[^\]]*\]/g) ?? []).toEqual(['table[i]']);
    // No branch in the window loop (the only `if` is the public length check).
    const loops = functionSource('modPowSecret').slice(functionSource('modPowSecret').indexOf('for ('));
    expect(loops).not.toMatch(/\bif\s*\(|\?[^.]/);
    // The CRT exponentiations go through the blinded, constant-structure path.
    const op = functionSource('privateOp');
    expect(op).toMatch(/blindedExponentiation\(blinded % p, dp/);
    expect(op).toMatch(/blindedExponentiation\(blinded % q, dq/);
    expect(op).not.toMatch(/modPow\([^)]*\bd[pq]\b/);
  });
});
