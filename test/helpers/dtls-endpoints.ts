/**
 * Our DTLS side of an interop test over real UDP on 127.0.0.1: a client on a socket of the
 * test's own (so arriving datagrams can be measured) and an echo server. Each registers how to
 * close what it opened in the test's `cleanups`, run in afterEach.
 */
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { expect } from 'vitest';
import { connectDtls, createDtlsServer, type DTLSConnectOptions, type DTLSServer, type DTLSServerOptions, type DTLSSocket } from '../../src/node/entry.js';
import { PEER_WAIT_MS, until } from './peers.js';
import { readPki } from './pki.js';

export type Cleanups = (() => Promise<void> | void)[];

const ROOT = readPki('root.crt');
const ECDSA = { cert: readPki('leaf-ecdsa-p256.chain.pem'), key: readPki('leaf-ecdsa-p256.key') };

function next<T extends unknown[] = unknown[]>(emitter: NodeJS.EventEmitter, event: string, ms = PEER_WAIT_MS): Promise<T> {
  return once(emitter, event, { signal: AbortSignal.timeout(ms) }) as Promise<T>;
}

/**
 * Our client, connected to `port` and verifying the server against root.crt as `localhost`;
 * `messages` collects what arrives, `stats.largest` is the biggest datagram received. Fails the
 * test (with `peer`'s output) when the handshake does.
 */
export async function ourDtlsClient(cleanups: Cleanups, port: number, peer: { describe(): string }, options: Partial<DTLSConnectOptions> = {}) {
  const udp = dgram.createSocket('udp4');
  cleanups.push(() => new Promise<void>((r) => udp.close(() => r())).catch(() => undefined));
  udp.bind(0, '127.0.0.1');
  await next(udp, 'listening');
  const stats = { largest: 0, datagrams: 0 };
  udp.on('message', (m: Buffer) => {
    stats.largest = Math.max(stats.largest, m.length);
    stats.datagrams++;
  });
  const c = connectDtls({ host: '127.0.0.1', port, servername: 'localhost', ca: ROOT, socket: udp, ...options });
  cleanups.push(() => void c.destroy());
  const messages: string[] = [];
  c.on('message', (m: Buffer) => messages.push(m.toString()));
  const errors: Error[] = [];
  c.on('error', (e) => errors.push(e));
  await until('our client to connect', () => c.established || errors.length > 0, () => `${errors.join('\n')}\n${peer.describe()}`);
  expect(errors, peer.describe()).toEqual([]);
  return { c, messages, stats, errors };
}

/** Our echo server (leaf-ecdsa-p256 unless `options` say otherwise): each message comes back as is; `sockets` are the associations it served. */
export async function ourDtlsServer(cleanups: Cleanups, options: Partial<DTLSServerOptions> = {}) {
  const sockets: DTLSSocket[] = [];
  const received: string[] = [];
  const clientErrors: Error[] = [];
  const server: DTLSServer = createDtlsServer({ ...ECDSA, ...options }, (s) => {
    sockets.push(s);
    s.on('message', (m: Buffer) => {
      received.push(m.toString());
      if (s.established) s.send(m);
    });
    s.on('error', () => undefined);
  });
  server.on('tlsClientError', (e: Error) => clientErrors.push(e));
  server.listen(0, '127.0.0.1');
  await next(server, 'listening');
  cleanups.push(async () => {
    const closed = next(server, 'close');
    server.close();
    await closed;
  });
  return { server, port: server.address().port, sockets, received, clientErrors };
}
