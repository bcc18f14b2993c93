import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nobleProvider as p } from '../src/crypto/noble.js';
import type { SignatureSchemeName } from '../src/crypto/provider.js';
import { TLSError } from '../src/errors.js';
import { fromHex, toHex, utf8 } from '../src/util/bytes.js';
import { emptySubjectAltNames, OID, parseCertificate, verifyCertificateSignature, type Certificate } from '../src/x509/certificate.js';
import { decodeDer, DerError, DerReader, encodeUnsigned, Tag } from '../src/util/der.js';
import { base64Decode, parseCertificateChain, parsePrivateKey, pemDecode, pemEncode, publicKeyMatches } from '../src/x509/parse-chain.js';

const pki = (name: string) => new URL(`../vectors/pki/${name}`, import.meta.url).pathname;
const read = (name: string) => readFileSync(pki(name), 'utf8');
const load = (name: string) => parseCertificateChain(read(`${name}.crt`))[0]!;

const dir = mkdtempSync(join(tmpdir(), 'tsls-x509-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Deliberately not guarded: without openssl these tests must fail, not skip.
function openssl(...args: string[]): string {
  return execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

const serverLeaves = [
  { name: 'leaf-ecdsa-p256', kind: 'ec', curve: 'P-256', scheme: 'ecdsa_secp256r1_sha256' },
  { name: 'leaf-ecdsa-p384', kind: 'ec', curve: 'P-384', scheme: 'ecdsa_secp384r1_sha384' },
  { name: 'leaf-ed25519', kind: 'ed25519', scheme: 'ed25519' },
  { name: 'leaf-rsa2048', kind: 'rsa', scheme: 'rsa_pss_rsae_sha256' },
] as const;
const allNames = ['root', 'intermediate', ...serverLeaves.map((l) => l.name), 'client-ecdsa-p256'];

const root = load('root');
const intermediate = load('intermediate');
const rootName = 'CN=tsls Test Root CA, O=tsls';
const intermediateName = 'CN=tsls Test Intermediate CA, O=tsls';

describe('parsing the test PKI', () => {
  it('root and intermediate CAs', () => {
    expect(root.version).toBe(3);
    expect(root.serialNumber).toBe('01');
    expect(root.subject.text).toBe(rootName);
    expect(root.issuer.text).toBe(rootName);
    expect(toHex(root.issuer.der)).toBe(toHex(root.subject.der));
    expect(root.subject.rdns).toEqual([[{ oid: '2.5.4.10', value: 'tsls' }], [{ oid: '2.5.4.3', value: 'tsls Test Root CA' }]]);
    expect(root.publicKey).toMatchObject({ kind: 'ec', curve: 'P-256' });
    expect(root.isCA).toBe(true);
    expect(root.pathLen).toBeUndefined();
    expect(root.keyUsage).toEqual(['keyCertSign', 'cRLSign']);
    expect(root.extensions.find((e) => e.oid === OID.basicConstraints)?.critical).toBe(true);
    expect(root.signatureAlgorithm).toMatchObject({ name: 'ecdsa-with-SHA256', scheme: 'ecdsa_secp256r1_sha256' });

    expect(intermediate.serialNumber).toBe('02');
    expect(intermediate.subject.text).toBe(intermediateName);
    expect(intermediate.issuer.text).toBe(rootName);
    expect(toHex(intermediate.issuer.der)).toBe(toHex(root.subject.der));
    expect(intermediate.publicKey).toMatchObject({ kind: 'ec', curve: 'P-384' });
    expect(intermediate.isCA).toBe(true);
    expect(intermediate.pathLen).toBe(0);
  });

  it.each(serverLeaves)('$name', (leaf) => {
    const cert = load(leaf.name);
    expect(cert.version).toBe(3);
    expect(cert.subject.text).toBe(`CN=tsls test ${leaf.name}, O=tsls`);
    expect(cert.issuer.text).toBe(intermediateName);
    expect(cert.subjectAltNames).toEqual({ ...emptySubjectAltNames(), dns: ['localhost', 'test.tsls.example'], ip: ['127.0.0.1', '::1'] });
    expect(cert.publicKey.kind).toBe(leaf.kind);
    if (cert.publicKey.kind === 'ec') {
      expect(cert.publicKey.curve).toBe('curve' in leaf ? leaf.curve : undefined);
      expect(cert.publicKey.point[0]).toBe(4);
    }
    if (cert.publicKey.kind === 'rsa') {
      expect(cert.publicKey.bits).toBe(2048);
      expect(cert.publicKey.e).toBe(65537n);
    }
    expect(cert.isCA).toBe(false);
    expect(cert.keyUsage).toEqual(['digitalSignature']);
    expect(cert.extKeyUsage).toEqual([OID.serverAuth, OID.clientAuth]);
    expect(cert.signatureAlgorithm).toMatchObject({ name: 'ecdsa-with-SHA384', scheme: 'ecdsa_secp384r1_sha384' });
    expect(cert.notBefore).toBe(Date.UTC(2025, 0, 1));
    expect(cert.notAfter).toBe(Date.UTC(2124, 11, 31, 23, 59, 59));
    expect(cert.serialNumber).toBe(openssl('x509', '-in', pki(`${leaf.name}.crt`), '-noout', '-serial').trim().slice('serial='.length).toLowerCase());

    const chain = parseCertificateChain(read(`${leaf.name}.chain.pem`));
    expect(chain.map((c) => c.subject.text)).toEqual([cert.subject.text, intermediateName]);
    expect(toHex(chain[0]!.der)).toBe(toHex(cert.der));
  });

  it('client certificate', () => {
    const cert = load('client-ecdsa-p256');
    expect(cert.subject.text).toBe('CN=tsls test client, O=tsls');
    expect(cert.extKeyUsage).toEqual([OID.clientAuth]);
    expect(cert.subjectAltNames).toEqual(emptySubjectAltNames());
  });

  it('DER input: one certificate or several concatenated', () => {
    const der = new Uint8Array(pemDecode(read('leaf-ed25519.chain.pem')).flatMap((b) => [...b.der]));
    const chain = parseCertificateChain(der);
    expect(chain.map((c) => c.subject.text)).toEqual(['CN=tsls test leaf-ed25519, O=tsls', intermediateName]);
    expect(parseCertificate(chain[1]!.der).subject.text).toBe(intermediateName);
    // PEM given as bytes is recognised too.
    expect(parseCertificateChain(utf8.encode(read('root.crt')))[0]!.subject.text).toBe(rootName);
    expect(() => parseCertificateChain('no PEM here')).toThrow(TLSError);
  });
});

describe('certificate signatures', () => {
  it('leaf <- intermediate <- root', () => {
    expect(verifyCertificateSignature(p, root, root.publicKey)).toBe(true);
    expect(verifyCertificateSignature(p, intermediate, root.publicKey)).toBe(true);
    for (const name of allNames.slice(2)) {
      const cert = load(name);
      expect(verifyCertificateSignature(p, cert, intermediate.publicKey)).toBe(true);
      expect(verifyCertificateSignature(p, cert, root.publicKey)).toBe(false);
      expect(verifyCertificateSignature(p, cert, cert.publicKey)).toBe(false);
    }
    expect(verifyCertificateSignature(p, intermediate, intermediate.publicKey)).toBe(false);
  });

  it('a modified TBSCertificate no longer verifies', () => {
    const cert = load('leaf-ecdsa-p256');
    const der = cert.der.slice();
    // Flip a byte inside the subject CN: still parses, signature no longer matches.
    const at = toHex(der).indexOf(toHex(utf8.encode('leaf-ecdsa'))) / 2;
    der[at]! ^= 0x20;
    const modified = parseCertificate(der);
    expect(modified.subject.text).toContain('Leaf-ecdsa');
    expect(verifyCertificateSignature(p, modified, intermediate.publicKey)).toBe(false);
  });
});

describe('other signature algorithms (certificates made by openssl at test time)', () => {
  // Self-signed certificates over the test keys, one per signature algorithm we map.
  function selfSigned(key: string, ...sigArgs: string[]): Certificate {
    const out = join(dir, `self-${key}-${sigArgs.join('')}.crt`);
    openssl('req', '-x509', '-new', '-key', pki(`${key}.key`), '-subj', '/CN=self signed', '-days', '1', ...sigArgs, '-out', out);
    return parseCertificateChain(readFileSync(out, 'utf8'))[0]!;
  }

  it('RSASSA-PSS with the TLS parameters maps to rsa_pss_rsae_*', () => {
    for (const hash of ['sha256', 'sha384', 'sha512'] as const) {
      const cert = selfSigned('leaf-rsa2048', `-${hash}`, '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:digest');
      expect(cert.signatureAlgorithm).toEqual({
        oid: OID.rsassaPss,
        name: 'RSASSA-PSS',
        scheme: `rsa_pss_rsae_${hash}`,
        pss: { hash, mgfHash: hash, saltLength: { sha256: 32, sha384: 48, sha512: 64 }[hash] },
      });
      expect(verifyCertificateSignature(p, cert, cert.publicKey)).toBe(true);
    }
  });

  it('RSASSA-PSS with another salt length still verifies, without a TLS scheme', () => {
    const cert = selfSigned('leaf-rsa2048', '-sha256', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:20');
    expect(cert.signatureAlgorithm.scheme).toBeUndefined();
    expect(cert.signatureAlgorithm.pss).toEqual({ hash: 'sha256', mgfHash: 'sha256', saltLength: 20 });
    expect(verifyCertificateSignature(p, cert, cert.publicKey)).toBe(true);
    expect(verifyCertificateSignature(p, cert, root.publicKey)).toBe(false);
  });

  it('PKCS#1 v1.5, Ed25519, and ECDSA with a hash that does not match the curve', () => {
    const rsa = selfSigned('leaf-rsa2048', '-sha384');
    expect(rsa.signatureAlgorithm).toMatchObject({ name: 'sha384WithRSAEncryption', scheme: 'rsa_pkcs1_sha384' });
    expect(verifyCertificateSignature(p, rsa, rsa.publicKey)).toBe(true);
    const ed = selfSigned('leaf-ed25519');
    expect(ed.signatureAlgorithm).toMatchObject({ name: 'ed25519', scheme: 'ed25519' });
    expect(verifyCertificateSignature(p, ed, ed.publicKey)).toBe(true);
    const p384WithSha256 = selfSigned('leaf-ecdsa-p384', '-sha256');
    expect(p384WithSha256.signatureAlgorithm.scheme).toBe('ecdsa_secp256r1_sha256');
    expect(verifyCertificateSignature(p, p384WithSha256, p384WithSha256.publicKey)).toBe(true);
    const p256WithSha512 = selfSigned('leaf-ecdsa-p256', '-sha512');
    expect(p256WithSha512.signatureAlgorithm).toEqual({ oid: OID.ecdsaWithSHA512, name: 'ecdsa-with-SHA512' });
    // No TLS scheme for it, so not verifiable here.
    expect(verifyCertificateSignature(p, p256WithSha512, p256WithSha512.publicKey)).toBe(false);
  });
});

describe('private keys', () => {
  it.each(allNames)('%s.key matches its certificate', (name) => {
    const key = parsePrivateKey(read(`${name}.key`));
    const cert = load(name);
    expect(key.kind).toBe(cert.publicKey.kind);
    expect(publicKeyMatches(key, cert.publicKey)).toBe(true);
    expect(publicKeyMatches(key, (name === 'root' ? intermediate : root).publicKey)).toBe(false);
  });

  it('SEC1 and PKCS#1 (traditional) forms, DER, and SEC1 without the public key', () => {
    for (const name of ['leaf-ecdsa-p256', 'leaf-ecdsa-p384', 'leaf-rsa2048']) {
      const pkcs8 = parsePrivateKey(read(`${name}.key`));
      const traditional = openssl('pkey', '-in', pki(`${name}.key`), '-traditional');
      expect(traditional).toMatch(name.includes('rsa') ? /BEGIN RSA PRIVATE KEY/ : /BEGIN EC PRIVATE KEY/);
      expect(parsePrivateKey(traditional)).toEqual(pkcs8);
      const derPath = join(dir, `${name}.der`);
      openssl('pkey', '-in', pki(`${name}.key`), '-outform', 'DER', '-out', derPath);
      expect(parsePrivateKey(new Uint8Array(readFileSync(derPath)))).toEqual(pkcs8);
    }
    const noPublic = openssl('ec', '-in', pki('leaf-ecdsa-p384.key'), '-no_public');
    expect(parsePrivateKey(noPublic)).toEqual(parsePrivateKey(read('leaf-ecdsa-p384.key')));
    // `openssl ecparam -genkey` writes EC PARAMETERS before the key.
    const withParams = openssl('ecparam', '-name', 'prime256v1') + openssl('pkey', '-in', pki('leaf-ecdsa-p256.key'), '-traditional');
    expect(parsePrivateKey(withParams)).toEqual(parsePrivateKey(read('leaf-ecdsa-p256.key')));
  });

  it('bad keys throw TLSError', () => {
    expect(() => parsePrivateKey(read('root.crt'))).toThrow(TLSError);
    expect(() => parsePrivateKey('-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n')).toThrow(TLSError);
    const encrypted = openssl('pkey', '-in', pki('leaf-ed25519.key'), '-aes128', '-passout', 'pass:x');
    expect(() => parsePrivateKey(encrypted)).toThrow(/encrypted/);
  });
});

describe('our signatures verify with openssl', () => {
  it.each(serverLeaves)('$name ($scheme)', (leaf) => {
    const key = parsePrivateKey(read(`${leaf.name}.key`));
    const data = utf8.encode(`TLS 1.3, server CertificateVerify\0${leaf.name}`);
    const sig = p.sign(leaf.scheme as SignatureSchemeName, key, data);
    expect(p.verify(leaf.scheme as SignatureSchemeName, load(leaf.name).publicKey, data, sig)).toBe(true);

    const dataPath = join(dir, `${leaf.name}.data`);
    const sigPath = join(dir, `${leaf.name}.sig`);
    const pubPath = join(dir, `${leaf.name}.pub`);
    writeFileSync(dataPath, data);
    writeFileSync(sigPath, sig);
    writeFileSync(pubPath, openssl('x509', '-in', pki(`${leaf.name}.crt`), '-noout', '-pubkey'));
    const verify = () => {
      switch (leaf.scheme) {
        case 'ed25519':
          return openssl('pkeyutl', '-verify', '-pubin', '-inkey', pubPath, '-rawin', '-in', dataPath, '-sigfile', sigPath);
        case 'rsa_pss_rsae_sha256':
          return openssl('dgst', '-sha256', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:digest', '-verify', pubPath, '-signature', sigPath, dataPath);
        default:
          return openssl('dgst', leaf.scheme.endsWith('384') ? '-sha384' : '-sha256', '-verify', pubPath, '-signature', sigPath, dataPath);
      }
    };
    expect(verify()).toMatch(/Verified OK|Signature Verified Successfully/);
    // And openssl does reject a broken one, so the check above means something.
    sig[sig.length - 1]! ^= 1;
    writeFileSync(sigPath, sig);
    expect(verify).toThrow();
  });
});

describe('ECDSA curve and hash mismatch', () => {
  it('ECDSA with a hash that does not match the curve (TLS 1.2 style) verifies with openssl', () => {
    const key = parsePrivateKey(read('leaf-ecdsa-p256.key'));
    const data = utf8.encode('mixed curve and hash');
    const sig = p.sign('ecdsa_secp384r1_sha384', key, data);
    const dataPath = join(dir, 'mixed.data');
    const sigPath = join(dir, 'mixed.sig');
    writeFileSync(dataPath, data);
    writeFileSync(sigPath, sig);
    expect(openssl('dgst', '-sha384', '-prverify', pki('leaf-ecdsa-p256.key'), '-signature', sigPath, dataPath)).toMatch(/Verified OK/);
    expect(p.verify('ecdsa_secp384r1_sha384', load('leaf-ecdsa-p256').publicKey, data, sig)).toBe(true);
    expect(p.verify('ecdsa_secp256r1_sha256', load('leaf-ecdsa-p256').publicKey, data, sig)).toBe(false);
  });
});

describe('malformed DER', () => {
  const leafDer = load('leaf-ecdsa-p256').der;

  function expectDerFailure(input: Uint8Array): void {
    let caught: unknown;
    try {
      parseCertificate(input);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TLSError);
    expect((caught as TLSError).code).toBe('ERR_TLS_BAD_CERTIFICATE');
  }

  it('truncated, bad lengths, trailing bytes, indefinite and non-minimal lengths', () => {
    expectDerFailure(new Uint8Array(0));
    expectDerFailure(leafDer.subarray(0, leafDer.length - 1));
    expectDerFailure(leafDer.subarray(0, 3));
    expectDerFailure(Uint8Array.of(...leafDer, 0));
    const longer = leafDer.slice();
    longer[3]! += 1; // outer length (0x30 0x82 hi lo) one more than there is
    expectDerFailure(longer);
    const shorter = leafDer.slice();
    shorter[3]! -= 1;
    expectDerFailure(shorter);
    expectDerFailure(Uint8Array.of(0x30, 0x80, ...leafDer.subarray(4), 0, 0));
    expectDerFailure(Uint8Array.of(0x30, 0x83, 0x00, ...leafDer.subarray(2)));
    expectDerFailure(utf8.encode('not DER at all'));
  });

  it('every truncation and every single-bit flip gives a certificate or a TLSError, nothing else', () => {
    for (let n = 0; n < leafDer.length; n++) expectDerFailure(leafDer.subarray(0, n));
    for (let i = 0; i < leafDer.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const bad = leafDer.slice();
        bad[i]! ^= bit;
        try {
          parseCertificate(bad);
        } catch (err) {
          expect(err).toBeInstanceOf(TLSError);
        }
      }
    }
  });

  it('strict primitive decoding', () => {
    const value = (hex: string) => new DerReader(fromHex(hex));
    expect(value('020100').integer()).toBe(0n);
    expect(value('0201ff').integer()).toBe(-1n);
    expect(value('02020080').integer()).toBe(128n);
    expect(() => value('02020001').integer()).toThrow(DerError);
    expect(() => value('0202ff80').integer()).toThrow(DerError);
    expect(() => value('0200').integer()).toThrow(DerError);
    expect(() => value('0201ff').unsignedBytes()).toThrow(DerError);
    expect(toHex(value('0203008001').unsignedBytes())).toBe('8001');
    expect(value('06092a864886f70d01010b').oid()).toBe(OID.sha256WithRSAEncryption);
    expect(value('0603883703').oid()).toBe('2.999.3');
    expect(() => value('06032a8048').oid()).toThrow(DerError);
    expect(() => value('06022a86').oid()).toThrow(DerError);
    expect(value('0101ff').boolean()).toBe(true);
    expect(() => value('010101').boolean()).toThrow(DerError);
    expect(() => value('0500').null()).not.toThrow();
    expect(() => value('050100').null()).toThrow(DerError);
    expect(() => value('030107').bitString()).toThrow(DerError);
    expect(() => value('030201ff').bitString()).toThrow(DerError);
    expect(value('030201fe').bitString().unusedBits).toBe(1);
    expect(() => value('0401').octetString()).toThrow(DerError);
    expect(value('3003020100').sequence().integer()).toBe(0n);
    expect(() => value('3004020100').sequence()).toThrow(DerError);
    expect(() => value('0481ff' + '00'.repeat(0xff)).octetString()).not.toThrow();
    expect(() => value('04817f' + '00'.repeat(0x7f)).octetString()).toThrow(DerError);
    // Constructed OCTET STRING is BER, not DER.
    expect(() => value('2403040100').octetString()).toThrow(DerError);
    // High tag numbers.
    expect(decodeDer(fromHex('9f2a00')).number).toBe(42);
    expect(() => decodeDer(fromHex('9f0500'))).toThrow(DerError);
  });

  it('times and strings', () => {
    const time = (s: string, tag: number) => new DerReader(Uint8Array.of(tag, s.length, ...utf8.encode(s))).time();
    expect(time('491231235959Z', Tag.UTCTime)).toBe(Date.UTC(2049, 11, 31, 23, 59, 59));
    expect(time('500101000000Z', Tag.UTCTime)).toBe(Date.UTC(1950, 0, 1));
    expect(time('20240229120000Z', Tag.GeneralizedTime)).toBe(Date.UTC(2024, 1, 29, 12));
    expect(time('20240229120000.5Z', Tag.GeneralizedTime)).toBe(Date.UTC(2024, 1, 29, 12, 0, 0, 500));
    expect(time('20240229120000.123Z', Tag.GeneralizedTime)).toBe(Date.UTC(2024, 1, 29, 12, 0, 0, 123));
    expect(time('00010101000000Z', Tag.GeneralizedTime)).toBe(new Date('0001-01-01T00:00:00Z').getTime());
    for (const [s, tag] of [
      ['2402291200Z', Tag.UTCTime],
      ['240229120000+0100', Tag.UTCTime],
      ['230229120000Z', Tag.UTCTime],
      ['20241301000000Z', Tag.GeneralizedTime],
      ['20240101000000.50Z', Tag.GeneralizedTime],
      ['20240101000000', Tag.GeneralizedTime],
    ] as const) {
      expect(() => time(s, tag), s).toThrow(DerError);
    }
    const str = (hex: string) => new DerReader(fromHex(hex)).string();
    expect(str('0c03e282ac')).toBe('€');
    expect(() => str('0c02c328')).toThrow(DerError);
    expect(str('1e0400e920ac')).toBe('é€');
    expect(() => str('1303612a3c')).toThrow(DerError); // '<' is not printable
    expect(str('1603612a3c')).toBe('a*<');
    expect(() => str('16018a')).toThrow(DerError);
  });

  it('the INTEGER encoder is minimal', () => {
    expect(toHex(encodeUnsigned(0n))).toBe('020100');
    expect(toHex(encodeUnsigned(0x80n))).toBe('02020080');
    expect(toHex(encodeUnsigned(fromHex('00007f')))).toBe('02017f');
    expect(new DerReader(encodeUnsigned(2n ** 200n + 5n)).integer()).toBe(2n ** 200n + 5n);
  });
});

describe('PEM', () => {
  it('decodes, encodes, and rejects malformed input', () => {
    const der = pemDecode(read('root.crt'))[0]!.der;
    expect(pemDecode(pemEncode('CERTIFICATE', der))).toEqual([{ label: 'CERTIFICATE', der }]);
    expect(pemDecode(`junk before\n${pemEncode('X', fromHex('0102'))}junk between\n${pemEncode('Y', fromHex('03'))}`)).toEqual([
      { label: 'X', der: fromHex('0102') },
      { label: 'Y', der: fromHex('03') },
    ]);
    expect(() => pemDecode('-----BEGIN A-----\nAAAA\n-----END B-----')).toThrow(TLSError);
    expect(toHex(base64Decode('AQID'))).toBe('010203');
    expect(toHex(base64Decode('AQI='))).toBe('0102');
    expect(toHex(base64Decode('AQ=='))).toBe('01');
    for (const bad of ['AQ=', 'A=QI', 'AQ*D', '=AQI', 'AQ==AQID']) expect(() => base64Decode(bad), bad).toThrow(TLSError);
  });

  it('parsed fields agree with openssl', () => {
    for (const name of allNames) {
      const cert: Certificate = load(name);
      const text = openssl('x509', '-in', pki(`${name}.crt`), '-noout', '-subject', '-issuer', '-nameopt', 'RFC2253');
      expect(text).toContain(`subject=${cert.subject.text.replace(/, /g, ',')}`);
      expect(text).toContain(`issuer=${cert.issuer.text.replace(/, /g, ',')}`);
    }
  });
});
