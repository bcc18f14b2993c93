/**
 * Does a certificate name the host we connected to? RFC 9525 rules: subjectAltName only
 * (no Common Name fallback), DNS names case-insensitively with at most one wildcard as
 * the whole left-most label, IP addresses only against iPAddress entries.
 */
import type { Certificate } from './certificate.js';

/** IPv4 or IPv6 text to bytes; undefined when `host` is not an IP address. */
export function parseIp(host: string): Uint8Array | undefined {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    return parts.every((p) => p <= 255) ? new Uint8Array(parts) : undefined;
  }
  if (!h.includes(':') || !/^[0-9a-fA-F:.]+$/.test(h)) return undefined;
  const halves = h.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0) return undefined;
  const all = [...head, ...new Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = all[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  }
  return out;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}

/** One DNS pattern against one host name (both already lower-case, no trailing dot). */
export function dnsNameMatches(pattern: string, host: string): boolean {
  if (pattern === host) return true;
  if (!pattern.startsWith('*.')) return false;
  // The wildcard stands for exactly one whole label, and never for the registrable part alone.
  const suffix = pattern.slice(1);
  if (suffix.split('.').length < 3) return false;
  if (!host.endsWith(suffix)) return false;
  const label = host.slice(0, host.length - suffix.length);
  return label.length > 0 && !label.includes('.');
}

export function certificateMatchesHost(cert: Certificate, host: string): boolean {
  const ip = parseIp(host);
  if (ip) return cert.subjectAltNames.ip.some((s) => sameBytes(parseIp(s), ip));
  const name = host.toLowerCase().replace(/\.$/, '');
  return cert.subjectAltNames.dns.some((p) => dnsNameMatches(p.toLowerCase().replace(/\.$/, ''), name));
}
