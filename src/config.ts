/**
 * Connection options, with node:tls names where node:tls has one, and their strict
 * defaults. `resolveConfig` turns what the user gave into the one shape the engine uses.
 */
import type { EchKey } from './ech/keys.js';
import type { CertificateCompressionName } from './cert-compression-codecs.js';
import type { CryptoProvider, GroupName, PrivateKey, SignatureSchemeName } from './crypto/provider.js';
import type { Certificate, KeyUsage } from './x509/certificate.js';
import { parseCrls, type CertificateRevocationList } from './x509/crl.js';
import type { VerifierPolicy } from './x509/verify.js';
import type { WebPkiProfile } from './x509/web-pki.js';
import { CIPHER_SUITES, type CipherSuiteInfo, type SrtpProfileName, cipherSuiteByName } from './messages/constants.js';
import { defaultLimits, type HandshakeLimits } from './messages/handshake.js';
import { TLSError } from './errors.js';
import type { SessionStore, TLSSession } from './statem/session.js';
import type { EarlyDataReplayStore } from './statem/anti-replay.js';
import type { ImportHash } from './statem/imported-psk.js';
import type { AeadLimits } from './record/aead-limits.js';

export type TLSVersionName = 'TLSv1.3' | 'TLSv1.2';

/** A certificate chain (leaf first) and the private key of its leaf. */
export interface CertifiedKey {
  chain: Certificate[];
  key: PrivateKey;
}

/** What a client was told about the server's certificate check. */
export interface PeerVerification {
  chain: Certificate[];
  /** The name (or IP) the certificate must be valid for. */
  host: string | undefined;
  /**
   * Set when ECH was offered and the server did not take it: the config's public_name, which
   * `host` then is too. Only it is authenticated (RFC 9849 section 6.1.7), never the name asked for.
   */
  echPublicName?: string;
  now: number;
}

export interface CommonOptions {
  /** Crypto implementation; the noble provider when not given. */
  provider?: CryptoProvider;
  /** Randomness source (tests inject a seeded one to replay handshakes exactly). */
  random?: (length: number) => Uint8Array;
  /** Clock in ms since the epoch (certificate validity, ticket ages). */
  now?: () => number;
  /** Cipher suites in order of preference, by IANA or OpenSSL name. */
  cipherSuites?: string[];
  /** Key exchange groups in order of preference. */
  groups?: GroupName[];
  /** Signature schemes we accept (and, for our own key, may use), in order of preference. */
  signatureSchemes?: SignatureSchemeName[];
  /** ALPN protocol names, in order of preference. */
  ALPNProtocols?: string[];
  minVersion?: TLSVersionName;
  maxVersion?: TLSVersionName;
  /** Bounds on handshake message sizes. */
  limits?: Partial<HandshakeLimits>;
  /**
   * Lower the AEAD usage limits (RFC 8446 5.5, RFC 9147 4.5.3) below the cipher's own:
   * records per key before a KeyUpdate (TLS 1.3) or the end of the connection (1.2, DTLS),
   * and forged records a DTLS connection tolerates per key. They are never raised.
   */
  aeadLimits?: Partial<AeadLimits>;
  /** DTLS-SRTP (RFC 5764): protection profiles to offer (client) or accept (server), in order of preference. */
  srtpProfiles?: SrtpProfileName[];
  /**
   * DTLS 1.2 connection ID (RFC 9146): the CID this side wants in the records it receives;
   * empty to use the peer's CID without asking for one. Unset: no connection_id extension.
   */
  connectionId?: Uint8Array;
}

/** How the peer's certificate chain is checked, beyond the trust anchors (node:tls names where it has them). */
export interface VerificationOptions {
  /**
   * Certificate revocation lists, PEM or DER, one or many (or already parsed with
   * `parseCrls`). With CRLs, every certificate below the anchor needs a current CRL from its
   * issuer: a listed one fails with `CERT_REVOKED`, one without a CRL with `UNABLE_TO_GET_CRL`.
   */
  crl?: string | Uint8Array | (string | Uint8Array)[] | CertificateRevocationList[];
  /** Intermediates allowed between the leaf and the anchor, self-issued ones not counted (default 10). */
  maxChainDepth?: number;
  /** Smallest RSA modulus accepted anywhere in the chain, in bits (default 2048). Lower it only for legacy peers. */
  minRsaBits?: number;
  /**
   * The CA/Browser Forum's rules for a server's certificate (default true): a leaf with
   * extKeyUsage serverAuth that is not a CA, a root without extKeyUsage, no wildcard under a
   * public suffix, a subject CN copied from the subjectAltName. `'strict'` requires that copy
   * exactly; `false` verifies by RFC 5280 alone, for private PKIs. Servers verifying client
   * certificates do not use it.
   */
  webPkiProfile?: WebPkiProfile;
}

export interface ClientOptions extends CommonOptions, VerificationOptions {
  /** SNI host name; none is sent when absent (or when it is an IP address). */
  servername?: string;
  /** Name or IP address the server certificate must match when `servername` is not set. */
  host?: string;
  /** Groups to send key shares for in the first ClientHello (default: the first of `groups`, and the first (EC)DH group too when that is a hybrid). */
  keyShareGroups?: GroupName[];
  /** Trust anchors. */
  ca?: Certificate[];
  /**
   * Verify the server's certificate chain and name (default true). `false` skips the
   * check entirely and is never the default.
   */
  rejectUnauthorized?: boolean;
  /** Replace the built-in chain and name check: throw a TLSError to refuse. */
  verifyPeer?: (info: PeerVerification) => void;
  /** Our certificate for client authentication. */
  certificate?: CertifiedKey;
  /** Middlebox compatibility mode (RFC 8446 D.4): session id and dummy ChangeCipherSpec. Default true. */
  compatibilityMode?: boolean;
  /** Send GREASE values (RFC 8701) in ClientHello. Default true. */
  grease?: boolean;
  /**
   * A pre-shared key: a TLS 1.3 external PSK (RFC 8446 4.2.11, SHA-256), and the TLS 1.2 /
   * DTLS PSK suites (RFC 4279). With `imported`, TLS 1.3 offers it as RFC 9258 imported PSKs
   * instead: one per hash in `hashes` (default SHA-256 and SHA-384) that our suites have,
   * each under an ImportedIdentity carrying `context` (default empty); `epskHash` is the hash
   * the key was provisioned with (default SHA-256), which derives them.
   */
  psk?: { identity: string | Uint8Array; key: Uint8Array; imported?: { context?: string | Uint8Array; hashes?: ImportHash[]; epskHash?: ImportHash } };
  /** A session from an earlier connection's `session` event, to resume. */
  session?: TLSSession | Uint8Array;
  /** TLS 1.3 PSK key exchange modes to offer when resuming (default psk_dhe_ke only: forward secrecy). */
  pskModes?: PskMode[];
  /**
   * Data to send first: as 0-RTT early data (RFC 8446 2.3) when `session` allows it (its
   * ticket's max_early_data_size, the same ALPN, suite and server name), otherwise as the
   * first application data once the handshake completes. Writes made before the handshake
   * completes follow it as early data while the ticket's limit lasts.
   */
  earlyData?: Uint8Array;
  /**
   * Early data the server refused: 'resend' (default) sends it again once the handshake
   * completes; 'report' hands it back in an `earlyDataRejected` event instead.
   */
  earlyDataRejected?: 'resend' | 'report';
  /**
   * DTLS 1.3 only: send 0-RTT early data (epoch 1, RFC 9147) with a ticket that allows it;
   * off by default. Only a server that skips the cookie exchange can take it (a
   * HelloRetryRequest refuses early data, RFC 8446 4.2.10), and refused early data is not
   * sent again: `DtlsConnection.send()` is datagrams, the application decides
   * (`earlyDataAccepted`).
   */
  datagramEarlyData?: boolean;
  /**
   * Encrypted Client Hello (RFC 9849): the server's ECHConfigList (bytes, or base64 as DNS HTTPS
   * records and `tsls ech` give it). The real SNI then travels encrypted; the outer hello shows
   * the config's public_name. A rejection fails with ERR_TLS_ECH_REQUIRED carrying the
   * server's retry configs. TLS 1.3 only. A TLS 1.3 `session` is resumed inside (the ticket
   * travels in the encrypted hello, GREASE of its length outside); `psk` is not offered with it.
   */
  ech?: { configList: Uint8Array | string };
  /**
   * Without `ech`: send a GREASE encrypted_client_hello (RFC 9849 section 6.2), so that hellos
   * with real ECH do not stand out, as browsers do. Default: on when `grease` is (the default).
   * Retry configs a server answers with are ignored, as the RFC says.
   */
  echGrease?: boolean;
  /** Certificate compression (RFC 8879) to offer: any of 'zstd', 'brotli' and 'zlib', in order of preference. Default none. */
  certificateCompression?: CertificateCompressionName[];
}

export type PskMode = 'psk_dhe_ke' | 'psk_ke';

export interface ServerOptions extends CommonOptions, VerificationOptions {
  /** Certificates to choose from (by key type the client supports); the first is the default. */
  certificates: CertifiedKey[];
  /**
   * Encrypted Client Hello (RFC 9849), shared mode: the keys to open ClientHelloOuter with (the
   * first whose config_id matches and that decrypts wins; several for rotation). Configs with
   * `retry` not false go back to a client whose ECH failed, in EncryptedExtensions.
   */
  ech?: { keys: EchKey[] };
  /**
   * Algorithms to send a CompressedCertificate with (RFC 8879) to clients that ask, the first the
   * client offered winning: default ['zlib', 'brotli'] (we cannot compress with zstd); [] turns it off.
   */
  certificateCompression?: CertificateCompressionName[];
  /** Pick certificates for an SNI name; return undefined to keep the defaults. */
  SNICallback?: (servername: string) => CertifiedKey[] | undefined;
  /** Put a cookie in HelloRetryRequest and require it back (RFC 8446 4.2.2). Default true. */
  helloRetryCookie?: boolean;
  /**
   * Ticket keys, 48 bytes each (16-byte name, 32-byte AES-256-GCM key); the first seals,
   * all open. Give the same keys to every process behind one address so they resume each
   * other's sessions. Without it keys are made per options object and rotated.
   */
  ticketKeys?: Uint8Array;
  /** How many TLS 1.3 tickets to send after a handshake (default 1; 0 turns tickets off). */
  tickets?: number;
  /** Ticket and session lifetime in seconds (default 7200, at most 604800). */
  ticketLifetime?: number;
  /**
   * Accept TLS 1.3 0-RTT early data of up to this many bytes per connection: tickets carry
   * it as max_early_data_size. Default 0: tickets allow no early data (and a client's is
   * skipped). Early data can be replayed by an attacker to another server: it reaches the
   * application marked as early (the `data` event's second argument) so that it can
   * refuse what must not happen twice.
   */
  maxEarlyData?: number;
  /**
   * DTLS 1.3 only: with `maxEarlyData`, tickets allow 0-RTT and early data (epoch 1, RFC
   * 9147) is taken; off by default. A cookie exchange (DtlsCookieGuard, the Node server's)
   * answers every first ClientHello with a HelloRetryRequest, which refuses early data: only
   * a server that skips it can take any.
   */
  datagramEarlyData?: boolean;
  /** Where tickets used for early data are recorded (anti-replay); default an in-memory store per options object. */
  earlyDataReplayStore?: EarlyDataReplayStore;
  /** PSK modes the server accepts (default both; psk_ke gives up forward secrecy). */
  pskModes?: PskMode[];
  /** Bound on the TLS 1.2 session-ID cache (default 1000 entries; 0 turns it off). */
  sessionCacheSize?: number;
  /**
   * The TLS 1.2 session-ID cache itself, for an application that keeps sessions elsewhere
   * (node's newSession/resumeSession events, a store shared by several processes). Default:
   * an in-memory cache of `sessionCacheSize` entries per options object.
   */
  sessionCache?: SessionStore;
  /** Choose the ALPN protocol from the client's list (instead of ALPNProtocols); undefined refuses with no_application_protocol. */
  ALPNCallback?: (info: { servername: string | undefined; protocols: string[] }) => string | undefined;
  /** TLS 1.2 / DTLS PSK suites: the key for a client's identity, or undefined for unknown_psk_identity. */
  pskCallback?: (identity: Uint8Array) => Uint8Array | undefined;
  /**
   * Accept RFC 9258 imported PSKs in TLS 1.3: an offered ImportedIdentity for this protocol
   * and `context` (default empty) whose external_identity `pskCallback` knows. The suite is
   * then one whose hash the client imported the key for. `epskHash`: the hash the keys were
   * provisioned with (default SHA-256).
   */
  importedPsk?: { context?: string | Uint8Array; epskHash?: ImportHash };
  /** Sent in ServerKeyExchange so clients can pick an identity (RFC 4279 2). */
  pskIdentityHint?: string;
  /** Ask the client for a certificate (CertificateRequest). */
  requestCert?: boolean;
  /**
   * With requestCert: refuse clients without a certificate that chains to `ca` (default
   * true). When false the handshake goes on and `authorizationError` tells why not.
   */
  rejectUnauthorized?: boolean;
  /** Trust anchors for client certificates. */
  ca?: Certificate[];
  /** Replace the built-in client certificate check: throw a TLSError to refuse. */
  verifyPeer?: (info: PeerVerification) => void;
}

const policies = new WeakMap<VerificationOptions, VerifierPolicy & { keyUsage: KeyUsage }>();

/**
 * The verifier policy of a handshake, made once per options object (CRLs are parsed once,
 * not per connection). The handshake's own requirement is added: the leaf's key signs the
 * handshake, so its keyUsage, when present, must allow digitalSignature.
 */
export function handshakeVerifierPolicy(o: VerificationOptions): VerifierPolicy & { keyUsage: KeyUsage } {
  let policy = policies.get(o);
  if (!policy) {
    const crl = o.crl === undefined ? undefined : isParsed(o.crl) ? o.crl : parseCrls(o.crl);
    policy = { crl, maxChainDepth: o.maxChainDepth, minRsaBits: o.minRsaBits, webPkiProfile: o.webPkiProfile, keyUsage: 'digitalSignature' };
    policies.set(o, policy);
  }
  return policy;
}

function isParsed(crl: NonNullable<VerificationOptions['crl']>): crl is CertificateRevocationList[] {
  return Array.isArray(crl) && crl.length > 0 && typeof crl[0] === 'object' && !(crl[0] instanceof Uint8Array);
}

export interface ResolvedCommon {
  provider: CryptoProvider;
  /** Versions we speak, newest first. */
  versions: TLSVersionName[];
  random: (length: number) => Uint8Array;
  now: () => number;
  cipherSuites: CipherSuiteInfo[];
  groups: GroupName[];
  signatureSchemes: SignatureSchemeName[];
  alpn: string[];
  limits: HandshakeLimits;
  aeadLimits: Partial<AeadLimits>;
}

/**
 * As the browsers and OpenSSL 3.5+: the hybrid X25519MLKEM768 first (post-quantum security
 * against harvest-now-decrypt-later), the other hybrids next, then the classic groups. A
 * client sends X25519MLKEM768 and X25519 key shares (see defaultKeyShareGroups); a server
 * picks a hybrid the client sent a share for over a classic one. Over DTLS 1.3 the client
 * sends the X25519 share alone (its first ClientHello stays one datagram) and a server whose
 * first group the client lists is a hybrid asks for it (chooseGroup13).
 */
export const DEFAULT_GROUPS: GroupName[] = ['X25519MLKEM768', 'SecP256r1MLKEM768', 'SecP384r1MLKEM1024', 'x25519', 'secp256r1', 'secp384r1', 'x448'];
export const DEFAULT_SIGNATURE_SCHEMES: SignatureSchemeName[] = [
  'ecdsa_secp256r1_sha256',
  'ecdsa_secp384r1_sha384',
  'ed25519',
  'rsa_pss_rsae_sha256',
  'rsa_pss_rsae_sha384',
  'rsa_pss_rsae_sha512',
  'rsa_pkcs1_sha256',
  'rsa_pkcs1_sha384',
  'rsa_pkcs1_sha512',
];

export function resolveCommon(o: CommonOptions, defaultProvider: CryptoProvider): ResolvedCommon {
  const provider = o.provider ?? defaultProvider;
  const versions = resolveVersions(o);
  // By default: no CCM-8 (its 8-byte tag is for constrained devices that ask for it), and PSK suites only with a PSK.
  const pskConfigured = (o as ClientOptions).psk !== undefined || (o as ServerOptions).pskCallback !== undefined;
  const offer = suitesAndVersions(o.cipherSuites, versions, pskConfigured);
  return {
    provider,
    random: o.random ?? randomOf(provider),
    now: o.now ?? wallClock,
    cipherSuites: offer.cipherSuites,
    versions: offer.versions,
    groups: o.groups ?? DEFAULT_GROUPS,
    signatureSchemes: o.signatureSchemes ?? DEFAULT_SIGNATURE_SCHEMES,
    alpn: o.ALPNProtocols ?? NO_ALPN,
    limits: o.limits ? { ...defaultLimits, ...o.limits } : defaultLimits,
    aeadLimits: o.aeadLimits ?? NO_AEAD_LIMITS,
  };
}

/*
 * What resolveCommon derives is shared between connections resolved from equal options
 * (the engine never changes these arrays): a process with many connections keeps one
 * suite list, one version list and one random function, not one per connection.
 */
const NO_ALPN: string[] = [];
const NO_AEAD_LIMITS: Partial<AeadLimits> = {};
const wallClock = () => Date.now();
const randomFns = new WeakMap<CryptoProvider, (length: number) => Uint8Array>();

function randomOf(provider: CryptoProvider): (length: number) => Uint8Array {
  let fn = randomFns.get(provider);
  if (!fn) randomFns.set(provider, (fn = (n) => provider.random(n)));
  return fn;
}

interface Offer {
  cipherSuites: CipherSuiteInfo[];
  /** A version with no cipher suite configured is not offered at all. */
  versions: TLSVersionName[];
}
const offers = new Map<string, Offer>();
/** Distinct option combinations remembered; a process that makes more just starts over. */
const MAX_OFFERS = 64;

function suitesAndVersions(names: string[] | undefined, versions: TLSVersionName[], pskConfigured: boolean): Offer {
  const key = `${names?.join(',') ?? '*'}|${versions.join(',')}|${pskConfigured}`;
  const known = offers.get(key);
  if (known) return known;
  const defaults = CIPHER_SUITES.filter((s) => s.aead !== 'AES-128-CCM-8' && (s.auth !== 'PSK' || pskConfigured));
  const suites = (names ?? defaults.map((s) => s.name)).map((name) => {
    const s = cipherSuiteByName(name);
    if (!s) throw new TLSError('internal_error', `unknown cipher suite ${name}`, { code: 'ERR_TLS_INVALID_OPTION' });
    return s;
  });
  const usable = suites.filter((s) => versions.includes(s.version));
  if (usable.length === 0) throw new TLSError('internal_error', 'no cipher suites configured', { code: 'ERR_TLS_INVALID_OPTION' });
  const offer = { cipherSuites: usable.slice(), versions: versions.filter((v) => usable.some((s) => s.version === v)) };
  if (offers.size >= MAX_OFFERS) offers.clear();
  offers.set(key, offer);
  return offer;
}

const VERSION_ORDER: TLSVersionName[] = ['TLSv1.3', 'TLSv1.2'];

/**
 * The versions spoken when minVersion/maxVersion are left out, by every connection (TLS and
 * DTLS, the engine and tsls/node alike): 1.3, and 1.2 with a peer that has only that.
 */
export const DEFAULT_MIN_VERSION = 'TLSv1.2' satisfies TLSVersionName;
export const DEFAULT_MAX_VERSION = 'TLSv1.3' satisfies TLSVersionName;

/** minVersion/maxVersion as in node:tls; TLS 1.2 and 1.3 by default, nothing older ever. */
function resolveVersions(o: CommonOptions): TLSVersionName[] {
  for (const v of [o.minVersion, o.maxVersion]) {
    if (v !== undefined && !VERSION_ORDER.includes(v)) {
      throw new TLSError('internal_error', `unsupported TLS version ${v} (tsls speaks TLSv1.2 and TLSv1.3)`, { code: 'ERR_TLS_INVALID_PROTOCOL_VERSION' });
    }
  }
  const max = VERSION_ORDER.indexOf(o.maxVersion ?? DEFAULT_MAX_VERSION);
  const min = VERSION_ORDER.indexOf(o.minVersion ?? DEFAULT_MIN_VERSION);
  const versions = VERSION_ORDER.slice(max, min + 1);
  if (versions.length === 0) throw new TLSError('internal_error', 'minVersion is above maxVersion', { code: 'ERR_TLS_INVALID_PROTOCOL_VERSION' });
  return versions;
}
