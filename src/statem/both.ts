/**
 * Handshake work both sides share (OpenSSL's statem_both.c): the TLS 1.3 key schedule
 * steps, Finished, Certificate and CertificateVerify (post-handshake states: post-handshake.ts).
 */
import { type PrivateKey, type PublicKey, type SignatureSchemeName } from '../crypto/provider.js';
import { finishedVerifyData } from '../crypto/keyschedule.js';
import { EarlyStage } from './key-stages.js';
import { TLSError, decodeError, illegalParameter } from '../errors.js';
import { SignatureScheme, schemeByCode } from '../messages/constants.js';
import { Extensions, type HandshakeMessage, type MessageOf } from '../messages/handshake.js';
import { constantTimeEqual, concat, utf8 } from '../util/bytes.js';
import { parseCertificate, type Certificate } from '../x509/certificate.js';
import type { HandshakeContext } from './context.js';
import type { Phase, Side } from './declare.js';

/** RFC 8449: the largest TLS 1.3 record we accept, inner content type included. */
export const OUR_RECORD_SIZE_LIMIT = 2 ** 14 + 1;

// ---- key schedule steps ---------------------------------------------------------------

/**
 * After ServerHello: the Handshake stage, from the PSK (if any) and the (EC)DHE shared
 * secret (RFC 8446 7.1). The shared secret is wiped once used: forward secrecy does not
 * wait for the garbage collector.
 */
export function deriveHandshakeSecrets(hs: Phase<HandshakeContext, 'suite' | 'transcript'>, sharedSecret: Uint8Array | undefined, psk?: Uint8Array): void {
  const keys = new EarlyStage(hs.provider, hs.suite.hash, psk, hs.labelPrefix).handshake(sharedSecret, hs.transcript.hash());
  sharedSecret?.fill(0);
  hs.handshakeKeys = keys;
  hs.records.keylog('CLIENT_HANDSHAKE_TRAFFIC_SECRET', keys.clientTraffic);
  hs.records.keylog('SERVER_HANDSHAKE_TRAFFIC_SECRET', keys.serverTraffic);
}

/** After the server's Finished: the Traffic stage, with the first application traffic secrets. */
export function deriveApplicationSecrets(hs: Phase<HandshakeContext, 'handshakeKeys' | 'transcript'>): void {
  const keys = hs.handshakeKeys.master(hs.transcript.hash());
  hs.trafficKeys = keys;
  hs.records.keylog('CLIENT_TRAFFIC_SECRET_0', keys.clientApplication);
  hs.records.keylog('SERVER_TRAFFIC_SECRET_0', keys.serverApplication);
  hs.records.keylog('EXPORTER_SECRET', keys.exporter);
}

/** After the client's Finished: resumption_master_secret (for tickets). */
export function deriveResumptionSecret(hs: Phase<HandshakeContext, 'trafficKeys' | 'transcript'>): void {
  hs.trafficKeys.deriveResumption(hs.transcript.hash());
}

// ---- Finished ---------------------------------------------------------------------------

export function buildFinished(hs: Phase<HandshakeContext, 'handshakeKeys' | 'transcript'>, sender: Side): HandshakeMessage {
  const keys = hs.handshakeKeys;
  const verify_data = finishedVerifyData(hs.provider, keys.hash, keys.traffic(sender), hs.transcript.hash(), keys.prefix);
  return { type: 'finished', verify_data };
}

export function checkFinished(hs: Phase<HandshakeContext, 'handshakeKeys' | 'transcript'>, msg: MessageOf<'finished'>, sender: Side): void {
  const keys = hs.handshakeKeys;
  const expected = finishedVerifyData(hs.provider, keys.hash, keys.traffic(sender), hs.transcript.hash(), keys.prefix);
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

export function buildCertificateVerify(hs: Phase<HandshakeContext, 'transcript'>, signer: Side, key: PrivateKey, scheme: SignatureSchemeName): HandshakeMessage {
  const content = certificateVerifyContent(signer, hs.transcript.hash());
  return { type: 'certificate_verify', algorithm: SignatureScheme[scheme], signature: hs.provider.sign(scheme, key, content) };
}

export function checkCertificateVerify(hs: Phase<HandshakeContext, 'transcript'>, msg: MessageOf<'certificate_verify'>, signer: Side, leaf: Certificate): void {
  const scheme = schemeByCode.get(msg.algorithm);
  if (!scheme || !hs.common.signatureSchemes.includes(scheme)) throw illegalParameter(`CertificateVerify uses a scheme we did not offer (0x${msg.algorithm.toString(16)})`);
  if (!schemesForKey(leaf.publicKey).includes(scheme)) throw illegalParameter(`CertificateVerify scheme ${scheme} does not fit the certificate key`);
  const content = certificateVerifyContent(signer, hs.transcript.hash());
  if (!hs.provider.verify(scheme, leaf.publicKey, content, msg.signature)) {
    throw new TLSError('decrypt_error', `${signer} CertificateVerify signature does not verify`);
  }
  if (signer === 'server') hs.negotiated.signatureScheme = scheme;
}
