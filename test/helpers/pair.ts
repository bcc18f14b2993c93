/** An in-memory client↔server pair: pump bytes between two sans-IO connections. */
import type { ClientOptions, ServerOptions } from '../../src/config.js';
import { Connection } from '../../src/connection.js';
import type { TLSError } from '../../src/errors.js';
import { certifiedKey, rootCa } from './pki.js';

export interface Pair {
  client: Connection;
  server: Connection;
  /** Move bytes both ways until neither side has anything to send; returns the number of rounds. */
  pump(transform?: (bytes: Uint8Array, from: 'client' | 'server') => Uint8Array[]): number;
  clientData: Uint8Array[];
  serverData: Uint8Array[];
  clientErrors: TLSError[];
  serverErrors: TLSError[];
}

export function defaultClientOptions(extra: ClientOptions = {}): ClientOptions {
  return { ca: rootCa(), servername: 'localhost', ...extra };
}

export function defaultServerOptions(extra: Partial<ServerOptions> = {}): ServerOptions {
  return { certificates: [certifiedKey('leaf-ecdsa-p256')], ...extra };
}

export function makePair(clientOptions: ClientOptions = {}, serverOptions: Partial<ServerOptions> = {}): Pair {
  const client = Connection.client(defaultClientOptions(clientOptions));
  // A complete options object is used as is: ticket keys are shared per options object.
  const server = Connection.server(serverOptions.certificates ? (serverOptions as ServerOptions) : defaultServerOptions(serverOptions));
  const p: Pair = {
    client,
    server,
    clientData: [],
    serverData: [],
    clientErrors: [],
    serverErrors: [],
    pump(transform) {
      let rounds = 0;
      for (; rounds < 1000; rounds++) {
        const c = client.takeOutput();
        const s = server.takeOutput();
        if (c.length === 0 && s.length === 0) break;
        for (const chunk of transform ? transform(c, 'client') : [c]) server.feed(chunk);
        for (const chunk of transform ? transform(s, 'server') : [s]) client.feed(chunk);
      }
      return rounds;
    },
  };
  client.on('data', (d) => p.clientData.push(d));
  server.on('data', (d) => p.serverData.push(d));
  client.on('error', (e) => p.clientErrors.push(e));
  server.on('error', (e) => p.serverErrors.push(e));
  return p;
}
