/**
 * The client's side of the TLS 1.3 handshake (RFC 8446 section 4, client view), state by
 * state in the order the handshake runs: the ClientHello (shared with TLS 1.2, which a
 * ServerHello can still choose), the HelloRetryRequest detour, the server's flight, ours.
 * Control flow is the core's; each row says which message may come when.
 */
import { checkEchAcceptance, checkEchRetry, chooseEchConfig, echGreaseExtension, echGreasePsks, echWithholdsClientCertificate, refuseRejectedEch, sealClientHello, showInnerHello, startEchGrease, takeRetryConfigs } from './ech-client.js';
import { encodeEchClientHello } from '../messages/ech.js';
import { certificateFromCompressed, offerCertificateCompression } from './cert-compression.js';
import type { GroupName } from '../crypto/provider.js';
import type { TLSVersionName } from '../config.js';
import { TLSError, handshakeFailure, illegalParameter, unexpectedMessage } from '../errors.js';
import { ExtensionType, NamedGroup, ProtocolVersion, PskKeyExchangeMode, SignatureScheme, SrtpProfile, cipherSuiteByCode, groupByCode } from '../messages/constants.js';
import { hashLength } from '../crypto/provider.js';
import { bindersLength, computeBinder, obfuscatedAge, restorePeerCertificates, usableSession } from './psk.js';
import { decodeSession, type TLSSession } from './session.js';
import { offerConnectionId, takeConnectionId } from './connection-id.js';
import { takeSrtpProfile } from './srtp.js';
import { Extensions, encodeHandshake, type HandshakeMessage, type MessageOf } from '../messages/handshake.js';
import type { OfferedPsks } from '../messages/extensions.js';
import { helloLegacyVersion, supportedVersionCode, tls12Wire } from '../protocol-variant.js';
import { dtlsToTlsFraming } from './dtls-flight.js';
import { equal, utf8 } from '../util/bytes.js';
import { clientEarlyDataLimit, clientEarlyTrafficSecret } from './early-data.js';
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
} from './both.js';
import { checkOffered, processServerCertificate } from './client-common.js';
import { need, type ClientHandshake, type ClientHelloState } from './context.js';
import { externalPskOffers, type PskOffer } from './external-psk.js';
import { decapsulateFrom, defaultKeyShareGroups, ephemeralKeyPair, tls12Group } from './key-exchange.js';
import { ESTABLISHED, defineStates, type Phase } from './declare.js';

const TLS13 = 'HANDSHAKE.TLS13';

/** The client from its first ClientHello on: the hello state exists. */
type Hello = Phase<ClientHandshake, 'hello' | 'transcript'>;
/** … and once a ServerHello (or HelloRetryRequest) chose the suite. */
type Negotiating = Phase<ClientHandshake, 'hello' | 'suite' | 'transcript'>;
/** What the states after our ClientHello need. */
const HELLO = ['hello', 'transcript'] as const;
/** What the TLS 1.3 states after ServerHello need. */
const NEGOTIATING = [...HELLO, 'suite'] as const;

/** The first flight: what TLS and DTLS clients share, up to the ClientHello. */
export const clientStart = defineStates<ClientHandshake>()({
  'C.Start': { row: { group: 'START', write: ['C.ClientHello'] } },
});

/** The TLS ClientHello: a ServerHello answers it with TLS 1.3 or TLS 1.2, or a HelloRetryRequest asks again. */
export const clientHello = defineStates<ClientHandshake, { 'C.ClientHello': 'written' }>()({
  'C.ClientHello': {
    row: {
      group: 'HANDSHAKE',
      read: { server_hello: 'C.ServerHello', hello_retry_request: 'C.HelloRetryRequest', server_hello_tls12: 'C12.ServerHello' },
      needs: ['transcript'],
      creates: ['hello', 'clientRandom'],
    },
    construct: (hs) => buildClientHello(startClientHello(hs)),
    postWork: (hs) => {
      showInnerHello(hs);
      startEarlyData(hs);
    },
  },
});

type Entry = {
  'C.ServerHello': 'server_hello';
  'C.HelloRetryRequest': 'hello_retry_request';
};

export const clientTls13 = defineStates<ClientHandshake, Entry>()({
  'C.HelloRetryRequest': { row: { group: TLS13, write: ['C.ClientHello2'], needs: HELLO, creates: ['suite'] }, process: processHelloRetryRequest },
  // A second HelloRetryRequest is not in this row: RFC 8446 4.1.4 makes it unexpected_message.
  'C.ClientHello2': {
    row: { group: TLS13, read: { server_hello: 'C.ServerHello' }, needs: NEGOTIATING },
    preWork: compatibilityCCS,
    construct: buildClientHello,
    postWork: showInnerHello,
  },
  'C.ServerHello': {
    row: { group: TLS13, read: { encrypted_extensions: 'C.EncryptedExtensions' }, needs: HELLO, creates: ['suite', 'handshakeKeys'] },
    process: processServerHello,
    // With ServerHello in the transcript: the Handshake stage, and its keys for both directions.
    postProcess: (hs) => {
      deriveHandshakeSecrets(hs, hs.pendingSharedSecret, hs.resumed ? need(hs.hello.pskOffer, 'the offered PSK').secret : undefined);
      hs.pendingSharedSecret = undefined;
      hs.records.setReadSecret(hs.handshakeKeys.serverTraffic);
      hs.records.setWriteSecret(hs.handshakeKeys.clientTraffic);
    },
  },
  'C.EncryptedExtensions': {
    row: {
      group: TLS13,
      read: { certificate_request: 'C.CertificateRequest', certificate: 'C.Certificate', compressed_certificate: 'C.Certificate', finished: 'C.Finished' },
      needs: NEGOTIATING,
    },
    process: processEncryptedExtensions,
  },
  'C.CertificateRequest': {
    row: { group: TLS13, read: { certificate: 'C.Certificate', compressed_certificate: 'C.Certificate' }, needs: NEGOTIATING },
    process: processCertificateRequest,
  },
  'C.Certificate': {
    row: { group: TLS13, read: { certificate_verify: 'C.CertificateVerify' }, needs: NEGOTIATING, creates: ['peerLeaf'] },
    process: (hs, msg) => processServerCertificate(hs, msg.type === 'compressed_certificate' ? certificateFromCompressed(hs, msg) : msg),
  },
  'C.CertificateVerify': {
    row: { group: TLS13, read: { finished: 'C.Finished' }, needs: [...NEGOTIATING, 'peerLeaf'] },
    process: (hs, msg) => checkCertificateVerify(hs, msg, 'server', hs.peerLeaf),
  },
  'C.Finished': {
    row: { group: TLS13, write: ['C.EndOfEarlyData', 'C.ClientCertificate', 'C.ClientFinished'], needs: [...NEGOTIATING, 'handshakeKeys'], creates: ['trafficKeys'] },
    process: processFinished,
    // With the server's Finished in the transcript: the Traffic stage; the server writes with it from now on.
    postProcess: (hs) => {
      deriveApplicationSecrets(hs);
      hs.records.setReadSecret(hs.trafficKeys.serverApplication);
    },
    // DTLS 1.3 omits EndOfEarlyData, from the wire and the transcript: epochs mark the end (RFC 9147 5.6).
    writeTransition: (hs) => (hs.negotiated.earlyData === 'accepted' && !hs.datagram ? 'C.EndOfEarlyData' : afterServerFinished(hs)),
  },
  // RFC 8446 4.5: accepted early data ends here (the connection seals it under the early key).
  'C.EndOfEarlyData': {
    row: { group: TLS13, write: ['C.ClientCertificate', 'C.ClientFinished'], needs: NEGOTIATING },
    construct: () => ({ type: 'end_of_early_data' }),
    writeTransition: afterServerFinished,
  },
  'C.ClientCertificate': {
    row: { group: TLS13, write: ['C.ClientCertificateVerify', 'C.ClientFinished'], needs: NEGOTIATING },
    preWork: compatibilityCCS,
    construct: (hs) => {
      const creds = clientCredentials(hs);
      return buildCertificate(creds ? creds.cert.chain : [], need(hs.hello.certificateRequested, 'the CertificateRequest').context);
    },
    writeTransition: (hs) => (clientCredentials(hs) ? 'C.ClientCertificateVerify' : 'C.ClientFinished'),
  },
  'C.ClientCertificateVerify': {
    row: { group: TLS13, write: ['C.ClientFinished'], needs: NEGOTIATING },
    construct: (hs) => {
      const creds = need(clientCredentials(hs), 'our certificate');
      return buildCertificateVerify(hs, 'client', creds.cert.key, creds.scheme);
    },
  },
  'C.ClientFinished': {
    row: { group: TLS13, write: [ESTABLISHED], needs: [...NEGOTIATING, 'handshakeKeys', 'trafficKeys'], creates: ['resumptionSecret'] },
    preWork: compatibilityCCS,
    construct: (hs) => buildFinished(hs, 'client'),
    postWork: (hs) => {
      hs.records.setWriteSecret(hs.trafficKeys.clientApplication);
      deriveResumptionSecret(hs);
    },
  },
});

function afterServerFinished(hs: Hello): 'C.ClientCertificate' | 'C.ClientFinished' {
  return hs.hello.certificateRequested ? 'C.ClientCertificate' : 'C.ClientFinished';
}

// ---- ClientHello ----------------------------------------------------------------------------

/** Our hello state: random, session ID, key shares for the first groups, the session we offer. */
export function startClientHello(hs: Phase<ClientHandshake, 'transcript'>): Hello {
  const o = hs.options;
  const first = (o.keyShareGroups ?? defaultKeyShareGroups(hs.common.groups, hs.datagram)).filter((g): g is GroupName => hs.common.groups.includes(g));
  if (first.length === 0) throw handshakeFailure('no key share group configured');
  const random = hs.common.random(32);
  hs.clientRandom = random;
  const hello: ClientHelloState = {
    random,
    sessionId: new Uint8Array(0),
    keyShares: hs.common.versions.includes('TLSv1.3') ? new Map(first.map((g) => [g, ephemeralKeyPair(hs, g)])) : new Map(),
    offeredExtensions: new Set(),
    pskOffers: [],
    session: offeredSession(hs, usableSession(hs, o.session instanceof Uint8Array ? decodeSession(o.session) : o.session)),
    pskModes: (o.pskModes ?? ['psk_dhe_ke']).map((m) => PskKeyExchangeMode[m]),
  };
  hello.sessionId = chooseSessionId(hs, hello.session);
  if (o.ech) {
    if (!hs.common.versions.includes('TLSv1.3')) throw new TLSError('internal_error', 'ECH needs TLS 1.3 enabled', { code: 'ERR_TLS_ECH_CONFIG_LIST' });
    hello.ech = { ...chooseEchConfig(o.ech.configList), status: 'offered' };
  } else if ((o.echGrease ?? o.grease !== false) && hs.common.versions.includes('TLSv1.3') && !hs.datagram) {
    // Not over datagrams: its random payload would differ in the ClientHello that answers a
    // HelloVerifyRequest, which must repeat the first but for the cookie (RFC 6347 4.2.1).
    hello.echGrease = startEchGrease(hs);
  }
  return Object.assign(hs, { hello });
}

/**
 * With ECH only a TLS 1.3 session, resumed inside the inner hello (RFC 9849 section 6.1.2): a
 * TLS 1.2 ticket or session ID would go in the clear and link this connection to the last.
 */
function offeredSession(hs: ClientHandshake, session: TLSSession | undefined): TLSSession | undefined {
  return hs.options.ech && session?.state.version !== ProtocolVersion.TLS1_3 ? undefined : session;
}

function grease(hs: Hello, index: number): number {
  // One random GREASE value per slot, the same in both ClientHellos (RFC 8701 section 3).
  const seed = hs.hello.random[index] & 0xf0;
  return ((seed | 0x0a) << 8) | (seed | 0x0a);
}

function isIpAddress(name: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(name) || name.includes(':');
}

/**
 * Our ClientHello. With ECH (RFC 9849 section 6.1) two are built from the same state: the
 * inner one offers TLS 1.3 alone under the real name, the outer one what we offer any server
 * (TLS 1.2 too) under the config's public_name; sealClientHello encrypts the first into the second.
 */
export function buildClientHello(hs: Hello): HandshakeMessage {
  const c = hs.hello;
  if (!c.ech) return helloFor(hs, hs.common.versions, hs.options.servername, 'none');
  const inner = helloFor(hs, ['TLSv1.3'], hs.options.servername, 'inner');
  const innerOffered = c.offeredExtensions;
  const outer = helloFor(hs, hs.common.versions, c.ech.config.contents.public_name, 'outer');
  // A server answers either hello: what it may send back is what either offered.
  c.offeredExtensions = new Set([...innerOffered, ...c.offeredExtensions]);
  return sealClientHello(hs, c.ech, inner, outer, c.pskOffers);
}

/** One ClientHello offering `offeredVersions` to `servername`; `ech` says which hello of an ECH pair it is. */
function helloFor(hs: Hello, offeredVersions: readonly TLSVersionName[], servername: string | undefined, ech: 'none' | 'inner' | 'outer'): MessageOf<'client_hello'> {
  const o = hs.options;
  const c = hs.hello;
  const useGrease = o.grease !== false;
  const ext = new Extensions('client_hello');
  const greaseExtensions = [grease(hs, 0), grease(hs, 4)];
  // Two GREASE extensions must not share a type (that would be a duplicate extension).
  if (greaseExtensions[1] === greaseExtensions[0]) greaseExtensions[1] ^= 0x1010;
  if (useGrease) ext.addRaw(greaseExtensions[0], new Uint8Array(0));
  if (servername && !isIpAddress(servername)) {
    ext.add('server_name', { server_name_list: [{ name_type: 0, host_name: servername }] });
  }
  const tls13 = offeredVersions.includes('TLSv1.3');
  // KEM groups exist only in TLS 1.3: a TLS 1.2 (or DTLS 1.2) only client does not list them.
  const groups = hs.common.groups.filter((g) => tls13 || tls12Group(hs, g)).map((g) => NamedGroup[g]);
  ext.add('supported_groups', { named_group_list: useGrease ? [grease(hs, 1), ...groups] : groups });
  const schemes = hs.common.signatureSchemes.map((s) => SignatureScheme[s]);
  ext.add('signature_algorithms', { supported_signature_algorithms: useGrease ? [grease(hs, 2), ...schemes] : schemes });
  if (hs.common.alpn.length) ext.add('application_layer_protocol_negotiation', { protocol_name_list: hs.common.alpn });
  if (tls13) {
    const versions = offeredVersions.map((v) => supportedVersionCode(hs.transport, v));
    ext.add('supported_versions', { versions: useGrease ? [grease(hs, 3), ...versions] : versions });
    if (c.cookie) ext.add('cookie', { cookie: c.cookie });
    const client_shares = [...c.keyShares].map(([group, pair]) => ({ group: NamedGroup[group], key_exchange: pair.publicKey }));
    ext.add('key_share', { client_shares });
  }
  if (offeredVersions.includes('TLSv1.2')) {
    // TLS 1.2 only with the extended master secret and secure renegotiation signalling.
    ext.add('extended_master_secret', true);
    ext.add('renegotiation_info', new Uint8Array(0));
    ext.add('ec_point_formats', { ec_point_format_list: [0] });
    // RFC 5077: empty to ask for a ticket, or the ticket of the session we resume.
    const session = c.session?.state.version === ProtocolVersion.TLS1_2 ? c.session : undefined;
    ext.add('session_ticket', session?.ticket ?? new Uint8Array(0));
  }
  ext.add('record_size_limit', tls13 ? OUR_RECORD_SIZE_LIMIT : 2 ** 14);
  if (tls13) offerCertificateCompression(hs, ext);
  const srtp = hs.options.srtpProfiles ?? [];
  if (hs.datagram && srtp.length) ext.add('use_srtp', { protection_profiles: srtp.map((p) => SrtpProfile[p]), srtp_mki: new Uint8Array(0) });
  offerConnectionId(hs, ext);
  // Always offered with TLS 1.3: without it a server sends no tickets (RFC 8446 4.2.9).
  if (tls13) ext.add('psk_key_exchange_modes', { ke_modes: c.pskModes });
  // The inner hello's marker; the outer hello's place for the encrypted inner one (sealClientHello fills it).
  if (ech === 'inner') ext.add('encrypted_client_hello', encodeEchClientHello({ type: 'inner' }));
  else if (ech === 'outer') ext.add('encrypted_client_hello', new Uint8Array(0));
  else if (c.echGrease) {
    // GREASE ECH is as long as our real inner hello would be (RFC 9849 section 6.2): sized on that
    // one, compressed against this hello's extensions so far (a real outer hello has the same ones
    // up to here, and none after here is ever compressed), so no outer hello is built to size it.
    const inner = () => helloFor(hs, ['TLSv1.3'], servername, 'inner');
    ext.add('encrypted_client_hello', echGreaseExtension(hs, c.echGrease, inner, ext));
  }
  if (useGrease) ext.addRaw(greaseExtensions[1], new Uint8Array([0]));
  // With ECH the session's PSK (no external one) goes in the inner hello, built first; the outer
  // one carries GREASE in its place, and early_data if the inner offers it (RFC 9849 section 6.1.2).
  const greasePsks = ech === 'outer' && c.ech ? echGreasePsks(hs, c.ech, c.pskOffers) : undefined;
  const psks = ech === 'outer' ? [] : sessionOrExternalPsks(hs, ech);
  if (ech !== 'outer') {
    c.pskOffers = psks;
    c.pskOffer = psks[0];
    c.earlyDataLimit = undefined;
  }
  // pre_shared_key goes last; its binders are filled in once the rest is encoded.
  const offered: OfferedPsks | undefined = greasePsks ?? (psks.length > 0 ? {
    identities: psks.map((p) => ({ identity: p.identity, obfuscated_ticket_age: p.obfuscatedAge })),
    binders: psks.map((p) => new Uint8Array(hashLength[p.hash])),
  } : undefined);
  const earlyDataLimit = ech !== 'outer' && c.pskOffer ? clientEarlyDataLimit(hs) : 0;
  if (earlyDataLimit > 0) c.earlyDataLimit = earlyDataLimit;
  if (earlyDataLimit > 0 || (ech === 'outer' && c.ech && c.earlyDataLimit !== undefined)) ext.add('early_data', true);
  if (offered) ext.add('pre_shared_key', offered);
  c.offeredExtensions = new Set(ext.types);
  // An inner hello offers TLS 1.3 suites alone, as it offers TLS 1.3 alone.
  const suites = hs.common.cipherSuites.filter((s) => ech !== 'inner' || s.version === 'TLSv1.3').map((s) => s.code);
  const hello: MessageOf<'client_hello'> = {
    type: 'client_hello',
    legacy_version: helloLegacyVersion(hs.transport),
    ...(hs.datagram ? { cookie: c.dtlsCookie ?? new Uint8Array(0) } : {}),
    random: c.random,
    legacy_session_id: c.sessionId,
    cipher_suites: useGrease ? [grease(hs, 5), ...suites] : suites,
    legacy_compression_methods: new Uint8Array([0]),
    extensions: ext,
  };
  // An inner hello's binders cover it as the server rebuilds it (sealClientHello); GREASE binders stay random.
  if (offered && ech === 'none') {
    // The binders cover the hello as it goes on the wire (DTLS: with its legacy_cookie field, RFC 9147 5.3).
    const raw = encodeHandshake(hello, hs.datagram ? 'dtls13' : 'tls13');
    const truncated = raw.subarray(0, raw.length - bindersLength(offered));
    psks.forEach((p, i) => (offered.binders[i] = computeBinder(hs, p.hash, p.secret, truncated, p.label)));
  }
  return hello;
}

/** Offered early data: after the ClientHello (and the compatibility CCS, RFC 8446 D.4) its key, then the data. */
export function startEarlyData(hs: Hello): void {
  const c = hs.hello;
  const limit = c.earlyDataLimit;
  if (limit === undefined) return;
  const psk = need(c.pskOffer, 'the offered PSK');
  compatibilityCCS(hs);
  const suite = need(cipherSuiteByCode(need(c.session, 'the offered session').state.cipher_suite), "the session's cipher suite");
  // Only the ClientHello is in the transcript here; DTLS 1.3 hashes it in TLS framing (RFC 9147 5.2).
  // With ECH it is the inner hello the server will take, if it takes ECH (RFC 9849 section 6.1.2).
  const hello = c.ech?.inner ?? hs.transcript.messages();
  const helloHash = hs.provider.hash(psk.hash, hs.datagram ? dtlsToTlsFraming(hello) : hello);
  hs.records.earlyData(clientEarlyTrafficSecret(hs, psk.hash, psk.secret, helloHash), limit, suite);
}

/**
 * legacy_session_id: a TLS 1.2 session's own ID; for a TLS 1.2 ticket, or in TLS 1.3's
 * middlebox compatibility mode, 32 random bytes (a server resuming the ticket echoes them).
 */
function chooseSessionId(hs: ClientHandshake, session: TLSSession | undefined): Uint8Array {
  const tls12Session = session?.state.version === ProtocolVersion.TLS1_2;
  if (tls12Session && session.session_id.length > 0) return session.session_id;
  // DTLS 1.3 has no middlebox compatibility mode (RFC 9147 5): its legacy_session_id stays empty.
  const compat = !hs.datagram && hs.options.compatibilityMode !== false && hs.common.versions.includes('TLSv1.3');
  return tls12Session || compat ? hs.common.random(32) : new Uint8Array(0);
}

/** What a hello offers: the session's PSK, or else (without ECH) the external PSKs configured. */
function sessionOrExternalPsks(hs: Hello, ech: 'none' | 'inner' | 'outer'): PskOffer[] {
  const session = sessionPskOffer(hs);
  if (session) return [session];
  return ech === 'none' ? externalPskOffers(hs) : [];
}

/** The session's PSK, if it is TLS 1.3, we still offer its suite and (after HRR) its hash is the chosen one. */
function sessionPskOffer(hs: Hello): PskOffer | undefined {
  const session = hs.hello.session;
  if (session?.state.version !== ProtocolVersion.TLS1_3) return undefined;
  const suite = cipherSuiteByCode(session.state.cipher_suite);
  if (!suite) return undefined;
  if (hs.transcript.hashName && hs.transcript.hashName !== suite.hash) return undefined;
  return { identity: session.ticket, obfuscatedAge: obfuscatedAge(hs, session), secret: session.state.secret, hash: suite.hash, label: 'res binder' };
}

/** The checks ServerHello and HelloRetryRequest share (RFC 8446 4.1.3, 4.1.4). */
function checkServerHelloCommon(hs: Hello, msg: MessageOf<'server_hello'> | MessageOf<'hello_retry_request'>): asserts hs is Negotiating {
  const c = hs.hello;
  // DTLS 1.3's ServerHello says DTLS 1.2 there (RFC 9147 5.3), as TLS 1.3's says TLS 1.2.
  if (msg.legacy_version !== tls12Wire(hs.transport)) throw illegalParameter('ServerHello legacy_version is not (D)TLS 1.2');
  if (!equal(msg.legacy_session_id_echo, c.sessionId)) throw illegalParameter('ServerHello does not echo our legacy_session_id');
  if (msg.legacy_compression_method !== 0) throw illegalParameter('ServerHello selects compression');
  const suite = cipherSuiteByCode(msg.cipher_suite);
  if (!suite || suite.version !== 'TLSv1.3' || !hs.common.cipherSuites.includes(suite)) {
    throw illegalParameter(`ServerHello selects a cipher suite we did not offer for TLS 1.3 (0x${msg.cipher_suite.toString(16)})`);
  }
  if (c.hrrSuite !== undefined && c.hrrSuite !== msg.cipher_suite) throw illegalParameter('ServerHello cipher suite differs from HelloRetryRequest');
  const sv = msg.extensions.get('supported_versions', 'server_hello');
  if (!sv) throw new TLSError('missing_extension', 'HelloRetryRequest without supported_versions');
  if (sv.selected_version !== supportedVersionCode(hs.transport, 'TLSv1.3')) throw illegalParameter(`server selected version 0x${sv.selected_version.toString(16)}`);
  hs.negotiated.suite = suite;
  hs.negotiated.version = 'TLSv1.3';
  // Our ClientHello was hashed in DTLS 1.2's framing before the version was known; DTLS 1.3 hashes TLS 1.3's (RFC 9147 5.2).
  if (hs.datagram) hs.transcript.reframe(dtlsToTlsFraming);
  hs.transcript.setHash(suite.hash);
}

function processServerHello(hs: Hello, msg: MessageOf<'server_hello'>): void {
  const c = hs.hello;
  if (!hs.common.versions.includes('TLSv1.3')) throw new TLSError('protocol_version', 'server chose TLS 1.3, which we did not offer');
  checkOffered(hs, msg.extensions, 'ServerHello');
  checkServerHelloCommon(hs, msg);
  if (c.ech) checkEchAcceptance(hs, c.ech, msg);
  const selected = msg.extensions.get('pre_shared_key', 'server_hello');
  // The outer hello's identities are GREASE: a server that did not take the inner hello has none to select (RFC 9849 section 10.12.3).
  if (selected && c.ech?.status === 'rejected') throw illegalParameter('ECH rejected, yet ServerHello selects a PSK (the outer hello offers none)');
  if (selected) {
    // The selected identity's hash must be that of the suite chosen now.
    const offer = c.pskOffers[selected.selected_identity];
    if (!offer) throw illegalParameter('server selected a PSK identity we did not offer');
    if (offer.hash !== hs.suite.hash) throw illegalParameter('server resumed with a cipher suite of another hash');
    c.pskOffer = offer;
    hs.resumed = true;
    // An external PSK authenticates the server itself: there are no certificates to report.
    if (offer.label === 'res binder') restorePeerCertificates(hs, need(c.session, 'the resumed session'));
  }
  if (hs.datagram) takeConnectionId(hs, msg.extensions, 'server_hello');
  const share = msg.extensions.get('key_share', 'server_hello');
  if (!share) {
    // Only a psk_ke resumption goes without (EC)DHE, and only if we offered it.
    if (!selected || !c.pskModes.includes(PskKeyExchangeMode.psk_ke)) throw new TLSError('missing_extension', 'ServerHello has no key_share');
    return;
  }
  const group = groupByCode.get(share.server_share.group);
  const pair = group && c.keyShares.get(group);
  if (!group || !pair) throw illegalParameter('ServerHello key_share is for a group we sent no share for');
  hs.negotiated.group = group;
  hs.pendingSharedSecret = decapsulateFrom(hs, group, pair, share.server_share.key_exchange, 'server key share');
}

function processHelloRetryRequest(hs: Hello, msg: MessageOf<'hello_retry_request'>): void {
  const c = hs.hello;
  checkOffered(hs, msg.extensions, 'HelloRetryRequest', [ExtensionType.cookie]);
  checkServerHelloCommon(hs, msg);
  if (c.ech) checkEchRetry(hs, c.ech, msg);
  const ks = msg.extensions.get('key_share', 'hello_retry_request');
  const cookie = msg.extensions.get('cookie', 'hello_retry_request');
  if (!ks && !cookie) throw illegalParameter('HelloRetryRequest would not change the ClientHello');
  if (ks) {
    const group = groupByCode.get(ks.selected_group);
    if (!group || !hs.common.groups.includes(group)) throw illegalParameter('HelloRetryRequest selects a group we do not support');
    if (c.keyShares.has(group)) throw illegalParameter('HelloRetryRequest selects a group we already sent a share for');
    c.keyShares = new Map([[group, ephemeralKeyPair(hs, group)]]);
  }
  c.cookie = cookie?.cookie;
  c.hrrSuite = msg.cipher_suite;
  // A HelloRetryRequest refuses early data (RFC 8446 4.2.10): the second ClientHello offers none.
  if (c.earlyDataLimit !== undefined) hs.negotiated.earlyData = 'rejected';
  hs.negotiated.helloRetried = true;
  hs.transcript.replaceWithMessageHash();
}

/**
 * The server's answer to our early data (RFC 8446 4.2.10): accepting it is only valid for
 * the session we offered, resumed with its suite and its ALPN (checkOffered already
 * refused an early_data we did not send).
 */
function checkEarlyDataAnswer(hs: Negotiating, accepted: boolean): void {
  const c = hs.hello;
  if (c.earlyDataLimit === undefined) return;
  if (!accepted) {
    hs.negotiated.earlyData = 'rejected';
    return;
  }
  const state = need(c.session, 'the offered session').state;
  if (!hs.resumed) throw illegalParameter('server accepted early data without resuming');
  if (hs.suite.code !== state.cipher_suite) throw illegalParameter('server accepted early data with another cipher suite than the session');
  if ((hs.negotiated.alpnProtocol ?? '') !== utf8.decode(state.alpn)) throw illegalParameter('server accepted early data with another ALPN protocol than the session');
  hs.negotiated.earlyData = 'accepted';
}

function processEncryptedExtensions(hs: Negotiating, msg: MessageOf<'encrypted_extensions'>): void {
  const ext = msg.extensions;
  checkOffered(hs, ext, 'EncryptedExtensions');
  if (hs.hello.ech) takeRetryConfigs(hs.hello.ech, ext);
  const alpn = ext.get('application_layer_protocol_negotiation', 'encrypted_extensions');
  if (alpn) {
    const [chosen, ...more] = alpn.protocol_name_list;
    if (more.length || chosen === undefined || !hs.common.alpn.includes(chosen)) throw illegalParameter('server chose an ALPN protocol we did not offer');
    hs.negotiated.alpnProtocol = chosen;
  }
  const limit = ext.get('record_size_limit', 'encrypted_extensions');
  if (limit !== undefined) {
    if (limit < 64) throw illegalParameter(`record_size_limit ${limit} is below 64`);
    hs.peerRecordSizeLimit = limit;
  }
  checkEarlyDataAnswer(hs, ext.has('early_data'));
  takeSrtpProfile(hs, ext.get('use_srtp', 'encrypted_extensions'));
  if (ext.has('server_name')) hs.negotiated.servername = hs.options.servername;
}

function processCertificateRequest(hs: Hello, msg: MessageOf<'certificate_request'>): void {
  if (hs.resumed) throw unexpectedMessage('CertificateRequest in a resumed handshake');
  const algs = msg.extensions.get('signature_algorithms', 'certificate_request');
  if (!algs) throw new TLSError('missing_extension', 'CertificateRequest without signature_algorithms');
  hs.hello.certificateRequested = { context: msg.certificate_request_context, schemes: algs.supported_signature_algorithms };
}

function processFinished(hs: Phase<ClientHandshake, 'hello' | 'handshakeKeys' | 'transcript'>, msg: MessageOf<'finished'>): void {
  // Without resumption the server must have authenticated with a certificate before Finished.
  if (!hs.resumed && hs.negotiated.peerCertificates.length === 0) throw unexpectedMessage('server Finished without a certificate');
  checkFinished(hs, msg, 'server');
  refuseRejectedEch(hs.hello.ech);
}

/** Our certificate, if we have one and can sign in a way the server accepts. */
function clientCredentials(hs: Hello) {
  const cert = hs.options.certificate;
  const req = hs.hello.certificateRequested;
  if (!cert || !req || echWithholdsClientCertificate(hs.hello.ech)) return undefined;
  const scheme = chooseScheme(hs, cert.key, req.schemes);
  return scheme ? { cert, scheme } : undefined;
}

/** Middlebox compatibility: a dummy CCS before our second flight (sent once; RFC 8446 D.4). */
function compatibilityCCS(hs: Hello): void {
  if (hs.hello.sessionId.length > 0) hs.records.sendCompatibilityCCS();
}
