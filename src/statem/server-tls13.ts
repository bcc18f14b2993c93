/**
 * The server's side of the TLS 1.3 handshake (RFC 8446 section 4, server view), state by
 * state in the order the handshake runs: checking and answering ClientHello (which may
 * choose TLS 1.2 instead), the HelloRetryRequest detour, the server's flight, the client's.
 */
import { addRetryConfigs, confirmEch, confirmEchRetry, openClientHello, openSecondClientHello, useInnerTranscript } from './ech-server.js';
import { chooseCertificateCompression, maybeCompressCertificate } from './cert-compression.js';
import type { HashName } from '../crypto/provider.js';
import type { CertifiedKey, TLSVersionName } from '../config.js';
import { TLSError, handshakeFailure, illegalParameter, unexpectedMessage } from '../errors.js';
import { HRR_RANDOM, NamedGroup, ProtocolVersion, PskKeyExchangeMode, cipherSuiteByCode, type CipherSuiteInfo } from '../messages/constants.js';
import { externalPskFor, importedPskHashes } from './external-psk.js';
import { checkBinder, newSessionTicket, serverShared, ticketMaxEarlyData } from './psk.js';
import { clientEarlyTrafficSecret, serverAcceptsEarlyData } from './early-data.js';
import { sessionAlive } from './session.js';
import { Extensions, type ClientHello, type HandshakeMessage, type MessageOf } from '../messages/handshake.js';
import { constantTimeEqual, equal, utf8 } from '../util/bytes.js';
import {
  OUR_RECORD_SIZE_LIMIT,
  buildCertificate,
  buildCertificateVerify,
  buildFinished,
  checkCertificateVerify,
  checkFinished,
  chooseScheme,
  deriveApplicationSecrets,
  deriveHandshakeSecrets,
  deriveResumptionSecret,
  readCertificates,
} from './both.js';
import { checkFallback, checkLegacyVersion } from './hello-version-checks.js';
import { acceptClientCertificates, acceptedSchemes, wantsClientCertificate } from './client-auth.js';
import { need, type RetryRequest, type ServerHandshake, type ServerHelloState } from './context.js';
import { chooseGroup13, encapsulateTo, type GroupChoice } from './key-exchange.js';
import { ESTABLISHED, defineStates, type Phase } from './declare.js';
import { processClientHello12 } from './server-tls12.js';
import { acceptConnectionId, answerConnectionId } from './connection-id.js';
import { answerSrtp, chooseSrtpProfile } from './srtp.js';
import { supportedVersionCode, tls12Wire } from '../protocol-variant.js';

const TLS13 = 'HANDSHAKE.TLS13';

/** The server once a ClientHello chose its suite: the hello state exists. */
type Negotiating = Phase<ServerHandshake, 'hello' | 'suite' | 'transcript'>;
/** What the TLS 1.3 states after the ClientHello need. */
const NEGOTIATING = ['hello', 'suite', 'transcript'] as const;

export const serverTls13 = defineStates<ServerHandshake>()({
  'S.Start': { row: { group: 'START', read: { client_hello: 'S.ClientHello' } } },
  // The ClientHello decides the version: TLS 1.2 goes on in server-tls12.ts.
  'S.ClientHello': {
    row: {
      group: 'HANDSHAKE',
      write: ['S.HelloRetryRequest', 'S.ServerHello', 'S12.ServerHello'],
      needs: ['transcript'],
      creates: ['hello', 'suite'],
      // TLS 1.2's state (and a resumed session's keys); the group, unless a PSK goes without
      // (EC)DHE; our certificate and how we sign, unless a PSK authenticates.
      mayCreate: ['tls12', 'tls12Keys', 'group', 'certified', 'signatureScheme'],
    },
    process: (hs, msg, raw) => {
      const opened = openClientHello(hs, msg, raw);
      hs.echState = opened.state;
      if (opened.state) hs.negotiated.ech = opened.state.status;
      processClientHello(hs, opened.hello, opened.raw);
    },
    postProcess: (hs) => {
      useInnerTranscript(hs);
      startEarlyData(hs);
    },
    writeTransition: (hs) => {
      if (hs.negotiated.version === 'TLSv1.2') return 'S12.ServerHello';
      return needsNoRetry(hs.hello) ? 'S.ServerHello' : 'S.HelloRetryRequest';
    },
  },
  'S.HelloRetryRequest': {
    row: { group: TLS13, read: { client_hello: 'S.ClientHello2' }, needs: [...NEGOTIATING, 'group'] },
    preWork: (hs) => {
      hs.negotiated.helloRetried = true;
      hs.retryRequest = { suite: hs.suite, group: hs.group };
      hs.transcript.replaceWithMessageHash();
    },
    construct: (hs) => confirmEchRetry(hs, helloRetryRequest(hs)),
    postWork: compatibilityCCS,
  },
  'S.ClientHello2': {
    row: { group: TLS13, write: ['S.ServerHello'], needs: NEGOTIATING, mayCreate: ['certified', 'signatureScheme'] },
    process: (hs, msg, raw) => {
      const opened = openSecondClientHello(hs, msg, raw);
      processClientHello(hs, opened.hello, opened.raw);
    },
    postProcess: useInnerTranscript,
  },
  'S.ServerHello': {
    row: { group: TLS13, write: ['S.EncryptedExtensions'], needs: NEGOTIATING, creates: ['handshakeKeys'] },
    construct: (hs) => confirmEch(hs, serverHello(hs)),
    // With ServerHello in the transcript: the Handshake stage, and its keys.
    postWork: (hs) => {
      compatibilityCCS(hs);
      deriveHandshakeSecrets(hs, hs.pendingSharedSecret, hs.hello.psk?.secret);
      hs.pendingSharedSecret = undefined;
      hs.records.setWriteSecret(hs.handshakeKeys.serverTraffic);
      // Accepted early data is read under its own key until EndOfEarlyData; over DTLS 1.3,
      // which has none, epoch 1 stays readable beside the handshake epoch (RFC 9147 5.6).
      if (hs.negotiated.earlyData !== 'accepted' || hs.datagram) hs.records.setReadSecret(hs.handshakeKeys.clientTraffic);
    },
  },
  'S.EncryptedExtensions': {
    row: { group: TLS13, write: ['S.CertificateRequest', 'S.Certificate', 'S.Finished'], needs: NEGOTIATING },
    construct: (hs) => addRetryConfigs(hs, encryptedExtensions(hs)),
    writeTransition: (hs) => (hs.resumed ? 'S.Finished' : wantsClientCertificate(hs) ? 'S.CertificateRequest' : 'S.Certificate'),
  },
  'S.CertificateRequest': {
    row: { group: TLS13, write: ['S.Certificate'], needs: NEGOTIATING },
    construct: (hs): HandshakeMessage => {
      const ext = new Extensions('certificate_request');
      ext.add('signature_algorithms', { supported_signature_algorithms: acceptedSchemes(hs, false) });
      return { type: 'certificate_request', certificate_request_context: new Uint8Array(0), extensions: ext };
    },
  },
  'S.Certificate': {
    row: { group: TLS13, write: ['S.CertificateVerify'], needs: [...NEGOTIATING, 'certified'] },
    construct: (hs) => maybeCompressCertificate(hs, hs.certified, buildCertificate(hs.certified.chain)),
  },
  'S.CertificateVerify': {
    row: { group: TLS13, write: ['S.Finished'], needs: [...NEGOTIATING, 'certified', 'signatureScheme'] },
    construct: (hs) => buildCertificateVerify(hs, 'server', hs.certified.key, hs.signatureScheme),
  },
  'S.Finished': {
    row: {
      group: TLS13,
      read: { end_of_early_data: 'S.EndOfEarlyData', certificate: 'S.ClientCertificate', finished: 'S.ClientFinished' },
      needs: [...NEGOTIATING, 'handshakeKeys'],
      creates: ['trafficKeys'],
    },
    construct: (hs) => buildFinished(hs, 'server'),
    // With our Finished in the transcript: the Traffic stage; we write with it from now on.
    postWork: (hs) => {
      deriveApplicationSecrets(hs);
      hs.records.setWriteSecret(hs.trafficKeys.serverApplication);
    },
  },
  // RFC 8446 4.5: the end of accepted early data, under the early key; then the handshake key.
  'S.EndOfEarlyData': {
    row: { group: TLS13, read: { certificate: 'S.ClientCertificate', finished: 'S.ClientFinished' }, needs: [...NEGOTIATING, 'handshakeKeys'] },
    process: (hs) => {
      if (hs.negotiated.earlyData !== 'accepted') throw unexpectedMessage('EndOfEarlyData without accepted early data');
      if (hs.datagram) throw unexpectedMessage('EndOfEarlyData over DTLS 1.3, which omits it (RFC 9147 5.6)');
    },
    postProcess: (hs) => hs.records.setReadSecret(hs.handshakeKeys.clientTraffic),
  },
  'S.ClientCertificate': {
    row: { group: TLS13, read: { certificate_verify: 'S.ClientCertificateVerify', finished: 'S.ClientFinished' }, needs: NEGOTIATING },
    process: (hs, msg) => {
      if (!wantsClientCertificate(hs)) throw unexpectedMessage('client Certificate without a CertificateRequest');
      if (msg.certificate_request_context.length !== 0) throw illegalParameter('client Certificate has the wrong request context');
      hs.clientCertificateSeen = true;
      acceptClientCertificates(hs, readCertificates(msg));
    },
  },
  'S.ClientCertificateVerify': {
    row: { group: TLS13, read: { finished: 'S.ClientFinished' }, needs: NEGOTIATING },
    process: (hs, msg) => {
      const leaf = hs.negotiated.peerCertificates[0];
      if (!leaf) throw unexpectedMessage('CertificateVerify after an empty client Certificate');
      checkCertificateVerify(hs, msg, 'client', leaf);
      hs.clientCertificateVerified = true;
    },
  },
  'S.ClientFinished': {
    row: { group: TLS13, write: ['S.NewSessionTicket', ESTABLISHED], needs: [...NEGOTIATING, 'handshakeKeys', 'trafficKeys'], creates: ['resumptionSecret'] },
    process: (hs, msg) => {
      // A client that sent a certificate must prove it holds the key (RFC 8446 4.4.3).
      if (hs.negotiated.peerCertificates.length > 0 && !hs.clientCertificateVerified) throw unexpectedMessage('client Finished without CertificateVerify');
      if (wantsClientCertificate(hs) && !hs.clientCertificateSeen) throw unexpectedMessage('client Finished without the Certificate we asked for');
      checkFinished(hs, msg, 'client');
    },
    postProcess: (hs) => {
      hs.records.setReadSecret(hs.trafficKeys.clientApplication);
      deriveResumptionSecret(hs);
    },
    writeTransition: (hs) => (wantsTickets(hs) ? 'S.NewSessionTicket' : ESTABLISHED),
  },
  // Tickets follow the handshake but are not part of its transcript (RFC 8446 4.6.1).
  'S.NewSessionTicket': {
    row: { group: 'POST_HANDSHAKE', write: ['S.NewSessionTicket', ESTABLISHED], needs: [...NEGOTIATING, 'trafficKeys', 'resumptionSecret'] },
    construct: newSessionTicket,
    writeTransition: (hs) => (hs.ticketsSent < (hs.options.tickets ?? 1) ? 'S.NewSessionTicket' : ESTABLISHED),
  },
});

/** `askForPostQuantum`: see chooseGroup13. */
function selectGroup(hs: ServerHandshake, ch: ClientHello, askForPostQuantum: boolean): GroupChoice {
  const supported = ch.extensions.get('supported_groups', 'client_hello');
  const keyShare = ch.extensions.get('key_share', 'client_hello');
  if (!keyShare) throw new TLSError('missing_extension', 'ClientHello has no key_share (PSK-only handshakes are not supported)');
  if (!supported) throw new TLSError('missing_extension', 'ClientHello has key_share but no supported_groups');
  const offered = supported.named_group_list;
  // A set: thousands of shares checked against thousands of groups must not be quadratic.
  const listed = new Set(offered);
  const seen = new Set<number>();
  for (const share of keyShare.client_shares) {
    // RFC 8446 4.2.8: each share for a distinct group the client also lists in supported_groups.
    if (seen.has(share.group)) throw illegalParameter('ClientHello has two key shares for one group');
    if (!listed.has(share.group)) throw illegalParameter('ClientHello has a key share for a group it does not list');
    seen.add(share.group);
  }
  const choice = chooseGroup13(hs.common.groups, offered, keyShare.client_shares, askForPostQuantum);
  if (!choice) throw handshakeFailure('no key exchange group in common');
  return choice;
}

function selectCertificate(hs: ServerHandshake, ch: ClientHello, servername: string | undefined) {
  const algs = ch.extensions.get('signature_algorithms', 'client_hello');
  if (!algs) throw new TLSError('missing_extension', 'ClientHello has no signature_algorithms');
  const o = hs.options;
  const candidates: CertifiedKey[] = (servername && o.SNICallback?.(servername)) || o.certificates;
  for (const certified of candidates) {
    const scheme = chooseScheme(hs, certified.key, algs.supported_signature_algorithms);
    if (scheme) return { certified, scheme };
  }
  throw handshakeFailure('no certificate and signature scheme the client accepts');
}

/** The highest version we both speak (RFC 8446 4.2.1; legacy_version when supported_versions is absent). */
function negotiateVersion(hs: ServerHandshake, ch: ClientHello): TLSVersionName {
  const listed = ch.extensions.get('supported_versions', 'client_hello')?.versions;
  // DTLS versions count down: 0xfefd (1.2) is newer than 0xfeff (1.0); DTLS 1.3 is only ever in supported_versions (RFC 9147 5.3).
  const legacy = hs.datagram ? ch.legacy_version <= ProtocolVersion.DTLS1_2 : ch.legacy_version >= ProtocolVersion.TLS1_2;
  const offered = listed ?? (legacy ? [supportedVersionCode(hs.transport, 'TLSv1.2')] : []);
  const version = hs.common.versions.find((v) => offered.includes(supportedVersionCode(hs.transport, v)));
  if (!version) {
    if (hs.datagram && !legacy) throw new TLSError('protocol_version', 'client does not offer DTLS 1.2');
    throw new TLSError('protocol_version', `no protocol version in common (we speak ${hs.common.versions.join(', ')})`);
  }
  return version;
}

/**
 * Accept the first offered PSK we can open and that fits the chosen suite (RFC 8446
 * 4.2.11): one of our tickets, or else an external PSK the application knows by its
 * identity. A PSK we cannot use means a full handshake; a binder that does not verify
 * is fatal.
 */
function acceptPsk(hs: Phase<ServerHandshake, 'transcript'>, ch: ClientHello, raw: Uint8Array, hash: HashName): ServerPsk | undefined {
  const offered = ch.extensions.get('pre_shared_key', 'client_hello');
  if (!offered) return undefined;
  const modes = ch.extensions.get('psk_key_exchange_modes', 'client_hello')?.ke_modes;
  if (!modes) throw new TLSError('missing_extension', 'pre_shared_key without psk_key_exchange_modes');
  if (offered.identities.length !== offered.binders.length) throw illegalParameter('PSK identities and binders differ in number');
  const ours = hs.options.pskModes ?? ['psk_dhe_ke', 'psk_ke'];
  const dhe = modes.includes(PskKeyExchangeMode.psk_dhe_ke) && ours.includes('psk_dhe_ke') && ch.extensions.has('key_share');
  if (!dhe && !(modes.includes(PskKeyExchangeMode.psk_ke) && ours.includes('psk_ke'))) return undefined;
  const now = hs.common.now();
  const sni = ch.extensions.get('server_name', 'client_hello')?.server_name_list[0]?.host_name ?? '';
  for (const [identity, offer] of offered.identities.entries()) {
    const state = serverShared(hs).keyring.open(offer.identity, now);
    if (!state) {
      const external = externalPskFor(hs, offer.identity, hash);
      if (!external) continue;
      checkBinder(hs, hash, external.key, raw, offered, identity, external.label);
      hs.negotiated.pskIdentity = utf8.decode(external.name);
      return { secret: external.key, identity, dhe };
    }
    if (state.version !== ProtocolVersion.TLS1_3 || !sessionAlive(state, now)) continue;
    if (cipherSuiteByCode(state.cipher_suite)?.hash !== hash || utf8.decode(state.servername) !== sni) continue;
    checkBinder(hs, hash, state.secret, raw, offered, identity);
    return { secret: state.secret, identity, dhe, ticket: { state, ticket: offer.identity, obfuscatedAge: offer.obfuscated_ticket_age } };
  }
  return undefined;
}

/**
 * Our most preferred TLS 1.3 suite the client offers; but one that fits an imported PSK the
 * client offers when ours does not (RFC 9258 imports a key per hash: the hash is the suite's).
 */
function chooseSuite13(hs: ServerHandshake, ch: ClientHello) {
  const common = hs.common.cipherSuites.filter((s) => s.version === 'TLSv1.3' && ch.cipher_suites.includes(s.code));
  const first = common[0];
  if (!first) throw handshakeFailure('no cipher suite in common');
  const imported = importedPskHashes(hs, ch);
  if (imported.size === 0 || imported.has(first.hash)) return first;
  return common.find((s) => imported.has(s.hash)) ?? first;
}

type ServerPsk = NonNullable<ServerHelloState['psk']>;

function processClientHello(hs: Phase<ServerHandshake, 'transcript'>, ch: MessageOf<'client_hello'>, raw: Uint8Array): void {
  // The state of the first ClientHello, when this is the second after a HelloRetryRequest this
  // handshake sent; after a stateless one (DTLS 1.3's cookie) only what the cookie named is known.
  const first = hs.hello;
  const asked = hs.retryRequest;
  const retry = asked !== undefined;
  const ext = ch.extensions;
  checkLegacyVersion(hs, ch);
  const version = negotiateVersion(hs, ch);
  checkFallback(hs, ch);
  if (retry && version !== 'TLSv1.3') throw illegalParameter('second ClientHello does not offer TLS 1.3');
  const sni = ext.get('server_name', 'client_hello')?.server_name_list.find((n) => n.name_type === 0)?.host_name;
  const alpnProtocol = selectAlpn(hs, ch, sni);
  if (version === 'TLSv1.2') {
    const candidates = (sni && hs.options.SNICallback?.(sni)) || hs.options.certificates;
    processClientHello12(hs, ch, sni, candidates, alpnProtocol);
    return;
  }
  if (ch.legacy_compression_methods.length !== 1 || ch.legacy_compression_methods[0] !== 0) {
    throw illegalParameter('TLS 1.3 ClientHello must offer only the null compression method');
  }
  // RFC 9147 5.3: DTLS 1.3's cookie is the extension; a HelloVerifyRequest cookie in a hello that
  // leads to DTLS 1.3 means a DTLS 1.2-only cookie exchange stood in the way (our guard's default
  // answers DTLS 1.3 hellos with a HelloRetryRequest instead).
  if (hs.datagram && ch.cookie !== undefined && ch.cookie.length > 0) {
    throw new TLSError('illegal_parameter', 'a DTLS 1.3 ClientHello must have an empty legacy_cookie', { code: 'ERR_TLS_DTLS13_LEGACY_COOKIE' });
  }
  const suite = chooseSuite13(hs, ch);
  if (!retry) hs.transcript.setHash(suite.hash);
  hs.negotiated.suite = suite;
  const psk = acceptPsk(hs, ch, raw, suite.hash);
  // psk_ke resumes without (EC)DHE; everything else needs a group.
  // A HelloRetryRequest would refuse 0-RTT: a client resuming with early data we may take
  // keeps the share it sent, even over DTLS 1.3 where we would otherwise ask for a hybrid
  // (after one, there is no 0-RTT to keep).
  const zeroRtt = !retry && psk?.ticket !== undefined && ext.has('early_data') && ticketMaxEarlyData(hs) > 0;
  const selection: GroupChoice | undefined = psk && !psk.dhe ? undefined : selectGroup(hs, ch, hs.datagram && !zeroRtt);
  if (!psk && hs.options.certificates.length === 0 && ext.has('pre_shared_key')) {
    // A certificate-free server has nothing but PSKs: none of the client's is known here.
    throw new TLSError('unknown_psk_identity', 'no offered PSK identity is known (and this server has no certificate)');
  }
  const { certified, scheme } = psk ? { certified: undefined, scheme: undefined } : selectCertificate(hs, ch, sni);

  if (asked) checkSecondHello(ch, asked, suite, selection, psk);
  if (first) {
    // What a stateless server cannot compare (its cookie guard checked the cookie).
    if (!equal(ch.legacy_session_id, first.sessionId)) throw illegalParameter('second ClientHello changed legacy_session_id');
    const cookie = ext.get('cookie', 'client_hello')?.cookie;
    if (first.cookie && (!cookie || !constantTimeEqual(cookie, first.cookie))) throw illegalParameter('second ClientHello does not echo our cookie');
  }

  const limit = ext.get('record_size_limit', 'client_hello');
  if (limit !== undefined && limit < 64) throw illegalParameter(`record_size_limit ${limit} is below 64`);

  hs.negotiated.version = 'TLSv1.3';
  acceptConnectionId(hs, ext);
  chooseSrtpProfile(hs, ext);
  hs.negotiated.group = selection?.group;
  hs.resumed = psk !== undefined;
  hs.negotiated.signatureScheme = scheme;
  hs.negotiated.alpnProtocol = alpnProtocol;
  hs.negotiated.servername = sni;
  hs.clientRandom = ch.random;
  hs.hello = {
    clientRandom: ch.random,
    sessionId: ch.legacy_session_id,
    peerShare: selection?.share,
    cookie: hs.helloCookie,
    clientSchemes: ext.get('signature_algorithms', 'client_hello')?.supported_signature_algorithms ?? [],
    clientPskModes: ext.get('psk_key_exchange_modes', 'client_hello')?.ke_modes,
    psk,
    clientOfferedSni: sni !== undefined,
    clientRecordSizeLimit: limit,
    certificateCompression: chooseCertificateCompression(hs, ext),
    certified,
  };
  if (limit !== undefined) hs.peerRecordSizeLimit = limit;
  if (!retry && ext.has('early_data')) hs.negotiated.earlyData = serverAcceptsEarlyData(hs, hs.hello, suite, alpnProtocol) ? 'accepted' : 'rejected';
}

/**
 * RFC 8446 4.1.2: the second ClientHello is the first with the requested changes only. What
 * the HelloRetryRequest named (`asked`) must be what this hello leads to: its suite, which the
 * transcript already hashes with (4.1.4), and a single share of its group (4.2.8). A hello that
 * would need another HelloRetryRequest is refused: a server sends at most one (4.1.4).
 */
function checkSecondHello(ch: ClientHello, asked: RetryRequest, suite: CipherSuiteInfo, selection: GroupChoice | undefined, psk: ServerPsk | undefined): void {
  if (suite !== asked.suite) throw illegalParameter('second ClientHello leads to another cipher suite');
  if (asked.group) {
    if (!selection || selection.group !== asked.group || !selection.share) throw illegalParameter('second ClientHello has no key share for the group we asked for');
    const shares = ch.extensions.get('key_share', 'client_hello')?.client_shares ?? [];
    if (shares.length !== 1) throw illegalParameter('second ClientHello must carry exactly one key share');
  }
  // An HRR that asked for no share leaves key_share as it was: the share we took is still the one.
  if (asked.taken && selection && selection.group !== asked.taken) throw illegalParameter('second ClientHello changed the key share we took');
  if (!needsNoRetry({ peerShare: selection?.share, psk })) throw illegalParameter('second ClientHello would need another HelloRetryRequest');
  if (ch.extensions.has('early_data')) throw illegalParameter('early_data after HelloRetryRequest');
}

/** Accepted early data: derive its key from the ClientHello (now in the transcript) and start reading it. */
function startEarlyData(hs: Negotiating): void {
  if (hs.negotiated.earlyData !== 'accepted') return;
  const psk = need(hs.hello.psk, 'the accepted PSK');
  const secret = clientEarlyTrafficSecret(hs, hs.suite.hash, psk.secret, hs.transcript.hash());
  hs.records.earlyData(secret, ticketMaxEarlyData(hs), hs.suite);
}

/** The server's preferred ALPN protocol among the client's (RFC 7301 3.2). */
function selectAlpn(hs: ServerHandshake, ch: ClientHello, servername: string | undefined): string | undefined {
  const alpn = ch.extensions.get('application_layer_protocol_negotiation', 'client_hello');
  const callback = hs.options.ALPNCallback;
  if (alpn && callback) {
    // The application chooses (node's ALPNCallback); only one of the client's names will do.
    const chosen = callback({ servername, protocols: alpn.protocol_name_list });
    if (chosen === undefined || !alpn.protocol_name_list.includes(chosen)) throw new TLSError('no_application_protocol', 'ALPNCallback selected no protocol the client offered');
    return chosen;
  }
  if (!alpn || hs.common.alpn.length === 0) return undefined;
  const chosen = hs.common.alpn.find((p) => alpn.protocol_name_list.includes(p));
  if (!chosen) throw new TLSError('no_application_protocol', 'no ALPN protocol in common');
  return chosen;
}

/** The client's first hello can be answered at once: it has a share for our group, or it resumes without (EC)DHE. */
function needsNoRetry(s: Pick<ServerHelloState, 'peerShare' | 'psk'>): boolean {
  return s.peerShare !== undefined || (s.psk !== undefined && !s.psk.dhe);
}

function serverHelloBase(hs: Negotiating, random: Uint8Array, ext: Extensions) {
  return {
    legacy_version: tls12Wire(hs.transport),
    random,
    // RFC 9147 5.3: a DTLS 1.3 server does not echo the client's legacy_session_id.
    legacy_session_id_echo: hs.datagram ? new Uint8Array(0) : hs.hello.sessionId,
    cipher_suite: hs.suite.code,
    legacy_compression_method: 0,
    extensions: ext,
  };
}

function helloRetryRequest(hs: Phase<ServerHandshake, 'hello' | 'suite' | 'group' | 'transcript'>): HandshakeMessage {
  const ext = new Extensions('hello_retry_request');
  ext.add('supported_versions', { selected_version: supportedVersionCode(hs.transport, 'TLSv1.3') });
  ext.add('key_share', { selected_group: NamedGroup[hs.group] });
  if (hs.options.helloRetryCookie !== false) {
    hs.hello.cookie = hs.common.random(32);
    ext.add('cookie', { cookie: hs.hello.cookie });
  }
  return { type: 'hello_retry_request', ...serverHelloBase(hs, HRR_RANDOM, ext) };
}

function serverHello(hs: Negotiating): HandshakeMessage {
  const psk = hs.hello.psk;
  const ext = new Extensions('server_hello');
  ext.add('supported_versions', { selected_version: supportedVersionCode(hs.transport, 'TLSv1.3') });
  answerConnectionId(hs, ext);
  if (!psk || psk.dhe) {
    const group = need(hs.group, 'the key exchange group');
    const { share, secret } = encapsulateTo(hs, group, need(hs.hello.peerShare, "the client's key share"), 'client key share');
    hs.pendingSharedSecret = secret;
    ext.add('key_share', { server_share: { group: NamedGroup[group], key_exchange: share } });
  }
  if (psk) ext.add('pre_shared_key', { selected_identity: psk.identity });
  return { type: 'server_hello', ...serverHelloBase(hs, hs.common.random(32), ext) };
}

function encryptedExtensions(hs: Negotiating): HandshakeMessage {
  const ext = new Extensions('encrypted_extensions');
  if (hs.negotiated.servername !== undefined) ext.add('server_name', true);
  if (hs.negotiated.alpnProtocol) ext.add('application_layer_protocol_negotiation', { protocol_name_list: [hs.negotiated.alpnProtocol] });
  if (hs.hello.clientRecordSizeLimit !== undefined) ext.add('record_size_limit', OUR_RECORD_SIZE_LIMIT);
  if (hs.negotiated.earlyData === 'accepted') ext.add('early_data', true);
  answerSrtp(hs, ext);
  return { type: 'encrypted_extensions', extensions: ext };
}

/** Tickets only for clients that can use them (they sent psk_key_exchange_modes), and only if enabled. */
function wantsTickets(hs: Negotiating): boolean {
  return (hs.options.tickets ?? 1) > 0 && (hs.hello.clientPskModes?.length ?? 0) > 0;
}

/** Middlebox compatibility: one dummy CCS right after our first handshake message, if the client asked for it. */
function compatibilityCCS(hs: Negotiating): void {
  if (hs.hello.sessionId.length > 0) hs.records.sendCompatibilityCCS();
}
