/**
 * OpenSSL cipher strings (`HIGH:!aNULL:!MD5`, `DEFAULT`, node's `tls.DEFAULT_CIPHERS`,
 * `ECDHE+AESGCM:@STRENGTH`) mapped onto the suites tsls implements, as libraries pass them
 * to `ciphers`. The language is OpenSSL's (ciphers(1)): elements separated by `:` (or `,`
 * and spaces); `!X` removes for good, `-X` removes, `+X` moves to the end, `X` appends;
 * `A+B` is the suites matching both; `@STRENGTH` sorts by key length; `@SECLEVEL=n` is
 * accepted (every tsls suite meets level 3). Words naming only what tsls does not have
 * (RC4, 3DES, kRSA, DHE, CBC SHA1 suites...) match nothing, as they match nothing in an
 * OpenSSL built without them.
 *
 * Like OpenSSL, the string chooses the TLS 1.2 suites; TLS 1.3 suites stay as they are
 * unless named exactly. Keywords do not reach the PSK suites unless a PSK is configured
 * (a client offering them without a key could only fail), nor CCM-8 (for constrained
 * devices that ask for it by name).
 */
import { CIPHER_SUITES, keyExchangeOf, type CipherSuiteInfo } from '../messages/constants.js';

type Match = (s: CipherSuiteInfo) => boolean;

const all: Match = () => true;
const none: Match = () => false;
const aead = (prefix: string): Match => (s) => s.aead.startsWith(prefix);

/** OpenSSL's words for suite properties; anything else that is not a suite name matches nothing. */
const KEYWORDS: Record<string, Match> = {
  ALL: all,
  DEFAULT: all,
  HIGH: all,
  AEAD: all,
  'TLSV1.2': all,
  ECDHE: (s) => keyExchangeOf(s) === 'ECDHE',
  EECDH: (s) => keyExchangeOf(s) === 'ECDHE',
  KECDHE: (s) => keyExchangeOf(s) === 'ECDHE',
  KEECDH: (s) => keyExchangeOf(s) === 'ECDHE',
  AECDSA: (s) => s.auth === 'ECDSA',
  ECDSA: (s) => s.auth === 'ECDSA',
  ARSA: (s) => s.auth === 'RSA',
  PSK: (s) => s.auth === 'PSK',
  APSK: (s) => s.auth === 'PSK',
  KPSK: (s) => keyExchangeOf(s) === 'PSK',
  KECDHEPSK: (s) => keyExchangeOf(s) === 'ECDHE_PSK',
  ECDHEPSK: (s) => keyExchangeOf(s) === 'ECDHE_PSK',
  AES: aead('AES-'),
  AES128: aead('AES-128-'),
  AES256: aead('AES-256-'),
  AESGCM: (s) => s.aead.endsWith('-GCM'),
  AESCCM: (s) => s.aead.startsWith('AES-128-CCM'),
  AESCCM8: (s) => s.aead === 'AES-128-CCM-8',
  CHACHA20: aead('CHACHA20'),
  SHA256: (s) => s.hash === 'sha256',
  SHA384: (s) => s.hash === 'sha384',
  // What OpenSSL names and tsls does not implement (or refuses): nothing matches.
  MEDIUM: none,
  LOW: none,
  EXPORT: none,
  NULL: none,
  ENULL: none,
  ANULL: none,
  RSA: none,
  KRSA: none,
  MD5: none,
  SHA1: none,
  SHA: none,
  RC4: none,
  DES: none,
  '3DES': none,
  DHE: none,
  EDH: none,
  KDHE: none,
  KEDH: none,
  DH: none,
  SRP: none,
  CAMELLIA: none,
  ARIA: none,
  SEED: none,
  IDEA: none,
  DSS: none,
  ADSS: none,
  SSLV3: none,
  TLSV1: none,
  'TLSV1.0': none,
};

/** Key length for @STRENGTH. */
const strength = (s: CipherSuiteInfo) => (s.aead.startsWith('AES-128') ? 128 : 256);

export interface CipherStringResult {
  /** TLS 1.2 suites, in order (IANA names). */
  tls12: string[];
  /** TLS 1.3 suites named exactly, in order; undefined when none was. */
  tls13: string[] | undefined;
}

/** Map an OpenSSL cipher string onto tsls's suites. `psk`: a PSK is configured, so keywords reach the PSK suites. */
export function parseCipherString(spec: string, psk: boolean): CipherStringResult {
  const elements = spec.split(/[:,\s]+/).filter((e) => e.length > 0);
  if (elements.length > 64) throw new RangeError('cipher string has more than 64 elements');
  const byKeyword = (s: CipherSuiteInfo) => (psk || s.auth !== 'PSK') && s.aead !== 'AES-128-CCM-8';
  let list: CipherSuiteInfo[] = [];
  const banned = new Set<CipherSuiteInfo>();
  const tls13: string[] = [];

  for (const element of elements) {
    if (element.startsWith('@')) {
      if (/^@STRENGTH$/i.test(element)) list = [...list].sort((a, b) => strength(b) - strength(a));
      continue; // @SECLEVEL=n: every tsls suite is at least 128-bit and forward-secret or PSK
    }
    const op = '!-+'.includes(element[0]!) ? element[0]! : '';
    const terms = (op ? element.slice(1) : element).split('+').filter((t) => t.length > 0);
    if (terms.length === 0) continue;
    // A single exact suite name selects that suite, whatever its properties.
    const exact = terms.length === 1 ? CIPHER_SUITES.find((s) => s.name === terms[0] || s.openssl === terms[0]) : undefined;
    if (exact?.version === 'TLSv1.3') {
      if (!op && !tls13.includes(exact.name)) tls13.push(exact.name);
      continue;
    }
    const matches = (s: CipherSuiteInfo) =>
      s.version === 'TLSv1.2' &&
      (exact ? s === exact : byKeyword(s) && terms.every((t) => (KEYWORDS[t.toUpperCase()] ?? none)(s)));
    const matched = CIPHER_SUITES.filter(matches);
    if (op === '!') {
      for (const s of matched) banned.add(s);
      list = list.filter((s) => !banned.has(s));
    } else if (op === '-') {
      list = list.filter((s) => !matched.includes(s));
    } else if (op === '+') {
      list = [...list.filter((s) => !matched.includes(s)), ...list.filter((s) => matched.includes(s))];
    } else {
      for (const s of matched) if (!banned.has(s) && !list.includes(s)) list.push(s);
    }
  }
  return { tls12: list.map((s) => s.name), tls13: tls13.length ? tls13 : undefined };
}
