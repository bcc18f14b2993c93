/**
 * Resumable sessions: what a client keeps to resume (RFC 8446 4.6.1 tickets, RFC 5077
 * TLS 1.2 tickets, TLS 1.2 session IDs), and how a server seals the same state into
 * tickets it alone can open (RFC 5077 section 4's recommended construction, with
 * AES-256-GCM).
 */
import type { CryptoProvider } from '../crypto/provider.js';
import { TLSError } from '../errors.js';
import { type Infer, decode, encode, list, opaque, struct, u16, u32, u48, u8 } from '../messages/codec.js';
import { certificateFromDer } from '../x509/intern.js';
import { concat, constantTimeEqual, toHex } from '../util/bytes.js';

/** The state both a client session and a server ticket carry. */
const SessionState = struct({
  format: u8,
  version: u16, // 0x0304 or 0x0303
  cipher_suite: u16,
  /** TLS 1.3: the PSK (resumption secret of the ticket's nonce). TLS 1.2: the master secret. */
  secret: opaque(1, 1),
  issued_ms: u48,
  lifetime_s: u32,
  ticket_age_add: u32,
  alpn: opaque(1),
  servername: opaque(1),
  /** TLS 1.3: the ticket's max_early_data_size (RFC 8446 4.2.10); 0 when it allows no 0-RTT. */
  max_early_data: u32,
});
export type SessionState = Infer<typeof SessionState>;

/** What a client stores to resume: the state plus how to present it. */
const ClientSession = struct({
  state: SessionState,
  /** The ticket to send (TLS 1.3 PSK identity, TLS 1.2 SessionTicket), possibly empty for session-ID resumption. */
  ticket: opaque(2),
  /** TLS 1.2 session ID (empty for tickets). */
  session_id: opaque(1, 0, 32),
  /**
   * The server's certificates (DER, leaf first) from the handshake that made the session:
   * a resumed handshake sends none, and the application still asks whom it talks to.
   */
  peer_certificates: list(3, opaque(3, 1)),
});
export type TLSSession = Infer<typeof ClientSession>;

/** 2: client sessions carry the server's certificates. 3: and the ticket's max_early_data_size. */
const FORMAT = 3;

export function newSessionState(fields: Omit<SessionState, 'format'>): SessionState {
  return { format: FORMAT, ...fields };
}

/** Shared by every compacted session for its empty fields (a zero-length array holds nothing to change). */
const NO_BYTES = new Uint8Array(0);

/**
 * The same session with its byte fields in one array of their own (views of it, in
 * order), empty fields sharing one zero-length array: a session an application keeps to
 * resume later costs one allocation instead of five, and no longer keeps alive the
 * record its ticket was read from. The given session is left as it was. The peer's
 * certificates stay shared with the connection's (see below).
 */
export function compactSession(s: TLSSession): TLSSession {
  const st = s.state;
  const parts = [st.secret, st.alpn, st.servername, s.ticket, s.session_id];
  let total = 0;
  for (const p of parts) total += p.length;
  const buf = new Uint8Array(total);
  let at = 0;
  const take = (p: Uint8Array): Uint8Array => {
    if (p.length === 0) return NO_BYTES;
    buf.set(p, at);
    at += p.length;
    return buf.subarray(at - p.length, at);
  };
  return {
    state: {
      format: st.format,
      version: st.version,
      cipher_suite: st.cipher_suite,
      secret: take(st.secret),
      issued_ms: st.issued_ms,
      lifetime_s: st.lifetime_s,
      ticket_age_add: st.ticket_age_add,
      alpn: take(st.alpn),
      servername: take(st.servername),
      max_early_data: st.max_early_data,
    },
    ticket: take(s.ticket),
    session_id: take(s.session_id),
    // Not copied: these are the DER of the connection's parsed certificates, which
    // connections to one server share (interned by content), so many sessions keep one chain.
    peer_certificates: s.peer_certificates,
  };
}

/** A session as bytes: what `session` events hand out and the `session` option takes back. */
export function encodeSession(s: TLSSession): Uint8Array {
  return encode(ClientSession, s);
}

export function decodeSession(bytes: Uint8Array): TLSSession {
  try {
    const s = decode(ClientSession, bytes, 'session');
    if (s.state.format !== FORMAT) throw new Error('unknown session format');
    // Certificates that do not parse would only fail later, mid-handshake.
    for (const der of s.peer_certificates) certificateFromDer(der);
    return s;
  } catch (err) {
    throw new TLSError('internal_error', `not a tsls session: ${(err as Error).message}`, { code: 'ERR_TLS_INVALID_SESSION', cause: err });
  }
}

/** Is the session still usable at `now` (ms)? */
export function sessionAlive(s: SessionState, now: number): boolean {
  return now >= s.issued_ms && now < s.issued_ms + s.lifetime_s * 1000;
}

const KEY_NAME = 16;
const KEY = 32;
const NONCE = 12;

export interface TicketKey {
  name: Uint8Array;
  key: Uint8Array;
}

/**
 * The server's ticket keys: tickets are sealed with the newest key and opened with any key
 * still kept. Keys come from the `ticketKeys` option (48 bytes each: 16-byte name, 32-byte
 * AES-256-GCM key) so several processes behind one address can open each other's
 * tickets; otherwise they are made here and rotated every `rotateAfterMs`.
 */
export class TicketKeyring {
  private keys: { key: TicketKey; created: number }[] = [];

  constructor(
    private readonly provider: CryptoProvider,
    /** The server's randomness source (so seeded tests replay exactly). */
    private readonly random: (length: number) => Uint8Array,
    supplied: Uint8Array | undefined,
    private readonly rotateAfterMs = 12 * 3600_000,
    private readonly keep = 2,
  ) {
    if (supplied !== undefined) {
      if (supplied.length === 0 || supplied.length % (KEY_NAME + KEY) !== 0) {
        throw new TLSError('internal_error', `ticketKeys must be a multiple of ${KEY_NAME + KEY} bytes`, { code: 'ERR_TLS_INVALID_OPTION' });
      }
      // The first key seals; every key given opens.
      for (let at = 0; at < supplied.length; at += KEY_NAME + KEY) {
        // Copies (a Buffer's slice would be a view of the caller's bytes).
        const name = new Uint8Array(supplied.subarray(at, at + KEY_NAME));
        const key = new Uint8Array(supplied.subarray(at + KEY_NAME, at + KEY_NAME + KEY));
        this.keys.push({ key: { name, key }, created: Infinity });
      }
    }
  }

  private current(now: number): TicketKey {
    const newest = this.keys[0];
    if (newest && (newest.created === Infinity || now - newest.created < this.rotateAfterMs)) return newest.key;
    const key = { name: this.random(KEY_NAME), key: this.random(KEY) };
    this.keys.unshift({ key, created: now });
    this.keys.length = Math.min(this.keys.length, this.keep);
    return key;
  }

  seal(state: SessionState, now: number): Uint8Array {
    const { name, key } = this.current(now);
    const nonce = this.random(NONCE);
    const sealed = this.provider.aead('AES-256-GCM', key).seal(nonce, encode(SessionState, state), name);
    return concat(name, nonce, sealed);
  }

  /** The state inside a ticket, or undefined for a ticket we cannot open (then: full handshake). */
  open(ticket: Uint8Array, now: number): SessionState | undefined {
    if (ticket.length < KEY_NAME + NONCE + 16) return undefined;
    const name = ticket.subarray(0, KEY_NAME);
    // Constant-time like every ticket compare (the AEAD tag below is checked by the AEAD).
    const entry = this.keys.find((k) => constantTimeEqual(k.key.name, name));
    if (!entry || (entry.created !== Infinity && now - entry.created >= this.rotateAfterMs * this.keep)) return undefined;
    const plain = this.provider.aead('AES-256-GCM', entry.key.key).open(ticket.subarray(KEY_NAME, KEY_NAME + NONCE), ticket.subarray(KEY_NAME + NONCE), name);
    if (!plain) return undefined;
    try {
      const state = decode(SessionState, plain, 'ticket');
      return state.format === FORMAT ? state : undefined;
    } catch {
      return undefined;
    }
  }
}

/** A bounded server cache for TLS 1.2 session-ID resumption (oldest entries leave first). */
/** Where a server keeps TLS 1.2 sessions by ID (ServerOptions.sessionCache); SessionCache is the in-memory one. */
export interface SessionStore {
  get(id: Uint8Array, now: number): SessionState | undefined;
  set(id: Uint8Array, state: SessionState): void;
}

/** A server session's state as bytes, for a store outside the process (and back, checked by the codec). */
export function encodeSessionState(state: SessionState): Uint8Array {
  return encode(SessionState, state);
}
export function decodeSessionState(bytes: Uint8Array): SessionState {
  const state = decode(SessionState, bytes, 'session');
  if (state.format !== FORMAT) throw new TLSError('decode_error', 'unknown session format', { code: 'ERR_TLS_INVALID_SESSION' });
  return state;
}

export class SessionCache implements SessionStore {
  private entries = new Map<string, SessionState>();
  constructor(private readonly max = 1000) {}

  get(id: Uint8Array, now: number): SessionState | undefined {
    const key = toHex(id);
    const s = this.entries.get(key);
    if (!s) return undefined;
    if (!sessionAlive(s, now)) {
      this.entries.delete(key);
      return undefined;
    }
    return s;
  }

  set(id: Uint8Array, state: SessionState): void {
    const key = toHex(id);
    this.entries.delete(key);
    this.entries.set(key, state);
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.max) break;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
