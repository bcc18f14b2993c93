/**
 * TLS 1.3 resumption with pre-shared keys from tickets (RFC 8446 4.2.11, 4.6.1): binders,
 * ticket ages, and the tickets a server hands out.
 */
import type { HashName } from '../crypto/provider.js';
import { finishedVerifyData, resumptionPsk } from '../crypto/keyschedule.js';
import { TLSError } from '../errors.js';
import { ProtocolVersion, cipherSuiteByCode } from '../messages/constants.js';
import { Extensions, type HandshakeMessage, type MessageOf } from '../messages/handshake.js';
import type { OfferedPsks } from '../messages/extensions.js';
import { concat, constantTimeEqual, utf8 } from '../util/bytes.js';
import type { ServerOptions } from '../config.js';
import { certificateFromDer } from '../x509/intern.js';
import type { ClientHandshake, HandshakeContext, ServerHandshake } from './context.js';
import type { BinderLabel } from './external-psk.js';
import { EarlyStage } from './key-stages.js';
import type { Phase } from './declare.js';
import { EarlyDataReplayCache, type EarlyDataReplayStore } from './anti-replay.js';
import { SessionCache, TicketKeyring, newSessionState, type SessionStore, type TLSSession } from './session.js';

export const MAX_TICKET_LIFETIME = 604800;

/** Bytes of the binders list at the end of a ClientHello (2-byte length, then each binder with its length byte). */
export function bindersLength(psks: OfferedPsks): number {
  return 2 + psks.binders.reduce((n, b) => n + 1 + b.length, 0);
}

/**
 * binder = HMAC over Transcript-Hash(Truncate(ClientHello)) with the binder key of `psk`,
 * labelled for a resumption, an external or an imported PSK (RFC 8446 7.1, RFC 9258 5.2), so
 * none passes for another.
 */
export function computeBinder(hs: Phase<HandshakeContext, 'transcript'>, hash: HashName, psk: Uint8Array, truncatedHello: Uint8Array, label: BinderLabel = 'res binder', before?: Uint8Array): Uint8Array {
  const p = hs.provider;
  const early = new EarlyStage(p, hash, psk, hs.labelPrefix);
  const binderKey = early.binderKey(label);
  early.wipe();
  // Before HelloRetryRequest the transcript has no hash yet; after it, the binder covers message_hash + HRR too.
  // `before` stands in for the transcript when it is not the one on the wire (ECH's inner hello).
  const transcriptHash = before
    ? p.hash(hash, concat(before, truncatedHello))
    : hs.transcript.hashName
      ? hs.transcript.hashWith(truncatedHello)
      : p.hash(hash, truncatedHello);
  return finishedVerifyData(p, hash, binderKey, transcriptHash, early.prefix);
}

export function checkBinder(hs: Phase<HandshakeContext, 'transcript'>, hash: HashName, psk: Uint8Array, rawHello: Uint8Array, psks: OfferedPsks, index: number, label: BinderLabel = 'res binder'): void {
  const truncated = rawHello.subarray(0, rawHello.length - bindersLength(psks));
  const expected = computeBinder(hs, hash, psk, truncated, label);
  const binder = psks.binders[index];
  if (!binder || !constantTimeEqual(binder, expected)) throw new TLSError('decrypt_error', 'PSK binder does not verify');
}

/** The session a client may offer now, if any (version, lifetime, name and a suite with its hash). */
export function usableSession(hs: ClientHandshake, session: TLSSession | undefined): TLSSession | undefined {
  if (!session) return undefined;
  const s = session.state;
  const suite = cipherSuiteByCode(s.cipher_suite);
  if (!suite || !hs.common.cipherSuites.some((c) => c.version === suite.version && c.hash === suite.hash)) return undefined;
  const version = s.version === ProtocolVersion.TLS1_3 ? 'TLSv1.3' : 'TLSv1.2';
  if (!hs.common.versions.includes(version)) return undefined;
  const now = hs.common.now();
  if (now < s.issued_ms || now >= s.issued_ms + s.lifetime_s * 1000) return undefined;
  const name = hs.options.servername ?? '';
  if (utf8.decode(s.servername) !== name) return undefined;
  return session;
}

/** RFC 8446 4.2.11.1: the client's view of the ticket age, obfuscated. */
export function obfuscatedAge(hs: HandshakeContext, session: TLSSession): number {
  const age = Math.max(0, hs.common.now() - session.state.issued_ms);
  return (age + session.state.ticket_age_add) % 2 ** 32;
}

/** A client's record of a NewSessionTicket: everything needed to resume later. */
export function sessionFromTicket(hs: Phase<ClientHandshake, 'suite' | 'trafficKeys' | 'resumptionSecret'>, msg: MessageOf<'new_session_ticket'>): TLSSession {
  if (msg.ticket_lifetime > MAX_TICKET_LIFETIME) throw new TLSError('illegal_parameter', 'ticket lifetime over seven days');
  const suite = hs.suite;
  return {
    state: newSessionState({
      version: ProtocolVersion.TLS1_3,
      cipher_suite: suite.code,
      secret: resumptionPsk(hs.provider, suite.hash, hs.resumptionSecret, msg.ticket_nonce, hs.trafficKeys.prefix),
      issued_ms: hs.common.now(),
      lifetime_s: msg.ticket_lifetime,
      ticket_age_add: msg.ticket_age_add,
      alpn: utf8.encode(hs.negotiated.alpnProtocol ?? ''),
      servername: utf8.encode(hs.options.servername ?? ''),
      max_early_data: msg.extensions.get('early_data', 'new_session_ticket')?.max_early_data_size ?? 0,
    }),
    ticket: msg.ticket,
    session_id: new Uint8Array(0),
    peer_certificates: hs.negotiated.peerCertificates.map((c) => c.der),
  };
}

/**
 * A resumed handshake carries no Certificate: the connection reports the server
 * certificates of the session's original handshake instead (as node:tls does). A
 * session whose certificates do not parse was not made by us and is refused.
 */
export function restorePeerCertificates(hs: HandshakeContext, session: TLSSession): void {
  try {
    hs.negotiated.peerCertificates = session.peer_certificates.map(certificateFromDer);
  } catch (err) {
    throw new TLSError('internal_error', 'the resumed session holds a certificate that does not parse', { code: 'ERR_TLS_INVALID_SESSION', cause: err });
  }
}

// ---- the server's side ----------------------------------------------------------------

interface ServerShared {
  keyring: TicketKeyring;
  cache: SessionStore;
  /** Tickets already used for 0-RTT (RFC 8446 8.1). */
  replay: EarlyDataReplayStore;
}
const shared = new WeakMap<ServerOptions, ServerShared>();

/** Ticket keys and the session cache live as long as the options object, shared by every connection made from it. */
export function serverShared(hs: ServerHandshake): ServerShared {
  const o = hs.options;
  let s = shared.get(o);
  if (!s) {
    s = {
      keyring: new TicketKeyring(hs.provider, hs.common.random, o.ticketKeys),
      cache: o.sessionCache ?? new SessionCache(o.sessionCacheSize ?? 1000),
      replay: o.earlyDataReplayStore ?? new EarlyDataReplayCache(),
    };
    shared.set(o, s);
  }
  return s;
}

/** The max_early_data_size our tickets carry: the `maxEarlyData` option, 0 (no 0-RTT) without it. */
export function ticketMaxEarlyData(hs: ServerHandshake): number {
  // DTLS 1.3's epoch 1 (0-RTT) only when the application asks for it.
  if (hs.datagram && hs.options.datagramEarlyData !== true) return 0;
  return Math.max(0, Math.min(hs.options.maxEarlyData ?? 0, 2 ** 32 - 1));
}

export function ticketLifetime(hs: ServerHandshake): number {
  return Math.min(hs.options.ticketLifetime ?? 7200, MAX_TICKET_LIFETIME);
}

/** A TLS 1.3 NewSessionTicket carrying our sealed state (RFC 8446 4.6.1). */
export function newSessionTicket(hs: Phase<ServerHandshake, 'suite' | 'trafficKeys' | 'resumptionSecret'>): HandshakeMessage {
  const index = hs.ticketsSent++;
  const nonce = new Uint8Array([index]);
  const ageAdd = hs.common.random(4);
  const ticket_age_add = ((ageAdd[0] << 24) >>> 0) + (ageAdd[1] << 16) + (ageAdd[2] << 8) + ageAdd[3];
  const suite = hs.suite;
  const lifetime = ticketLifetime(hs);
  const maxEarlyData = ticketMaxEarlyData(hs);
  const state = newSessionState({
    version: ProtocolVersion.TLS1_3,
    cipher_suite: suite.code,
    secret: resumptionPsk(hs.provider, suite.hash, hs.resumptionSecret, nonce, hs.trafficKeys.prefix),
    issued_ms: hs.common.now(),
    lifetime_s: lifetime,
    ticket_age_add,
    alpn: utf8.encode(hs.negotiated.alpnProtocol ?? ''),
    servername: utf8.encode(hs.negotiated.servername ?? ''),
    max_early_data: maxEarlyData,
  });
  const extensions = new Extensions('new_session_ticket');
  if (maxEarlyData > 0) extensions.add('early_data', { max_early_data_size: maxEarlyData });
  return {
    type: 'new_session_ticket',
    ticket_lifetime: lifetime,
    ticket_age_add,
    ticket_nonce: nonce,
    ticket: serverShared(hs).keyring.seal(state, hs.common.now()),
    extensions,
  };
}
