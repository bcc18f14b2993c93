/**
 * Certificate path validation (RFC 5280 section 6, the parts a TLS endpoint needs) and the
 * host name check. Error codes are the ones node:tls users know.
 *
 * Path building (RFC 4158 style) starts at the leaf and looks for each certificate's issuer
 * among the trust anchors first, then among the other certificates the peer sent, in any
 * order. A candidate issuer must have the right subject name (and key identifier, when both
 * sides carry one) and its key must verify the signature. Where several candidates fit
 * (cross-signed intermediates, re-issued CAs) each is tried in turn: a path that reaches an
 * anchor but fails a check makes the search back up and try the next candidate. Paths never
 * repeat a certificate or a (subject, key) pair, hold at most `maxChainDepth` intermediates
 * (self-issued ones not counted), and the whole search is bounded by a budget of signature checks.
 *
 * A complete path is then checked from the anchor down to the leaf: validity at `now` in
 * whole seconds for every certificate (anchor included), unknown critical extensions, the
 * certificate profile (./profile.ts: CA and end-entity rules, extension criticality, key
 * strength), for issuers the v3 version, the CA bit, keyCertSign and pathLenConstraint,
 * extendedKeyUsage on intermediates and the leaf, the leaf's keyUsage when the caller names
 * one, name constraints (./name-constraints.ts) from every CA, anchor included, on the
 * names of every certificate below it, for server certificates the Web PKI profile unless
 * turned off (./web-pki.ts), and, when CRLs are given, revocation of every certificate below
 * the anchor (./crl.ts). Certificate policies are recognised, not enforced.
 *
 * When no path works, the error reported is, in order of preference: the first failure of a
 * path that reached an anchor; a signature that did not verify; else why the longest
 * partial path could go no further (self-signed, issuer unknown, too long).
 */
import type { PeerVerification } from '../config.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { TLSError, type AlertName } from '../errors.js';
import { equal, toHex } from '../util/bytes.js';
import { OID, verifyCertificateSignature, type Certificate, type KeyUsage } from './certificate.js';
import { checkRevocation, type CertificateRevocationList } from './crl.js';
import { certificateMatchesHost } from './hostname.js';
import { activeConstraints, checkNameConstraints, NAME_CONSTRAINT_BUDGET, type ActiveConstraints } from './name-constraints.js';
import { checkProfile, DEFAULT_MIN_RSA_BITS } from './profile.js';
import { checkWebPkiProfile, type WebPkiProfile } from './web-pki.js';

/** Default `maxChainDepth`: intermediates allowed between the leaf and the anchor (OpenSSL's verify_depth). */
export const MAX_INTERMEDIATES = 10;
/** Signature checks, and partial paths, one verification may spend searching for a path. */
const SIGNATURE_BUDGET = 64;
const STEP_BUDGET = 1000;

export type CertificatePurpose = 'serverAuth' | 'clientAuth';

/** What a verification allows beyond the chain and anchors; all optional, with strict defaults. */
export interface VerifierPolicy {
  /** Intermediates allowed between leaf and anchor, self-issued ones not counted (default 10). */
  maxChainDepth?: number | undefined;
  /**
   * Certificate revocation lists. When given, every certificate below the anchor must be
   * covered by a valid CRL from its issuer and not be listed on it (`CERT_REVOKED`); one
   * without a CRL fails with `UNABLE_TO_GET_CRL`, as node:tls does with its `crl` option.
   */
  crl?: CertificateRevocationList[] | undefined;
  /** Smallest RSA modulus accepted anywhere in the path (default 2048; lower it only for legacy peers). */
  minRsaBits?: number | undefined;
  /**
   * The CA/Browser Forum's rules for TLS server certificates (./web-pki.ts), for purpose
   * serverAuth: on by default, what a client of the web needs. `'strict'` also requires the
   * subject CN to be an exact copy of a subjectAltName entry. `false` verifies by RFC 5280
   * alone, for private PKIs (leaves without extKeyUsage, CA certificates as servers...), and
   * then holds CAs to RFC 5280's critical nameConstraints, which the Forum relaxes.
   * Not used for clientAuth.
   */
  webPkiProfile?: WebPkiProfile | undefined;
}

export interface ChainVerificationOptions extends VerifierPolicy {
  /** Trust anchors (`ca`). Any certificate may be an anchor; a certificate equal to one is trusted as is. */
  anchors: Certificate[];
  /** More untrusted certificates to build the path from, besides those after the leaf in the chain. */
  intermediates?: Certificate[] | undefined;
  /** Name or IP address the leaf must be valid for; no host check when undefined. */
  host?: string | undefined;
  /** ms since the epoch. */
  now: number;
  purpose: CertificatePurpose;
  /**
   * A keyUsage the leaf must assert when it has the extension (the TLS handshake asks for
   * digitalSignature, the use it makes of the key). No keyUsage check when undefined.
   */
  keyUsage?: KeyUsage | undefined;
}

/** Extensions we process (or, for policies, knowingly accept) when they are critical. */
const KNOWN_EXTENSIONS = new Set<string>([
  OID.basicConstraints,
  OID.keyUsage,
  OID.extKeyUsage,
  OID.subjectAltName,
  OID.nameConstraints,
  OID.certificatePolicies,
  OID.policyConstraints,
  OID.inhibitAnyPolicy,
  OID.authorityKeyIdentifier,
  OID.subjectKeyIdentifier,
]);

const PURPOSE_OID: Record<CertificatePurpose, string> = { serverAuth: OID.serverAuth, clientAuth: OID.clientAuth };

function certError(alert: AlertName, code: string, message: string): TLSError {
  return new TLSError(alert, message, { code });
}

const describe = (cert: Certificate) => `'${cert.subject.text}'`;
const selfIssued = (cert: Certificate) => equal(cert.issuer.der, cert.subject.der);

/**
 * Verify `chain` (leaf first, then whatever else the peer sent) up to one of `anchors`.
 * Returns the validated path, leaf first and anchor last (just the leaf when it is itself
 * an anchor). Throws a TLSError with a node-style `code` otherwise.
 */
export function verifyCertificateChain(provider: CryptoProvider, chain: Certificate[], options: ChainVerificationOptions): Certificate[] {
  const leaf = chain[0];
  if (!leaf) throw certError('bad_certificate', 'ERR_TLS_NO_CERTIFICATE', 'no certificate');
  const path = new PathBuilder(provider, chain, options).build();
  if (options.host !== undefined && !certificateMatchesHost(leaf, options.host)) {
    throw certError('bad_certificate', 'ERR_TLS_CERT_ALTNAME_INVALID', `certificate is not valid for ${options.host}`);
  }
  return path;
}

/**
 * Throws a TLSError (with alert and node-style code) unless the chain is trusted for a TLS
 * server named `info.host`. `keyUsage` as for verifyCertificateChain.
 */
export function verifyServerCertificate(
  provider: CryptoProvider,
  info: PeerVerification,
  anchors: Certificate[],
  policy: VerifierPolicy & { keyUsage?: KeyUsage | undefined } = {},
): void {
  verifyCertificateChain(provider, info.chain, { ...policy, anchors, host: info.host, now: info.now, purpose: 'serverAuth' });
  // Checked after the path, like node: an untrusted chain is the more useful error.
  if (info.host === undefined) {
    throw certError('bad_certificate', 'ERR_TLS_CERT_ALTNAME_INVALID', 'no host name to check the certificate against (set servername or host)');
  }
}

// ---- path building ----

class PathBuilder {
  private readonly anchors: Certificate[];
  /** The peer's certificates after the leaf, without duplicates or copies of anchors. */
  private readonly untrusted: Certificate[];
  private readonly signatures = new Map<Certificate, Map<Certificate, boolean>>();
  private readonly identities = new Map<Certificate, string>();
  private budget = SIGNATURE_BUDGET;
  private steps = STEP_BUDGET;

  private pathError: TLSError | undefined;
  private signatureError: TLSError | undefined;
  private deadEnd: { length: number; error: TLSError } | undefined;

  constructor(
    private readonly provider: CryptoProvider,
    private readonly chain: Certificate[],
    private readonly options: ChainVerificationOptions,
  ) {
    checkPolicy(options);
    this.anchors = dedupe(options.anchors, []);
    this.untrusted = dedupe([...chain.slice(1), ...(options.intermediates ?? [])], [chain[0]!, ...this.anchors]);
    this.maxDepth = options.maxChainDepth ?? MAX_INTERMEDIATES;
  }

  private readonly maxDepth: number;

  build(): Certificate[] {
    const leaf = this.chain[0]!;
    // A leaf that is itself an anchor (a pinned certificate) is trusted as is.
    if (this.anchors.some((a) => equal(a.der, leaf.der)) && this.complete([leaf])) return [leaf];
    const found = this.extend([leaf]);
    if (found) return found;
    const error = this.pathError ?? this.signatureError ?? this.deadEnd?.error;
    if (!error) throw certError('unknown_ca', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'no certification path found');
    if (this.anchors.length === 0 && error.alert === 'unknown_ca') {
      error.message += ' (no trust anchors configured: pass `ca`, or rejectUnauthorized: false to skip verification)';
    }
    throw error;
  }

  /** Depth-first search from the last certificate of `path`; returns the first valid complete path. */
  private extend(path: Certificate[]): Certificate[] | undefined {
    const current = path[path.length - 1]!;
    if (this.steps-- <= 0) {
      this.giveUp();
      return undefined;
    }
    let extended = false;
    let tooLong = false;
    for (const [candidate, isAnchor] of this.candidates(current)) {
      if (path.includes(candidate) || path.some((c) => this.identity(c) === this.identity(candidate))) continue;
      if (!isAnchor && !selfIssued(candidate) && intermediates(path) >= this.maxDepth) {
        tooLong = true;
        continue;
      }
      const verified = this.verifySignature(current, candidate);
      if (verified === undefined) break; // budget spent
      if (!verified) {
        this.signatureError ??= certError('bad_certificate', 'CERT_SIGNATURE_FAILURE', `certificate signature failure: ${describe(current)} is not signed by the key of ${describe(candidate)}`);
        continue;
      }
      extended = true;
      const next = [...path, candidate];
      if (isAnchor) {
        if (this.complete(next)) return next;
      } else {
        const found = this.extend(next);
        if (found) return found;
      }
    }
    if (!extended) this.noIssuer(path, tooLong);
    return undefined;
  }

  /** Possible issuers of `cert`: anchors first, then the peer's certificates, in the order given. */
  private *candidates(cert: Certificate): Generator<[Certificate, boolean]> {
    const fits = (c: Certificate) =>
      equal(c.subject.der, cert.issuer.der) && !(cert.authorityKeyId && c.subjectKeyId && !equal(cert.authorityKeyId, c.subjectKeyId));
    for (const a of this.anchors) if (fits(a)) yield [a, true];
    for (const c of this.untrusted) if (fits(c)) yield [c, false];
  }

  /** Cached; undefined once the budget is spent. */
  private verifySignature(cert: Certificate, issuer: Certificate): boolean | undefined {
    let row = this.signatures.get(cert);
    if (!row) this.signatures.set(cert, (row = new Map()));
    const known = row.get(issuer);
    if (known !== undefined) return known;
    if (this.budget-- <= 0) {
      this.giveUp();
      return undefined;
    }
    const ok = verifyCertificateSignature(this.provider, cert, issuer.publicKey);
    row.set(issuer, ok);
    return ok;
  }

  private giveUp(): void {
    this.deadEnd = { length: Infinity, error: certError('unknown_ca', 'CERT_CHAIN_TOO_LONG', 'certificate chain too complex: gave up searching for a path') };
  }

  /** Subject and key: a path through the same CA twice is a loop even when the certificates differ. */
  private identity(cert: Certificate): string {
    let id = this.identities.get(cert);
    if (id === undefined) this.identities.set(cert, (id = `${toHex(cert.subject.der)}/${toHex(cert.spki)}`));
    return id;
  }

  /** Records why `path` cannot be extended; the longest partial path explains the failure best. */
  private noIssuer(path: Certificate[], tooLong: boolean): void {
    if (this.deadEnd && this.deadEnd.length >= path.length) return;
    const top = path[path.length - 1]!;
    let error: TLSError;
    if (tooLong) {
      error = certError('unknown_ca', 'CERT_CHAIN_TOO_LONG', `certificate chain too long (more than ${this.maxDepth} intermediates)`);
    } else if (selfIssued(top) && path.length === 1) {
      error = certError('unknown_ca', 'DEPTH_ZERO_SELF_SIGNED_CERT', `self-signed certificate ${describe(top)}`);
    } else if (selfIssued(top)) {
      error = certError('unknown_ca', 'SELF_SIGNED_CERT_IN_CHAIN', `self-signed certificate ${describe(top)} in certificate chain`);
    } else if (path.length === 1) {
      error = certError('unknown_ca', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', `unable to verify the first certificate: issuer '${top.issuer.text}' not found`);
    } else {
      error = certError('unknown_ca', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', `unable to get local issuer certificate '${top.issuer.text}'`);
    }
    this.deadEnd = { length: path.length, error };
  }

  /** Checks a path whose last certificate is an anchor; remembers the first failure. */
  private complete(path: Certificate[]): boolean {
    try {
      checkPath(this.provider, path, this.options);
      return true;
    } catch (err) {
      if (!(err instanceof TLSError)) throw err;
      this.pathError ??= err;
      return false;
    }
  }
}

/** Options a caller got wrong are its own error (internal_error), not the peer's. */
function checkPolicy(options: VerifierPolicy): void {
  const bad = (name: string, rule: string) => new TLSError('internal_error', `${name} must be ${rule}`, { code: 'ERR_TLS_INVALID_OPTION' });
  const { maxChainDepth: depth, minRsaBits: bits, webPkiProfile: web } = options;
  if (depth !== undefined && !(Number.isInteger(depth) && depth >= 0)) throw bad('maxChainDepth', 'an integer >= 0');
  if (bits !== undefined && !(Number.isInteger(bits) && bits > 0)) throw bad('minRsaBits', 'a positive integer');
  if (web !== undefined && web !== true && web !== false && web !== 'strict') throw bad('webPkiProfile', "true, false or 'strict'");
}

/** Intermediates in a partial path (all but the leaf), self-issued ones not counted (RFC 5280 6.1.4 (l)). */
function intermediates(path: Certificate[]): number {
  let n = 0;
  for (let i = 1; i < path.length; i++) if (!selfIssued(path[i]!)) n++;
  return n;
}

/** `certs` without duplicates (by DER) and without any certificate also in `exclude`. */
function dedupe(certs: Certificate[], exclude: Certificate[]): Certificate[] {
  const out: Certificate[] = [];
  const seen = (c: Certificate) => (o: Certificate) => o === c || equal(o.der, c.der);
  for (const c of certs) if (!exclude.some(seen(c)) && !out.some(seen(c))) out.push(c);
  return out;
}

// ---- path checks ----

/**
 * `path`: leaf first, anchor last (a single certificate when the leaf is the anchor); every
 * signature already verified. Throws the first problem, going from the anchor down.
 */
function checkPath(provider: CryptoProvider, path: Certificate[], options: ChainVerificationOptions): void {
  const anchorIndex = path.length - 1;
  const constraints: ActiveConstraints[] = [];
  let budget = NAME_CONSTRAINT_BUDGET;
  const webPki = options.purpose === 'serverAuth' ? (options.webPkiProfile ?? true) : false;
  const profile = { minRsaBits: options.minRsaBits ?? DEFAULT_MIN_RSA_BITS, webPki: webPki !== false };
  for (let i = anchorIndex; i >= 0; i--) {
    const cert = path[i]!;
    checkValidity(cert, options.now);
    checkCriticalExtensions(cert);
    // An issuer's CA rules first: "not a CA" says more than which profile rule it breaks.
    if (i > 0) checkIssuer(cert, path, i, i === anchorIndex);
    checkProfile(cert, i === 0, i === anchorIndex, profile);
    // Name constraints bind the certificates below the CA that carries them. Self-issued
    // intermediates are exempt (RFC 5280 section 6.1.3 (b)); the leaf never is.
    if (i === 0 || !selfIssued(cert)) budget = checkNameConstraints(cert, constraints, budget);
    if (i > 0) {
      if (i < anchorIndex) checkExtendedKeyUsage(cert, options.purpose);
      if (cert.nameConstraints) constraints.push(activeConstraints(cert, cert.nameConstraints));
    } else {
      const ku = options.keyUsage;
      if (ku && cert.keyUsage && !cert.keyUsage.includes(ku)) {
        throw certError('unsupported_certificate', 'INVALID_PURPOSE', `unsupported certificate purpose: ${describe(cert)} keyUsage lacks ${ku}`);
      }
      // A pinned leaf is trusted for whatever its EKU says, like any leaf.
      checkExtendedKeyUsage(cert, options.purpose);
    }
  }
  checkWebPkiProfile(path, webPki);
  if (options.crl) checkRevocation(provider, path, options.crl, options.now);
}

/** Whole seconds, the granularity of the encoding: a notAfter of 00:00:00 is valid until 00:00:00.999. */
function checkValidity(cert: Certificate, now: number): void {
  const t = Math.floor(now / 1000);
  if (t < Math.floor(cert.notBefore / 1000)) throw certError('bad_certificate', 'CERT_NOT_YET_VALID', `certificate ${describe(cert)} is not yet valid`);
  if (t > Math.floor(cert.notAfter / 1000)) throw certError('certificate_expired', 'CERT_HAS_EXPIRED', `certificate ${describe(cert)} has expired`);
}

function checkCriticalExtensions(cert: Certificate): void {
  const unknown = cert.extensions.find((e) => e.critical && !KNOWN_EXTENSIONS.has(e.oid));
  if (unknown) {
    throw certError('unsupported_certificate', 'ERR_TLS_UNKNOWN_CRITICAL_EXTENSION', `certificate ${describe(cert)} has an unknown critical extension ${unknown.oid}`);
  }
}

/** `cert` = path[i] issued path[i - 1]. */
function checkIssuer(cert: Certificate, path: Certificate[], i: number, isAnchor: boolean): void {
  // Trust anchors are configured, not received: an old v1 root is still a root.
  if (cert.version !== 3 && !isAnchor) throw certError('bad_certificate', 'INVALID_CA', `invalid CA certificate ${describe(cert)}: not a v3 certificate`);
  if (cert.version === 3 && !cert.isCA) throw certError('bad_certificate', 'INVALID_CA', `invalid CA certificate ${describe(cert)}: basicConstraints CA bit not set`);
  if (cert.keyUsage && !cert.keyUsage.includes('keyCertSign')) {
    throw certError('bad_certificate', 'INVALID_CA', `invalid CA certificate ${describe(cert)}: keyUsage lacks keyCertSign`);
  }
  if (cert.pathLen !== undefined) {
    // Intermediates below this one, self-issued ones not counted (RFC 5280 section 6.1.4 (l)).
    let below = 0;
    for (let j = 1; j < i; j++) if (!selfIssued(path[j]!)) below++;
    if (below > cert.pathLen) {
      throw certError('bad_certificate', 'PATH_LENGTH_EXCEEDED', `path length constraint exceeded: ${describe(cert)} allows ${cert.pathLen} intermediate(s) below it, found ${below}`);
    }
  }
}

function checkExtendedKeyUsage(cert: Certificate, purpose: CertificatePurpose): void {
  const eku = cert.extKeyUsage;
  if (!eku || eku.includes(PURPOSE_OID[purpose]) || eku.includes(OID.anyExtendedKeyUsage)) return;
  throw certError('unsupported_certificate', 'INVALID_PURPOSE', `unsupported certificate purpose: ${describe(cert)} extendedKeyUsage does not allow ${purpose}`);
}
