/**
 * ECH from the command line, as the README shows it: `tsls ech` makes the key file,
 * `tsls server --ech-key` serves it and OpenSSL 4's `s_client -ech_config_list` reaches the
 * inner name; `tsls client --ech-config` reaches OpenSSL 4's `s_server -ech_key`, and prints
 * the retry configs when its config is stale. `--trace` shows both hellos, outer then inner, on
 * either side.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Peer, killAllPeers, opensslEchKeys, peers, startOpensslServer } from '../helpers/peers.js';
import { startTslsServer, tsls } from '../helpers/tsls-cli.js';

afterEach(killAllPeers);

const dir = mkdtempSync(join(tmpdir(), 'tsls-ech-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function makeKey(name: string, publicName = 'public.example'): Promise<{ keyFile: string; configList: string }> {
  const keyFile = join(dir, name);
  const made = tsls('ech', '--public-name', publicName, '--out', keyFile);
  await made.waitExit();
  return { keyFile, configList: made.stdout.trim() };
}

describe('the README ECH demo', () => {
  it('tsls ech, tsls server --ech-key, openssl s_client -ech_config_list: ECH success, and the server logs the inner SNI and ECH accepted', async () => {
    const { keyFile, configList } = await makeKey('demo.pem');
    expect(configList).toMatch(/^[A-Za-z0-9+/]+=*$/);
    const { server, port } = await startTslsServer('--ech-key', keyFile);
    // OpenSSL reports ECH success only for a verified server: trust the throwaway certificate.
    const ca = /saved in (\S+)/.exec(server.stderr)?.[1];
    expect(ca, server.describe()).toBeDefined();
    const client = new Peer(peers.openssl4.bin, ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_3', '-CAfile', ca!, '-servername', 'localhost', '-ech_config_list', configList]);
    await client.waitOutput(/ECH: success/);
    client.send('over ECH\n');
    await client.waitOutput('over ECH');
    expect(client.output).toMatch(/ECH: outer: public\.example/);
    await server.waitOutput(/ECH accepted, SNI localhost/);
  });

  it('tsls server --trace shows the outer hello it received and then the inner one it opened', async () => {
    const { keyFile, configList } = await makeKey('traced.pem');
    const { server, port } = await startTslsServer('--ech-key', keyFile, '--trace');
    const ca = /saved in (\S+)/.exec(server.stderr)?.[1];
    expect(ca, server.describe()).toBeDefined();
    const client = new Peer(peers.openssl4.bin, ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_3', '-CAfile', ca!, '-servername', 'localhost', '-ech_config_list', configList]);
    await client.waitOutput(/ECH: success/);
    const inner = /<<< client_hello \(inner[^)]*\) \d+ bytes: .* sni=localhost .*ech=inner/;
    const outer = /<<< client_hello \d+ bytes: .* sni=public\.example .*ech=outer\(config_id=\d+ enc=32 payload=\d+ bytes\)/;
    await server.waitOutput(inner);
    expect(server.stderr).toMatch(outer);
    expect(server.stderr.search(outer)).toBeLessThan(server.stderr.search(inner));
    client.closeStdin();
  });
});

describe(`tsls client --ech-config → ${peers.openssl4.title} s_server -ech_key`, () => {
  it('accepted: the summary says ECH accepted and data flows', async () => {
    const { keyFile, configList } = opensslEchKeys(dir);
    const { port } = await startOpensslServer({ peer: peers.openssl4, rev: true, extra: ['-ech_key', keyFile] });
    const client = tsls('client', `127.0.0.1:${port}`, '--servername', 'localhost', '--ca', 'root.crt', '--ech-config', configList);
    await client.waitOutput(/tsls: connected to .*ECH accepted/);
    client.send('hidden\n');
    await client.waitOutput('neddih');
    client.closeStdin();
  });

  it('a key file works as --ech-config too (its ECHCONFIG block is taken)', async () => {
    const { keyFile } = opensslEchKeys(dir);
    const { port } = await startOpensslServer({ peer: peers.openssl4, rev: true, extra: ['-ech_key', keyFile] });
    const client = tsls('client', `127.0.0.1:${port}`, '--servername', 'localhost', '--ca', 'root.crt', '--ech-config', keyFile);
    await client.waitOutput(/tsls: connected to .*ECH accepted/);
    client.closeStdin();
  });

  it('--trace shows the outer hello (public name, encrypted payload) and then the inner one it carried (the real name)', async () => {
    const { keyFile, configList } = opensslEchKeys(dir);
    const { port } = await startOpensslServer({ peer: peers.openssl4, rev: true, extra: ['-ech_key', keyFile] });
    const client = tsls('client', `127.0.0.1:${port}`, '--servername', 'localhost', '--ca', 'root.crt', '--ech-config', configList, '--trace');
    await client.waitOutput(/tsls: connected to .*ECH accepted/);
    client.closeStdin();
    await client.waitExit();
    const outer = /^\[client\] >>> client_hello \d+ bytes: .*$/m.exec(client.stderr)?.[0];
    const inner = /^\[client\] >>> client_hello \(inner[^)]*\) \d+ bytes: .*$/m.exec(client.stderr)?.[0];
    expect(outer, client.describe()).toMatch(/ sni=public\.example .*ech=outer\(config_id=\d+ enc=32 payload=\d+ bytes\)/);
    expect(inner, client.describe()).toMatch(/ sni=localhost .*ech=inner/);
    expect(client.stderr.indexOf(outer!)).toBeLessThan(client.stderr.indexOf(inner!));
  });

  it('a TLS 1.2 server (s_server -tls1_2) is authenticated for the public name, then ERR_TLS_ECH_REQUIRED with no retry configs, exit 1', async () => {
    const { configList } = opensslEchKeys(dir, 'localhost');
    const { port } = await startOpensslServer({ peer: peers.openssl4, rev: true, version: 'TLSv1.2' });
    const client = tsls('client', `127.0.0.1:${port}`, '--servername', 'inner.example', '--ca', 'root.crt', '--ech-config', configList);
    const exit = await client.waitExit();
    expect(exit.code, client.describe()).toBe(1);
    expect(client.stderr).toMatch(/ERR_TLS_ECH_REQUIRED/);
    expect(client.stderr).not.toMatch(/--ech-config/);
    expect(client.stdout).toBe('');
  });

  it('rejected: one failure line with ERR_TLS_ECH_REQUIRED, then the retry configs to use, exit 1', async () => {
    const { keyFile, configList: served } = opensslEchKeys(dir);
    const { configList: stale } = opensslEchKeys(dir, 'localhost');
    const { port } = await startOpensslServer({ peer: peers.openssl4, rev: true, extra: ['-ech_key', keyFile] });
    // The inner name is not on the certificate: a rejection authenticates the public name (localhost) alone.
    const client = tsls('client', `127.0.0.1:${port}`, '--servername', 'inner.example', '--ca', 'root.crt', '--ech-config', stale);
    const exit = await client.waitExit();
    expect(exit.code, client.describe()).toBe(1);
    expect(client.stderr).toMatch(/ERR_TLS_ECH_REQUIRED/);
    expect(client.stderr).toContain(`retry configs: --ech-config ${served}`);
    expect(client.stdout).toBe('');
  });
});
