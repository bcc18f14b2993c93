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
  WOLFSSL_KEY_UPDATE,
  WOLFSSL_RECONNECT,
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

  // What test/interop/dtls13-wolfssl.test.ts asks of the peer, proven between two wolfSSLs first.
  describe('DTLS 1.3', () => {
    it.each(['TLS13-AES128-GCM-SHA256', 'TLS13-AES256-GCM-SHA384', 'TLS13-CHACHA20-POLY1305-SHA256', 'TLS13-AES128-CCM-SHA256', 'TLS13-AES128-CCM-8-SHA256'])(
      'with %s and an RSA certificate',
      async (ciphers) => {
        const o: WolfsslOptions = { proto: 'dtls1.3', ciphers };
        const { peer: server, port } = await startWolfsslServer({ ...o, leaf: 'leaf-rsa2048' });
        const client = startWolfsslClient(port, o);
        await client.waitOutput(new RegExp(`version=DTLSv1\\.3 cipher=${ciphers} .*peer=.*leaf-rsa2048`));
        await roundTrip(client, ciphers, `${ciphers}\n`);
        await server.waitOutput('CLOSED');
      },
    );

    it('mutual authentication: the server requires and names the client certificate', async () => {
      const { peer: server, port } = await startWolfsslServer({ proto: 'dtls1.3', verifyClient: true });
      const client = startWolfsslClient(port, { proto: 'dtls1.3', clientLeaf: 'client-ecdsa-p256' });
      await server.waitOutput(/HANDSHAKE version=DTLSv1\.3 .*peer=.*tsls test client/);
      await roundTrip(client, 'mtls', 'mtls\n');
    });

    it('a control: the server that requires a client certificate refuses a client without one', async () => {
      const { peer: server, port } = await startWolfsslServer({ proto: 'dtls1.3', verifyClient: true });
      startWolfsslClient(port, { proto: 'dtls1.3' });
      await server.waitOutput(/ERROR accept/);
      expect(server.output).not.toContain('HANDSHAKE');
    });

    // A wolfSSL server sends its ServerHello whole, so a hybrid key share does not fit a small
    // MTU: x25519 here; the client's MTU stays large, as wolfSSL does not fragment its ClientHello.
    it('a server MTU of 256 fragments its flight, on x25519', async () => {
      const { peer: server, port } = await startWolfsslServer({ proto: 'dtls1.3', mtu: 256, groups: ['x25519'], leaf: 'leaf-rsa2048' });
      const client = startWolfsslClient(port, { proto: 'dtls1.3', groups: ['x25519'] });
      await client.waitOutput(/HANDSHAKE version=DTLSv1\.3 .*group=X25519/);
      await roundTrip(client, 'small mtu', 'small mtu\n');
      await server.waitOutput('CLOSED');
    });

    it('the HelloRetryRequest cookie on and off, and a retry for a group: all complete', async () => {
      for (const hrrCookie of [true, false]) {
        const { port } = await startWolfsslServer({ proto: 'dtls1.3', hrrCookie, groups: ['secp256r1'] });
        const client = startWolfsslClient(port, { proto: 'dtls1.3', groups: ['x25519', 'secp256r1'] });
        await client.waitOutput(/HANDSHAKE version=DTLSv1\.3 .*group=SECP256R1/);
        await roundTrip(client, `cookie ${hrrCookie}`, `cookie ${hrrCookie}\n`);
      }
    });

    it('KeyUpdate from the client (a stdin command) and from the server (before each echo)', async () => {
      const { peer: server, port } = await startWolfsslServer({ proto: 'dtls1.3', keyUpdate: true });
      const client = startWolfsslClient(port, { proto: 'dtls1.3' });
      await client.waitOutput('HANDSHAKE version=DTLSv1.3');
      client.send(WOLFSSL_KEY_UPDATE);
      await client.waitOutput('KEYUPDATE sent');
      client.send('after one\n');
      await client.waitOutput('after one\n');
      client.send('after two\n');
      await client.waitOutput('after two\n');
      expect(server.output.match(/KEYUPDATE sent/g)).toHaveLength(2);
      client.closeStdin();
      await server.waitOutput('CLOSED');
    });

    it('resumption: the reconnected client (a new source port) resumes with its ticket; with no ticket it cannot', async () => {
      for (const noTicket of [false, true]) {
        const { peer: server, port } = await startWolfsslServer({ proto: 'dtls1.3', naccept: 2, noTicket });
        const client = startWolfsslClient(port, { proto: 'dtls1.3' });
        await client.waitOutput('resumed=0');
        // The echo comes after the server's NewSessionTicket: the ticket is in by then.
        client.send('first\n');
        await client.waitOutput('first\n');
        client.send(WOLFSSL_RECONNECT);
        await client.waitOutput(/HANDSHAKE[^\n]*\n[\s\S]*HANDSHAKE[^\n]*resumed=\d/);
        const handshakes = client.stdout.match(/HANDSHAKE [^\n]*/g)!;
        expect(handshakes[1]).toContain(`resumed=${noTicket ? 0 : 1}`);
        await roundTrip(client, 'second', 'second\n');
        await server.waitOutput(/CLOSED[\s\S]*CLOSED/);
        await server.waitExit();
      }
    });

    it('a server with --naccept 2 takes its next client after a quiet spell of seconds', async () => {
      const { peer: server, port } = await startWolfsslServer({ proto: 'dtls1.3', naccept: 2 });
      const first = startWolfsslClient(port, { proto: 'dtls1.3' });
      await roundTrip(first, 'first', 'first\n');
      await server.waitOutput('CLOSED');
      // wolfSSL's blocking DTLS I/O leaves a receive timeout on the server's socket.
      await new Promise((r) => setTimeout(r, 2000));
      const second = startWolfsslClient(port, { proto: 'dtls1.3' });
      await roundTrip(second, 'second', 'second\n');
      await server.waitOutput(/CLOSED[\s\S]*CLOSED/);
      expect(server.output).not.toContain('ERROR');
    });

    it('version flexible: a "dtls" client gets DTLS 1.2 from a DTLS 1.2 server, DTLS 1.3 from a "dtls" one', async () => {
      for (const [serverProto, version] of [['dtls1.2', 'DTLSv1.2'], ['dtls', 'DTLSv1.3']] as const) {
        const { port } = await startWolfsslServer({ proto: serverProto });
        const client = startWolfsslClient(port, { proto: 'dtls' });
        await client.waitOutput(`HANDSHAKE version=${version} `);
        await roundTrip(client, version, `${version}\n`);
      }
    });
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
