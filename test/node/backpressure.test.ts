/**
 * Backpressure: 64 MiB from a fast writer to a slow reader. The tsls sockets must never
 * buffer more than a bound (their own readable/writable buffers plus the TCP sockets'
 * user-space buffers), and every byte must arrive intact.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { Writable } from 'node:stream';
import { afterEach, expect, it } from 'vitest';
import { connect, createServer, type TLSSocket } from '../../src/node/entry.js';
import { close, ECDSA, listen, ROOT } from './util.js';

const TOTAL = 64 * 1024 * 1024;
const CHUNK = 64 * 1024;
const BOUND = 16 * 1024 * 1024;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** Bytes held in user space by a tsls socket and its TCP socket. */
function buffered(s: TLSSocket | undefined): number {
  if (!s) return 0;
  const t = s.transport as net.Socket;
  return s.readableLength + s.writableLength + t.readableLength + t.writableLength;
}

/** Writes TOTAL pseudo-random bytes as fast as backpressure allows; resolves with their hash and whether write() ever said wait. */
async function writeFast(w: NodeJS.WritableStream & { writableNeedDrain?: boolean }): Promise<{ hash: string; waited: number }> {
  const block = randomBytes(CHUNK);
  const hash = createHash('sha256');
  let waited = 0;
  for (let sent = 0; sent < TOTAL; sent += CHUNK) {
    block.writeUInt32BE(sent / CHUNK, 0); // every chunk differs
    const chunk = Buffer.from(block);
    hash.update(chunk);
    if (!w.write(chunk)) {
      waited++;
      await once(w as NodeJS.EventEmitter, 'drain');
    }
  }
  w.end();
  return { hash: hash.digest('hex'), waited };
}

/** A reader that consumes at a bounded pace (a pause every 256 KiB). */
function slowReader(): { sink: Writable; done: Promise<string> } {
  const hash = createHash('sha256');
  let since = 0;
  let total = 0;
  let resolve!: (h: string) => void;
  const done = new Promise<string>((r) => (resolve = r));
  const sink = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      total += chunk.length;
      since += chunk.length;
      if (since >= 256 * 1024) {
        since = 0;
        setTimeout(cb, 2);
      } else cb();
    },
    final(cb) {
      expect(total).toBe(TOTAL);
      resolve(hash.digest('hex'));
      cb();
    },
  });
  return { sink, done };
}

function sampler(sockets: () => (TLSSocket | undefined)[]): { max: () => number; stop: () => void } {
  let max = 0;
  const timer = setInterval(() => {
    const sum = sockets().reduce((n, s) => n + buffered(s), 0);
    if (sum > max) max = sum;
  }, 5);
  return { max: () => max, stop: () => clearInterval(timer) };
}

it('tsls server (fast writer) → tsls client (slow reader)', async () => {
  let serverSocket: TLSSocket | undefined;
  let writer: Promise<{ hash: string; waited: number }> | undefined;
  const server = createServer({ ...ECDSA }, (s) => {
    serverSocket = s;
    writer = writeFast(s);
  });
  const port = await listen(server);
  cleanups.push(() => close(server));
  const client = connect({ port, host: 'localhost', ca: ROOT });
  const sample = sampler(() => [client, serverSocket]);
  cleanups.push(() => sample.stop());
  const { sink, done } = slowReader();
  client.pipe(sink);
  const received = await done;
  const sent = await writer!;
  sample.stop();
  expect(received).toBe(sent.hash);
  expect(sent.waited).toBeGreaterThan(0); // write() did return false: backpressure reached the writer
  expect(sample.max()).toBeLessThan(BOUND);
  expect(sample.max()).toBeGreaterThan(0);
}, 30_000);

it('node:tls (fast writer) → tsls client (slow reader): we read no faster than the app', async () => {
  const server = tls.createServer({ ...ECDSA }, (s) => void writeFast(s));
  const port = await listen(server);
  cleanups.push(() => close(server));
  const client = connect({ port, host: 'localhost', ca: ROOT });
  const sample = sampler(() => [client]);
  cleanups.push(() => sample.stop());
  const { sink, done } = slowReader();
  client.pipe(sink);
  await done;
  sample.stop();
  // One TLSSocket's readable buffer and its TCP socket's: a couple of high-water marks, not megabytes.
  expect(sample.max()).toBeLessThan(1024 * 1024);
}, 30_000);

it('tsls client (fast writer) → node:tls server (slow reader)', async () => {
  let done: Promise<string> | undefined;
  const server = tls.createServer({ ...ECDSA }, (s) => {
    const r = slowReader();
    done = r.done;
    s.pipe(r.sink);
  });
  const port = await listen(server);
  cleanups.push(() => close(server));
  const client = connect({ port, host: 'localhost', ca: ROOT });
  const sample = sampler(() => [client]);
  cleanups.push(() => sample.stop());
  await once(client, 'secureConnect');
  const sent = await writeFast(client);
  while (!done) await new Promise((r) => setTimeout(r, 5));
  expect(await done).toBe(sent.hash);
  sample.stop();
  expect(sent.waited).toBeGreaterThan(0);
  expect(sample.max()).toBeLessThan(1024 * 1024);
}, 30_000);
