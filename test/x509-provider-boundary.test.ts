/**
 * The provider boundary (DESIGN.md, "One provider boundary"): X.509 does no cryptography of
 * its own. Parsing a certificate does no curve or RSA arithmetic, every signature verdict
 * is the provider's, and the layers import each other one way only: x509 above crypto,
 * the DER and PEM helpers below both.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nobleProvider } from '../src/crypto/noble.js';
import type { CryptoProvider } from '../src/crypto/provider.js';
import { OID, parseCertificate } from '../src/x509/certificate.js';
import { verifyCertificateChain } from '../src/x509/verify.js';
import { concat } from '../src/util/bytes.js';
import { encodeDer, encodeOid, encodeSequence, Tag } from '../src/util/der.js';
import { cn, issue, issueDer, makeKey, profiles } from './helpers/x509-builder.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');

/** A provider that records every call by method name and answers `verify` as told. */
function recording(verdict?: boolean): { provider: CryptoProvider; calls: string[] } {
  const calls: string[] = [];
  const provider = new Proxy(nobleProvider, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(String(prop));
        if (prop === 'verify' && verdict !== undefined) return verdict;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { provider, calls };
}

function importsOf(dir: string): { file: string; specifier: string }[] {
  const root = new URL(`../src/${dir}/`, import.meta.url);
  return readdirSync(root)
    .filter((f) => f.endsWith('.ts'))
    .flatMap((file) => [...readFileSync(new URL(file, root), 'utf8').matchAll(/^(?:import|export)\b[^;]*?from '([^']+)'/gms)].map((m) => ({ file, specifier: m[1]! })));
}

describe('the provider boundary', () => {
  const rootKey = makeKey('root');
  const root = issue({ subject: cn('Boundary Root'), key: rootKey, extensions: profiles.root(rootKey) });
  const intKey = makeKey('int');
  const int = issue({ subject: cn('Boundary Int'), key: intKey, issuer: root, extensions: profiles.intermediate(intKey, root) });
  const leaf = issue({ subject: cn('www.example.com'), key: makeKey('leaf'), issuer: int, extensions: profiles.leaf(int) });

  it('verifying a chain asks the provider for each signature, and for nothing else', () => {
    const { provider, calls } = recording();
    verifyCertificateChain(provider, [leaf.cert, int.cert], { anchors: [root.cert], now: NOW, purpose: 'serverAuth', host: 'www.example.com' });
    expect(calls).toEqual(['verify', 'verify']);
  });

  it("the provider's verdict is the verdict: a provider that refuses fails a good chain, one that accepts passes a forged one", () => {
    expect(() => verifyCertificateChain(recording(false).provider, [leaf.cert, int.cert], { anchors: [root.cert], now: NOW, purpose: 'serverAuth' })).toThrow(/signature/);
    const forged = issue({ subject: cn('www.example.com'), key: makeKey('leaf'), issuer: { ...int, key: makeKey('impostor') }, extensions: profiles.leaf(int) });
    expect(() => verifyCertificateChain(nobleProvider, [forged.cert, int.cert], { anchors: [root.cert], now: NOW, purpose: 'serverAuth' })).toThrow(/signature/);
    expect(verifyCertificateChain(recording(true).provider, [forged.cert, int.cert], { anchors: [root.cert], now: NOW, purpose: 'serverAuth' })).toHaveLength(3);
  });

  it('parsing does no curve arithmetic: a key that is not on the curve parses, and the provider refuses it when it is used', () => {
    const offCurve = concat(Uint8Array.of(0x04), new Uint8Array(64).fill(1));
    const spki = encodeSequence(encodeSequence(encodeOid(OID.ecPublicKey), encodeOid(OID.prime256v1)), encodeDer(Tag.BIT_STRING, concat(Uint8Array.of(0), offCurve)));
    const cert = parseCertificate(issueDer({ subject: cn('off curve'), key: { ...makeKey('leaf'), spki }, issuer: root, extensions: profiles.leaf(root) }));
    expect(cert.publicKey).toEqual({ kind: 'ec', curve: 'P-256', point: offCurve });
    expect(nobleProvider.verify('ecdsa_secp256r1_sha256', cert.publicKey, new Uint8Array(1), new Uint8Array(8))).toBe(false);
  });

  it('src/x509 imports no crypto library, no node:* module and no provider implementation', () => {
    const bad = importsOf('x509').filter(({ specifier }) => /^@noble\/|^node:|crypto\/(noble|node|rsa|shared)\.js$/.test(specifier));
    expect(bad).toEqual([]);
  });

  it('src/crypto imports nothing from src/x509', () => {
    expect(importsOf('crypto').filter(({ specifier }) => specifier.includes('x509/'))).toEqual([]);
  });
});
