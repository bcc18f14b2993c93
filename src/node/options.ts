/**
 * node:tls option names → engine options. Every node:tls option tsls does not implement
 * is refused with a TLSError `ERR_TLS_UNSUPPORTED_OPTION` naming it, never silently
 * ignored; options that are not TLS options at all (net and http ones) pass by untouched.
 */
import { parseEchKeyFile, type EchKey } from '../ech/keys.js';
import { constants as cryptoConstants } from 'node:crypto';
import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import type { SrtpProfileName } from '../messages/constants.js';
import { DEFAULT_SIGNATURE_SCHEMES, type CertifiedKey, type ClientOptions, type ServerOptions, type TLSVersionName } from '../config.js';
import { nodeProvider } from '../crypto/node.js';
import type { CryptoProvider, GroupName, PrivateKey, PublicKey, SignatureSchemeName } from '../crypto/provider.js';
import { TLSError } from '../errors.js';
import { CIPHER_SUITES, cipherSuiteByName } from '../messages/constants.js';
import { parseCipherString } from './cipher-string.js';
import type { Certificate } from '../x509/certificate.js';
import { parseCertificateChain, parsePrivateKey } from '../x509/parse-chain.js';
import { decodeSession } from '../statem/session.js';
import type { EarlyDataReplayStore } from '../statem/anti-replay.js';

/** PEM text (or DER bytes) of certificates or a key, as node:tls takes them. */
export type PemInput = string | Uint8Array;

/** Options both sides take. */
export interface CommonTLSOptions {
  /** Print every state transition and handshake message to stderr (node's enableTrace; tsls's readable trace). */
  enableTrace?: boolean;
  /** Trust anchors: PEM strings/Buffers, each holding one or more certificates. Replaces the bundled roots. */
  ca?: PemInput | PemInput[];
  /** Certificate revocation lists (PEM or DER), as node's `crl`: every certificate below the anchor is checked. */
  crl?: PemInput | PemInput[];
  /** Intermediates allowed between leaf and anchor (default 10). */
  maxChainDepth?: number;
  /** Smallest RSA modulus accepted in the peer's chain (default 2048). */
  minRsaBits?: number;
  /**
   * Clients: the CA/Browser Forum's rules for the server's certificate (default true; see
   * tsls's VerificationOptions). `false` for a private PKI whose server certificates lack
   * extKeyUsage serverAuth or are CA certificates; `'strict'` for the exact subject CN rule.
   */
  webPkiProfile?: boolean | 'strict';
  /** Our certificate chain (leaf first) in PEM; an array for several chains (e.g. ECDSA and RSA). */
  cert?: PemInput | PemInput[];
  /** Private key(s) in PEM (PKCS#8, SEC1 or PKCS#1); matched to `cert` by public key. `{ pem }` objects without passphrase are accepted. */
  key?: PemInput | { pem: PemInput; passphrase?: string } | (PemInput | { pem: PemInput; passphrase?: string })[];
  /** ALPN protocols: strings, Buffers, or one Buffer in wire format (length-prefixed names). */
  ALPNProtocols?: readonly (string | Uint8Array)[] | Uint8Array;
  minVersion?: string;
  maxVersion?: string;
  /** TLS 1.3 cipher suites, colon-separated (node/OpenSSL names, e.g. `TLS_AES_256_GCM_SHA384`). */
  ciphersuites?: string;
  /**
   * TLS 1.2 (and 1.3) cipher suites as a colon-separated list of exact names (OpenSSL or
   * IANA). OpenSSL cipher-string keywords (`HIGH`, `!aNULL`, `@SECLEVEL`...) are refused.
   */
  ciphers?: string;
  /** Key exchange groups, colon-separated (`X25519:P-256`), or `auto`. */
  ecdhCurve?: string;
  /** Signature schemes, colon-separated (`ecdsa_secp256r1_sha256:rsa_pss_rsae_sha256`, or `ECDSA+SHA256` forms). */
  sigalgs?: string;
  /** DTLS-SRTP protection profiles (RFC 5764), in order of preference (DTLS only). */
  srtpProfiles?: SrtpProfileName[];
  /** A context from tsls's `createSecureContext` (a node:tls SecureContext cannot be used). */
  secureContext?: SecureContext;
  /** Keep our writable side open after the peer ends (default false, as in net). */
  allowHalfOpen?: boolean;
  /** tsls: the crypto provider (default: node:crypto). */
  provider?: CryptoProvider;
}

export interface ConnectionOptions extends CommonTLSOptions {
  host?: string;
  port?: number;
  /** IPC path (as in net.connect). */
  path?: string;
  /** Connect over this socket (or any Duplex) instead of opening one. */
  socket?: import('node:stream').Duplex;
  /** SNI name; defaults to `host` unless that is an IP address. `''` sends none. */
  servername?: string;
  /** Verify the server's certificate (default true). */
  rejectUnauthorized?: boolean;
  /** node's signature: return (or throw) an Error to refuse the certificate for `hostname`. */
  checkServerIdentity?: (hostname: string, cert: import('node:tls').PeerCertificate) => Error | undefined;
  /** node's client pskCallback: the identity and key for TLS 1.2 / DTLS PSK suites (called once, hint null). */
  pskCallback?: (hint: string | null) => { psk: Uint8Array; identity: string } | null;
  /** tsls: offer pskCallback's key in TLS 1.3 as RFC 9258 imported PSKs; see the engine's ClientOptions.psk.imported. */
  pskImport?: { context?: string | Uint8Array; hashes?: ('sha256' | 'sha384')[]; epskHash?: 'sha256' | 'sha384' };
  /** A session Buffer from an earlier socket's 'session' event. */
  session?: Uint8Array;
  /**
   * tsls: data to send first, as TLS 1.3 0-RTT early data when `session` allows it (else
   * once the handshake completes); see the engine's ClientOptions.earlyData. Writes made
   * before 'secureConnect' follow it as early data while the ticket's limit lasts.
   */
  earlyData?: Uint8Array;
  /** tsls: early data the server refused is sent again after the handshake ('resend', the default) or handed back in an 'earlyDataRejected' event ('report'). */
  earlyDataRejected?: 'resend' | 'report';
  /** tsls: Encrypted Client Hello with the server's ECHConfigList (bytes or base64); see the engine's ClientOptions.ech. */
  ech?: { configList: Uint8Array | string };
  /** Socket idle timeout in ms (socket.setTimeout). */
  timeout?: number;
  highWaterMark?: number;
  localAddress?: string;
  localPort?: number;
  family?: number;
  lookup?: import('node:net').LookupFunction;
}

export type SNICallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext | null) => void) => void;

export interface TlsServerOptions extends CommonTLSOptions {
  /** node's asynchronous form; `ctx` must come from tsls's `createSecureContext`. */
  SNICallback?: SNICallback;
  /** Ask clients for a certificate, checked against `ca` (node's requestCert). */
  requestCert?: boolean;
  /** With requestCert: refuse clients without a trusted certificate (default true, as node). */
  rejectUnauthorized?: boolean;
  /** node's server pskCallback: the key for a client's identity, or null (unknown_psk_identity). No socket is passed (null). */
  pskCallback?: (socket: null, identity: string) => Uint8Array | null;
  /** tsls: accept RFC 9258 imported PSKs whose external identity pskCallback knows; see the engine's ServerOptions.importedPsk. */
  importedPsk?: { context?: string | Uint8Array; epskHash?: 'sha256' | 'sha384' };
  /** The PSK identity hint sent to clients. */
  pskIdentityHint?: string;
  /** node's ALPNCallback: choose one of the client's `protocols` (undefined refuses the connection). Not with ALPNProtocols. */
  ALPNCallback?: (info: { servername: string | undefined; protocols: string[] }) => string | undefined;
  /** SSL_OP_* bits: SSL_OP_NO_TICKET turns tickets off; the bits for what tsls never does are accepted. */
  secureOptions?: number;
  /** ms to complete the handshake (default 120000, as node). */
  handshakeTimeout?: number;
  /** Ticket keys, 48 bytes (or multiples): share them between servers to resume each other's sessions. */
  ticketKeys?: Uint8Array;
  /** Session (ticket) lifetime in seconds. */
  sessionTimeout?: number;
  /**
   * tsls (OpenSSL's max_early_data; node has no name for it): accept TLS 1.3 0-RTT early
   * data up to this many bytes per connection. Early data may be a replay: sockets count it
   * (`earlyDataReceived`) and emit 'earlyData' with it before it is read from the stream.
   */
  maxEarlyData?: number;
  /** tsls: where tickets used for early data are recorded (anti-replay), to share between processes; default in memory. */
  earlyDataReplayStore?: EarlyDataReplayStore;
  /** tsls: Encrypted Client Hello keys: key files (PEM, as `tsls ech` or `openssl ech` write them) or parsed keys. */
  ech?: { keys: (string | EchKey)[] };
  highWaterMark?: number;
}

const unsupported = (option: string, why = 'is not supported by tsls') =>
  new TLSError('internal_error', `option ${option} ${why}`, { code: 'ERR_TLS_UNSUPPORTED_OPTION' });
const invalid = (message: string) => new TLSError('internal_error', message, { code: 'ERR_TLS_INVALID_OPTION' });

/** node:tls options tsls does not implement (a value of false/undefined/null is accepted for the boolean ones). */
const UNSUPPORTED_COMMON = [
  'pfx',
  'passphrase',
  'secureProtocol',
  'honorCipherOrder',
  'sessionIdContext',
  'dhparam',
  'privateKeyEngine',
  'privateKeyIdentifier',
  'clientCertEngine',
  'PSKCallback',
];
const UNSUPPORTED_CLIENT = [...UNSUPPORTED_COMMON, 'requestOCSP'];
const UNSUPPORTED_SERVER = [...UNSUPPORTED_COMMON, 'pauseOnConnect'];

function given(v: unknown): boolean {
  return v !== undefined && v !== null && v !== false;
}

export function rejectUnsupported(options: object, side: 'client' | 'server'): void {
  const o = options as Record<string, unknown>;
  for (const name of side === 'client' ? UNSUPPORTED_CLIENT : UNSUPPORTED_SERVER) {
    if (!given(o[name])) continue;
    if (name === 'passphrase') throw unsupported(name, 'is not supported: encrypted private keys cannot be used, decrypt the key first');
    if (name === 'secureProtocol') throw unsupported(name, 'is not supported: use minVersion/maxVersion');
    throw unsupported(name);
  }
  if (given(o.secureOptions)) secureOptions(o.secureOptions, side);
  if (o.secureContext !== undefined && o.secureContext !== null && !(o.secureContext instanceof SecureContext)) {
    throw unsupported('secureContext', 'must come from tsls createSecureContext() (a node:tls SecureContext holds no usable keys)');
  }
}

/**
 * node's secureOptions (SSL_OP_* bits): those that ask for what tsls always does (no SSLv3,
 * TLS 1.0/1.1, compression or renegotiation) are accepted, and on a server SSL_OP_NO_TICKET
 * turns tickets off (so TLS 1.2 resumes by session ID); any other bit is refused.
 */
function secureOptions(v: unknown, side: 'client' | 'server'): { noTicket: boolean } {
  const c = cryptoConstants;
  const always = c.SSL_OP_NO_SSLv2 | c.SSL_OP_NO_SSLv3 | c.SSL_OP_NO_TLSv1 | c.SSL_OP_NO_TLSv1_1 | c.SSL_OP_NO_COMPRESSION | c.SSL_OP_NO_RENEGOTIATION;
  const allowed = always | (side === 'server' ? c.SSL_OP_NO_TICKET : 0);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw invalid('secureOptions must be a number of SSL_OP_* bits');
  // The bits are above 2^31: test them as numbers, not with 32-bit bitwise operators.
  let rest = v;
  for (const bit of [c.SSL_OP_NO_SSLv2, c.SSL_OP_NO_SSLv3, c.SSL_OP_NO_TLSv1, c.SSL_OP_NO_TLSv1_1, c.SSL_OP_NO_COMPRESSION, c.SSL_OP_NO_RENEGOTIATION, c.SSL_OP_NO_TICKET]) {
    if (bit && Math.floor(rest / bit) % 2 === 1 && (bit & allowed) !== 0) rest -= bit;
  }
  if (rest !== 0) throw unsupported('secureOptions', `bits 0x${rest.toString(16)} are not supported by tsls`);
  return { noTicket: side === 'server' && Math.floor(v / c.SSL_OP_NO_TICKET) % 2 === 1 };
}

// ---- PEM inputs ----

function list<T>(v: T | readonly T[] | undefined): T[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? [...(v as T[])] : [v as T];
}

function asPem(v: unknown, option: string): PemInput {
  if (typeof v === 'string' || v instanceof Uint8Array) return v;
  throw invalid(`${option} must be a PEM string or Buffer`);
}

function wrap<T>(option: string, work: () => T): T {
  try {
    return work();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new TLSError('internal_error', `invalid ${option}: ${message}`, { code: 'ERR_TLS_INVALID_OPTION', cause: err });
  }
}

/** Certificates from `ca` (several PEM blocks per entry allowed). */
export function parseCa(ca: CommonTLSOptions['ca']): Certificate[] | undefined {
  if (ca === undefined || ca === null) return undefined;
  const out: Certificate[] = [];
  for (const entry of list(ca)) out.push(...wrap('ca', () => parseCertificateChain(asPem(entry, 'ca'))));
  return out;
}

let bundledRoots: Certificate[] | undefined;

/** node's bundled Mozilla roots (tls.rootCertificates), parsed once; ones the engine cannot parse are skipped. */
export function defaultRoots(): Certificate[] {
  if (!bundledRoots) {
    bundledRoots = [];
    for (const pem of rootCertificates) {
      try {
        bundledRoots.push(...parseCertificateChain(pem));
      } catch {
        // A root the engine cannot parse (an unsupported key type) can anchor nothing anyway.
      }
    }
  }
  return bundledRoots;
}

function publicKeyMatches(key: PrivateKey, pub: PublicKey): boolean {
  const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
  if (key.kind === 'ec' && pub.kind === 'ec') return key.curve === pub.curve && same(key.point, pub.point);
  if (key.kind === 'ed25519' && pub.kind === 'ed25519') return same(key.key, pub.key);
  if (key.kind === 'rsa' && pub.kind === 'rsa') return key.n === pub.n && key.e === pub.e;
  return false;
}

/** `cert` + `key` → certificate chains paired with their keys (by public key, whatever the order). */
export function certifiedKeys(cert: CommonTLSOptions['cert'], key: CommonTLSOptions['key']): CertifiedKey[] {
  const chains = list(cert).map((c) => wrap('cert', () => parseCertificateChain(asPem(c, 'cert'))));
  const keys = list(key).map((k) => {
    if (k !== null && typeof k === 'object' && !(k instanceof Uint8Array)) {
      if (given((k as { passphrase?: string }).passphrase)) throw unsupported('passphrase', 'is not supported: encrypted private keys cannot be used, decrypt the key first');
      return wrap('key', () => parsePrivateKey(asPem((k as { pem: PemInput }).pem, 'key')));
    }
    return wrap('key', () => parsePrivateKey(asPem(k, 'key')));
  });
  if (chains.length === 0 && keys.length === 0) return [];
  if (chains.length === 0) throw invalid('key given without cert');
  if (keys.length === 0) throw invalid('cert given without key');
  const out: CertifiedKey[] = [];
  for (const chain of chains) {
    const leaf = chain[0];
    if (!leaf) throw invalid('cert holds no certificate');
    const k = keys.find((k) => publicKeyMatches(k, leaf.publicKey));
    if (!k) throw invalid(`key values mismatch: no key given for certificate '${leaf.subject.text}'`);
    out.push({ chain, key: k });
  }
  return out;
}

// ---- SecureContext ----

/** The algorithm settings a context carries, as node's createSecureContext takes them. */
const CONTEXT_SETTINGS = ['ciphers', 'ciphersuites', 'minVersion', 'maxVersion', 'ecdhCurve', 'sigalgs'] as const;
type ContextSettings = Pick<CommonTLSOptions, (typeof CONTEXT_SETTINGS)[number]>;

export interface SecureContextOptions extends ContextSettings {
  ca?: CommonTLSOptions['ca'];
  cert?: CommonTLSOptions['cert'];
  key?: CommonTLSOptions['key'];
}

/**
 * What tsls's createSecureContext returns: parsed certificates, keys and trust anchors, and
 * the algorithm settings (checked now), which apply where the connection's own options
 * leave them out.
 */
export class SecureContext {
  readonly certificates: CertifiedKey[];
  readonly ca: Certificate[] | undefined;
  readonly settings: ContextSettings;
  constructor(options: SecureContextOptions = {}) {
    rejectUnsupported(options, 'client');
    this.certificates = certifiedKeys(options.cert, options.key);
    this.ca = parseCa(options.ca);
    const settings: Record<string, string> = {};
    for (const k of CONTEXT_SETTINGS) if (options[k] !== undefined) settings[k] = options[k];
    this.settings = settings;
    commonOptions(this.settings); // refuse what tsls does not implement now, not at the first connection
  }
  /** node's SecureContext has `.context`; here it is the object itself. */
  get context(): this {
    return this;
  }
}

export function createSecureContext(options: SecureContextOptions = {}): SecureContext {
  return new SecureContext(options);
}

// ---- algorithm lists ----

function names(v: string): string[] {
  return v.split(/[:,\s]+/).filter((s) => s.length > 0);
}

function cipherSuites(o: CommonTLSOptions, psk: boolean): string[] | undefined {
  if (o.ciphersuites === undefined && o.ciphers === undefined) return undefined;
  let tls13: string[] | undefined;
  let tls12: string[] | undefined;
  if (o.ciphersuites !== undefined) {
    tls13 = names(o.ciphersuites).map((n) => {
      const s = cipherSuiteByName(n);
      if (!s || s.version !== 'TLSv1.3') throw unsupported('ciphersuites', `names a TLS 1.3 cipher suite tsls does not implement: ${n}`);
      return s.name;
    });
  }
  if (o.ciphers !== undefined) {
    // Suite names or an OpenSSL cipher string (HIGH:!aNULL, DEFAULT, node's DEFAULT_CIPHERS).
    const parsed = parseCipherString(o.ciphers, psk);
    if (parsed.tls12.length === 0 && parsed.tls13 === undefined) throw unsupported('ciphers', `matches no cipher suite tsls implements: ${o.ciphers}`);
    tls12 = parsed.tls12;
    if (tls13 === undefined) tls13 = parsed.tls13;
  }
  const defaults = (version: TLSVersionName) => CIPHER_SUITES.filter((s) => s.version === version).map((s) => s.name);
  return [...(tls13 ?? defaults('TLSv1.3')), ...(tls12 ?? defaults('TLSv1.2'))];
}

const GROUP_NAMES: Record<string, GroupName> = {
  x25519: 'x25519',
  x448: 'x448',
  'p-256': 'secp256r1',
  prime256v1: 'secp256r1',
  secp256r1: 'secp256r1',
  'p-384': 'secp384r1',
  secp384r1: 'secp384r1',
  mlkem768: 'MLKEM768',
  mlkem1024: 'MLKEM1024',
  x25519mlkem768: 'X25519MLKEM768',
  secp256r1mlkem768: 'SecP256r1MLKEM768',
  secp384r1mlkem1024: 'SecP384r1MLKEM1024',
};

function groups(ecdhCurve: string | undefined): GroupName[] | undefined {
  if (ecdhCurve === undefined || ecdhCurve === 'auto') return undefined;
  return names(ecdhCurve).map((n) => {
    const g = GROUP_NAMES[n.toLowerCase()];
    if (!g) throw unsupported('ecdhCurve', `names a group tsls does not implement: ${n}`);
    return g;
  });
}

const SIGALG_ALIASES: Record<string, SignatureSchemeName> = {
  'ECDSA+SHA256': 'ecdsa_secp256r1_sha256',
  'ECDSA+SHA384': 'ecdsa_secp384r1_sha384',
  'RSA-PSS+SHA256': 'rsa_pss_rsae_sha256',
  'RSA-PSS+SHA384': 'rsa_pss_rsae_sha384',
  'RSA-PSS+SHA512': 'rsa_pss_rsae_sha512',
  'RSA+SHA256': 'rsa_pkcs1_sha256',
  'RSA+SHA384': 'rsa_pkcs1_sha384',
  'RSA+SHA512': 'rsa_pkcs1_sha512',
  ED25519: 'ed25519',
};

function signatureSchemes(sigalgs: string | undefined): SignatureSchemeName[] | undefined {
  if (sigalgs === undefined) return undefined;
  return names(sigalgs).map((n) => {
    const s = SIGALG_ALIASES[n.toUpperCase()] ?? DEFAULT_SIGNATURE_SCHEMES.find((x) => x === n.toLowerCase());
    if (!s) throw unsupported('sigalgs', `names a signature scheme tsls does not implement: ${n}`);
    return s;
  });
}

/** Versions below TLS 1.2 that libraries still pass as a minimum (node's own default was TLSv1 once). */
const OLD_VERSIONS = new Set(['TLSv1.1', 'TLSv1', 'SSLv3']);
const warnedClamp = new Set<string>();

function version(v: string | undefined, option: 'minVersion' | 'maxVersion'): TLSVersionName | undefined {
  if (v === undefined) return undefined;
  if (v === 'TLSv1.3' || v === 'TLSv1.2') return v;
  if (option === 'minVersion' && OLD_VERSIONS.has(v)) {
    // Allowing more than tsls speaks changes nothing: TLS 1.2 is the floor. Say so once.
    if (!warnedClamp.has(v)) {
      warnedClamp.add(v);
      process.emitWarning(`minVersion ${v} is below what tsls speaks: using TLSv1.2`, { code: 'TSLS_MIN_VERSION_CLAMPED' });
    }
    return 'TLSv1.2';
  }
  throw new TLSError('internal_error', `${option} ${v} is not supported: tsls speaks TLSv1.2 and TLSv1.3`, { code: 'ERR_TLS_INVALID_PROTOCOL_VERSION' });
}

/** node's ALPNProtocols forms → names. */
export function alpnProtocols(v: CommonTLSOptions['ALPNProtocols']): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  const decoder = new TextDecoder();
  let out: string[];
  if (v instanceof Uint8Array) {
    out = [];
    for (let i = 0; i < v.length; ) {
      const n = v[i]!;
      if (n === 0 || i + 1 + n > v.length) throw invalid('ALPNProtocols: malformed wire-format list');
      out.push(decoder.decode(v.subarray(i + 1, i + 1 + n)));
      i += 1 + n;
    }
  } else if (Array.isArray(v)) {
    out = v.map((p) => (typeof p === 'string' ? p : decoder.decode(p)));
  } else {
    throw invalid('ALPNProtocols must be an array or a Buffer');
  }
  for (const p of out) {
    const len = new TextEncoder().encode(p).length;
    if (len === 0 || len > 255) throw invalid(`ALPNProtocols: protocol name length must be 1 to 255 bytes: '${p}'`);
  }
  return out;
}

/** Engine options both sides share; a `secureContext`'s settings fill in what `o` leaves out. */
function commonOptions(options: CommonTLSOptions) {
  const ctx = options.secureContext?.settings;
  const o = ctx ? { ...options, ...Object.fromEntries(Object.entries(ctx).filter(([k]) => options[k as keyof ContextSettings] === undefined)) } : options;
  const out: Partial<Omit<ClientOptions, 'ech'>> = { provider: o.provider ?? nodeProvider };
  const suites = cipherSuites(o, (o as { pskCallback?: unknown }).pskCallback !== undefined);
  if (suites) out.cipherSuites = suites;
  const g = groups(o.ecdhCurve);
  if (g) out.groups = g;
  const s = signatureSchemes(o.sigalgs);
  if (s) out.signatureSchemes = s;
  const alpn = alpnProtocols(o.ALPNProtocols);
  if (alpn) out.ALPNProtocols = alpn;
  const min = version(o.minVersion, 'minVersion');
  if (min) out.minVersion = min;
  const max = version(o.maxVersion, 'maxVersion');
  if (max) out.maxVersion = max;
  if (o.srtpProfiles) out.srtpProfiles = o.srtpProfiles;
  if (o.crl !== undefined) out.crl = o.crl;
  if (o.maxChainDepth !== undefined) out.maxChainDepth = o.maxChainDepth;
  if (o.minRsaBits !== undefined) out.minRsaBits = o.minRsaBits;
  if (o.webPkiProfile !== undefined) out.webPkiProfile = o.webPkiProfile;
  return out;
}

// ---- client ----

/** What a client TLSSocket needs: engine options (without verifyPeer) and how to verify. */
export interface ResolvedClient {
  engine: ClientOptions;
  /** node's enableTrace: print every state transition and handshake message to stderr. */
  enableTrace: boolean;
  anchors: Certificate[];
  rejectUnauthorized: boolean;
  checkServerIdentity: ConnectionOptions['checkServerIdentity'];
  /** The name the certificate is checked against (node: servername || host || 'localhost'). */
  hostname: string;
  /** The SNI sent, if any. */
  servername: string | undefined;
  allowHalfOpen: boolean;
}

const isIp = (h: string) => isIP(h) !== 0;

export function resolveClientOptions(o: ConnectionOptions): ResolvedClient {
  rejectUnsupported(o, 'client');
  const ctx = o.secureContext;
  const host = o.host ?? 'localhost';
  let servername = o.servername;
  if (servername === undefined && !isIp(host)) servername = host;
  if (servername === '' || (servername !== undefined && isIp(servername))) servername = undefined;
  const engine: ClientOptions = { ...commonOptions(o), host };
  if (servername !== undefined) engine.servername = servername;
  if (o.ech) engine.ech = o.ech;
  if (o.earlyData !== undefined) engine.earlyData = o.earlyData;
  if (o.earlyDataRejected !== undefined) engine.earlyDataRejected = o.earlyDataRejected;
  const certificates = ctx?.certificates.length ? ctx.certificates : certifiedKeys(o.cert, o.key);
  if (certificates.length > 1) throw invalid('a client takes one cert/key pair');
  if (certificates[0]) engine.certificate = certificates[0];
  if (o.session !== undefined && o.session !== null) {
    if (!(o.session instanceof Uint8Array)) throw invalid('session must be a Buffer from a tsls socket\'s session event');
    decodeSession(o.session); // refuse a foreign session now, not in the middle of the handshake
    engine.session = o.session;
  }
  if (o.checkServerIdentity !== undefined && typeof o.checkServerIdentity !== 'function') throw invalid('checkServerIdentity must be a function');
  if (o.pskCallback !== undefined) {
    // node calls it during the handshake with the server's hint; the engine needs the key up
    // front, so it is called once, before the handshake, with no hint (null).
    const given = o.pskCallback(null);
    if (given) engine.psk = { identity: given.identity, key: given.psk, ...(o.pskImport ? { imported: o.pskImport } : {}) };
  }
  return {
    engine,
    enableTrace: o.enableTrace === true,
    anchors: ctx?.ca ?? parseCa(o.ca) ?? defaultRoots(),
    rejectUnauthorized: o.rejectUnauthorized !== false,
    checkServerIdentity: o.checkServerIdentity,
    hostname: o.servername || host,
    servername,
    allowHalfOpen: o.allowHalfOpen === true,
  };
}

// ---- server ----

export interface ResolvedServer {
  /** One options object per server: the engine shares ticket keys and the session cache per object. */
  engine: ServerOptions;
  /** node's enableTrace: print every state transition and handshake message to stderr. */
  enableTrace: boolean;
  SNICallback: SNICallback | undefined;
  handshakeTimeout: number;
  allowHalfOpen: boolean;
}

export function resolveServerOptions(o: TlsServerOptions): ResolvedServer {
  rejectUnsupported(o, 'server');
  const ctx = o.secureContext;
  const certificates = ctx?.certificates.length ? ctx.certificates : certifiedKeys(o.cert, o.key);
  if (certificates.length === 0 && !o.pskCallback) throw invalid('a server needs cert and key (or a secureContext holding them), or a pskCallback');
  const ca = ctx?.ca ?? parseCa(o.ca);
  if (o.SNICallback !== undefined && typeof o.SNICallback !== 'function') throw invalid('SNICallback must be a function');
  const engine: ServerOptions = { ...commonOptions(o), certificates };
  const pskCallback = o.pskCallback;
  if (pskCallback) engine.pskCallback = (identity) => pskCallback(null, new TextDecoder().decode(identity)) ?? undefined;
  if (o.importedPsk !== undefined) engine.importedPsk = o.importedPsk;
  if (o.pskIdentityHint !== undefined) engine.pskIdentityHint = o.pskIdentityHint;
  if (o.ticketKeys !== undefined) engine.ticketKeys = o.ticketKeys;
  if (o.ech) engine.ech = { keys: o.ech.keys.flatMap((k) => (typeof k === 'string' ? parseEchKeyFile(engine.provider ?? nodeProvider, k) : [k])) };
  if (given(o.secureOptions) && secureOptions(o.secureOptions, 'server').noTicket) engine.tickets = 0;
  if (o.ALPNCallback !== undefined) {
    if (typeof o.ALPNCallback !== 'function') throw invalid('ALPNCallback must be a function');
    if (o.ALPNProtocols !== undefined) throw new TLSError('internal_error', 'ALPNCallback and ALPNProtocols cannot both be set', { code: 'ERR_TLS_ALPN_CALLBACK_WITH_PROTOCOLS' });
    engine.ALPNCallback = o.ALPNCallback;
  }
  if (o.sessionTimeout !== undefined) engine.ticketLifetime = o.sessionTimeout;
  if (o.maxEarlyData !== undefined) engine.maxEarlyData = o.maxEarlyData;
  if (o.earlyDataReplayStore !== undefined) engine.earlyDataReplayStore = o.earlyDataReplayStore;
  if (o.requestCert) {
    engine.requestCert = true;
    engine.rejectUnauthorized = o.rejectUnauthorized !== false;
    engine.ca = ca ?? [];
  }
  return {
    engine,
    enableTrace: o.enableTrace === true,
    SNICallback: o.SNICallback,
    handshakeTimeout: o.handshakeTimeout ?? 120_000,
    allowHalfOpen: o.allowHalfOpen === true,
  };
}
