/**
 * Interop with GnuTLS: our client against `gnutls-serv --echo`, and `gnutls-cli` against
 * our server, TLS 1.3 only, over real TCP sockets on 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { GroupName } from '../../src/crypto/provider.js';
import { Connection } from '../../src/connection.js';
import type { ServerOptions } from '../../src/config.js';
import { GNUTLS_TLS13, killAllPeers, peers, startGnutlsClient, startGnutlsServer, type Peer } from '../helpers/peers.js';
import { certifiedKey, rootCa, type LeafName } from '../helpers/pki.js';
import { destroyAllDrivers, listenerPerTest, SocketDriver } from '../helpers/socket-driver.js';

/** A suite, a group, and GnuTLS's names for them (priority string keywords and its Description line). */
const CASES: { suite: string; group: GroupName; cipher: string; ggroup: string }[] = [
  { suite: 'TLS_AES_128_GCM_SHA256', group: 'x25519', cipher: 'AES-128-GCM', ggroup: 'X25519' },
  { suite: 'TLS_AES_256_GCM_SHA384', group: 'secp384r1', cipher: 'AES-256-GCM', ggroup: 'SECP384R1' },
  { suite: 'TLS_CHACHA20_POLY1305_SHA256', group: 'secp256r1', cipher: 'CHACHA20-POLY1305', ggroup: 'SECP256R1' },
];
const CASE_ROWS = CASES.map((c) => [c.suite, c.group, c] as const);
const priority = (cipher: string, group: string) => `${GNUTLS_TLS13}:-CIPHER-ALL:+${cipher}:-GROUP-ALL:+GROUP-${group}`;

const KEY_TYPES: [string, { leaf: LeafName; scheme: string }][] = [
  ['ECDSA P-384', { leaf: 'leaf-ecdsa-p384', scheme: 'ecdsa_secp384r1_sha384' }],
  ['Ed25519', { leaf: 'leaf-ed25519', scheme: 'ed25519' }],
  ['RSA-2048', { leaf: 'leaf-rsa2048', scheme: 'rsa_pss_rsae_sha256' }],
];

// No skipping when a peer is missing: this fails (and so does every test below, on its own).
it(`${peers.gnutls.title} (gnutls-cli and gnutls-serv) is there`, () => {
  expect(peers.gnutls.cli).toBeTruthy();
  expect(peers.gnutls.serv).toBeTruthy();
});

afterEach(async () => {
  destroyAllDrivers();
  await killAllPeers();
});

describe(`our client → ${peers.gnutls.title} gnutls-serv (TLS 1.3)`, () => {
  async function connect(peer: Peer, port: number, extra: Parameters<typeof Connection.client>[0] = {}): Promise<SocketDriver> {
    const conn = Connection.client({ ca: rootCa(), servername: 'localhost', ...extra });
    return SocketDriver.connect(conn, port, '127.0.0.1', { context: () => peer.describe() });
  }

  it.each(CASE_ROWS)('our client completes %s with %s against gnutls-serv and gets its data echoed', async (suite, group, { cipher, ggroup }) => {
    const { peer, port } = await startGnutlsServer({ priority: priority(cipher, ggroup) });
    const d = await connect(peer, port, { cipherSuites: [suite], groups: [group] });
    await d.waitHandshake();
    expect(d.conn.protocol).toBe('TLSv1.3');
    expect(d.conn.cipher?.name).toBe(suite);
    expect(d.conn.group).toBe(group);
    d.write(`echo ${suite}\n`);
    await d.waitText(`echo ${suite}\n`);
    await peer.waitOutput(`(TLS1.3-X.509)-(ECDHE-${ggroup})`);
  });

  it.each(KEY_TYPES)('our client verifies gnutls-serv with an %s certificate against root.crt', async (_label, { leaf, scheme }) => {
    const { peer, port } = await startGnutlsServer({ leaf });
    const d = await connect(peer, port);
    await d.waitHandshake();
    expect(d.conn.signatureScheme).toBe(scheme);
    d.write('verified\n');
    await d.waitText('verified\n');
  });

  it('our client retries when gnutls-serv wants secp256r1 instead of its x25519 share', async () => {
    const { peer, port } = await startGnutlsServer({ priority: `${GNUTLS_TLS13}:-GROUP-ALL:+GROUP-SECP256R1` });
    const d = await connect(peer, port, { groups: ['x25519', 'secp256r1'], keyShareGroups: ['x25519'] });
    await d.waitHandshake();
    expect(d.conn.helloRetried).toBe(true);
    expect(d.conn.group).toBe('secp256r1');
    d.write('after a retry\n');
    await d.waitText('after a retry\n');
  });

  it('our client and gnutls-serv exchange close_notify', async () => {
    const { peer, port } = await startGnutlsServer();
    const d = await connect(peer, port);
    await d.waitHandshake();
    d.write('bye\n');
    await d.waitText('bye\n');
    d.end();
    await d.waitPeerEnd();
    expect(d.conn.state).toBe('CLOSED');
    expect(d.error).toBeUndefined();
  });
});

describe(`${peers.gnutls.title} gnutls-cli → our server (TLS 1.3)`, () => {
  const listener = listenerPerTest();

  async function accept(peer: Peer, extra: Partial<ServerOptions> = {}): Promise<SocketDriver> {
    const conn = Connection.server({ certificates: [certifiedKey('leaf-ecdsa-p256')], ...extra });
    const d = await listener().accept(conn, { context: () => peer.describe() });
    d.conn.on('data', (bytes) => d.write(bytes)); // echo
    return d;
  }

  async function established(peer: Peer, d: SocketDriver): Promise<void> {
    await d.waitHandshake();
    await peer.waitOutput('- Handshake was completed');
    expect(peer.output).toContain('- Status: The certificate is trusted.');
  }

  it.each(CASE_ROWS)('gnutls-cli completes %s with %s against our server and gets its data echoed', async (suite, group, { cipher, ggroup }) => {
    const peer = startGnutlsClient(listener().port, { priority: priority(cipher, ggroup) });
    const d = await accept(peer);
    await established(peer, d);
    expect(d.conn.protocol).toBe('TLSv1.3');
    expect(d.conn.cipher?.name).toBe(suite);
    expect(d.conn.group).toBe(group);
    expect(d.conn.servername).toBe('localhost');
    expect(peer.output).toContain(`- Description: (TLS1.3-X.509)-(ECDHE-${ggroup})-(ECDSA-SECP256R1-SHA256)-(${cipher})`);
    peer.send(`echo ${suite}\n`);
    await d.waitText(`echo ${suite}\n`);
    await peer.waitOutput(`echo ${suite}`);
  });

  it.each(KEY_TYPES)('gnutls-cli verifies our server with an %s certificate against root.crt', async (_label, { leaf, scheme }) => {
    const peer = startGnutlsClient(listener().port);
    const d = await accept(peer, { certificates: [certifiedKey(leaf)] });
    await established(peer, d);
    expect(d.conn.signatureScheme).toBe(scheme);
    peer.send('verified\n');
    await peer.waitOutput(/^verified$/m);
  });

  it('our server sends gnutls-cli a HelloRetryRequest for secp384r1', async () => {
    const peer = startGnutlsClient(listener().port);
    const d = await accept(peer, { groups: ['secp384r1'] });
    await established(peer, d);
    expect(d.conn.helloRetried).toBe(true);
    expect(d.conn.group).toBe('secp384r1');
    expect(peer.output).toContain('(ECDHE-SECP384R1)');
  });

  it('gnutls-cli sends close_notify when its input ends, and gets ours', async () => {
    const peer = startGnutlsClient(listener().port);
    const d = await accept(peer);
    await established(peer, d);
    peer.send('last words\n');
    await peer.waitOutput(/^last words$/m);
    peer.closeStdin();
    await d.waitPeerEnd();
    d.end();
    expect(d.conn.state).toBe('CLOSED');
    expect(d.error).toBeUndefined();
    expect((await peer.waitExit()).code).toBe(0);
  });
});
