/**
 * RFC 9258 imported PSKs against GnuTLS 3.8 (test/peers/gnutls-psk-peer.c), in both
 * directions and for both target hashes, through the `tsls` command: `tsls client
 * --psk-import` against the GnuTLS server, and the GnuTLS client against `tsls server
 * --psk-import`, certificate-free. Mismatched imports fail as the RFC means them to.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { killAllPeers, peers, startGnutlsPskClient, startGnutlsPskServer } from '../helpers/peers.js';
import { startTslsServer, tsls } from '../helpers/tsls-cli.js';

const KEY = '4d7920707265736861726564206b6579206f66203332206279746573212121ff';
const IDENTITY = 'sensor-9';
const CONTEXT = 'plant-1';
const psk = { key: KEY, identity: IDENTITY };
const TSLS_IMPORT = ['--psk', KEY, '--psk-identity', IDENTITY, '--psk-import', '--psk-context', CONTEXT];
const hex = (s: string) => Buffer.from(s).toString('hex');
/** The ImportedIdentity for TLS 1.3 (0x0304) and target KDF `kdf`, in hex, as GnuTLS reports it. */
const importedIdentity = (kdf: 1 | 2) => `0008${hex(IDENTITY)}0007${hex(CONTEXT)}0304000${kdf}`;

const ROWS = [
  { hash: 'sha256', suite: 'TLS_AES_128_GCM_SHA256', gnutlsCipher: 'AES-128-GCM', kdf: 1 },
  { hash: 'sha384', suite: 'TLS_AES_256_GCM_SHA384', gnutlsCipher: 'AES-256-GCM', kdf: 2 },
] as const;

afterEach(killAllPeers);

describe(`${peers.gnutlsPsk.title} and tsls with imported PSKs (RFC 9258)`, () => {
  for (const row of ROWS) {
    it(`tsls client --psk-import --psk-hash ${row.hash} completes a handshake with the GnuTLS server importing the same key, and gets its line echoed`, async () => {
      const { peer, port } = await startGnutlsPskServer({ psk, imported: { context: CONTEXT }, hash: row.hash });
      const client = tsls('client', `127.0.0.1:${port}`, ...TSLS_IMPORT, '--psk-hash', row.hash);
      await client.waitOutput(new RegExp(`tsls: connected to .*TLSv1\\.3, ${row.suite}, \\S+, resumed`));
      client.send('imported line\n');
      await client.waitOutput('imported line\n');
      // GnuTLS took our ImportedIdentity, for this hash, as its own.
      await peer.waitOutput(`HANDSHAKE version=TLS1.3 cipher=${row.gnutlsCipher} prf=${row.hash.toUpperCase()} identity=${importedIdentity(row.kdf)}`);
    });

    it(`the GnuTLS client importing for ${row.hash} completes a handshake with a certificate-free tsls server --psk-import, which picks ${row.suite}`, async () => {
      const { server, port } = await startTslsServer('--host', '127.0.0.1', ...TSLS_IMPORT, '--psk-hash', row.hash);
      const client = startGnutlsPskClient(port, { psk, imported: { context: CONTEXT }, hash: row.hash });
      await client.waitOutput(`HANDSHAKE version=TLS1.3 cipher=${row.gnutlsCipher} prf=${row.hash.toUpperCase()}`);
      client.send('from gnutls\n');
      await client.waitOutput('from gnutls\n');
      await server.waitOutput(new RegExp(`TLSv1\\.3, ${row.suite}, \\S+, resumed`));
      expect(server.output).not.toMatch(/handshake failed/);
    });
  }

  it('tsls client importing both hashes (the default) is accepted by the GnuTLS server with its SHA-256 key', async () => {
    const { peer, port } = await startGnutlsPskServer({ psk, imported: { context: CONTEXT } });
    const client = tsls('client', `127.0.0.1:${port}`, ...TSLS_IMPORT);
    await client.waitOutput(/tsls: connected to .*TLSv1\.3, TLS_AES_128_GCM_SHA256, \S+, resumed/);
    await peer.waitOutput(`identity=${importedIdentity(1)}`);
  });

  it('the GnuTLS client with another context is refused by tsls server --psk-import (unknown_psk_identity)', async () => {
    const { server, port } = await startTslsServer('--host', '127.0.0.1', ...TSLS_IMPORT);
    const client = startGnutlsPskClient(port, { psk, imported: { context: 'plant-2' } });
    await client.waitOutput(/ERROR handshake/);
    await server.waitOutput(/handshake failed: no offered PSK identity is known/);
  });

  it('an imported PSK is not the same key used directly: the GnuTLS importing client is refused by tsls server --psk without --psk-import', async () => {
    const { server, port } = await startTslsServer('--host', '127.0.0.1', '--psk', KEY, '--psk-identity', IDENTITY);
    const client = startGnutlsPskClient(port, { psk, imported: { context: CONTEXT } });
    await client.waitOutput(/ERROR handshake/);
    await server.waitOutput(/handshake failed: no offered PSK identity is known/);
  });

  it('and the other way: tsls client --psk-import is refused by a GnuTLS server using the key directly', async () => {
    const { peer, port } = await startGnutlsPskServer({ psk });
    const client = tsls('client', `127.0.0.1:${port}`, ...TSLS_IMPORT);
    const exit = await client.waitExit();
    expect(exit.code, client.describe()).not.toBe(0);
    await peer.waitOutput(/ERROR handshake/);
  });
});
