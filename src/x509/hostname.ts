/**
 * Does a certificate name the host we connected to? RFC 9525 (formerly RFC 6125) rules:
 *
 * - subjectAltName only: no fallback to the subject's Common Name, ever;
 * - an IP address host matches only iPAddress entries (IPv4 and IPv6, compared as bytes),
 *   never a dNSName that happens to spell the address;
 * - a DNS host matches dNSName entries case-insensitively (ASCII only), one trailing dot
 *   on either side ignored; internationalised names are compared as the A-labels given;
 * - a wildcard is only a whole left-most label `*` followed by at least two more labels:
 *   `*.example.com` matches `a.example.com`, not `example.com` nor `a.b.example.com`, and
 *   partial wildcards such as `x*.example.com` match nothing.
 */
import type { Certificate } from './certificate.js';

const V4 = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;

function parseIpv4(h: string): Uint8Array | undefined {
  const m = V4.exec(h);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? new Uint8Array(parts) : undefined;
}

/**
 * IPv4 (dotted decimal, no leading zeros) or IPv6 (RFC 4291 text, optionally in brackets,
 * with an embedded IPv4 tail allowed) to bytes; undefined when `host` is not an IP address.
 */
export function parseIp(host: string): Uint8Array | undefined {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (!h.includes(':')) return h === host ? parseIpv4(h) : undefined;
  if (!/^[0-9a-fA-F:.]+$/.test(h)) return undefined;
  const halves = h.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0]!);
  const tail = groups(halves[1] ?? '');
  // An embedded IPv4 address stands for the last two groups.
  const last = (halves.length === 2 ? tail : head).at(-1);
  let v4: Uint8Array | undefined;
  if (last?.includes('.')) {
    v4 = parseIpv4(last);
    if (!v4) return undefined;
    (halves.length === 2 ? tail : head).pop();
  }
  const count = head.length + tail.length + (v4 ? 2 : 0);
  if (halves.length === 1 ? count !== 8 : count > 7) return undefined;
  const all = [...head, ...new Array<string>(8 - count).fill('0'), ...tail];
  const out = new Uint8Array(16);
  for (let i = 0; i < all.length; i++) {
    const g = all[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  }
  if (v4) out.set(v4, 12);
  return out;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}

/** ASCII lower case and one trailing dot removed; other characters are left alone. */
export function normalizeDnsName(name: string): string {
  const lower = name.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

// RFC 1034 3.5 preferred name syntax as RFC 1123 2.1 relaxed it: letters, digits and inner
// hyphens, 1 to 63 per label. No underscores: the CA/Browser Forum banned them in 2019.
const LABEL = '[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?';
const HOST_NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);

/** A host name in preferred name syntax (no trailing dot, no wildcard). */
export function isHostName(name: string): boolean {
  return name.length <= 253 && HOST_NAME.test(name);
}

/** A subjectAltName dNSName: a host name, or `*.` before one (one trailing dot allowed, as in matching). */
export function isDnsNamePattern(name: string): boolean {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  return isHostName(n.startsWith('*.') ? n.slice(2) : n);
}

/** A name we will try to match: a host name, and not all-numeric at the end (an IP-like name). */
function isMatchableHost(host: string): boolean {
  return isHostName(host) && !/(^|\.)\d+$/.test(host);
}

/** One DNS pattern against one host name, both already normalised (`normalizeDnsName`). */
export function dnsNameMatches(pattern: string, host: string): boolean {
  if (!isMatchableHost(host)) return false;
  if (pattern === host) return true;
  if (!pattern.startsWith('*.')) return false;
  // The wildcard stands for exactly one whole label, never for the registrable part alone.
  const suffix = pattern.slice(1); // ".example.com"
  if (!isHostName(suffix.slice(1)) || suffix.split('.').length < 3) return false;
  if (!host.endsWith(suffix)) return false;
  const label = host.slice(0, host.length - suffix.length);
  return label.length > 0 && !label.includes('.');
}

export function certificateMatchesHost(cert: Certificate, host: string): boolean {
  const ip = parseIp(host);
  if (ip) return cert.subjectAltNames.ip.some((s) => sameBytes(parseIp(s), ip));
  const name = normalizeDnsName(host);
  return cert.subjectAltNames.dns.some((p) => dnsNameMatches(normalizeDnsName(p), name));
}
