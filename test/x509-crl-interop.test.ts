/**
 * `tsls client --crl FILE` against a real `openssl s_server`, with CRLs made by `openssl ca`
 * for the test PKI (vectors/pki): the server's leaf revoked by the intermediate's CRL is
 * refused with CERT_REVOKED; CRLs that do not list it let the connection through; the same
 * CRLs in DER work as in PEM. A missing openssl fails the test, never skips it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pkiPath } from './helpers/pki.js';
import { killAllPeers, Peer, requireBinary, startOpensslServer } from './helpers/peers.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
let tmp: string;

/** CRLs from `issuer` (a test PKI CA name) revoking `revoke` (certificate files), via `openssl ca -gencrl`. */
function opensslCrl(issuer: string, revoke: string[]): string {
  const dir = mkdtempSync(join(tmp, `${issuer}-`));
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'crlnumber'), '01\n');
  const cnf = join(dir, 'ca.cnf');
  writeFileSync(cnf, `[ ca ]\ndefault_ca = c\n[ c ]\ndatabase = ${dir}/index.txt\ncrlnumber = ${dir}/crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\n`);
  const ca = ['-config', cnf, '-keyfile', pkiPath(`${issuer}.key`), '-cert', pkiPath(`${issuer}.crt`)];
  for (const cert of revoke) execFileSync(requireBinary('openssl'), ['ca', ...ca, '-revoke', pkiPath(cert)], { stdio: 'pipe' });
  const out = join(dir, 'crl.pem');
  execFileSync(requireBinary('openssl'), ['ca', ...ca, '-gencrl', '-out', out], { stdio: 'pipe' });
  return readFileSync(out, 'utf8');
}

function toDer(pem: string): Buffer {
  const file = join(tmp, `crl-${Math.random().toString(36).slice(2)}.pem`);
  writeFileSync(file, pem);
  return execFileSync(requireBinary('openssl'), ['crl', '-in', file, '-outform', 'DER']);
}

function writeTmp(name: string, data: string | Uint8Array): string {
  const file = join(tmp, name);
  writeFileSync(file, data);
  return file;
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tsls-crl-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(async () => {
  await killAllPeers();
});

describe('tsls client --crl against openssl s_server', () => {
  it('the CLI is built and openssl is installed', () => {
    expect(requireBinary('openssl')).toBeTruthy();
    expect(readFileSync(CLI, 'utf8').length).toBeGreaterThan(0);
  });

  it('refuses a server whose certificate the CRL revokes: exit 1, one line, CERT_REVOKED', async () => {
    const crls = writeTmp('revoked.pem', opensslCrl('intermediate', ['leaf-ecdsa-p256.crt']) + opensslCrl('root', []));
    const { port } = await startOpensslServer({ rev: true });
    const client = new Peer('node', [CLI, 'client', `127.0.0.1:${port}`, '--ca', 'root.crt', '--crl', crls]);
    client.send('never echoed\n');
    const exit = await client.waitExit();
    expect(exit.code, client.describe()).toBe(1);
    const errors = client.stderr.split('\n').filter((l) => l !== '');
    expect(errors, client.describe()).toHaveLength(1);
    expect(errors[0]).toMatch(/CERT_REVOKED/);
    expect(client.stdout).toBe('');
  });

  it('connects when the CRLs (PEM, then the same in DER) do not list the certificate', async () => {
    const intermediate = opensslCrl('intermediate', ['leaf-ecdsa-p384.crt']);
    const root = opensslCrl('root', []);
    const files = [writeTmp('clean.pem', intermediate + root), writeTmp('clean.der', Buffer.concat([toDer(intermediate), toDer(root)]))];
    for (const crls of files) {
      const { port } = await startOpensslServer({ rev: true });
      const client = new Peer('node', [CLI, 'client', `127.0.0.1:${port}`, '--ca', 'root.crt', '--crl', crls]);
      await client.waitOutput('tsls: connected to');
      client.send('crl ok\n');
      await client.waitOutput('ko lrc');
      client.closeStdin();
      expect((await client.waitExit()).code, client.describe()).toBe(0);
    }
  });

  it('refuses the revoked certificate with the CRLs in DER too', async () => {
    const der = Buffer.concat([toDer(opensslCrl('intermediate', ['leaf-ecdsa-p256.crt'])), toDer(opensslCrl('root', []))]);
    const { port } = await startOpensslServer({ rev: true });
    const client = new Peer('node', [CLI, 'client', `127.0.0.1:${port}`, '--ca', 'root.crt', '--crl', writeTmp('revoked.der', der)]);
    expect((await client.waitExit()).code, client.describe()).toBe(1);
    expect(client.stderr).toMatch(/CERT_REVOKED/);
  });
});
