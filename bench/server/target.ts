/**
 * The server under test, alone in its own process (started by ./run.ts with an IPC channel):
 * tsls's `createServer` from `tsls/node` on the node:crypto or noble provider, or node:tls,
 * with the same certificate, version, suite and groups. With BENCH_CLUSTER=1 it is a
 * node:cluster of BENCH_WORKERS workers behind one port sharing ticket keys, as a multi-core
 * deployment would run it.
 *
 * Every connection is one tiny HTTP/1.0 exchange (what `openssl s_time -www` and
 * `openssl s_server -www` speak): the client's request is answered and the server ends.
 * Reading the answer also makes TLS 1.3 clients take the tickets sent after the handshake.
 *
 * Tells the parent `{ port, pids }` once listening; answers `{ cmd: 'memory' }` with
 * process.memoryUsage() after garbage collection (needs --expose-gc) and the number of
 * connections it holds open.
 */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { createNobleProvider } from '../../src/crypto/noble.js';
import { createServer as tslsCreateServer } from '../../src/node/entry.js';

export type ServerImpl = 'tsls-node' | 'tsls-noble' | 'node-tls';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const pki = (f: string) => readFileSync(`${ROOT}vectors/pki/${f}`, 'utf8');

const impl = process.env.BENCH_IMPL as ServerImpl;
const version = process.env.BENCH_VERSION as 'TLSv1.3' | 'TLSv1.2';
const workers = Number(process.env.BENCH_WORKERS ?? 1);
const port = Number(process.env.BENCH_PORT ?? 0);

const RESPONSE = 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok';

/** Options node:tls and tsls's node layer both take (the same names). */
const options = {
  cert: pki('leaf-ecdsa-p256.chain.pem'),
  key: pki('leaf-ecdsa-p256.key'),
  minVersion: version,
  maxVersion: version,
  ecdhCurve: 'X25519:P-256',
  ...(version === 'TLSv1.3' ? { ciphersuites: 'TLS_AES_128_GCM_SHA256' } : { ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }),
  // The same ticket keys in every worker, so any worker resumes any other's tickets.
  ...(process.env.BENCH_TICKET_KEYS ? { ticketKeys: Buffer.from(process.env.BENCH_TICKET_KEYS, 'hex') } : {}),
};

let open = 0;

function serve(socket: Socket): void {
  open++;
  socket.on('close', () => open--);
  socket.on('error', () => {});
  socket.once('data', () => socket.end(RESPONSE));
}

function start(): Promise<number> {
  const server =
    impl === 'node-tls'
      ? tls.createServer(options, serve)
      : tslsCreateServer({ ...options, ...(impl === 'tsls-noble' ? { provider: createNobleProvider() } : {}) }, serve as never);
  server.on('tlsClientError', () => {});
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 4; i++) g?.();
}

if (process.env.BENCH_CLUSTER === '1' && cluster.isPrimary) {
  // The primary only forks; the workers accept (round-robin, node's default on Linux).
  const pids: number[] = [];
  let listening = 0;
  for (let i = 0; i < workers; i++) {
    const w = cluster.fork();
    pids.push(w.process.pid!);
    w.on('listening', (address) => {
      if (++listening === workers) process.send!({ port: address.port, pids: [process.pid, ...pids] });
    });
  }
  process.on('disconnect', () => process.exit(0));
} else {
  const p = await start();
  if (!cluster.isWorker) {
    process.send!({ port: p, pids: [process.pid] });
    process.on('message', (m: { cmd: string }) => {
      if (m.cmd === 'memory') {
        gc();
        process.send!({ memory: process.memoryUsage(), open });
      }
    });
    process.on('disconnect', () => process.exit(0));
  }
}
