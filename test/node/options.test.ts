/** Option mapping: refusals, certificate verification outcomes, SNI, sessions. */
import { once } from 'node:events';
import * as tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createSecureContext, createServer, type TLSSocket } from '../../src/node/entry.js';
import { close, ECDSA, listen, nextError, readAll, ROOT, RSA } from './util.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function nodeServer(options: tls.TlsOptions = {}): Promise<number> {
  const server = tls.createServer({ ...ECDSA, ...options }, (s) => {
    s.on('error', () => undefined);
    s.end('hi');
  });
  server.on('tlsClientError', () => undefined);
  const port = await listen(server);
  cleanups.push(() => close(server));
  return port;
}

/** What node:tls itself reports for the same connection attempt. */
function nodeOutcome(options: tls.ConnectionOptions): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect(options, () => {
      resolve(s.authorized ? 'authorized' : String(s.authorizationError));
      s.destroy();
    });
    s.on('error', (e: Error & { code?: string }) => resolve(e.code ?? e.message));
  });
}

describe('refused options', () => {
  it.each([
    ['pfx', { pfx: Buffer.alloc(1) }],
    ['passphrase', { passphrase: 'x' }],
    ['secureProtocol', { secureProtocol: 'TLSv1_2_method' }],
    ['honorCipherOrder', { honorCipherOrder: true }],
    ['dhparam', { dhparam: 'x' }],
    ['PSKCallback', { PSKCallback: () => null }],
    ['ciphers', { ciphers: 'RC4-SHA:DES-CBC3-SHA' }], // an OpenSSL cipher string that matches no tsls suite
    ['ecdhCurve', { ecdhCurve: 'brainpoolP256r1' }],
    ['ciphersuites', { ciphersuites: 'TLS_AES_128_CCM_SHA256' }],
  ])('connect({ %s }) throws ERR_TLS_UNSUPPORTED_OPTION', (name, extra) => {
    expect(() => connect({ port: 1, ...(extra as object) })).toThrow(expect.objectContaining({ code: 'ERR_TLS_UNSUPPORTED_OPTION', message: expect.stringContaining(name) }));
  });

  it('server-only refusals', () => {
    expect(() => createServer({ ...ECDSA, ALPNCallback: () => 'h2', ALPNProtocols: ['h2'] })).toThrow(expect.objectContaining({ code: 'ERR_TLS_ALPN_CALLBACK_WITH_PROTOCOLS' }));
    expect(() => createServer({ ...ECDSA, secureOptions: 0x400000 /* SSL_OP_CIPHER_SERVER_PREFERENCE */ })).toThrow(expect.objectContaining({ code: 'ERR_TLS_UNSUPPORTED_OPTION', message: expect.stringContaining('secureOptions') }));
    expect(() => createServer({ ...ECDSA, sessionIdContext: 'x' } as object)).toThrow(expect.objectContaining({ code: 'ERR_TLS_UNSUPPORTED_OPTION' }));
    expect(() => createServer({ ...ECDSA, secureContext: tls.createSecureContext(ECDSA) as never })).toThrow(expect.objectContaining({ code: 'ERR_TLS_UNSUPPORTED_OPTION' }));
    expect(() => createServer({ cert: ECDSA.cert, key: RSA.key })).toThrow(expect.objectContaining({ code: 'ERR_TLS_INVALID_OPTION', message: expect.stringContaining('mismatch') }));
    expect(() => createServer({})).toThrow(expect.objectContaining({ code: 'ERR_TLS_INVALID_OPTION' }));
    // Falsy flags and non-TLS options are fine.
    expect(() => createServer({ ...ECDSA, requestCert: false, enableTrace: false } as object)).not.toThrow();
  });

  it('a maximum version older than TLS 1.2 is refused (a minimum is clamped: see parity.test.ts)', () => {
    expect(() => connect({ port: 1, maxVersion: 'TLSv1.1' })).toThrow(expect.objectContaining({ code: 'ERR_TLS_INVALID_PROTOCOL_VERSION' }));
  });

  it('a foreign session Buffer is refused at once', () => {
    expect(() => connect({ port: 1, session: Buffer.from('not a session') })).toThrow(expect.objectContaining({ code: 'ERR_TLS_INVALID_SESSION' }));
  });
});

describe('certificate verification', () => {
  it('without ca (bundled roots only) the test PKI is refused with node\'s code', async () => {
    const port = await nodeServer();
    const err = await nextError(connect({ port, host: 'localhost' }));
    expect(err.code).toBe('UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
    expect(await nodeOutcome({ port, host: 'localhost' })).toBe(err.code);
  });

  it('a wrong servername is ERR_TLS_CERT_ALTNAME_INVALID, as in node', async () => {
    const port = await nodeServer();
    const err = await nextError(connect({ port, host: 'localhost', servername: 'wrong.example', ca: ROOT }));
    expect(err.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(await nodeOutcome({ port, host: 'localhost', servername: 'wrong.example', ca: ROOT })).toBe(err.code);
  });

  it('rejectUnauthorized: false lets it through with authorized=false and the code', async () => {
    const port = await nodeServer();
    const s = connect({ port, host: 'localhost', servername: 'wrong.example', rejectUnauthorized: false });
    const body = readAll(s);
    await once(s, 'secureConnect');
    expect(s.authorized).toBe(false);
    expect(s.authorizationError).toBe('UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
    expect(await nodeOutcome({ port, host: 'localhost', servername: 'wrong.example', rejectUnauthorized: false })).toBe(s.authorizationError);
    expect((await body).toString()).toBe('hi');

    const s2 = connect({ port, host: 'localhost', servername: 'wrong.example', ca: ROOT, rejectUnauthorized: false });
    await once(s2, 'secureConnect');
    expect(s2.authorized).toBe(false);
    expect(s2.authorizationError).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    s2.destroy();
  });

  it('checkServerIdentity replaces the name check (node signature)', async () => {
    const port = await nodeServer();
    const seen: [string, tls.Certificate['CN']][] = [];
    const ok = connect({
      port,
      host: 'localhost',
      servername: 'other.example',
      ca: ROOT,
      checkServerIdentity: (host, cert) => {
        seen.push([host, cert.subject.CN]);
        return undefined;
      },
    });
    await once(ok, 'secureConnect');
    expect(ok.authorized).toBe(true);
    expect(seen).toEqual([['other.example', 'tsls test leaf-ecdsa-p256']]);
    ok.destroy();

    const refused = connect({
      port,
      host: 'localhost',
      ca: ROOT,
      checkServerIdentity: () => Object.assign(new Error('pinned key mismatch'), { code: 'ERR_PINNED' }),
    });
    const err = await nextError(refused);
    expect(err.code).toBe('ERR_PINNED');
    expect(err.message).toBe('pinned key mismatch');
  });

  it('an IP host: no SNI is sent, the certificate is checked against its IP entries', async () => {
    const servernames: unknown[] = [];
    const server = tls.createServer({ ...ECDSA }, (s) => {
      servernames.push(s.servername);
      s.end();
    });
    const port = await listen(server);
    cleanups.push(() => close(server));
    const s = connect({ port, host: '127.0.0.1', ca: ROOT });
    await once(s, 'secureConnect');
    expect(s.authorized).toBe(true);
    expect(s.servername).toBe(false);
    await readAll(s);
    expect(servernames).toEqual([false]);
  });
});

describe('server SNI', () => {
  it('node-style asynchronous SNICallback picks the certificate', async () => {
    const asked: string[] = [];
    const rsa = createSecureContext(RSA);
    const server = createServer({
      ...ECDSA,
      SNICallback: (name, cb) => {
        asked.push(name);
        setTimeout(() => cb(null, name === 'test.tsls.example' ? rsa : undefined), 10);
      },
    });
    server.on('secureConnection', (s: TLSSocket) => s.end(String(s.servername)));
    const port = await listen(server);
    cleanups.push(() => close(server));

    const a = tls.connect({ port, host: 'localhost', servername: 'test.tsls.example', ca: ROOT });
    const bodyA = readAll(a);
    await once(a, 'secureConnect');
    expect(a.getPeerCertificate().subject.CN).toBe('tsls test leaf-rsa2048');
    expect((await bodyA).toString()).toBe('test.tsls.example');

    const b = tls.connect({ port, host: 'localhost', servername: 'localhost', ca: ROOT });
    const bodyB = readAll(b);
    await once(b, 'secureConnect');
    expect(b.getPeerCertificate().subject.CN).toBe('tsls test leaf-ecdsa-p256');
    expect((await bodyB).toString()).toBe('localhost');
    expect(asked).toEqual(['test.tsls.example', 'localhost']);
  });

  it('an SNICallback error is a tlsClientError', async () => {
    const server = createServer({ ...ECDSA, SNICallback: (_name, cb) => cb(new Error('no such host')) });
    const port = await listen(server);
    cleanups.push(() => close(server));
    const failed = new Promise<Error>((r) => server.once('tlsClientError', r));
    const c = tls.connect({ port, host: 'localhost', servername: 'localhost', ca: ROOT });
    c.on('error', () => undefined);
    expect((await failed).message).toBe('no such host');
  });

  it('addContext', async () => {
    const server = createServer({ ...ECDSA }, (s) => s.end());
    server.addContext('*.tsls.example', { ...RSA });
    const port = await listen(server);
    cleanups.push(() => close(server));
    const a = tls.connect({ port, host: 'localhost', servername: 'test.tsls.example', ca: ROOT });
    await once(a, 'secureConnect');
    expect(a.getPeerCertificate().subject.CN).toBe('tsls test leaf-rsa2048');
    a.destroy();
  });
});

describe('sessions', () => {
  it.each(['node:tls', 'tsls'] as const)('a session from the session event resumes against a %s server', async (kind) => {
    let port: number;
    if (kind === 'node:tls') port = await nodeServer();
    else {
      const server = createServer({ ...ECDSA }, (s) => s.end('hi'));
      port = await listen(server);
      cleanups.push(() => close(server));
    }
    const first = connect({ port, host: 'localhost', ca: ROOT });
    const sessions: Buffer[] = [];
    first.on('session', (s: Buffer) => sessions.push(s));
    await readAll(first);
    expect(sessions.length).toBeGreaterThan(0);
    const saved = sessions[sessions.length - 1]!;
    expect(first.isSessionReused()).toBe(false);
    expect(first.getSession()).toEqual(saved);

    const second = connect({ port, host: 'localhost', ca: ROOT, session: saved });
    await once(second, 'secureConnect');
    expect(second.isSessionReused()).toBe(true);
    expect(second.authorized).toBe(true);
    // As with node:tls, a resumed connection still shows the server's certificate.
    expect(second.getPeerCertificate().subject.CN).toBe(first.getPeerCertificate().subject.CN);
    expect(second.getPeerCertificate().fingerprint256).toBe(first.getPeerCertificate().fingerprint256);
    expect((await readAll(second)).toString()).toBe('hi');
  });

  it.each(['node:tls', 'tsls'] as const)("a %s client's TLS 1.2 handshake completes only after the server's newSession callback ran", async (client) => {
    const server = createServer({ ...ECDSA, maxVersion: 'TLSv1.2' }, (s) => s.end('hi'));
    let stored = 0;
    server.on('newSession', (_id: Buffer, _data: Buffer, cb: () => void) => {
      setTimeout(() => {
        stored = Date.now();
        cb();
      }, 300);
    });
    const port = await listen(server);
    cleanups.push(() => close(server));
    const options = { port, host: 'localhost', ca: ROOT, maxVersion: 'TLSv1.2' } as const;
    const s = client === 'tsls' ? connect(options) : tls.connect(options);
    await once(s, 'secureConnect');
    const connected = Date.now();
    expect(stored, 'newSession was called').toBeGreaterThan(0);
    expect(connected).toBeGreaterThanOrEqual(stored);
    expect((await readAll(s)).toString()).toBe('hi');
  });

  it('no session is handed out from an unverified connection', async () => {
    const port = await nodeServer();
    const s = connect({ port, host: 'localhost', rejectUnauthorized: false });
    let sessions = 0;
    s.on('session', () => sessions++);
    await readAll(s);
    expect(s.authorized).toBe(false);
    expect(sessions).toBe(0);
  });
});

describe('algorithm options', () => {
  it('ciphersuites, ecdhCurve and sigalgs reach the handshake', async () => {
    const server = tls.createServer({ ...RSA }, (s) => s.end());
    const port = await listen(server);
    cleanups.push(() => close(server));
    const s = connect({
      port,
      host: 'localhost',
      ca: ROOT,
      ciphersuites: 'TLS_CHACHA20_POLY1305_SHA256',
      ecdhCurve: 'P-256',
      sigalgs: 'rsa_pss_rsae_sha384',
    });
    await once(s, 'secureConnect');
    expect(s.getCipher()!.name).toBe('TLS_CHACHA20_POLY1305_SHA256');
    expect(s.getEphemeralKeyInfo()).toEqual({ type: 'ECDH', name: 'prime256v1', size: 256 });
    expect(s.connection.signatureScheme).toBe('rsa_pss_rsae_sha384');
    await readAll(s);
  });
});
