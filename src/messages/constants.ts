/** Code points from the IANA TLS registries, named as the RFCs name them. */
import type { AeadName, GroupName, HashName, SignatureSchemeName } from '../crypto/provider.js';

export const ContentType = {
  change_cipher_spec: 20,
  alert: 21,
  handshake: 22,
  application_data: 23,
} as const;

export const ProtocolVersion = {
  TLS1_0: 0x0301,
  TLS1_2: 0x0303,
  TLS1_3: 0x0304,
  DTLS1_0: 0xfeff,
  DTLS1_2: 0xfefd,
  DTLS1_3: 0xfefc,
} as const;

export const HandshakeType = {
  hello_request: 0,
  client_hello: 1,
  server_hello: 2,
  hello_verify_request: 3,
  new_session_ticket: 4,
  end_of_early_data: 5,
  encrypted_extensions: 8,
  certificate: 11,
  server_key_exchange: 12,
  certificate_request: 13,
  server_hello_done: 14,
  certificate_verify: 15,
  client_key_exchange: 16,
  finished: 20,
  key_update: 24,
  compressed_certificate: 25,
  message_hash: 254,
} as const;
export type HandshakeTypeName = keyof typeof HandshakeType;

/**
 * HelloRetryRequest travels as a ServerHello with a special random (RFC 8446 4.1.3); the
 * engine treats it as its own message kind so the state table can tell the two apart.
 */
export type MessageKind =
  | HandshakeTypeName
  | 'hello_retry_request'
  | 'server_hello_tls12'
  | 'certificate_request_tls12'
  | 'new_session_ticket_tls12'
  | 'server_key_exchange_psk'
  | 'server_key_exchange_ecdhe_psk'
  | 'client_key_exchange_psk'
  | 'client_key_exchange_ecdhe_psk'
  /** TLS 1.2's ChangeCipherSpec is its own content type, but a step in the handshake flow. */
  | 'change_cipher_spec';

export const HRR_RANDOM = new Uint8Array([
  0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
  0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
]);

/** Downgrade sentinels in the last 8 bytes of ServerHello.random (RFC 8446 4.1.3). */
export const DOWNGRADE_TLS12 = new Uint8Array([0x44, 0x4f, 0x57, 0x4e, 0x47, 0x52, 0x44, 0x01]);
export const DOWNGRADE_TLS11 = new Uint8Array([0x44, 0x4f, 0x57, 0x4e, 0x47, 0x52, 0x44, 0x00]);

export const ExtensionType = {
  server_name: 0,
  max_fragment_length: 1,
  status_request: 5,
  supported_groups: 10,
  ec_point_formats: 11,
  signature_algorithms: 13,
  use_srtp: 14,
  application_layer_protocol_negotiation: 16,
  signed_certificate_timestamp: 18,
  padding: 21,
  encrypt_then_mac: 22,
  extended_master_secret: 23,
  compress_certificate: 27,
  record_size_limit: 28,
  session_ticket: 35,
  pre_shared_key: 41,
  early_data: 42,
  supported_versions: 43,
  cookie: 44,
  psk_key_exchange_modes: 45,
  certificate_authorities: 47,
  oid_filters: 48,
  post_handshake_auth: 49,
  signature_algorithms_cert: 50,
  key_share: 51,
  connection_id: 54,
  renegotiation_info: 0xff01,
  // RFC 9849 section 11.1.
  ech_outer_extensions: 0xfd00,
  encrypted_client_hello: 0xfe0d,
} as const;
export type ExtensionName = keyof typeof ExtensionType;

export const NamedGroup: Record<GroupName, number> = {
  secp256r1: 0x0017,
  secp384r1: 0x0018,
  x25519: 0x001d,
  x448: 0x001e,
  // ML-KEM alone and the hybrids (draft-ietf-tls-mlkem, draft-ietf-tls-ecdhe-mlkem).
  MLKEM768: 0x0201,
  MLKEM1024: 0x0202,
  SecP256r1MLKEM768: 0x11eb,
  X25519MLKEM768: 0x11ec,
  SecP384r1MLKEM1024: 0x11ed,
};

export const SignatureScheme: Record<SignatureSchemeName, number> = {
  rsa_pkcs1_sha256: 0x0401,
  rsa_pkcs1_sha384: 0x0501,
  rsa_pkcs1_sha512: 0x0601,
  ecdsa_secp256r1_sha256: 0x0403,
  ecdsa_secp384r1_sha384: 0x0503,
  rsa_pss_rsae_sha256: 0x0804,
  rsa_pss_rsae_sha384: 0x0805,
  rsa_pss_rsae_sha512: 0x0806,
  ed25519: 0x0807,
};

export const PskKeyExchangeMode = { psk_ke: 0, psk_dhe_ke: 1 } as const;

/** DTLS-SRTP protection profiles (RFC 5764 4.1.2, RFC 7714 14.2), with OpenSSL's names. */
export const SrtpProfile = {
  SRTP_AES128_CM_SHA1_80: 0x0001,
  SRTP_AES128_CM_SHA1_32: 0x0002,
  SRTP_AEAD_AES_128_GCM: 0x0007,
  SRTP_AEAD_AES_256_GCM: 0x0008,
} as const;
export type SrtpProfileName = keyof typeof SrtpProfile;

export interface CipherSuiteInfo {
  name: string;
  code: number;
  version: 'TLSv1.3' | 'TLSv1.2';
  aead: AeadName;
  hash: HashName;
  /** The name OpenSSL uses, for getCipher() and interop tests. */
  openssl: string;
  /** TLS 1.2 suites name the certificate key that signs the ECDHE parameters, or PSK. */
  auth?: 'ECDSA' | 'RSA' | 'PSK';
  /** TLS 1.2 key exchange: ephemeral ECDH, a pre-shared key alone (RFC 4279), or both (RFC 5489). */
  kx?: 'ECDHE' | 'PSK' | 'ECDHE_PSK';
}

export const CIPHER_SUITES: readonly CipherSuiteInfo[] = [
  { name: 'TLS_AES_128_GCM_SHA256', code: 0x1301, version: 'TLSv1.3', aead: 'AES-128-GCM', hash: 'sha256', openssl: 'TLS_AES_128_GCM_SHA256' },
  { name: 'TLS_AES_256_GCM_SHA384', code: 0x1302, version: 'TLSv1.3', aead: 'AES-256-GCM', hash: 'sha384', openssl: 'TLS_AES_256_GCM_SHA384' },
  { name: 'TLS_CHACHA20_POLY1305_SHA256', code: 0x1303, version: 'TLSv1.3', aead: 'CHACHA20-POLY1305', hash: 'sha256', openssl: 'TLS_CHACHA20_POLY1305_SHA256' },
  // TLS 1.2: forward-secret AEAD suites only (no CBC, no RSA key exchange).
  { name: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', code: 0xc02b, version: 'TLSv1.2', aead: 'AES-128-GCM', hash: 'sha256', openssl: 'ECDHE-ECDSA-AES128-GCM-SHA256', auth: 'ECDSA' },
  { name: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', code: 0xc02f, version: 'TLSv1.2', aead: 'AES-128-GCM', hash: 'sha256', openssl: 'ECDHE-RSA-AES128-GCM-SHA256', auth: 'RSA' },
  { name: 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', code: 0xc02c, version: 'TLSv1.2', aead: 'AES-256-GCM', hash: 'sha384', openssl: 'ECDHE-ECDSA-AES256-GCM-SHA384', auth: 'ECDSA' },
  { name: 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', code: 0xc030, version: 'TLSv1.2', aead: 'AES-256-GCM', hash: 'sha384', openssl: 'ECDHE-RSA-AES256-GCM-SHA384', auth: 'RSA' },
  { name: 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', code: 0xcca9, version: 'TLSv1.2', aead: 'CHACHA20-POLY1305', hash: 'sha256', openssl: 'ECDHE-ECDSA-CHACHA20-POLY1305', auth: 'ECDSA' },
  { name: 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256', code: 0xcca8, version: 'TLSv1.2', aead: 'CHACHA20-POLY1305', hash: 'sha256', openssl: 'ECDHE-RSA-CHACHA20-POLY1305', auth: 'RSA' },
  // AES-CCM (RFC 7251), CCM-8 being what CoAP (RFC 7252) mandates.
  { name: 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM', code: 0xc0ac, version: 'TLSv1.2', aead: 'AES-128-CCM', hash: 'sha256', openssl: 'ECDHE-ECDSA-AES128-CCM', auth: 'ECDSA' },
  { name: 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8', code: 0xc0ae, version: 'TLSv1.2', aead: 'AES-128-CCM-8', hash: 'sha256', openssl: 'ECDHE-ECDSA-AES128-CCM8', auth: 'ECDSA' },
  // Pre-shared keys (RFC 4279, RFC 5487, RFC 5489, RFC 6655, RFC 7905, RFC 8442): only offered when a PSK is configured.
  { name: 'TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256', code: 0xccac, version: 'TLSv1.2', aead: 'CHACHA20-POLY1305', hash: 'sha256', openssl: 'ECDHE-PSK-CHACHA20-POLY1305', auth: 'PSK', kx: 'ECDHE_PSK' },
  // RFC 8442 (OpenSSL has no ECDHE_PSK with AES-GCM; the name is wolfSSL's).
  { name: 'TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256', code: 0xd001, version: 'TLSv1.2', aead: 'AES-128-GCM', hash: 'sha256', openssl: 'ECDHE-PSK-AES128-GCM-SHA256', auth: 'PSK', kx: 'ECDHE_PSK' },
  { name: 'TLS_PSK_WITH_AES_128_GCM_SHA256', code: 0x00a8, version: 'TLSv1.2', aead: 'AES-128-GCM', hash: 'sha256', openssl: 'PSK-AES128-GCM-SHA256', auth: 'PSK', kx: 'PSK' },
  { name: 'TLS_PSK_WITH_AES_256_GCM_SHA384', code: 0x00a9, version: 'TLSv1.2', aead: 'AES-256-GCM', hash: 'sha384', openssl: 'PSK-AES256-GCM-SHA384', auth: 'PSK', kx: 'PSK' },
  { name: 'TLS_PSK_WITH_AES_128_CCM_8', code: 0xc0a8, version: 'TLSv1.2', aead: 'AES-128-CCM-8', hash: 'sha256', openssl: 'PSK-AES128-CCM8', auth: 'PSK', kx: 'PSK' },
  { name: 'TLS_PSK_WITH_CHACHA20_POLY1305_SHA256', code: 0xccab, version: 'TLSv1.2', aead: 'CHACHA20-POLY1305', hash: 'sha256', openssl: 'PSK-CHACHA20-POLY1305', auth: 'PSK', kx: 'PSK' },
];

/** A TLS 1.2 suite's key exchange (ECDHE unless it says otherwise). */
export function keyExchangeOf(s: CipherSuiteInfo): 'ECDHE' | 'PSK' | 'ECDHE_PSK' {
  return s.kx ?? 'ECDHE';
}

/** Signalling cipher suite value for secure renegotiation (RFC 5746 3.3). */
export const TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00ff;

export function cipherSuiteByCode(code: number): CipherSuiteInfo | undefined {
  return CIPHER_SUITES.find((s) => s.code === code);
}
export function cipherSuiteByName(name: string): CipherSuiteInfo | undefined {
  return CIPHER_SUITES.find((s) => s.name === name || s.openssl === name);
}

function invert<K extends string>(table: Record<K, number>): Map<number, K> {
  return new Map(Object.entries(table).map(([k, v]) => [v as number, k as K]));
}
export const groupByCode = invert(NamedGroup);
export const schemeByCode = invert(SignatureScheme);
export const handshakeTypeByCode = invert(HandshakeType);
export const extensionByCode = invert(ExtensionType);

/** RFC 8701 GREASE values: 0x?A?A with both bytes equal. */
export function isGrease(v: number): boolean {
  return (v & 0x0f0f) === 0x0a0a && v >> 8 === (v & 0xff);
}
