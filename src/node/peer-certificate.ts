/**
 * Certificates as node:tls shows them: `getPeerCertificate()` objects built from the
 * engine's parsed `Certificate`, with node's field names and string formats (OpenSSL
 * short names for name attributes, `Jan  1 00:00:00 2025 GMT` dates, upper-case hex
 * serial numbers and colon-separated fingerprints).
 *
 * Known differences from node: `subjectaltname` lists only the DNS and IP entries the
 * engine keeps (node also prints email, URI and other name forms), and `infoAccess` is
 * never set.
 */
import { createHash } from 'node:crypto';
import type { DetailedPeerCertificate, PeerCertificate } from 'node:tls';
import { TLSError } from '../errors.js';
import { parseCertificate, type Certificate, type Name } from '../x509/certificate.js';
import { certificateMatchesHost, parseIp } from '../x509/hostname.js';

/** OpenSSL's short names (OBJ_nid2sn), which node uses as keys; others appear as dotted OIDs. */
const SHORT_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.4': 'SN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'street',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.12': 'title',
  '2.5.4.13': 'description',
  '2.5.4.15': 'businessCategory',
  '2.5.4.17': 'postalCode',
  '2.5.4.41': 'name',
  '2.5.4.42': 'GN',
  '2.5.4.43': 'initials',
  '2.5.4.44': 'generationQualifier',
  '2.5.4.46': 'dnQualifier',
  '2.5.4.65': 'pseudonym',
  '2.5.4.97': 'organizationIdentifier',
  '0.9.2342.19200300.100.1.1': 'UID',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '1.3.6.1.4.1.311.60.2.1.1': 'jurisdictionL',
  '1.3.6.1.4.1.311.60.2.1.2': 'jurisdictionST',
  '1.3.6.1.4.1.311.60.2.1.3': 'jurisdictionC',
};

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const CURVES: Record<string, { asn1Curve: string; nistCurve: string; bits: number }> = {
  'P-256': { asn1Curve: 'prime256v1', nistCurve: 'P-256', bits: 256 },
  'P-384': { asn1Curve: 'secp384r1', nistCurve: 'P-384', bits: 384 },
};

/** A Name as node shows it: `{ O: 'tsls', CN: '...' }`, repeated attributes as arrays, null prototype. */
export function nameObject(name: Name): Record<string, string | string[]> {
  const out = Object.create(null) as Record<string, string | string[]>;
  for (const rdn of name.rdns) {
    for (const { oid, value } of rdn) {
      const key = SHORT_NAMES[oid] ?? oid;
      const prev = out[key];
      if (prev === undefined) out[key] = value;
      else if (Array.isArray(prev)) prev.push(value);
      else out[key] = [prev, value];
    }
  }
  return out;
}

/** ASN1_TIME_print's format: `Jan  1 00:00:00 2025 GMT`. */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} ${d.getUTCFullYear()} GMT`;
}

/** `AB:CD:...` digest of the DER. */
export function fingerprint(der: Uint8Array, hash: 'sha1' | 'sha256' | 'sha512'): string {
  return (createHash(hash).update(der).digest('hex').toUpperCase().match(/../g) ?? []).join(':');
}

/** node quotes names that would make the list ambiguous (its IsSafeAltName rule for IA5 strings). */
function altName(name: string): string {
  return /[",'\\\x00-\x1f\x7f-\uffff]/.test(name) ? JSON.stringify(name) : name;
}

/** OpenSSL prints IPv6 addresses in full, groups in upper-case hex without leading zeros. */
function ipText(text: string): string {
  const bytes = parseIp(text);
  if (!bytes || bytes.length === 4) return text;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16).toUpperCase());
  return groups.join(':');
}

/** `DNS:localhost, IP Address:127.0.0.1`, or undefined without a subjectAltName. */
export function subjectAltNameString(cert: Certificate): string | undefined {
  const parts = [...cert.subjectAltNames.dns.map((d) => `DNS:${altName(d)}`), ...cert.subjectAltNames.ip.map((ip) => `IP Address:${ipText(ip)}`)];
  return parts.length ? parts.join(', ') : undefined;
}

/** BN_bn2hex: upper case, whole octets. */
function serialText(hex: string): string {
  const negative = hex.startsWith('-');
  let digits = negative ? hex.slice(1) : hex;
  if (digits.length % 2) digits = '0' + digits;
  return (negative ? '-' : '') + digits.toUpperCase();
}

/** SubjectPublicKeyInfo DER (for RSA, node's `pubkey`). */
function spkiBuffer(cert: Certificate): Buffer {
  return Buffer.from(cert.spki);
}

/** One certificate as node's legacy certificate object (without `issuerCertificate`). */
export function certificateObject(cert: Certificate): PeerCertificate {
  const o: Record<string, unknown> = {
    subject: nameObject(cert.subject),
    issuer: nameObject(cert.issuer),
  };
  const san = subjectAltNameString(cert);
  if (san !== undefined) o.subjectaltname = san;
  o.ca = cert.isCA;
  const key = cert.publicKey;
  if (key.kind === 'rsa') {
    o.modulus = key.n.toString(16).toUpperCase();
    o.bits = key.bits;
    o.exponent = '0x' + key.e.toString(16);
    o.pubkey = spkiBuffer(cert);
  } else if (key.kind === 'ec') {
    const curve = CURVES[key.curve]!;
    o.bits = curve.bits;
    o.pubkey = Buffer.from(key.point);
    o.asn1Curve = curve.asn1Curve;
    o.nistCurve = curve.nistCurve;
  }
  o.valid_from = formatTime(cert.notBefore);
  o.valid_to = formatTime(cert.notAfter);
  o.fingerprint = fingerprint(cert.der, 'sha1');
  o.fingerprint256 = fingerprint(cert.der, 'sha256');
  o.fingerprint512 = fingerprint(cert.der, 'sha512');
  if (cert.extKeyUsage) o.ext_key_usage = [...cert.extKeyUsage];
  o.serialNumber = serialText(cert.serialNumber);
  o.raw = Buffer.from(cert.der);
  return o as unknown as PeerCertificate;
}

/**
 * `getPeerCertificate(true)`: each object's `issuerCertificate` is the next certificate of
 * `chain` (leaf first); the last one points to itself when it is self-issued, as in node.
 */
export function detailedCertificateObject(chain: Certificate[]): DetailedPeerCertificate {
  const objects = chain.map((c) => certificateObject(c) as DetailedPeerCertificate);
  for (let i = 0; i < objects.length; i++) {
    const next = objects[i + 1];
    if (next) objects[i]!.issuerCertificate = next;
    else if (sameName(chain[i]!.issuer, chain[i]!.subject)) objects[i]!.issuerCertificate = objects[i]!;
  }
  return objects[0]!;
}

function sameName(a: Name, b: Name): boolean {
  return a.der.length === b.der.length && a.der.every((x, i) => x === b.der[i]);
}

/** Why `cert` is not valid for `hostname` (RFC 9525 rules: subjectAltName only), or undefined when it is. */
export function hostMismatch(cert: Certificate, hostname: string): TLSError | undefined {
  if (certificateMatchesHost(cert, hostname)) return undefined;
  const names = subjectAltNameString(cert);
  const reason = names ? `Host: ${hostname}. is not in the cert's altnames: ${names}` : `Host: ${hostname}. is not cert's CN: ${nameObject(cert.subject).CN ?? ''}`;
  return new TLSError('bad_certificate', `Hostname/IP does not match certificate's altnames: ${reason}`, { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
}

/**
 * node:tls's checkServerIdentity(hostname, cert), for custom checks that wrap the default:
 * an Error (code ERR_TLS_CERT_ALTNAME_INVALID, with `reason`, `host` and `cert`) when the
 * certificate does not name `hostname`. Unlike node, the subject CN is never used.
 */
export function checkServerIdentity(hostname: string, cert: PeerCertificate): Error | undefined {
  const error = hostMismatch(parseCertificate(new Uint8Array(cert.raw)), hostname);
  if (!error) return undefined;
  return Object.assign(error, { reason: error.message.replace(/^[^:]*: /, ''), host: hostname, cert });
}
