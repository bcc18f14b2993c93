/**
 * tsls: a TLS engine in TypeScript. This entry point is the sans-IO core, which runs
 * anywhere JavaScript runs; Node sockets live in 'tsls/node'.
 */
export { Connection, type ConnectionEvents, type Lifecycle, type TransitionEvent } from './connection.js';
export type { ClientOptions, ServerOptions, CommonOptions, CertifiedKey, PeerVerification, TLSVersionName, VerificationOptions } from './config.js';
export { TLSError, AlertDescription, alertName, type AlertName } from './errors.js';
export type { CryptoProvider, GroupName, SignatureSchemeName, HashName, AeadName, PublicKey, PrivateKey } from './crypto/provider.js';
export { nobleProvider, createNobleProvider } from './crypto/noble.js';
export { CIPHER_SUITES, type CipherSuiteInfo } from './messages/constants.js';
export { CLIENT_STATES, SERVER_STATES, toMermaid, type StateTable, type StateSpec } from './statem/states.js';
export { parseCertificate, type Certificate } from './x509/certificate.js';
export { parseCertificateChain, parsePrivateKey, pemEncode, pemDecode } from './x509/parse-chain.js';
export { selfSignedCertificate } from './x509/selfsigned.js';
export { certificateMatchesHost } from './x509/hostname.js';
export {
  verifyCertificateChain,
  verifyServerCertificate,
  MAX_INTERMEDIATES,
  type ChainVerificationOptions,
  type VerifierPolicy,
  type CertificatePurpose,
} from './x509/verify.js';
export { type WebPkiProfile } from './x509/web-pki.js';
export { isPublicSuffix } from './x509/public-suffix.js';
export { parseCrl, parseCrls, type CertificateRevocationList } from './x509/crl.js';
export { encodeSession, decodeSession, type TLSSession } from './statem/session.js';
export { DtlsConnection, type DtlsClientOptions, type DtlsServerOptions, type DtlsConnectionEvents } from './dtls-connection.js';
export { DtlsCookieGuard, type CookieVerdict } from './dtls-cookie.js';
export { SrtpProfile, type SrtpProfileName } from './messages/constants.js';
