/**
 * A TLS server with node:tls's shape: a net.Server whose connections are wrapped in
 * server-side TLSSockets. 'secureConnection' follows each completed handshake;
 * 'tlsClientError' reports a handshake that failed (the socket is then destroyed).
 * Sockets handed to `server.emit('connection', duplex)` are served the same way.
 */
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { resolveServerOptions, SecureContext, type ResolvedServer, type SecureContextOptions, type TlsServerOptions } from './options.js';
import { TLSError } from '../errors.js';
import { ServerSessionStore } from './session-store.js';
import { holdCurrentOutput, kResolved, TLSSocket } from './socket.js';

export type SecureConnectionListener = (socket: TLSSocket) => void;

/** node's addContext patterns: `*` stands for one label. */
function hostPattern(hostname: string): RegExp {
  const escaped = hostname.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^.]*');
  return new RegExp(`^${escaped}$`, 'i');
}

export class Server extends net.Server {
  private config: ResolvedServer;
  /** TLS 1.2 sessions by ID, and node's newSession/resumeSession events around them. */
  readonly sessionStore: ServerSessionStore;
  private readonly sessionCacheSize: number;
  private readonly highWaterMark: number | undefined;
  private readonly contexts: { pattern: RegExp; ctx: SecureContext }[] = [];

  constructor(options?: TlsServerOptions, secureConnectionListener?: SecureConnectionListener);
  constructor(secureConnectionListener?: SecureConnectionListener);
  constructor(a?: TlsServerOptions | SecureConnectionListener, b?: SecureConnectionListener) {
    const options = typeof a === 'function' ? {} : (a ?? {});
    const listener = typeof a === 'function' ? a : b;
    const config = resolveServerOptions(options);
    // TCP stays half-open: the TLS layer decides (allowHalfOpen) when our side ends.
    super({ allowHalfOpen: true });
    this.sessionCacheSize = config.engine.sessionCacheSize ?? 1000;
    this.sessionStore = new ServerSessionStore(this, this.sessionCacheSize, holdCurrentOutput);
    this.config = this.withStore(config);
    this.highWaterMark = options.highWaterMark;
    this.on('connection', (socket: Duplex) => this.accept(socket));
    if (listener) this.on('secureConnection', listener);
  }

  private accept(socket: Duplex): void {
    new TLSSocket(socket, {
      [kResolved]: {
        isServer: true,
        ...this.config,
        server: this,
        ...(this.highWaterMark !== undefined ? { highWaterMark: this.highWaterMark } : {}),
      },
    });
  }

  private withStore(config: ResolvedServer): ResolvedServer {
    return { ...config, engine: { ...config.engine, sessionCache: this.sessionStore } };
  }

  /** Replace certificates and settings for new connections (node's server.setSecureContext). */
  setSecureContext(options: TlsServerOptions): void {
    this.config = this.withStore(resolveServerOptions(options));
  }

  /**
   * The 48 bytes of ticket keys, as node's getTicketKeys(). Without `ticketKeys` the engine
   * makes and rotates its own, which cannot be read: the first call pins fresh keys (tickets
   * issued before it are not resumed after it).
   */
  getTicketKeys(): Buffer {
    const keys = this.config.engine.ticketKeys;
    if (keys) return Buffer.from(keys.subarray(0, 48));
    const fresh = randomBytes(48);
    this.setTicketKeys(fresh);
    return Buffer.from(fresh);
  }

  /** Seal new tickets with `keys` (48 bytes, as node), for every process sharing them. */
  setTicketKeys(keys: Uint8Array): void {
    if (!(keys instanceof Uint8Array) || keys.length !== 48) {
      throw new TLSError('internal_error', 'Session ticket keys must be a 48-byte buffer', { code: 'ERR_INVALID_ARG_VALUE' });
    }
    this.config = { ...this.config, engine: { ...this.config.engine, ticketKeys: new Uint8Array(keys) } };
  }

  /** Serve `context` to clients whose SNI matches `hostname` (`*` matches one label). Later contexts win. */
  addContext(hostname: string, context: SecureContext | SecureContextOptions): void {
    const ctx = context instanceof SecureContext ? context : new SecureContext(context);
    this.contexts.unshift({ pattern: hostPattern(hostname), ctx });
  }

  /** The context added for `servername`, if any (used by the sockets' SNI lookup). */
  contextFor(servername: string): SecureContext | undefined {
    return this.contexts.find((c) => c.pattern.test(servername))?.ctx;
  }
}

export function createServer(options?: TlsServerOptions, secureConnectionListener?: SecureConnectionListener): Server;
export function createServer(secureConnectionListener?: SecureConnectionListener): Server;
export function createServer(a?: TlsServerOptions | SecureConnectionListener, b?: SecureConnectionListener): Server {
  return typeof a === 'function' ? new Server(a) : new Server(a, b);
}
