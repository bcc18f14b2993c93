/**
 * What the client's TLS 1.3 and TLS 1.2 flows both check of the server: that it answers
 * only what we offered (RFC 8446 4.2, RFC 5246 7.4.1.4), and its certificate chain.
 */
import { echVerificationName } from './ech-client.js';
import { TLSError, illegalParameter, unexpectedMessage } from '../errors.js';
import type { Extensions, MessageOf } from '../messages/handshake.js';
import { handshakeVerifierPolicy } from '../config.js';
import { verifyServerCertificate } from '../x509/verify.js';
import { readCertificates } from './both.js';
import type { ClientHandshake } from './context.js';
import type { Phase } from './declare.js';

/** A server may only answer with extensions we offered (RFC 8446 4.2), cookie in HRR excepted. */
export function checkOffered(hs: Phase<ClientHandshake, 'hello'>, ext: Extensions, where: string, allowUnsolicited: number[] = []): void {
  for (const type of ext.types) {
    if (!hs.hello.offeredExtensions.has(type) && !allowUnsolicited.includes(type)) {
      throw new TLSError('unsupported_extension', `${where} carries extension ${type}, which we did not offer`);
    }
  }
}

/** The server's Certificate (both versions): parsed, then verified unless the application said otherwise. */
export function processServerCertificate(hs: Phase<ClientHandshake, 'hello'>, msg: MessageOf<'certificate'>): void {
  if (hs.resumed) throw unexpectedMessage('Certificate in a resumed handshake');
  if (msg.certificate_request_context.length !== 0) throw illegalParameter('server Certificate has a request context');
  if (msg.certificate_list.length === 0) throw new TLSError('decode_error', 'server sent an empty Certificate');
  const chain = readCertificates(msg);
  hs.negotiated.peerCertificates = chain;
  const o = hs.options;
  const echPublicName = echVerificationName(hs.hello.ech);
  const info = { chain, host: echPublicName ?? o.servername ?? o.host, now: hs.common.now(), ...(echPublicName ? { echPublicName } : {}) };
  if (o.verifyPeer) o.verifyPeer(info);
  else if (o.rejectUnauthorized !== false) verifyServerCertificate(hs.provider, info, o.ca ?? [], handshakeVerifierPolicy(o));
  hs.negotiated.peerVerified = o.rejectUnauthorized !== false || o.verifyPeer !== undefined;
}
