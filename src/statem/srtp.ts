/**
 * DTLS-SRTP's use_srtp extension (RFC 5764 4.1): the client lists its protection profiles,
 * the server answers with one of them (DTLS 1.2 in its ServerHello, DTLS 1.3 in
 * EncryptedExtensions, RFC 8446 4.2's table), and both take the SRTP keys from the exporter.
 */
import { illegalParameter } from '../errors.js';
import { SrtpProfile, type SrtpProfileName } from '../messages/constants.js';
import type { Extensions } from '../messages/handshake.js';
import type { ExtValue } from '../messages/extensions.js';
import type { ClientHandshake, ServerHandshake } from './context.js';

/** Server: our preferred profile among the client's, when it offered use_srtp over datagrams. */
export function chooseSrtpProfile(hs: ServerHandshake, clientHello: Extensions): void {
  const srtp = hs.datagram ? clientHello.get('use_srtp', 'client_hello') : undefined;
  hs.negotiated.srtpProfile = srtp ? (hs.options.srtpProfiles ?? []).find((p) => srtp.protection_profiles.includes(SrtpProfile[p])) : undefined;
}

/** Server: the answer, in the ServerHello (DTLS 1.2) or EncryptedExtensions (DTLS 1.3). */
export function answerSrtp(hs: ServerHandshake, ext: Extensions): void {
  if (hs.negotiated.srtpProfile) ext.add('use_srtp', { protection_profiles: [SrtpProfile[hs.negotiated.srtpProfile]], srtp_mki: new Uint8Array(0) });
}

/** Client: the server's answer must be exactly one of the profiles we offered, with the MKI we sent (none) (RFC 5764 4.1.1). */
export function takeSrtpProfile(hs: ClientHandshake, srtp: ExtValue<'use_srtp', 'client_hello'> | undefined): void {
  if (!srtp) return;
  const [chosen, ...more] = srtp.protection_profiles;
  const name = (Object.keys(SrtpProfile) as SrtpProfileName[]).find((n) => SrtpProfile[n] === chosen);
  if (more.length || !name || !(hs.options.srtpProfiles ?? []).includes(name) || srtp.srtp_mki.length) {
    throw illegalParameter('server chose an SRTP profile we did not offer');
  }
  hs.negotiated.srtpProfile = name;
}
