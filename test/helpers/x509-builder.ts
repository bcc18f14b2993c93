/**
 * Certificates and CRLs built in the test, one field at a time, so that each verifier rule
 * has a vector that differs from a valid chain in exactly the thing the rule is about.
 * Keys and signatures come from node:crypto (ECDSA P-256 by default, RSA on request); the
 * DER is written with tsls's own encoders. Test code only.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { OID, parseCertificate, type Certificate } from '../../src/x509/certificate.js';
import { contextTag, encodeDer, encodeOid, encodeSequence, encodeUnsigned, Tag } from '../../src/util/der.js';
import { concat } from '../../src/util/bytes.js';
import { nobleProvider } from '../../src/crypto/noble.js';
import { TLSError } from '../../src/errors.js';
import { verifyCertificateChain, type ChainVerificationOptions } from '../../src/x509/verify.js';

export interface Key {
  privateKey: KeyObject;
  spki: Uint8Array;
  rsa: boolean;
}

const keys = new Map<string, Key>();

/** A key pair, cached by `label` (RSA keys are slow to make). */
export function makeKey(label: string, rsaBits?: number): Key {
  let k = keys.get(label);
  if (!k) {
    const pair = rsaBits ? generateKeyPairSync('rsa', { modulusLength: rsaBits }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    k = { privateKey: pair.privateKey, spki: new Uint8Array(pair.publicKey.export({ type: 'spki', format: 'der' })), rsa: !!rsaBits };
    keys.set(label, k);
  }
  return k;
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const bool = (b: boolean) => encodeDer(Tag.BOOLEAN, Uint8Array.of(b ? 0xff : 0));
const bits = (b: number[]) => encodeDer(Tag.BIT_STRING, Uint8Array.of(0, ...b));

/** A Name of one CN (and more attributes in order), or the empty Name for `[]`. */
export function name(...rdns: [oid: string, value: string][]): Uint8Array {
  return encodeSequence(...rdns.map(([oid, v]) => encodeDer(Tag.SET, encodeSequence(encodeOid(oid), encodeDer(Tag.UTF8String, utf8(v))))));
}
export const cn = (v: string) => name([OID.commonName, v]);

// ---- GeneralNames ----
export const dnsName = (n: string) => encodeDer(contextTag(2, false), utf8(n));
export const emailName = (n: string) => encodeDer(contextTag(1, false), utf8(n));
export const ipName = (bytes: number[]) => encodeDer(contextTag(7, false), Uint8Array.from(bytes));
export const dirName = (n: Uint8Array) => encodeDer(contextTag(4, true), n);
export const uriName = (n: string) => encodeDer(contextTag(6, false), utf8(n));
export const otherName = (oid: string) => encodeDer(contextTag(0, true), concat(encodeOid(oid), encodeDer(contextTag(0, true), encodeDer(Tag.UTF8String, utf8('x')))));

// ---- extensions ----
export interface Ext {
  oid: string;
  critical: boolean;
  value: Uint8Array;
}
export const ext = (oid: string, critical: boolean, value: Uint8Array): Ext => ({ oid, critical, value });
export const basicConstraints = (ca: boolean, critical = true, pathLen?: number) =>
  ext(OID.basicConstraints, critical, encodeSequence(...(ca ? [bool(true)] : []), ...(pathLen !== undefined ? [encodeUnsigned(BigInt(pathLen))] : [])));
/** keyUsage from bit numbers: 0 digitalSignature, 5 keyCertSign, 6 cRLSign. */
export function keyUsage(...bitNumbers: number[]): Ext {
  const byte = bitNumbers.reduce((acc, b) => acc | (0x80 >> b), 0);
  return ext(OID.keyUsage, true, bits([byte]));
}
export const extKeyUsage = (oids: string[], critical = false) => ext(OID.extKeyUsage, critical, encodeSequence(...oids.map(encodeOid)));
export const subjectAltName = (names: Uint8Array[], critical = false) => ext(OID.subjectAltName, critical, encodeSequence(...names));
export const subjectKeyId = (id: Uint8Array) => ext(OID.subjectKeyIdentifier, false, encodeDer(Tag.OCTET_STRING, id));
export const authorityKeyId = (id: Uint8Array, critical = false) => ext(OID.authorityKeyIdentifier, critical, encodeSequence(encodeDer(contextTag(0, false), id)));
export function nameConstraints(permitted: Uint8Array[], excluded: Uint8Array[] = [], critical = true): Ext {
  const subtrees = (n: number, list: Uint8Array[]) => (list.length ? [encodeDer(contextTag(n, true), concat(...list.map((g) => encodeSequence(g))))] : []);
  return ext(OID.nameConstraints, critical, encodeSequence(...subtrees(0, permitted), ...subtrees(1, excluded)));
}

export interface CertSpec {
  subject: Uint8Array;
  key: Key;
  /** The issuer; the certificate signs itself when absent. */
  issuer?: Issued;
  /** Magnitude bytes of the serial (default 01..08). */
  serial?: Uint8Array;
  /** Raw INTEGER contents, when the test needs a malformed or oversized serial. */
  serialContents?: Uint8Array;
  notBefore?: string;
  notAfter?: string;
  extensions: Ext[];
}

export interface Issued {
  cert: Certificate;
  der: Uint8Array;
  subject: Uint8Array;
  key: Key;
  keyId: Uint8Array;
}

/** A 20-byte key identifier derived from the SPKI bytes (any stable value does). */
export function keyIdOf(key: Key): Uint8Array {
  return key.spki.slice(-20);
}

function generalizedTime(iso: string): Uint8Array {
  const text = iso.replace(/[-:]/g, '').replace('T', '').replace(/\.\d+/, '').replace('Z', '') + 'Z';
  return encodeDer(Tag.GeneralizedTime, utf8(text));
}

function signatureAlgorithm(key: Key): Uint8Array {
  return key.rsa ? encodeSequence(encodeOid(OID.sha256WithRSAEncryption), encodeDer(Tag.NULL, new Uint8Array())) : encodeSequence(encodeOid(OID.ecdsaWithSHA256));
}

/** Signs `tbs` with `key` and wraps it as a certificate or CRL (the same outer shape). */
function signed(tbs: Uint8Array, key: Key): Uint8Array {
  const signature = sign('sha256', tbs, key.privateKey);
  return encodeSequence(tbs, signatureAlgorithm(key), encodeDer(Tag.BIT_STRING, concat(Uint8Array.of(0), signature)));
}

let nextSerial = 1;

/** The DER of the certificate `spec` describes, not parsed (tests of what parsing refuses). */
export function issueDer(spec: CertSpec): Uint8Array {
  const signer = spec.issuer?.key ?? spec.key;
  const serial = spec.serialContents ? encodeDer(Tag.INTEGER, spec.serialContents) : encodeUnsigned(spec.serial ?? BigInt(nextSerial++));
  const tbs = encodeSequence(
    encodeDer(contextTag(0, true), encodeUnsigned(2n)),
    serial,
    signatureAlgorithm(signer),
    spec.issuer?.subject ?? spec.subject,
    encodeSequence(generalizedTime(spec.notBefore ?? '2025-01-01T00:00:00Z'), generalizedTime(spec.notAfter ?? '2035-01-01T00:00:00Z')),
    spec.subject,
    spec.key.spki,
    ...(spec.extensions.length
      ? [encodeDer(contextTag(3, true), encodeSequence(...spec.extensions.map((e) => encodeSequence(encodeOid(e.oid), ...(e.critical ? [bool(true)] : []), encodeDer(Tag.OCTET_STRING, e.value)))))]
      : []),
  );
  return signed(tbs, signer);
}

export function issue(spec: CertSpec): Issued {
  const der = issueDer(spec);
  return { cert: parseCertificate(der), der, subject: spec.subject, key: spec.key, keyId: keyIdOf(spec.key) };
}

/** The extensions of a well-formed root, intermediate or leaf; tests replace or drop one. */
export const profiles = {
  root: (key: Key) => [basicConstraints(true), keyUsage(5, 6), subjectKeyId(keyIdOf(key))],
  intermediate: (key: Key, issuer: Issued) => [basicConstraints(true), keyUsage(5, 6), subjectKeyId(keyIdOf(key)), authorityKeyId(issuer.keyId)],
  leaf: (issuer: Issued, names: Uint8Array[] = [dnsName('www.example.com')]) => [
    basicConstraints(false),
    keyUsage(0),
    extKeyUsage([OID.serverAuth, OID.clientAuth]),
    subjectAltName(names),
    authorityKeyId(issuer.keyId),
  ],
};

/** A valid root → leaf pair to start from. */
export function rootAndLeaf(): { root: Issued; leaf: Issued } {
  const rootKey = makeKey('root');
  const root = issue({ subject: cn('Builder Root'), key: rootKey, extensions: profiles.root(rootKey) });
  const leaf = issue({ subject: cn('www.example.com'), key: makeKey('leaf'), issuer: root, extensions: profiles.leaf(root) });
  return { root, leaf };
}

/** A CRL from `issuer` listing `revoked` serials (magnitude bytes); `extensions` default to a cRLNumber. */
export function crl(issuer: Issued, revoked: Uint8Array[], options: { extensions?: Ext[]; thisUpdate?: string; nextUpdate?: string } = {}): Uint8Array {
  const extensions = options.extensions ?? [ext('2.5.29.20', false, encodeUnsigned(1n))];
  const tbs = encodeSequence(
    encodeUnsigned(1n),
    signatureAlgorithm(issuer.key),
    issuer.subject,
    generalizedTime(options.thisUpdate ?? '2025-01-01T00:00:00Z'),
    generalizedTime(options.nextUpdate ?? '2035-01-01T00:00:00Z'),
    ...(revoked.length ? [encodeSequence(...revoked.map((s) => encodeSequence(encodeUnsigned(s), generalizedTime('2025-06-01T00:00:00Z'))))] : []),
    ...(extensions.length
      ? [encodeDer(contextTag(0, true), encodeSequence(...extensions.map((e) => encodeSequence(encodeOid(e.oid), ...(e.critical ? [bool(true)] : []), encodeDer(Tag.OCTET_STRING, e.value)))))]
      : []),
  );
  return signed(tbs, issuer.key);
}

/** Hex serial of a built certificate back to magnitude bytes (for CRLs). */
export function serialBytes(cert: Certificate): Uint8Array {
  return Uint8Array.from(cert.serialNumber.match(/../g)!.map((h) => parseInt(h, 16)));
}

/** The verification time of the rule tests: inside every built certificate's validity. */
export const NOW = Date.parse('2026-01-01T00:00:00Z');

/** 'ok', or the code of the TLSError verification threw: what a rule test compares. */
export function verifyCode(chain: Certificate[], anchors: Certificate[], extra: Partial<ChainVerificationOptions> = {}): string {
  try {
    verifyCertificateChain(nobleProvider, chain, { anchors, now: NOW, purpose: 'serverAuth', ...extra });
    return 'ok';
  } catch (err) {
    if (!(err instanceof TLSError)) throw err;
    return err.code;
  }
}
