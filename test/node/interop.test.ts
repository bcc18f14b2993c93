/** tsls's node adapter against node:tls itself, both ways, ECDSA and RSA certificates. */
import { once } from 'node:events';
import * as tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, type TLSSocket } from '../../src/node/entry.js';
import { close, ECDSA, listen, peerCertificateOf, readAll, ROOT, RSA } from './util.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** The fields of node's own certificate object, minus what tsls does not produce. */
function nodeView(cert: tls.PeerCertificate): Record<string, unknown> {
  const { issuerCertificate: _i, infoAccess: _a, ...rest } = cert as tls.DetailedPeerCertificate;
  return { ...rest, subject: { ...rest.subject }, issuer: { ...rest.issuer } };
}

describe.each([
  ['ECDSA', ECDSA, 'tsls test leaf-ecdsa-p256'],
  ['RSA', RSA, 'tsls test leaf-rsa2048'],
])('%s certificate', (_name, pair, cn) => {
  it('tsls client ↔ node:tls server', async () => {
    const received: Buffer[] = [];
    const server = tls.createServer({ ...pair, ALPNProtocols: ['h2', 'http/1.1'] }, (s) => {
      s.on('data', (d: Buffer) => {
        received.push(d);
        s.write(Buffer.concat([Buffer.from('echo:'), d]));
      });
      s.on('end', () => s.end());
    });
    const port = await listen(server);
    cleanups.push(() => close(server));
    const servernames: string[] = [];
    server.on('secureConnection', (s: tls.TLSSocket) => servernames.push(String(s.servername)));

    const secure = new Promise<tls.TLSSocket>((resolve) => server.once('secureConnection', resolve));
    const client = connect({ host: 'localhost', port, ca: ROOT, ALPNProtocols: ['http/1.1'] });
    cleanups.unshift(() => void client.destroy());
    await once(client, 'secureConnect');
    const serverSocket = await secure;
    expect(client.getProtocol()).toBe('TLSv1.3');
    expect(client.getCipher()).toEqual(serverSocket.getCipher());
    expect(client.getCipher()!.version).toBe('TLSv1.3');
    expect(client.alpnProtocol).toBe('http/1.1');
    expect(serverSocket.alpnProtocol).toBe('http/1.1');
    expect(servernames).toEqual(['localhost']);
    expect(client.authorized).toBe(true);
    expect(client.authorizationError).toBe(null);
    expect(client.encrypted).toBe(true);

    // The certificate object matches node's own view of the same certificate, field by field.
    const peer = peerCertificateOf(client);
    expect(peer.subject.CN).toBe(cn);
    expect(peer.subjectaltname).toBe('DNS:localhost, DNS:test.tsls.example, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(peer.valid_from).toBe('Jan  1 00:00:00 2025 GMT');
    const x509 = new X509Certificate(peer.raw);
    expect(nodeView(peer)).toEqual(nodeView(x509.toLegacyObject()));
    expect(peer.fingerprint256).toBe(x509.fingerprint256);
    expect(peer.serialNumber).toBe(x509.serialNumber.toUpperCase());
    expect(client.getPeerX509Certificate()!.fingerprint256).toBe(x509.fingerprint256);
    // Detailed: leaf → intermediate → root (the trust anchor), which points to itself.
    const detailed = client.getPeerCertificate(true);
    expect(detailed.issuerCertificate.subject.CN).toBe('tsls Test Intermediate CA');
    expect(detailed.issuerCertificate.issuerCertificate.subject.CN).toBe('tsls Test Root CA');
    expect(detailed.issuerCertificate.issuerCertificate.issuerCertificate).toBe(detailed.issuerCertificate.issuerCertificate);

    // Exporters agree.
    expect(client.exportKeyingMaterial(32, 'EXPERIMENTAL test', Buffer.from('ctx'))).toEqual(serverSocket.exportKeyingMaterial(32, 'EXPERIMENTAL test', Buffer.from('ctx')));

    const reply = readAll(client);
    const closed = once(client, 'close');
    client.write('hello');
    await new Promise((r) => setTimeout(r, 20));
    client.end('world');
    expect((await reply).toString()).toMatch(/^echo:hello(echo:world)?/);
    expect(Buffer.concat(received).toString()).toBe('helloworld');
    await closed;
  });

  it('node:tls client ↔ tsls server', async () => {
    const server = createServer({ ...pair, ALPNProtocols: ['http/1.1', 'h2'] }, (s) => {
      s.on('data', (d: Buffer) => s.write(Buffer.concat([Buffer.from('echo:'), d])));
      s.on('end', () => s.end());
    });
    const secure = new Promise<TLSSocket>((resolve) => server.once('secureConnection', resolve));
    const port = await listen(server);
    cleanups.push(() => close(server));

    const client = tls.connect({ host: '127.0.0.1', port, servername: 'test.tsls.example', ca: ROOT, ALPNProtocols: ['h2'] });
    cleanups.unshift(() => void client.destroy());
    await once(client, 'secureConnect');
    const s = await secure;
    expect(client.authorized).toBe(true);
    expect(client.getProtocol()).toBe('TLSv1.3');
    expect(s.getProtocol()).toBe('TLSv1.3');
    expect(s.getCipher()).toEqual(client.getCipher());
    expect(client.alpnProtocol).toBe('h2');
    expect(s.alpnProtocol).toBe('h2');
    expect(s.servername).toBe('test.tsls.example');
    expect(s.getPeerCertificate()).toEqual({});
    expect(s.authorized).toBe(false);
    expect(client.getPeerCertificate().subject.CN).toBe(cn);
    expect(s.getCertificate()).toMatchObject({ subject: { CN: cn } });

    const reply = readAll(client);
    const closed = Promise.all([once(client, 'close'), once(s, 'close')]);
    client.end('ping');
    expect((await reply).toString()).toBe('echo:ping');
    await closed;
  });
});

it('TLS 1.2 both ways', async () => {
  const server = createServer({ ...ECDSA, maxVersion: 'TLSv1.2' }, (s) => s.end('over 1.2'));
  const port = await listen(server);
  cleanups.push(() => close(server));
  const client = tls.connect({ port, host: 'localhost', ca: ROOT });
  const body = readAll(client);
  await once(client, 'secureConnect');
  expect(client.getProtocol()).toBe('TLSv1.2');
  expect(client.getCipher().standardName).toBe('TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256');
  expect((await body).toString()).toBe('over 1.2');

  const nodeServer = tls.createServer({ ...RSA, maxVersion: 'TLSv1.2' }, (s) => s.end('node 1.2'));
  const port2 = await listen(nodeServer);
  cleanups.push(() => close(nodeServer));
  const ours = connect({ port: port2, host: 'localhost', ca: ROOT });
  const body2 = readAll(ours);
  await once(ours, 'secureConnect');
  expect(ours.getProtocol()).toBe('TLSv1.2');
  expect(ours.getCipher()!.name).toMatch(/^ECDHE-RSA-/);
  expect(ours.authorized).toBe(true);
  expect((await body2).toString()).toBe('node 1.2');
});
