/**
 * The Web PKI profile (src/x509/web-pki.ts): one test per CA/Browser Forum rule, each with a
 * leaf or root that differs from a valid chain in the one thing the rule is about, refused by
 * default for serverAuth and accepted with `webPkiProfile: false` (RFC 5280 alone).
 */
import { describe, expect, it } from 'vitest';
import { nobleProvider } from '../src/crypto/noble.js';
import { OID, type Certificate } from '../src/x509/certificate.js';
import { isPublicSuffix } from '../src/x509/public-suffix.js';
import { verifyServerCertificate, type ChainVerificationOptions } from '../src/x509/verify.js';
import {
  authorityKeyId,
  basicConstraints,
  cn,
  dnsName,
  extKeyUsage,
  ipName,
  issue,
  keyIdOf,
  keyUsage,
  makeKey,
  nameConstraints,
  profiles,
  subjectAltName,
  subjectKeyId,
  type Ext,
  type Issued,
  NOW,
  verifyCode,
} from './helpers/x509-builder.js';

const verify = verifyCode;

/** Default profile, then RFC 5280 alone: the pair each rule is about. */
const both = (chain: Certificate[], anchors: Certificate[], extra: Partial<ChainVerificationOptions> = {}) => [
  verify(chain, anchors, extra),
  verify(chain, anchors, { ...extra, webPkiProfile: false }),
];

const rootKey = makeKey('root');
const root = issue({ subject: cn('Web PKI Root'), key: rootKey, extensions: profiles.root(rootKey) });
const leafKey = makeKey('leaf');
const leafExtensions = (names: Uint8Array[] = [dnsName('www.example.com')], issuer: Issued = root): Ext[] => profiles.leaf(issuer, names);
function leafWith(extensions: Ext[], subject = cn('www.example.com'), issuer: Issued = root): Certificate {
  return issue({ subject, key: leafKey, issuer, extensions }).cert;
}
const withoutEku = (list: Ext[]) => list.filter((e) => e.oid !== OID.extKeyUsage);

describe('the subscriber certificate (BR 7.1.2.7)', () => {
  it('a leaf built like a web server certificate verifies under the profile', () => {
    expect(both([leafWith(leafExtensions())], [root.cert], { host: 'www.example.com' })).toEqual(['ok', 'ok']);
  });

  it('a leaf without extKeyUsage is refused', () => {
    expect(both([leafWith(withoutEku(leafExtensions()))], [root.cert])).toEqual(['INVALID_PURPOSE', 'ok']);
  });

  it('a leaf with anyExtendedKeyUsage is refused, even beside serverAuth', () => {
    expect(both([leafWith([...withoutEku(leafExtensions()), extKeyUsage([OID.anyExtendedKeyUsage])])], [root.cert])).toEqual(['INVALID_PURPOSE', 'ok']);
    expect(verify([leafWith([...withoutEku(leafExtensions()), extKeyUsage([OID.serverAuth, OID.anyExtendedKeyUsage])])], [root.cert])).toBe('INVALID_PURPOSE');
  });

  it('a CA certificate as the server certificate is refused', () => {
    const ca = leafWith([basicConstraints(true), keyUsage(0, 5), subjectKeyId(keyIdOf(leafKey)), authorityKeyId(root.keyId), extKeyUsage([OID.serverAuth]), subjectAltName([dnsName('ca.example.com')])], cn('CA as leaf'));
    expect(both([ca], [root.cert], { host: 'ca.example.com' })).toEqual(['INVALID_PURPOSE', 'ok']);
  });

  it('the profile is for servers: a client certificate without extKeyUsage verifies for clientAuth', () => {
    expect(verify([leafWith(withoutEku(leafExtensions()))], [root.cert], { purpose: 'clientAuth' })).toBe('ok');
  });

  it('a pinned leaf (itself the trust anchor) is exempt', () => {
    const key = makeKey('pinned');
    const pinned = issue({ subject: cn('pinned.example.com'), key, extensions: [basicConstraints(true), keyUsage(0, 5), subjectKeyId(keyIdOf(key)), subjectAltName([dnsName('pinned.example.com')])] }).cert;
    expect(verify([pinned], [pinned], { host: 'pinned.example.com' })).toBe('ok');
  });
});

describe('the root (BR 7.1.2.1.2)', () => {
  it('a root with extKeyUsage is refused', () => {
    const r = issue({ subject: cn('EKU Root'), key: rootKey, extensions: [...profiles.root(rootKey), extKeyUsage([OID.serverAuth])] });
    expect(both([leafWith(leafExtensions(undefined, r), undefined, r)], [r.cert])).toEqual(['INVALID_EXTENSION', 'ok']);
  });

  it('an intermediate trusted as the anchor may carry extKeyUsage', () => {
    const key = makeKey('intermediate');
    const int = issue({ subject: cn('EKU Intermediate'), key, issuer: root, extensions: [...profiles.intermediate(key, root), extKeyUsage([OID.serverAuth])] });
    expect(verify([leafWith(leafExtensions(undefined, int), undefined, int)], [int.cert])).toBe('ok');
  });
});

describe('wildcards under a public suffix (BR 3.2.2.6)', () => {
  const wildcard = (pattern: string) => both([leafWith(leafExtensions([dnsName(pattern)]), cn(pattern))], [root.cert]);

  it('a wildcard directly under an ICANN public suffix is refused', () => {
    expect(wildcard('*.co.uk')).toEqual(['ERR_TLS_CERT_ALTNAME_INVALID', 'ok']);
    expect(wildcard('*.CO.UK.')).toEqual(['ERR_TLS_CERT_ALTNAME_INVALID', 'ok']);
  });

  it('a wildcard under a registered name is not', () => {
    expect(wildcard('*.example.co.uk')).toEqual(['ok', 'ok']);
  });

  it('an internationalised public suffix is matched in A-labels (公司.cn)', () => {
    expect(wildcard('*.xn--55qx5d.cn')).toEqual(['ERR_TLS_CERT_ALTNAME_INVALID', 'ok']);
  });

  it('private-section suffixes are left to their owner: *.s3.amazonaws.com verifies', () => {
    expect(wildcard('*.s3.amazonaws.com')).toEqual(['ok', 'ok']);
  });

  it('the list algorithm: exact rules, wildcard rules, exceptions and the implicit * rule', () => {
    expect(['com', 'co.uk', 'xn--55qx5d.cn', 'anything.kawasaki.jp', 'madeup'].map(isPublicSuffix)).toEqual([true, true, true, true, true]);
    // kawasaki.jp is under `jp` only: its wildcard rule covers its children, not itself.
    expect(['example.com', 'example.co.uk', 'kawasaki.jp', 'city.kawasaki.jp', 's3.amazonaws.com', 'a.b.kawasaki.jp', ''].map(isPublicSuffix)).toEqual([false, false, false, false, false, false, false]);
  });
});

describe('the subject CN (BR 7.1.4.3)', () => {
  const v4 = ipName([192, 168, 1, 1]);
  const v6 = ipName([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  const withCn = (value: string, names: Uint8Array[], profile?: 'strict') =>
    verify([leafWith(leafExtensions(names), cn(value))], [root.cert], profile ? { webPkiProfile: profile } : {});

  it('a CN that reads as an IP address must be the canonical text of a subjectAltName iPAddress', () => {
    for (const text of ['0xC0A80101', '192.168.001.001', '3232235777', '192.168.1.2']) expect(withCn(text, [v4]), text).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    for (const text of ['2001:DB8::1', '2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8:0:0:0:0:0:1']) expect(withCn(text, [v6]), text).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(withCn('192.168.1.1', [v4])).toBe('ok');
    expect(withCn('2001:db8::1', [v6])).toBe('ok');
  });

  it('a CN host name in U-labels is refused beside its A-label dNSName', () => {
    expect(withCn('test-測試.com', [dnsName('xn--test--wg5h0h.com')])).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(withCn('xn--test--wg5h0h.com', [dnsName('xn--test--wg5h0h.com')])).toBe('ok');
  });

  it('a CN that differs from its dNSName in letter case is refused', () => {
    expect(withCn('Example.COM', [dnsName('example.com')])).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it("a CN naming the wildcard's base domain verifies by default and not under 'strict'", () => {
    expect(withCn('example.com', [dnsName('*.example.com')])).toBe('ok');
    expect(withCn('example.com', [dnsName('*.example.com')], 'strict')).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(withCn('*.example.com', [dnsName('*.example.com')], 'strict')).toBe('ok');
    expect(withCn('192.168.1.1', [v4], 'strict')).toBe('ok');
  });

  it('the CN rules are the profile: RFC 5280 alone reads no CN', () => {
    expect(verify([leafWith(leafExtensions([v4]), cn('0xC0A80101'))], [root.cert], { webPkiProfile: false })).toBe('ok');
  });
});

describe('nameConstraints criticality: where the two profiles differ', () => {
  const constrainedBy = (critical: boolean, extra: Partial<ChainVerificationOptions> = {}) => {
    const r = issue({ subject: cn('NC Root'), key: rootKey, extensions: [...profiles.root(rootKey), nameConstraints([dnsName('example.com')], [], critical)] });
    return verify([leafWith(leafExtensions(undefined, r), undefined, r)], [r.cert], extra);
  };

  it('non-critical nameConstraints verify under the Web PKI profile (the BR allow them) and are refused by RFC 5280', () => {
    expect(constrainedBy(false)).toBe('ok');
    expect(constrainedBy(false, { webPkiProfile: false })).toBe('INVALID_EXTENSION');
    expect(constrainedBy(false, { purpose: 'clientAuth' })).toBe('INVALID_EXTENSION');
    expect(constrainedBy(true, { webPkiProfile: false })).toBe('ok');
  });

  it('non-critical constraints are still enforced', () => {
    const r = issue({ subject: cn('NC Root 2'), key: rootKey, extensions: [...profiles.root(rootKey), nameConstraints([dnsName('example.org')], [], false)] });
    expect(verify([leafWith(leafExtensions(undefined, r), undefined, r)], [r.cert])).toBe('PERMITTED_SUBTREE_VIOLATION');
  });
});

describe('the webPkiProfile option', () => {
  it('verifyServerCertificate applies the profile by default and takes webPkiProfile: false', () => {
    const leaf = leafWith(withoutEku(leafExtensions()));
    const info = { chain: [leaf], host: 'www.example.com', now: NOW };
    expect(() => verifyServerCertificate(nobleProvider, info, [root.cert])).toThrow(/no extKeyUsage/);
    expect(() => verifyServerCertificate(nobleProvider, info, [root.cert], { webPkiProfile: false })).not.toThrow();
  });

  it('isPublicSuffix is exported from the package entry, beside the verifier', async () => {
    const entry = await import('../src/index.js');
    expect([entry.isPublicSuffix('co.uk'), entry.isPublicSuffix('example.co.uk')]).toEqual([true, false]);
  });

  it('a value other than true, false or strict is the caller’s error', () => {
    expect(verify([leafWith(leafExtensions())], [root.cert], { webPkiProfile: 'lax' as never })).toBe('ERR_TLS_INVALID_OPTION');
  });
});
