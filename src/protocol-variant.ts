/**
 * The protocol variants the engine runs, as one value the record layer, the statem and
 * the connections ask instead of a `dtls` flag: TLS over a byte stream or DTLS over
 * datagrams, each at a version. DTLS 1.2 runs TLS 1.2's handshake, as DTLS 1.3 will run
 * TLS 1.3's (RFC 9147): a new variant, not a new engine.
 */
import type { TLSVersionName } from './config.js';
import type { WireVersion } from './messages/handshake.js';
import { ProtocolVersion } from './messages/constants.js';

export type Transport = 'stream' | 'datagram';
export type ProtocolVariant = 'tls12' | 'tls13' | 'dtls12' | 'dtls13';

export interface VariantSpec {
  transport: Transport;
  /** The TLS version whose handshake the variant runs. */
  version: TLSVersionName;
  /** What getProtocol() reports. */
  name: string;
  /** The version on the wire in ServerHello.legacy_version (TLS 1.2 forms) and record headers. */
  wire: number;
}

export const VARIANTS: Readonly<Record<ProtocolVariant, VariantSpec>> = {
  tls12: { transport: 'stream', version: 'TLSv1.2', name: 'TLSv1.2', wire: ProtocolVersion.TLS1_2 },
  tls13: { transport: 'stream', version: 'TLSv1.3', name: 'TLSv1.3', wire: ProtocolVersion.TLS1_2 },
  dtls12: { transport: 'datagram', version: 'TLSv1.2', name: 'DTLSv1.2', wire: ProtocolVersion.DTLS1_2 },
  // RFC 9147: ServerHello.legacy_version and DTLSPlaintext stay at DTLS 1.2; supported_versions says 1.3.
  dtls13: { transport: 'datagram', version: 'TLSv1.3', name: 'DTLSv1.3', wire: ProtocolVersion.DTLS1_2 },
};

/** The variant a transport runs at a negotiated version. */
export function variantOf(transport: Transport, version: TLSVersionName): ProtocolVariant {
  if (transport === 'stream') return version === 'TLSv1.3' ? 'tls13' : 'tls12';
  return version === 'TLSv1.3' ? 'dtls13' : 'dtls12';
}

/** The wire version of a transport's TLS 1.2 variant (TLS 1.2's ServerHello.legacy_version, 0x0303 or 0xfefd). */
export function tls12Wire(transport: Transport): number {
  return VARIANTS[variantOf(transport, 'TLSv1.2')].wire;
}

/**
 * The structures handshake messages are read and written in: over a byte stream TLS 1.3's
 * until TLS 1.2 is negotiated (a ServerHello's supported_versions tells the two apart);
 * over datagrams DTLS 1.2's until DTLS 1.3 is (the hellos read the same in both).
 */
export function messageVersion(transport: Transport, version: TLSVersionName | undefined): WireVersion {
  if (transport === 'datagram') return version === 'TLSv1.3' ? 'dtls13' : 'dtls12';
  return version === 'TLSv1.2' ? 'tls12' : 'tls13';
}

/** A version's code in supported_versions (RFC 8446 4.2.1; RFC 9147 5.3: DTLS 1.3 is 0xfefc, DTLS 1.2 0xfefd). */
export function supportedVersionCode(transport: Transport, version: TLSVersionName): number {
  if (transport === 'datagram') return version === 'TLSv1.3' ? ProtocolVersion.DTLS1_3 : ProtocolVersion.DTLS1_2;
  return version === 'TLSv1.3' ? ProtocolVersion.TLS1_3 : ProtocolVersion.TLS1_2;
}

/** ClientHello.legacy_version, before any version is negotiated (RFC 8446 4.1.2, RFC 6347 4.2.1). */
export function helloLegacyVersion(transport: Transport): number {
  return transport === 'stream' ? ProtocolVersion.TLS1_2 : ProtocolVersion.DTLS1_2;
}
