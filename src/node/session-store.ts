/**
 * node:tls's external session store for TLS 1.2 session IDs: a server emits
 * 'newSession'(id, data, cb) for each new session and, when a client offers a session ID
 * it does not know, 'resumeSession'(id, cb(err, data)) before the engine sees the
 * ClientHello. With both wired to a shared store (and shared `ticketKeys` for tickets),
 * processes behind one address resume each other's sessions.
 *
 * The engine keeps sessions in a SessionStore (ServerOptions.sessionCache); this one is
 * the in-memory cache plus the events. What 'resumeSession' answers is adopted into the
 * cache, so the engine finds it when it reads the ClientHello.
 */
import type { EventEmitter } from 'node:events';
import { decodeSessionState, encodeSessionState, SessionCache, type SessionState, type SessionStore } from '../statem/session.js';

export class ServerSessionStore implements SessionStore {
  private readonly local: SessionCache;

  constructor(
    private readonly server: EventEmitter,
    size: number,
    /** Holds the running connection's output until released (the socket's, see socket.ts). */
    private readonly holdOutput: () => (() => void) | undefined = () => undefined,
  ) {
    this.local = new SessionCache(size);
  }

  get(id: Uint8Array, now: number): SessionState | undefined {
    return this.local.get(id, now);
  }

  set(id: Uint8Array, state: SessionState): void {
    this.local.set(id, state);
    if (this.server.listenerCount('newSession') === 0) return;
    const sessionId = Buffer.from(id);
    const data = Buffer.from(encodeSessionState(state));
    // Called inside the engine: the application's listener runs after the engine call. As in
    // node:tls, the server's next flight (its Finished) waits for the listener's callback, so a
    // client never offers a session the shared store has not stored yet.
    const release = this.holdOutput() ?? (() => {});
    queueMicrotask(() => {
      try {
        this.server.emit('newSession', sessionId, data, release);
      } catch (err) {
        release();
        throw err;
      }
    });
  }

  /** A session the application's store gave back ('resumeSession'): kept so the engine can resume it. Bad bytes cost a full handshake. */
  adopt(id: Uint8Array, data: Uint8Array): void {
    try {
      this.local.set(id, decodeSessionState(data));
    } catch {
      // Not a session of ours (another version's format, a damaged store entry).
    }
  }

  /** Whether the application keeps sessions itself (then the ClientHello waits for 'resumeSession'). */
  get external(): boolean {
    return this.server.listenerCount('resumeSession') > 0;
  }
}

/**
 * The session ID a ClientHello (a whole first flight, as ClientHelloSniffer holds it) asks
 * to resume by ID: non-empty, no session ticket offered instead, and not a TLS 1.3 hello
 * when the server speaks TLS 1.3 (its legacy_session_id is then a random compatibility
 * value). Undefined otherwise, or when the bytes are not a well-formed ClientHello.
 */
export function sessionIdToResume(flight: Uint8Array, serverTls13: boolean): Uint8Array | undefined {
  // The ClientHello's first record: the session ID sits early, the extensions may not (a
  // hello split across records is rare enough to resume without the external store).
  if (flight.length < 5 || flight[0] !== 22) return undefined;
  const recordEnd = Math.min(flight.length, 5 + ((flight[3]! << 8) | flight[4]!));
  const b = flight.subarray(5, recordEnd);
  if (b.length < 4 || b[0] !== 1) return undefined;
  const end = Math.min(b.length, 4 + ((b[1]! << 16) | (b[2]! << 8) | b[3]!));
  let at = 4 + 2 + 32; // header, legacy_version, random
  if (at + 1 > end) return undefined;
  const idLength = b[at]!;
  if (idLength === 0 || idLength > 32 || at + 1 + idLength > end) return undefined;
  const id = b.slice(at + 1, at + 1 + idLength);
  at += 1 + idLength;
  const skip = (lenBytes: number): boolean => {
    if (at + lenBytes > end) return false;
    let n = 0;
    for (let i = 0; i < lenBytes; i++) n = (n << 8) | b[at + i]!;
    at += lenBytes + n;
    return at <= end;
  };
  if (!skip(2) || !skip(1)) return undefined; // cipher_suites, compression_methods
  if (at + 2 > end) return id; // no extensions: a TLS 1.2 hello
  const extEnd = Math.min(end, at + 2 + ((b[at]! << 8) | b[at + 1]!));
  at += 2;
  while (at + 4 <= extEnd) {
    const type = (b[at]! << 8) | b[at + 1]!;
    const len = (b[at + 2]! << 8) | b[at + 3]!;
    const body = at + 4;
    if (body + len > extEnd) return undefined;
    if (type === 35 && len > 0) return undefined; // session_ticket with a ticket: resumed from the ticket
    if (type === 43 && serverTls13) {
      // supported_versions: u8 length, then u16 versions.
      for (let p = body + 1; p + 1 < body + len; p += 2) if (b[p] === 0x03 && b[p + 1] === 0x04) return undefined;
    }
    at = body + len;
  }
  return id;
}
