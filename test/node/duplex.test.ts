/** TLSSocket over any Duplex (no TCP), writes queued before the handshake, KeyUpdate, checkServerIdentity. */
import { once } from 'node:events';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { afterEach, expect, it } from 'vitest';
import { checkServerIdentity, connect, createServer, TLSSocket } from '../../src/node/entry.js';
import { close, ECDSA, listen, peerCertificateOf, readAll, ROOT } from './util.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** Two connected in-memory Duplex ends (what one writes, the other reads), with backpressure. */
function duplexPair(): [Duplex, Duplex] {
  const ends: Duplex[] = [];
  const waiting: (() => void)[] = [];
  const make = (i: number) =>
    new Duplex({
      read() {
        const w = waiting[i];
        waiting[i] = undefined as never;
        w?.();
      },
      write(chunk, _enc, cb) {
        if (ends[1 - i]!.push(chunk)) cb();
        else waiting[1 - i] = () => cb();
      },
      final(cb) {
        ends[1 - i]!.push(null);
        cb();
      },
    });
  ends.push(make(0), make(1));
  return [ends[0]!, ends[1]!];
}

it('tsls client ↔ tsls server over an in-memory Duplex (server.emit("connection"))', async () => {
  const server = createServer({ ...ECDSA }, (s) => s.pipe(s)); // echo
  const [a, b] = duplexPair();
  server.emit('connection', b);
  const client = connect({ socket: a, servername: 'localhost', ca: ROOT });
  // Written before the handshake: queued, then sent in order once it completes.
  client.write('early ');
  client.end('and late');
  expect((await readAll(client)).toString()).toBe('early and late');
  expect(client.getProtocol()).toBe('TLSv1.3');
  expect(client.authorized).toBe(true);
});

it('node:tls client over a Duplex ↔ new TLSSocket(duplex, { isServer: true, ... })', async () => {
  const [a, b] = duplexPair();
  const server = new TLSSocket(b, { isServer: true, ...ECDSA, ALPNProtocols: ['x'] });
  server.on('secure', () => server.end(`alpn ${server.alpnProtocol}`));
  const client = tls.connect({ socket: a, servername: 'localhost', ca: ROOT, ALPNProtocols: ['x'] });
  expect((await readAll(client)).toString()).toBe('alpn x');
});

it('keyUpdate() mid-stream: node:tls keeps reading, and answers', async () => {
  const server = tls.createServer({ ...ECDSA }, (s) => s.pipe(s));
  const port = await listen(server);
  cleanups.push(() => close(server));
  const client = connect({ port, host: 'localhost', ca: ROOT });
  const body = readAll(client);
  await once(client, 'secureConnect');
  client.write('before ');
  client.keyUpdate(true);
  client.write('after ');
  client.keyUpdate(false);
  client.end('end');
  expect((await body).toString()).toBe('before after end');
});

it('checkServerIdentity works on certificate objects, like node\'s', async () => {
  const server = tls.createServer({ ...ECDSA }, (s) => s.end());
  const port = await listen(server);
  cleanups.push(() => close(server));
  const client = connect({ port, host: 'localhost', ca: ROOT });
  await once(client, 'secureConnect');
  const cert = peerCertificateOf(client);
  expect(checkServerIdentity('localhost', cert)).toBeUndefined();
  expect(checkServerIdentity('127.0.0.1', cert)).toBeUndefined();
  const err = checkServerIdentity('evil.example', cert) as Error & { code: string; reason: string };
  expect(err.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  expect(tls.checkServerIdentity('evil.example', cert)).toMatchObject({ code: err.code, reason: err.reason });
  client.destroy();
});
