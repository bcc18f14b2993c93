/**
 * node:tls's module-level members, for code that reads them from the module it imported:
 * the root store, the cipher names, the version and cipher defaults (what tsls does when an
 * option is left out). They are constants here: tsls reads no module-level setting back.
 */
import { CIPHER_SUITES } from '../messages/constants.js';

/** The lowest and highest versions tsls negotiates by default (and at all): the engine's. */
export { DEFAULT_MIN_VERSION, DEFAULT_MAX_VERSION } from '../config.js';

export { rootCertificates } from 'node:tls';

/** The groups offered by default (node's 'auto'). */
export const DEFAULT_ECDH_CURVE = 'auto';

/** Suites used when neither `ciphers` nor `ciphersuites` is given: no PSK (no key), no CCM-8 (asked for by name). */
const defaults = CIPHER_SUITES.filter((s) => s.auth !== 'PSK' && s.aead !== 'AES-128-CCM-8');

/** The default suites as an OpenSSL cipher string (OpenSSL names), which `ciphers` accepts back. */
export const DEFAULT_CIPHERS = defaults.map((s) => s.openssl).join(':');

/** The suites tsls implements, in lower case OpenSSL names, as node's getCiphers(). */
export function getCiphers(): string[] {
  return CIPHER_SUITES.map((s) => s.openssl.toLowerCase());
}
