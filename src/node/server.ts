/**
 * A TLS server with node:tls's shape: a net.Server whose connections are wrapped in
 * server-side TLSSockets. 'secureConnection' follows each completed handshake;
 * 'tlsClientError' reports a handshake that failed (the socket is then destroyed).
 * Sockets handed to `server.emit('connection', duplex)` are served the same way.
 */
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { resolveServerOptions, SecureContext, type ResolvedServer, type SecureContextOptions, type TlsServerOptions } from './options.js';
import { kResolved, TLSSocket } from './socket.js';

export type SecureConnectionListener = (socket: TLSSocket) => void;

/** node's addContext patterns: `*` stands for one label. */
function hostPattern(hostname: string): RegExp {
  const escaped = hostname.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^.]*');
  return new RegExp(`^${escaped}$`, 'i');
}

export class Server extends net.Server {
  private config: ResolvedServer;
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
    this.config = config;
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

  /** Replace certificates and settings for new connections (node's server.setSecureContext). */
  setSecureContext(options: TlsServerOptions): void {
    this.config = resolveServerOptions(options);
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
