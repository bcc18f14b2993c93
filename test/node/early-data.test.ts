/** TLS 1.3 0-RTT on the Node sockets: maxEarlyData on the server, earlyData on connect(), what each side is told. */
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, type TLSSocket } from '../../src/node/entry.js';
import type { TlsServerOptions } from '../../src/node/options.js';
import { close, ECDSA, listen, readAll, ROOT } from './util.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

interface Seen {
  early: string[];
  received: number[];
  accepted: (boolean | undefined)[];
}

/** A tsls server that echoes everything and records, per connection, the 'earlyData' events and the early byte count. */
async function echoServer(options: Partial<TlsServerOptions>): Promise<{ port: number; seen: Seen }> {
  const seen: Seen = { early: [], received: [], accepted: [] };
  const server = createServer({ ...ECDSA, ...options }, (s: TLSSocket) => {
    seen.received.push(s.earlyDataReceived);
    seen.accepted.push(s.earlyDataAccepted);
    s.pipe(s);
  });
  // 'earlyData' comes before 'secureConnection', so the server re-emits it with its socket.
  server.on('earlyData', (data: Buffer) => seen.early.push(data.toString()));
  const port = await listen(server);
  cleanups.push(() => close(server));
  return { port, seen };
}

/** A first connection's session (the server's ticket), then the connection closed. */
async function sessionFrom(port: number): Promise<Buffer> {
  const first = connect({ port, host: 'localhost', ca: ROOT });
  const session = once(first, 'session');
  await once(first, 'secureConnect');
  const [s] = (await session) as [Buffer];
  first.end();
  await readAll(first);
  return s;
}

describe('0-RTT on the node sockets', () => {
  it('connect({ session, earlyData }) to a server with maxEarlyData: accepted, counted as early on the server, echoed', async () => {
    const { port, seen } = await echoServer({ maxEarlyData: 4096 });
    const session = await sessionFrom(port);
    const socket = connect({ port, host: 'localhost', ca: ROOT, session, earlyData: Buffer.from('early hello\n') });
    await once(socket, 'secureConnect');
    expect(socket.isSessionReused()).toBe(true);
    expect(socket.earlyDataAccepted).toBe(true);
    socket.end('late\n');
    expect((await readAll(socket)).toString()).toBe('early hello\nlate\n');
    expect(seen.received).toEqual([0, 'early hello\n'.length]);
    expect(seen.accepted).toEqual([undefined, true]);
    expect(seen.early).toEqual(['early hello\n']);
  });

  it("a server 'earlyData' listener can refuse a replayable request by destroying the socket before it is read", async () => {
    const server = createServer({ ...ECDSA, maxEarlyData: 4096 }, (s: TLSSocket) => s.pipe(s));
    server.on('earlyData', (data: Buffer, socket: TLSSocket) => {
      if (data.toString().startsWith('POST')) socket.destroy();
    });
    const port = await listen(server);
    cleanups.push(() => close(server));
    const session = await sessionFrom(port);
    const socket = connect({ port, host: 'localhost', ca: ROOT, session, earlyData: Buffer.from('POST /pay\n') });
    socket.on('error', () => undefined);
    const echoed: Buffer[] = [];
    socket.on('data', (d: Buffer) => echoed.push(d));
    // Without the listener the echo server would keep the connection open: it closes because it was refused.
    await once(socket, 'close');
    expect(Buffer.concat(echoed).toString()).toBe('');
  });

  it('writes before secureConnect go as early data while the session offers it', async () => {
    const { port, seen } = await echoServer({ maxEarlyData: 4096 });
    const session = await sessionFrom(port);
    const socket = connect({ port, host: 'localhost', ca: ROOT, session, earlyData: Buffer.from('first ') });
    cleanups.push(() => void socket.destroy());
    // Once the ClientHello is out (the earlyData option started the 0-RTT), a write goes early too.
    for (let i = 0; i < 1000 && !socket.connection.sendingEarlyData; i++) await new Promise((resolve) => setTimeout(resolve, 1));
    expect(socket.connection.sendingEarlyData).toBe(true);
    socket.write('second\n');
    await once(socket, 'secureConnect');
    socket.end();
    expect((await readAll(socket)).toString()).toBe('first second\n');
    expect(seen.early.join('')).toBe('first second\n');
  });

  it('a server without maxEarlyData: the ticket allows none, and earlyData goes as ordinary data after the handshake', async () => {
    const { port, seen } = await echoServer({});
    const session = await sessionFrom(port);
    const socket = connect({ port, host: 'localhost', ca: ROOT, session, earlyData: Buffer.from('not early\n') });
    await once(socket, 'secureConnect');
    expect(socket.earlyDataAccepted).toBeUndefined();
    socket.end();
    expect((await readAll(socket)).toString()).toBe('not early\n');
    expect(seen.received).toEqual([0, 0]);
  });

  it('a replayed ticket: the early data is refused and resent after the handshake by default; with earlyDataRejected: "report" it is handed back instead', async () => {
    const { port, seen } = await echoServer({ maxEarlyData: 4096 });
    const session = await sessionFrom(port);
    const once1 = connect({ port, host: 'localhost', ca: ROOT, session, earlyData: Buffer.from('one\n') });
    once1.end();
    expect((await readAll(once1)).toString()).toBe('one\n');

    const resend = connect({ port, host: 'localhost', ca: ROOT, session, earlyData: Buffer.from('two\n') });
    await once(resend, 'secureConnect');
    expect(resend.earlyDataAccepted).toBe(false);
    resend.end();
    expect((await readAll(resend)).toString()).toBe('two\n');

    const report = connect({ port, host: 'localhost', ca: ROOT, session, earlyData: Buffer.from('three\n'), earlyDataRejected: 'report' });
    const rejected = once(report, 'earlyDataRejected');
    await once(report, 'secureConnect');
    expect(((await rejected) as [Buffer])[0].toString()).toBe('three\n');
    report.end();
    expect((await readAll(report)).toString()).toBe('');
    expect(seen.received).toEqual([0, 'one\n'.length, 0, 0]);
    expect(seen.accepted).toEqual([undefined, true, false, false]);
    expect(seen.early).toEqual(['one\n']);
  });
});
