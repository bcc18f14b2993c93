/**
 * X.509 certificates (RFC 5280): parsing into the fields the TLS engine needs, and the
 * signature check of one certificate against its issuer's key. Path building and
 * validation live elsewhere; this module only reads and checks one certificate.
 */
import { curveByOid, KEY_OID, type EcCurveName } from '../crypto/private-key.js';
import type { CryptoProvider, HashName, PublicKey, SignatureSchemeName } from '../crypto/provider.js';
import { hashLength } from '../crypto/provider.js';
import { TLSError } from '../errors.js';
import { equal, toHex } from '../util/bytes.js';
import { contextTag, decodeDer, decodeInteger, decodeString, DerError, DerReader, isStringTag, Tag, TagClass, unsignedBitLength, type DerNode } from '../util/der.js';

export const OID = {
  ...KEY_OID,
  rsassaPss: '1.2.840.113549.1.1.10',
  mgf1: '1.2.840.113549.1.1.8',
  sha1WithRSAEncryption: '1.2.840.113549.1.1.5',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  sha384WithRSAEncryption: '1.2.840.113549.1.1.12',
  sha512WithRSAEncryption: '1.2.840.113549.1.1.13',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  ecdsaWithSHA384: '1.2.840.10045.4.3.3',
  ecdsaWithSHA512: '1.2.840.10045.4.3.4',
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  nameConstraints: '2.5.29.30',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  certificatePolicies: '2.5.29.32',
  policyConstraints: '2.5.29.36',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  emailAddress: '1.2.840.113549.1.9.1',
  commonName: '2.5.4.3',
  inhibitAnyPolicy: '2.5.29.54',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  anyExtendedKeyUsage: '2.5.29.37.0',
} as const;


export interface Name {
  /** The DER of the Name, for exact comparisons. */
  der: Uint8Array;
  /** RFC 4514 style, most specific first: `CN=foo, O=bar`. */
  text: string;
  /** RDNs in encoded order; values of non-string types are `#` + hex of their DER. */
  rdns: { oid: string; value: string }[][];
  /** The DER of each RDN (a SET), in encoded order: directoryName constraints compare these. */
  rdnDers: Uint8Array[];
}

export interface SignatureAlgorithm {
  oid: string;
  /** A readable name (the OID itself when unknown). */
  name: string;
  /** The TLS scheme that verifies it, when there is one. ECDSA: the hash matters, not the curve. */
  scheme?: SignatureSchemeName;
  /** RSASSA-PSS parameters (hash names, or OIDs when unknown). */
  pss?: { hash: string; mgfHash: string; saltLength: number };
}

export interface Extension {
  oid: string;
  critical: boolean;
  /** Contents of extnValue (the DER of the extension's own structure). */
  value: Uint8Array;
}

export type KeyUsage =
  | 'digitalSignature'
  | 'nonRepudiation'
  | 'keyEncipherment'
  | 'dataEncipherment'
  | 'keyAgreement'
  | 'keyCertSign'
  | 'cRLSign'
  | 'encipherOnly'
  | 'decipherOnly';
const keyUsageBits: KeyUsage[] = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
];

/** The identifier octets of the GeneralName forms (RFC 5280 4.2.1.6). */
export const GeneralNameTag = {
  otherName: contextTag(0, true),
  rfc822Name: contextTag(1, false),
  dNSName: contextTag(2, false),
  x400Address: contextTag(3, true),
  directoryName: contextTag(4, true),
  ediPartyName: contextTag(5, true),
  uniformResourceIdentifier: contextTag(6, false),
  iPAddress: contextTag(7, false),
  registeredID: contextTag(8, false),
} as const;

/**
 * One GeneralSubtree of nameConstraints. DNS names are ASCII-lower-cased, as given
 * otherwise (a malformed one is refused by the verifier, not here); email subtrees are a
 * mailbox, a host or a `.domain`; IP subtrees are address and mask of the same length (4
 * or 16 bytes); directoryName subtrees are the DER of each RDN. The forms the verifier does
 * not process are kept as their GeneralName tag.
 */
export type GeneralSubtree =
  | { kind: 'dns'; name: string }
  | { kind: 'email'; name: string }
  | { kind: 'ip'; address: Uint8Array; mask: Uint8Array }
  | { kind: 'dirName'; rdns: Uint8Array[] }
  | { kind: 'other'; tag: number };

export interface NameConstraints {
  permitted: GeneralSubtree[];
  excluded: GeneralSubtree[];
}

export interface Certificate {
  der: Uint8Array;
  /** The DER of TBSCertificate: what the issuer signed. */
  tbs: Uint8Array;
  version: 1 | 2 | 3;
  /** Lower-case hex, no leading zero octet (a '-' prefix for the rare negative serial). */
  serialNumber: string;
  signatureAlgorithm: SignatureAlgorithm;
  signature: Uint8Array;
  issuer: Name;
  subject: Name;
  /** ms since the epoch. */
  notBefore: number;
  notAfter: number;
  /** The DER of SubjectPublicKeyInfo (for pinning and raw public keys). */
  spki: Uint8Array;
  publicKey: PublicKey;
  extensions: Extension[];
  /**
   * subjectAltName entries by form: DNS names and rfc822 mailboxes as given, IP addresses as
   * text, directoryNames parsed, and the tags of every other form present (otherName, URI...).
   */
  subjectAltNames: SubjectAltNames;
  /** From basicConstraints; false when the extension is absent. */
  isCA: boolean;
  pathLen?: number;
  /** Present when the keyUsage extension is. */
  keyUsage?: KeyUsage[];
  /** extKeyUsage OIDs, present when the extension is. */
  extKeyUsage?: string[];
  /** Present when the nameConstraints extension is. */
  nameConstraints?: NameConstraints;
  /** subjectKeyIdentifier, when present. */
  subjectKeyId?: Uint8Array;
  /** The keyIdentifier of authorityKeyIdentifier, when present. */
  authorityKeyId?: Uint8Array;
  /** authorityKeyIdentifier names the issuer by issuer name and serial (authorityCertIssuer / SerialNumber). */
  authorityKeyIdByIssuer?: boolean;
}

export interface SubjectAltNames {
  dns: string[];
  ip: string[];
  email: string[];
  dirNames: Name[];
  otherTags: number[];
}

export const emptySubjectAltNames = (): SubjectAltNames => ({ dns: [], ip: [], email: [], dirNames: [], otherTags: [] });

/** A serial number longer than this (its magnitude, in octets) is refused (RFC 5280 4.1.2.2). */
export const MAX_SERIAL_OCTETS = 20;
/** Largest RSA modulus accepted, in bits: every RSA operation costs the cube of this. */
export const MAX_RSA_BITS = 16384;

const badCert = (message: string) => new DerError(message);
const unsupported = (message: string) => new TLSError('unsupported_certificate', message);

// ---- AlgorithmIdentifier ----

export interface AlgorithmIdentifier {
  oid: string;
  params?: DerNode;
  raw: Uint8Array;
}

export function readAlgorithm(r: DerReader, what: string): AlgorithmIdentifier {
  const node = r.read(Tag.SEQUENCE, what);
  const seq = new DerReader(node, what);
  const oid = seq.oid();
  const params = seq.done ? undefined : seq.any();
  seq.end();
  return params ? { oid, params, raw: node.raw } : { oid, raw: node.raw };
}

/** RSA PKCS#1 and hash AlgorithmIdentifiers carry NULL parameters, which some encoders omit. */
function nullOrAbsent(alg: AlgorithmIdentifier, what: string): void {
  if (alg.params && (alg.params.tag !== Tag.NULL || alg.params.value.length !== 0)) throw badCert(`${what}: parameters must be NULL`);
}

function absent(alg: AlgorithmIdentifier, what: string): void {
  if (alg.params) throw badCert(`${what}: unexpected parameters`);
}

const hashByOid: Record<string, string> = { [OID.sha1]: 'sha1', [OID.sha256]: 'sha256', [OID.sha384]: 'sha384', [OID.sha512]: 'sha512' };

function readHashAlgorithm(r: DerReader, what: string): string {
  const alg = readAlgorithm(r, what);
  nullOrAbsent(alg, what);
  return hashByOid[alg.oid] ?? alg.oid;
}

/** RSASSA-PSS-params (RFC 4055 section 3.1), defaults included. */
function readPssParams(params: DerNode | undefined): NonNullable<SignatureAlgorithm['pss']> {
  if (!params || params.tag !== Tag.SEQUENCE) throw badCert('RSASSA-PSS: missing parameters');
  const seq = new DerReader(params, 'RSASSA-PSS parameters');
  const out = { hash: 'sha1', mgfHash: 'sha1', saltLength: 20 };
  const h = seq.explicit(0);
  if (h) {
    out.hash = readHashAlgorithm(h, 'RSASSA-PSS hash');
    h.end();
  }
  const m = seq.explicit(1);
  if (m) {
    const mgf = readAlgorithm(m, 'RSASSA-PSS mask generation');
    m.end();
    if (mgf.oid !== OID.mgf1 || !mgf.params) throw badCert('RSASSA-PSS: mask generation function is not MGF1');
    const inner = new DerReader(mgf.params.raw, 'MGF1 hash');
    out.mgfHash = readHashAlgorithm(inner, 'MGF1 hash');
    inner.end();
  }
  const s = seq.explicit(2);
  if (s) {
    out.saltLength = s.smallInteger();
    s.end();
    if (out.saltLength < 0) throw badCert('RSASSA-PSS: negative salt length');
  }
  const t = seq.explicit(3);
  if (t) {
    if (t.smallInteger() !== 1) throw badCert('RSASSA-PSS: trailer field must be 1');
    t.end();
  }
  seq.end();
  return out;
}

const simpleSignatureAlgorithms: Record<string, { name: string; scheme?: SignatureSchemeName; params: 'absent' | 'null' }> = {
  [OID.ecdsaWithSHA256]: { name: 'ecdsa-with-SHA256', scheme: 'ecdsa_secp256r1_sha256', params: 'absent' },
  [OID.ecdsaWithSHA384]: { name: 'ecdsa-with-SHA384', scheme: 'ecdsa_secp384r1_sha384', params: 'absent' },
  [OID.ecdsaWithSHA512]: { name: 'ecdsa-with-SHA512', params: 'absent' },
  [OID.ed25519]: { name: 'ed25519', scheme: 'ed25519', params: 'absent' },
  [OID.sha256WithRSAEncryption]: { name: 'sha256WithRSAEncryption', scheme: 'rsa_pkcs1_sha256', params: 'null' },
  [OID.sha384WithRSAEncryption]: { name: 'sha384WithRSAEncryption', scheme: 'rsa_pkcs1_sha384', params: 'null' },
  [OID.sha512WithRSAEncryption]: { name: 'sha512WithRSAEncryption', scheme: 'rsa_pkcs1_sha512', params: 'null' },
  [OID.sha1WithRSAEncryption]: { name: 'sha1WithRSAEncryption', params: 'null' },
};

export function signatureAlgorithm(alg: AlgorithmIdentifier): SignatureAlgorithm {
  const simple = simpleSignatureAlgorithms[alg.oid];
  if (simple) {
    if (simple.params === 'absent') absent(alg, simple.name);
    else nullOrAbsent(alg, simple.name);
    return simple.scheme ? { oid: alg.oid, name: simple.name, scheme: simple.scheme } : { oid: alg.oid, name: simple.name };
  }
  if (alg.oid === OID.rsassaPss) {
    const pss = readPssParams(alg.params);
    const result: SignatureAlgorithm = { oid: alg.oid, name: 'RSASSA-PSS', pss };
    const h = pss.hash as HashName;
    // The TLS rsa_pss_rsae_* schemes fix MGF1 to the same hash and the salt to the hash length.
    if (h in hashLength && pss.mgfHash === h && pss.saltLength === hashLength[h]) {
      result.scheme = `rsa_pss_rsae_${h}` as SignatureSchemeName;
    }
    return result;
  }
  return { oid: alg.oid, name: alg.oid };
}

// ---- Name ----

const attributeNames: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.4': 'SN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'STREET',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.12': 'title',
  '2.5.4.42': 'GN',
  '0.9.2342.19200300.100.1.1': 'UID',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

/** RFC 4514 section 2.4 escaping. */
function escapeValue(v: string): string {
  let s = v.replace(/[\\"+,;<>]/g, (c) => '\\' + c).replace(/\0/g, '\\00');
  if (s.startsWith('#') || s.startsWith(' ')) s = '\\' + s;
  if (s.endsWith(' ') && s.length > 1) s = s.slice(0, -1) + '\\ ';
  return s;
}

export function readName(r: DerReader, what: string): Name {
  const node = r.read(Tag.SEQUENCE, what);
  const seq = new DerReader(node, what);
  const rdns: Name['rdns'] = [];
  const rdnDers: Uint8Array[] = [];
  const shown: string[] = [];
  while (!seq.done) {
    const setNode = seq.read(Tag.SET, 'SET');
    rdnDers.push(setNode.raw);
    const set = new DerReader(setNode, what);
    const rdn: { oid: string; value: string }[] = [];
    const parts: string[] = [];
    while (!set.done) {
      const atv = set.sequence();
      const oid = atv.oid();
      const v = atv.any();
      atv.end();
      const isString = isStringTag(v.tag);
      const value = isString ? decodeString(v.tag, v.value, what) : '#' + toHex(v.raw);
      rdn.push({ oid, value });
      parts.push(`${attributeNames[oid] ?? oid}=${isString ? escapeValue(value) : value}`);
    }
    if (rdn.length === 0) throw badCert(`${what}: empty RDN`);
    rdns.push(rdn);
    shown.push(parts.join('+'));
  }
  return { der: node.raw, text: shown.reverse().join(', '), rdns, rdnDers };
}

// ---- SubjectPublicKeyInfo ----

const coordinateSize: Record<EcCurveName, number> = { 'P-256': 32, 'P-384': 48 };

/**
 * The SEC1 encoding of an EC public key, checked for form and length only: whether it is a
 * point on the curve is the provider's to say, when the key verifies a signature (this
 * module does no cryptography). Uncompressed (04) or compressed (02/03) as RFC 5480 allows.
 */
function ecPoint(curve: EcCurveName, bytes: Uint8Array): Uint8Array {
  const size = coordinateSize[curve];
  const t = bytes[0];
  const ok = (t === 0x04 && bytes.length === 1 + 2 * size) || ((t === 0x02 || t === 0x03) && bytes.length === 1 + size);
  if (!ok) throw new DerError(`EC public key: not a SEC1 point encoding for ${curve}`);
  return bytes.slice();
}

/** SubjectPublicKeyInfo → PublicKey; unsupported algorithms are unsupported_certificate. */
export function parseSubjectPublicKeyInfo(der: Uint8Array): PublicKey {
  const outer = new DerReader(der, 'SubjectPublicKeyInfo');
  const seq = outer.sequence();
  const alg = readAlgorithm(seq, 'SubjectPublicKeyInfo algorithm');
  const key = seq.bitStringBytes();
  seq.end();
  outer.end();
  switch (alg.oid) {
    case OID.ecPublicKey: {
      if (!alg.params || alg.params.tag !== Tag.OID) throw unsupported('EC public key without a named curve');
      const curveOid = new DerReader(alg.params.raw, 'EC curve').oid();
      const curve = curveByOid[curveOid];
      if (!curve) throw unsupported(`EC curve ${curveOid} not supported`);
      return { kind: 'ec', curve, point: ecPoint(curve, key) };
    }
    case OID.ed25519:
      absent(alg, 'Ed25519 public key');
      if (key.length !== 32) throw badCert('Ed25519 public key must be 32 bytes');
      return { kind: 'ed25519', key: key.slice() };
    case OID.rsaEncryption: {
      nullOrAbsent(alg, 'RSA public key');
      const k = new DerReader(key, 'RSAPublicKey');
      const rsa = k.sequence();
      const modulus = rsa.read(Tag.INTEGER, 'modulus').value;
      const exponent = rsa.read(Tag.INTEGER, 'publicExponent').value;
      rsa.end();
      k.end();
      // The size from the encoding, checked before the value is built.
      const bits = unsignedBitLength(modulus);
      if (bits > MAX_RSA_BITS) throw unsupported(`RSA public key of ${bits} bits (at most ${MAX_RSA_BITS})`);
      const n = decodeInteger(modulus, 'modulus');
      const e = decodeInteger(exponent, 'publicExponent');
      if (n <= 0n || e <= 0n) throw badCert('RSA public key: non-positive modulus or exponent');
      return { kind: 'rsa', n, e, bits };
    }
    default:
      throw unsupported(`public key algorithm ${alg.oid} not supported`);
  }
}

// ---- extensions ----

function formatIp(b: Uint8Array): string {
  if (b.length === 4) return b.join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  // RFC 5952: compress the longest run (the first, on a tie) of two or more zero groups.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const h = (g: number[]) => g.map((x) => x.toString(16)).join(':');
  return best < 0 ? h(groups) : `${h(groups.slice(0, best))}::${h(groups.slice(best + bestLen))}`;
}

/** One GeneralName into `out`, by form; malformed forms we read are bad_certificate. */
function readGeneralName(n: DerNode, out: SubjectAltNames, what: string): void {
  switch (n.tag) {
    case GeneralNameTag.dNSName:
      out.dns.push(decodeString(Tag.IA5String, n.value, `${what} dNSName`));
      break;
    case GeneralNameTag.rfc822Name:
      out.email.push(decodeString(Tag.IA5String, n.value, `${what} rfc822Name`));
      break;
    case GeneralNameTag.iPAddress:
      if (n.value.length !== 4 && n.value.length !== 16) throw badCert(`${what}: iPAddress must be 4 or 16 bytes`);
      out.ip.push(formatIp(n.value));
      break;
    case GeneralNameTag.directoryName: {
      const r = new DerReader(n, `${what} directoryName`);
      out.dirNames.push(readName(r, `${what} directoryName`));
      r.end();
      break;
    }
    default:
      if (n.cls !== TagClass.context || n.number > 8) throw badCert(`${what}: not a GeneralName (tag 0x${n.tag.toString(16)})`);
      out.otherTags.push(n.tag);
  }
}

function parseSubjectAltName(value: Uint8Array, out: SubjectAltNames): void {
  const outer = new DerReader(value, 'subjectAltName');
  const names = outer.sequence();
  outer.end();
  if (names.done) throw badCert('subjectAltName: empty');
  while (!names.done) readGeneralName(names.any(), out, 'subjectAltName');
}

/** AuthorityInfoAccessSyntax (RFC 5280 4.2.2.1): one or more AccessDescriptions, each a method and a location. */
function parseAuthorityInfoAccess(value: Uint8Array): void {
  const outer = new DerReader(value, 'authorityInfoAccess');
  const seq = outer.sequence();
  outer.end();
  if (seq.done) throw badCert('authorityInfoAccess: no AccessDescription');
  while (!seq.done) {
    const ad = seq.sequence('AccessDescription');
    ad.oid();
    readGeneralName(ad.any(), emptySubjectAltNames(), 'authorityInfoAccess accessLocation');
    ad.end();
  }
}

function parseBasicConstraints(value: Uint8Array, cert: Certificate): void {
  const outer = new DerReader(value, 'basicConstraints');
  const seq = outer.sequence();
  outer.end();
  cert.isCA = seq.isNext(Tag.BOOLEAN) ? seq.boolean() : false;
  if (seq.isNext(Tag.INTEGER)) {
    const n = seq.smallInteger();
    if (n < 0) throw badCert('basicConstraints: negative pathLenConstraint');
    cert.pathLen = n;
  }
  seq.end();
}

function parseKeyUsage(value: Uint8Array, cert: Certificate): void {
  const outer = new DerReader(value, 'keyUsage');
  const bits = outer.bitString();
  outer.end();
  cert.keyUsage = keyUsageBits.filter((_, i) => i < bits.bytes.length * 8 && (bits.bytes[i >> 3]! & (0x80 >> (i & 7))) !== 0);
}

function parseExtKeyUsage(value: Uint8Array, cert: Certificate): void {
  const outer = new DerReader(value, 'extKeyUsage');
  const seq = outer.sequence();
  outer.end();
  const oids: string[] = [];
  while (!seq.done) oids.push(seq.oid());
  if (oids.length === 0) throw badCert('extKeyUsage: empty');
  cert.extKeyUsage = oids;
}

function isContiguousMask(mask: Uint8Array): boolean {
  let seenZero = false;
  for (const b of mask) {
    for (let bit = 0x80; bit; bit >>= 1) {
      if (b & bit) {
        if (seenZero) return false;
      } else {
        seenZero = true;
      }
    }
  }
  return true;
}

/** GeneralSubtrees ::= SEQUENCE SIZE (1..MAX) OF GeneralSubtree, read from an IMPLICIT [n]. */
function readSubtrees(node: DerNode): GeneralSubtree[] {
  const seq = new DerReader(node, 'nameConstraints');
  const out: GeneralSubtree[] = [];
  while (!seq.done) {
    const sub = seq.sequence('GeneralSubtree');
    const base = sub.any();
    // minimum is DEFAULT 0 (so never encoded in DER) and maximum MUST be absent (RFC 5280).
    if (!sub.done) throw badCert('nameConstraints: minimum/maximum in a GeneralSubtree');
    if (base.tag === GeneralNameTag.dNSName) {
      const name = decodeString(Tag.IA5String, base.value, 'nameConstraints dNSName');
      out.push({ kind: 'dns', name: name.replace(/[A-Z]/g, (c) => c.toLowerCase()) });
    } else if (base.tag === GeneralNameTag.rfc822Name) {
      out.push({ kind: 'email', name: decodeString(Tag.IA5String, base.value, 'nameConstraints rfc822Name') });
    } else if (base.tag === GeneralNameTag.iPAddress) {
      const v = base.value;
      if (v.length !== 8 && v.length !== 32) throw badCert('nameConstraints: iPAddress must be 8 or 32 bytes');
      const half = v.length / 2;
      const mask = v.slice(half);
      if (!isContiguousMask(mask)) throw badCert('nameConstraints: iPAddress mask is not a prefix');
      out.push({ kind: 'ip', address: v.slice(0, half), mask });
    } else if (base.tag === GeneralNameTag.directoryName) {
      const r = new DerReader(base, 'nameConstraints directoryName');
      const name = readName(r, 'nameConstraints directoryName');
      r.end();
      out.push({ kind: 'dirName', rdns: name.rdnDers });
    } else {
      out.push({ kind: 'other', tag: base.tag });
    }
  }
  if (out.length === 0) throw badCert('nameConstraints: empty GeneralSubtrees');
  return out;
}

function parseNameConstraints(value: Uint8Array, cert: Certificate): void {
  const outer = new DerReader(value, 'nameConstraints');
  const seq = outer.sequence();
  outer.end();
  const permitted = seq.optional(contextTag(0, true));
  const excluded = seq.optional(contextTag(1, true));
  seq.end();
  if (!permitted && !excluded) throw badCert('nameConstraints: empty');
  cert.nameConstraints = { permitted: permitted ? readSubtrees(permitted) : [], excluded: excluded ? readSubtrees(excluded) : [] };
}

function parseSubjectKeyId(value: Uint8Array, cert: Certificate): void {
  const outer = new DerReader(value, 'subjectKeyIdentifier');
  cert.subjectKeyId = outer.octetString().slice();
  outer.end();
}

function parseAuthorityKeyId(value: Uint8Array, cert: Certificate): void {
  const outer = new DerReader(value, 'authorityKeyIdentifier');
  const seq = outer.sequence();
  outer.end();
  const keyId = seq.optional(contextTag(0, false));
  const issuer = seq.optional(contextTag(1, true)); // authorityCertIssuer
  const serial = seq.optional(contextTag(2, false)); // authorityCertSerialNumber
  seq.end();
  if (keyId) cert.authorityKeyId = keyId.value.slice();
  if (issuer || serial) cert.authorityKeyIdByIssuer = true;
}

/** Extensions we interpret; the table is the place to add more. */
const extensionParsers: Record<string, (value: Uint8Array, cert: Certificate) => void> = {
  [OID.subjectAltName]: (v, c) => parseSubjectAltName(v, c.subjectAltNames),
  [OID.basicConstraints]: parseBasicConstraints,
  [OID.keyUsage]: parseKeyUsage,
  [OID.extKeyUsage]: parseExtKeyUsage,
  [OID.nameConstraints]: parseNameConstraints,
  [OID.subjectKeyIdentifier]: parseSubjectKeyId,
  [OID.authorityKeyIdentifier]: parseAuthorityKeyId,
  [OID.authorityInfoAccess]: (v) => parseAuthorityInfoAccess(v),
};

export function readExtensions(r: DerReader): Extension[] {
  const seq = r.sequence('extensions');
  const out: Extension[] = [];
  const seen = new Set<string>();
  while (!seq.done) {
    const ext = seq.sequence('extension');
    const oid = ext.oid();
    // DER forbids encoding the DEFAULT FALSE, but enough CAs do it that rejecting would hurt.
    const critical = ext.isNext(Tag.BOOLEAN) ? ext.boolean() : false;
    const value = ext.octetString();
    ext.end();
    if (seen.has(oid)) throw badCert(`extension ${oid} appears twice`);
    seen.add(oid);
    out.push({ oid, critical, value });
  }
  if (out.length === 0) throw badCert('extensions: empty');
  return out;
}

// ---- the certificate ----

/**
 * The serial as lower-case hex of its magnitude ('-' first for the rare negative one, which
 * RFC 5280 4.1.2.2 asks verifiers to handle gracefully). Longer than MAX_SERIAL_OCTETS is
 * refused before any arithmetic: a hostile certificate's 200 KB serial costs a length check.
 */
export function serialHex(v: Uint8Array): string {
  // A sign octet may precede 20 octets of magnitude; check the length before any arithmetic.
  if (v.length > MAX_SERIAL_OCTETS + 1) throw badCert(`serialNumber of ${v.length} octets (at most ${MAX_SERIAL_OCTETS})`);
  const n = decodeInteger(v, 'serialNumber');
  let h = (n < 0n ? -n : n).toString(16);
  if (h.length % 2) h = '0' + h;
  if (h.length > 2 * MAX_SERIAL_OCTETS) throw badCert(`serialNumber of ${h.length / 2} octets (at most ${MAX_SERIAL_OCTETS})`);
  return (n < 0n ? '-' : '') + h;
}

/** Parse one DER certificate. Throws TLSError (bad_certificate or unsupported_certificate). */
export function parseCertificate(der: Uint8Array): Certificate {
  try {
    // A private copy: every field below is a view into it, and the caller may reuse its buffer.
    return parse(der.slice());
  } catch (err) {
    if (err instanceof TLSError) throw err;
    throw new TLSError('bad_certificate', `certificate: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** What certificates and CRLs share (RFC 5280 4.1, 5.1): a signed TBS part, the algorithm and the signature. */
export interface Signed {
  node: DerNode;
  tbsNode: DerNode;
  algorithm: AlgorithmIdentifier;
  signature: Uint8Array;
}

/** Reads the outer SEQUENCE { tbs, signatureAlgorithm, signatureValue } of a certificate or CRL. */
export function readSigned(der: Uint8Array, what: string, tbsWhat: string): Signed {
  const node = decodeDer(der, what);
  if (node.tag !== Tag.SEQUENCE) throw badCert(`${what}: not a SEQUENCE`);
  const outer = new DerReader(node, what);
  const tbsNode = outer.read(Tag.SEQUENCE, tbsWhat);
  const algorithm = readAlgorithm(outer, `${what} signatureAlgorithm`);
  const signature = outer.bitStringBytes();
  outer.end();
  return { node, tbsNode, algorithm, signature };
}

/** The signed copy of the algorithm must match the unsigned one (RFC 5280 4.1.1.2, 5.1.1.2). */
export function checkSignedAlgorithm(signed: Signed, inner: AlgorithmIdentifier, what: string, tbsWhat: string): void {
  if (!equal(signed.algorithm.raw, inner.raw)) throw badCert(`${what}: signatureAlgorithm differs from ${tbsWhat}.signature`);
}

function parse(der: Uint8Array): Certificate {
  const signed = readSigned(der, 'Certificate', 'TBSCertificate');
  const { node: certNode, tbsNode, algorithm: outerAlg, signature } = signed;

  const tbs = new DerReader(tbsNode, 'TBSCertificate');
  let version = 1;
  const v = tbs.explicit(0, 'version');
  if (v) {
    version = v.smallInteger() + 1;
    v.end();
    if (version < 1 || version > 3) throw badCert(`TBSCertificate: unknown version ${version}`);
  }
  const serial = tbs.read(Tag.INTEGER, 'serialNumber').value;
  const innerAlg = readAlgorithm(tbs, 'signature');
  const issuer = readName(tbs, 'issuer');
  const validity = tbs.sequence('validity');
  const notBefore = validity.time();
  const notAfter = validity.time();
  validity.end();
  const subject = readName(tbs, 'subject');
  const spki = tbs.read(Tag.SEQUENCE, 'subjectPublicKeyInfo').raw;
  // issuerUniqueID [1] and subjectUniqueID [2]: obsolete, skipped.
  const issuerUid = tbs.optional(contextTag(1, false));
  const subjectUid = tbs.optional(contextTag(2, false));
  if ((issuerUid || subjectUid) && version < 2) throw badCert('TBSCertificate: unique identifiers in a v1 certificate');
  const extReader = tbs.explicit(3, 'extensions');
  tbs.end();

  checkSignedAlgorithm(signed, innerAlg, 'Certificate', 'TBSCertificate');

  const result: Certificate = {
    der: certNode.raw,
    tbs: tbsNode.raw,
    version: version as 1 | 2 | 3,
    serialNumber: serialHex(serial),
    signatureAlgorithm: signatureAlgorithm(outerAlg),
    signature,
    issuer,
    subject,
    notBefore,
    notAfter,
    spki,
    publicKey: parseSubjectPublicKeyInfo(spki),
    extensions: [],
    subjectAltNames: emptySubjectAltNames(),
    isCA: false,
  };
  if (extReader) {
    if (version !== 3) throw badCert('TBSCertificate: extensions in a pre-v3 certificate');
    result.extensions = readExtensions(extReader);
    extReader.end();
    for (const ext of result.extensions) extensionParsers[ext.oid]?.(ext.value, result);
  }
  return result;
}

/** What an issuer signs: a certificate's TBSCertificate, a CRL's TBSCertList. */
export interface SignedData {
  tbs: Uint8Array;
  signatureAlgorithm: SignatureAlgorithm;
  signature: Uint8Array;
}

/**
 * Check `cert`'s (or a CRL's) signature over its TBS part with the issuer's public key.
 * False for any failure, including algorithms we cannot verify.
 */
export function verifyCertificateSignature(provider: CryptoProvider, cert: SignedData, issuerPublicKey: PublicKey): boolean {
  const alg = cert.signatureAlgorithm;
  if (alg.scheme) return provider.verify(alg.scheme, issuerPublicKey, cert.tbs, cert.signature);
  // RSASSA-PSS with a salt length other than the hash length: not a TLS scheme, verifiable
  // by providers that offer it.
  const pss = alg.pss;
  if (pss && provider.verifyRsaPss && issuerPublicKey.kind === 'rsa' && pss.hash === pss.mgfHash && pss.hash in hashLength) {
    return provider.verifyRsaPss(issuerPublicKey, pss.hash as HashName, cert.tbs, cert.signature, pss.saltLength);
  }
  return false;
}
