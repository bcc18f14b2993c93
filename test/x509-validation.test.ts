import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nobleProvider } from '../src/crypto/noble.js';
import { TLSError } from '../src/errors.js';
import { emptySubjectAltNames, type Certificate } from '../src/x509/certificate.js';
import { certificateMatchesHost, dnsNameMatches, normalizeDnsName, parseIp } from '../src/x509/hostname.js';
import { parseCertificateChain } from '../src/x509/parse-chain.js';
import { verifyCertificateChain, verifyServerCertificate, type CertificatePurpose } from '../src/x509/verify.js';

interface Case {
  name: string;
  chain: string[];
  anchors: string[];
  host: string | null;
  now: string;
  purpose: CertificatePurpose;
  webPkiProfile?: boolean;
  expect: string;
  alert?: string;
}

const dir = new URL('../vectors/x509/', import.meta.url);
const { cases } = JSON.parse(readFileSync(new URL('cases.json', dir), 'utf8')) as { cases: Case[] };

const loaded = new Map<string, Certificate[]>();
function load(files: string[]): Certificate[] {
  return files.flatMap((f) => {
    let certs = loaded.get(f);
    if (!certs) loaded.set(f, (certs = parseCertificateChain(readFileSync(new URL(f, dir), 'utf8'))));
    return certs;
  });
}

function run(c: Case): Certificate[] {
  return verifyCertificateChain(nobleProvider, load(c.chain), {
    anchors: load(c.anchors),
    host: c.host ?? undefined,
    now: Date.parse(c.now),
    purpose: c.purpose,
    webPkiProfile: c.webPkiProfile,
    // What the handshake asks: the leaf's key signs the handshake.
    keyUsage: 'digitalSignature',
  });
}

describe('certificate path validation (vectors/x509/cases.json)', () => {
  it('has enough cases, with unique names', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });

  it.each(cases)('$name', (c) => {
    if (c.expect === 'ok') {
      const path = run(c);
      expect(path[0]!.der).toEqual(load(c.chain)[0]!.der);
      // The path ends at one of the anchors.
      expect(load(c.anchors).some((a) => a.der.length === path.at(-1)!.der.length && a.der.every((b, i) => b === path.at(-1)!.der[i]))).toBe(true);
      return;
    }
    let caught: unknown;
    try {
      run(c);
    } catch (err) {
      caught = err;
    }
    expect(caught, 'verification must fail').toBeInstanceOf(TLSError);
    const err = caught as TLSError;
    expect({ code: err.code, alert: err.alert }, err.message).toEqual({ code: c.expect, alert: c.alert });
  });
});

describe('verifyServerCertificate (the client engine entry point)', () => {
  const chain = load(['leaf-ec.crt', 'int-ec.crt']);
  const anchors = load(['root-ec.crt']);
  const now = Date.parse('2026-01-01T00:00:00Z');

  it('accepts a good chain for its host', () => {
    expect(() => verifyServerCertificate(nobleProvider, { chain, host: 'www.example.com', now }, anchors)).not.toThrow();
  });

  it('needs a host name, but reports an untrusted chain first', () => {
    expect(() => verifyServerCertificate(nobleProvider, { chain, host: undefined, now }, anchors)).toThrow(
      expect.objectContaining({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' }),
    );
    expect(() => verifyServerCertificate(nobleProvider, { chain, host: undefined, now }, [])).toThrow(
      expect.objectContaining({ code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', message: expect.stringMatching(/no trust anchors/) }),
    );
  });

  it('refuses an empty chain', () => {
    expect(() => verifyServerCertificate(nobleProvider, { chain: [], host: 'www.example.com', now }, anchors)).toThrow(
      expect.objectContaining({ code: 'ERR_TLS_NO_CERTIFICATE' }),
    );
  });

  it('bounds the work on a chain of many certificates that all fit by name', () => {
    // 40 distinct certificates for the intermediate's name and key, none signed by the root:
    // each is a candidate issuer of the leaf, and each dead-ends. The search must stop early.
    const [bad] = load(['int-ec-bad-signature.crt']);
    const decoys = Array.from({ length: 40 }, (_, i) => ({ ...bad!, der: Uint8Array.of(...bad!.der, i) }));
    let calls = 0;
    const counting = { ...nobleProvider, verify: (...args: Parameters<typeof nobleProvider.verify>) => (calls++, nobleProvider.verify(...args)) };
    expect(() => verifyServerCertificate(counting, { chain: [chain[0]!, ...decoys], host: 'www.example.com', now }, anchors)).toThrow(TLSError);
    expect(calls).toBeLessThanOrEqual(64);
    // The same chain with the real intermediate last still verifies when it is reached in budget.
    calls = 0;
    expect(() => verifyServerCertificate(counting, { chain: [chain[0]!, ...decoys.slice(0, 5), chain[1]!], host: 'www.example.com', now }, anchors)).not.toThrow();
  });
});

describe('name constraints on edited SANs (signatures waved through)', () => {
  // int-nc-dns: permitted DNS:example.com, excluded DNS:secret.example.com.
  const trusting = { ...nobleProvider, verify: () => true };
  const [leaf] = load(['leaf-nc-ok.crt']);
  const rest = load(['int-nc-dns.crt']);
  const anchors = load(['root-ec.crt']);
  const now = Date.parse('2026-01-01T00:00:00Z');

  it.each([
    [['example.com'], 'ok'],
    [['a.b.example.com'], 'ok'],
    [['*.www.example.com'], 'ok'],
    [['EXAMPLE.COM.'], 'ok'],
    [['*.example.com'], 'EXCLUDED_SUBTREE_VIOLATION'], // it would match secret.example.com
    [['Secret.Example.COM.'], 'EXCLUDED_SUBTREE_VIOLATION'],
    [['*.secret.example.com'], 'EXCLUDED_SUBTREE_VIOLATION'],
    [['notsecret.example.com'], 'ok'],
    [['com'], 'PERMITTED_SUBTREE_VIOLATION'],
    [['*.com'], 'PERMITTED_SUBTREE_VIOLATION'],
    [['example.com.evil'], 'PERMITTED_SUBTREE_VIOLATION'],
  ])('dNSName %j: %s', (dns, expected) => {
    const edited = { ...leaf!, subjectAltNames: { ...emptySubjectAltNames(), dns } };
    let code = 'ok';
    try {
      verifyCertificateChain(trusting, [edited, ...rest], { anchors, now, purpose: 'serverAuth' });
    } catch (err) {
      code = (err as TLSError).code;
    }
    expect(code).toBe(expected);
  });
});

describe('host name rules (RFC 9525)', () => {
  const cert = (dns: string[], ip: string[] = []) => ({ subjectAltNames: { dns, ip } }) as unknown as Certificate;

  it.each([
    ['www.example.com', 'www.example.com', true],
    ['www.example.com', 'WWW.EXAMPLE.COM', true],
    ['WWW.Example.com', 'www.example.com', true],
    ['www.example.com', 'www.example.com.', true],
    ['www.example.com.', 'www.example.com', true],
    ['www.example.com', 'www.example.com..', false],
    ['www.example.com', 'example.com', false],
    ['example.com', 'www.example.com', false],
    ['*.example.com', 'a.example.com', true],
    ['*.example.com', 'A-1.Example.Com.', true],
    ['*.example.com', 'example.com', false],
    ['*.example.com', '.example.com', false],
    ['*.example.com', 'a.b.example.com', false],
    ['*.example.com', 'aexample.com', false],
    ['*.com', 'example.com', false],
    ['*.*.example.com', 'a.b.example.com', false],
    ['a.*.example.com', 'a.b.example.com', false],
    ['x*.example.com', 'xa.example.com', false],
    ['*x.example.com', 'ax.example.com', false],
    ['x*.example.com', 'x*.example.com', false],
    ['*', 'localhost', false],
    ['xn--bcher-kva.example', 'xn--bcher-kva.example', true],
    ['xn--bcher-kva.example', 'XN--BCHER-KVA.example', true],
    ['xn--bcher-kva.example', 'bücher.example', false],
    ['*.example.com', 'xn--bcher-kva.example.com', true],
    ['127.0.0.1', '127.0.0.1', false],
    ['1.2.3.04', '1.2.3.04', false],
    ['localhost', 'localhost', true],
    ['', '', false],
  ])('dNSName %s vs host %s: %s', (pattern, host, expected) => {
    expect(certificateMatchesHost(cert([pattern]), host)).toBe(expected);
  });

  it.each([
    ['192.0.2.1', '192.0.2.1', true],
    ['192.0.2.1', '192.0.2.2', false],
    ['192.0.2.1', '192.000.2.1', false],
    ['::1', '::1', true],
    ['::1', '[::1]', true],
    ['::1', '0:0:0:0:0:0:0:1', true],
    ['2001:db8::10', '2001:DB8:0:0::10', true],
    ['::ffff:c000:201', '::ffff:192.0.2.1', true],
    ['192.0.2.1', '::ffff:192.0.2.1', false],
    ['::1', '::2', false],
  ])('iPAddress %s vs host %s: %s', (san, host, expected) => {
    expect(certificateMatchesHost(cert([], [san]), host)).toBe(expected);
  });

  it('never matches an IP host against dNSNames, nor a DNS host against iPAddresses', () => {
    expect(certificateMatchesHost(cert(['192.0.2.1', '::1']), '192.0.2.1')).toBe(false);
    expect(certificateMatchesHost(cert(['192.0.2.1', '::1']), '::1')).toBe(false);
    expect(certificateMatchesHost(cert([], ['192.0.2.1']), 'www.example.com')).toBe(false);
  });

  it('parses IP addresses strictly', () => {
    expect(parseIp('192.0.2.1')).toEqual(Uint8Array.of(192, 0, 2, 1));
    expect(parseIp('::')).toEqual(new Uint8Array(16));
    expect(parseIp('1::')).toEqual(Uint8Array.of(0, 1, ...new Array(14).fill(0)));
    expect(parseIp('::ffff:1.2.3.4')).toEqual(Uint8Array.of(...new Array(10).fill(0), 0xff, 0xff, 1, 2, 3, 4));
    for (const bad of ['256.0.0.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '[1.2.3.4]', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2::3', '1::2:3:4:5:6:7:8', ':::', '12345::', 'g::1', '1.2.3.4::', 'fe80::1%eth0', 'example.com']) {
      expect(parseIp(bad), bad).toBeUndefined();
    }
  });

  it('normalises names and matches patterns', () => {
    expect(normalizeDnsName('WWW.Example.COM.')).toBe('www.example.com');
    expect(dnsNameMatches('*.example.com', 'a.example.com')).toBe(true);
    // Preferred name syntax only: underscores are out since the CA/Browser Forum banned them (2019).
    expect(dnsNameMatches('*.example.com', 'a_b.example.com')).toBe(false);
    expect(dnsNameMatches('www.example.com', 'www..example.com')).toBe(false);
  });
});
