/**
 * Each peer against itself, so a broken peer (a bad fetch, a wrapper that cannot find its
 * libraries, a wolfssl-peer.c bug) is never mistaken for a broken tsls: wolfSSL client ↔ wolfSSL
 * server over TLS 1.3, DTLS 1.2 and DTLS 1.3 (with PSK and connection IDs), OpenSSL 4 client ↔
 * OpenSSL 4 server with its hybrid default group and with ECH, GnuTLS ↔ GnuTLS.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  killAllPeers,
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

  describe('ECH (openssl ech keys)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsls-ech-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('the client reaches the inner name localhost through the outer public.example', async () => {
      const keyFile = join(dir, 'ech.pem');
      execFileSync(peers.openssl4.bin, ['ech', '-public_name', 'public.example', '-out', keyFile]);
      const pem = readFileSync(keyFile, 'utf8');
      const configList = /-----BEGIN ECHCONFIG-----([\s\S]*?)-----END ECHCONFIG-----/.exec(pem)![1]!.replace(/\s/g, '');
      const { port } = await startOpensslServer({ peer: peers.openssl4, rev: true, extra: ['-ech_key', keyFile] });
      const client = startOpensslClient(port, { peer: peers.openssl4, extra: ['-ech_config_list', configList] });
      await client.waitOutput('Verify return code: 0 (ok)');
      await roundTrip(client, 'hidden', 'neddih');
      expect(client.output).toMatch(/ECH: success/);
      expect(client.output).toMatch(/ECH: inner: localhost/);
      expect(client.output).toMatch(/ECH: outer: public\.example/);
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
