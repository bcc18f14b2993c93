/** Half-close, ordering, close_notify both ways, and abrupt TCP closes. */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, type TLSSocket } from '../../src/node/entry.js';
import { close, ECDSA, listen, nextError, readAll, ROOT } from './util.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('half-close', () => {
  it.each(['tsls', 'node:tls'] as const)('%s client end() → tsls server (allowHalfOpen) reads all, answers, both close', async (kind) => {
    const payload = randomBytes(1024 * 1024 + 7);
    const events: string[] = [];
    let serverClosed!: () => void;
    const serverDone = new Promise<void>((resolve) => (serverClosed = resolve));
    const server = createServer({ ...ECDSA, allowHalfOpen: true }, async (s) => {
      const body = await readAll(s); // 'end' comes only after every byte
      events.push('server end');
      expect(sha(body)).toBe(sha(payload));
      expect(s.writable).toBe(true); // our side is still open
      await new Promise((r) => setTimeout(r, 20));
      s.write(`got ${body.length} bytes`);
      s.end(' bye');
      await once(s, 'close');
      events.push('server close');
      serverClosed();
    });
    cleanups.push(() => close(server));
    const port = await listen(server);
    // Listeners are attached in the same turn as connect(): a fast handshake cannot finish unobserved.
    // node's tls.connect hands allowHalfOpen to its TLSSocket, though @types/node does not list it.
    const options = { port, host: 'localhost', ca: ROOT, allowHalfOpen: true };
    const c = kind === 'tsls' ? connect(options) : tls.connect(options);
    const reply = readAll(c);
    const closed = once(c, 'close');
    await once(c, 'secureConnect');
    for (let i = 0; i < payload.length; i += 100_000) c.write(payload.subarray(i, i + 100_000));
    c.end();
    expect((await reply).toString()).toBe(`got ${payload.length} bytes bye`);
    await closed;
    await serverDone;
    expect(events).toEqual(['server end', 'server close']);
  });

  it('without allowHalfOpen, the peer ending ends us too (close_notify both ways)', async () => {
    const server = createServer({ ...ECDSA }, (s) => {
      s.on('data', () => undefined);
    });
    const serverSocket = new Promise<TLSSocket>((r) => server.once('secureConnection', r));
    const port = await listen(server);
    cleanups.push(() => close(server));
    const client = connect({ port, host: 'localhost', ca: ROOT });
    client.on('data', () => undefined);
    await once(client, 'secureConnect');
    const s = await serverSocket;
    const closes = Promise.all([once(client, 'close'), once(s, 'close')]);
    const clientEnded = once(client, 'end');
    client.end('last words');
    await closes;
    await clientEnded; // the server's close_notify reached us
    expect(client.connection.state).toBe('CLOSED');
    expect(s.connection.state).toBe('CLOSED');
  });
});

describe('abrupt closes', () => {
  /** A tsls server whose secureConnection handler misbehaves at the TCP level. */
  async function serve(onSecure: (s: TLSSocket) => void): Promise<number> {
    const server = createServer({ ...ECDSA }, (s) => {
      s.on('error', () => undefined);
      onSecure(s);
    });
    const port = await listen(server);
    cleanups.push(() => close(server));
    return port;
  }

  /** Half of one application data record, straight onto the TCP socket. */
  function halfRecord(s: TLSSocket): Buffer {
    s.connection.write(Buffer.alloc(1000, 1));
    const record = Buffer.from(s.connection.takeOutput());
    return record.subarray(0, record.length >> 1);
  }

  it('FIN in the middle of a record → ERR_TLS_CONNECTION_RESET', async () => {
    const port = await serve((s) => {
      const t = s.transport as net.Socket;
      t.write(halfRecord(s));
      t.end();
    });
    const client = connect({ port, host: 'localhost', ca: ROOT });
    client.on('data', () => undefined);
    const err = await nextError(client);
    expect(err.code).toBe('ERR_TLS_CONNECTION_RESET');
    expect(err.alert).toBe('internal_error');
    expect(err.message).toMatch(/middle of a TLS record/);
  });

  it('RST in the middle of a record → ERR_TLS_CONNECTION_RESET', async () => {
    const port = await serve((s) => {
      const t = s.transport as net.Socket;
      t.setNoDelay(true); // no Nagle delay: the half record must leave before the RST discards it
      t.write(halfRecord(s), () => setTimeout(() => t.resetAndDestroy(), 50));
    });
    const client = connect({ port, host: 'localhost', ca: ROOT });
    client.on('data', () => undefined);
    const err = await nextError(client);
    expect(err.code).toBe('ERR_TLS_CONNECTION_RESET');
    expect((err.cause as { code?: string } | undefined)?.code).toBe('ECONNRESET');
  });

  it.each(['end', 'resetAndDestroy'] as const)('TCP %s in the middle of the handshake → ERR_TLS_CONNECTION_RESET', async (how) => {
    const raw = net.createServer({ allowHalfOpen: true }, (sock) => {
      sock.once('data', () => {
        // Half a ServerHello's record header and a few bytes, then gone.
        sock.write(Buffer.from([22, 3, 3, 0, 90, 2, 0, 0]), () => setTimeout(() => sock[how](), 10));
      });
    });
    const port = await listen(raw);
    cleanups.push(() => close(raw));
    const client = connect({ port, host: 'localhost', ca: ROOT });
    const err = await nextError(client);
    expect(err.code).toBe('ERR_TLS_CONNECTION_RESET');
    expect(err.message).toMatch(/before the TLS handshake completed/);
  });

  it('TCP FIN right after accepting → ERR_TLS_CONNECTION_RESET, not a hang', async () => {
    const raw = net.createServer((sock) => sock.resume().end());
    const port = await listen(raw);
    cleanups.push(() => close(raw));
    const err = await nextError(connect({ port, host: 'localhost', ca: ROOT }));
    expect(err.code).toBe('ERR_TLS_CONNECTION_RESET');
  });

  it('FIN after a whole record without close_notify → data then end, like node:tls', async () => {
    const port = await serve((s) => {
      s.connection.write(Buffer.from('complete record'));
      const t = s.transport as net.Socket;
      t.end(Buffer.from(s.connection.takeOutput()));
    });
    const client = connect({ port, host: 'localhost', ca: ROOT });
    let error: Error | undefined;
    client.on('error', (e) => (error = e));
    expect((await readAll(client)).toString()).toBe('complete record');
    await once(client, 'close');
    expect(error).toBeUndefined();
  });

  it('a failed handshake on the server is a tlsClientError, and the client hears the alert', async () => {
    const server = createServer({ ...ECDSA, minVersion: 'TLSv1.3' });
    const port = await listen(server);
    cleanups.push(() => close(server));
    const clientError = new Promise<Error>((resolve) => server.once('tlsClientError', resolve));
    const client = tls.connect({ port, host: 'localhost', ca: ROOT, maxVersion: 'TLSv1.2' });
    const err = await nextError(client as unknown as TLSSocket);
    expect(err.message).toMatch(/alert|version/i);
    expect(await clientError).toMatchObject({ alert: 'protocol_version' });
  });

  it('handshakeTimeout → tlsClientError ERR_TLS_HANDSHAKE_TIMEOUT', async () => {
    const server = createServer({ ...ECDSA, handshakeTimeout: 100 });
    const port = await listen(server);
    cleanups.push(() => close(server));
    const clientError = new Promise<Error & { code?: string }>((resolve) => server.once('tlsClientError', resolve));
    const sock = net.connect(port, '127.0.0.1');
    sock.on('error', () => undefined);
    cleanups.unshift(() => void sock.destroy());
    expect((await clientError).code).toBe('ERR_TLS_HANDSHAKE_TIMEOUT');
  });

  it('destroy(err) sends the alert of a TLSError; destroy() sends user_canceled', async () => {
    const { TLSError } = await import('../../src/errors.js');
    const got: string[] = [];
    const server = createServer({ ...ECDSA }, (s) => {
      s.on('error', (e: Error & { code?: string }) => got.push(e.code ?? e.message));
      s.on('close', () => got.push('closed'));
    });
    const port = await listen(server);
    cleanups.push(() => close(server));
    const a = connect({ port, host: 'localhost', ca: ROOT });
    await once(a, 'secureConnect');
    a.on('error', () => undefined);
    a.destroy(new TLSError('access_denied', 'go away'));
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toEqual(['ERR_TLS_ALERT_ACCESS_DENIED', 'closed']);
  });
});
