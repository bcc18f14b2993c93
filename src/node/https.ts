/**
 * `createHttpsServer(options, app)`: node's https.createServer over tsls, so express, ws and
 * plain http handlers need one call. It is an http.Server (requests, 'upgrade', keep-alive
 * all node's own) fed the TLSSockets of a tsls Server, which owns the listening socket:
 * listen(), address(), close() and `listening` go to it; its 'tlsClientError', 'newSession',
 * 'resumeSession' and 'keylog' are reachable through `tlsServer`.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TlsServerOptions } from './options.js';
import { Server } from './server.js';
import type { TLSSocket } from './socket.js';

export interface HttpsServer extends http.Server {
  /** The tsls server holding the listening socket. */
  readonly tlsServer: Server;
}

export type HttpsServerOptions = TlsServerOptions & http.ServerOptions;

export function createHttpsServer(options: HttpsServerOptions, requestListener?: http.RequestListener): HttpsServer;
export function createHttpsServer(requestListener?: http.RequestListener): HttpsServer;
export function createHttpsServer(a?: HttpsServerOptions | http.RequestListener, b?: http.RequestListener): HttpsServer {
  const options = typeof a === 'function' ? undefined : a;
  const listener = typeof a === 'function' ? a : b;
  if (!options) throw Object.assign(new TypeError('createHttpsServer needs options with cert and key'), { code: 'ERR_INVALID_ARG_TYPE' });
  // ALPN for HTTP/1.1 unless the caller chose (node's https server offers http/1.1 too).
  const tlsOptions: TlsServerOptions = options.ALPNProtocols || options.ALPNCallback ? options : { ...options, ALPNProtocols: ['http/1.1'] };
  const app = http.createServer(options, listener) as HttpsServer;
  const tlsServer = new Server(tlsOptions, (socket: TLSSocket) => app.emit('connection', socket));
  Object.defineProperty(app, 'tlsServer', { value: tlsServer });
  Object.defineProperty(app, 'listening', { get: () => tlsServer.listening });
  for (const event of ['listening', 'error', 'tlsClientError']) tlsServer.on(event, (...args: unknown[]) => app.emit(event, ...args));
  app.listen = ((...args: unknown[]) => {
    (tlsServer.listen as (...a: unknown[]) => unknown)(...args);
    return app;
  }) as unknown as HttpsServer['listen'];
  app.address = () => tlsServer.address() as AddressInfo | string | null;
  app.close = ((callback?: (err?: Error) => void) => {
    tlsServer.close((err) => {
      app.emit('close');
      callback?.(err);
    });
    // As node's server.close(): idle keep-alive connections end now, busy ones after their response.
    app.closeIdleConnections();
    return app;
  }) as unknown as HttpsServer['close'];
  return app;
}
