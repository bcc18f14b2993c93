/**
 * The server's side of a TLS 1.2 handshake (RFC 5246 7.3 with ECDHE per RFC 8422), from a
 * ClientHello that negotiated TLS 1.2 to our Finished.
 */
import type { CertifiedKey } from '../config.js';
import { TLSError, handshakeFailure, illegalParameter, unexpectedMessage } from '../errors.js';
import { DOWNGRADE_TLS12, NamedGroup, ProtocolVersion, SignatureScheme, TLS_EMPTY_RENEGOTIATION_INFO_SCSV, keyExchangeOf } from '../messages/constants.js';
import type { GroupName } from '../crypto/provider.js';
import { Extensions, type HandshakeMessage, type MessageOf } from '../messages/handshake.js';
import { buildCertificate, readCertificates } from './both.js';
import { decapsulateFrom, ephemeralKeyPair, tls12Group } from './key-exchange.js';
import { acceptClientCertificates, acceptedSchemes, wantsClientCertificate } from './client-auth.js';
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
import { serverShared, ticketLifetime } from './psk.js';
import { sessionAlive } from './session.js';
import { utf8 } from '../util/bytes.js';
import { need, type ServerHandshake, type Tls12State } from './context.js';
import { tls12Wire } from '../protocol-variant.js';
import { ESTABLISHED_TLS12, defineStates, type Phase } from './declare.js';
import { acceptConnectionId, answerConnectionId } from './connection-id.js';
import { answerSrtp, chooseSrtpProfile } from './srtp.js';

type ClientHello = MessageOf<'client_hello'>;

const TLS12 = 'HANDSHAKE.TLS12';

/** The server once its ClientHello chose TLS 1.2: hello state, suite and TLS 1.2 state exist. */
type Tls12Server = Phase<ServerHandshake, 'hello' | 'suite' | 'tls12' | 'transcript'>;
/** What the TLS 1.2 states need. */
const TLS12_DATA = ['hello', 'suite', 'tls12', 'transcript'] as const;
/** … and the states after its key stage exists. */
const KEYED12 = [...TLS12_DATA, 'tls12Keys'] as const;
type Keyed12Server = Phase<ServerHandshake, 'hello' | 'suite' | 'tls12' | 'tls12Keys' | 'transcript'>;

/** The ClientHello (server-tls13.ts) chose TLS 1.2: our ServerHello comes next. */
type Entry = { 'S12.ServerHello': 'written' };

export const serverTls12 = defineStates<ServerHandshake, Entry>()({
  'S12.ServerHello': {
    row: {
      group: TLS12,
      write: ['S12.Certificate', 'S12.ServerKeyExchange', 'S12.ServerHelloDone', 'S12.ResumeNewSessionTicket', 'S12.ResumeChangeCipherSpec'],
      needs: TLS12_DATA,
    },
    construct: serverHello12,
    writeTransition: (hs) => {
      if (hs.resumed) return sendsTicket(hs) ? 'S12.ResumeNewSessionTicket' : 'S12.ResumeChangeCipherSpec';
      const kx = keyExchangeOf(hs.suite);
      // Plain PSK sends a ServerKeyExchange only to carry a hint (RFC 4279 2).
      if (kx === 'PSK') return hs.options.pskIdentityHint ? 'S12.ServerKeyExchange' : 'S12.ServerHelloDone';
      return kx === 'ECDHE_PSK' ? 'S12.ServerKeyExchange' : 'S12.Certificate';
    },
  },
  // The full handshake (RFC 5246 7.3), ECDHE or PSK key exchange.
  'S12.Certificate': { row: { group: TLS12, write: ['S12.ServerKeyExchange'], needs: [...TLS12_DATA, 'certified'] }, construct: (hs) => buildCertificate(hs.certified.chain) },
  'S12.ServerKeyExchange': {
    row: { group: TLS12, write: ['S12.CertificateRequest', 'S12.ServerHelloDone'], needs: TLS12_DATA },
    construct: serverKeyExchange,
    writeTransition: (hs) => (wantsClientCertificate(hs) ? 'S12.CertificateRequest' : 'S12.ServerHelloDone'),
  },
  'S12.CertificateRequest': {
    row: { group: TLS12, write: ['S12.ServerHelloDone'], needs: TLS12_DATA },
    construct: (hs): HandshakeMessage => ({
      type: 'certificate_request_tls12',
      certificate_types: new Uint8Array([64, 1]), // ecdsa_sign, rsa_sign
      supported_signature_algorithms: acceptedSchemes(hs, true),
      certificate_authorities: [],
    }),
  },
  'S12.ServerHelloDone': {
    row: {
      group: TLS12,
      read: {
        certificate: 'S12.ClientCertificate',
        client_key_exchange: 'S12.ClientKeyExchange',
        client_key_exchange_psk: 'S12.ClientKeyExchange',
        client_key_exchange_ecdhe_psk: 'S12.ClientKeyExchange',
      },
      needs: TLS12_DATA,
    },
    construct: () => ({ type: 'server_hello_done' }),
  },
  'S12.ClientCertificate': {
    row: { group: TLS12, read: { client_key_exchange: 'S12.ClientKeyExchange' }, needs: TLS12_DATA },
    process: (hs, msg) => {
      if (!wantsClientCertificate(hs)) throw unexpectedMessage('client Certificate without a CertificateRequest');
      hs.clientCertificateSeen = true;
      acceptClientCertificates(hs, readCertificates(msg));
    },
  },
  'S12.ClientKeyExchange': {
    row: { group: TLS12, read: { certificate_verify: 'S12.ClientCertificateVerify', change_cipher_spec: 'S12.ClientChangeCipherSpec' }, needs: TLS12_DATA, creates: ['tls12Keys'] },
    process: (hs, msg) => {
      if (wantsClientCertificate(hs) && !hs.clientCertificateSeen) throw unexpectedMessage('ClientKeyExchange without the Certificate we asked for');
      processClientKeyExchange(hs, msg);
    },
    postProcess: deriveKeys12,
  },
  'S12.ClientCertificateVerify': {
    row: { group: TLS12, read: { change_cipher_spec: 'S12.ClientChangeCipherSpec' }, needs: TLS12_DATA },
    process: (hs, msg) => {
      const leaf = hs.negotiated.peerCertificates[0];
      if (!leaf) throw unexpectedMessage('CertificateVerify without a client certificate');
      // TLS 1.2 signs the handshake messages so far, not their hash (RFC 5246 7.4.8).
      checkSignature12(hs, msg.algorithm, msg.signature, hs.transcript.messages(), leaf.publicKey, 'client CertificateVerify');
      hs.clientCertificateVerified = true;
    },
  },
  'S12.ClientChangeCipherSpec': {
    row: { group: TLS12, read: { finished: 'S12.ClientFinished' }, needs: KEYED12 },
    process: (hs) => {
      if (hs.negotiated.peerCertificates.length > 0 && !hs.clientCertificateVerified) throw unexpectedMessage('ChangeCipherSpec without the client CertificateVerify');
      installReadKeys12(hs);
    },
  },
  'S12.ClientFinished': {
    row: { group: TLS12, write: ['S12.NewSessionTicket', 'S12.ChangeCipherSpec'], needs: KEYED12 },
    process: (hs, msg) => checkFinished12(hs, msg, 'client'),
    postProcess: cacheSession,
    writeTransition: (hs) => (sendsTicket(hs) ? 'S12.NewSessionTicket' : 'S12.ChangeCipherSpec'),
  },
  'S12.NewSessionTicket': { row: { group: TLS12, write: ['S12.ChangeCipherSpec'], needs: KEYED12 }, construct: newSessionTicket12 },
  'S12.ChangeCipherSpec': { row: { group: TLS12, write: ['S12.Finished'], needs: KEYED12 }, construct: changeCipherSpec, postWork: installWriteKeys12 },
  'S12.Finished': { row: { group: TLS12, write: [ESTABLISHED_TLS12], needs: KEYED12 }, construct: (hs) => buildFinished12(hs, 'server') },
  // The abbreviated handshake: our ticket, ChangeCipherSpec and Finished, then the client's.
  'S12.ResumeNewSessionTicket': { row: { group: TLS12, write: ['S12.ResumeChangeCipherSpec'], needs: KEYED12 }, construct: newSessionTicket12 },
  'S12.ResumeChangeCipherSpec': { row: { group: TLS12, write: ['S12.ResumeFinished'], needs: KEYED12 }, construct: changeCipherSpec, postWork: installWriteKeys12 },
  'S12.ResumeFinished': {
    row: { group: TLS12, read: { change_cipher_spec: 'S12.ResumeClientChangeCipherSpec' }, needs: KEYED12 },
    construct: (hs) => buildFinished12(hs, 'server'),
  },
  'S12.ResumeClientChangeCipherSpec': { row: { group: TLS12, read: { finished: 'S12.ResumeClientFinished' }, needs: KEYED12 }, process: installReadKeys12 },
  'S12.ResumeClientFinished': { row: { group: TLS12, write: [ESTABLISHED_TLS12], needs: KEYED12 }, process: (hs, msg) => checkFinished12(hs, msg, 'client') },
});

function selectSuiteAndCertificate(hs: ServerHandshake, ch: ClientHello, candidates: CertifiedKey[], group: GroupName | undefined) {
  const algs = ch.extensions.get('signature_algorithms', 'client_hello');
  // RFC 8422 4 and 5.3: an ECDSA key must be on a curve the client lists in supported_groups.
  const groups = ch.extensions.get('supported_groups', 'client_hello')?.named_group_list;
  const curveOffered = (key: CertifiedKey['key']) =>
    key.kind !== 'ec' || groups === undefined || groups.includes(NamedGroup[key.curve === 'P-256' ? 'secp256r1' : 'secp384r1']);
  for (const suite of hs.common.cipherSuites) {
    if (suite.version !== 'TLSv1.2' || !ch.cipher_suites.includes(suite.code)) continue;
    if (keyExchangeOf(suite) !== 'PSK' && group === undefined) continue; // (EC)DHE needs a group in common
    if (suite.auth === 'PSK') {
      if (hs.options.pskCallback) return { suite, certified: undefined, scheme: undefined };
      continue;
    }
    // Without signature_algorithms TLS 1.2 falls back to SHA-1 signatures, which we do not make.
    if (!algs) continue;
    for (const certified of candidates) {
      if (!suiteFitsKey(suite.auth, certified.key) || !curveOffered(certified.key)) continue;
      const scheme = chooseScheme12(hs, certified.key, algs.supported_signature_algorithms);
      if (scheme) return { suite, certified, scheme };
    }
  }
  throw handshakeFailure(algs ? 'no TLS 1.2 cipher suite, group and certificate in common' : 'ClientHello has no signature_algorithms');
}

/** The TLS 1.2 half of ClientHello processing; the version was already chosen. */
export function processClientHello12(hs: Phase<ServerHandshake, 'transcript'>, ch: ClientHello, sni: string | undefined, candidates: CertifiedKey[], alpnProtocol: string | undefined): void {
  const ext = ch.extensions;
  if (!ch.legacy_compression_methods.includes(0)) throw illegalParameter('ClientHello does not offer the null compression method');
  if (!ext.has('extended_master_secret')) throw handshakeFailure('client does not support the extended master secret (RFC 7627)');
  const reneg = ext.get('renegotiation_info', 'client_hello');
  if (reneg !== undefined && reneg.length !== 0) throw handshakeFailure('renegotiation_info is not empty on an initial handshake');
  // RFC 5746 3.6: a client with neither the extension nor the SCSV is let in (we never
  // renegotiate, so there is nothing for it to be unsafe about; wolfSSL clients send
  // neither); our empty renegotiation_info answers only a client that signalled it, since
  // an extension the client did not offer may not appear in ServerHello (RFC 5246 7.4.1.4).
  const secureRenegotiation = reneg !== undefined || ch.cipher_suites.includes(TLS_EMPTY_RENEGOTIATION_INFO_SCSV);
  const formats = ext.get('ec_point_formats', 'client_hello');
  if (formats && !formats.ec_point_format_list.includes(0)) throw illegalParameter('client does not accept uncompressed points');
  const offered = ext.get('supported_groups', 'client_hello')?.named_group_list ?? [];
  const group = hs.common.groups.find((g) => tls12Group(hs, g) && offered.includes(NamedGroup[g]));
  const resume = findSession12(hs, ch, sni);
  const { suite, certified, scheme } = resume ? { ...resume, certified: undefined, scheme: undefined } : selectSuiteAndCertificate(hs, ch, candidates, group);
  const limit = ext.get('record_size_limit', 'client_hello');
  if (limit !== undefined && limit < 64) throw illegalParameter(`record_size_limit ${limit} is below 64`);
  // DTLS-SRTP (RFC 5764 4.1.1): our preferred profile among the client's; none in common means no SRTP, not an error.
  chooseSrtpProfile(hs, ext);
  acceptConnectionId(hs, ext);

  const serverRandom = hs.common.random(32);
  // RFC 8446 4.1.3: a server that could have spoken TLS 1.3 says so in its random.
  if (hs.common.versions.includes('TLSv1.3')) serverRandom.set(DOWNGRADE_TLS12, 24);
  hs.negotiated.version = 'TLSv1.2';
  hs.negotiated.suite = suite;
  hs.negotiated.group = keyExchangeOf(suite) === 'PSK' ? undefined : group;
  hs.negotiated.signatureScheme = scheme;
  hs.negotiated.alpnProtocol = alpnProtocol;
  hs.negotiated.servername = sni;
  hs.clientRandom = ch.random;
  hs.transcript.setHash(suite.hash);
  const wantsTicket = ext.has('session_ticket') && (hs.options.tickets ?? 1) > 0;
  // A resumed session keeps its ID (echoed); a new one gets an ID when the cache is on.
  const sessionId = resume ? ch.legacy_session_id : (hs.options.sessionCacheSize ?? 1000) > 0 ? hs.common.random(32) : new Uint8Array(0);
  const t: Tls12State = { clientRandom: ch.random, serverRandom, sessionId, ticketPromised: wantsTicket };
  hs.tls12 = t;
  // Resuming: the session's master secret makes this handshake's keys at once (we finish first).
  if (resume) startKeys12(hs, suite, resume.state.secret, t);
  hs.hello = {
    clientRandom: ch.random,
    clientPointFormats: formats !== undefined,
    clientSecureRenegotiation: secureRenegotiation,
    sessionId,
    clientSchemes: [],
    clientOfferedSni: sni !== undefined,
    clientRecordSizeLimit: limit,
    certified,
  };
  if (limit !== undefined) hs.peerRecordSizeLimit = limit;
  hs.resumed = resume !== undefined;
}

/**
 * A session the client offers that we can resume: its ticket (RFC 5077) or its session ID
 * in our cache, still alive, for the same name, with a suite both sides still allow.
 */
function findSession12(hs: ServerHandshake, ch: ClientHello, sni: string | undefined) {
  const now = hs.common.now();
  const ticket = ch.extensions.get('session_ticket', 'client_hello');
  const shared = serverShared(hs);
  const state =
    ticket && ticket.length > 0 ? shared.keyring.open(ticket, now) : ch.legacy_session_id.length > 0 ? shared.cache.get(ch.legacy_session_id, now) : undefined;
  // Without a session ID to echo the client could not tell we resumed its ticket.
  if (!state || ch.legacy_session_id.length === 0) return undefined;
  if (state.version !== ProtocolVersion.TLS1_2 || !sessionAlive(state, now) || utf8.decode(state.servername) !== (sni ?? '')) return undefined;
  const suite = hs.common.cipherSuites.find((s) => s.code === state.cipher_suite && s.version === 'TLSv1.2');
  if (!suite || !ch.cipher_suites.includes(suite.code)) return undefined;
  return { suite, state };
}

function sendsTicket(hs: Tls12Server): boolean {
  return hs.tls12.ticketPromised === true;
}

function newSessionTicket12(hs: Keyed12Server): HandshakeMessage {
  const lifetime = ticketLifetime(hs);
  return { type: 'new_session_ticket_tls12', ticket_lifetime_hint: lifetime, ticket: serverShared(hs).keyring.seal(sessionState12(hs, lifetime), hs.common.now()) };
}

/** Remember a full handshake's session under its ID for session-ID resumption. */
function cacheSession(hs: Keyed12Server): void {
  const id = hs.tls12.sessionId;
  if (!hs.resumed && id && id.length > 0) serverShared(hs).cache.set(id, sessionState12(hs, ticketLifetime(hs)));
}

function serverHello12(hs: Tls12Server): HandshakeMessage {
  const ext = new Extensions('server_hello_tls12');
  if (hs.hello.clientSecureRenegotiation) ext.add('renegotiation_info', new Uint8Array(0));
  ext.add('extended_master_secret', true);
  if (hs.negotiated.servername !== undefined) ext.add('server_name', true);
  if (hs.negotiated.alpnProtocol) ext.add('application_layer_protocol_negotiation', { protocol_name_list: [hs.negotiated.alpnProtocol] });
  // Only answer what was asked: OpenSSL refuses unsolicited extensions (a PSK-only ClientHello has no point formats).
  if (hs.hello.clientPointFormats) ext.add('ec_point_formats', { ec_point_format_list: [0] });
  if (sendsTicket(hs)) ext.add('session_ticket', new Uint8Array(0));
  answerSrtp(hs, ext);
  if (hs.hello.clientRecordSizeLimit !== undefined) ext.add('record_size_limit', 2 ** 14);
  answerConnectionId(hs, ext);
  return {
    type: 'server_hello_tls12',
    legacy_version: tls12Wire(hs.transport),
    random: hs.tls12.serverRandom,
    legacy_session_id_echo: hs.hello.sessionId,
    cipher_suite: hs.suite.code,
    legacy_compression_method: 0,
    extensions: ext,
  };
}

function serverKeyExchange(hs: Tls12Server): HandshakeMessage {
  const kx = keyExchangeOf(hs.suite);
  const hint = utf8.encode(hs.options.pskIdentityHint ?? '');
  if (kx === 'PSK') return { type: 'server_key_exchange_psk', psk_identity_hint: hint };
  const group = need(hs.group, 'the key exchange group');
  if (kx === 'ECDHE_PSK') {
    const pair = ephemeralKeyPair(hs, group);
    hs.hello.ephemeral = pair;
    return { type: 'server_key_exchange_ecdhe_psk', psk_identity_hint: hint, curve_type: 3, named_curve: NamedGroup[group], public: pair.publicKey };
  }
  const pair = ephemeralKeyPair(hs, group);
  hs.hello.ephemeral = pair;
  const namedCurve = NamedGroup[group];
  const scheme = need(hs.signatureScheme, 'the signature scheme');
  const signature = hs.provider.sign(scheme, need(hs.certified, 'our certificate').key, serverKeyExchangeContent(hs, namedCurve, pair.publicKey));
  return { type: 'server_key_exchange', curve_type: 3, named_curve: namedCurve, public: pair.publicKey, algorithm: SignatureScheme[scheme], signature };
}

type AnyClientKeyExchange = MessageOf<'client_key_exchange'> | MessageOf<'client_key_exchange_psk'> | MessageOf<'client_key_exchange_ecdhe_psk'>;

function processClientKeyExchange(hs: Tls12Server, msg: AnyClientKeyExchange): void {
  let shared: Uint8Array | undefined;
  if (msg.type !== 'client_key_exchange_psk') {
    const pair = need(hs.hello.ephemeral, 'our ECDHE key pair');
    shared = decapsulateFrom(hs, need(hs.group, 'the key exchange group'), pair, msg.public, 'client ECDHE public value');
    pair.privateKey.fill(0);
  }
  if (msg.type === 'client_key_exchange') {
    hs.tls12.preMaster = shared;
    return;
  }
  // RFC 4279 2: an identity we do not know is unknown_psk_identity.
  const key = hs.options.pskCallback?.(msg.psk_identity);
  if (!key) throw new TLSError('unknown_psk_identity', 'unknown PSK identity');
  hs.negotiated.pskIdentity = utf8.decode(msg.psk_identity);
  hs.tls12.preMaster = pskPreMaster(key, shared);
}
