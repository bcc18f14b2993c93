/**
 * The server's side of client authentication, shared by TLS 1.3 and 1.2: whether to ask,
 * what to ask with, and how to judge what the client sends (RFC 8446 4.3.2 / 4.4.2,
 * RFC 5246 7.4.4 / 7.4.6).
 */
import { SignatureScheme } from '../messages/constants.js';
import { TLSError } from '../errors.js';
import type { Certificate } from '../x509/certificate.js';
import { handshakeVerifierPolicy } from '../config.js';
import { verifyCertificateChain } from '../x509/verify.js';
import type { ServerHandshake } from './context.js';

export function wantsClientCertificate(hs: ServerHandshake): boolean {
  // PSK suites authenticate with the key itself; there is no certificate to ask for.
  return hs.options.requestCert === true && !hs.resumed && hs.negotiated.suite?.auth !== 'PSK';
}

/** The signature schemes we accept in the client's CertificateVerify, as wire codes. */
export function acceptedSchemes(hs: ServerHandshake, tls12: boolean): number[] {
  // TLS 1.3 forbids RSA PKCS#1 v1.5 in CertificateVerify; TLS 1.2 allows it.
  return hs.common.signatureSchemes.filter((s) => tls12 || !s.startsWith('rsa_pkcs1')).map((s) => SignatureScheme[s]);
}

/**
 * Judge the client's chain. An empty one is refused when a certificate is required
 * (certificate_required in TLS 1.3, handshake_failure in 1.2); an untrusted one is
 * refused too unless rejectUnauthorized is false, in which case the reason is kept.
 */
export function acceptClientCertificates(hs: ServerHandshake, chain: Certificate[]): void {
  const o = hs.options;
  const strict = o.rejectUnauthorized !== false;
  hs.negotiated.peerCertificates = chain;
  if (chain.length === 0) {
    const error = new TLSError(hs.negotiated.version === 'TLSv1.2' ? 'handshake_failure' : 'certificate_required', 'client sent no certificate', {
      code: 'ERR_TLS_CLIENT_CERTIFICATE_REQUIRED',
    });
    if (strict) throw error;
    hs.negotiated.authorizationError = error;
    return;
  }
  try {
    const info = { chain, host: undefined, now: hs.common.now() };
    if (o.verifyPeer) o.verifyPeer(info);
    else verifyCertificateChain(hs.provider, chain, { ...handshakeVerifierPolicy(o), anchors: o.ca ?? [], now: info.now, purpose: 'clientAuth' });
    hs.negotiated.peerVerified = true;
  } catch (err) {
    if (strict || !(err instanceof TLSError)) throw err;
    hs.negotiated.authorizationError = err;
  }
}
