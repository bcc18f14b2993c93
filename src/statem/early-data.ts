/**
 * TLS 1.3 0-RTT early data (RFC 8446 2.3, 4.2.10): when a client may send it, when a
 * server takes it, and the client_early_traffic_secret both derive from the ClientHello.
 * The records themselves are the connection's (it seals and opens them with that key);
 * the states here only decide and derive.
 */
import type { HashName } from '../crypto/provider.js';
import { EarlyStage } from './key-stages.js';
import { utf8 } from '../util/bytes.js';
import type { CipherSuiteInfo } from '../messages/constants.js';
import type { ClientHandshake, HandshakeContext, ServerHandshake, ServerHelloState } from './context.js';
import type { Phase } from './declare.js';
import { serverShared, ticketMaxEarlyData } from './psk.js';
import type { SessionState } from './session.js';

/** How far a client's view of a ticket's age may be from ours (RFC 8446 8.3): beyond it the ClientHello is stale or replayed. */
export const TICKET_AGE_WINDOW_MS = 10_000;

/**
 * The early data a client may send with the session it offers (0: none): the ticket
 * allowed some, it is the session's own PSK (not after a HelloRetryRequest), and the ALPN
 * it was made with is one we offer again (RFC 8446 4.2.10).
 */
export function clientEarlyDataLimit(hs: Phase<ClientHandshake, 'hello'>): number {
  const c = hs.hello;
  const session = c.session;
  // DTLS 1.3's epoch 1 (0-RTT) only when the application asks for it.
  if (!session || (hs.datagram && hs.options.datagramEarlyData !== true) || c.pskOffer?.label !== 'res binder' || hs.negotiated.helloRetried) return 0;
  if (!hs.common.cipherSuites.some((s) => s.code === session.state.cipher_suite)) return 0;
  const alpn = utf8.decode(session.state.alpn);
  if (alpn === '' ? hs.common.alpn.length > 0 : !hs.common.alpn.includes(alpn)) return 0;
  return session.state.max_early_data;
}

/** client_early_traffic_secret = Derive-Secret(Early Secret, "c e traffic", ClientHello), logged for keylog files. */
export function clientEarlyTrafficSecret(hs: HandshakeContext, hash: HashName, psk: Uint8Array, helloHash: Uint8Array): Uint8Array {
  const p = hs.provider;
  const early = new EarlyStage(p, hash, psk, hs.labelPrefix);
  const secret = early.clientEarlyTraffic(helloHash);
  early.wipe();
  hs.records.keylog('CLIENT_EARLY_TRAFFIC_SECRET', secret);
  return secret;
}

/** What the server knows of a resumption ticket offered with early data. */
export interface OfferedTicket {
  state: SessionState;
  /** The ticket as sent: its hash is what anti-replay records. */
  ticket: Uint8Array;
  obfuscatedAge: number;
}

/**
 * Whether the server takes the client's early data (RFC 8446 4.2.10): we accept 0-RTT at
 * all; the PSK is the first offered and one of our tickets that allowed early data; the
 * handshake needs no HelloRetryRequest; suite, ALPN and server name are the ticket's
 * (the name was checked with the ticket); the client's ticket age is within the window
 * of ours; and this is the ticket's first use for early data (anti-replay, RFC 8446 8.1).
 */
export function serverAcceptsEarlyData(hs: ServerHandshake, hello: ServerHelloState, suite: CipherSuiteInfo, alpn: string | undefined): boolean {
  const psk = hello.psk;
  const offered = psk?.ticket;
  if (ticketMaxEarlyData(hs) === 0 || !psk || !offered || psk.identity !== 0 || hello.peerShare === undefined && psk.dhe) return false;
  const state = offered.state;
  if (state.max_early_data === 0 || state.cipher_suite !== suite.code || utf8.decode(state.alpn) !== (alpn ?? '')) return false;
  const now = hs.common.now();
  const clientAge = (offered.obfuscatedAge - state.ticket_age_add) >>> 0;
  const serverAge = now - state.issued_ms;
  if (Math.abs(serverAge - clientAge) > TICKET_AGE_WINDOW_MS) return false;
  const id = hs.provider.hash('sha256', offered.ticket);
  return serverShared(hs).replay.firstUse(id, state.issued_ms + state.lifetime_s * 1000, now);
}
