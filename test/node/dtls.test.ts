/** tsls's DTLS over node:dgram: our client ↔ our server over real UDP on 127.0.0.1. */
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DtlsConnection } from '../../src/dtls-connection.js';
import { HandshakeType, HRR_RANDOM } from '../../src/messages/constants.js';
import { equal } from '../../src/util/bytes.js';
import { connectDtls, dtls, type DTLSConnectOptions, type DTLSServer, type DTLSServerOptions, type DTLSSocket } from '../../src/node/entry.js';
import { readPki } from '../helpers/pki.js';
import { ECDSA, ROOT, RSA } from './util.js';

const WAIT_MS = 5000;
const DTLS12 = { minVersion: 'DTLSv1.2', maxVersion: 'DTLSv1.2' } as const;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The next `event` of `emitter` (its arguments), failing after `ms`. */
function next<T extends unknown[] = unknown[]>(emitter: NodeJS.EventEmitter, event: string, ms = WAIT_MS): Promise<T> {
  return once(emitter, event, { signal: AbortSignal.timeout(ms) }) as Promise<T>;
}

/** Poll `ok` until true, failing after `ms`. */
async function until(what: string, ok: () => boolean, ms = WAIT_MS): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function startServer(options: Partial<DTLSServerOptions> = {}, onSecure?: (s: DTLSSocket) => void): Promise<{ server: DTLSServer; port: number }> {
  const server = dtls.createServer({ ...ECDSA, ...options }, onSecure);
  cleanups.push(async () => {
    if (server.socket && !closed.has(server)) {
      const done = next(server, 'close');
      server.close();
      await done;
    }
  });
  server.once('close', () => closed.add(server));
  server.listen(0, '127.0.0.1');
  await next(server, 'listening');
  return { server, port: server.address().port };
}
const closed = new WeakSet<DTLSServer>();

/** An echo server: every message comes back prefixed with "echo:". */
function echo(s: DTLSSocket): void {
  s.on('message', (m: Buffer) => {
    if (s.established) s.send(Buffer.concat([Buffer.from('echo:'), m]));
  });
  s.on('error', () => undefined);
}

function client(port: number, options: Partial<DTLSConnectOptions> = {}): DTLSSocket {
  const c = dtls.connect({ host: 'localhost', port, ca: ROOT, ...options });
  cleanups.push(() => void c.destroy());
  return c;
}

async function udpSocket(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  cleanups.push(() => new Promise<void>((r) => s.close(() => r())).catch(() => undefined));
  s.bind(0, '127.0.0.1');
  await next(s, 'listening');
  return s;
}

/** A first flight (a cookieless ClientHello) as a real client makes it, offering DTLS up to `maxVersion`. */
function clientHello(maxVersion: 'TLSv1.2' | 'TLSv1.3' = 'TLSv1.2'): Uint8Array {
  const [hello] = DtlsConnection.client({ rejectUnauthorized: false, maxVersion }).takeDatagrams();
  return hello!;
}

/**
 * The message a cookie exchange answers with, from the first record of a datagram: a 13-byte
 * DTLSPlaintext header, then a 12-byte DTLS handshake header, then for a ServerHello the
 * legacy_version and the random that marks a HelloRetryRequest (RFC 8446 4.1.3).
 */
function cookieAnswerKind(datagram: Uint8Array): string {
  const type = datagram[13];
  if (type === HandshakeType.hello_verify_request) return 'HelloVerifyRequest';
  if (type === HandshakeType.server_hello && equal(datagram.subarray(27, 59), HRR_RANDOM)) return 'HelloRetryRequest';
  return `handshake type ${type}`;
}

/**
 * Drive a bare engine client over `udp` to 127.0.0.1:port, stopping (silently: no alert, no
 * close_notify, like a peer that lost power) when `stop()` says so.
 */
function rawClient(udp: dgram.Socket, port: number, stop: (conn: DtlsConnection, sent: number) => boolean) {
  const conn = DtlsConnection.client({ ca: [], rejectUnauthorized: false, retransmitMs: 100 });
  let halted = false;
  let sent = 0;
  const pump = () => {
    if (halted) return;
    for (const d of conn.takeDatagrams()) {
      udp.send(d, port, '127.0.0.1');
      sent++;
    }
    if (stop(conn, sent)) halted = true;
  };
  const onMessage = (msg: Buffer) => {
    if (halted) return;
    conn.feedDatagram(msg);
    pump();
  };
  udp.on('message', onMessage);
  const timer = setInterval(() => {
    if (halted) return;
    conn.handleTimeout(Date.now());
    pump();
  }, 20);
  cleanups.push(() => clearInterval(timer));
  pump();
  return {
    conn,
    halt: () => {
      halted = true;
      clearInterval(timer);
      udp.off('message', onMessage);
    },
  };
}

describe('DTLS over UDP: our client ↔ our server', () => {
  it('DTLS 1.2: completes a handshake, verifies the server, and carries messages both ways as records', async () => {
    const serverSide: DTLSSocket[] = [];
    const received: string[] = [];
    const { server, port } = await startServer({ ALPNProtocols: ['coap', 'h3'], ...DTLS12 }, (s) => {
      serverSide.push(s);
      s.on('message', (m: Buffer) => {
        received.push(m.toString());
        s.send(Buffer.concat([Buffer.from('echo:'), m]));
      });
    });
    const keylog: string[] = [];
    server.on('keylog', (line: Buffer) => keylog.push(line.toString()));
    const c = client(port, { ALPNProtocols: ['coap'], ...DTLS12 });
    const clientKeylog: string[] = [];
    c.on('keylog', (line: Buffer) => clientKeylog.push(line.toString()));
    expect(c.getProtocol()).toBe('unknown');
    await next(c, 'secureConnect');
    expect(c.getProtocol()).toBe('DTLSv1.2');
    expect(c.getCipher()).toEqual({ name: 'ECDHE-ECDSA-AES128-GCM-SHA256', standardName: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', version: 'DTLSv1.2' });
    expect(c.authorized).toBe(true);
    expect(c.authorizationError).toBe(null);
    expect(c.alpnProtocol).toBe('coap');
    expect(c.servername).toBe('localhost');
    expect(c.getPeerCertificate().subject.CN).toBe('tsls test leaf-ecdsa-p256');
    expect(c.getPeerCertificate(true).issuerCertificate.subject.CN).toBeTruthy();
    expect(c.remoteAddress).toBe('127.0.0.1');
    expect(c.remotePort).toBe(port);
    expect((c.address() as AddressInfo).port).toBeGreaterThan(0);

    const messages: string[] = [];
    c.on('message', (m: Buffer) => messages.push(m.toString()));
    c.send('one');
    c.send(Buffer.from('two'));
    const big = Buffer.alloc(5000, 'x');
    await new Promise<void>((resolve, reject) => c.send(big, (err) => (err ? reject(err) : resolve())));
    await until('three echoes', () => messages.length === 3);
    // One record each way per send: a 5000-byte message arrives whole, as one message.
    expect(received).toEqual(['one', 'two', big.toString()]);
    expect(messages).toEqual(['echo:one', 'echo:two', `echo:${big.toString()}`]);

    const s = serverSide[0]!;
    expect(s.getProtocol()).toBe('DTLSv1.2');
    expect(s.alpnProtocol).toBe('coap');
    expect(s.remotePort).toBe((c.address() as AddressInfo).port);
    expect(server.associations.size).toBe(1);
    expect(server.halfOpenCount).toBe(0);
    expect(server.stats.helloVerifyRequests).toBe(1);
    // The same RFC 5705 keys on both sides (the DTLS-SRTP path).
    const context = Buffer.from('ctx');
    expect(c.exportKeyingMaterial(32, 'EXTRACTOR-dtls_srtp', context)).toEqual(s.exportKeyingMaterial(32, 'EXTRACTOR-dtls_srtp', context));
    expect(keylog.length).toBeGreaterThan(0);
    expect(clientKeylog).toEqual(keylog);
    expect(keylog[0]).toMatch(/^CLIENT_RANDOM [0-9a-f]{64} [0-9a-f]{96}\n$/);
  });

  it('DTLS 1.3 by default: the stateless cookie, a verified server, TLS 1.3 secrets in the keylog, records both ways', async () => {
    const serverSide: DTLSSocket[] = [];
    const { server, port } = await startServer({ ALPNProtocols: ['coap'] }, (s) => {
      serverSide.push(s);
      echo(s);
    });
    const keylog: string[] = [];
    server.on('keylog', (line: Buffer) => keylog.push(line.toString()));
    const c = client(port, { ALPNProtocols: ['coap'] });
    const clientKeylog: string[] = [];
    c.on('keylog', (line: Buffer) => clientKeylog.push(line.toString()));
    await next(c, 'secureConnect');
    expect(c.getProtocol()).toBe('DTLSv1.3');
    expect(c.getCipher()).toEqual({ name: 'TLS_AES_128_GCM_SHA256', standardName: 'TLS_AES_128_GCM_SHA256', version: 'DTLSv1.3' });
    expect(c.authorized).toBe(true);
    expect(c.alpnProtocol).toBe('coap');
    // The server's first answer was a HelloRetryRequest with a cookie, made without keeping state.
    expect(c.connection.helloRetried).toBe(true);
    expect(server.stats.helloVerifyRequests).toBe(1);
    const messages: string[] = [];
    c.on('message', (m: Buffer) => messages.push(m.toString()));
    c.send('one');
    c.send(Buffer.alloc(5000, 'y'));
    await until('two echoes', () => messages.length === 2);
    expect(messages).toEqual(['echo:one', `echo:${'y'.repeat(5000)}`]);
    const s = serverSide[0]!;
    expect(s.getProtocol()).toBe('DTLSv1.3');
    const context = Buffer.from('ctx');
    expect(c.exportKeyingMaterial(32, 'EXTRACTOR-dtls_srtp', context)).toEqual(s.exportKeyingMaterial(32, 'EXTRACTOR-dtls_srtp', context));
    expect(keylog.map((l) => l.split(' ')[0]).sort()).toEqual(['CLIENT_HANDSHAKE_TRAFFIC_SECRET', 'CLIENT_TRAFFIC_SECRET_0', 'EXPORTER_SECRET', 'SERVER_HANDSHAKE_TRAFFIC_SECRET', 'SERVER_TRAFFIC_SECRET_0']);
    expect([...clientKeylog].sort()).toEqual([...keylog].sort());
  });

  it('DTLS 1.3 by default: X25519MLKEM768, asked for in the cookie HelloRetryRequest, reported by getEphemeralKeyInfo() as node:tls does', async () => {
    const serverSide: DTLSSocket[] = [];
    const { server, port } = await startServer({}, (s) => {
      serverSide.push(s);
      echo(s);
    });
    const c = client(port);
    await next(c, 'secureConnect');
    expect(c.getEphemeralKeyInfo()).toEqual({ type: 'TLSGroup', name: 'X25519MLKEM768' });
    // One round trip more than none: the cookie's, which also named the group.
    expect(server.stats.helloVerifyRequests).toBe(1);
    expect(c.connection.helloRetried).toBe(true);
    await until('the server side', () => serverSide.length === 1);
    expect(serverSide[0]!.getEphemeralKeyInfo()).toBeNull();
    expect(serverSide[0]!.connection.group).toBe('X25519MLKEM768');
    // Over DTLS 1.2 no KEM group exists: X25519, as node:tls reports ECDH.
    const { port: port12 } = await startServer(DTLS12, echo);
    const old = client(port12);
    await next(old, 'secureConnect');
    expect(old.getEphemeralKeyInfo()).toEqual({ type: 'ECDH', name: 'X25519', size: 253 });
  });

  it('minVersion/maxVersion DTLSv1.2 on either side settles on DTLS 1.2', async () => {
    const { port } = await startServer(DTLS12, echo);
    const a = client(port);
    await next(a, 'secureConnect');
    expect(a.getProtocol()).toBe('DTLSv1.2');
    const { port: port13 } = await startServer({}, echo);
    const b = client(port13, DTLS12);
    await next(b, 'secureConnect');
    expect(b.getProtocol()).toBe('DTLSv1.2');
  });

  it('keyUpdate(): over DTLS 1.3 both sides move to new keys and messages keep flowing; over DTLS 1.2 it throws ERR_TLS_INVALID_STATE', async () => {
    const serverSide: DTLSSocket[] = [];
    const { port } = await startServer({}, (s) => {
      serverSide.push(s);
      echo(s);
    });
    const c = client(port);
    await next(c, 'secureConnect');
    const messages: string[] = [];
    c.on('message', (m: Buffer) => messages.push(m.toString()));
    c.keyUpdate(false);
    c.send('after the update');
    await until('the echo under new keys', () => messages.includes('echo:after the update'));
    await until('the server side', () => serverSide[0]?.established === true);
    serverSide[0]!.keyUpdate(false);
    c.send('after the server update');
    await until('the second echo', () => messages.includes('echo:after the server update'));
    expect(c.connection.recordStats.dropped.badMac).toBe(0);
    const { port: port12 } = await startServer(DTLS12, echo);
    const old = client(port12);
    await next(old, 'secureConnect');
    expect(() => old.keyUpdate()).toThrow(expect.objectContaining({ code: 'ERR_TLS_INVALID_STATE' }));
  });

  it('keyUpdate() twice in a row over DTLS 1.3: the second waits for the first ACK, no error, messages keep flowing under the newest keys', async () => {
    const { port } = await startServer({}, echo);
    const c = client(port);
    await next(c, 'secureConnect');
    const updates: number[] = [];
    c.connection.on('message', (dir, m) => dir === 'send' && m.type === 'key_update' && updates.push(m.request_update));
    const messages: string[] = [];
    c.on('message', (m: Buffer) => messages.push(m.toString()));
    c.keyUpdate();
    c.keyUpdate();
    await until('both KeyUpdates sent', () => updates.length === 2);
    c.send('after two updates');
    await until('the echo', () => messages.includes('echo:after two updates'));
    expect(updates).toEqual([1, 1]);
    expect(c.connection.recordStats.dropped.badMac).toBe(0);
  });

  it('messages sent before the handshake completes are queued and delivered after it', async () => {
    const received: string[] = [];
    const { port } = await startServer({}, (s) => s.on('message', (m: Buffer) => received.push(m.toString())));
    const c = client(port);
    c.send('early 1');
    c.send('early 2');
    await next(c, 'secureConnect');
    await until('queued messages', () => received.length === 2);
    expect(received).toEqual(['early 1', 'early 2']);
  });

  it('demultiplexes several clients at once on one UDP socket', async () => {
    const { server, port } = await startServer({}, echo);
    const clients = Array.from({ length: 6 }, () => client(port));
    await Promise.all(clients.map((c) => next(c, 'secureConnect')));
    expect(server.associations.size).toBe(6);
    expect(new Set(clients.map((c) => (c.address() as AddressInfo).port)).size).toBe(6);
    const got = clients.map(() => [] as string[]);
    clients.forEach((c, i) => c.on('message', (m: Buffer) => got[i]!.push(m.toString())));
    for (let round = 0; round < 3; round++) clients.forEach((c, i) => c.send(`client ${i} round ${round}`));
    await until('every echo', () => got.every((g) => g.length === 3));
    got.forEach((g, i) => expect(g).toEqual([0, 1, 2].map((r) => `echo:client ${i} round ${r}`)));
    for (const c of clients) c.close();
    await until('associations gone', () => server.associations.size === 0);
  });

  it.each([
    ['DTLS 1.2', 'TLSv1.2', 'HelloVerifyRequest'],
    ['DTLS 1.3', 'TLSv1.3', 'HelloRetryRequest'],
  ] as const)('a cookieless %s (%s) ClientHello flood keeps no state: association count stays 0, every answer is a small %s', async (_v, maxVersion, answer) => {
    const { server, port } = await startServer();
    const flood = await udpSocket();
    let answers = 0;
    let largestAnswer = 0;
    const answerKinds = new Set<string>();
    flood.on('message', (m: Buffer) => {
      answers++;
      largestAnswer = Math.max(largestAnswer, m.length);
      answerKinds.add(cookieAnswerKind(m));
    });
    const hellos = Array.from({ length: 1000 }, () => clientHello(maxVersion));
    const smallest = Math.min(...hellos.map((h) => h.length));
    let maxAssociations = 0;
    // 1,000 from one source port, in bursts (loopback drops what overflows the receive buffer).
    for (let i = 0; i < hellos.length; i += 50) {
      for (const h of hellos.slice(i, i + 50)) flood.send(h, port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 5));
      maxAssociations = Math.max(maxAssociations, server.associations.size, server.halfOpenCount);
    }
    // And 200 more from 100 different source ports.
    const sockets = await Promise.all(Array.from({ length: 100 }, () => udpSocket()));
    for (const [i, s] of sockets.entries()) {
      s.send(hellos[2 * i]!, port, '127.0.0.1');
      s.send(hellos[2 * i + 1]!, port, '127.0.0.1');
      if (i % 20 === 19) await new Promise((r) => setTimeout(r, 5));
      maxAssociations = Math.max(maxAssociations, server.associations.size);
    }
    await until('the flood to be answered', () => server.stats.helloVerifyRequests >= 900 && answers >= 800);
    expect(maxAssociations).toBe(0);
    expect(server.associations.size).toBe(0);
    expect(server.halfOpenCount).toBe(0);
    expect(server.stats.accepted).toBe(0);
    expect(largestAnswer).toBeLessThanOrEqual(smallest); // no amplification
    expect([...answerKinds]).toEqual([answer]);
    // The server still serves a real client.
    const c = client(port);
    await next(c, 'secureConnect');
    expect(server.associations.size).toBe(1);
  });

  it("recvBufferSize and sendBufferSize size the server's UDP socket, and a client still completes through it", async () => {
    const plain = await startServer();
    const defaults = { recv: plain.server.socket!.getRecvBufferSize(), send: plain.server.socket!.getSendBufferSize() };
    // A quarter of the kernel's default, so the change shows whatever rmem_max / wmem_max allow (Linux reports twice what was set).
    const want = { recv: Math.floor(defaults.recv / 4), send: Math.floor(defaults.send / 4) };
    const { server, port } = await startServer({ recvBufferSize: want.recv, sendBufferSize: want.send }, echo);
    expect(server.socket!.getRecvBufferSize()).toBeLessThan(defaults.recv);
    expect(server.socket!.getRecvBufferSize()).toBeGreaterThanOrEqual(want.recv);
    expect(server.socket!.getSendBufferSize()).toBeLessThan(defaults.send);
    expect(server.socket!.getSendBufferSize()).toBeGreaterThanOrEqual(want.send);
    const c = client(port);
    await next(c, 'secureConnect');
    c.send(Buffer.from('hi'));
    const [m] = await next<[Buffer]>(c, 'message');
    expect(m.toString()).toBe('echo:hi');
  });

  it('bounds half-open associations (maxHalfOpen): a newcomer evicts the oldest; the rest time out', async () => {
    const clientErrors: Error[] = [];
    const { server, port } = await startServer({ maxHalfOpen: 2, handshakeTimeout: 400 });
    server.on('tlsClientError', (err: Error) => clientErrors.push(err));
    // Three clients pass the cookie exchange and go silent once their ClientHello with cookie is out.
    const sent = (_conn: DtlsConnection, datagrams: number) => datagrams >= 2;
    const raws = [];
    for (let i = 0; i < 3; i++) {
      raws.push(rawClient(await udpSocket(), port, sent));
      await until(`client ${i} to be accepted`, () => server.stats.accepted >= i + 1);
    }
    expect(server.stats.evictedHalfOpen).toBe(1);
    expect(server.associations.size).toBe(2);
    expect(server.halfOpenCount).toBe(2);
    await until('the half-open associations to time out', () => server.associations.size === 0, 3000);
    expect(server.halfOpenCount).toBe(0);
    expect(clientErrors.map((e) => (e as { code?: string }).code)).toEqual(['ERR_TLS_HALF_OPEN_EVICTED', 'ERR_TLS_HANDSHAKE_TIMEOUT', 'ERR_TLS_HANDSHAKE_TIMEOUT']);
    for (const r of raws) r.halt();
  });

  it('bounds all associations (maxConnections)', async () => {
    const { server, port } = await startServer({ maxConnections: 2 }, echo);
    const a = client(port);
    const b = client(port);
    await Promise.all([next(a, 'secureConnect'), next(b, 'secureConnect')]);
    const c = client(port, { handshakeTimeout: 500 });
    const [err] = await next<[Error & { code?: string }]>(c, 'error');
    expect(err.code).toBe('ERR_TLS_HANDSHAKE_TIMEOUT');
    expect(server.stats.refusedFull).toBeGreaterThan(0);
    expect(server.associations.size).toBe(2);
  });

  it('client close(): close_notify reaches the server, which answers, and both sides release', async () => {
    let resolveServerSide!: (s: DTLSSocket) => void;
    const serverSide = new Promise<DTLSSocket>((resolve) => (resolveServerSide = resolve));
    const { server: srv, port } = await startServer({}, (s) => resolveServerSide(s));
    const c = client(port);
    await next(c, 'secureConnect');
    const s = await serverSide;
    const events: string[] = [];
    s.on('end', () => events.push('server end'));
    s.on('close', (hadError: boolean) => events.push(`server close ${hadError}`));
    c.on('end', () => events.push('client end'));
    const closedC = next<[boolean]>(c, 'close');
    c.close();
    expect(c.destroyed).toBe(true);
    expect((await closedC)[0]).toBe(false);
    await until('server side to close', () => events.includes('server close false'));
    expect(events).toEqual(['server end', 'server close false']);
    expect(srv.associations.size).toBe(0);
    expect(c.address()).toEqual({}); // its own UDP socket is closed
    expect(() => c.send('late')).toThrow(/closed/);
  });

  it('server-side close(): the client gets end and close, and the association is gone', async () => {
    let serverSocket: DTLSSocket | undefined;
    const { server, port } = await startServer({}, (s) => (serverSocket = s));
    const c = client(port);
    await next(c, 'secureConnect');
    await until('server socket', () => serverSocket !== undefined);
    const ended = next(c, 'end');
    const closedC = next<[boolean]>(c, 'close');
    serverSocket!.close();
    expect(server.associations.size).toBe(0);
    await ended;
    expect((await closedC)[0]).toBe(false);
  });

  it('server close() sends close_notify to every association, then closes its socket', async () => {
    const { server, port } = await startServer({}, echo);
    const clients = [client(port), client(port)];
    await Promise.all(clients.map((c) => next(c, 'secureConnect')));
    // DTLS 1.3: a client is connected once it sent its Finished; the server, once it read it.
    await until('both associations established', () => server.associations.size === 2 && server.halfOpenCount === 0);
    const ends = clients.map((c) => next(c, 'end'));
    const serverClosed = next(server, 'close');
    server.close();
    await Promise.all(ends);
    await serverClosed;
    expect(server.associations.size).toBe(0);
  });

  it('a silent server: the client gives up after its retransmissions with ERR_TLS_HANDSHAKE_TIMEOUT', async () => {
    const silent = await udpSocket();
    let heard = 0;
    silent.on('message', () => heard++);
    const started = Date.now();
    const c = client((silent.address() as AddressInfo).port, { retransmitMs: 50, maxRetransmissions: 3 });
    const [err] = await next<[Error & { code?: string }]>(c, 'error');
    const elapsed = Date.now() - started;
    expect(err.code).toBe('ERR_TLS_HANDSHAKE_TIMEOUT');
    // 50 + 100 + 200 + 400 ms of waiting; the first ClientHello and three retransmissions.
    expect(elapsed).toBeGreaterThanOrEqual(700);
    expect(elapsed).toBeLessThan(3000);
    await until('the last retransmission', () => heard >= 4);
    expect(heard).toBe(4);
    expect(c.destroyed).toBe(true);
  });

  it('handshakeTimeout ends a handshake sooner than the retransmissions would', async () => {
    const silent = await udpSocket();
    const started = Date.now();
    const c = client((silent.address() as AddressInfo).port, { handshakeTimeout: 300 });
    const [err] = await next<[Error & { code?: string }]>(c, 'error');
    expect(err.code).toBe('ERR_TLS_HANDSHAKE_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('idleTimeout: an association that hears nothing is ended with ERR_TLS_IDLE_TIMEOUT and removed', async () => {
    const errors: (Error & { code?: string })[] = [];
    const { server, port } = await startServer({ idleTimeout: 300 }, (s) => s.on('error', (e) => errors.push(e)));
    const c = client(port);
    await next(c, 'secureConnect');
    expect(server.associations.size).toBe(1);
    const ended = next(c, 'end'); // the server says close_notify as it goes
    await until('the idle association to go', () => server.associations.size === 0, 3000);
    expect(errors.map((e) => e.code)).toEqual(['ERR_TLS_IDLE_TIMEOUT']);
    await ended;
  });

  it('a server-side socket without an error listener does not throw', async () => {
    const { server, port } = await startServer({ idleTimeout: 200 });
    const c = client(port);
    await next(c, 'secureConnect');
    await until('the idle association to go', () => server.associations.size === 0, 3000);
  });

  it('verifies like connect(): unknown CA and wrong name fail, rejectUnauthorized: false connects unauthorized', async () => {
    const serverErrors: (Error & { code?: string })[] = [];
    const { server, port } = await startServer({ ...RSA }, echo);
    server.on('tlsClientError', (e: Error) => serverErrors.push(e));

    const unknownCa = client(port, { ca: ECDSA.cert.split('-----END CERTIFICATE-----')[0] + '-----END CERTIFICATE-----\n' });
    const [e1] = await next<[Error & { code?: string }]>(unknownCa, 'error');
    expect(e1.code).toBe('UNABLE_TO_GET_ISSUER_CERT_LOCALLY');

    const wrongName = client(port, { host: '127.0.0.1', servername: 'wrong.example' });
    const [e2] = await next<[Error & { code?: string }]>(wrongName, 'error');
    expect(e2.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');

    const insecure = client(port, { ca: undefined, rejectUnauthorized: false });
    await next(insecure, 'secureConnect');
    expect(insecure.authorized).toBe(false);
    expect(insecure.authorizationError).toBeTruthy();
    expect(insecure.getCipher()?.standardName).toBe('TLS_AES_128_GCM_SHA256');
    await until('the server to see the refused handshakes', () => serverErrors.length >= 2);
  });

  it('takes node:tls options: ciphers, and refuses what DTLS cannot do', async () => {
    const { port } = await startServer({}, echo);
    // As node:tls: `ciphers` names the DTLS 1.2 suites, `ciphersuites` the DTLS 1.3 ones.
    const c = client(port, { ciphers: 'ECDHE-ECDSA-CHACHA20-POLY1305', ...DTLS12 });
    await next(c, 'secureConnect');
    expect(c.getCipher()?.standardName).toBe('TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256');
    const c13 = client(port, { ciphersuites: 'TLS_CHACHA20_POLY1305_SHA256' });
    await next(c13, 'secureConnect');
    expect(c13.getCipher()).toEqual({ name: 'TLS_CHACHA20_POLY1305_SHA256', standardName: 'TLS_CHACHA20_POLY1305_SHA256', version: 'DTLSv1.3' });
    // Versions by their DTLS names only, in order.
    expect(() => connectDtls({ port, minVersion: 'TLSv1.3' as 'DTLSv1.3' })).toThrow(expect.objectContaining({ code: 'ERR_TLS_INVALID_PROTOCOL_VERSION' }));
    expect(() => connectDtls({ port, minVersion: 'DTLSv1.3', maxVersion: 'DTLSv1.2' })).toThrow(expect.objectContaining({ code: 'ERR_TLS_INVALID_PROTOCOL_VERSION' }));
    expect(() => dtls.createServer({ ...ECDSA, maxVersion: 'DTLSv1.0' as 'DTLSv1.2' })).toThrow(expect.objectContaining({ code: 'ERR_TLS_INVALID_PROTOCOL_VERSION' }));
    // ciphersuites names DTLS 1.3's suites, as TLS 1.3's: one tsls does not implement is refused.
    expect(() => connectDtls({ port, ciphersuites: 'TLS_AES_128_CCM_8_SHA256' })).toThrow(expect.objectContaining({ code: 'ERR_TLS_UNSUPPORTED_OPTION' }));
    expect(() => dtls.createServer({ ...ECDSA, SNICallback: () => undefined })).toThrow(expect.objectContaining({ code: 'ERR_TLS_UNSUPPORTED_OPTION' }));
    expect(() => dtls.createServer({})).toThrow(expect.objectContaining({ code: 'ERR_TLS_INVALID_OPTION' }));
    const ok = connectDtls({ port, ca: ROOT, host: 'localhost', minVersion: 'DTLSv1.2', maxVersion: 'DTLSv1.2' });
    cleanups.push(() => void ok.destroy());
    await next(ok, 'secureConnect');
  });

  it('runs over a dgram socket the caller gives, and leaves it open', async () => {
    const { port } = await startServer({}, echo);
    const udp = await udpSocket();
    const c = client(port, { socket: udp, host: '127.0.0.1', servername: 'localhost' });
    await next(c, 'secureConnect');
    expect(c.address()).toEqual(udp.address());
    c.send('over your socket');
    const [m] = await next<[Buffer]>(c, 'message');
    expect(m.toString()).toBe('echo:over your socket');
    c.close();
    await next(c, 'close');
    expect(udp.address().port).toBeGreaterThan(0); // still bound
  });

  it('a client that lost its state and says ClientHello again from the same address replaces its association (RFC 6347 4.2.8)', async () => {
    const serverSockets: DTLSSocket[] = [];
    const { server, port } = await startServer({}, (s) => {
      serverSockets.push(s);
      echo(s);
    });
    const udp = await udpSocket();
    const first = rawClient(udp, port, (conn) => conn.state === 'ESTABLISHED');
    // Wait for the client to have the server's last flight, so no stray datagram of it reaches the next one.
    await until('the first association', () => serverSockets.length === 1 && first.conn.state === 'ESTABLISHED');
    first.halt(); // gone without a word
    const closedOld = next<[boolean]>(serverSockets[0]!, 'close');
    const c = client(port, { socket: udp, host: '127.0.0.1', servername: 'localhost' });
    await next(c, 'secureConnect');
    await closedOld;
    // (Over DTLS 1.3 the server completes a moment after the client: when the client's Finished arrives.)
    await until('the new association', () => serverSockets.length === 2);
    expect(server.associations.size).toBe(1);
    expect(server.associations.get(`127.0.0.1:${udp.address().port}`)).toBe(serverSockets[1]);
    c.send('again');
    const [m] = await next<[Buffer]>(c, 'message');
    expect(m.toString()).toBe('echo:again');
  });

  // A DTLS 1.3 ClientHello (with its key share) does not fit 300 bytes: the cookie guard puts
  // its fragments together before judging it.
  it.each([
    ['DTLS 1.2', DTLS12, 300],
    ['DTLS 1.3', {}, 300],
  ] as const)('fragments flights to a small MTU (RSA certificate, mtu 300 on both sides): %s', async (_what, versions, clientMtu) => {
    const { port } = await startServer({ ...RSA, mtu: 300, ...versions }, echo);
    let largest = 0;
    const udp = await udpSocket();
    udp.on('message', (m: Buffer) => (largest = Math.max(largest, m.length)));
    const c = client(port, { socket: udp, host: '127.0.0.1', servername: 'localhost', ...versions, ...(clientMtu ? { mtu: clientMtu } : {}) });
    await next(c, 'secureConnect');
    expect(largest).toBeGreaterThan(0);
    expect(largest).toBeLessThanOrEqual(300);
    c.send('through small datagrams');
    const [m] = await next<[Buffer]>(c, 'message');
    expect(m.toString()).toBe('echo:through small datagrams');
  });
});

describe('a DTLS server judges client certificates as a TLS server does', () => {
  const CLIENT = { cert: readPki('client-ecdsa-p256.chain.pem'), key: readPki('client-ecdsa-p256.key') };

  it.each([
    ['a trusted certificate', CLIENT, { authorized: true, authorizationError: null }],
    ['none', {}, { authorized: false, authorizationError: 'UNABLE_TO_GET_ISSUER_CERT' }],
  ] as const)('requestCert, rejectUnauthorized: false, %s: authorized and authorizationError as node:tls sets them', async (_what, cert, expected) => {
    const secured = new Promise<DTLSSocket>((resolve) => {
      void startServer({ ca: ROOT, requestCert: true, rejectUnauthorized: false }, (s) => {
        echo(s);
        resolve(s);
      }).then(({ port }) => {
        const c = client(port, cert);
        c.on('error', () => undefined);
      });
    });
    const s = await secured;
    expect({ authorized: s.authorized, authorizationError: s.authorizationError }).toEqual(expected);
  });

  it('without requestCert the server socket says false/null, as node:tls', async () => {
    const secured = new Promise<DTLSSocket>((resolve) => {
      void startServer({}, (s) => {
        echo(s);
        resolve(s);
      }).then(({ port }) => void client(port, CLIENT).on('error', () => undefined));
    });
    const s = await secured;
    expect({ authorized: s.authorized, authorizationError: s.authorizationError }).toEqual({ authorized: false, authorizationError: null });
  });
});
