/**
 * TLS 1.2 work both sides share: the extended master secret and key block, Finished,
 * the signed ECDHE parameters and CertificateVerify (RFC 5246, RFC 7627, RFC 8422).
 */
import type { PublicKey, PrivateKey, SignatureSchemeName } from '../crypto/provider.js';
import { extendedMasterSecret, finished12 } from '../crypto/prf.js';
import { Tls12KeyStage } from './key-stage12.js';
import { TLSError, decodeError, illegalParameter } from '../errors.js';
import { ProtocolVersion, SignatureScheme, schemeByCode, type CipherSuiteInfo } from '../messages/constants.js';
import { newSessionState, type SessionState } from './session.js';
import type { HandshakeMessage, MessageOf } from '../messages/handshake.js';
import { concat, constantTimeEqual, utf8 } from '../util/bytes.js';
import { need, type AnyHandshake, type HandshakeContext, type Tls12State } from './context.js';
import type { ChangeCipherSpec, Phase, Side } from './declare.js';

/** A TLS 1.2 handshake from the hello that chose the suite on. */
type Tls12Phase = Phase<HandshakeContext, 'suite' | 'tls12' | 'transcript'>;
/** … once its key stage exists (after the key exchange, or at the hello that resumed). */
type Keyed12 = Phase<HandshakeContext, 'suite' | 'tls12Keys' | 'transcript'>;

/** TLS 1.2 signature schemes a key can make: ECDSA names only the hash here, not the curve. */
export function schemesForKey12(key: PublicKey | PrivateKey): SignatureSchemeName[] {
  switch (key.kind) {
    case 'ec':
      return ['ecdsa_secp256r1_sha256', 'ecdsa_secp384r1_sha384'];
    case 'ed25519':
      return ['ed25519'];
    case 'rsa':
      return ['rsa_pss_rsae_sha256', 'rsa_pss_rsae_sha384', 'rsa_pss_rsae_sha512', 'rsa_pkcs1_sha256', 'rsa_pkcs1_sha384', 'rsa_pkcs1_sha512'];
  }
}

/** Does a TLS 1.2 suite's authentication fit this key (ECDHE_ECDSA takes EC and Ed25519 keys)? */
export function suiteFitsKey(auth: 'ECDSA' | 'RSA' | 'PSK' | undefined, key: PublicKey | PrivateKey): boolean {
  if (auth === 'PSK') return false;
  return auth === 'RSA' ? key.kind === 'rsa' : key.kind === 'ec' || key.kind === 'ed25519';
}

/**
 * The pre-master secret of the PSK key exchanges: uint16 length + other_secret + uint16
 * length + psk, where other_secret is N zero bytes for plain PSK (RFC 4279 2) and the ECDH
 * result for ECDHE_PSK (RFC 5489 2).
 */
export function pskPreMaster(psk: Uint8Array, otherSecret: Uint8Array = new Uint8Array(psk.length)): Uint8Array {
  const len = (n: number) => new Uint8Array([n >> 8, n & 0xff]);
  return concat(len(otherSecret.length), otherSecret, len(psk.length), psk);
}

export function chooseScheme12(hs: HandshakeContext, key: PrivateKey, peerOffered: number[]): SignatureSchemeName | undefined {
  const possible = schemesForKey12(key);
  return hs.common.signatureSchemes.find((s) => possible.includes(s) && peerOffered.includes(SignatureScheme[s]));
}

/** After ClientKeyExchange is in the transcript: the extended master secret (RFC 7627) and the key stage. */
export function deriveKeys12(hs: Tls12Phase): void {
  const t = hs.tls12;
  const master = extendedMasterSecret(hs.provider, hs.suite.hash, need(t.preMaster, 'the pre-master secret'), hs.transcript.hash());
  t.preMaster?.fill(0);
  t.preMaster = undefined;
  startKeys12(hs, hs.suite, master, t);
}

/** The key stage from a master secret (this handshake's, or the session's being resumed) and the randoms of `t`. */
export function startKeys12(hs: HandshakeContext, suite: CipherSuiteInfo, master: Uint8Array, t: Tls12State): void {
  hs.tls12Keys = new Tls12KeyStage(hs.provider, suite, master, t.clientRandom, t.serverRandom);
  // NSS key log format for TLS 1.2: CLIENT_RANDOM <client_random> <master_secret>.
  hs.records.keylog('CLIENT_RANDOM', master);
}

/** What a TLS 1.2 session keeps: the master secret and what it was negotiated with. */
export function sessionState12(hs: Phase<AnyHandshake, 'suite' | 'tls12Keys'>, lifetime: number): SessionState {
  return newSessionState({
    version: ProtocolVersion.TLS1_2,
    cipher_suite: hs.suite.code,
    secret: hs.tls12Keys.master,
    issued_ms: hs.common.now(),
    lifetime_s: lifetime,
    ticket_age_add: 0,
    alpn: utf8.encode(hs.negotiated.alpnProtocol ?? ''),
    servername: utf8.encode((hs.side === 'client' ? hs.options.servername : hs.negotiated.servername) ?? ''),
    max_early_data: 0,
  });
}

export function installWriteKeys12(hs: Phase<HandshakeContext, 'tls12Keys'>): void {
  const { key, iv } = hs.tls12Keys.keysOf(hs.side);
  hs.records.setWriteKeys12(key, iv);
}

export function installReadKeys12(hs: Phase<HandshakeContext, 'tls12Keys'>): void {
  const { key, iv } = hs.tls12Keys.keysOf(hs.side === 'client' ? 'server' : 'client');
  hs.records.setReadKeys12(key, iv);
}

/** TLS 1.2's ChangeCipherSpec, as the write sub-machine sends it. */
export function changeCipherSpec(): ChangeCipherSpec {
  return { type: 'change_cipher_spec' };
}

export function buildFinished12(hs: Keyed12, sender: Side): HandshakeMessage {
  return { type: 'finished', verify_data: finished12(hs.provider, hs.suite.hash, hs.tls12Keys.master, sender, hs.transcript.hash()) };
}

export function checkFinished12(hs: Keyed12, msg: MessageOf<'finished'>, sender: Side): void {
  const expected = finished12(hs.provider, hs.suite.hash, hs.tls12Keys.master, sender, hs.transcript.hash());
  if (msg.verify_data.length !== expected.length) throw decodeError('Finished has the wrong length');
  if (!constantTimeEqual(msg.verify_data, expected)) throw new TLSError('decrypt_error', `${sender} Finished does not verify`);
}

/** The bytes a ServerKeyExchange signature covers: client_random + server_random + ServerECDHParams. */
export function serverKeyExchangeContent(hs: Phase<HandshakeContext, 'tls12'>, namedCurve: number, pub: Uint8Array): Uint8Array {
  const t = hs.tls12;
  const params = concat(new Uint8Array([3, namedCurve >> 8, namedCurve & 0xff, pub.length]), pub);
  return concat(t.clientRandom, t.serverRandom, params);
}

/** Check a TLS 1.2 digitally-signed struct against the peer's certificate key. */
export function checkSignature12(hs: HandshakeContext, algorithm: number, signature: Uint8Array, content: Uint8Array, key: PublicKey, what: string): SignatureSchemeName {
  const scheme = schemeByCode.get(algorithm);
  if (!scheme || !hs.common.signatureSchemes.includes(scheme)) throw illegalParameter(`${what} uses a signature scheme we did not offer (0x${algorithm.toString(16)})`);
  if (!schemesForKey12(key).includes(scheme)) throw illegalParameter(`${what} scheme ${scheme} does not fit the certificate key`);
  if (!hs.provider.verify(scheme, key, content, signature)) throw new TLSError('decrypt_error', `${what} signature does not verify`);
  return scheme;
}

