/**
 * The Web PKI profile: what the CA/Browser Forum Baseline Requirements (BR) ask of a TLS
 * server certificate and its root, checked on top of RFC 5280 when a client verifies a server
 * (`webPkiProfile`, on by default for serverAuth). Each rule is one a publicly trusted CA
 * must follow, so its certificates meet them all; private PKIs that do not follow the BR
 * turn the profile off.
 *
 * - The leaf is a subscriber certificate (BR 7.1.2.7): not a CA (basicConstraints cA=FALSE),
 *   and its extKeyUsage present, naming serverAuth, without anyExtendedKeyUsage.
 * - A root (a self-issued anchor) carries no extKeyUsage (BR 7.1.2.1.2).
 * - No wildcard directly under a public suffix (`*.co.uk`; BR 3.2.2.6), by the ICANN section
 *   of the Public Suffix List (./public-suffix.ts).
 * - The subject CN (BR 7.1.4.3) is a copy of a subjectAltName entry. By default only the
 *   copies that read as another name are refused, the ones a client that still falls back to
 *   the CN could take for a different identity: an IP address in any text but the canonical
 *   one of a subjectAltName iPAddress (`0xC0A80101`, `192.168.001.001`, upper-case or
 *   uncompressed IPv6), an internationalised name in U-labels rather than the A-labels of the
 *   dNSName, and a dNSName in other letter case. `'strict'` requires the exact copy, as the BR
 *   do; not the default because many certificates in use name their base domain in the CN
 *   beside a wildcard subjectAltName (`CN=example.com`, `*.example.com`), which the BR forbid
 *   but which names nothing the subjectAltName does not already cover.
 *
 * A leaf that is itself a trust anchor (a pinned certificate) is exempt: it is trusted as
 * configured, not because a CA issued it.
 */
import { TLSError, type AlertName } from '../errors.js';
import { equal } from '../util/bytes.js';
import { OID, type Certificate } from './certificate.js';
import { normalizeDnsName, parseIp } from './hostname.js';
import { isPublicSuffix } from './public-suffix.js';

/** `true` applies the profile, `'strict'` adds the exact subject CN rule, `false` is plain RFC 5280. */
export type WebPkiProfile = boolean | 'strict';

const describe = (cert: Certificate) => `'${cert.subject.text}'`;

function fail(alert: AlertName, code: string, cert: Certificate, what: string): never {
  throw new TLSError(alert, `certificate ${describe(cert)}: ${what} (Web PKI profile; webPkiProfile: false for a private PKI)`, { code });
}

/** `path`: leaf first, anchor last, already valid under RFC 5280. */
export function checkWebPkiProfile(path: Certificate[], profile: WebPkiProfile): void {
  if (profile === false || path.length < 2) return;
  const leaf = path[0]!;
  const anchor = path[path.length - 1]!;
  if (leaf.isCA) fail('unsupported_certificate', 'INVALID_PURPOSE', leaf, 'a CA certificate (basicConstraints cA) as the server certificate');
  const eku = leaf.extKeyUsage;
  if (!eku) fail('unsupported_certificate', 'INVALID_PURPOSE', leaf, 'no extKeyUsage: a server certificate names serverAuth');
  if (eku.includes(OID.anyExtendedKeyUsage)) fail('unsupported_certificate', 'INVALID_PURPOSE', leaf, 'extKeyUsage anyExtendedKeyUsage in a server certificate');
  if (!eku.includes(OID.serverAuth)) fail('unsupported_certificate', 'INVALID_PURPOSE', leaf, 'extKeyUsage without serverAuth');
  if (anchor.extKeyUsage && equal(anchor.issuer.der, anchor.subject.der)) {
    fail('bad_certificate', 'INVALID_EXTENSION', anchor, 'a root with extKeyUsage');
  }
  for (const pattern of leaf.subjectAltNames.dns) {
    const name = normalizeDnsName(pattern);
    if (name.startsWith('*.') && isPublicSuffix(name.slice(2))) {
      fail('bad_certificate', 'ERR_TLS_CERT_ALTNAME_INVALID', leaf, `wildcard dNSName '${pattern}' directly under the public suffix '${name.slice(2)}'`);
    }
  }
  for (const rdn of leaf.subject.rdns) {
    for (const { oid, value } of rdn) if (oid === OID.commonName) checkCommonName(leaf, value, profile === 'strict');
  }
}

/** Numbers as inet_aton reads them (decimal, 0-octal, 0x-hex; one to four parts): what a lax client takes for IPv4. */
const LAX_IPV4 = /^(?:0x[0-9a-f]*|\d+)(?:\.(?:0x[0-9a-f]*|\d+)){0,3}\.?$/i;

function checkCommonName(leaf: Certificate, cn: string, strict: boolean): void {
  const { dns, ip } = leaf.subjectAltNames;
  if (dns.includes(cn) || ip.includes(cn)) return;
  const fault = (what: string) => fail('bad_certificate', 'ERR_TLS_CERT_ALTNAME_INVALID', leaf, `subject CN '${cn}' ${what}`);
  if (LAX_IPV4.test(cn) || (cn.includes(':') && parseIp(cn))) fault('reads as an IP address but is not the text of a subjectAltName iPAddress');
  if (/[^\x00-\x7f]/.test(cn) && cn.includes('.')) fault('is a host name in U-labels: a subjectAltName dNSName holds A-labels');
  const lower = normalizeDnsName(cn);
  if (dns.some((d) => normalizeDnsName(d) === lower)) fault('differs from its subjectAltName dNSName in letter case');
  if (strict) fault('is not a copy of a subjectAltName entry');
}
