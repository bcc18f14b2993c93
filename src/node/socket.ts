/**
 * TLSSocket: a stream.Duplex that runs a sans-IO `Connection` over a net.Socket (or any
 * Duplex), with node:tls's names for events, getters and methods.
 *
 * Data path. Bytes from the transport go to `conn.feed`; whatever the engine wants sent
 * goes to the transport after every engine call. Engine events are queued during the
 * call and delivered after it returns, so application code never runs inside the engine.
 *
 * Backpressure. Reading: when `push()` returns false the transport is paused, and resumed
 * from `_read`, so the transport is never read faster than the application consumes.
 * Writing: `_write` calls back only once the transport accepted the records (after its
 * 'drain' when `write()` returned false), so our own `write()` returns false while
 * records are queued.
 *
 * Closing. The peer's close_notify ends our readable side; unless `allowHalfOpen`, we then
 * end too. `end()` sends close_notify, then ends the transport. A TCP FIN (or RST) before
 * the handshake completed or inside a record is an error `ERR_TLS_CONNECTION_RESET`; a FIN
 * on a record boundary after the handshake ends the readable side like node:tls does.
 * `destroy(err)` sends the alert of a TLSError (internal_error for other errors,
 * user_canceled without one) and closes the transport.
 */
import { X509Certificate as NodeX509Certificate, type X509Certificate } from 'node:crypto';
import * as net from 'node:net';
import { isIP } from 'node:net';
import { Duplex } from 'node:stream';
import type { DetailedPeerCertificate, PeerCertificate } from 'node:tls';
import { DEFAULT_SIGNATURE_SCHEMES, type CertifiedKey, type ClientOptions, type ServerOptions } from '../config.js';
import type { SignatureSchemeName } from '../crypto/provider.js';
import { schemeByCode } from '../messages/constants.js';
import type { HandshakeMessage } from '../messages/handshake.js';
import { Connection } from '../connection.js';
import { traceConnection } from './trace.js';
import { TLSError } from '../errors.js';
import { decodeSession, encodeSession, type TLSSession } from '../statem/session.js';
import { certificateObject } from './peer-certificate.js';
import { ClientHelloSniffer, RecordBoundaries } from './framing.js';
import { charge, mayWork, waitForTurn } from './turns.js';
import { sessionIdToResume, type ServerSessionStore } from './session-store.js';
import {
  resolveClientOptions,
  resolveServerOptions,
  SecureContext,
  type ConnectionOptions,
  type SecureContextOptions,
  type ResolvedClient,
  type ResolvedServer,
  type TlsServerOptions,
} from './options.js';
import { asBuffer, ephemeralKeyInfo, type EphemeralKeyInfo, authorization, clientAuthorization, destroyAlert, emitKeylog, EventQueue, peerCertificate, peerX509Certificate, verifyServerCertificate, type Verified } from './socket-common.js';

/** What a TLSSocket is built from: resolved client or server options (see options.ts). */
export type TLSSocketConfig =
  | ({ isServer?: false } & ResolvedClient & { highWaterMark?: number })
  | ({ isServer: true } & ResolvedServer & { server?: net.Server; highWaterMark?: number });

/** node:tls's `new TLSSocket(socket, options)` options: a client unless `isServer`. */
export type TLSSocketOptions = (ConnectionOptions & { isServer?: false }) | (TlsServerOptions & { isServer: true; server?: net.Server });

/** connect() and Server hand over options they already resolved (the server shares one engine config). */
export const kResolved = Symbol('tsls.resolvedConfig');
type Resolved = { [kResolved]: TLSSocketConfig };

function resolve(options: TLSSocketOptions | Resolved): TLSSocketConfig {
  if (kResolved in options) return options[kResolved];
  const hwm = options.highWaterMark !== undefined ? { highWaterMark: options.highWaterMark } : {};
  if (options.isServer) return { isServer: true, ...resolveServerOptions(options), ...hwm, ...(options.server ? { server: options.server } : {}) };
  return { isServer: false, ...resolveClientOptions(options), ...hwm };
}

/** Bytes fed to the engine per connection per turn of the event loop (four full records' worth). */
const FEED_PER_TURN = 64 * 1024;

/** The socket whose engine call is running: the engine's synchronous SNICallback asks it. */
let current: TLSSocket | undefined;

/**
 * Hold the running socket's output until the returned function is called: node's
 * 'newSession' contract, under which the server's Finished waits for the application's
 * callback, so a session is in the shared store before the client can offer it elsewhere.
 */
export function holdCurrentOutput(): (() => void) | undefined {
  return current?.holdOutput();
}

/** One engine ServerOptions per server config, whose SNICallback consults the running socket. */
const sniEngines = new WeakMap<ServerOptions, ServerOptions>();
function serverEngineOptions(base: ServerOptions): ServerOptions {
  let o = sniEngines.get(base);
  if (!o) {
    o = { ...base, SNICallback: (name) => current?.sniCertificates(name) };
    sniEngines.set(base, o);
  }
  return o;
}

export function resetError(where: 'mid-handshake' | 'mid-record', cause?: unknown): TLSError {
  const message = `the peer closed the connection ${where === 'mid-handshake' ? 'before the TLS handshake completed' : 'in the middle of a TLS record'} (${where})`;
  return new TLSError('internal_error', message, cause === undefined ? { code: 'ERR_TLS_CONNECTION_RESET' } : { code: 'ERR_TLS_CONNECTION_RESET', cause });
}

function epipe(): Error {
  return Object.assign(new Error('This socket has been ended by the other party'), { code: 'EPIPE' });
}

/** Code points → scheme names, dropping those tsls does not know (GREASE among them). */
function schemeNames(codes: ArrayLike<number>): SignatureSchemeName[] {
  return Array.from(codes, (code) => schemeByCode.get(code)).filter((n): n is SignatureSchemeName => n !== undefined);
}

/** A signature scheme as OpenSSL (and so node's getSharedSigalgs) names it: `ECDSA+SHA256`, `RSA-PSS+SHA256`, `RSA+SHA256`, `Ed25519+UNDEF`. */
function sigalgName(scheme: string): string {
  const hash = /_(sha\d+)$/.exec(scheme)?.[1]?.toUpperCase();
  if (scheme.startsWith('ecdsa_')) return `ECDSA+${hash}`;
  if (scheme.startsWith('rsa_pss_')) return `RSA-PSS+${hash}`;
  if (scheme.startsWith('rsa_pkcs1_')) return `RSA+${hash}`;
  if (scheme === 'ed25519') return 'Ed25519+UNDEF';
  if (scheme === 'ed448') return 'Ed448+UNDEF';
  return scheme;
}

export class TLSSocket extends Duplex {
  /** Always true, as on node:tls sockets. */
  readonly encrypted = true;
  /** Client: the server's certificate was verified (chain and name). Server (requestCert): the client's certificate was. */
  authorized = false;
  /** Why the certificate was not authorized (a verification code such as 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'). */
  authorizationError: string | null = null;
  /** The negotiated ALPN protocol, false when none (null before the handshake). */
  alpnProtocol: string | false | null = null;
  /** Server: the SNI the client sent; client: the SNI we sent. false when none. */
  servername: string | false | null = null;
  /** The transport under this socket (a net.Socket for connect() and servers). */
  readonly transport: Duplex;

  private readonly conn: Connection;
  private readonly isServer: boolean;
  private readonly config: TLSSocketConfig;
  /** The server that accepted this socket (server side). */
  readonly server: net.Server | null;
  private readonly boundaries = new RecordBoundaries();
  private readonly events = new EventQueue(() => this.flush());
  private secureEstablished = false;
  private controlReleased = false;
  private destroying = false;
  private peerEnded = false;
  private sentEnd = false;
  private transportPaused = false;
  /** The transport is corked until a microtask (holdWrites). */
  private writesHeld = false;
  /** Received bytes not yet fed to the engine (see `feed`), and an end of the transport that came meanwhile. */
  private backlog: Uint8Array[] = [];
  private endedDuringBacklog: (() => void) | undefined;
  /** The transport is paused until the backlog is fed; a turn is awaited for it. */
  private backlogPaused = false;
  private turnAwaited = false;
  private pendingWrite: (() => void) | undefined;
  private pendingFinal: (() => void) | undefined;
  private drainWaiter: ((err?: Error | null) => void) | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private verified: Verified | undefined;
  private lastSession: Buffer | undefined;
  /** Server with an SNICallback: bytes held until the callback answered. */
  private sniffer: ClientHelloSniffer | undefined;
  private sni: { name: string; certificates: CertifiedKey[] | undefined } | undefined;
  /** The whole ClientHello is held, waiting for the application (SNICallback, resumeSession). */
  private helloHeld = false;
  /** Finished verify_data both ways (getFinished / getPeerFinished). */
  private readonly finished: { sent?: Uint8Array; received?: Uint8Array } = {};
  /** The peer's signature_algorithms (getSharedSigalgs). */
  private peerSigalgs: ArrayLike<number> = [];
  private maxFragment: number | undefined;
  private sessionBeforeHandshake = false;
  private tracing = false;

  /**
   * Wrap `transport` (a net.Socket or any Duplex, already connected or connecting). Options
   * are node:tls's (see ConnectionOptions / TlsServerOptions); unlike node, a client made
   * this way verifies the server like connect() does.
   */
  constructor(transport: Duplex, options: TLSSocketOptions | Resolved = {}) {
    const config = resolve(options);
    const hwm = config.highWaterMark;
    super({ allowHalfOpen: config.allowHalfOpen, ...(hwm !== undefined ? { highWaterMark: hwm } : {}) });
    this.transport = transport;
    this.config = config;
    this.isServer = config.isServer === true;
    this.server = (config.isServer ? config.server : undefined) ?? null;
    try {
      this.conn = config.isServer
        ? Connection.server(serverEngineOptions(config.engine))
        : Connection.client({
            ...config.engine,
            verifyPeer: (info) => {
              this.verified = verifyServerCertificate(config, info);
            },
          });
    } catch (err) {
      // A configuration the engine refuses: do not leave the transport open behind the throw.
      transport.destroy();
      throw err;
    }
    if (config.isServer) {
      // Hold the first flight while the application answers SNICallback or resumeSession.
      if (config.SNICallback || this.sessionStore?.external) this.sniffer = new ClientHelloSniffer();
      if (config.handshakeTimeout > 0) {
        this.handshakeTimer = setTimeout(() => {
          // Nothing went wrong inside: we give up waiting. user_canceled (a warning) then close,
          // not a fatal internal_error a peer would log as our bug.
          this.destroy(new TLSError('user_canceled', 'TLS handshake timeout', { code: 'ERR_TLS_HANDSHAKE_TIMEOUT' }));
        }, config.handshakeTimeout);
        this.handshakeTimer.unref?.();
      }
    } else {
      this.servername = config.servername ?? false;
    }
    if (config.enableTrace) this.enableTrace();
    this.conn.on('message', (dir, msg) => this.onMessage(dir, msg));
    this.conn.on('data', (d, mark) => this.later(() => (mark ? this.deliverEarly(d) : this.deliver(d))));
    this.conn.on('earlyDataRejected', (d) => this.later(() => this.emit('earlyDataRejected', asBuffer(d))));
    this.conn.on('end', () => this.later(() => this.onCloseNotify()));
    this.conn.on('handshake', () => this.later(() => this.onHandshake()));
    // Key log lines are only built while someone can receive them: always on a server
    // (its 'keylog' listeners may come at any time), on a client once it has a listener.
    const keylog = (line: string) => this.later(() => this.onKeylog(line));
    if (this.isServer) {
      this.conn.on('keylog', keylog);
    } else {
      const subscribe = (event: string | symbol) => {
        if (event !== 'keylog') return;
        this.off('newListener', subscribe);
        this.conn.on('keylog', keylog);
      };
      this.on('newListener', subscribe);
    }
    this.conn.on('session', (s) => this.later(() => this.onSession(s)));
    this.conn.on('error', (err) => {
      if (!this.destroying) this.later(() => this.destroy(err));
    });

    transport.on('data', (chunk: Buffer) => this.onTransportData(chunk));
    transport.on('end', () => this.onTransportEnd());
    transport.on('error', (err: Error) => this.onTransportError(err));
    transport.on('close', () => this.onTransportClose());
    transport.on('drain', () => {
      const w = this.drainWaiter;
      this.drainWaiter = undefined;
      w?.();
    });
    transport.on('timeout', () => this.emit('timeout'));

    // The client speaks first; wait for TCP, and give the caller a tick to add listeners.
    const start = () => this.engine(() => this.conn.start());
    if (transport instanceof net.Socket && transport.connecting) transport.once('connect', start);
    else process.nextTick(start);
  }

  // ---- engine calls and their events ----------------------------------------------------

  /**
   * Run engine work, send what it produced, then deliver the events it raised.
   *
   * The transport is corked meanwhile: what the application writes from those events (an
   * answer to the data just read) leaves in the same system call as what the engine made
   * (the server's tickets after the client's Finished), through one writev at uncork.
   * One system call and one TCP segment instead of two, as node:tls sends them.
   */
  private engine(work: () => void): void {
    const t = this.transport;
    t.cork();
    try {
      const prev = current;
      current = this;
      try {
        work();
      } finally {
        current = prev;
      }
      this.flush();
      this.events.run();
    } finally {
      t.uncork();
    }
  }

  private later(event: () => void): void {
    this.events.push(event);
  }

  /** Engine output waits in the engine while this is above 0 (see holdCurrentOutput). */
  private outputHolds = 0;
  /** An end() that came while output was held: the FIN must not overtake the held flight. */
  private finalAfterHolds: (() => void) | undefined;

  /** Hold output until the returned function is called (once is enough; later calls do nothing). */
  holdOutput(): () => void {
    this.outputHolds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.outputHolds > 0 || this.destroyed) return;
      this.engine(() => {});
      const final = this.finalAfterHolds;
      this.finalAfterHolds = undefined;
      final?.();
    };
  }

  /** Engine output → transport. Returns the transport's write() result. */
  private flush(): boolean {
    // A destroy sends what it has (its alert last) rather than nothing.
    if (this.outputHolds > 0 && !this.destroying) return true;
    const out = this.conn.takeOutput();
    if (out.length === 0) return true;
    const t = this.transport;
    if (t.destroyed || !t.writable) return false;
    return t.write(asBuffer(out));
  }

  // ---- reading --------------------------------------------------------------------------

  private onTransportData(chunk: Buffer): void {
    if (this.destroyed) return;
    if (this.sniffer) {
      const r = this.sniffer.push(chunk);
      // A client has no reason to send much before our ServerHello; do not hold it without bound.
      if (this.sniffer.size > 256 * 1024) return void this.destroy(new TLSError('unexpected_message', 'too much data before the ServerHello'));
      // Once the hello is whole, keep collecting (the sniffer holds the bytes) until the application answered.
      if (!r.done || this.helloHeld) return;
      this.helloHeld = true;
      const id = this.sessionStore?.external ? sessionIdToResume(this.sniffer.bytes(), (this.config as ResolvedServer).engine.maxVersion !== 'TLSv1.2') : undefined;
      if (id) this.lookUpSession(id, () => this.afterLookup(r.servername));
      else this.afterLookup(r.servername);
      return;
    }
    this.feed(chunk);
  }

  /** The server's external session store, when this is a server socket of a tsls Server. */
  private get sessionStore(): ServerSessionStore | undefined {
    return (this.server as { sessionStore?: ServerSessionStore } | null)?.sessionStore;
  }

  /** node's 'resumeSession': ask the application's store for the session the client offers, then go on. */
  private lookUpSession(id: Uint8Array, next: () => void): void {
    let answered = false;
    const done = (err?: Error | null, data?: Uint8Array | null) => {
      if (answered || this.destroyed) return;
      answered = true;
      if (err) return void this.destroy(err);
      if (data) this.sessionStore!.adopt(id, data);
      next();
    };
    try {
      this.server!.emit('resumeSession', Buffer.from(id), done);
    } catch (err) {
      done(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private afterLookup(servername: string | undefined): void {
    if (this.destroyed) return;
    if (servername !== undefined && (this.config as ResolvedServer).SNICallback) return this.resolveSni(servername);
    const held = this.sniffer!.bytes();
    this.sniffer = undefined;
    this.feed(held);
  }

  /**
   * Bytes to the engine, in bounded turns: at most FEED_PER_TURN bytes of one socket per
   * turn of the event loop, and nothing while this turn's engine budget (shared by every
   * socket, see turns.ts) is spent. What has to wait stays in `backlog` with the transport
   * paused, so a peer that sends a large burst (thousands of tiny records, a flood of
   * post-handshake messages), or a crowd of peers arriving at once, cannot hold the loop.
   */
  private feed(bytes: Uint8Array): void {
    this.backlog.push(bytes);
    if (!this.turnAwaited) this.feedBacklog();
  }

  private feedBacklog(): void {
    while (this.backlog.length > 0) {
      if (this.destroyed) {
        this.backlog = [];
        return;
      }
      if (!mayWork()) return this.awaitTurn();
      const next = this.backlog[0]!;
      const now = next.length > FEED_PER_TURN ? next.subarray(0, FEED_PER_TURN) : next;
      if (now === next) this.backlog.shift();
      else this.backlog[0] = next.subarray(FEED_PER_TURN);
      const started = performance.now();
      this.boundaries.push(now);
      this.engine(() => this.conn.feed(now));
      charge(performance.now() - started);
      // One slice per socket per turn: the rest after the others had theirs.
      if (this.backlog.length > 0) return this.awaitTurn();
    }
    if (this.destroyed || !this.backlogPaused) return;
    this.backlogPaused = false;
    if (!this.transportPaused) this.transport.resume();
    // The transport ended while its bytes were still waiting here: judge the end now.
    const ended = this.endedDuringBacklog;
    this.endedDuringBacklog = undefined;
    ended?.();
  }

  private awaitTurn(): void {
    if (this.turnAwaited) return;
    this.turnAwaited = true;
    if (!this.backlogPaused) {
      this.backlogPaused = true;
      this.transport.pause();
    }
    waitForTurn(() => {
      this.turnAwaited = false;
      this.feedBacklog();
    });
  }

  private resolveSni(name: string): void {
    if (this.sni) return;
    this.sni = { name, certificates: undefined };
    const callback = (this.config as ResolvedServer).SNICallback!;
    let answered = false;
    const done = (err: Error | null, ctx?: SecureContext | null) => {
      if (answered || this.destroyed) return;
      answered = true;
      if (err) {
        this.destroy(err);
        return;
      }
      if (ctx !== undefined && ctx !== null && !(ctx instanceof SecureContext)) {
        this.destroy(new TLSError('internal_error', 'SNICallback must answer with a context from tsls createSecureContext()', { code: 'ERR_TLS_INVALID_OPTION' }));
        return;
      }
      if (ctx && ctx.certificates.length) this.sni!.certificates = ctx.certificates;
      const held = this.sniffer!.bytes();
      this.sniffer = undefined;
      this.feed(held);
    };
    try {
      callback(name, done);
    } catch (err) {
      done(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** The engine's (synchronous) SNICallback, answered from what node's async callback gave. */
  sniCertificates(name: string): CertifiedKey[] | undefined {
    if (this.sni && this.sni.name === name) return this.sni.certificates;
    // Contexts added with server.addContext().
    const server = this.server as { contextFor?: (servername: string) => SecureContext | undefined } | null;
    const ctx = server?.contextFor?.(name);
    return ctx?.certificates.length ? ctx.certificates : undefined;
  }

  /** Bytes of 0-RTT early data at the start of what this server socket read (0 when none). */
  earlyDataReceived = 0;

  /** TLS 1.3 0-RTT: whether the server took the client's early data; undefined when none was offered. */
  get earlyDataAccepted(): boolean | undefined {
    return this.conn.earlyDataAccepted;
  }

  /**
   * Early data: 'earlyData' first, on the socket and (before 'secureConnection' the
   * application has no socket yet) on its server with the socket, so that a listener can
   * refuse it (destroy the socket); then the stream, like any data.
   */
  private deliverEarly(data: Uint8Array): void {
    if (this.destroyed) return;
    this.earlyDataReceived += data.length;
    const buffer = asBuffer(data);
    this.emit('earlyData', buffer);
    this.server?.emit('earlyData', buffer, this);
    if (!this.destroyed) this.deliver(buffer);
  }

  private deliver(data: Uint8Array): void {
    if (this.destroyed || this.readableEnded || this.peerEnded) return;
    if (!this.push(asBuffer(data))) this.pauseTransport();
  }

  private pauseTransport(): void {
    if (this.transportPaused) return;
    this.transportPaused = true;
    this.transport.pause();
  }

  override _read(): void {
    if (!this.transportPaused) return;
    this.transportPaused = false;
    if (!this.backlogPaused) this.transport.resume();
  }

  /** The peer sent close_notify. */
  private onCloseNotify(): void {
    if (this.peerEnded) return;
    this.endReadable();
  }

  /** push(null), and (as net.Socket does) read(0) so 'end' comes even with no reader when nothing is buffered. */
  private endReadable(): void {
    this.peerEnded = true;
    this.push(null);
    if (this.readableLength === 0) this.read(0);
  }

  private onTransportEnd(): void {
    if (this.destroyed || this.peerEnded) return;
    if (this.backlog.length > 0) return void (this.endedDuringBacklog = () => this.onTransportEnd());
    if (!this.secureEstablished) return void this.destroy(resetError('mid-handshake'));
    if (this.boundaries.midRecord) return void this.destroy(resetError('mid-record'));
    // A clean TCP close without close_notify: the end of the stream, as node:tls reports it.
    this.endReadable();
  }

  private onTransportError(err: Error): void {
    if (this.destroyed) return;
    const code = (err as NodeJS.ErrnoException).code;
    const reset = code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED';
    if (reset && !this.peerEnded && !this.secureEstablished) return void this.destroy(resetError('mid-handshake', err));
    if (reset && !this.peerEnded && this.boundaries.midRecord) return void this.destroy(resetError('mid-record', err));
    this.destroy(err);
  }

  private onTransportClose(): void {
    if (this.destroyed) return;
    if (this.backlog.length > 0) return void (this.endedDuringBacklog = () => this.onTransportClose());
    // Closed under us without 'end' or 'error' (a Duplex destroyed, a socket torn down):
    // judge it like a FIN. Our writable side cannot go on either: end it (what is still
    // buffered for the application stays readable; later writes fail with EPIPE).
    if (!this.peerEnded) this.onTransportEnd();
    const w = this.drainWaiter;
    this.drainWaiter = undefined;
    w?.(epipe());
    if (!this.destroyed && !this.writableEnded) this.end();
  }

  // ---- handshake --------------------------------------------------------------------------

  private onHandshake(): void {
    if (this.destroyed) return;
    this.secureEstablished = true;
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.alpnProtocol = this.conn.alpnProtocol;
    this.applyMaxFragment();
    if (this.isServer) {
      this.servername = this.conn.servername ?? false;
      ({ authorized: this.authorized, authorizationError: this.authorizationError } = clientAuthorization((this.config as ResolvedServer).engine, this.conn));
    } else if (this.conn.sessionReused) {
      // Sessions are only handed out from authorized connections (see onSession).
      this.authorized = true;
    } else {
      ({ authorized: this.authorized, authorizationError: this.authorizationError } = authorization(this.verified));
    }
    const write = this.pendingWrite;
    const final = this.pendingFinal;
    this.pendingWrite = this.pendingFinal = this.finalAfterHolds = undefined;
    this.emit('secure');
    if (this.destroyed) return;
    if (this.isServer) {
      this.controlReleased = true;
      this.server?.emit('secureConnection', this);
    } else {
      this.emit('secureConnect');
      if (this.sessionBeforeHandshake && this.lastSession && !this.destroyed) this.emit('session', this.lastSession);
    }
    write?.();
    final?.();
  }

  /** What node:tls reports later from the handshake messages: the Finished values and the peer's signature algorithms. */
  private onMessage(dir: 'send' | 'recv', msg: HandshakeMessage): void {
    // Small copies: a view could keep the whole received record alive on an idle connection.
    if (msg.type === 'finished') this.finished[dir === 'send' ? 'sent' : 'received'] = new Uint8Array(msg.verify_data);
    else if (dir === 'recv' && (msg.type === 'client_hello' || msg.type === 'certificate_request')) {
      const algs = msg.extensions.get('signature_algorithms', msg.type);
      if (algs) this.peerSigalgs = Uint16Array.from(algs.supported_signature_algorithms);
    } else if (dir === 'recv' && msg.type === 'certificate_request_tls12') {
      this.peerSigalgs = Uint16Array.from(msg.supported_signature_algorithms);
    }
  }

  private onKeylog(line: string): void {
    emitKeylog(this, this.server ?? undefined, line);
  }

  private onSession(s: TLSSession): void {
    // A session carries no record of how the server was checked, so only sessions of an
    // authorized connection are handed out: resuming one never skips verification.
    const authorized = this.conn.sessionReused || this.verified?.ok === true;
    if (!authorized) return;
    this.lastSession = Buffer.from(encodeSession(s));
    // As node: 'session' comes after 'secureConnect' (a TLS 1.2 session is ready before the handshake ends).
    if (this.secureEstablished) this.emit('session', this.lastSession);
    else this.sessionBeforeHandshake = true;
  }

  // ---- writing ----------------------------------------------------------------------------

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.writeChunks([chunk], cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.writeChunks(
      chunks.map((c) => c.chunk),
      cb,
    );
  }

  private writeChunks(chunks: Buffer[], cb: (err?: Error | null) => void): void {
    // A client offering 0-RTT writes through: the engine sends what the ticket's limit allows as early data and keeps the rest for after the handshake.
    if (!this.secureEstablished && !this.conn.sendingEarlyData) {
      if (this.conn.state === 'DEAD') return cb(this.conn.error);
      this.pendingWrite = () => this.writeChunks(chunks, cb);
      return;
    }
    const t = this.transport;
    if (t.destroyed || !t.writable) return cb(epipe());
    this.holdWrites();
    try {
      this.engine(() => {
        // Small chunks are joined so they do not each become a record.
        let batch: Buffer[] = [];
        let size = 0;
        const send = () => {
          if (size) this.conn.write(batch.length === 1 ? batch[0]! : Buffer.concat(batch, size));
          batch = [];
          size = 0;
        };
        for (const c of chunks) {
          if (c.length >= 16384) {
            send();
            this.conn.write(c);
          } else {
            batch.push(c);
            size += c.length;
            if (size >= 16384) send();
          }
        }
        send();
      });
    } catch (err) {
      return cb(err instanceof Error ? err : new Error(String(err)));
    }
    if (t.writableNeedDrain) this.drainWaiter = cb;
    else cb();
  }

  /**
   * Keep the transport corked until the current tick's work is done (a microtask), so that
   * records written back to back (`end(answer)`: the answer, then close_notify from
   * _final on the next tick; or a burst of writes) leave in one writev, not one write(2)
   * each. The transport's own end() uncorks whatever is held before its FIN.
   */
  private holdWrites(): void {
    if (this.writesHeld) return;
    this.writesHeld = true;
    const t = this.transport;
    t.cork();
    queueMicrotask(() => {
      this.writesHeld = false;
      t.uncork();
    });
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.secureEstablished && this.conn.state !== 'DEAD') {
      this.pendingFinal = () => this._final(cb);
      return;
    }
    if (this.outputHolds > 0) {
      this.finalAfterHolds = () => this._final(cb);
      return;
    }
    this.sentEnd = true;
    this.engine(() => this.conn.end());
    const t = this.transport;
    if (t.destroyed || !t.writable) return cb();
    let called = false;
    const done = () => {
      if (called) return;
      called = true;
      t.off('finish', done);
      t.off('close', done);
      cb();
    };
    t.on('finish', done);
    t.on('close', done);
    t.end();
    if (t.writableFinished) done();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.destroying = true;
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    const state = this.conn.state;
    if (state !== 'DEAD' && state !== 'CLOSED' && !this.sentEnd) {
      this.conn.destroy(destroyAlert(err));
      this.flush();
    }
    this.events.clear();
    this.closeTransport();
    const w = this.drainWaiter;
    this.drainWaiter = undefined;
    w?.(err ?? Object.assign(new Error('the socket was destroyed'), { code: 'ERR_STREAM_DESTROYED' }));
    this.pendingWrite = this.pendingFinal = this.finalAfterHolds = undefined;
    if (err && this.server && !this.controlReleased) {
      // Before 'secureConnection' the application has no handle on this socket: node reports
      // handshake failures on the server as 'tlsClientError' instead of an 'error' event.
      this.server.emit('tlsClientError', err, this);
      cb(null);
      return;
    }
    cb(err);
  }

  /** Flush (our alert), FIN, then close the transport; do not wait more than a second for a peer that does not read. */
  private closeTransport(): void {
    const t = this.transport;
    if (t.destroyed) return;
    if (!t.writable || t.writableFinished) {
      t.destroy();
      return;
    }
    const timer = setTimeout(() => t.destroy(), 1000);
    timer.unref?.();
    t.once('close', () => clearTimeout(timer));
    t.once('finish', () => t.destroy());
    t.end();
  }

  // ---- node:tls API -------------------------------------------------------------------------

  /** 'TLSv1.3' or 'TLSv1.2'; 'unknown' before the handshake; null once destroyed without one. */
  /** tsls: Encrypted Client Hello, when it was offered (client) or configured and offered (server). */
  get echStatus(): 'accepted' | 'rejected' | undefined {
    return 'echStatus' in this.conn ? this.conn.echStatus : undefined;
  }

  getProtocol(): string | null {
    return this.conn.protocol ?? (this.destroyed ? null : 'unknown');
  }

  getCipher(): { name: string; standardName: string; version: string } | undefined {
    return this.conn.cipher;
  }

  /** The key exchange, as node reports it. */
  getEphemeralKeyInfo(): EphemeralKeyInfo | null {
    return ephemeralKeyInfo(this.isServer, this.conn.group);
  }

  /** The peer's certificate as node shows it; `{}` when there is none (a server whose client sent none, or that resumed: tickets do not carry client certificates). */
  getPeerCertificate(detailed: true): DetailedPeerCertificate | Record<string, never>;
  getPeerCertificate(detailed?: false): PeerCertificate | Record<string, never>;
  getPeerCertificate(detailed?: boolean): PeerCertificate | DetailedPeerCertificate | Record<string, never>;
  getPeerCertificate(detailed = false): PeerCertificate | DetailedPeerCertificate | Record<string, never> {
    return peerCertificate(this.conn.peerCertificates, this.verified, detailed);
  }

  /** Our own certificate, as node's getCertificate(). */
  getCertificate(): PeerCertificate | Record<string, never> {
    const c = this.config;
    const chain = c.isServer ? c.engine.certificates[0]?.chain : c.engine.certificate?.chain;
    return chain?.[0] ? certificateObject(chain[0]) : {};
  }

  /** The peer's leaf certificate as a node:crypto X509Certificate. */
  getPeerX509Certificate(): X509Certificate | undefined {
    return peerX509Certificate(this.conn.peerCertificates);
  }

  /** The latest session (a Buffer to pass as `session` to connect()), if any. */
  getSession(): Buffer | undefined {
    return this.lastSession;
  }

  isSessionReused(): boolean {
    return this.conn.sessionReused;
  }

  /** RFC 8446 7.5 / RFC 5705 keying material exporter. */
  exportKeyingMaterial(length: number, label: string, context?: Uint8Array): Buffer {
    return asBuffer(this.conn.exportKeyingMaterial(length, label, context ?? new Uint8Array(0)));
  }

  /** TLS 1.3 KeyUpdate (tsls addition): new sending keys, and ask the peer to update too. */
  keyUpdate(requestPeer = true): void {
    this.engine(() => this.conn.keyUpdate(requestPeer));
  }

  /** node's setServername(): the SNI to send, on a client before its handshake started. */
  setServername(name: string): void {
    if (this.isServer) throw Object.assign(new Error('Cannot issue SNI from a TLS server-side socket'), { code: 'ERR_TLS_SNI_FROM_SERVER' });
    if (typeof name !== 'string') throw Object.assign(new TypeError('The "name" argument must be of type string'), { code: 'ERR_INVALID_ARG_TYPE' });
    const options = this.unstartedClientOptions('setServername');
    const config = this.config as ResolvedClient;
    options.servername = name === '' || isIP(name) ? undefined : name;
    config.servername = options.servername;
    if (name) config.hostname = name;
    this.servername = options.servername ?? false;
  }

  /** node's setSession(): resume `session` (a Buffer from a 'session' event), on a client before its handshake started. */
  setSession(session: Uint8Array | string): void {
    const bytes = typeof session === 'string' ? Buffer.from(session, 'latin1') : session;
    decodeSession(bytes); // refuse a foreign session now, not mid-handshake
    this.unstartedClientOptions('setSession').session = bytes;
  }

  /** The engine options of a client whose ClientHello is not built yet (they are read then). */
  private unstartedClientOptions(method: string): ClientOptions {
    if (this.conn.state !== 'START') throw Object.assign(new Error(`${method}() must be called before the handshake starts`), { code: 'ERR_TLS_INVALID_STATE' });
    return (this.conn as unknown as { hs: { options: ClientOptions } }).hs.options;
  }

  /** node's setKeyCert(): the certificate and key a client presents (before its handshake started), from a tsls SecureContext or its options. */
  setKeyCert(context: SecureContext | SecureContextOptions): void {
    if (this.isServer) throw new TLSError('internal_error', 'setKeyCert() on a server socket is not supported by tsls: use SNICallback or server.addContext()', { code: 'ERR_TLS_UNSUPPORTED' });
    const ctx = context instanceof SecureContext ? context : new SecureContext(context);
    if (ctx.certificates.length !== 1) throw new TLSError('internal_error', 'a client takes one cert/key pair', { code: 'ERR_TLS_INVALID_OPTION' });
    this.unstartedClientOptions('setKeyCert').certificate = ctx.certificates[0]!;
  }

  /** net.Socket#connect: a TLSSocket is connected by tsls connect() or made over a connected transport. */
  connect(..._args: unknown[]): this {
    throw new TLSError('internal_error', 'TLSSocket#connect() is not supported: use tsls connect()', { code: 'ERR_TLS_UNSUPPORTED' });
  }

  /** The Finished message we sent (its verify_data), as node's getFinished(); undefined before. */
  getFinished(): Buffer | undefined {
    return this.finished.sent && Buffer.from(this.finished.sent);
  }

  /** The peer's Finished (verify_data), as node's getPeerFinished(). */
  getPeerFinished(): Buffer | undefined {
    return this.finished.received && Buffer.from(this.finished.received);
  }

  /**
   * node's setMaxSendFragment(): records of at most `size` bytes (512 to 16384), never above
   * what the peer's record_size_limit allows. False when out of range.
   */
  setMaxSendFragment(size: number): boolean {
    if (!Number.isInteger(size) || size < 512 || size > 16384) return false;
    this.maxFragment = size;
    this.applyMaxFragment();
    return true;
  }

  private applyMaxFragment(): void {
    if (this.maxFragment === undefined) return;
    const records = (this.conn as unknown as { records: { maxSendFragment: number } }).records;
    // After the handshake the engine has lowered it to the peer's record_size_limit: stay under both.
    records.maxSendFragment = Math.min(this.maxFragment, this.secureEstablished ? records.maxSendFragment : 16384);
  }

  /** The signature algorithms both sides accept, in node's names (`ECDSA+SHA256`, `RSA-PSS+SHA256`, `Ed25519`). */
  getSharedSigalgs(): string[] {
    const ours = new Set(this.config.engine.signatureSchemes ?? DEFAULT_SIGNATURE_SCHEMES);
    return schemeNames(this.peerSigalgs).filter((s) => ours.has(s)).map(sigalgName);
  }

  /** The TLS session ticket a client received (undefined without one), as node's getTLSTicket(). */
  getTLSTicket(): Buffer | undefined {
    if (this.isServer || !this.lastSession) return undefined;
    const ticket = decodeSession(this.lastSession).ticket;
    return ticket.length ? Buffer.from(ticket) : undefined;
  }

  /** Our own certificate as a node:crypto X509Certificate, as node's getX509Certificate(). */
  getX509Certificate(): X509Certificate | undefined {
    const c = this.config;
    const leaf = (c.isServer ? c.engine.certificates[0]?.chain : c.engine.certificate?.chain)?.[0];
    return leaf ? new NodeX509Certificate(leaf.der) : undefined;
  }

  /** node's enableTrace(): every state transition and handshake message on stderr from now on. */
  enableTrace(): void {
    if (this.tracing) return;
    this.tracing = true;
    traceConnection(this.conn, this.isServer ? 'server' : 'client');
  }

  /** net.Socket's readyState: 'opening', 'open', 'readOnly', 'writeOnly' or 'closed'. */
  get readyState(): net.SocketReadyState {
    return this.net?.readyState ?? (this.destroyed ? 'closed' : 'open');
  }

  /** net.Socket's pending: true until the transport is connected. */
  get pending(): boolean {
    return this.net?.pending ?? false;
  }

  /** Bytes queued to write (node's deprecated bufferSize: writableLength). */
  get bufferSize(): number {
    return this.writableLength;
  }

  /** The engine beneath, for what node:tls has no name for (trace, state). */
  get connection(): Connection {
    return this.conn;
  }

  /** Renegotiation does not exist in TLS 1.3 and is not implemented for 1.2. */
  renegotiate(_options: unknown, callback?: (err: Error | null) => void): false {
    const err = new TLSError('internal_error', 'renegotiation is not supported', { code: 'ERR_TLS_UNSUPPORTED' });
    if (callback) process.nextTick(callback, err);
    return false;
  }

  disableRenegotiation(): void {
    // Never renegotiated.
  }

  // ---- net.Socket pass-throughs (http and https.Agent use these) ----------------------------

  private get net(): net.Socket | undefined {
    return this.transport instanceof net.Socket ? this.transport : undefined;
  }

  setTimeout(ms: number, callback?: () => void): this {
    const t = this.transport as Partial<net.Socket>;
    if (typeof t.setTimeout === 'function') t.setTimeout(ms);
    if (callback) {
      if (ms === 0) this.off('timeout', callback);
      else this.once('timeout', callback);
    }
    return this;
  }

  setNoDelay(noDelay?: boolean): this {
    this.net?.setNoDelay(noDelay);
    return this;
  }

  /** Passed to the TCP socket as given (the forms differ between Node versions). */
  setKeepAlive(...args: unknown[]): this {
    const t = this.net;
    if (t) (t.setKeepAlive as (...a: unknown[]) => unknown).apply(t, args);
    return this;
  }

  ref(): this {
    this.net?.ref();
    return this;
  }

  unref(): this {
    this.net?.unref();
    return this;
  }

  address(): net.AddressInfo | Record<string, never> {
    const a = this.net?.address();
    return a && typeof a === 'object' && 'port' in a ? (a as net.AddressInfo) : {};
  }

  /** End, then destroy once everything was written (as net.Socket#destroySoon). */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  /** Close the TCP connection with a reset (RST) and destroy this socket, as net.Socket#resetAndDestroy. */
  resetAndDestroy(): this {
    const t = this.net;
    if (t && !t.destroyed) t.resetAndDestroy();
    this.destroy();
    return this;
  }

  /** IP type-of-service (net.Socket's, where this Node has it). */
  getTypeOfService(): number {
    return (this.net as { getTypeOfService?: () => number } | undefined)?.getTypeOfService?.() ?? 0;
  }

  setTypeOfService(tos: number): this {
    (this.net as { setTypeOfService?: (tos: number) => void } | undefined)?.setTypeOfService?.(tos);
    return this;
  }

  get autoSelectFamilyAttemptedAddresses(): string[] {
    return this.net?.autoSelectFamilyAttemptedAddresses ?? [];
  }

  get connecting(): boolean {
    return this.net?.connecting ?? false;
  }
  get remoteAddress(): string | undefined {
    return this.net?.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.net?.remotePort;
  }
  get remoteFamily(): string | undefined {
    return this.net?.remoteFamily;
  }
  get localAddress(): string | undefined {
    return this.net?.localAddress;
  }
  get localPort(): number | undefined {
    return this.net?.localPort;
  }
  get bytesRead(): number {
    return this.net?.bytesRead ?? 0;
  }
  get bytesWritten(): number {
    return this.net?.bytesWritten ?? 0;
  }
}

/**
 * The documented adapter where node's `tls.TLSSocket` type is expected (undici's connect
 * callback, ws, mqtt): the same object, typed as node's. TLSSocket has every member of
 * node's class (see test/node/parity.test.ts); TypeScript still refuses the plain
 * assignment only because it extends stream.Duplex, whose end()/write() overloads are
 * declared differently from net.Socket's, not because anything is missing.
 */
export function asNodeTLSSocket(socket: TLSSocket): import('node:tls').TLSSocket {
  return socket as unknown as import('node:tls').TLSSocket;
}
