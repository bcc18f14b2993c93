/**
 * Server certificate verification: build a path from the leaf through the peer's chain to
 * one of our trust anchors, checking signatures, validity and CA constraints, then check
 * the host name. Error codes are the ones node:tls users know.
 */
import type { CryptoProvider } from '../crypto/provider.js';
import type { PeerVerification } from '../config.js';
import { TLSError, type AlertName } from '../errors.js';
import { equal } from '../util/bytes.js';
import { verifyCertificateSignature, type Certificate } from './certificate.js';
import { certificateMatchesHost } from './hostname.js';

const MAX_DEPTH = 10;

function certError(alert: AlertName, code: string, message: string): TLSError {
  return new TLSError(alert, message, { code });
}

function checkValidity(cert: Certificate, now: number): void {
  if (now < cert.notBefore) throw certError('bad_certificate', 'CERT_NOT_YET_VALID', `certificate ${cert.subject.text} is not yet valid`);
  if (now > cert.notAfter) throw certError('certificate_expired', 'CERT_HAS_EXPIRED', `certificate ${cert.subject.text} has expired`);
}

function issuedBy(provider: CryptoProvider, cert: Certificate, issuer: Certificate): boolean {
  return equal(cert.issuer.der, issuer.subject.der) && verifyCertificateSignature(provider, cert, issuer.publicKey);
}

function canIssue(cert: Certificate): boolean {
  return cert.isCA && (cert.keyUsage === undefined || cert.keyUsage.includes('keyCertSign'));
}

/** Throws a TLSError (with alert and node-style code) unless the chain is trusted for `info.host`. */
export function verifyServerCertificate(provider: CryptoProvider, info: PeerVerification, anchors: Certificate[]): void {
  const [leaf, ...rest] = info.chain;
  if (!leaf) throw certError('bad_certificate', 'ERR_TLS_NO_CERTIFICATE', 'no certificate');
  if (anchors.length === 0) {
    throw certError('unknown_ca', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'no trust anchors configured: pass `ca`, or rejectUnauthorized: false to skip verification');
  }
  buildPath(provider, leaf, rest, anchors, info.now);
  if (info.host === undefined) {
    throw certError('bad_certificate', 'ERR_TLS_CERT_ALTNAME_INVALID', 'no host name to check the certificate against (set servername or host)');
  }
  if (!certificateMatchesHost(leaf, info.host)) {
    throw certError('bad_certificate', 'ERR_TLS_CERT_ALTNAME_INVALID', `certificate is not valid for ${info.host}`);
  }
}

function buildPath(provider: CryptoProvider, leaf: Certificate, intermediates: Certificate[], anchors: Certificate[], now: number): void {
  let current = leaf;
  const used = new Set<Certificate>();
  for (let depth = 0; depth <= MAX_DEPTH; depth++) {
    checkValidity(current, now);
    // A pinned certificate (the anchor itself) is trusted as is.
    if (anchors.some((a) => equal(a.der, current.der))) return;
    const anchor = anchors.find((a) => canIssue(a) && issuedBy(provider, current, a));
    if (anchor) {
      checkValidity(anchor, now);
      return;
    }
    const next = intermediates.find((c) => !used.has(c) && canIssue(c) && issuedBy(provider, current, c));
    if (!next) {
      const selfSigned = equal(current.issuer.der, current.subject.der);
      if (selfSigned && depth === 0) throw certError('unknown_ca', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate');
      if (selfSigned) throw certError('unknown_ca', 'SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain');
      const named = intermediates.some((c) => equal(current.issuer.der, c.subject.der)) || anchors.some((a) => equal(current.issuer.der, a.subject.der));
      if (named) throw certError('bad_certificate', 'CERT_SIGNATURE_FAILURE', `certificate signature of ${current.subject.text} does not verify`);
      throw certError('unknown_ca', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', `unable to get local issuer certificate for ${current.subject.text}`);
    }
    used.add(next);
    current = next;
  }
  throw certError('bad_certificate', 'CERT_CHAIN_TOO_LONG', 'certificate chain too long');
}
