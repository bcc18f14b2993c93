/**
 * The client's side of a TLS 1.2 handshake (RFC 5246 7.3 with ECDHE per RFC 8422):
 * everything after a ServerHello that negotiated TLS 1.2.
 */
import { echWithholdsClientCertificate, refuseRejectedEch, rejectEchForTls12 } from './ech-client.js';
import { TLSError, handshakeFailure, illegalParameter, unexpectedMessage } from '../errors.js';
import { DOWNGRADE_TLS11, DOWNGRADE_TLS12, ProtocolVersion, SignatureScheme, cipherSuiteByCode, groupByCode, keyExchangeOf } from '../messages/constants.js';
import type { HandshakeMessage, MessageOf } from '../messages/handshake.js';
import { equal, utf8 } from '../util/bytes.js';
import { buildCertificate } from './both.js';
import { encapsulateTo, tls12Group } from './key-exchange.js';
import {
  buildFinished12,
  changeCipherSpec,
  checkFinished12,
  checkSignature12,
  chooseScheme12,
  deriveKeys12,
  installReadKeys12,
  installWriteKeys12,
  pskPreMaster,
  serverKeyExchangeContent,
  sessionState12,
  startKeys12,
  suiteFitsKey,
} from './both12.js';
import { MAX_TICKET_LIFETIME, restorePeerCertificates } from './psk.js';
import type { TLSSession } from './session.js';
import { need, type ClientHandshake, type Tls12State } from './context.js';
import { checkOffered, processServerCertificate } from './client-common.js';
import { tls12Wire } from '../protocol-variant.js';
import { ESTABLISHED_TLS12, defineStates, type Phase } from './declare.js';
import { takeConnectionId } from './connection-id.js';
import { takeSrtpProfile } from './srtp.js';

const TLS12 = 'HANDSHAKE.TLS12';

/** The client answered by a ServerHello: its hello state and the random it sent (with ECH, the outer hello's). */
type Hello = Phase<ClientHandshake, 'hello' | 'transcript' | 'clientRandom'>;
/** The client once a ServerHello chose TLS 1.2: its suite and TLS 1.2 state exist. */
type Tls12Client = Phase<ClientHandshake, 'hello' | 'suite' | 'tls12' | 'transcript'>;
type Keyed12Client = Phase<ClientHandshake, 'hello' | 'suite' | 'tls12' | 'tls12Keys' | 'transcript'>;
/** What the states after that ServerHello need. */
const TLS12_DATA = ['hello', 'suite', 'tls12', 'transcript'] as const;
/** … and the states after its key stage exists. */
const KEYED12 = [...TLS12_DATA, 'tls12Keys'] as const;

/** A ServerHello that chose TLS 1.2 arrives in answer to the ClientHello (TLS, or DTLS with its cookie). */
type Entry = { 'C12.ServerHello': 'server_hello_tls12' };

export const clientTls12 = defineStates<ClientHandshake, Entry>()({
  'C12.ServerHello': {
    row: {
      group: TLS12,
      read: {
        certificate: 'C12.Certificate',
        // PSK suites: no certificate; a ServerKeyExchange with the hint (and, for ECDHE_PSK, the key share), or straight to ServerHelloDone.
        server_key_exchange_psk: 'C12.ServerKeyExchange',
        server_key_exchange_ecdhe_psk: 'C12.ServerKeyExchange',
        server_hello_done: 'C12.ServerHelloDone',
        // The server resumed: the abbreviated handshake (RFC 5246 7.3, RFC 5077 3.1), where the server finishes first.
        new_session_ticket_tls12: 'C12.ResumeNewSessionTicket',
        change_cipher_spec: 'C12.ResumeServerChangeCipherSpec',
      },
      needs: ['hello', 'transcript', 'clientRandom'],
      creates: ['suite', 'tls12'],
      // A resumed session's master secret makes the keys at once.
      mayCreate: ['tls12Keys'],
    },
    process: (hs, msg) => {
      // ECH is TLS 1.3's: a server that answers with TLS 1.2 did not take it (RFC 9849 section 6.1.6).
      // The handshake goes on, the certificate checked for the public_name, and ends at the server's Finished.
      rejectEchForTls12(hs);
      processServerHello12(hs, msg);
    },
  },
  // The full handshake (RFC 5246 7.3), ECDHE or PSK key exchange.
  'C12.Certificate': {
    row: { group: TLS12, read: { server_key_exchange: 'C12.ServerKeyExchange' }, needs: TLS12_DATA, creates: ['peerLeaf'] },
    process: (hs, msg) => {
      requireResumed(hs, false, 'Certificate');
      if (hs.suite.auth === 'PSK') throw unexpectedMessage('Certificate in a PSK handshake');
      processServerCertificate(hs, msg);
      if (!suiteFitsKey(hs.suite.auth, hs.negotiated.peerCertificates[0].publicKey)) {
        throw new TLSError('unsupported_certificate', `the certificate key does not fit ${hs.suite.name}`);
      }
    },
  },
  'C12.ServerKeyExchange': {
    row: { group: TLS12, read: { certificate_request_tls12: 'C12.CertificateRequest', server_hello_done: 'C12.ServerHelloDone' }, needs: TLS12_DATA },
    process: processServerKeyExchange,
  },
  'C12.CertificateRequest': {
    row: { group: TLS12, read: { server_hello_done: 'C12.ServerHelloDone' }, needs: TLS12_DATA },
    process: (hs, msg) => {
      hs.tls12.certificateRequested = { schemes: msg.supported_signature_algorithms };
    },
  },
  'C12.ServerHelloDone': {
    row: { group: TLS12, write: ['C12.ClientCertificate', 'C12.ClientKeyExchange'], needs: TLS12_DATA },
    process: (hs) => {
      // ECDHE needs the signed ServerKeyExchange, ECDHE_PSK its key share; only plain PSK may skip it.
      if (hs.resumed || (hs.suite.auth !== 'PSK' && hs.negotiated.peerCertificates.length === 0)) throw unexpectedMessage('ServerHelloDone without the server\'s certificate');
    },
    writeTransition: (hs) => (hs.tls12.certificateRequested ? 'C12.ClientCertificate' : 'C12.ClientKeyExchange'),
  },
  'C12.ClientCertificate': {
    row: { group: TLS12, write: ['C12.ClientKeyExchange'], needs: TLS12_DATA },
    construct: (hs) => buildCertificate(clientCredentials12(hs)?.cert.chain ?? []),
  },
  'C12.ClientKeyExchange': {
    row: { group: TLS12, write: ['C12.ClientCertificateVerify', 'C12.ChangeCipherSpec'], needs: TLS12_DATA, creates: ['tls12Keys'] },
    construct: clientKeyExchange,
    postWork: deriveKeys12,
    writeTransition: (hs) => (clientCredentials12(hs) ? 'C12.ClientCertificateVerify' : 'C12.ChangeCipherSpec'),
  },
  'C12.ClientCertificateVerify': {
    row: { group: TLS12, write: ['C12.ChangeCipherSpec'], needs: TLS12_DATA },
    construct: (hs): HandshakeMessage => {
      const { cert, scheme } = need(clientCredentials12(hs), 'our certificate');
      return { type: 'certificate_verify', algorithm: SignatureScheme[scheme], signature: hs.provider.sign(scheme, cert.key, hs.transcript.messages()) };
    },
  },
  'C12.ChangeCipherSpec': { row: { group: TLS12, write: ['C12.ClientFinished'], needs: KEYED12 }, construct: changeCipherSpec, postWork: installWriteKeys12 },
  'C12.ClientFinished': {
    row: { group: TLS12, read: { new_session_ticket_tls12: 'C12.NewSessionTicket', change_cipher_spec: 'C12.ServerChangeCipherSpec' }, needs: KEYED12 },
    construct: (hs) => buildFinished12(hs, 'client'),
  },
  'C12.NewSessionTicket': { row: { group: TLS12, read: { change_cipher_spec: 'C12.ServerChangeCipherSpec' }, needs: TLS12_DATA }, process: storeTicket },
  'C12.ServerChangeCipherSpec': { row: { group: TLS12, read: { finished: 'C12.Finished' }, needs: KEYED12 }, process: installReadKeys12 },
  'C12.Finished': {
    row: { group: TLS12, write: [ESTABLISHED_TLS12], needs: KEYED12 },
    process: (hs, msg) => {
      checkFinished12(hs, msg, 'server');
      refuseRejectedEch(hs.hello.ech);
    },
    postProcess: emitSession12,
  },
  // The abbreviated handshake: the server's ticket, ChangeCipherSpec and Finished, then ours.
  'C12.ResumeNewSessionTicket': {
    row: { group: TLS12, read: { change_cipher_spec: 'C12.ResumeServerChangeCipherSpec' }, needs: TLS12_DATA },
    process: (hs, msg) => {
      requireResumed(hs, true, 'NewSessionTicket');
      storeTicket(hs, msg);
    },
  },
  'C12.ResumeServerChangeCipherSpec': {
    row: { group: TLS12, read: { finished: 'C12.ResumeFinished' }, needs: KEYED12 },
    process: (hs) => {
      requireResumed(hs, true, 'ChangeCipherSpec');
      installReadKeys12(hs);
    },
  },
  'C12.ResumeFinished': {
    row: { group: TLS12, write: ['C12.ResumeChangeCipherSpec'], needs: KEYED12 },
    process: (hs, msg) => {
      checkFinished12(hs, msg, 'server');
      refuseRejectedEch(hs.hello.ech);
    },
  },
  'C12.ResumeChangeCipherSpec': { row: { group: TLS12, write: ['C12.ResumeClientFinished'], needs: KEYED12 }, construct: changeCipherSpec, postWork: installWriteKeys12 },
  'C12.ResumeClientFinished': {
    row: { group: TLS12, write: [ESTABLISHED_TLS12], needs: KEYED12 },
    construct: (hs) => buildFinished12(hs, 'client'),
    postWork: emitSession12,
  },
});

/** ServerHello that chose TLS 1.2 (no supported_versions in it). */
function processServerHello12(hs: Hello, msg: MessageOf<'server_hello_tls12'>): void {
  const c = hs.hello;
  if (!hs.common.versions.includes('TLSv1.2') || msg.legacy_version !== tls12Wire(hs.transport)) {
    throw new TLSError('protocol_version', `server chose version 0x${msg.legacy_version.toString(16)}, which we do not allow`);
  }
  // RFC 8446 4.1.3: a TLS 1.3 server that answers with 1.2 marks its random; seeing the mark here means a downgrade attack.
  const tail = msg.random.subarray(24);
  if (hs.common.versions.includes('TLSv1.3') && (equal(tail, DOWNGRADE_TLS12) || equal(tail, DOWNGRADE_TLS11))) {
    throw illegalParameter('ServerHello.random carries the TLS 1.3 downgrade sentinel');
  }
  // RFC 8446 D.3: a TLS 1.2 server cannot skip the 0-RTT data we sent; and over DTLS our epoch 1
  // would take the place of the one DTLS 1.2 is about to key.
  if (c.earlyDataLimit !== undefined) throw new TLSError('protocol_version', 'server chose TLS 1.2 after we sent 0-RTT early data');
  checkOffered(hs, msg.extensions, 'ServerHello');
  const suite = cipherSuiteByCode(msg.cipher_suite);
  if (!suite || suite.version !== 'TLSv1.2' || !hs.common.cipherSuites.includes(suite)) {
    throw illegalParameter(`ServerHello selects a cipher suite we did not offer (0x${msg.cipher_suite.toString(16)})`);
  }
  if (msg.legacy_compression_method !== 0) throw illegalParameter('ServerHello selects compression');
  // Our strict defaults: extended master secret (RFC 7627) and secure renegotiation (RFC 5746) or nothing.
  if (!msg.extensions.has('extended_master_secret')) throw handshakeFailure('server does not support the extended master secret');
  const reneg = msg.extensions.get('renegotiation_info', 'server_hello_tls12');
  if (!reneg || reneg.length !== 0) throw handshakeFailure('server does not support secure renegotiation (RFC 5746)');
  const alpn = msg.extensions.get('application_layer_protocol_negotiation', 'server_hello_tls12');
  if (alpn) {
    const [chosen, ...more] = alpn.protocol_name_list;
    if (more.length || chosen === undefined || !hs.common.alpn.includes(chosen)) throw illegalParameter('server chose an ALPN protocol we did not offer');
    hs.negotiated.alpnProtocol = chosen;
  }
  const limit = msg.extensions.get('record_size_limit', 'server_hello_tls12');
  if (limit !== undefined) {
    if (limit < 64) throw illegalParameter(`record_size_limit ${limit} is below 64`);
    hs.peerRecordSizeLimit = limit;
  }
  if (msg.extensions.has('server_name')) hs.negotiated.servername = hs.options.servername;
  takeSrtpProfile(hs, msg.extensions.get('use_srtp', 'server_hello_tls12'));
  takeConnectionId(hs, msg.extensions);
  hs.negotiated.version = 'TLSv1.2';
  hs.negotiated.suite = suite;
  hs.transcript.setHash(suite.hash);
  const t: Tls12State = {
    // The random on the wire: with ECH offered, the outer hello's.
    clientRandom: hs.clientRandom,
    serverRandom: msg.random,
    sessionId: msg.legacy_session_id_echo,
    ticketPromised: msg.extensions.has('session_ticket'),
  };
  hs.tls12 = t;
  // The server resumes by echoing the session ID we sent (RFC 5246 7.4.1.3, RFC 5077 3.4).
  const echoed = c.sessionId.length > 0 && equal(msg.legacy_session_id_echo, c.sessionId);
  const session = c.session?.state.version === ProtocolVersion.TLS1_2 ? c.session : undefined;
  if (echoed) {
    if (!session) throw illegalParameter('server echoed a session ID we offered no session for');
    if (session.state.cipher_suite !== suite.code) throw illegalParameter('server resumed with another cipher suite');
    hs.resumed = true;
    restorePeerCertificates(hs, session);
    // The session's master secret makes this handshake's keys at once (the server finishes first).
    startKeys12(hs, suite, session.state.secret, t);
  }
}

/** The server's certificates as a session keeps them (on a resumed handshake, the session's own). */
const peerDer = (hs: ClientHandshake) => hs.negotiated.peerCertificates.map((c) => c.der);

/** The session a completed TLS 1.2 handshake leaves, if the server gave a ticket or an ID. */
function session12(hs: Keyed12Client): TLSSession | undefined {
  const t = hs.tls12;
  if (t.newTicket) {
    return { state: sessionState12(hs, t.newTicket.lifetime || 7200), ticket: t.newTicket.ticket, session_id: new Uint8Array(0), peer_certificates: peerDer(hs) };
  }
  if (hs.resumed) return hs.hello.session;
  if (t.sessionId && t.sessionId.length > 0) return { state: sessionState12(hs, 7200), ticket: new Uint8Array(0), session_id: t.sessionId, peer_certificates: peerDer(hs) };
  return undefined;
}

function emitSession12(hs: Keyed12Client): void {
  const session = session12(hs);
  if (session) hs.sessionSink.session(session);
}

function storeTicket(hs: Tls12Client, msg: MessageOf<'new_session_ticket_tls12'>): void {
  if (!hs.tls12.ticketPromised) throw unexpectedMessage('NewSessionTicket the server did not announce');
  if (msg.ticket.length > 0) hs.tls12.newTicket = { ticket: msg.ticket, lifetime: Math.min(msg.ticket_lifetime_hint, MAX_TICKET_LIFETIME) };
}

/** The abbreviated handshake's messages are only valid when the server resumed, and vice versa. */
function requireResumed(hs: ClientHandshake, resumed: boolean, what: string): void {
  if (hs.resumed !== resumed) throw unexpectedMessage(`${what} in a ${hs.resumed ? 'resumed' : 'full'} handshake`);
}

type AnyServerKeyExchange = MessageOf<'server_key_exchange'> | MessageOf<'server_key_exchange_psk'> | MessageOf<'server_key_exchange_ecdhe_psk'>;

/** ECDHE with a signature over the parameters, or a PSK hint (with unsigned ECDHE parameters for ECDHE_PSK). */
function processServerKeyExchange(hs: Tls12Client, msg: AnyServerKeyExchange): void {
  if (msg.type === 'server_key_exchange') return processEcdheServerKeyExchange(hs, msg);
  hs.tls12.pskHint = msg.psk_identity_hint;
  if (msg.type === 'server_key_exchange_ecdhe_psk') ecdhe(hs, msg.named_curve, msg.public);
}

/** Our half of the (EC)DHE exchange against the server's public value. */
function ecdhe(hs: Tls12Client, namedCurve: number, serverPublic: Uint8Array): void {
  const group = groupByCode.get(namedCurve);
  if (!tls12Group(hs, group)) throw illegalParameter('ServerKeyExchange uses a group we did not offer');
  // The server spoke first: our half is an encapsulation against its public value.
  const { share, secret } = encapsulateTo(hs, group, serverPublic, 'server ECDHE public value');
  hs.tls12.preMaster = secret;
  hs.tls12.ourPublic = share;
  hs.negotiated.group = group;
}

function processEcdheServerKeyExchange(hs: Tls12Client, msg: MessageOf<'server_key_exchange'>): void {
  const group = groupByCode.get(msg.named_curve);
  if (!tls12Group(hs, group)) throw illegalParameter('ServerKeyExchange uses a group we did not offer');
  const leaf = hs.peerLeaf;
  if (!leaf) throw unexpectedMessage('ServerKeyExchange without a certificate');
  const content = serverKeyExchangeContent(hs, msg.named_curve, msg.public);
  hs.negotiated.signatureScheme = checkSignature12(hs, msg.algorithm, msg.signature, content, leaf.publicKey, 'ServerKeyExchange');
  ecdhe(hs, msg.named_curve, msg.public);
}

/** Our key exchange message, and for PSK suites the pre-master secret it implies. */
function clientKeyExchange(hs: Tls12Client): HandshakeMessage {
  const t = hs.tls12;
  const kx = keyExchangeOf(hs.suite);
  if (kx !== 'ECDHE') {
    const psk = hs.options.psk;
    if (!psk) throw handshakeFailure('a PSK suite was negotiated but no psk is configured');
    const identity = typeof psk.identity === 'string' ? utf8.encode(psk.identity) : psk.identity;
    if (kx === 'PSK') {
      t.preMaster = pskPreMaster(psk.key);
      return { type: 'client_key_exchange_psk', psk_identity: identity };
    }
    if (!t.ourPublic || !t.preMaster) throw unexpectedMessage('ServerHelloDone before the ECDHE_PSK ServerKeyExchange');
    t.preMaster = pskPreMaster(psk.key, t.preMaster);
    return { type: 'client_key_exchange_ecdhe_psk', psk_identity: identity, public: t.ourPublic };
  }
  if (!t.ourPublic) throw unexpectedMessage('ServerHelloDone before ServerKeyExchange');
  return { type: 'client_key_exchange', public: t.ourPublic };
}

function clientCredentials12(hs: Tls12Client) {
  const cert = hs.options.certificate;
  const req = hs.tls12.certificateRequested;
  if (!cert || !req || echWithholdsClientCertificate(hs.hello.ech)) return undefined;
  const scheme = chooseScheme12(hs, cert.key, req.schemes);
  return scheme ? { cert, scheme } : undefined;
}
