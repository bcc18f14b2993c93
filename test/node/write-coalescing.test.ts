/**
 * A server socket's records leave in as few transport writes as the exchange allows: each
 * write(2) costs the server about as much CPU as a resumed handshake's engine work, and
 * node:tls answers `end(answer)` with one write, not two.
 */
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { afterEach, expect, it } from 'vitest';
import { createServer } from '../../src/node/entry.js';
import { close, ECDSA, listen, ROOT } from './util.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** Counts the write operations (write or writev, each one system call) on a server's TCP sockets. */
function countWrites(socket: net.Socket, ops: number[][]): void {
  const s = socket as unknown as {
    _write(chunk: Buffer, enc: string, cb: () => void): void;
    _writev(chunks: { chunk: Buffer }[], cb: () => void): void;
  };
  const write = s._write.bind(s);
  const writev = s._writev.bind(s);
  s._write = (chunk, enc, cb) => {
    ops.push([chunk.length]);
    write(chunk, enc, cb);
  };
  s._writev = (chunks, cb) => {
    ops.push(chunks.map((c) => c.chunk.length));
    writev(chunks, cb);
  };
}

for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
  it(`${version}: a request answered with end(answer) costs the server three writes: flight, tickets, answer with close_notify`, async () => {
    const ops: number[][] = [];
    const server = createServer({ ...ECDSA, maxVersion: version }, (s) => {
      s.on('error', () => {});
      s.once('data', () => s.end('answer'));
    });
    server.on('connection', (socket: net.Socket) => countWrites(socket, ops));
    const port = await listen(server);
    cleanups.push(() => close(server));
    const client = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: ROOT, maxVersion: version });
    client.once('secureConnect', () => client.write('request'));
    let answer = '';
    client.on('data', (d: Buffer) => (answer += d));
    await new Promise((resolve, reject) => {
      client.on('close', resolve);
      client.on('error', reject);
    });
    expect(answer).toBe('answer');
    // The last operation carries the answer's record and the close_notify alert (24 bytes in TLS 1.3, 31 in 1.2 with its explicit nonce and tag).
    expect(ops.at(-1)!.length, `operations: ${JSON.stringify(ops)}`).toBe(2);
    expect(ops.length, `operations: ${JSON.stringify(ops)}`).toBeLessThanOrEqual(3);
  });
}
