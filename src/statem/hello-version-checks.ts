/**
 * What a server checks in a ClientHello's version signals before it answers, kept apart
 * from the negotiation itself: a TLS 1.3 ClientHello's legacy_version (RFC 8446 4.1.2)
 * and TLS_FALLBACK_SCSV (RFC 7507).
 */
import type { TLSVersionName } from '../config.js';
import { TLSError } from '../errors.js';
import { ProtocolVersion } from '../messages/constants.js';
import type { ClientHello } from '../messages/handshake.js';
import type { HandshakeContext } from './context.js';

/** RFC 7507 section 6. */
export const TLS_FALLBACK_SCSV = 0x5600;

const WIRE: Record<TLSVersionName, number> = { 'TLSv1.3': ProtocolVersion.TLS1_3, 'TLSv1.2': ProtocolVersion.TLS1_2 };

/**
 * RFC 8446 4.1.2 and D.5: with supported_versions, legacy_version must still be 0x0303; a
 * client claiming less (SSL 3.0, TLS 1.0/1.1 framing) gets protocol_version, as OpenSSL
 * answers it. DTLS versions count down and are negotiated elsewhere.
 */
export function checkLegacyVersion(hs: HandshakeContext, ch: ClientHello): void {
  if (hs.datagram || !ch.extensions.has('supported_versions')) return;
  if (ch.legacy_version < ProtocolVersion.TLS1_2) {
    throw new TLSError('protocol_version', `ClientHello with supported_versions has legacy_version 0x${ch.legacy_version.toString(16)} below 0x0303`);
  }
}

/**
 * RFC 7507 3: a client that says it is falling back (TLS_FALLBACK_SCSV) while the highest
 * version it offers is below ours was pushed down by someone in the middle:
 * inappropriate_fallback. GREASE and unknown values in supported_versions do not count.
 */
export function checkFallback(hs: HandshakeContext, ch: ClientHello): void {
  if (hs.datagram || !ch.cipher_suites.includes(TLS_FALLBACK_SCSV)) return;
  const listed = ch.extensions.get('supported_versions', 'client_hello')?.versions;
  const known = new Set(Object.values(WIRE));
  const offered = listed ? listed.filter((v) => known.has(v)) : [Math.min(ch.legacy_version, ProtocolVersion.TLS1_2)];
  const clientHighest = Math.max(0, ...offered);
  const ourHighest = Math.max(...hs.common.versions.map((v) => WIRE[v]));
  if (ourHighest > clientHighest) {
    throw new TLSError('inappropriate_fallback', `client signals a fallback to 0x${clientHighest.toString(16)} while we speak 0x${ourHighest.toString(16)}`);
  }
}
