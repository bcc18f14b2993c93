/**
 * Client certificates (mutual TLS) against real OpenSSL, TLS 1.3 and 1.2, both directions:
 * our client presenting client-ecdsa-p256 (with its intermediate) to `openssl s_server
 * -Verify 1`, and `openssl s_client -cert` against our server with requestCert. Also the
 * refusals: no certificate, and a self-signed certificate nobody trusts (made at test time).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../src/connection.js';
import type { CertifiedKey, ClientOptions, ServerOptions, TLSVersionName } from '../../src/config.js';
import { parseCertificateChain, parsePrivateKey } from '../../src/x509/parse-chain.js';
import { killAllPeers, peers, startOpensslClient, startOpensslServer, type OpensslVersion, type Peer } from '../helpers/peers.js';
import { certifiedKey, rootCa } from '../helpers/pki.js';
import { destroyAllDrivers, listenerPerTest, SocketDriver } from '../helpers/socket-driver.js';

it(`${peers.openssl3.title} is there`, () => {
  expect(peers.openssl3.bin).toBeTruthy();
});

afterEach(async () => {
  destroyAllDrivers();
  await killAllPeers();
});

/** A self-signed ECDSA P-256 client certificate made by openssl now: chains to nothing we trust. */
let tmp: string;
let untrusted: { cert: string; key: string; certified: CertifiedKey };
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tsls-mtls-'));
  const cert = join(tmp, 'untrusted.crt');
  const key = join(tmp, 'untrusted.key');
  execFileSync(peers.openssl3.bin, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/O=elsewhere/CN=untrusted test client',
    '-addext', 'extendedKeyUsage=clientAuth',
  ], { stdio: 'pipe' });
  untrusted = { cert, key, certified: { chain: parseCertificateChain(readFileSync(cert, 'utf8')), key: parsePrivateKey(readFileSync(key, 'utf8')) } };
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** What our server sends when the client has no certificate, per version. */
const NO_CERT_ALERT: Record<TLSVersionName, { alert: string; openssl: RegExp }> = {
  'TLSv1.3': { alert: 'certificate_required', openssl: /alert certificate required/i },
  'TLSv1.2': { alert: 'handshake_failure', openssl: /alert handshake failure/i },
};

const VERSIONS: TLSVersionName[] = ['TLSv1.3', 'TLSv1.2'];

describe.each(VERSIONS)(`our client → ${peers.openssl3.title} s_server -Verify 1 over %s`, (version) => {
  /** s_server demanding a client certificate that chains to root.crt, and aborting otherwise. */
  async function mtlsServer() {
    return startOpensslServer({ version: version as OpensslVersion, rev: true, extra: ['-Verify', '1', '-CAfile', 'root.crt', '-verify_return_error'] });
  }
  async function connect(peer: Peer, port: number, extra: ClientOptions): Promise<SocketDriver> {
    const conn = Connection.client({ ca: rootCa(), servername: 'localhost', maxVersion: version, minVersion: version, ...extra });
    return SocketDriver.connect(conn, port, '127.0.0.1', { context: () => peer.describe() });
  }

  it('openssl s_server accepts our client certificate with its intermediate and sees its subject', async () => {
    const { peer, port } = await mtlsServer();
    const d = await connect(peer, port, { certificate: certifiedKey('client-ecdsa-p256') });
    await d.waitHandshake();
    expect(d.conn.protocol).toBe(version);
    expect(d.messages.some((m) => m.startsWith('recv certificate_request'))).toBe(true); // _tls12 in TLS 1.2
    expect(d.messages).toContain('send certificate_verify');
    d.write('with a client certificate\n');
    await d.waitText([...'with a client certificate'].reverse().join(''));
    await peer.waitOutput(/CN = tsls test client/);
    // s_server verified the chain leaf → intermediate → root.crt.
    expect(peer.output).toMatch(/depth=2 O = tsls, CN = tsls Test Root CA\nverify return:1/);
    expect(peer.output).toMatch(/depth=0 O = tsls, CN = tsls test client\nverify return:1/);
  });

  it(`openssl s_server refuses our client without a certificate, and our client gets the alert for its version`, async () => {
    const { peer, port } = await mtlsServer();
    const d = await connect(peer, port, {});
    const err = await d.waitError();
    expect(err.remote).toBe(true);
    expect(err.alert).toBe(NO_CERT_ALERT[version].alert);
    expect(err.code).toBe(`ERR_TLS_ALERT_${NO_CERT_ALERT[version].alert.toUpperCase()}`);
    await peer.waitOutput(/peer did not return a certificate/i);
  });

  it('openssl s_server refuses our self-signed client certificate with unknown_ca', async () => {
    const { peer, port } = await mtlsServer();
    const d = await connect(peer, port, { certificate: untrusted.certified });
    const err = await d.waitError();
    expect(err.remote).toBe(true);
    expect(err.alert).toBe('unknown_ca');
    await peer.waitOutput(/self-signed certificate/i);
  });
});

describe.each(VERSIONS)(`${peers.openssl3.title} s_client -cert → our server with requestCert over %s`, (version) => {
  const listener = listenerPerTest();

  const serverOptions = (): ServerOptions => ({ certificates: [certifiedKey('leaf-ecdsa-p256')], requestCert: true, ca: rootCa() });
  const client = (extra: string[]) => startOpensslClient(listener().port, { version: version as OpensslVersion, extra });
  async function accept(peer: Peer): Promise<SocketDriver> {
    const d = await listener().accept(Connection.server(serverOptions()), { context: () => peer.describe() });
    d.conn.on('data', (bytes) => d.write(bytes));
    return d;
  }

  it('our server authorizes openssl s_client presenting client-ecdsa-p256 with its intermediate', async () => {
    const peer = client(['-cert', 'client-ecdsa-p256.crt', '-cert_chain', 'intermediate.crt', '-key', 'client-ecdsa-p256.key']);
    const d = await accept(peer);
    await d.waitHandshake();
    await peer.waitOutput('Verify return code: 0 (ok)');
    expect(d.conn.protocol).toBe(version);
    expect(d.conn.authorized).toBe(true);
    expect(d.conn.authorizationError).toBeUndefined();
    expect(d.conn.peerCertificates).toHaveLength(2);
    expect(d.conn.peerCertificates[0]!.subject.text).toContain('tsls test client');
    expect(d.conn.peerCertificates[1]!.subject.text).toContain('tsls Test Intermediate CA');
    expect(d.messages).toContain('recv certificate_verify');
    peer.send('authenticated client\n');
    await d.waitText('authenticated client\n');
    await peer.waitOutput(/^authenticated client$/m);
  });

  it(`our server refuses openssl s_client without a certificate with ${NO_CERT_ALERT[version].alert}, and s_client shows the alert`, async () => {
    const peer = client([]);
    const d = await accept(peer);
    const err = await d.waitError();
    expect(err.remote).toBe(false);
    expect(err.code).toBe('ERR_TLS_CLIENT_CERTIFICATE_REQUIRED');
    expect(err.alert).toBe(NO_CERT_ALERT[version].alert);
    expect(d.conn.authorized).toBe(false);
    await peer.waitOutput(NO_CERT_ALERT[version].openssl);
  });

  it('our server refuses openssl s_client with an untrusted self-signed certificate with unknown_ca', async () => {
    const peer = client(['-cert', untrusted.cert, '-key', untrusted.key]);
    const d = await accept(peer);
    const err = await d.waitError();
    expect(err.remote).toBe(false);
    expect(err.alert).toBe('unknown_ca');
    expect(d.conn.authorized).toBe(false);
    await peer.waitOutput(/alert unknown ca/i);
  });
});
