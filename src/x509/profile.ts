/**
 * The certificate profile a path's certificates must follow, beyond the path rules of RFC
 * 5280 section 6: the MUSTs of RFC 5280 section 4 that tell a CA from an end entity and a
 * well-formed extension from a malformed one, and the CA/Browser Forum key rules the web
 * already follows (RSA moduli of at least 2048 bits, in whole octets; the floor can be
 * lowered for legacy peers). Each rule throws a TLSError whose `code` is OpenSSL's name for
 * it where OpenSSL has one.
 *
 * The CA/Browser Forum's own rules for server certificates (extKeyUsage, CA leaves, the
 * subject CN, public-suffix wildcards) are ./web-pki.ts. The one place the two profiles
 * disagree is here: RFC 5280 4.2.1.10 makes nameConstraints critical, and the Forum lets a
 * constrained CA mark them non-critical for old clients (BR 7.1.2.10.8), so a non-critical
 * nameConstraints is refused only outside the Web PKI profile. It is enforced either way.
 */
import { TLSError } from '../errors.js';
import { equal } from '../util/bytes.js';
import { OID, type Certificate } from './certificate.js';
import { isDnsNamePattern } from './hostname.js';

/** The RSA modulus below which keys are refused unless `minRsaBits` lowers it. */
export const DEFAULT_MIN_RSA_BITS = 2048;

export interface ProfileOptions {
  /** Smallest RSA modulus accepted anywhere in the path, in bits. */
  minRsaBits: number;
  /** The path is checked under the Web PKI profile (./web-pki.ts). */
  webPki: boolean;
}

const describe = (cert: Certificate) => `'${cert.subject.text}'`;
const selfIssued = (cert: Certificate) => equal(cert.issuer.der, cert.subject.der);

function fail(code: string, cert: Certificate, what: string): never {
  throw new TLSError('bad_certificate', `certificate ${describe(cert)}: ${what}`, { code });
}

/**
 * `cert` at its place in a path: `isLeaf` for the end entity, `isAnchor` for the trust
 * anchor (configured, not received: RFC 5280 puts no requirement on how it names its issuer).
 */
export function checkProfile(cert: Certificate, isLeaf: boolean, isAnchor: boolean, options: ProfileOptions): void {
  if (cert.version !== 3) {
    checkKey(cert, isLeaf, options);
    return;
  }
  const ext = (oid: string) => cert.extensions.find((e) => e.oid === oid);
  const bc = ext(OID.basicConstraints);
  const ku = cert.keyUsage;
  const emptySubject = cert.subject.rdns.length === 0;

  // 4.2.1.9 and 4.2.1.3: what makes a CA, and that its parts agree.
  if (cert.isCA && !bc!.critical) fail('CA_BCONS_NOT_CRITICAL', cert, 'basicConstraints of a CA must be critical');
  if (!cert.isCA && ku?.includes('keyCertSign')) fail('KU_KEY_CERT_SIGN_INVALID_FOR_NON_CA', cert, 'keyUsage keyCertSign without basicConstraints cA');
  if (cert.isCA && ku && !ku.includes('keyCertSign')) fail('INVALID_CA', cert, 'basicConstraints cA without keyUsage keyCertSign');
  if (!cert.isCA && cert.pathLen !== undefined) fail('PATHLEN_INVALID_FOR_NON_CA', cert, 'pathLenConstraint without basicConstraints cA');
  if (cert.isCA && emptySubject) fail('SUBJECT_NAME_EMPTY', cert, 'a CA with an empty subject');
  // 4.2.1.2: key identifiers tie certificates to issuers; every CA names its key.
  if (cert.isCA && !cert.subjectKeyId) fail('MISSING_SUBJECT_KEY_IDENTIFIER', cert, 'a CA without subjectKeyIdentifier');
  if (ext(OID.subjectKeyIdentifier)?.critical) fail('SUBJECT_KEY_IDENTIFIER_CRITICAL', cert, 'subjectKeyIdentifier must not be critical');
  checkAuthorityKeyId(cert, isAnchor, ext(OID.authorityKeyIdentifier)?.critical === true);
  // 4.2.1.6: an empty subject puts the names in a critical subjectAltName; otherwise it is not critical.
  const san = ext(OID.subjectAltName);
  if (emptySubject && !san) fail('EMPTY_SUBJECT_ALT_NAME', cert, 'empty subject and no subjectAltName');
  if (san && san.critical !== emptySubject) {
    fail(emptySubject ? 'EMPTY_SUBJECT_SAN_NOT_CRITICAL' : 'INVALID_EXTENSION', cert, `subjectAltName must ${emptySubject ? '' : 'not '}be critical when the subject is ${emptySubject ? '' : 'not '}empty`);
  }
  for (const name of cert.subjectAltNames.dns) {
    if (!isDnsNamePattern(name)) fail('INVALID_EXTENSION', cert, `subjectAltName dNSName '${name}' is not a host name`);
  }
  // 4.2.1.10, 4.2.1.11: constraints belong in CAs, and policy constraints are critical.
  if (cert.nameConstraints && !cert.isCA) fail('INVALID_EXTENSION', cert, 'nameConstraints in an end-entity certificate');
  if (cert.nameConstraints && !options.webPki && !ext(OID.nameConstraints)!.critical) fail('INVALID_EXTENSION', cert, 'nameConstraints must be critical (RFC 5280 4.2.1.10; the Web PKI profile allows non-critical)');
  // CA/Browser Forum 7.1.2.7.6: a subscriber's extKeyUsage is not critical (RFC 5280 allows either; no one marks it).
  if (isLeaf && ext(OID.extKeyUsage)?.critical) fail('INVALID_EXTENSION', cert, 'extKeyUsage of an end-entity certificate must not be critical');
  // 4.1.2.2: a positive integer. Anchors are configuration and exempt.
  if (!isAnchor && (/^0*$/.test(cert.serialNumber) || cert.serialNumber.startsWith('-'))) fail('ERR_TLS_INVALID_SERIAL_NUMBER', cert, `serial number ${cert.serialNumber} is not positive`);
  const pc = ext(OID.policyConstraints);
  if (pc && !pc.critical) fail('INVALID_EXTENSION', cert, 'policyConstraints must be critical');
  checkKey(cert, isLeaf, options);
}

function checkAuthorityKeyId(cert: Certificate, isAnchor: boolean, critical: boolean): void {
  if (critical) fail('AUTHORITY_KEY_IDENTIFIER_CRITICAL', cert, 'authorityKeyIdentifier must not be critical');
  if (isAnchor && selfIssued(cert)) {
    // A root's AKI, when it has one, names its own key.
    const present = cert.extensions.some((e) => e.oid === OID.authorityKeyIdentifier);
    if (present && !cert.authorityKeyId) fail('MISSING_AUTHORITY_KEY_IDENTIFIER', cert, 'authorityKeyIdentifier without keyIdentifier');
    if (cert.authorityKeyIdByIssuer) fail('INVALID_EXTENSION', cert, 'a root whose authorityKeyIdentifier names an issuer and serial');
    if (cert.authorityKeyId && cert.subjectKeyId && !equal(cert.authorityKeyId, cert.subjectKeyId)) {
      fail('INVALID_EXTENSION', cert, 'self-issued, but authorityKeyIdentifier differs from subjectKeyIdentifier');
    }
  } else if (!isAnchor && !cert.authorityKeyId && !selfIssued(cert)) {
    fail('MISSING_AUTHORITY_KEY_IDENTIFIER', cert, 'no authorityKeyIdentifier keyIdentifier (RFC 5280 4.2.1.1)');
  }
}

function checkKey(cert: Certificate, isLeaf: boolean, options: ProfileOptions): void {
  const key = cert.publicKey;
  if (key.kind !== 'rsa') return;
  const code = isLeaf ? 'EE_KEY_TOO_SMALL' : 'CA_KEY_TOO_SMALL';
  if (key.bits < options.minRsaBits) fail(code, cert, `RSA key of ${key.bits} bits (at least ${options.minRsaBits}; lower minRsaBits to accept it)`);
  // CA/B Forum 6.1.5: whole octets; an odd size says the key was not made by a sound generator.
  if (key.bits % 8 !== 0) fail(code, cert, `RSA key of ${key.bits} bits, not a whole number of octets`);
}
