/**
 * Each peer against itself, so a broken peer (a bad fetch, a wrapper that cannot find its
 * libraries, a wolfssl-peer.c bug) is never mistaken for a broken tsls: wolfSSL client ↔ wolfSSL
 * server over TLS 1.3, DTLS 1.2 and DTLS 1.3 (with PSK and connection IDs), OpenSSL 4 client ↔
 * OpenSSL 4 server with its hybrid default group, certificate compression and ECH, GnuTLS ↔ GnuTLS.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  killAllPeers,
  opensslEchKeys,
  peers,
  startGnutlsClient,
  startGnutlsServer,
  startOpensslClient,
  startOpensslServer,
  startWolfsslClient,
  startWolfsslServer,
  type Peer,
  type WolfsslOptions,
} from '../helpers/peers.js';

afterEach(killAllPeers);

it('the fetched peers are the generations these tests are written for: OpenSSL 4.x, wolfSSL 5.9 or later', () => {
  expect(peers.openssl4.version).toMatch(/^4\.\d+\.\d+/);
  const [major, minor] = peers.wolfssl.version.split('.').map(Number);
  expect(major! > 5 || (major === 5 && minor! >= 9), `wolfSSL ${peers.wolfssl.version}`).toBe(true);
});

/** Send a line through `client` and wait for `expected` to come back; then close stdin. */
async function roundTrip(client: Peer, line: string, expected: string): Promise<void> {
  client.send(`${line}\n`);
  await client.waitOutput(expected);
  client.closeStdin();
}

describe(`${peers.wolfssl.title} against itself`, () => {
  const cases: [string, WolfsslOptions, RegExp][] = [
    ['TLS 1.3', { proto: 'tls1.3' }, /version=TLSv1\.3 /],
    ['DTLS 1.2', { proto: 'dtls1.2' }, /version=DTLSv1\.2 /],
    ['DTLS 1.3', { proto: 'dtls1.3' }, /version=DTLSv1\.3 /],
    ['DTLS 1.3 on secp256r1', { proto: 'dtls1.3', groups: ['secp256r1'] }, /version=DTLSv1\.3 .*group=SECP256R1/],
  ];
  for (const [what, o, handshake] of cases) {
    it(`${what} client ↔ server: both handshake and a record comes back`, async () => {
      const { peer: server, port } = await startWolfsslServer(o);
      const client = startWolfsslClient(port, o);
      await client.waitOutput(handshake);
      await roundTrip(client, 'ping wolfssl', 'ping wolfssl');
      await server.waitOutput(handshake);
      await server.waitOutput('CLOSED');
    });
  }

  it('DTLS 1.3 with connection IDs: each side sends with the ID the other asked for', async () => {
    const { peer: server, port } = await startWolfsslServer({ proto: 'dtls1.3', cid: 'a1a2a3' });
    const client = startWolfsslClient(port, { proto: 'dtls1.3', cid: '0b0c' });
    await client.waitOutput(/HANDSHAKE .* cid=a1a2a3/);
    await server.waitOutput(/HANDSHAKE .* cid=0b0c/);
    await roundTrip(client, 'with cid', 'with cid');
  });

  it('TLS 1.3 external PSK without certificates', async () => {
    const psk = { key: '00112233445566778899aabbccddeeff', identity: 'tsls-test' };
    const { peer: server, port } = await startWolfsslServer({ proto: 'tls1.3', leaf: null, psk });
    const client = startWolfsslClient(port, { proto: 'tls1.3', psk });
    await client.waitOutput(/HANDSHAKE version=TLSv1\.3 /);
    await roundTrip(client, 'psk', 'psk');
    await server.waitOutput('CLOSED');
  });
});

describe(`${peers.openssl4.title} against itself`, () => {
  it('TLS 1.3 by default negotiates X25519MLKEM768 and echoes', async () => {
    const { peer: server, port } = await startOpensslServer({ peer: peers.openssl4, rev: true });
    const client = startOpensslClient(port, { peer: peers.openssl4 });
    await client.waitOutput('Verify return code: 0 (ok)');
    await roundTrip(client, 'ping', 'gnip');
    expect(client.output).toMatch(/Negotiated TLS1\.3 group: X25519MLKEM768/);
    await server.kill();
  });

  it('certificate compression (RFC 8879): s_server -cert_comp sends a CompressedCertificate that s_client takes', async () => {
    const { port } = await startOpensslServer({ peer: peers.openssl4, rev: true, extra: ['-cert_comp'] });
    const client = startOpensslClient(port, { peer: peers.openssl4, extra: ['-msg'] });
    await client.waitOutput('Verify return code: 0 (ok)');
    expect(client.output).toMatch(/<<< TLS 1\.3, Handshake \[length [0-9a-f]+\], CompressedCertificate/);
    await roundTrip(client, 'compressed', 'desserpmoc');
  });

  describe('ECH (openssl ech keys)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsls-ech-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('the client reaches the inner name localhost through the outer public.example', async () => {
      const { keyFile, configList } = opensslEchKeys(dir);
      const { port } = await startOpensslServer({ peer: peers.openssl4, rev: true, extra: ['-ech_key', keyFile] });
      const client = startOpensslClient(port, { peer: peers.openssl4, extra: ['-ech_config_list', configList] });
      await client.waitOutput('Verify return code: 0 (ok)');
      await roundTrip(client, 'hidden', 'neddih');
      expect(client.output).toMatch(/ECH: success/);
      expect(client.output).toMatch(/ECH: inner: localhost/);
      expect(client.output).toMatch(/ECH: outer: public\.example/);
    });

    it('a control: with a config whose key the server does not hold, ECH fails and the inner name is not reached', async () => {
      const { keyFile } = opensslEchKeys(dir);
      const { configList: stranger } = opensslEchKeys(dir, 'other.example');
      const { port } = await startOpensslServer({ peer: peers.openssl4, rev: true, extra: ['-ech_key', keyFile] });
      const client = startOpensslClient(port, { peer: peers.openssl4, extra: ['-ech_config_list', stranger] });
      await client.waitOutput(/ECH: failed/);
      expect(client.output).not.toMatch(/ECH: success/);
      expect(client.output).not.toMatch(/ECH: inner: localhost/);
    });
  });
});

describe(`${peers.gnutls.title} against itself`, () => {
  it('TLS 1.3 client ↔ server echoes a line', async () => {
    const { port } = await startGnutlsServer();
    const client = startGnutlsClient(port);
    await client.waitOutput('Handshake was completed');
    await roundTrip(client, 'ping gnutls', 'ping gnutls');
  });
});
