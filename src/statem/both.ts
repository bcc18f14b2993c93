/**
 * Handshake work both sides share (OpenSSL's statem_both.c): the TLS 1.3 key schedule
 * steps, Finished, Certificate and CertificateVerify (post-handshake states: post-handshake.ts).
 */
import { hashLength, type PrivateKey, type PublicKey, type SignatureSchemeName } from '../crypto/provider.js';
import { deriveSecret, earlySecret, finishedVerifyData, handshakeSecret, masterSecret } from '../crypto/keyschedule.js';
import { TLSError, decodeError, illegalParameter } from '../errors.js';
import { SignatureScheme, schemeByCode } from '../messages/constants.js';
import { Extensions, type HandshakeMessage, type MessageOf } from '../messages/handshake.js';
import { constantTimeEqual, concat, utf8 } from '../util/bytes.js';
import { parseCertificate, type Certificate } from '../x509/certificate.js';
import type { HandshakeContext } from './context.js';
import type { Side } from './declare.js';

/** RFC 8449: the largest TLS 1.3 record we accept, inner content type included. */
export const OUR_RECORD_SIZE_LIMIT = 2 ** 14 + 1;

// ---- key schedule steps ---------------------------------------------------------------

/** After ServerHello: Handshake Secret and both handshake traffic secrets (RFC 8446 7.1). */
export function deriveHandshakeSecrets(hs: HandshakeContext, sharedSecret: Uint8Array | undefined, psk?: Uint8Array): void {
  const p = hs.provider;
  const h = hs.suite.hash;
  const s = hs.secrets;
  s.early = earlySecret(p, h, psk);
  // psk_ke: no (EC)DHE, the input is a string of zeros (RFC 8446 7.1).
  sharedSecret ??= new Uint8Array(hashLength[h]);
  s.handshake = handshakeSecret(p, h, s.early, sharedSecret, hs.labelPrefix);
  const th = hs.transcript.hash();
  s.clientHandshake = deriveSecret(p, h, s.handshake, 'c hs traffic', th, hs.labelPrefix);
  s.serverHandshake = deriveSecret(p, h, s.handshake, 's hs traffic', th, hs.labelPrefix);
  hs.records.keylog('CLIENT_HANDSHAKE_TRAFFIC_SECRET', s.clientHandshake);
  hs.records.keylog('SERVER_HANDSHAKE_TRAFFIC_SECRET', s.serverHandshake);
}

/** After the server's Finished: Master Secret and the first application traffic secrets. */
export function deriveApplicationSecrets(hs: HandshakeContext): void {
  const p = hs.provider;
  const h = hs.suite.hash;
  const s = hs.secrets;
  s.master = masterSecret(p, h, s.need('handshake'), hs.labelPrefix);
  const th = hs.transcript.hash();
  s.clientApplication = deriveSecret(p, h, s.master, 'c ap traffic', th, hs.labelPrefix);
  s.serverApplication = deriveSecret(p, h, s.master, 's ap traffic', th, hs.labelPrefix);
  s.exporter = deriveSecret(p, h, s.master, 'exp master', th, hs.labelPrefix);
  hs.records.keylog('CLIENT_TRAFFIC_SECRET_0', s.clientApplication);
  hs.records.keylog('SERVER_TRAFFIC_SECRET_0', s.serverApplication);
  hs.records.keylog('EXPORTER_SECRET', s.exporter);
}

/** After the client's Finished: resumption_master_secret (for tickets). */
export function deriveResumptionSecret(hs: HandshakeContext): void {
  hs.secrets.resumption = deriveSecret(hs.provider, hs.suite.hash, hs.secrets.need('master'), 'res master', hs.transcript.hash(), hs.labelPrefix);
}

// ---- Finished ---------------------------------------------------------------------------

function handshakeSecretOf(hs: HandshakeContext, sender: Side): Uint8Array {
  return sender === 'client' ? hs.secrets.need('clientHandshake') : hs.secrets.need('serverHandshake');
}

export function buildFinished(hs: HandshakeContext, sender: Side): HandshakeMessage {
  const verify_data = finishedVerifyData(hs.provider, hs.suite.hash, handshakeSecretOf(hs, sender), hs.transcript.hash(), hs.labelPrefix);
  return { type: 'finished', verify_data };
}

export function checkFinished(hs: HandshakeContext, msg: MessageOf<'finished'>, sender: Side): void {
  const expected = finishedVerifyData(hs.provider, hs.suite.hash, handshakeSecretOf(hs, sender), hs.transcript.hash(), hs.labelPrefix);
  if (msg.verify_data.length !== expected.length) throw decodeError('Finished has the wrong length');
  if (!constantTimeEqual(msg.verify_data, expected)) throw new TLSError('decrypt_error', `${sender} Finished does not verify`);
}

// ---- Certificate ------------------------------------------------------------------------

export function buildCertificate(chain: Certificate[], context: Uint8Array = new Uint8Array(0)): HandshakeMessage {
  return {
    type: 'certificate',
    certificate_request_context: context,
    certificate_list: chain.map((c) => ({ cert_data: c.der, extensions: new Extensions('certificate') })),
  };
}

/** Parse the peer's chain; the leaf must parse (its key checks CertificateVerify). */
export function readCertificates(msg: MessageOf<'certificate'>): Certificate[] {
  return msg.certificate_list.map((entry, i) => {
    try {
      return parseCertificate(entry.cert_data);
    } catch (err) {
      if (i === 0 || !(err instanceof TLSError)) throw err instanceof TLSError ? err : new TLSError('bad_certificate', `certificate ${i} does not parse`);
      throw new TLSError('bad_certificate', `certificate ${i} does not parse: ${err.message}`);
    }
  });
}

// ---- CertificateVerify ------------------------------------------------------------------

const CV_PAD = new Uint8Array(64).fill(0x20);
const CV_LABEL: Record<Side, Uint8Array> = {
  server: utf8.encode('TLS 1.3, server CertificateVerify'),
  client: utf8.encode('TLS 1.3, client CertificateVerify'),
};

/** The content covered by a TLS 1.3 CertificateVerify signature (RFC 8446 4.4.3). */
export function certificateVerifyContent(signer: Side, transcriptHash: Uint8Array): Uint8Array {
  return concat(CV_PAD, CV_LABEL[signer], new Uint8Array([0]), transcriptHash);
}

/** Which TLS 1.3 schemes a key can make (RSA PKCS#1 v1.5 is not allowed for TLS 1.3 CertificateVerify). */
export function schemesForKey(key: PublicKey | PrivateKey): SignatureSchemeName[] {
  switch (key.kind) {
    case 'ec':
      return key.curve === 'P-256' ? ['ecdsa_secp256r1_sha256'] : ['ecdsa_secp384r1_sha384'];
    case 'ed25519':
      return ['ed25519'];
    case 'rsa':
      return ['rsa_pss_rsae_sha256', 'rsa_pss_rsae_sha384', 'rsa_pss_rsae_sha512'];
  }
}

/** Our preference order, restricted to what the peer offered and the key can do. */
export function chooseScheme(hs: HandshakeContext, key: PrivateKey, peerOffered: number[]): SignatureSchemeName | undefined {
  const possible = schemesForKey(key);
  return hs.common.signatureSchemes.find((s) => possible.includes(s) && peerOffered.includes(SignatureScheme[s]));
}

export function buildCertificateVerify(hs: HandshakeContext, signer: Side, key: PrivateKey, scheme: SignatureSchemeName): HandshakeMessage {
  const content = certificateVerifyContent(signer, hs.transcript.hash());
  return { type: 'certificate_verify', algorithm: SignatureScheme[scheme], signature: hs.provider.sign(scheme, key, content) };
}

export function checkCertificateVerify(hs: HandshakeContext, msg: MessageOf<'certificate_verify'>, signer: Side, leaf: Certificate): void {
  const scheme = schemeByCode.get(msg.algorithm);
  if (!scheme || !hs.common.signatureSchemes.includes(scheme)) throw illegalParameter(`CertificateVerify uses a scheme we did not offer (0x${msg.algorithm.toString(16)})`);
  if (!schemesForKey(leaf.publicKey).includes(scheme)) throw illegalParameter(`CertificateVerify scheme ${scheme} does not fit the certificate key`);
  const content = certificateVerifyContent(signer, hs.transcript.hash());
  if (!hs.provider.verify(scheme, leaf.publicKey, content, msg.signature)) {
    throw new TLSError('decrypt_error', `${signer} CertificateVerify signature does not verify`);
  }
  if (signer === 'server') hs.negotiated.signatureScheme = scheme;
}
