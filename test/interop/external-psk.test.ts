/**
 * TLS 1.3 external PSKs against OpenSSL (the system's 3.0 and 4.0) in both directions,
 * through the `tsls` command: `openssl s_client -psk` against a certificate-free
 * `tsls server --psk`, and `tsls client --psk` against `openssl s_server -psk -nocert`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { killAllPeers, peers, startOpensslClient, startOpensslServer } from '../helpers/peers.js';
import { startTslsServer, tsls } from '../helpers/tsls-cli.js';

const KEY = '4d7920707265736861726564206b6579206f66203332206279746573212121ff';
const IDENTITY = 'sensor-42';
const PSK_ARGS = ['--psk', KEY, '--psk-identity', IDENTITY];
const reverse = (s: string) => [...s].reverse().join('');

afterEach(killAllPeers);

for (const peer of [peers.openssl3, peers.openssl4]) {
  describe(`${peer.title} and tsls with an external PSK (TLS 1.3)`, () => {
    it(`openssl s_client -psk completes a PSK handshake with a certificate-free tsls server --psk and gets its line echoed`, async () => {
      const { server, port } = await startTslsServer('--host', '127.0.0.1', ...PSK_ARGS);
      // Twice: the server's key must survive its first connection.
      for (const line of ['psk one', 'psk two']) {
        const client = startOpensslClient(port, { peer, extra: ['-psk', KEY, '-psk_identity', IDENTITY] });
        await client.waitOutput(/Reused, TLSv1\.3, Cipher is TLS_AES_128_GCM_SHA256/);
        client.send(`${line}\n`);
        await client.waitOutput(`${line}\n`);
        await client.kill();
      }
      expect(server.output).not.toMatch(/handshake failed/);
      expect(server.output.match(/TLSv1\.3, TLS_AES_128_GCM_SHA256, \S+, resumed/g)).toHaveLength(2);
    });

    it('tsls client --psk completes a PSK handshake with openssl s_server -psk -nocert and gets its line reversed', async () => {
      const { port } = await startOpensslServer({ peer, rev: true, extra: ['-nocert', '-psk', KEY, '-psk_identity', IDENTITY] });
      const client = tsls('client', `127.0.0.1:${port}`, ...PSK_ARGS);
      await client.waitOutput(/tsls: connected to .*TLSv1\.3, TLS_AES_128_GCM_SHA256, \S+, resumed/);
      client.send('psk line\n');
      await client.waitOutput(`${reverse('psk line')}\n`);
    });

    it('openssl s_client with the wrong key is refused by tsls server --psk (the binder does not verify)', async () => {
      const { server, port } = await startTslsServer('--host', '127.0.0.1', ...PSK_ARGS);
      const client = startOpensslClient(port, { peer, extra: ['-psk', '00'.repeat(32), '-psk_identity', IDENTITY] });
      await client.waitOutput(/alert decrypt error|alert number 51/);
      await server.waitOutput(/handshake failed: PSK binder does not verify/);
    });
  });
}

describe(`${peers.openssl3.title} and tsls --psk over TLS 1.2 (RFC 4279 / RFC 5489 suites)`, () => {
  it('tsls client --psk --max-version TLSv1.2 uses a PSK suite with openssl s_server -tls1_2 -psk -nocert', async () => {
    const { port } = await startOpensslServer({ version: 'TLSv1.2', cipher: 'PSK-AES128-GCM-SHA256', rev: true, extra: ['-nocert', '-psk', KEY, '-psk_identity', IDENTITY] });
    const client = tsls('client', `127.0.0.1:${port}`, ...PSK_ARGS, '--max-version', 'TLSv1.2');
    await client.waitOutput(/tsls: connected to .*TLSv1\.2, TLS_PSK_WITH_AES_128_GCM_SHA256/);
    client.send('psk 1.2\n');
    await client.waitOutput(`${reverse('psk 1.2')}\n`);
  });

  it('openssl s_client -tls1_2 -psk uses an ECDHE_PSK suite with a certificate-free tsls server --psk', async () => {
    const { server, port } = await startTslsServer('--host', '127.0.0.1', ...PSK_ARGS);
    const client = startOpensslClient(port, { version: 'TLSv1.2', cipher: 'ECDHE-PSK-CHACHA20-POLY1305', extra: ['-psk', KEY, '-psk_identity', IDENTITY] });
    await client.waitOutput(/Cipher is ECDHE-PSK-CHACHA20-POLY1305/);
    client.send('psk twelve\n');
    await client.waitOutput('psk twelve\n');
    await server.waitOutput(/TLSv1\.2, TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256/);
  });
});

describe('tsls --psk usage', () => {
  it.each([
    [['--psk', 'abc', '--psk-identity', 'x'], /--psk takes the key in hex/],
    [['--psk', 'zz', '--psk-identity', 'x'], /--psk takes the key in hex/],
    [['--psk-identity', 'x'], /--psk and --psk-identity go together/],
    [['--psk', KEY], /--psk and --psk-identity go together/],
    [['--psk-import'], /--psk-import needs --psk and --psk-identity/],
    [['--psk', KEY, '--psk-identity', 'x', '--psk-context', 'c'], /--psk-context and --psk-hash go with --psk-import/],
    [['--psk', KEY, '--psk-identity', 'x', '--psk-import', '--psk-hash', 'sha512'], /bad --psk-hash sha512/],
  ])('tsls client %j fails with one usage line and exit 1', async (args, message) => {
    const client = tsls('client', '127.0.0.1:1', ...args);
    const exit = await client.waitExit();
    expect(exit.code, client.describe()).toBe(1);
    expect(client.stderr.split('\n')[0]).toMatch(message);
  });
});
