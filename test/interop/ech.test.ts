/**
 * ECH against OpenSSL 4.0: key files. OpenSSL's s_server serves ECH with the key file
 * `tsls ech` writes (its s_client reports ECH success and reaches the inner name), and we
 * read the key file `openssl ech` writes.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { nobleProvider as p } from '../../src/crypto/noble.js';
import { echConfigListBytes, parseEchKeyFile } from '../../src/ech/keys.js';
import { encodeEchConfigList } from '../../src/messages/ech.js';
import { killAllPeers, opensslEchKeys, peers, startOpensslClient, startOpensslServer } from '../helpers/peers.js';

const TSLS = new URL('../../bin/tsls.js', import.meta.url).pathname;

afterEach(killAllPeers);

describe('ECH key files with OpenSSL 4', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsls-ech-keys-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("we read OpenSSL 4's key file: the config it prints and the public half of its key agree", () => {
    const { keyFile, configList } = opensslEchKeys(dir, 'openssl.example');
    const [key] = parseEchKeyFile(p, readFileSync(keyFile, 'utf8'));
    expect(key!.config.contents.public_name).toBe('openssl.example');
    expect(encodeEchConfigList([key!.config])).toEqual(echConfigListBytes(configList));
    expect(key!.publicKey).toEqual(key!.config.contents.key_config.public_key);
  });

  it('OpenSSL 4 s_server serves ECH with the file `tsls ech` wrote: its s_client reaches the inner name', async () => {
    const keyFile = join(dir, 'tsls-ech.pem');
    const configList = execFileSync(process.execPath, [TSLS, 'ech', '--public-name', 'public.example', '--out', keyFile], { encoding: 'utf8' }).trim();
    const { port } = await startOpensslServer({ peer: peers.openssl4, rev: true, extra: ['-ech_key', keyFile] });
    const client = startOpensslClient(port, { peer: peers.openssl4, extra: ['-ech_config_list', configList] });
    await client.waitOutput('Verify return code: 0 (ok)');
    client.send('hidden\n');
    await client.waitOutput('neddih');
    client.closeStdin();
    expect(client.output).toMatch(/ECH: success/);
    expect(client.output).toMatch(/ECH: inner: localhost/);
    expect(client.output).toMatch(/ECH: outer: public\.example/);
  });
});
