/**
 * What TLSSocket (./socket.ts) and DTLSSocket (./dtls-socket.ts) share: the client's check of the
 * server certificate, the node:tls views of the peer's certificate, the alert a destroy()
 * sends, keylog lines, and the queue that holds engine events until the engine call returned.
 * One copy, so a TLS and a DTLS client judge and report a server the same way.
 */
import { X509Certificate } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { DetailedPeerCertificate, PeerCertificate } from 'node:tls';
import { handshakeVerifierPolicy, type PeerVerification } from '../config.js';
import { TLSError, asTLSError } from '../errors.js';
import type { Certificate } from '../x509/certificate.js';
import { verifyCertificateChain } from '../x509/verify.js';
import { certificateObject, detailedCertificateObject, hostMismatch } from './peer-certificate.js';
import type { ResolvedClient } from './options.js';

/** A Buffer over the same memory (no copy). */
export function asBuffer(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

// ---- the server certificate ------------------------------------------------------------------

/** The outcome of verifyServerCertificate: `path` is the validated chain, ending at the trust anchor. */
export interface Verified {
  ok: boolean;
  error?: string;
  path?: Certificate[];
}

/**
 * The client's check of the server certificate, as connect() does it: the chain must reach
 * one of `anchors`, and the leaf must name `hostname` (or `checkServerIdentity` must accept
 * it). Throws when `rejectUnauthorized`; otherwise returns what went wrong.
 */
export function verifyServerCertificate(c: ResolvedClient, info: PeerVerification): Verified {
  let error: TLSError | undefined;
  let path: Certificate[] | undefined;
  try {
    path = verifyCertificateChain(c.engine.provider!, info.chain, { ...handshakeVerifierPolicy(c.engine), anchors: c.anchors, now: info.now, purpose: 'serverAuth' });
    const leaf = info.chain[0]!;
    // A server that did not take ECH is authenticated for the config's public name alone.
    const hostname = info.echPublicName ?? c.hostname;
    if (c.checkServerIdentity) {
      let failure: unknown;
      try {
        failure = c.checkServerIdentity(hostname, detailedCertificateObject(path.length ? path : info.chain));
      } catch (err) {
        failure = err;
      }
      if (failure) {
        const e = failure as Error & { code?: string };
        throw new TLSError('bad_certificate', e.message ?? String(failure), { code: e.code ?? 'ERR_TLS_CERT_ALTNAME_INVALID', cause: failure });
      }
    } else {
      const mismatch = hostMismatch(leaf, hostname);
      if (mismatch) throw mismatch;
    }
  } catch (err) {
    error = asTLSError(err);
  }
  if (error && c.rejectUnauthorized) throw error;
  return error ? { ok: false, error: error.code } : { ok: true, ...(path ? { path } : {}) };
}

/** A client socket's `authorized` and `authorizationError` after a full handshake. */
export function authorization(verified: Verified | undefined): { authorized: boolean; authorizationError: string | null } {
  return {
    authorized: verified?.ok === true,
    authorizationError: verified?.ok === false ? (verified.error ?? 'UNKNOWN') : null,
  };
}

/** What a server knows of the client's certificate once the handshake is done (from the engine). */
export interface ClientVerdict {
  authorized: boolean;
  authorizationError: TLSError | undefined;
  sessionReused: boolean;
}

/**
 * A server socket's `authorized` and `authorizationError`, as node:tls sets them: false/null
 * unless the server asked for a certificate (requestCert); then true/null for a trusted one,
 * false and OpenSSL's verify code otherwise (node says UNABLE_TO_GET_ISSUER_CERT when the
 * client sent none). A resumed session carries no certificate: it counts as authorized only
 * when the server refuses untrusted clients, so it was issued to a verified one.
 */
export function clientAuthorization(
  server: { requestCert?: boolean | undefined; rejectUnauthorized?: boolean | undefined },
  conn: ClientVerdict,
): { authorized: boolean; authorizationError: string | null } {
  if (!server.requestCert) return { authorized: false, authorizationError: null };
  if (conn.authorized) return { authorized: true, authorizationError: null };
  if (conn.sessionReused && server.rejectUnauthorized !== false) return { authorized: true, authorizationError: null };
  const error = conn.authorizationError;
  const code = !error || error.code === 'ERR_TLS_CLIENT_CERTIFICATE_REQUIRED' ? 'UNABLE_TO_GET_ISSUER_CERT' : error.code;
  return { authorized: false, authorizationError: code };
}

// ---- node:tls views of the peer's certificate ------------------------------------------------

/**
 * getPeerCertificate(): `{}` when the peer sent none; the leaf, or with `detailed` the chain
 * linked by `issuerCertificate` — the validated path (ending at the trust anchor) when we
 * have it, as node does.
 */
export function peerCertificate(
  chain: Certificate[],
  verified: Verified | undefined,
  detailed: boolean,
): PeerCertificate | DetailedPeerCertificate | Record<string, never> {
  if (chain.length === 0) return {};
  if (!detailed) return certificateObject(chain[0]!);
  return detailedCertificateObject(verified?.path ?? chain);
}

/** getPeerX509Certificate(): the leaf as a node:crypto X509Certificate. */
export function peerX509Certificate(chain: Certificate[]): X509Certificate | undefined {
  const leaf = chain[0];
  return leaf ? new X509Certificate(leaf.der) : undefined;
}

// ---- socket plumbing ---------------------------------------------------------------------------

/** The alert destroy(err) sends: a TLSError's own, internal_error for other errors, none (user_canceled) without one. */
export function destroyAlert(err: Error | null | undefined): TLSError | undefined {
  if (err instanceof TLSError) return err;
  return err ? new TLSError('internal_error', err.message, { code: 'ERR_TLS_DESTROYED', cause: err }) : undefined;
}

/** A key log line as node emits it ('keylog' with a Buffer line), on the socket and on its server. */
export function emitKeylog(socket: EventEmitter, server: EventEmitter | undefined, line: string): void {
  const buf = Buffer.from(line + '\n', 'latin1');
  socket.emit('keylog', buf);
  server?.emit('keylog', buf, socket);
}

/**
 * Engine events, held while an engine call runs and delivered after it returned, so
 * application code never runs inside the engine. `afterEach` runs after every event (the
 * sockets send what the event's handler made the engine produce).
 */
export class EventQueue {
  private events: (() => void)[] = [];
  private running = false;

  constructor(private readonly afterEach: () => void) {}

  push(event: () => void): void {
    this.events.push(event);
  }

  /** Drop what is queued (the socket is going away). */
  clear(): void {
    this.events = [];
  }

  /**
   * Deliver what is queued, including what those events queue; a no-op when already
   * delivering. A listener that throws gets its exception out (uncaught, as with
   * node:tls), but what was queued behind it is still delivered, on the next turn of the
   * loop: a second record that came in the same chunk, or the peer's close_notify, must
   * not wait for more bytes that may never come.
   */
  run(): void {
    if (this.running) return;
    this.running = true;
    try {
      for (let e = this.events.shift(); e; e = this.events.shift()) {
        try {
          e();
        } finally {
          this.afterEach();
        }
      }
    } catch (err) {
      if (this.events.length > 0) setImmediate(() => this.run());
      throw err;
    } finally {
      this.running = false;
    }
  }
}

export type EphemeralKeyInfo = { type?: string; name?: string; size?: number };

/** getEphemeralKeyInfo() as node:tls answers it: null on a server, {} before a group is agreed. */
export function ephemeralKeyInfo(isServer: boolean, group: string | undefined): EphemeralKeyInfo | null {
  if (isServer) return null;
  if (!group) return {};
  const info: Record<string, { name: string; size: number } | undefined> = {
    x25519: { name: 'X25519', size: 253 },
    x448: { name: 'X448', size: 448 },
    secp256r1: { name: 'prime256v1', size: 256 },
    secp384r1: { name: 'secp384r1', size: 384 },
  };
  const i = info[group];
  // As node:tls 26 reports a group that is not plain ECDH (the ML-KEM hybrids): by its TLS name.
  return i ? { type: 'ECDH', ...i } : { type: 'TLSGroup', name: group };
}
