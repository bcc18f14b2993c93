/**
 * One test per verifier rule: each builds a chain that differs from a valid one in the one
 * thing the rule is about (test/helpers/x509-builder.ts) and expects the rule's code, and
 * where a rule has a limit, the valid side of it too.
 */
import { describe, expect, it } from 'vitest';
import { nobleProvider } from '../src/crypto/noble.js';
import { TLSError } from '../src/errors.js';
import { OID, parseCertificate, type Certificate } from '../src/x509/certificate.js';
import { decodeInteger, decodeOid, encodeDer, encodeOid, encodeSequence, Tag } from '../src/util/der.js';
import { concat } from '../src/util/bytes.js';
import { parseCrl, parseCrls } from '../src/x509/crl.js';
import { pemEncode } from '../src/x509/parse-chain.js';
import {
  authorityKeyId,
  basicConstraints,
  cn,
  dirName,
  dnsName,
  emailName,
  ext,
  extKeyUsage,
  issue,
  issueDer,
  keyIdOf,
  keyUsage,
  makeKey,
  name,
  nameConstraints,
  otherName,
  profiles,
  rootAndLeaf,
  crl,
  serialBytes,
  subjectAltName,
  subjectKeyId,
  type Ext,
  type Issued,
  NOW,
  verifyCode,
} from './helpers/x509-builder.js';

const verify = verifyCode;

/** Replace the extension with `oid` (or drop it when `replacement` is undefined). */
function swap(list: Ext[], oid: string, replacement?: Ext): Ext[] {
  const out = list.filter((e) => e.oid !== oid);
  if (replacement) out.push(replacement);
  return out;
}

const rootKey = makeKey('root');
const root = issue({ subject: cn('Rules Root'), key: rootKey, extensions: profiles.root(rootKey) });
const leafKey = makeKey('leaf');
function leafWith(extensions: Ext[], subject = cn('www.example.com'), issuer: Issued = root): Certificate {
  return issue({ subject, key: leafKey, issuer, extensions }).cert;
}
/** A root with constraints, and a leaf under it with `names`. */
function constrained(nc: Ext, names: Uint8Array[], subject = cn('leaf')): string {
  const r = issue({ subject: cn('NC Root'), key: rootKey, extensions: [...profiles.root(rootKey), nc] });
  return verify([leafWith(profiles.leaf(r, names), subject, r)], [r.cert], { purpose: 'clientAuth' });
}

describe('the public verifier', () => {
  it('verifyCertificateChain, verifyServerCertificate and parseCrls are exported from the package entry', async () => {
    const entry = await import('../src/index.js');
    const { root: r, leaf } = rootAndLeaf();
    const path = entry.verifyCertificateChain(nobleProvider, [leaf.cert], { anchors: [r.cert], now: NOW, purpose: 'serverAuth', host: 'www.example.com' });
    expect(path.map((c) => c.subject.text)).toEqual(['CN=www.example.com', 'CN=Builder Root']);
    expect(() => entry.verifyServerCertificate(nobleProvider, { chain: [leaf.cert], host: 'other.example.com', now: NOW }, [r.cert])).toThrow(/not valid for other.example.com/);
    const revoking = entry.parseCrls(pemEncode('X509 CRL', crl(r, [serialBytes(leaf.cert)])));
    expect(() => entry.verifyServerCertificate(nobleProvider, { chain: [leaf.cert], host: 'www.example.com', now: NOW }, [r.cert], { crl: revoking })).toThrow(/revoked/);
  });
});

describe('the valid starting point', () => {
  it('a root and a leaf built with the default profiles verify', () => {
    const { root: r, leaf } = rootAndLeaf();
    expect(verify([leaf.cert], [r.cert], { host: 'www.example.com' })).toBe('ok');
  });
});

describe('CA and end-entity profile (RFC 5280 4.2.1.x)', () => {
  it('a leaf with basicConstraints cA=TRUE whose keyUsage lacks keyCertSign is refused', () => {
    expect(verify([leafWith(swap(profiles.leaf(root), OID.basicConstraints, basicConstraints(true)))], [root.cert])).toBe('INVALID_CA');
  });

  it('under RFC 5280 alone a CA certificate as leaf verifies when no key usage is asked for, and not when digitalSignature is', () => {
    const ca = leafWith([basicConstraints(true), keyUsage(5), subjectKeyId(keyIdOf(leafKey)), authorityKeyId(root.keyId), subjectAltName([dnsName('ca.example.com')])], cn('CA as leaf'));
    expect(verify([ca], [root.cert], { host: 'ca.example.com', webPkiProfile: false })).toBe('ok');
    expect(verify([ca], [root.cert], { host: 'ca.example.com', webPkiProfile: false, keyUsage: 'digitalSignature' })).toBe('INVALID_PURPOSE');
  });

  it('keyUsage keyCertSign without cA is refused', () => {
    expect(verify([leafWith(swap(profiles.leaf(root), OID.keyUsage, keyUsage(0, 5)))], [root.cert])).toBe('KU_KEY_CERT_SIGN_INVALID_FOR_NON_CA');
  });

  it('a CA whose basicConstraints is not critical is refused', () => {
    const r = issue({ subject: cn('Soft Root'), key: rootKey, extensions: swap(profiles.root(rootKey), OID.basicConstraints, basicConstraints(true, false)) });
    expect(verify([leafWith(profiles.leaf(r), undefined, r)], [r.cert])).toBe('CA_BCONS_NOT_CRITICAL');
  });

  it('a critical authorityKeyIdentifier is refused', () => {
    expect(verify([leafWith(swap(profiles.leaf(root), OID.authorityKeyIdentifier, authorityKeyId(root.keyId, true)))], [root.cert])).toBe('AUTHORITY_KEY_IDENTIFIER_CRITICAL');
  });

  it('a CA with an empty subject is refused', () => {
    const r = issue({ subject: name(), key: rootKey, extensions: profiles.root(rootKey) });
    expect(verify([leafWith(profiles.leaf(r), undefined, r)], [r.cert])).toBe('SUBJECT_NAME_EMPTY');
  });

  it('a CA without subjectKeyIdentifier is refused', () => {
    const r = issue({ subject: cn('No SKI Root'), key: rootKey, extensions: swap(profiles.root(rootKey), OID.subjectKeyIdentifier) });
    expect(verify([leafWith(profiles.leaf(r), undefined, r)], [r.cert])).toBe('MISSING_SUBJECT_KEY_IDENTIFIER');
  });

  it('a certificate below the anchor without authorityKeyIdentifier is refused', () => {
    expect(verify([leafWith(swap(profiles.leaf(root), OID.authorityKeyIdentifier))], [root.cert])).toBe('MISSING_AUTHORITY_KEY_IDENTIFIER');
  });

  it("a root's authorityKeyIdentifier must name its own key, by key identifier only", () => {
    const other = issue({ subject: cn('AKI Root'), key: rootKey, extensions: [...profiles.root(rootKey), authorityKeyId(new Uint8Array(20).fill(7))] });
    expect(verify([leafWith(profiles.leaf(other), undefined, other)], [other.cert])).toBe('INVALID_EXTENSION');
    const byIssuer = ext(OID.authorityKeyIdentifier, false, encodeSequence(encodeDer(0x80, keyIdOf(rootKey)), encodeDer(0xa1, dirName(cn('AKI Root 2'))), encodeDer(0x82, Uint8Array.of(1))));
    const old = issue({ subject: cn('AKI Root 2'), key: rootKey, extensions: [...profiles.root(rootKey), byIssuer] });
    expect(verify([leafWith(profiles.leaf(old), undefined, old)], [old.cert])).toBe('INVALID_EXTENSION');
  });

  it('an empty subject needs a critical subjectAltName, and a non-empty one a non-critical subjectAltName', () => {
    const names = [dnsName('www.example.com')];
    expect(verify([leafWith(swap(profiles.leaf(root), OID.subjectAltName, subjectAltName(names, false)), name())], [root.cert])).toBe('EMPTY_SUBJECT_SAN_NOT_CRITICAL');
    expect(verify([leafWith(swap(profiles.leaf(root), OID.subjectAltName, subjectAltName(names, true)), name())], [root.cert])).toBe('ok');
    expect(verify([leafWith(swap(profiles.leaf(root), OID.subjectAltName, subjectAltName(names, true)))], [root.cert])).toBe('INVALID_EXTENSION');
  });

  it('a subjectAltName dNSName that is not a host name is refused', () => {
    for (const bad of ['.example.com', 'a..example.com', 'under_score.example.com', 'x*.example.com']) {
      expect(verify([leafWith(profiles.leaf(root, [dnsName(bad)]))], [root.cert]), bad).toBe('INVALID_EXTENSION');
    }
  });

  it('nameConstraints in an end-entity certificate are refused', () => {
    expect(verify([leafWith([...profiles.leaf(root), nameConstraints([dnsName('example.com')])])], [root.cert])).toBe('INVALID_EXTENSION');
  });

  it('a non-critical policyConstraints is refused', () => {
    const r = issue({ subject: cn('PC Root'), key: rootKey, extensions: [...profiles.root(rootKey), ext(OID.policyConstraints, false, encodeSequence(encodeDer(0x80, Uint8Array.of(0))))] });
    expect(verify([leafWith(profiles.leaf(r), undefined, r)], [r.cert])).toBe('INVALID_EXTENSION');
  });

  it('a critical extKeyUsage in an end-entity certificate is refused', () => {
    expect(verify([leafWith(swap(profiles.leaf(root), OID.extKeyUsage, extKeyUsage([OID.serverAuth], true)))], [root.cert])).toBe('INVALID_EXTENSION');
  });

  it('a serial number of zero or below, below the anchor, is refused', () => {
    const zero = issue({ subject: cn('zero'), key: leafKey, issuer: root, serial: Uint8Array.of(0), extensions: profiles.leaf(root) }).cert;
    expect(verify([zero], [root.cert])).toBe('ERR_TLS_INVALID_SERIAL_NUMBER');
    const negative = issue({ subject: cn('negative'), key: leafKey, issuer: root, serialContents: Uint8Array.of(0xff), extensions: profiles.leaf(root) }).cert;
    expect(negative.serialNumber).toBe('-01');
    expect(verify([negative], [root.cert])).toBe('ERR_TLS_INVALID_SERIAL_NUMBER');
  });

  it('an authorityInfoAccess without AccessDescriptions is malformed', () => {
    expect(() => leafWith([...profiles.leaf(root), ext(OID.authorityInfoAccess, false, encodeSequence())])).toThrow(/authorityInfoAccess/);
    const ok = leafWith([...profiles.leaf(root), ext(OID.authorityInfoAccess, false, encodeSequence(encodeSequence(encodeOid('1.3.6.1.5.5.7.48.1'), encodeDer(0x86, new TextEncoder().encode('http://ocsp.example')))))]);
    expect(verify([ok], [root.cert])).toBe('ok');
  });
});

describe('key strength', () => {
  const weak = makeKey('rsa1024', 1024);
  it('an RSA key under 2048 bits is refused in the leaf, and accepted when minRsaBits lowers the floor', () => {
    const leaf = issue({ subject: cn('weak'), key: weak, issuer: root, extensions: profiles.leaf(root) }).cert;
    expect(verify([leaf], [root.cert])).toBe('EE_KEY_TOO_SMALL');
    expect(verify([leaf], [root.cert], { minRsaBits: 1024 })).toBe('ok');
  });

  it('an RSA key under 2048 bits is refused in the root', () => {
    const r = issue({ subject: cn('Weak Root'), key: weak, extensions: profiles.root(weak) });
    expect(verify([leafWith(profiles.leaf(r), undefined, r)], [r.cert])).toBe('CA_KEY_TOO_SMALL');
  });
});

describe('validity in whole seconds', () => {
  it('a notAfter is valid until the end of its second', () => {
    const leaf = issue({ subject: cn('t'), key: leafKey, issuer: root, notAfter: '2026-01-01T00:00:00Z', extensions: profiles.leaf(root) }).cert;
    expect(verify([leaf], [root.cert], { now: NOW + 999 })).toBe('ok');
    expect(verify([leaf], [root.cert], { now: NOW + 1000 })).toBe('CERT_HAS_EXPIRED');
  });
});

describe('name constraints', () => {
  it('work is bounded: 300 names against 300 subtrees are refused at once', () => {
    const subtrees = Array.from({ length: 300 }, (_, i) => dnsName(`n${i}.example.com`));
    const names = Array.from({ length: 300 }, (_, i) => dnsName(`h${i}.n0.example.com`));
    const t = performance.now();
    expect(constrained(nameConstraints(subtrees), names)).toBe('ERR_TLS_NAME_CONSTRAINTS_TOO_COMPLEX');
    expect(performance.now() - t).toBeLessThan(500); // building the chain included; the refusal itself is one multiplication
    expect(constrained(nameConstraints(subtrees.slice(0, 100)), names.slice(0, 100))).toBe('ok');
  });

  it('a constraint on a name form we do not process refuses a certificate that has a name of that form', () => {
    const nc = nameConstraints([], [otherName('1.3.6.1.4.1.99999.1')]);
    expect(constrained(nc, [dnsName('www.example.com'), otherName('1.3.6.1.4.1.99999.1')])).toBe('UNSUPPORTED_CONSTRAINT_TYPE');
    expect(constrained(nc, [dnsName('www.example.com')])).toBe('ok');
  });

  it('a dNSName constraint with a leading period is malformed', () => {
    expect(constrained(nameConstraints([dnsName('.example.com')]), [dnsName('www.example.com')])).toBe('UNSUPPORTED_CONSTRAINT_SYNTAX');
  });

  it('rfc822Name constraints: a mailbox matches exactly (an asterisk is literal), a host or .domain by host', () => {
    expect(constrained(nameConstraints([emailName('*@example.com')]), [emailName('user@example.com')])).toBe('PERMITTED_SUBTREE_VIOLATION');
    expect(constrained(nameConstraints([emailName('*@example.com')]), [emailName('*@example.com')])).toBe('ok');
    expect(constrained(nameConstraints([emailName('example.com')]), [emailName('user@EXAMPLE.com')])).toBe('ok');
    expect(constrained(nameConstraints([emailName('example.com')]), [emailName('user@sub.example.com')])).toBe('PERMITTED_SUBTREE_VIOLATION');
    expect(constrained(nameConstraints([emailName('.example.com')]), [emailName('user@sub.example.com')])).toBe('ok');
    expect(constrained(nameConstraints([], [emailName('.example.com')]), [emailName('user@sub.example.com')])).toBe('EXCLUDED_SUBTREE_VIOLATION');
  });

  it('rfc822Name constraints: a malformed constraint or mailbox is refused', () => {
    expect(constrained(nameConstraints([emailName('a@b@example.com')]), [emailName('a@example.com')])).toBe('UNSUPPORTED_CONSTRAINT_SYNTAX');
    expect(constrained(nameConstraints([emailName('example.com')]), [emailName('a@b@example.com')])).toBe('PERMITTED_SUBTREE_VIOLATION');
  });

  it('rfc822Name constraints apply to emailAddress in the subject', () => {
    const subject = name([OID.commonName, 'leaf'], [OID.emailAddress, 'user@evil.test']);
    expect(constrained(nameConstraints([emailName('example.com')]), [dnsName('www.example.com')], subject)).toBe('PERMITTED_SUBTREE_VIOLATION');
  });

  it('directoryName constraints: the subject must start with the permitted RDNs', () => {
    const permitted = nameConstraints([dirName(name([OID.commonName, 'allowed']))]);
    expect(constrained(permitted, [dnsName('www.example.com')], name([OID.commonName, 'allowed'], ['2.5.4.10', 'Org']))).toBe('ok');
    expect(constrained(permitted, [dnsName('www.example.com')], cn('other'))).toBe('PERMITTED_SUBTREE_VIOLATION');
  });
});

describe('chain depth', () => {
  const intKey = makeKey('int');
  const int = issue({ subject: cn('Depth Int'), key: intKey, issuer: root, extensions: profiles.intermediate(intKey, root) });
  const leaf = leafWith(profiles.leaf(int), undefined, int);
  it('maxChainDepth counts intermediates between leaf and anchor', () => {
    expect(verify([leaf, int.cert], [root.cert], { maxChainDepth: 1 })).toBe('ok');
    expect(verify([leaf, int.cert], [root.cert], { maxChainDepth: 0 })).toBe('CERT_CHAIN_TOO_LONG');
  });

  it('a maxChainDepth or minRsaBits that is not a whole number is the caller\'s error', () => {
    expect(verify([leaf, int.cert], [root.cert], { maxChainDepth: -1 })).toBe('ERR_TLS_INVALID_OPTION');
    expect(verify([leaf, int.cert], [root.cert], { minRsaBits: 1.5 })).toBe('ERR_TLS_INVALID_OPTION');
  });
});

describe('CRLs', () => {
  const intKey = makeKey('int');
  const int = issue({ subject: cn('CRL Int'), key: intKey, issuer: root, extensions: profiles.intermediate(intKey, root) });
  const leaf = leafWith(profiles.leaf(int), undefined, int);
  const chain = [leaf, int.cert];
  const clean = () => [parseCrl(crl(root, [])), parseCrl(crl(int, []))];

  it('every certificate below the anchor is checked: a revoked leaf or intermediate is CERT_REVOKED', () => {
    expect(verify(chain, [root.cert], { crl: clean() })).toBe('ok');
    expect(verify(chain, [root.cert], { crl: [parseCrl(crl(root, [])), parseCrl(crl(int, [serialBytes(leaf)]))] })).toBe('CERT_REVOKED');
    expect(verify(chain, [root.cert], { crl: [parseCrl(crl(root, [serialBytes(int.cert)])), parseCrl(crl(int, []))] })).toBe('CERT_REVOKED');
  });

  it('a certificate whose issuer has no CRL is UNABLE_TO_GET_CRL', () => {
    expect(verify(chain, [root.cert], { crl: [parseCrl(crl(root, []))] })).toBe('UNABLE_TO_GET_CRL');
  });

  it('a CRL must be current, signed by the issuer, carry a non-critical cRLNumber, from an issuer allowed to sign CRLs', () => {
    const withInt = (c: Uint8Array) => verify(chain, [root.cert], { crl: [parseCrl(crl(root, [])), parseCrl(c)] });
    expect(withInt(crl(int, [], { nextUpdate: '2025-12-31T00:00:00Z' }))).toBe('CRL_HAS_EXPIRED');
    expect(withInt(crl(int, [], { thisUpdate: '2026-06-01T00:00:00Z' }))).toBe('CRL_NOT_YET_VALID');
    expect(withInt(crl(int, [], { extensions: [] }))).toBe('ERR_TLS_CRL_INVALID');
    expect(withInt(crl(int, [], { extensions: [ext('2.5.29.20', true, encodeDer(Tag.INTEGER, Uint8Array.of(1)))] }))).toBe('ERR_TLS_CRL_INVALID');
    const impostor = { ...int, key: makeKey('impostor') };
    expect(withInt(crl(impostor, []))).toBe('CRL_SIGNATURE_FAILURE');
    const noCrlSignKey = makeKey('int2');
    const int2 = issue({ subject: cn('CRL Int'), key: noCrlSignKey, issuer: root, extensions: swap(profiles.intermediate(noCrlSignKey, root), OID.keyUsage, keyUsage(5)) });
    const leaf2 = leafWith(profiles.leaf(int2), undefined, int2);
    expect(verify([leaf2, int2.cert], [root.cert], { crl: [parseCrl(crl(root, [])), parseCrl(crl(int2, []))] })).toBe('KEYUSAGE_NO_CRL_SIGN');
  });

  it('parseCrls reads PEM with several CRLs, DER concatenated, and lists of both', () => {
    const ders = [crl(root, []), crl(int, [serialBytes(leaf)])];
    const pem = ders.map((d) => pemEncode('X509 CRL', d)).join('');
    expect(parseCrls(pem)).toHaveLength(2);
    expect(parseCrls(concat(...ders))).toHaveLength(2);
    expect(parseCrls([pem, ders[0]!])).toHaveLength(3);
    expect(parseCrls(pem)[1]!.revoked.has(leaf.serialNumber)).toBe(true);
    expect(() => parseCrls('no crl here')).toThrow(TLSError);
  });
});

describe('DER caps: one certificate costs milliseconds, whatever it holds', () => {
  /** A DER certificate whose subject has one attribute with this OID content (no signature check needed: parsing refuses it). */
  function withHugeOid(octets: number): Uint8Array {
    // Arcs of two octets each (0x81 0x01 = 129), the last one closed.
    const oid = encodeDer(Tag.OID, Uint8Array.from({ length: octets }, (_, i) => (i === octets - 1 || i % 2 ? 0x01 : 0x81)));
    const subject = encodeSequence(encodeDer(Tag.SET, encodeSequence(oid, encodeDer(Tag.UTF8String, Uint8Array.of(0x61)))));
    return issueDer({ subject, key: leafKey, issuer: root, extensions: profiles.leaf(root) });
  }
  const timed = (f: () => void): number => {
    const t = performance.now();
    f();
    return performance.now() - t;
  };

  it('a 200 KB OID is refused in under 10 ms', () => {
    const der = withHugeOid(200_000);
    expect(() => parseCertificate(der)).toThrow(/OID of 200000 octets/);
    expect(Math.min(...[0, 1, 2].map(() => timed(() => expect(() => parseCertificate(der)).toThrow(TLSError))))).toBeLessThan(10);
  });

  it('an OID arc of 20 octets (a UUID takes 19) is read, one of 21 refused', () => {
    const arc = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i === n - 1 ? 0x01 : 0x81));
    expect(decodeOid(concat(Uint8Array.of(0x69), arc(19)))).toMatch(/^2\.25\.\d+$/);
    expect(() => decodeOid(concat(Uint8Array.of(0x69), arc(20)))).not.toThrow();
    expect(() => decodeOid(concat(Uint8Array.of(0x69), arc(21)))).toThrow(/OID arc of more than 20 octets/);
  });

  it('an OID of 128 octets is read, one of 129 refused', () => {
    expect(() => parseCertificate(withHugeOid(128))).not.toThrow();
    expect(() => parseCertificate(withHugeOid(129))).toThrow(/OID of 129 octets/);
  });

  it('a 200 KB serial is refused in under 10 ms, and one over 20 octets at all', () => {
    const der = issueDer({ subject: cn('s'), key: leafKey, issuer: root, serialContents: new Uint8Array(200_000).fill(0x11), extensions: profiles.leaf(root) });
    expect(Math.min(...[0, 1, 2].map(() => timed(() => expect(() => parseCertificate(der)).toThrow(/serialNumber of 200000 octets/))))).toBeLessThan(10);
    expect(() => issue({ subject: cn('s'), key: leafKey, issuer: root, serial: new Uint8Array(21).fill(0x11), extensions: profiles.leaf(root) })).toThrow(/serialNumber/);
    expect(issue({ subject: cn('s'), key: leafKey, issuer: root, serial: new Uint8Array(20).fill(0x91), extensions: profiles.leaf(root) }).cert.serialNumber).toBe('91'.repeat(20));
  });

  it('an RSA modulus over 16384 bits, and any INTEGER over 2049 octets, is refused', () => {
    const spki = (n: Uint8Array) =>
      encodeSequence(encodeSequence(encodeOid(OID.rsaEncryption), encodeDer(Tag.NULL, new Uint8Array())), encodeDer(Tag.BIT_STRING, concat(Uint8Array.of(0), encodeSequence(encodeDer(Tag.INTEGER, n), encodeDer(Tag.INTEGER, Uint8Array.of(3))))));
    const big = (octets: number) => Uint8Array.from({ length: octets }, (_, i) => (i === 0 ? 0x7f : 0xff));
    const certWith = (n: Uint8Array) => parseCertificate(issueDer({ subject: cn('r'), key: { ...leafKey, spki: spki(n) }, issuer: root, extensions: profiles.leaf(root) }));
    expect(() => certWith(big(2049))).toThrow(/RSA public key of 16391 bits/);
    expect(() => certWith(big(200_000))).toThrow(/RSA public key of 1599999 bits/);
    expect(() => decodeInteger(big(2050))).toThrow(/INTEGER of 2050 octets/);
    expect(decodeInteger(big(2049)) > 0n).toBe(true);
  });
});
