/**
 * One load-generating process (./run.ts keeps a pool of them): node:tls clients, so the
 * client side costs the same whichever server is measured. Jobs arrive over IPC:
 *
 *   { cmd: 'loop', port, version, resumed, ms }  connections one after the other for `ms`:
 *       handshake, `GET /`, read the answer to its end, close. With `resumed`, one full
 *       handshake first for a session, then that session offered every time (and checked
 *       to have been resumed). Answers { count, reused, errors, firstError }.
 *   { cmd: 'hold', port, count }  open `count` connections (50 at a time) and keep them
 *       open and idle. Answers { held }.
 *   { cmd: 'release' }  close everything held. Answers { released }.
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CA = readFileSync(`${ROOT}vectors/pki/root.crt`, 'utf8');
const REQUEST = 'GET / HTTP/1.0\r\n\r\n';

type Version = 'TLSv1.3' | 'TLSv1.2';
const contexts = new Map<Version, tls.SecureContext>();
function context(version: Version): tls.SecureContext {
  let ctx = contexts.get(version);
  if (!ctx) {
    ctx = tls.createSecureContext({
      ca: CA,
      minVersion: version,
      maxVersion: version,
      ecdhCurve: 'X25519:P-256',
      ...(version === 'TLSv1.3' ? { ciphersuites: 'TLS_AES_128_GCM_SHA256' } : { ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }),
    });
    contexts.set(version, ctx);
  }
  return ctx;
}

interface Visit {
  reused: boolean;
  session: Buffer | undefined;
}

/** One connection: handshake, request, the whole answer, close. */
function visit(port: number, version: Version, session?: Buffer): Promise<Visit> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', secureContext: context(version), ...(session ? { session } : {}) });
    let next: Buffer | undefined;
    let answer = 0;
    // Read at the handshake: once the socket is closed, isSessionReused() is always false.
    let reused = false;
    const timer = setTimeout(() => s.destroy(new Error('no answer within 10 s')), 10_000);
    s.on('session', (b: Buffer) => (next = b));
    s.once('secureConnect', () => {
      reused = s.isSessionReused();
      s.write(REQUEST);
    });
    s.on('data', (d: Buffer) => (answer += d.length));
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('close', () => {
      clearTimeout(timer);
      if (answer === 0) reject(new Error('closed without an answer'));
      else resolve({ reused, session: next });
    });
  });
}

async function loop(port: number, version: Version, resumed: boolean, ms: number) {
  let session: Buffer | undefined;
  if (resumed) {
    session = (await visit(port, version)).session;
    if (!session) return { count: 0, reused: 0, errors: 1, firstError: 'the server handed out no session' };
  }
  const deadline = performance.now() + ms;
  let count = 0;
  let reused = 0;
  let errors = 0;
  let firstError: string | undefined;
  while (performance.now() < deadline) {
    try {
      const v = await visit(port, version, session);
      count++;
      if (v.reused) reused++;
    } catch (e) {
      errors++;
      firstError ??= (e as Error).message;
      if (errors > 20) break;
    }
  }
  return { count, reused, errors, ...(firstError ? { firstError } : {}) };
}

const held: tls.TLSSocket[] = [];

async function hold(port: number, count: number) {
  let next = 0;
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (next < count) {
        next++;
        await new Promise<void>((resolve, reject) => {
          const s = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', secureContext: context('TLSv1.3') });
          s.on('error', reject);
          s.once('secureConnect', () => {
            s.resume();
            held.push(s);
            resolve();
          });
        });
      }
    }),
  );
  return { held: held.length };
}

async function release() {
  const closing = held.map((s) => new Promise((r) => s.once('close', r)));
  for (const s of held) s.destroy();
  await Promise.all(closing);
  const released = held.length;
  held.length = 0;
  return { released };
}

process.on('message', (m: { cmd: string; port: number; version: Version; resumed: boolean; ms: number; count: number }) => {
  const job = m.cmd === 'loop' ? loop(m.port, m.version, m.resumed, m.ms) : m.cmd === 'hold' ? hold(m.port, m.count) : release();
  job.then(
    (r) => process.send!(r),
    (e: Error) => process.send!({ error: e.message }),
  );
});
process.on('disconnect', () => process.exit(0));
