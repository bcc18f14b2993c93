/**
 * node:tls parity: the members a typical user touches exist on tsls/node and behave as
 * node:tls's own do, checked side by side against node:tls peers — module-level members,
 * OpenSSL cipher strings, TLSSocket and Server members, ALPNCallback, createHttpsServer.
 */
import { once } from 'node:events';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import * as tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import * as tsls from '../../src/node/entry.js';
import { close, ECDSA, listen, ROOT, RSA } from './util.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** A node:tls echo-less server that keeps its sockets (to compare what it saw). */
async function nodeServer(options: tls.TlsOptions = {}): Promise<{ port: number; sockets: tls.TLSSocket[] }> {
  const sockets: tls.TLSSocket[] = [];
  const server = tls.createServer({ ...ECDSA, ...options }, (s) => {
    sockets.push(s);
    s.on('error', () => {});
    s.resume();
  });
  const port = await listen(server);
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return close(server);
  });
  return { port, sockets };
}

/** The server side of the `i`th connection, once the node:tls server has it (in TLS 1.3 it can come after the client's secureConnect). */
async function serverSide(sockets: tls.TLSSocket[], i = 0): Promise<tls.TLSSocket> {
  for (let waited = 0; !sockets[i]; waited += 5) {
    if (waited > 3000) throw new Error(`no server socket ${i}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return sockets[i]!;
}

type AnySocket = tls.TLSSocket | tsls.TLSSocket;

/** Connect with tsls or node:tls, wait for secureConnect; the socket is destroyed after the test. */
async function dial(impl: 'tsls' | 'node', options: tls.ConnectionOptions): Promise<AnySocket> {
  const s = impl === 'tsls' ? tsls.connect(options as tsls.ConnectionOptions) : tls.connect(options);
  cleanups.unshift(() => void s.destroy());
  s.on('data', () => {});
  // Teardown resets (EPIPE, ECONNRESET) are not what these tests look at.
  s.on('error', () => {});
  await once(s, 'secureConnect');
  return s;
}

const BOTH = ['tsls', 'node'] as const;

describe('module-level members', () => {
  const MEMBERS = ['connect', 'createServer', 'createSecureContext', 'checkServerIdentity', 'getCiphers', 'rootCertificates', 'DEFAULT_MIN_VERSION', 'DEFAULT_MAX_VERSION', 'DEFAULT_CIPHERS', 'DEFAULT_ECDH_CURVE', 'TLSSocket', 'Server'] as const;

  it.each(MEMBERS)('tsls/node has %s, of the same kind as node:tls', (name) => {
    expect(typeof (tsls as Record<string, unknown>)[name]).toBe(typeof (tls as Record<string, unknown>)[name]);
  });

  it('rootCertificates, the version defaults and getCiphers() agree with node:tls', () => {
    expect(tsls.rootCertificates).toBe(tls.rootCertificates);
    expect(tsls.DEFAULT_MIN_VERSION).toBe(tls.DEFAULT_MIN_VERSION);
    expect(tsls.DEFAULT_MAX_VERSION).toBe(tls.DEFAULT_MAX_VERSION);
    const nodeCiphers = new Set(tls.getCiphers());
    expect(tsls.getCiphers().length).toBeGreaterThan(10);
    // node lists what its OpenSSL enables by default: CCM suites are not among them, nor
    // RFC 8442's ECDHE_PSK with AES-GCM, which OpenSSL does not implement at all.
    const openssl = (n: string) => !n.includes('ccm') && n !== 'ecdhe-psk-aes128-gcm-sha256';
    for (const c of tsls.getCiphers().filter(openssl)) expect(nodeCiphers, c).toContain(c);
  });

  it('checkServerIdentity refuses a name the certificate does not carry, like node:tls', async () => {
    const { port } = await nodeServer();
    const s = await dial('node', { port, host: '127.0.0.1', servername: 'localhost', ca: ROOT });
    const cert = (s as tls.TLSSocket).getPeerCertificate();
    expect(tsls.checkServerIdentity('localhost', cert)).toBeUndefined();
    expect(tls.checkServerIdentity('localhost', cert)).toBeUndefined();
    expect(tsls.checkServerIdentity('other.example', cert)).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    expect(tls.checkServerIdentity('other.example', cert)).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });
});

describe('OpenSSL cipher strings', () => {
  it.each([
    ['HIGH:!aNULL:!MD5', RSA],
    ['DEFAULT', ECDSA],
    [tls.DEFAULT_CIPHERS, ECDSA],
    ['ECDHE+AESGCM:!AES128', ECDSA],
    ['ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384', RSA],
    ['AESGCM+AES128:CHACHA20:@STRENGTH', ECDSA],
  ])('ciphers %j over TLS 1.2 to a node:tls server negotiates the suite a node:tls client does', async (ciphers, pair) => {
    const { port } = await nodeServer({ ...pair, ciphers: tls.DEFAULT_CIPHERS, maxVersion: 'TLSv1.2' });
    const options = { port, host: '127.0.0.1', servername: 'localhost', ca: ROOT, ciphers, maxVersion: 'TLSv1.2' as const };
    const ours = await dial('tsls', options);
    const theirs = await dial('node', options);
    expect(ours.getCipher()?.standardName).toBe(theirs.getCipher()?.standardName);
  });

  it('a cipher string matching nothing tsls implements is refused at once', () => {
    expect(() => tsls.connect({ port: 1, ciphers: 'RC4-SHA:!HIGH' })).toThrow(expect.objectContaining({ code: 'ERR_TLS_UNSUPPORTED_OPTION' }));
  });

  it("minVersion 'TLSv1.1' is accepted, clamped to TLSv1.2, with one warning", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    cleanups.push(() => void process.off('warning', onWarning));
    const { port } = await nodeServer();
    const s = await dial('tsls', { port, host: '127.0.0.1', servername: 'localhost', ca: ROOT, minVersion: 'TLSv1.1' });
    await dial('tsls', { port, host: '127.0.0.1', servername: 'localhost', ca: ROOT, minVersion: 'TLSv1.1' });
    expect(s.getProtocol()).toBe('TLSv1.3');
    await new Promise((r) => setImmediate(r));
    expect(warnings.filter((w) => (w as { code?: string }).code === 'TSLS_MIN_VERSION_CLAMPED')).toHaveLength(1);
  });

  it('createSecureContext carries ciphers and versions to the connection, as node:tls does', async () => {
    const { port } = await nodeServer();
    const secureContext = tsls.createSecureContext({ ca: ROOT, maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-CHACHA20-POLY1305' });
    const s = await dial('tsls', { port, host: '127.0.0.1', servername: 'localhost', secureContext } as tls.ConnectionOptions);
    expect(s.getProtocol()).toBe('TLSv1.2');
    expect(s.getCipher()?.standardName).toBe('TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256');
  });
});

describe('TLSSocket members', () => {
  const MEMBERS = [
    'getProtocol', 'getCipher', 'getPeerCertificate', 'getPeerX509Certificate', 'getCertificate', 'getX509Certificate', 'getSession', 'setSession',
    'isSessionReused', 'getTLSTicket', 'getFinished', 'getPeerFinished', 'getSharedSigalgs', 'getEphemeralKeyInfo', 'exportKeyingMaterial',
    'setServername', 'setMaxSendFragment', 'setKeyCert', 'enableTrace', 'renegotiate', 'disableRenegotiation', 'setNoDelay', 'setKeepAlive',
    'setTimeout', 'address', 'ref', 'unref', 'destroySoon', 'resetAndDestroy', 'end', 'write', 'pipe',
    'authorized', 'authorizationError', 'alpnProtocol', 'servername', 'encrypted', 'readyState', 'pending', 'bufferSize', 'connecting',
    'remoteAddress', 'remotePort', 'remoteFamily', 'localAddress', 'localPort', 'bytesRead', 'bytesWritten',
  ] as const;

  it.each(MEMBERS)('%s: present on a tsls client socket, of the same kind and value as on a node:tls one', async (name) => {
    const { port } = await nodeServer();
    const options = { port, host: '127.0.0.1', servername: 'localhost', ca: ROOT };
    // Members are read by name, whichever of them either socket type declares.
    const [ours, theirs] = [await dial('tsls', options), await dial('node', options)] as unknown as Record<string, unknown>[];
    expect(typeof ours![name], name).toBe(typeof theirs![name]);
    const plain = ['authorized', 'authorizationError', 'alpnProtocol', 'servername', 'encrypted', 'readyState', 'pending', 'bufferSize', 'connecting', 'remoteAddress', 'remotePort', 'remoteFamily', 'localAddress'];
    if (plain.includes(name)) expect(ours![name], name).toEqual(theirs![name]);
  });

  it.each(BOTH)('getFinished/getPeerFinished (%s client) are the verify_data the node:tls server saw the other way round', async (impl) => {
    const { port, sockets } = await nodeServer();
    const s = await dial(impl, { port, host: '127.0.0.1', servername: 'localhost', ca: ROOT });
    s.write('x');
    await new Promise((r) => setTimeout(r, 20));
    const server = await serverSide(sockets);
    expect(s.getFinished()).toEqual(server.getPeerFinished());
    expect(s.getPeerFinished()).toEqual(server.getFinished());
    expect(s.getFinished()!.length).toBe(s.getCipher()!.name.includes('384') ? 48 : 32);
  });

  it('getSharedSigalgs on the server: what both sides accept, in node:tls names', async () => {
    const server = tsls.createServer({ ...ECDSA });
    const got = new Promise<string[]>((resolve) => server.on('secureConnection', (s: tsls.TLSSocket) => resolve(s.getSharedSigalgs())));
    const port = await listen(server);
    cleanups.push(() => close(server));
    const { port: nodePort, sockets } = await nodeServer();
    await dial('node', { port, host: '127.0.0.1', servername: 'localhost', ca: ROOT });
    await dial('node', { port: nodePort, host: '127.0.0.1', servername: 'localhost', ca: ROOT });
    const ours = await got;
    const theirs = (await serverSide(sockets)).getSharedSigalgs();
    expect(ours).toContain('ECDSA+SHA256');
    expect(ours).toContain('RSA-PSS+SHA256');
    for (const a of ours) expect(theirs).toContain(a);
    expect((await dial('tsls', { port: nodePort, host: '127.0.0.1', servername: 'localhost', ca: ROOT })).getSharedSigalgs()).toEqual([]); // no CertificateRequest
  });

  it.each(BOTH)('setMaxSendFragment (%s): false out of range, true within, and the data still arrives', async (impl) => {
    const { port, sockets } = await nodeServer();
    const s = await dial(impl, { port, host: '127.0.0.1', servername: 'localhost', ca: ROOT });
    expect(s.setMaxSendFragment(100)).toBe(false);
    expect(s.setMaxSendFragment(512)).toBe(true);
    const received: Buffer[] = [];
    (await serverSide(sockets)).on('data', (d: Buffer) => received.push(d));
    s.write(Buffer.alloc(3000, 7));
    await new Promise((r) => setTimeout(r, 50));
    expect(Buffer.concat(received).length).toBe(3000);
    if (impl === 'tsls') expect(Math.max(...received.map((d) => d.length))).toBeLessThanOrEqual(512);
  });

  it.each(BOTH)('setServername (%s) before the handshake: the server sees it', async (impl) => {
    const { port, sockets } = await nodeServer();
    const options = { port, host: '127.0.0.1', ca: ROOT, checkServerIdentity: () => undefined };
    const s = impl === 'tsls' ? tsls.connect(options) : tls.connect(options);
    cleanups.unshift(() => void s.destroy());
    s.on('error', () => {});
    // node's TLSSocket has setServername too, though @types/node does not declare it.
    (s as typeof s & { setServername(name: string): void }).setServername('localhost');
    await once(s, 'secureConnect');
    expect((await serverSide(sockets)).servername).toBe('localhost');
  });

  it.each([
    ['TLS 1.3', 'TLSv1.3'],
    ['TLS 1.2', 'TLSv1.2'],
  ] as const)("'session' events, setSession and getTLSTicket against a node:tls server (%s), as a node:tls client sees them", async (_n, maxVersion) => {
    const { port } = await nodeServer({ maxVersion });
    const options = { port, host: '127.0.0.1', servername: 'localhost', ca: ROOT };
    const order = async (impl: 'tsls' | 'node') => {
      const events: string[] = [];
      const s = impl === 'tsls' ? tsls.connect(options) : tls.connect(options);
      cleanups.unshift(() => void s.destroy());
      s.on('error', () => {});
      let session: Buffer | undefined;
      s.on('secureConnect', () => events.push('secureConnect'));
      s.on('session', (b: Buffer) => {
        events.push('session');
        session = b;
      });
      s.resume();
      await once(s, 'secureConnect');
      s.write('x');
      await new Promise((r) => setTimeout(r, 100));
      return { events, session: session!, ticket: s.getTLSTicket() };
    };
    const ours = await order('tsls');
    const theirs = await order('node');
    expect(ours.events).toEqual(theirs.events);
    expect(Buffer.isBuffer(ours.ticket)).toBe(Buffer.isBuffer(theirs.ticket));
    const s = tsls.connect(options);
    cleanups.unshift(() => void s.destroy());
    s.on('error', () => {});
    s.setSession(ours.session);
    s.resume();
    await once(s, 'secureConnect');
    expect(s.isSessionReused()).toBe(true);
  });
});

describe('Server members', () => {
  it('getTicketKeys/setTicketKeys: a ticket from one tsls server resumes on another given the same keys', async () => {
    const a = tsls.createServer({ ...ECDSA }, (s) => s.on('error', () => {}).end());
    const b = tsls.createServer({ ...ECDSA }, (s) => s.on('error', () => {}).end());
    const keys = a.getTicketKeys();
    expect(keys.length).toBe(48);
    expect(new tls.Server({ ...ECDSA }).getTicketKeys().length).toBe(48);
    b.setTicketKeys(keys);
    expect(b.getTicketKeys()).toEqual(keys);
    const [pa, pb] = [await listen(a), await listen(b)];
    cleanups.push(() => close(a), () => close(b));
    const first = tsls.connect({ port: pa, host: '127.0.0.1', servername: 'localhost', ca: ROOT });
    first.on('error', () => {});
    const session = await new Promise<Buffer>((resolve) => first.once('session', resolve));
    first.destroy();
    const again = await dial('tsls', { port: pb, host: '127.0.0.1', servername: 'localhost', ca: ROOT, session });
    expect(again.isSessionReused()).toBe(true);
  });

  it.each(BOTH)('ALPNCallback (%s server) picks from the client list; no pick refuses with no_application_protocol', async (impl) => {
    const seen: { servername?: string; protocols: string[] }[] = [];
    const ALPNCallback = (info: { servername?: string; protocols: string[] }) => {
      seen.push(info);
      return info.protocols.includes('refuse') ? undefined : info.protocols[info.protocols.length - 1];
    };
    const options = { ...ECDSA, ALPNCallback } as tls.TlsOptions;
    const serve = (s: AnySocket) => s.on('error', () => {}).resume();
    const server = impl === 'tsls' ? tsls.createServer(options as tsls.TlsServerOptions, serve) : tls.createServer(options, serve);
    const port = await listen(server);
    cleanups.push(() => close(server));
    const s = await dial('node', { port, host: '127.0.0.1', servername: 'localhost', ca: ROOT, ALPNProtocols: ['h2', 'http/1.1'] });
    expect(s.alpnProtocol).toBe('http/1.1');
    expect(seen[0]).toEqual({ servername: 'localhost', protocols: ['h2', 'http/1.1'] });
    const refused = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: ROOT, ALPNProtocols: ['refuse'] });
    const [err] = (await once(refused, 'error')) as [Error & { code?: string }];
    expect(err.code).toBe('ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL');
  });

  it('createHttpsServer: node https.get gets the response, and an Upgrade request reaches the upgrade event', async () => {
    const server = tsls.createHttpsServer({ ...ECDSA }, (req, res) => {
      const s = req.socket as unknown as tsls.TLSSocket;
      res.end(`hello ${req.url} over ${s.getProtocol()}, alpn=${s.alpnProtocol}`);
    });
    const upgraded = new Promise<string>((resolve) => server.on('upgrade', (req, socket) => {
      resolve(String(req.headers.upgrade));
      socket.on('error', () => {}); // after 'upgrade' the socket's errors are the handler's, as on node's https server
      socket.end('HTTP/1.1 101 Switching Protocols\r\n\r\n');
    }));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    expect(server.listening).toBe(true);
    const port = (server.address() as import('node:net').AddressInfo).port;
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port, path: '/x', servername: 'localhost', ca: ROOT, agent: false }, (r) => {
          let b = '';
          r.on('data', (c: Buffer) => (b += c));
          r.on('end', () => resolve(b));
        })
        .on('error', reject);
    });
    expect(body).toBe('hello /x over TLSv1.3, alpn=false'); // node's https client offers no ALPN
    const raw = await dial('node', { port, host: '127.0.0.1', servername: 'localhost', ca: ROOT });
    raw.write('GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    expect(await upgraded).toBe('websocket');
  });

  it('createHttp2SecureServer: node http2.connect gets a stream answered over tsls (ALPN h2)', async () => {
    const server = tsls.createHttp2SecureServer({ ...ECDSA }, (req, res) => res.end(`h2 ${req.url} http/${req.httpVersion}`));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as import('node:net').AddressInfo).port;
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const client = http2.connect(`https://localhost:${port}`, { ca: ROOT });
    cleanups.unshift(() => void client.close());
    client.on('error', () => {});
    const req = client.request({ ':path': '/stream' });
    let body = '';
    req.on('data', (d: Buffer) => (body += d));
    await once(req.end(), 'end');
    expect(body).toBe('h2 /stream http/2.0');
    // @ts-expect-error allowHTTP1 is not in tsls's options type: the test proves the runtime refuses it too.
    expect(() => tsls.createHttp2SecureServer({ ...ECDSA, allowHTTP1: true })).toThrow(expect.objectContaining({ code: 'ERR_TLS_UNSUPPORTED_OPTION' }));
  });

  it('asNodeTLSSocket hands a tsls socket to code typed for node:tls', async () => {
    const { port } = await nodeServer();
    const s = (await dial('tsls', { port, host: '127.0.0.1', servername: 'localhost', ca: ROOT })) as tsls.TLSSocket;
    const typed: tls.TLSSocket = tsls.asNodeTLSSocket(s);
    expect(typed.getProtocol()).toBe('TLSv1.3');
    expect(typed).toBe(s);
  });
});
