/** 'keylog' lines are exactly the lines node:tls (OpenSSL) logs for the same connection. */
import { once } from 'node:events';
import * as tls from 'node:tls';
import { afterEach, expect, it } from 'vitest';
import { connect, createServer, type TLSSocket } from '../../src/node/entry.js';
import { close, ECDSA, listen, ROOT } from './util.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

const lines = (bufs: Buffer[]) => bufs.map((b) => b.toString('latin1')).sort();

it.each(['TLSv1.3', 'TLSv1.2'] as const)('node:tls client ↔ tsls server (%s): same key log lines', async (version) => {
  const ours: Buffer[] = [];
  const server = createServer({ ...ECDSA, maxVersion: version }, (s) => s.on('error', () => undefined));
  server.on('keylog', (line: Buffer, socket: TLSSocket) => {
    expect(socket.encrypted).toBe(true);
    ours.push(line);
  });
  const secure = once(server, 'secureConnection');
  const port = await listen(server);
  cleanups.push(() => close(server));
  const theirs: Buffer[] = [];
  const client = tls.connect({ port, host: 'localhost', ca: ROOT });
  cleanups.unshift(() => void client.destroy());
  client.on('keylog', (line) => theirs.push(line));
  await Promise.all([once(client, 'secureConnect'), secure]);
  expect(ours.length).toBe(version === 'TLSv1.3' ? 5 : 1);
  for (const l of ours) expect(l.toString()).toMatch(/^[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]+\n$/);
  expect(lines(ours)).toEqual(lines(theirs));
});

it('tsls client ↔ node:tls server: same key log lines', async () => {
  const theirs: Buffer[] = [];
  const server = tls.createServer({ ...ECDSA });
  server.on('keylog', (line) => theirs.push(line));
  const secure = once(server, 'secureConnection');
  const port = await listen(server);
  cleanups.push(() => close(server));
  const ours: Buffer[] = [];
  const client = connect({ port, host: 'localhost', ca: ROOT });
  cleanups.unshift(() => void client.destroy());
  client.on('keylog', (line: Buffer) => ours.push(line));
  await Promise.all([once(client, 'secureConnect'), secure]);
  expect(ours.length).toBe(5);
  expect(lines(ours)).toEqual(lines(theirs));
});
