/**
 * Hybrid post-quantum key exchange against OpenSSL 4 in both directions, through the `tsls`
 * command (node dist/cli.js): `openssl s_client -groups G` against `tsls server`, and
 * `tsls client` against `openssl s_server -groups G`, for each hybrid group OpenSSL 4 has.
 * Each side must report the hybrid as negotiated and a line must make the round trip.
 */
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { killAllPeers, peers, startOpensslClient, startOpensslServer, type Peer } from '../helpers/peers.js';
import { CLI, startTslsServer, tsls } from '../helpers/tsls-cli.js';

const SERVER_PKI = ['--cert', 'leaf-ecdsa-p256.chain.pem', '--key', 'leaf-ecdsa-p256.key'];
const HYBRIDS = ['X25519MLKEM768', 'SecP256r1MLKEM768', 'SecP384r1MLKEM1024'];

const reverse = (s: string) => [...s].reverse().join('');

afterEach(killAllPeers);

it('the CLI is built', () => {
  expect(existsSync(CLI), `${CLI} is missing: run \`npx tsc -p .\` (npm test does) first`).toBe(true);
});

/** How many ClientHellos `s_server -trace` saw. */
const clientHellos = (server: Peer) => server.output.match(/ClientHello, Length=/g)?.length ?? 0;

function tslsClient(port: number, ...args: string[]): Peer {
  return tsls('client', `127.0.0.1:${port}`, '--servername', 'localhost', '--ca', 'root.crt', ...args);
}

describe(`${peers.openssl4.title} s_client → tsls server`, () => {
  for (const group of HYBRIDS) {
    it(`openssl s_client -groups ${group} negotiates ${group} with tsls server and gets its line echoed`, async () => {
      const { server, port } = await startTslsServer('--host', '127.0.0.1', ...SERVER_PKI);
      const client = startOpensslClient(port, { peer: peers.openssl4, groups: group });
      await client.waitOutput('Verify return code: 0 (ok)');
      client.send('hybrid ping\n');
      await client.waitOutput('hybrid ping\n');
      expect(client.output).toMatch(new RegExp(`Negotiated TLS1\\.3 group: ${group}\\b`));
      await server.waitOutput(new RegExp(`TLSv1\\.3, \\S+, ${group}\\b`));
    });
  }

  it('openssl s_client with its default groups (X25519MLKEM768 and X25519 shares) gets X25519MLKEM768 from tsls server', async () => {
    const { server, port } = await startTslsServer('--host', '127.0.0.1', ...SERVER_PKI);
    const client = startOpensslClient(port, { peer: peers.openssl4 });
    await client.waitOutput('Verify return code: 0 (ok)');
    expect(client.output).toMatch(/Negotiated TLS1\.3 group: X25519MLKEM768\b/);
    await server.waitOutput(/TLSv1\.3, \S+, X25519MLKEM768\b/);
  });
});

describe(`tsls client → ${peers.openssl4.title} s_server`, () => {
  for (const group of HYBRIDS) {
    it(`tsls client --groups ${group} negotiates ${group} with openssl s_server -groups ${group} and gets its line reversed`, async () => {
      const { port } = await startOpensslServer({ peer: peers.openssl4, groups: group, rev: true });
      const client = tslsClient(port, '--groups', group);
      await client.waitOutput(new RegExp(`tsls: connected to .*TLSv1\\.3, \\S+, ${group}\\b`));
      client.send('hybrid pong\n');
      await client.waitOutput(`${reverse('hybrid pong')}\n`);
    });
  }

  it('tsls client with its defaults negotiates X25519MLKEM768 with openssl s_server -groups X25519MLKEM768, without HelloRetryRequest', async () => {
    const { peer: server, port } = await startOpensslServer({ peer: peers.openssl4, groups: 'X25519MLKEM768', rev: true, extra: ['-trace'] });
    const client = tslsClient(port);
    await client.waitOutput(/tsls: connected to .*TLSv1\.3, \S+, X25519MLKEM768\b/);
    client.send('defaults\n');
    await client.waitOutput(`${reverse('defaults')}\n`);
    expect(clientHellos(server)).toBe(1);
  });

  it('tsls client (X25519MLKEM768 and X25519 shares) is asked by HelloRetryRequest for SecP256r1MLKEM768 and completes with it', async () => {
    const { peer: server, port } = await startOpensslServer({ peer: peers.openssl4, groups: 'SecP256r1MLKEM768', rev: true, extra: ['-trace'] });
    const client = tslsClient(port);
    await client.waitOutput(/tsls: connected to .*TLSv1\.3, \S+, SecP256r1MLKEM768\b/);
    client.send('retried\n');
    await client.waitOutput(`${reverse('retried')}\n`);
    // s_server -trace shows a HelloRetryRequest as a ServerHello; what proves it is the second ClientHello.
    expect(clientHellos(server)).toBe(2);
  });
});
