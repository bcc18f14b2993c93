/**
 * Certificate revocation lists (RFC 5280 section 5): parsing, and the revocation check of a
 * validated path (section 6.3, for complete CRLs issued by the certificate's own issuer).
 *
 * With CRLs configured, every certificate below the trust anchor needs a CRL from its
 * issuer: one that names the issuer, is signed by the issuer's key, whose issuer may sign
 * CRLs (keyUsage cRLSign when keyUsage is present), that is current at the verification time,
 * carries a non-critical cRLNumber and no critical extension we do not process. A certificate
 * listed on it is `CERT_REVOKED`; one without such a CRL is `UNABLE_TO_GET_CRL` (node:tls
 * with its `crl` option behaves the same way). Indirect and delta CRLs, and issuing
 * distribution points, are not processed: a CRL that is critical about them is refused.
 */
import type { CryptoProvider } from '../crypto/provider.js';
import { TLSError } from '../errors.js';
import { equal } from '../util/bytes.js';
import {
  checkSignedAlgorithm,
  readAlgorithm,
  readSigned,
  readExtensions,
  readName,
  serialHex,
  signatureAlgorithm,
  verifyCertificateSignature,
  type Certificate,
  type Extension,
  type Name,
  type SignatureAlgorithm,
} from './certificate.js';
import { DerError, DerReader, Tag } from '../util/der.js';
import { derBlocks } from '../util/pem.js';

export interface CertificateRevocationList {
  der: Uint8Array;
  tbs: Uint8Array;
  signatureAlgorithm: SignatureAlgorithm;
  signature: Uint8Array;
  issuer: Name;
  /** ms since the epoch. */
  thisUpdate: number;
  nextUpdate?: number;
  /** Serial numbers of revoked certificates, as Certificate.serialNumber writes them. */
  revoked: Set<string>;
  extensions: Extension[];
  /** Critical entry extensions seen (we process none of them). */
  criticalEntryExtension?: string;
}

const OID_CRL_NUMBER = '2.5.29.20';
const OID_AUTHORITY_KEY_IDENTIFIER = '2.5.29.35';
/** CRL extensions we process or may ignore when critical: none may be, but these two we read. */
const KNOWN_CRL_EXTENSIONS = new Set([OID_CRL_NUMBER, OID_AUTHORITY_KEY_IDENTIFIER]);

/** One DER CertificateList. Throws a DerError (bad_certificate) when malformed. */
export function parseCrl(der: Uint8Array): CertificateRevocationList {
  const signed = readSigned(der.slice(), 'CertificateList', 'TBSCertList');
  const { node, tbsNode, signature } = signed;

  const tbs = new DerReader(tbsNode, 'TBSCertList');
  if (tbs.isNext(Tag.INTEGER) && tbs.smallInteger() !== 1) throw new DerError('TBSCertList: version must be v2');
  const innerAlg = readAlgorithm(tbs, 'TBSCertList signature');
  checkSignedAlgorithm(signed, innerAlg, 'CertificateList', 'TBSCertList');
  const issuer = readName(tbs, 'CRL issuer');
  const thisUpdate = tbs.time();
  const next = tbs.peek();
  const nextUpdate = next && (next.tag === Tag.UTCTime || next.tag === Tag.GeneralizedTime) ? tbs.time() : undefined;
  const revoked = new Set<string>();
  let criticalEntryExtension: string | undefined;
  const entries = tbs.optional(Tag.SEQUENCE);
  if (entries) {
    const r = new DerReader(entries, 'revokedCertificates');
    while (!r.done) {
      const entry = r.sequence('revokedCertificate');
      revoked.add(serialHex(entry.read(Tag.INTEGER, 'userCertificate').value));
      entry.time();
      if (!entry.done) {
        const critical = readExtensions(entry).find((e) => e.critical);
        if (critical) criticalEntryExtension ??= critical.oid;
      }
      entry.end();
    }
  }
  const ext = tbs.explicit(0, 'crlExtensions');
  const extensions = ext ? readExtensions(ext) : [];
  ext?.end();
  tbs.end();
  const crl: CertificateRevocationList = {
    der: node.raw,
    tbs: tbsNode.raw,
    signatureAlgorithm: signatureAlgorithm(signed.algorithm),
    signature,
    issuer,
    thisUpdate,
    revoked,
    extensions,
  };
  if (nextUpdate !== undefined) crl.nextUpdate = nextUpdate;
  if (criticalEntryExtension !== undefined) crl.criticalEntryExtension = criticalEntryExtension;
  return crl;
}

/** CRLs from PEM text (every `X509 CRL` block) or DER (one or more concatenated), or a list of either. */
export function parseCrls(input: string | Uint8Array | (string | Uint8Array)[]): CertificateRevocationList[] {
  if (Array.isArray(input)) return input.flatMap((i) => parseCrls(i));
  const ders = derBlocks(input, 'X509 CRL');
  if (ders.length === 0) throw new DerError('no CRL found');
  return ders.map(parseCrl);
}

function crlError(code: string, message: string, alert: 'bad_certificate' | 'certificate_revoked' = 'bad_certificate'): TLSError {
  return new TLSError(alert, message, { code });
}

/** Why `crl` cannot vouch for certificates of `issuer` at `now`, or undefined when it can. */
function crlProblem(provider: CryptoProvider, crl: CertificateRevocationList, issuer: Certificate, now: number): TLSError | undefined {
  const who = `CRL of '${crl.issuer.text}'`;
  if (issuer.keyUsage && !issuer.keyUsage.includes('cRLSign')) return crlError('KEYUSAGE_NO_CRL_SIGN', `${who}: its issuer's keyUsage lacks cRLSign`);
  if (!verifyCertificateSignature(provider, crl, issuer.publicKey)) return crlError('CRL_SIGNATURE_FAILURE', `${who}: signature does not verify with the issuer's key`);
  const t = Math.floor(now / 1000);
  if (t < Math.floor(crl.thisUpdate / 1000)) return crlError('CRL_NOT_YET_VALID', `${who} is not yet valid`);
  if (crl.nextUpdate !== undefined && t > Math.floor(crl.nextUpdate / 1000)) return crlError('CRL_HAS_EXPIRED', `${who} has expired`);
  const number = crl.extensions.find((e) => e.oid === OID_CRL_NUMBER);
  // RFC 5280 5.2.3: conforming CRL issuers MUST include cRLNumber, marked non-critical.
  if (!number) return crlError('ERR_TLS_CRL_INVALID', `${who} has no cRLNumber`);
  if (number.critical) return crlError('ERR_TLS_CRL_INVALID', `${who}: cRLNumber must not be critical`);
  const unknown = crl.extensions.find((e) => e.critical && !KNOWN_CRL_EXTENSIONS.has(e.oid));
  if (unknown) return crlError('UNHANDLED_CRITICAL_CRL_EXTENSION', `${who} has an unhandled critical extension ${unknown.oid}`);
  if (crl.criticalEntryExtension) return crlError('UNHANDLED_CRITICAL_CRL_EXTENSION', `${who} has an unhandled critical entry extension ${crl.criticalEntryExtension}`);
  return undefined;
}

/** `path`: leaf first, anchor last, already validated. Throws unless no certificate below the anchor is revoked. */
export function checkRevocation(provider: CryptoProvider, path: Certificate[], crls: CertificateRevocationList[], now: number): void {
  for (let i = 0; i < path.length - 1; i++) {
    const cert = path[i]!;
    const issuer = path[i + 1]!;
    let problem: TLSError | undefined;
    let covered = false;
    for (const crl of crls) {
      if (!equal(crl.issuer.der, cert.issuer.der)) continue;
      const why = crlProblem(provider, crl, issuer, now);
      if (why) {
        problem ??= why;
        continue;
      }
      covered = true;
      if (crl.revoked.has(cert.serialNumber)) {
        throw crlError('CERT_REVOKED', `certificate revoked: '${cert.subject.text}' (serial ${cert.serialNumber}) is on the CRL of '${crl.issuer.text}'`, 'certificate_revoked');
      }
    }
    if (!covered) throw problem ?? crlError('UNABLE_TO_GET_CRL', `unable to get certificate CRL: no CRL from '${cert.issuer.text}' for '${cert.subject.text}'`);
  }
}

