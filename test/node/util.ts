/** Shared bits for the node adapter tests: PEM material, listening helpers, waiting for events. */
import { once } from 'node:events';
import * as tls from 'node:tls';
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { readPki } from '../helpers/pki.js';

export const ROOT = readPki('root.crt');
export const ECDSA = { cert: readPki('leaf-ecdsa-p256.chain.pem'), key: readPki('leaf-ecdsa-p256.key') };
export const RSA = { cert: readPki('leaf-rsa2048.chain.pem'), key: readPki('leaf-rsa2048.key') };
export const P384 = { cert: readPki('leaf-ecdsa-p384.chain.pem'), key: readPki('leaf-ecdsa-p384.key') };

export async function listen(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

export function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** The peer's certificate object, as node's type for it; a socket with none (node's `{}`) fails the test. */
export function peerCertificateOf(socket: { getPeerCertificate(): tls.PeerCertificate | Record<string, never> }): tls.PeerCertificate {
  const cert = socket.getPeerCertificate();
  if (!hasFields(cert)) throw new Error('the socket has no peer certificate');
  return cert;
}

function hasFields(cert: tls.PeerCertificate | Record<string, never>): cert is tls.PeerCertificate {
  return Object.keys(cert).length > 0;
}

/** Everything a readable side delivers until 'end'. */
export function readAll(stream: Duplex): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

/** The first 'error' event, failing if the stream closes or connects securely instead. */
export function nextError(stream: Duplex, ms = 5000): Promise<Error & { code?: string; alert?: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no error within ' + ms + ' ms')), ms);
    stream.once('error', (e) => {
      clearTimeout(timer);
      resolve(e as Error & { code?: string });
    });
    stream.once('close', () => setTimeout(() => reject(new Error('closed without an error')), 50));
  });
}

/**
 * One node:tls connection to a server that answers and ends (the session-sharing fixtures):
 * its answer, whether it resumed `session`, and the session to offer next time.
 */
export function visit(port: number, session?: Buffer): Promise<{ answer: string; reused: boolean; session: Buffer | undefined }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: ROOT, ...(session ? { session } : {}) });
    let answer = '';
    let next: Buffer | undefined;
    s.on('session', (b: Buffer) => (next = b));
    s.on('data', (d: Buffer) => (answer += d));
    s.on('end', () => resolve({ answer, reused: s.isSessionReused(), session: next }));
    s.on('error', reject);
  });
}
