/**
 * The cipher suite a TLS 1.3 server takes: its own first that the client offers, unless the
 * client offers imported PSKs (RFC 9258) for other hashes only, when the first suite of one of
 * those hashes wins (a PSK is usable only with its hash). One rule for the stateful server and
 * the DTLS 1.3 cookie guard, so the suite a stateless HelloRetryRequest named is the one the
 * association then finds (RFC 8446 4.1.4 holds the second ClientHello to it).
 */
import type { HashName } from '../crypto/provider.js';
import type { CipherSuiteInfo } from '../messages/constants.js';

export function chooseSuite13(ours: readonly CipherSuiteInfo[], offered: readonly number[], importedHashes: ReadonlySet<HashName>): CipherSuiteInfo | undefined {
  const common = ours.filter((s) => s.version === 'TLSv1.3' && offered.includes(s.code));
  const first = common[0];
  if (!first || importedHashes.size === 0 || importedHashes.has(first.hash)) return first;
  return common.find((s) => importedHashes.has(s.hash)) ?? first;
}
