/**
 * node's https.createServer and http2.createSecureServer over tsls, so express, ws and
 * http2 handlers need one call: node's own http.Server (requests, 'upgrade', keep-alive) or
 * Http2Server (sessions, streams), fed the TLSSockets of a tsls Server, which owns the
 * listening socket: listen(), address(), close() and `listening` go to it; its
 * 'tlsClientError', 'newSession', 'resumeSession' and 'keylog' are reachable as `tlsServer`.
 */
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import { TLSError } from '../errors.js';
import type { TlsServerOptions } from './options.js';
import { Server } from './server.js';
import type { TLSSocket } from './socket.js';

/** What both servers add: the tsls server holding the listening socket. */
export interface OverTls {
  readonly tlsServer: Server;
}
export type HttpsServer = http.Server & OverTls;
export type Http2SecureServer = http2.Http2Server & OverTls;
export type HttpsServerOptions = TlsServerOptions & http.ServerOptions;
export type Http2SecureServerOptions = TlsServerOptions & http2.ServerOptions;

/** `app` (not listening itself) gets every connection of a tsls server made from `options`; the tsls server listens in its place. */
function overTls<T extends net.Server>(app: T, options: TlsServerOptions, alpn: string[]): T & OverTls {
  // The application protocol unless the caller chose (node's servers offer theirs too).
  const tlsOptions: TlsServerOptions = options.ALPNProtocols || options.ALPNCallback ? options : { ...options, ALPNProtocols: alpn };
  const tlsServer = new Server(tlsOptions, (socket: TLSSocket) => app.emit('connection', socket));
  const out = app as T & OverTls;
  Object.defineProperty(out, 'tlsServer', { value: tlsServer });
  Object.defineProperty(out, 'listening', { get: () => tlsServer.listening });
  for (const event of ['listening', 'error', 'tlsClientError']) tlsServer.on(event, (...args: unknown[]) => app.emit(event, ...args));
  // The listening socket is the tsls server's: these three go to it.
  const m = out as unknown as { listen: (...a: unknown[]) => unknown; address: () => unknown; close: (cb?: (err?: Error) => void) => unknown };
  m.listen = (...args: unknown[]) => {
    (tlsServer.listen as (...a: unknown[]) => unknown)(...args);
    return out;
  };
  m.address = () => tlsServer.address();
  m.close = (callback?: (err?: Error) => void) => {
    tlsServer.close((err) => {
      app.emit('close');
      callback?.(err);
    });
    // As node's server.close(): idle keep-alive connections end now, busy ones after their response.
    (app as unknown as { closeIdleConnections?: () => void }).closeIdleConnections?.();
    return out;
  };
  return out;
}

function split<O>(a: O | ((...args: never[]) => void) | undefined, b: unknown, name: string): [O, unknown] {
  if (typeof a === 'function' || !a) throw Object.assign(new TypeError(`${name} needs options with cert and key`), { code: 'ERR_INVALID_ARG_TYPE' });
  return [a, b];
}

/** node's https.createServer: an http.Server over tsls (ALPN http/1.1 unless given). */
export function createHttpsServer(options: HttpsServerOptions, requestListener?: http.RequestListener): HttpsServer {
  const [o, listener] = split(options, requestListener, 'createHttpsServer');
  return overTls(http.createServer(o, listener as http.RequestListener | undefined), o, ['http/1.1']);
}

/**
 * node's http2.createSecureServer: an Http2Server over tsls (ALPN h2 unless given). HTTP/1.1
 * fallback (`allowHTTP1`) is not offered: a client that does not speak h2 is refused in ALPN.
 */
export function createHttp2SecureServer(options: Http2SecureServerOptions, onRequest?: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void): Http2SecureServer {
  const [o, listener] = split(options, onRequest, 'createHttp2SecureServer');
  if ((o as { allowHTTP1?: boolean }).allowHTTP1) throw new TLSError('internal_error', 'option allowHTTP1 is not supported by tsls: use createHttpsServer for HTTP/1.1', { code: 'ERR_TLS_UNSUPPORTED_OPTION' });
  const app = listener ? http2.createServer(o, listener as Parameters<typeof http2.createServer>[1]) : http2.createServer(o);
  return overTls(app, o, ['h2']);
}
