/**
 * DTLS 1.3 and 1.2 for Node: the sans-IO `DtlsConnection` over node:dgram, with node:tls's
 * option names and node's socket vocabulary. Both sides speak DTLS 1.3 (RFC 9147) by default
 * and DTLS 1.2 (RFC 6347) with a peer that speaks only that; `minVersion`/`maxVersion`
 * ('DTLSv1.2', 'DTLSv1.3') narrow it.
 *
 *   connectDtls({ host, port, ca })      → DTLSSocket (client) on its own UDP socket
 *   createDtlsServer({ cert, key }, cb)  → DTLSServer: ONE UDP socket, many associations
 *
 * Names. node:tls has `connect`/`createServer`/`TLSSocket`/`Server`, node:dgram has
 * `createSocket`/`Socket`. `connect` and `createServer` are taken in 'tsls/node' by TLS, so the
 * DTLS entry points say what they make: `connectDtls` (a connection, like tls.connect) and
 * `createDtlsServer` (a server, like tls.createServer). The classes follow node's TLSSocket
 * spelling: `DTLSSocket`, `DTLSServer`.
 *
 * Datagram semantics. A DTLSSocket is not a stream: `send(data)` is one record of application
 * data (at most 16384 bytes, one datagram), and every record received is one 'message'
 * event, as on a dgram.Socket. There is no half-close: the peer's close_notify ('end') is
 * answered with ours and the socket closes. Events: 'secureConnect' (client) / 'secure'
 * (both), 'message' (Buffer), 'end', 'close' (hadError), 'error', 'keylog' (Buffer line).
 * Over DTLS 1.3 a client is connected once its Finished is sent; its server, once that
 * Finished arrives. `keyUpdate()` (DTLS 1.3) sends a KeyUpdate; its new keys are used once the
 * peer acknowledges it.
 *
 * Time. The engine keeps no timers: after every engine call the socket arms ONE setTimeout at
 * the earliest of the engine's `nextTimeout()` (flight retransmission), the handshake deadline
 * and the idle deadline. The timer is ref'd only while a flight waits for its answer, so an
 * established, quiet socket never keeps the process alive by its timer. A silent peer during
 * the handshake ends in 'error' ERR_TLS_HANDSHAKE_TIMEOUT: from the engine's retransmission
 * give-up (`retransmitMs`, `maxRetransmissions`), or from `handshakeTimeout` if sooner. After
 * the handshake, `idleTimeout` (server default 5 minutes, client default off) ends an
 * association that received nothing for that long with 'error' ERR_TLS_IDLE_TIMEOUT.
 *
 * Server. Datagrams are demultiplexed by the peer's address:port, and by connection ID when
 * they carry one of ours. A datagram from a peer with no association goes through the
 * stateless `DtlsCookieGuard` first: a HelloVerifyRequest (DTLS 1.2, RFC 6347 4.2.1) or a
 * HelloRetryRequest with a cookie (DTLS 1.3, RFC 9147 5.1) goes straight back and nothing is
 * kept (but the bounded fragments of a ClientHello that does not fit one datagram); only a
 * ClientHello carrying a cookie we made for that address creates an association. Associations that have not finished
 * their handshake are bounded by `maxHalfOpen` (default 256) and `maxHalfOpenPerAddress`
 * (default 32): a new client that proved its address takes the place of the oldest half-open
 * association (of its address, when that is at its limit), and while the table is half full
 * handshakes get `halfOpenTimeoutUnderPressure` (5 s) instead of `handshakeTimeout`, so peers
 * that pass the cookie exchange and stall cannot lock legitimate clients out. All
 * associations are bounded by `maxConnections` (default 10000): a ClientHello beyond it is
 * dropped (the client retransmits and may get in later). Associations leave the map on
 * close, error and timeout.
 * A new ClientHello (epoch 0, a new random, a valid cookie) from the address of an established
 * association replaces it (RFC 6347 4.2.8: the client lost its state and started over).
 *
 * Errors on the server. Before 'secureConnection' a failure is reported as the server's
 * 'tlsClientError' (err, socket), as node:tls does. After it, the socket's 'error' event; a
 * server-side socket without an 'error' listener does not throw (one peer must not bring the
 * server down): it just closes with hadError.
 *
 * Options are node:tls's (ca, cert, key, rejectUnauthorized, ALPNProtocols, servername,
 * checkServerIdentity, ciphers, ecdhCurve, sigalgs, enableTrace...), mapped by options.ts;
 * the client verifies the server like connect() (on by default; only an explicit
 * `rejectUnauthorized: false` turns it off). DTLS-only: `mtu`, `retransmitMs`,
 * `maxRetransmissions`, `handshakeTimeout`, `idleTimeout`; `minVersion`/`maxVersion` take
 * 'DTLSv1.2' and 'DTLSv1.3'. As in node:tls, `ciphers` names the DTLS 1.2 suites and
 * `ciphersuites` the DTLS 1.3 ones. Refused (ERR_TLS_UNSUPPORTED_OPTION): `SNICallback`.
 * Resumption (client): `session` takes a Buffer from an earlier DTLS socket's 'session' event
 * (DTLS 1.2: a session ID or an RFC 5077 ticket; DTLS 1.3: a NewSessionTicket, which comes
 * after the handshake); 'session' follows 'secureConnect'.
 * Connection IDs (RFC 9146; RFC 9147 9): `connectionId` on the client (usually an empty
 * Buffer: use the server's CID), `connectionIds` on the server (a random CID per association,
 * by which datagrams from a new address still reach it: a tls12_cid record or a DTLS 1.3
 * unified header with the C bit; the association answers at the new address only once a
 * record from it authenticated and was the newest yet).
 */
import { randomBytes, type X509Certificate } from 'node:crypto';
import * as dgram from 'node:dgram';
import { lookup } from 'node:dns';
import { EventEmitter } from 'node:events';
import { isIP, type AddressInfo } from 'node:net';
import type { DetailedPeerCertificate, PeerCertificate } from 'node:tls';
import { DEFAULT_MAX_VERSION, DEFAULT_MIN_VERSION, type PeerVerification, type TLSVersionName } from '../config.js';
import type { Connection } from '../connection.js';
import { DtlsConnection, type DtlsServerOptions as EngineDtlsServerOptions, type DtlsServerStart } from '../dtls-connection.js';
import { DtlsCookieGuard } from '../dtls-cookie.js';
import { datagramCid } from '../record/cid-demux.js';
import { TLSError } from '../errors.js';
import { cipherSuiteByName } from '../messages/constants.js';
import { resolveClientOptions, resolveServerOptions, type ConnectionOptions, type ResolvedClient, type TlsServerOptions } from './options.js';
import { asBuffer, authorization, ephemeralKeyInfo, type EphemeralKeyInfo, clientAuthorization, destroyAlert, emitKeylog, EventQueue, peerCertificate, peerX509Certificate, verifyServerCertificate, type Verified } from './socket-common.js';
import { encodeSession, type TLSSession } from '../statem/session.js';
import { traceConnection } from './trace.js';

// ---- options ------------------------------------------------------------------------------

/** What DTLS adds to the TLS options, on both sides. */
export interface DtlsTransportOptions {
  /** Path MTU as bytes of UDP payload: handshake flights are cut to fit (default 1200). */
  mtu?: number;
  /** First retransmission timeout in ms (default 1000; doubles up to 60 s). */
  retransmitMs?: number;
  /** Retransmissions of a flight before the handshake fails with ERR_TLS_HANDSHAKE_TIMEOUT (default 6: about two minutes). */
  maxRetransmissions?: number;
  /** ms to complete the handshake, whatever the retransmissions (default 60000; 0: only the retransmission give-up). */
  handshakeTimeout?: number;
  /** After the handshake: ms without a datagram from the peer before 'error' ERR_TLS_IDLE_TIMEOUT (0 = never). Client default 0, server default 300000. */
  idleTimeout?: number;
  /** 'DTLSv1.2' or 'DTLSv1.3': by default DTLS 1.3, and DTLS 1.2 with a peer that speaks only that. */
  minVersion?: 'DTLSv1.2' | 'DTLSv1.3';
  maxVersion?: 'DTLSv1.2' | 'DTLSv1.3';
}

/** Options of node's TLS ones that mean nothing over UDP. */
type StreamOnly = 'socket' | 'path' | 'highWaterMark' | 'allowHalfOpen' | 'timeout' | 'lookup' | 'family' | 'minVersion' | 'maxVersion';

export interface DTLSConnectOptions extends Omit<ConnectionOptions, StreamOnly>, DtlsTransportOptions {
  /**
   * Offer connection IDs (RFC 9146): the CID we want in the server's records, or an empty
   * Buffer to put the server's CID in ours without asking for one (the usual client choice:
   * it is the client whose address changes).
   */
  connectionId?: Uint8Array;
  host?: string;
  port: number;
  /** Send and receive on this dgram socket (bound or not) instead of making one; it is left open on close. */
  socket?: dgram.Socket;
  /** The socket type to make (default: udp6 for an IPv6 literal host, else udp4). */
  type?: 'udp4' | 'udp6';
  localAddress?: string;
  localPort?: number;
}

export interface DTLSServerOptions extends Omit<TlsServerOptions, 'highWaterMark' | 'allowHalfOpen' | 'handshakeTimeout' | 'minVersion' | 'maxVersion'>, DtlsTransportOptions {
  /** The socket type (default: udp6 when listening on an IPv6 literal, else udp4). */
  type?: 'udp4' | 'udp6';
  /** dgram's reuseAddr / ipv6Only. */
  reuseAddr?: boolean;
  ipv6Only?: boolean;
  /**
   * dgram's recvBufferSize / sendBufferSize: the kernel's buffers for the server's one UDP
   * socket, which every association shares. A busy server wants a larger receive buffer than
   * the system default (about 208 KiB on Linux, capped by net.core.rmem_max): DTLS 1.3
   * ClientHellos with hybrid shares come in fragments, and a burst of them overflows it.
   */
  recvBufferSize?: number;
  sendBufferSize?: number;
  /**
   * Associations still in their handshake (default 256). A client that proved its address
   * (cookie) when the table is full takes the place of the oldest half-open association,
   * so peers that complete the cookie exchange and stall cannot lock others out.
   */
  maxHalfOpen?: number;
  /** Half-open associations one IP address may hold (default 32); beyond it its own oldest makes room. */
  maxHalfOpenPerAddress?: number;
  /** While the half-open table is at least half full, handshakes older than this many ms are dropped (default 5000). */
  halfOpenTimeoutUnderPressure?: number;
  /** All associations (default 10000): ClientHellos beyond it are dropped. */
  maxConnections?: number;
  /** Rotate the cookie secret after this many ms (default 5 minutes). */
  cookieRotateMs?: number;
  /**
   * Connection IDs (RFC 9146): each association asks clients that offer the extension for a
   * random CID of this many bytes (true: 8), and datagrams carrying it reach the association
   * from whatever address they come (a client behind a NAT that rebinds keeps its association).
   */
  connectionIds?: boolean | number;
}

const unsupported = (option: string, why: string) => new TLSError('internal_error', `option ${option} ${why}`, { code: 'ERR_TLS_UNSUPPORTED_OPTION' });

/** The DTLS versions by name, and the TLS version whose handshake each runs (RFC 6347, RFC 9147). */
const DTLS_VERSIONS: Readonly<Record<string, TLSVersionName>> = { 'DTLSv1.2': 'TLSv1.2', 'DTLSv1.3': 'TLSv1.3' };

/**
 * minVersion/maxVersion ('DTLSv1.2', 'DTLSv1.3') as the engine's TLS versions. Left out, the
 * engine's defaults (config.ts): DTLS 1.3 with DTLS 1.2 for peers that speak only that (its
 * supported_versions tells them apart).
 */
function dtlsVersions(o: { minVersion?: unknown; maxVersion?: unknown }): { minVersion: TLSVersionName; maxVersion: TLSVersionName } {
  const pick = (name: 'minVersion' | 'maxVersion', fallback: TLSVersionName): TLSVersionName => {
    const v = o[name];
    if (v === undefined) return fallback;
    const tls = typeof v === 'string' ? DTLS_VERSIONS[v] : undefined;
    if (!tls) throw new TLSError('internal_error', `${name} ${String(v)} is not supported: DTLSv1.2 or DTLSv1.3`, { code: 'ERR_TLS_INVALID_PROTOCOL_VERSION' });
    return tls;
  };
  const versions = { minVersion: pick('minVersion', DEFAULT_MIN_VERSION), maxVersion: pick('maxVersion', DEFAULT_MAX_VERSION) };
  if (versions.minVersion === 'TLSv1.3' && versions.maxVersion === 'TLSv1.2') {
    throw new TLSError('internal_error', 'minVersion is above maxVersion', { code: 'ERR_TLS_INVALID_PROTOCOL_VERSION' });
  }
  return versions;
}

function checkDtlsCommon(o: Record<string, unknown>): void {
  dtlsVersions(o);
  for (const name of ['mtu', 'retransmitMs', 'handshakeTimeout', 'idleTimeout']) {
    const v = o[name];
    if (v !== undefined && !(typeof v === 'number' && v >= 0 && Number.isFinite(v))) {
      throw new TLSError('internal_error', `${name} must be a non-negative number`, { code: 'ERR_TLS_INVALID_OPTION' });
    }
  }
}

/** `ciphers` and `ciphersuites` map to TLS 1.2 and 1.3 suites; DTLS keeps those of the versions it may speak. */
function dtlsSuites(suites: string[] | undefined, versions: { minVersion: TLSVersionName; maxVersion: TLSVersionName }): string[] | undefined {
  const allowed = new Set<string>([versions.minVersion, versions.maxVersion]);
  return suites?.filter((n) => allowed.has(cipherSuiteByName(n)?.version ?? ''));
}

function stripVersions<T extends object>(o: T): T {
  const { minVersion: _min, maxVersion: _max, ...rest } = o as T & { minVersion?: unknown; maxVersion?: unknown };
  return rest as T;
}

function transportOptions(o: DtlsTransportOptions) {
  return {
    ...(o.mtu !== undefined ? { mtu: o.mtu } : {}),
    ...(o.retransmitMs !== undefined ? { retransmitMs: o.retransmitMs } : {}),
    ...(o.maxRetransmissions !== undefined ? { maxRetransmissions: o.maxRetransmissions } : {}),
  };
}

// ---- the socket -----------------------------------------------------------------------------

type SendCallback = (error: Error | null) => void;

/** How a DTLSSocket reaches its peer: the client's own UDP link, or the server's shared socket. */
interface Link {
  send(datagram: Uint8Array, cb?: SendCallback): void;
  /** Our side is done: stop listening; close the UDP socket if it is ours (after pending sends). */
  release(): void;
  address(): AddressInfo | Record<string, never>;
  remote(): { address: string; port: number; family: string } | undefined;
  ref(): void;
  unref(): void;
}

interface SocketSetup {
  isServer: boolean;
  conn: DtlsConnection;
  link: Link;
  server?: DTLSServer;
  client?: ResolvedClient;
  handshakeTimeout: number;
  idleTimeout: number;
  enableTrace: boolean;
  /** Server: whether it asks for client certificates, and refuses untrusted ones (authorized/authorizationError). */
  clientAuth?: { requestCert?: boolean | undefined; rejectUnauthorized?: boolean | undefined };
}

const kSetup = Symbol('tsls.dtlsSocketSetup');
const kReceive = Symbol('tsls.dtlsReceive');
const kStart = Symbol('tsls.dtlsStart');
const kSecured = Symbol('tsls.dtlsSecured');
const kForget = Symbol('tsls.dtlsForget');

const destroyedError = () => Object.assign(new Error('the DTLS socket is closed'), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });

/**
 * One DTLS association. Made by `connectDtls` (client) and by DTLSServer (server side, handed
 * out in 'secureConnection'); not constructed directly.
 */
export class DTLSSocket extends EventEmitter {
  /** Always true, as on TLS sockets. */
  readonly encrypted = true;
  /** Client: the server's certificate was verified (chain and name). Server (requestCert): the client's was. */
  authorized = false;
  authorizationError: string | null = null;
  /** The negotiated ALPN protocol, false when none (null before the handshake). */
  alpnProtocol: string | false | null = null;
  /** The SNI we sent (client). */
  servername: string | false | null = null;

  private readonly conn: DtlsConnection;
  private readonly isServer: boolean;
  private readonly link: Link;
  private readonly server: DTLSServer | undefined;
  private readonly client: ResolvedClient | undefined;
  private readonly handshakeTimeout: number;
  private idleTimeout: number;
  private readonly events = new EventQueue(() => this.flush());
  private secureEstablished = false;
  private controlReleased = false;
  private closed = false;
  private started = false;
  private refed = true;
  private readonly createdAt = Date.now();
  private lastReceived = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private pending: { data: Uint8Array; cb: SendCallback | undefined }[] = [];
  private verified: Verified | undefined;
  private readonly clientAuth: SocketSetup['clientAuth'];
  /** The client's newest session (encoded), and whether it came before 'secureConnect' and waits for it. */
  private lastSession: Buffer | undefined;
  private sessionWaits = false;

  /** @internal */
  constructor(setup: { [kSetup]: SocketSetup }) {
    super();
    const s = setup[kSetup];
    this.isServer = s.isServer;
    this.conn = s.conn;
    this.link = s.link;
    this.server = s.server;
    this.client = s.client;
    this.handshakeTimeout = s.handshakeTimeout;
    this.idleTimeout = s.idleTimeout;
    this.clientAuth = s.clientAuth;
    if (this.client) this.servername = this.client.servername ?? false;
    if (s.enableTrace) traceConnection(this.conn as unknown as Connection, this.isServer ? 'server' : 'client');
    this.conn.on('handshake', () => this.later(() => this.onHandshake()));
    this.conn.on('data', (d) => this.later(() => this.emit('message', asBuffer(d))));
    this.conn.on('end', () => this.later(() => this.onPeerClose()));
    this.conn.on('keylog', (line) => this.later(() => this.onKeylog(line)));
    this.conn.on('error', (err) => this.later(() => this.destroy(err)));
    if (!this.isServer) this.conn.on('session', (session) => this.later(() => this.onSession(session)));
  }

  /** @internal The client verifies here (the engine's verifyPeer hook). */
  static verifier(get: () => DTLSSocket | undefined): (info: PeerVerification) => void {
    return (info) => {
      const socket = get()!;
      socket.verified = verifyServerCertificate(socket.client!, info);
    };
  }

  // ---- engine calls -----------------------------------------------------------------------

  /** Run engine work, send what it produced, deliver the events it raised, re-arm the timer. */
  private engine(work: () => void): void {
    try {
      work();
    } finally {
      this.flush();
      this.events.run();
      this.schedule();
    }
  }

  private later(event: () => void): void {
    this.events.push(event);
  }

  private flush(cb?: SendCallback): void {
    const out = this.conn.takeDatagrams();
    if (out.length === 0) {
      if (cb) process.nextTick(cb, null);
      return;
    }
    // The caller's callback follows the last datagram of what its call produced.
    for (let i = 0; i < out.length; i++) this.link.send(out[i]!, i === out.length - 1 ? cb : undefined);
  }

  /** @internal Start the handshake (client: once the UDP socket is connected). */
  [kStart](): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.engine(() => this.conn.start());
  }

  /** @internal A datagram from the peer. */
  [kReceive](datagram: Uint8Array): void {
    if (this.closed) return;
    this.lastReceived = Date.now();
    this.started = true;
    this.engine(() => this.conn.feedDatagram(datagram));
  }

  // ---- timers ---------------------------------------------------------------------------------

  private deadline(): { at: number; retransmit: boolean } | undefined {
    if (this.closed) return undefined;
    const retransmit = this.conn.nextTimeout();
    let at = retransmit ?? Infinity;
    if (!this.secureEstablished && this.handshakeTimeout > 0) at = Math.min(at, this.createdAt + this.handshakeTimeout);
    if (this.secureEstablished && this.idleTimeout > 0) at = Math.min(at, this.lastReceived + this.idleTimeout);
    return at === Infinity ? undefined : { at, retransmit: retransmit !== undefined };
  }

  /** One setTimeout for everything: moved earlier when needed, left alone when the deadline moved later (it re-arms when it fires). */
  private schedule(): void {
    const d = this.deadline();
    if (!d) return this.clearTimer();
    if (!this.timer || d.at < this.timerAt) {
      this.clearTimer();
      this.timerAt = d.at;
      this.timer = setTimeout(() => this.onTimer(), Math.max(1, d.at - Date.now()));
    }
    // Only a flight waiting for its answer keeps the process alive.
    if (d.retransmit && this.refed) this.timer.ref();
    else this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.closed) return;
    const now = Date.now();
    if (!this.secureEstablished && this.handshakeTimeout > 0 && now >= this.createdAt + this.handshakeTimeout) {
      return void this.destroy(new TLSError('user_canceled', `DTLS handshake not complete after ${this.handshakeTimeout} ms`, { code: 'ERR_TLS_HANDSHAKE_TIMEOUT' }));
    }
    if (this.secureEstablished && this.idleTimeout > 0 && now >= this.lastReceived + this.idleTimeout) {
      // The peer is presumed gone; if it is not, a close_notify tells it more than a fatal alert would.
      this.conn.close();
      this.flush();
      return this.finish(new TLSError('internal_error', `nothing received from the peer for ${this.idleTimeout} ms`, { code: 'ERR_TLS_IDLE_TIMEOUT' }));
    }
    this.engine(() => this.conn.handleTimeout(now));
  }

  // ---- events -----------------------------------------------------------------------------------

  private onHandshake(): void {
    if (this.closed) return;
    this.secureEstablished = true;
    this.lastReceived = Date.now();
    this.alpnProtocol = this.conn.alpnProtocol;
    if (this.isServer) {
      ({ authorized: this.authorized, authorizationError: this.authorizationError } = clientAuthorization(this.clientAuth ?? {}, this.conn));
    } else if (this.conn.sessionReused) {
      // A resumed session was only handed out by an authorized association (see onSession).
      this.authorized = true;
    } else {
      ({ authorized: this.authorized, authorizationError: this.authorizationError } = authorization(this.verified));
    }
    this.server?.[kSecured](this);
    this.emit('secure');
    if (this.closed) return;
    if (this.isServer) {
      this.controlReleased = true;
      this.server?.emit('secureConnection', this);
    } else {
      this.emit('secureConnect');
      if (this.sessionWaits && this.lastSession && !this.closed) this.emit('session', this.lastSession);
      this.sessionWaits = false;
    }
    const pending = this.pending;
    this.pending = [];
    for (const p of pending) this.send(p.data, p.cb);
  }

  private onKeylog(line: string): void {
    emitKeylog(this, this.server, line);
  }

  /**
   * A session to resume later. It carries no record of how the server was checked, so only
   * an authorized association hands one out: resuming never skips verification. As node:tls,
   * 'session' comes after 'secureConnect' (a TLS 1.2 session is ready before the handshake ends).
   */
  private onSession(session: TLSSession): void {
    if (this.closed || !(this.conn.sessionReused || this.verified?.ok === true)) return;
    this.lastSession = Buffer.from(encodeSession(session));
    if (this.secureEstablished) this.emit('session', this.lastSession);
    else this.sessionWaits = true;
  }

  /** close_notify from the peer: no half-close over datagrams, answer with ours and close. */
  private onPeerClose(): void {
    if (this.closed) return;
    this.emit('end');
    this.close();
  }

  // ---- sending and closing ----------------------------------------------------------------------

  /**
   * Send one record of application data (one datagram; at most 16384 bytes). Before the
   * handshake completes it is queued. `cb(err)` follows the datagram's hand-off to the kernel.
   */
  send(data: Uint8Array | string, cb?: SendCallback): void {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    const fail = (err: Error) => {
      if (cb) process.nextTick(cb, err);
      else throw err;
    };
    if (this.closed) return fail(this.conn.error ?? destroyedError());
    if (!this.secureEstablished) {
      if (bytes.length > 2 ** 14) return fail(new TLSError('internal_error', 'a DTLS record holds at most 16384 bytes', { code: 'ERR_TLS_RECORD_TOO_LARGE' }));
      this.pending.push({ data: bytes, cb });
      return;
    }
    try {
      this.conn.send(bytes);
    } catch (err) {
      return fail(err instanceof Error ? err : new Error(String(err)));
    }
    this.flush(cb);
  }

  /**
   * DTLS 1.3 KeyUpdate (a tsls addition, as TLSSocket's): new sending keys, used once the peer
   * acknowledges the KeyUpdate (RFC 9147 8); with `requestPeer` the peer is asked to update too.
   * Called while an earlier KeyUpdate waits for its ACK, the update is queued and sent once that
   * ACK comes (calls in the meantime make one update). Throws ERR_TLS_INVALID_STATE before the
   * handshake or over DTLS 1.2.
   */
  keyUpdate(requestPeer = true): void {
    this.engine(() => this.conn.keyUpdate(requestPeer));
  }

  /** Send close_notify, then release the association (no waiting for the peer's: datagrams have no half-close). */
  close(callback?: () => void): this {
    if (callback) this.once('close', callback);
    if (this.closed) return this;
    if (!this.secureEstablished) return this.destroy();
    this.conn.close();
    this.flush();
    this.finish(undefined);
    return this;
  }

  /** Tear the association down at once: a fatal alert (user_canceled without `error`), no close_notify. */
  destroy(error?: Error): this {
    if (this.closed) return this;
    const state = this.conn.state;
    if (state !== 'DEAD' && state !== 'CLOSED') {
      // The engine's 'error' event for this lands in `events`, which finish() drops.
      this.conn.destroy(destroyAlert(error));
      this.flush();
    }
    this.finish(error);
    return this;
  }

  private finish(error: Error | undefined): void {
    this.closed = true;
    this.clearTimer();
    this.events.clear();
    const pending = this.pending;
    this.pending = [];
    this.link.release();
    this.server?.[kForget](this);
    process.nextTick(() => {
      for (const p of pending) p.cb?.(error ?? destroyedError());
      if (error) {
        if (this.server && !this.controlReleased) {
          // Before 'secureConnection' the application has no handle on this socket.
          this.server.emit('tlsClientError', error, this);
        } else if (!this.server || this.listenerCount('error') > 0) {
          this.emit('error', error);
        }
      }
      this.emit('close', error !== undefined);
    });
  }

  // ---- what node:tls users ask ----------------------------------------------------------------

  /** 'DTLSv1.3' or 'DTLSv1.2' (what was negotiated); 'unknown' before the handshake; null once closed without one. */
  getProtocol(): string | null {
    return this.conn.protocol ?? (this.closed ? null : 'unknown');
  }

  getCipher(): { name: string; standardName: string; version: string } | undefined {
    return this.conn.cipher;
  }

  /** The key exchange, as node:tls reports it (a hybrid by its TLS name, e.g. X25519MLKEM768). */
  getEphemeralKeyInfo(): EphemeralKeyInfo | null {
    return ephemeralKeyInfo(this.isServer, this.conn.group);
  }

  /** Client: the newest session to pass as `session` to a later connectDtls, if the server gave one. */
  getSession(): Buffer | undefined {
    return this.lastSession;
  }

  /** The handshake resumed a session (an abbreviated handshake). */
  isSessionReused(): boolean {
    return this.conn.sessionReused;
  }

  /** The peer's certificate as node shows it; `{}` when there is none. */
  getPeerCertificate(detailed: true): DetailedPeerCertificate | Record<string, never>;
  getPeerCertificate(detailed?: false): PeerCertificate | Record<string, never>;
  getPeerCertificate(detailed?: boolean): PeerCertificate | DetailedPeerCertificate | Record<string, never>;
  getPeerCertificate(detailed = false): PeerCertificate | DetailedPeerCertificate | Record<string, never> {
    return peerCertificate(this.conn.peerCertificates, this.verified, detailed);
  }

  getPeerX509Certificate(): X509Certificate | undefined {
    return peerX509Certificate(this.conn.peerCertificates);
  }

  /** RFC 5705 keying material (DTLS-SRTP: label 'EXTRACTOR-dtls_srtp'); `context` undefined means none. */
  exportKeyingMaterial(length: number, label: string, context?: Uint8Array): Buffer {
    return asBuffer(this.conn.exportKeyingMaterial(length, label, context));
  }

  /** The DTLS-SRTP protection profile agreed on (RFC 5764), if any. */
  get srtpProfile(): string | undefined {
    return this.conn.srtpProfile;
  }

  /** The engine beneath (trace, state, group, recordStats). */
  get connection(): DtlsConnection {
    return this.conn;
  }

  /** After the handshake: change the idle timeout (ms, 0 = never). */
  setIdleTimeout(ms: number): this {
    this.idleTimeout = ms;
    this.lastReceived = Date.now();
    this.schedule();
    return this;
  }

  /** The local address of the UDP socket. */
  address(): AddressInfo | Record<string, never> {
    return this.link.address();
  }

  get remoteAddress(): string | undefined {
    return this.link.remote()?.address;
  }
  get remotePort(): number | undefined {
    return this.link.remote()?.port;
  }
  get remoteFamily(): string | undefined {
    return this.link.remote()?.family;
  }
  /** Handshake complete and not closed. */
  get established(): boolean {
    return this.secureEstablished && !this.closed;
  }
  get destroyed(): boolean {
    return this.closed;
  }

  /** Let the process exit while this socket is open (its own UDP socket and timer). */
  unref(): this {
    this.refed = false;
    this.link.unref();
    this.timer?.unref();
    return this;
  }

  ref(): this {
    this.refed = true;
    this.link.ref();
    this.schedule();
    return this;
  }
}

// ---- client ----------------------------------------------------------------------------------

/** The client's link: a connected UDP socket of its own, or sends to host:port on the caller's socket. */
class ClientLink implements Link {
  private pendingSends = 0;
  private released = false;
  private peer: { address: string; port: number; family: string } | undefined;
  private connected = false;
  private readonly onMessage: (msg: Buffer, rinfo: dgram.RemoteInfo) => void;

  constructor(
    readonly udp: dgram.Socket,
    private readonly owns: boolean,
    receive: (msg: Buffer) => void,
  ) {
    this.onMessage = (msg, rinfo) => {
      if (this.released) return;
      if (!this.connected && (!this.peer || rinfo.address !== this.peer.address || rinfo.port !== this.peer.port)) return;
      receive(msg);
    };
    udp.on('message', this.onMessage);
  }

  /** The UDP socket was connected (our own) or the peer address resolved (the caller's). */
  ready(peer: { address: string; port: number; family: string }, connected: boolean): void {
    this.peer = peer;
    this.connected = connected;
  }

  send(datagram: Uint8Array, cb?: SendCallback): void {
    if (this.released || !this.peer) {
      if (cb) process.nextTick(cb, destroyedError());
      return;
    }
    this.pendingSends++;
    const done = (err: Error | null) => {
      this.pendingSends--;
      if (this.pendingSends === 0 && this.released) this.closeUdp();
      cb?.(err);
    };
    try {
      if (this.connected) this.udp.send(datagram, done);
      else this.udp.send(datagram, this.peer.port, this.peer.address, done);
    } catch (err) {
      done(err as Error);
    }
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.udp.off('message', this.onMessage);
    // What we sent last (close_notify, an alert) leaves before the socket closes.
    if (this.pendingSends === 0) this.closeUdp();
  }

  private closeUdp(): void {
    if (!this.owns) return;
    try {
      this.udp.close();
    } catch {
      // already closed
    }
  }

  address(): AddressInfo | Record<string, never> {
    try {
      return this.udp.address();
    } catch {
      return {};
    }
  }

  remote() {
    return this.peer;
  }

  ref(): void {
    if (this.owns) this.udp.ref();
  }

  unref(): void {
    if (this.owns) this.udp.unref();
  }
}

export type SecureConnectListener = () => void;

/**
 * Open a DTLS association to `host:port` (DTLS 1.3 by default, 1.2 with a peer that has only
 * that), as tls.connect() over UDP. Option errors throw at once; address and handshake errors
 * arrive as 'error'. `listener` listens for 'secureConnect'.
 */
export function connectDtls(options: DTLSConnectOptions, listener?: SecureConnectListener): DTLSSocket {
  const o = options as DTLSConnectOptions & Record<string, unknown>;
  checkDtlsCommon(o);
  if (!Number.isInteger(options.port) || options.port <= 0 || options.port > 65535) {
    throw new TLSError('internal_error', `port must be 1 to 65535, not ${String(options.port)}`, { code: 'ERR_TLS_INVALID_OPTION' });
  }
  const host = options.host ?? 'localhost';
  const resolved = resolveClientOptions({ ...stripVersions(options), host } as ConnectionOptions);
  const versions = dtlsVersions(o);
  const suites = dtlsSuites(resolved.engine.cipherSuites, versions);
  if (options.connectionId !== undefined && (!(options.connectionId instanceof Uint8Array) || options.connectionId.length > 255)) {
    throw new TLSError('internal_error', 'connectionId must be a Buffer of at most 255 bytes', { code: 'ERR_TLS_INVALID_OPTION' });
  }
  const engine = {
    ...resolved.engine,
    ...versions,
    ...(suites ? { cipherSuites: suites } : {}),
    ...transportOptions(options),
    ...(options.connectionId ? { connectionId: options.connectionId } : {}),
  };
  let socket: DTLSSocket | undefined;
  const conn = DtlsConnection.client({ ...engine, verifyPeer: DTLSSocket.verifier(() => socket) });

  const owns = options.socket === undefined;
  const type = options.type ?? (isIP(host) === 6 ? 'udp6' : 'udp4');
  const udp = options.socket ?? dgram.createSocket({ type });
  const link = new ClientLink(udp, owns, (msg) => socket?.[kReceive](msg));
  socket = new DTLSSocket({
    [kSetup]: {
      isServer: false,
      conn,
      link,
      client: resolved,
      handshakeTimeout: options.handshakeTimeout ?? 60_000,
      idleTimeout: options.idleTimeout ?? 0,
      enableTrace: resolved.enableTrace,
    },
  });
  if (listener) socket.once('secureConnect', listener);
  const s = socket;
  const onUdpError = (err: NodeJS.ErrnoException) => {
    // ICMP port unreachable is a soft error over UDP (RFC 6347 4.1.1.1): retransmission decides.
    if (err.code === 'ECONNREFUSED') return;
    s.destroy(err);
  };
  udp.on('error', onUdpError);
  s.once('close', () => udp.off('error', onUdpError));
  const family = (f: string | number) => (f === 6 || f === 'IPv6' ? 'IPv6' : 'IPv4');

  if (owns) {
    const connectUdp = () =>
      udp.connect(options.port, host, ((err?: Error) => {
        if (s.destroyed) return;
        if (err) return void s.destroy(err);
        const r = udp.remoteAddress();
        link.ready({ address: r.address, port: r.port, family: family(r.family) }, true);
        s[kStart]();
      }) as () => void);
    if (options.localAddress !== undefined || options.localPort !== undefined) {
      udp.bind({ port: options.localPort ?? 0, ...(options.localAddress !== undefined ? { address: options.localAddress } : {}) }, connectUdp);
    } else {
      connectUdp();
    }
  } else {
    let connected: AddressInfo | undefined;
    try {
      connected = udp.remoteAddress();
    } catch {
      // not connected: send to host:port
    }
    if (connected) {
      link.ready({ address: connected.address, port: connected.port, family: family(connected.family) }, true);
      process.nextTick(() => s[kStart]());
    } else {
      lookup(host, { family: type === 'udp6' ? 6 : 4 }, (err, address, fam) => {
        if (s.destroyed) return;
        if (err) return void s.destroy(err);
        link.ready({ address, port: options.port, family: family(fam) }, false);
        s[kStart]();
      });
    }
  }
  return s;
}

// ---- server ----------------------------------------------------------------------------------

export type SecureConnectionListener = (socket: DTLSSocket) => void;

/** An epoch-0 unfragmented ClientHello: type 22, epoch 0, msg_type 1 (RFC 6347 4.2.8). */
function isClientHello(d: Uint8Array): boolean {
  return d.length >= 59 && d[0] === 22 && d[3] === 0 && d[4] === 0 && d[13] === 1;
}
/** The ClientHello's random: record header 13 + handshake header 12 + client_version 2. */
const helloRandom = (d: Uint8Array) => Buffer.from(d.subarray(27, 59));

/** Counters of what the server did with datagrams that had no association. */
export interface DTLSServerStats {
  /** Cookies sent: HelloVerifyRequests (DTLS 1.2) and stateless HelloRetryRequests (DTLS 1.3), for cookieless or stale-cookie ClientHellos. */
  helloVerifyRequests: number;
  /** Datagrams the cookie guard could not judge (not a whole ClientHello). */
  dropped: number;
  /** Valid ClientHellos refused because maxHalfOpen associations were in their handshake (0 since half-open associations are evicted instead). */
  refusedHalfOpen: number;
  /** Half-open associations dropped to make room (table or per-address limit full) or timed out early under pressure. */
  evictedHalfOpen: number;
  /** Valid ClientHellos refused because maxConnections associations existed. */
  refusedFull: number;
  /** Associations created. */
  accepted: number;
}

/**
 * A DTLS server on ONE UDP socket: peers are told apart by address:port. Events:
 * 'secureConnection' (socket), 'tlsClientError' (err, socket), 'keylog' (line, socket),
 * 'listening', 'close', 'error'.
 */
export class DTLSServer extends EventEmitter {
  /** Associations still in their handshake; ClientHellos beyond it are dropped. */
  maxHalfOpen: number;
  /** All associations; ClientHellos beyond it are dropped. */
  maxConnections: number;
  /** Half-open associations one IP address may hold. */
  maxHalfOpenPerAddress: number;
  /** Handshake time allowed while the half-open table is at least half full. */
  halfOpenTimeoutUnderPressure: number;
  readonly stats: DTLSServerStats = { helloVerifyRequests: 0, dropped: 0, refusedHalfOpen: 0, refusedFull: 0, evictedHalfOpen: 0, accepted: 0 };

  private udp: dgram.Socket | undefined;
  private readonly options: DTLSServerOptions;
  /** One engine options object for every association: the engine keys its session cache and ticket keys by it. */
  private readonly engine: EngineDtlsServerOptions;
  private readonly enableTrace: boolean;
  private readonly guard: DtlsCookieGuard;
  private readonly peers = new Map<string, DTLSSocket>();
  private readonly hellos = new WeakMap<DTLSSocket, Buffer>();
  private readonly keys = new WeakMap<DTLSSocket, { key: string; address: string; port: number; family: string }>();
  /** Associations by the CID they handed out (hex), when connectionIds is on; its length. */
  private readonly byCid = new Map<string, DTLSSocket>();
  private readonly cidLength: number;
  /** Associations in their handshake, oldest first (a Map keeps insertion order), with when and from where they came. */
  private halfOpen = new Map<DTLSSocket, { since: number; address: string }>();
  private halfOpenByAddress = new Map<string, number>();
  private closing = false;
  private udpClosed = false;
  private pendingSends = 0;
  private closeWhenDrained = false;

  constructor(options: DTLSServerOptions, secureConnectionListener?: SecureConnectionListener) {
    super();
    const o = options as DTLSServerOptions & Record<string, unknown>;
    checkDtlsCommon(o);
    if (o.SNICallback !== undefined && o.SNICallback !== null) throw unsupported('SNICallback', 'is not supported over DTLS yet');
    const resolved = resolveServerOptions(stripVersions(options) as TlsServerOptions);
    const versions = dtlsVersions(o);
    const suites = dtlsSuites(resolved.engine.cipherSuites, versions);
    this.engine = { ...resolved.engine, ...versions, ...(suites ? { cipherSuites: suites } : {}), ...transportOptions(options) };
    this.enableTrace = resolved.enableTrace;
    this.options = options;
    this.maxHalfOpen = options.maxHalfOpen ?? 256;
    this.maxHalfOpenPerAddress = options.maxHalfOpenPerAddress ?? 32;
    this.halfOpenTimeoutUnderPressure = options.halfOpenTimeoutUnderPressure ?? 5000;
    this.maxConnections = options.maxConnections ?? 10_000;
    const cids = options.connectionIds;
    this.cidLength = cids === true ? 8 : typeof cids === 'number' ? cids : 0;
    if (!Number.isInteger(this.cidLength) || this.cidLength < 0 || this.cidLength > 255) {
      throw new TLSError('internal_error', 'connectionIds must be true or a CID length of 1 to 255', { code: 'ERR_TLS_INVALID_OPTION' });
    }
    // With DTLS 1.3 allowed, a ClientHello offering it gets a stateless HelloRetryRequest with a
    // cookie (RFC 9147 5.1), chosen from the same versions, suites and groups the associations use.
    this.guard = new DtlsCookieGuard(this.engine.provider!, {
      ...(options.cookieRotateMs !== undefined ? { rotateMs: options.cookieRotateMs } : {}),
      server: this.engine,
    });
    if (secureConnectionListener) this.on('secureConnection', secureConnectionListener);
  }

  /** Bind the UDP socket (as dgram's bind / net's listen). */
  listen(port?: number, host?: string, callback?: () => void): this;
  listen(port?: number, callback?: () => void): this;
  listen(port?: number, host?: string | (() => void), callback?: () => void): this {
    if (typeof host === 'function') [callback, host] = [host, undefined];
    if (this.udp) throw Object.assign(new Error('the DTLS server is already listening'), { code: 'ERR_SOCKET_ALREADY_BOUND' });
    const type = this.options.type ?? (host !== undefined && isIP(host) === 6 ? 'udp6' : 'udp4');
    const udp = dgram.createSocket({
      type,
      ...(this.options.reuseAddr !== undefined ? { reuseAddr: this.options.reuseAddr } : {}),
      ...(this.options.ipv6Only !== undefined ? { ipv6Only: this.options.ipv6Only } : {}),
      ...(this.options.recvBufferSize !== undefined ? { recvBufferSize: this.options.recvBufferSize } : {}),
      ...(this.options.sendBufferSize !== undefined ? { sendBufferSize: this.options.sendBufferSize } : {}),
    });
    this.udp = udp;
    udp.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    udp.on('listening', () => this.emit('listening'));
    udp.on('error', (err) => this.emit('error', err));
    udp.on('close', () => {
      this.udpClosed = true;
      this.emit('close');
    });
    if (callback) this.once('listening', callback);
    udp.bind(port ?? 0, host);
    return this;
  }

  /** dgram's name for listen(). */
  bind(port?: number, host?: string, callback?: () => void): this {
    return this.listen(port, host, callback);
  }

  address(): AddressInfo {
    if (!this.udp) throw Object.assign(new Error('the DTLS server is not listening'), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
    return this.udp.address();
  }

  /** The UDP socket (after listen). */
  get socket(): dgram.Socket | undefined {
    return this.udp;
  }

  /** The associations by "address:port" ("[v6]:port"), handshaking or established. */
  get associations(): ReadonlyMap<string, DTLSSocket> {
    return this.peers;
  }

  /** Associations still in their handshake. */
  get halfOpenCount(): number {
    return this.halfOpen.size;
  }

  /** net.Server's getConnections. */
  getConnections(cb: (err: Error | null, count: number) => void): this {
    process.nextTick(cb, null, this.peers.size);
    return this;
  }

  /** close_notify to every association, then close the UDP socket (after those datagrams left). */
  close(callback?: (err?: Error) => void): this {
    if (!this.udp || this.udpClosed) {
      if (callback) process.nextTick(callback, Object.assign(new Error('the DTLS server is not running'), { code: 'ERR_SERVER_NOT_RUNNING' }));
      return this;
    }
    if (callback) this.once('close', () => callback());
    if (this.closing) return this;
    this.closing = true;
    for (const peer of [...this.peers.values()]) peer.close();
    this.closeWhenDrained = true;
    if (this.pendingSends === 0) this.closeUdp();
    return this;
  }

  ref(): this {
    this.udp?.ref();
    return this;
  }

  unref(): this {
    this.udp?.unref();
    return this;
  }

  private closeUdp(): void {
    try {
      this.udp?.close();
    } catch {
      // already closed
    }
  }

  private sendTo(datagram: Uint8Array, port: number, address: string, cb?: SendCallback): void {
    const udp = this.udp;
    if (!udp) return;
    this.pendingSends++;
    const done = (err: Error | null) => {
      this.pendingSends--;
      if (this.pendingSends === 0 && this.closeWhenDrained) this.closeUdp();
      cb?.(err);
    };
    try {
      udp.send(datagram, port, address, done);
    } catch (err) {
      done(err as Error);
    }
  }

  private onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const key = rinfo.family === 'IPv6' ? `[${rinfo.address}]:${rinfo.port}` : `${rinfo.address}:${rinfo.port}`;
    if (this.cidLength > 0 && this.byCid.size > 0 && this.receiveByCid(msg, rinfo, key)) return;
    const peer = this.peers.get(key);
    // An established association gets everything but a new handshake (a ClientHello with a new random).
    if (peer && !(peer.established && isClientHello(msg) && !helloRandom(msg).equals(this.hellos.get(peer)!))) {
      return peer[kReceive](msg);
    }
    if (this.closing) return;
    const verdict = this.guard.check(msg, key);
    if (verdict.kind === 'drop') {
      this.stats.dropped++;
      return;
    }
    if (verdict.kind === 'verify') {
      // Stateless: the answer goes back and nothing about this client is kept.
      this.stats.helloVerifyRequests++;
      this.sendTo(verdict.datagram, rinfo.port, rinfo.address);
      return;
    }
    if (this.maxHalfOpen <= 0) {
      this.stats.refusedHalfOpen++;
      return;
    }
    if (this.peers.size - (peer ? 1 : 0) >= this.maxConnections) {
      this.stats.refusedFull++;
      return;
    }
    this.makeHalfOpenRoom(rinfo.address);
    // RFC 6347 4.2.8: the client proved its address with the cookie and started over; the old association goes.
    peer?.destroy();
    this.accept(msg, rinfo, key, verdict);
  }

  /**
   * Room for one more half-open association from `address`, which proved it owns that
   * address: under pressure (table half full) stalled handshakes past the shorter timeout
   * go first; then, if the address is at its own limit, its oldest; if the table is full,
   * the oldest of all. Who is evicted is one that has had the longest to finish and did not.
   */
  private makeHalfOpenRoom(address: string): void {
    if (this.halfOpen.size >= this.maxHalfOpen / 2) {
      const cutoff = Date.now() - this.halfOpenTimeoutUnderPressure;
      for (const [socket, { since }] of this.halfOpen) {
        if (since > cutoff) break;
        this.evict(socket, 'its handshake took too long while the server is under pressure');
      }
    }
    if ((this.halfOpenByAddress.get(address) ?? 0) >= this.maxHalfOpenPerAddress) {
      for (const [socket, info] of this.halfOpen) {
        if (info.address !== address) continue;
        this.evict(socket, `its address holds ${this.maxHalfOpenPerAddress} half-open associations`);
        break;
      }
    }
    while (this.halfOpen.size >= this.maxHalfOpen && this.halfOpen.size > 0) {
      this.evict(this.halfOpen.keys().next().value!, `${this.maxHalfOpen} associations are in their handshake`);
    }
  }

  private evict(socket: DTLSSocket, why: string): void {
    this.stats.evictedHalfOpen++;
    this.forgetHalfOpen(socket);
    socket.destroy(new TLSError('user_canceled', `half-open association dropped: ${why}`, { code: 'ERR_TLS_HALF_OPEN_EVICTED' }));
  }

  private forgetHalfOpen(socket: DTLSSocket): void {
    const info = this.halfOpen.get(socket);
    if (!info) return;
    this.halfOpen.delete(socket);
    const n = (this.halfOpenByAddress.get(info.address) ?? 1) - 1;
    if (n > 0) this.halfOpenByAddress.set(info.address, n);
    else this.halfOpenByAddress.delete(info.address);
  }

  /**
   * A record carrying a CID (DTLS 1.2's tls12_cid, RFC 9146; DTLS 1.3's unified header with
   * the C bit, RFC 9147 4) goes to the association that handed out that CID, from whatever
   * address. Once a record from a new address authenticated there and was the newest
   * received, replies go to that address (RFC 9146 6, RFC 9147 9: not on a forged, replayed
   * or late record). False when the datagram is not for an association known by CID.
   */
  private receiveByCid(msg: Buffer, rinfo: dgram.RemoteInfo, key: string): boolean {
    const cid = datagramCid(msg, this.cidLength);
    if (!cid) return false;
    const socket = this.byCid.get(Buffer.from(cid.buffer, cid.byteOffset, cid.length).toString('hex'));
    if (!socket) return false;
    const before = socket.connection.newestRecords;
    socket[kReceive](msg);
    const k = this.keys.get(socket);
    if (k && k.key !== key && socket.connection.newestRecords > before && !socket.destroyed) {
      if (this.peers.get(k.key) === socket) this.peers.delete(k.key);
      this.peers.get(key)?.destroy(); // an old association of the new address is displaced
      Object.assign(k, { key, address: rinfo.address, port: rinfo.port, family: rinfo.family });
      this.peers.set(key, socket);
    }
    return true;
  }

  private accept(hello: Buffer, rinfo: dgram.RemoteInfo, key: string, start: DtlsServerStart): void {
    const connectionId = this.cidLength > 0 ? this.freshCid() : undefined;
    // One shared options object keeps the session cache and ticket keys shared by every association.
    // Everything the cookie guard learned (the numbering, a stateless retry, a hello it put together from fragments).
    const { clientHelloSeq, recordSeq, helloRetry, clientHello } = start;
    const conn = DtlsConnection.server(this.engine, {
      clientHelloSeq,
      recordSeq,
      ...(helloRetry ? { helloRetry } : {}),
      ...(clientHello ? { clientHello } : {}),
      ...(connectionId ? { connectionId } : {}),
    });
    // Where replies go: the address the association was made from, or the newest one it proved by CID.
    const where = () => this.keys.get(socket) ?? { address: rinfo.address, port: rinfo.port, family: rinfo.family };
    const link: Link = {
      send: (d, cb) => this.sendTo(d, where().port, where().address, cb),
      release: () => {},
      address: () => (this.udp ? this.udp.address() : {}),
      remote: () => {
        const w = where();
        return { address: w.address, port: w.port, family: w.family };
      },
      ref: () => {},
      unref: () => {},
    };
    const socket = new DTLSSocket({
      [kSetup]: {
        isServer: true,
        conn,
        link,
        server: this,
        handshakeTimeout: this.options.handshakeTimeout ?? 60_000,
        idleTimeout: this.options.idleTimeout ?? 300_000,
        enableTrace: this.enableTrace,
        clientAuth: { requestCert: this.options.requestCert, rejectUnauthorized: this.options.rejectUnauthorized },
      },
    });
    this.stats.accepted++;
    this.peers.set(key, socket);
    this.keys.set(socket, { key, address: rinfo.address, port: rinfo.port, family: rinfo.family });
    this.hellos.set(socket, helloRandom(hello));
    if (connectionId) this.byCid.set(Buffer.from(connectionId).toString('hex'), socket);
    this.halfOpen.set(socket, { since: Date.now(), address: rinfo.address });
    this.halfOpenByAddress.set(rinfo.address, (this.halfOpenByAddress.get(rinfo.address) ?? 0) + 1);
    socket[kReceive](hello);
  }

  /** A random CID no live association holds; none when short CIDs are half used up (the search stays short). */
  private freshCid(): Uint8Array | undefined {
    if (this.byCid.size >= 2 ** (8 * Math.min(this.cidLength, 4)) / 2) return undefined;
    for (;;) {
      const cid = randomBytes(this.cidLength);
      if (!this.byCid.has(cid.toString('hex'))) return new Uint8Array(cid);
    }
  }

  /** @internal The handshake of `socket` completed. */
  [kSecured](socket: DTLSSocket): void {
    this.forgetHalfOpen(socket);
  }

  /** @internal `socket` closed: it leaves the map. */
  [kForget](socket: DTLSSocket): void {
    this.forgetHalfOpen(socket);
    const k = this.keys.get(socket);
    if (k && this.peers.get(k.key) === socket) this.peers.delete(k.key);
    const cid = socket.connection.connectionIds?.receive ?? socket.connection.ownConnectionId;
    if (cid && this.byCid.get(Buffer.from(cid).toString('hex')) === socket) this.byCid.delete(Buffer.from(cid).toString('hex'));
  }
}

/** A DTLS server, as tls.createServer() over UDP; call listen(port, host) to start. */
export function createDtlsServer(options: DTLSServerOptions, secureConnectionListener?: SecureConnectionListener): DTLSServer {
  return new DTLSServer(options, secureConnectionListener);
}
