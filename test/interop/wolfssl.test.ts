/**
 * Interop with wolfSSL (test/peers/wolfssl-peer.c on the wolfSSL fetched from Debian sid), for
 * what tsls has today, both directions: TLS 1.3 (classic and ML-KEM hybrid groups) and TLS 1.2
 * over TCP, DTLS 1.2 over UDP (and ECDHE_PSK to a wolfSSL server), all on 127.0.0.1. The wolfSSL
 * peer echoes every record back and prints a "HANDSHAKE version=… cipher=… group=…" line once
 * connected.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Connection } from '../../src/connection.js';
import type { GroupName } from '../../src/crypto/provider.js';
import type { DTLSConnectOptions } from '../../src/node/entry.js';
import { ourDtlsClient, ourDtlsServer } from '../helpers/dtls-endpoints.js';
import { fileURLToPath } from 'node:url';
import { killAllPeers, Peer, peers, startServer, startWolfsslClient, startWolfsslServer, until, type WolfsslOptions } from '../helpers/peers.js';
import { certifiedKey, type LeafName } from '../helpers/pki.js';
import { connectTo, destroyAllDrivers, listenerPerTest, type SocketDriver } from '../helpers/socket-driver.js';
import { defaultClientOptions } from '../helpers/pair.js';

const wolfssl = peers.wolfssl;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  destroyAllDrivers();
  await killAllPeers();
});

it(`${wolfssl.title} (test/peers/wolfssl-peer.c) is there`, () => {
  expect(wolfssl.bin).toBeTruthy();
});

/** Our group name and the one wolfSSL prints: the classic groups and the ML-KEM hybrids. */
const GROUPS: [GroupName, string][] = [
  ['x25519', 'X25519'],
  ['secp256r1', 'SECP256R1'],
  ['secp384r1', 'SECP384R1'],
  ['X25519MLKEM768', 'X25519MLKEM768'],
  ['SecP256r1MLKEM768', 'SecP256r1MLKEM768'],
  ['SecP384r1MLKEM1024', 'SecP384r1MLKEM1024'],
];

/** A line sent by our side comes back through the wolfSSL echo server. */
async function echoed(d: SocketDriver, line: string): Promise<void> {
  d.write(`${line}\n`);
  await d.waitText((text) => text.includes(`${line}\n`));
}

// ---- TLS ---------------------------------------------------------------------------------------

describe(`our client → ${wolfssl.title} server`, () => {
  it.each(GROUPS)('TLS 1.3 over %s: handshake, verified, data echoed', async (group, printed) => {
    const { peer, port } = await startWolfsslServer({ proto: 'tls1.3', groups: [group] });
    const d = await connectTo(peer, port, defaultClientOptions({ groups: [group] }));
    await d.waitHandshake();
    expect(d.conn.protocol).toBe('TLSv1.3');
    expect(d.conn.group).toBe(group);
    expect(d.conn.peerCertificates).toHaveLength(2);
    await echoed(d, `tls 1.3 over ${group}`);
    await peer.waitOutput(new RegExp(`HANDSHAKE version=TLSv1\\.3 .*group=${printed}`));
  });

  it.each([
    ['TLS13-AES128-GCM-SHA256', 'TLS_AES_128_GCM_SHA256'],
    ['TLS13-CHACHA20-POLY1305-SHA256', 'TLS_CHACHA20_POLY1305_SHA256'],
  ])('TLS 1.3 with %s', async (wolfName, suite) => {
    const { peer, port } = await startWolfsslServer({ proto: 'tls1.3', ciphers: wolfName });
    const d = await connectTo(peer, port, defaultClientOptions());
    await d.waitHandshake();
    expect(d.conn.cipher?.name).toBe(suite);
    await echoed(d, suite);
  });

  it('TLS 1.3: our client retries after a wolfSSL server that only takes secp384r1 asks for it', async () => {
    const { peer, port } = await startWolfsslServer({ proto: 'tls1.3', groups: ['secp384r1'] });
    const d = await connectTo(peer, port, defaultClientOptions({ groups: ['x25519', 'secp384r1'], keyShareGroups: ['x25519'] }));
    await d.waitHandshake();
    expect(d.conn.helloRetried).toBe(true);
    expect(d.conn.group).toBe('secp384r1');
    await echoed(d, 'after the retry');
  });

  it.each([
    ['ECDHE-ECDSA-AES128-GCM-SHA256', 'leaf-ecdsa-p256'],
    ['ECDHE-RSA-CHACHA20-POLY1305', 'leaf-rsa2048'],
  ] as const)('TLS 1.2 with %s: handshake with the extended master secret, data echoed', async (cipher, leaf) => {
    const { peer, port } = await startWolfsslServer({ proto: 'tls1.2', ciphers: cipher, leaf });
    const d = await connectTo(peer, port, defaultClientOptions());
    await d.waitHandshake();
    expect(d.conn.protocol).toBe('TLSv1.2');
    expect(d.conn.cipher?.name).toBe(cipher);
    await echoed(d, cipher);
  });
});

describe(`${wolfssl.title} client → our server`, () => {
  const listener = listenerPerTest();

  /** Accept the wolfSSL client with our server; everything it receives is echoed back. */
  async function accept(peer: Peer, leaf: LeafName = 'leaf-ecdsa-p256'): Promise<SocketDriver> {
    const d = await listener().accept(Connection.server({ certificates: [certifiedKey(leaf)] }), { context: () => peer.describe() });
    d.conn.on('data', (bytes) => d.write(bytes));
    return d;
  }

  /** A line typed into the wolfSSL client comes back through our echo. */
  async function echoThrough(peer: Peer, line: string): Promise<void> {
    peer.send(`${line}\n`);
    await peer.waitOutput(new RegExp(`^${line}$`, 'm'));
  }

  it.each(GROUPS)('TLS 1.3 over %s: wolfSSL verifies us, data echoed', async (group, printed) => {
    const peer = startWolfsslClient(listener().port, { proto: 'tls1.3', groups: [group] });
    const d = await accept(peer);
    await d.waitHandshake();
    await peer.waitOutput(new RegExp(`HANDSHAKE version=TLSv1\\.3 .*group=${printed}`));
    expect(d.conn.group).toBe(group);
    expect(d.conn.servername).toBe('localhost');
    await echoThrough(peer, `wolfssl over ${group}`);
  });

  it('TLS 1.3: our server sends a HelloRetryRequest when the wolfSSL client shares only a group it does not take', async () => {
    const peer = startWolfsslClient(listener().port, { proto: 'tls1.3', groups: ['x448', 'secp256r1'] });
    const d = await listener().accept(Connection.server({ certificates: [certifiedKey('leaf-ecdsa-p256')], groups: ['secp256r1'] }), { context: () => peer.describe() });
    d.conn.on('data', (bytes) => d.write(bytes));
    await d.waitHandshake();
    await peer.waitOutput(/HANDSHAKE version=TLSv1\.3 .*group=SECP256R1/);
    expect(d.conn.helloRetried).toBe(true);
    await echoThrough(peer, 'retried');
  });

  it('TLS 1.3: our close_notify ends the wolfSSL client', async () => {
    const peer = startWolfsslClient(listener().port, { proto: 'tls1.3' });
    const d = await accept(peer);
    await d.waitHandshake();
    await echoThrough(peer, 'bye');
    d.end();
    await peer.waitOutput('CLOSED');
    expect((await peer.waitExit()).code).toBe(0);
  });

  // This wolfSSL sends neither renegotiation_info nor its SCSV (RFC 5746): our server takes such
  // a legacy client, since it never renegotiates anyway.
  it.each([
    ['ECDHE-ECDSA-AES256-GCM-SHA384', 'leaf-ecdsa-p256'],
    ['ECDHE-RSA-AES128-GCM-SHA256', 'leaf-rsa2048'],
  ] as const)('TLS 1.2 with %s: wolfSSL verifies us, data echoed', async (cipher, leaf) => {
    const peer = startWolfsslClient(listener().port, { proto: 'tls1.2', ciphers: cipher });
    const d = await accept(peer, leaf);
    await d.waitHandshake();
    await peer.waitOutput(`HANDSHAKE version=TLSv1.2 cipher=${cipher}`);
    expect(d.conn.protocol).toBe('TLSv1.2');
    await echoThrough(peer, `tls 1.2 ${cipher}`);
  });
});

// ---- DTLS 1.2 ----------------------------------------------------------------------------------

describe(`our DTLS client → ${wolfssl.title} DTLS 1.2 server`, () => {
  /** Our client, connected to the wolfSSL server on `port` over DTLS 1.2. */
  async function ourClient(peer: Peer, port: number, options: Partial<DTLSConnectOptions>) {
    const client = await ourDtlsClient(cleanups, port, peer, options);
    expect(client.c.getProtocol()).toBe('DTLSv1.2');
    return client;
  }

  it.each([
    ['default MTU', {}],
    ['MTU 500 on both sides', { mtu: 500 }],
  ] as const)('%s: handshake with the cookie exchange, verified, data echoed, close_notify', async (_label, o: WolfsslOptions) => {
    const { peer, port } = await startWolfsslServer({ proto: 'dtls1.2', ...o });
    // A ClientHello offering DTLS 1.3 carries a key share and no longer fits 500 bytes, and
    // wolfSSL takes a first ClientHello only whole: at that MTU our client offers DTLS 1.2 alone.
    const { c, messages } = await ourClient(peer, port, o.mtu ? { mtu: o.mtu, maxVersion: 'DTLSv1.2' } : {});
    expect(c.authorized).toBe(true);
    await peer.waitOutput('HANDSHAKE version=DTLSv1.2');
    c.send('over udp to wolfssl\n');
    await until('the echo', () => messages.includes('over udp to wolfssl\n'), () => peer.describe());
    c.close();
    await peer.waitOutput('CLOSED');
  });

  // This wolfSSL build has no plain-PSK CCM-8 (CoAP's suite): ECDHE_PSK is what both share.
  it('with a pre-shared key, ECDHE_PSK with ChaCha20-Poly1305', async () => {
    const psk = { key: '00112233445566778899aabbccddeeff', identity: 'Client_identity' };
    const { peer, port } = await startWolfsslServer({ proto: 'dtls1.2', leaf: null, psk, ciphers: 'ECDHE-PSK-CHACHA20-POLY1305' });
    const { c, messages } = await ourClient(peer, port, {
      ciphers: 'TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256',
      pskCallback: () => ({ psk: Buffer.from(psk.key, 'hex'), identity: psk.identity }),
      rejectUnauthorized: false,
    });
    expect(c.getCipher()?.standardName).toBe('TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256');
    await peer.waitOutput('HANDSHAKE version=DTLSv1.2 cipher=ECDHE-PSK-CHACHA20-POLY1305');
    c.send('psk over udp\n');
    await until('the echo', () => messages.includes('psk over udp\n'), () => peer.describe());
  });

  it('with only a pre-shared key (no cipher or version options, DTLS 1.3 offered first): falls back to DTLS 1.2 ECDHE_PSK', async () => {
    const psk = { key: '00112233445566778899aabbccddeeff', identity: 'Client_identity' };
    const { peer, port } = await startWolfsslServer({ proto: 'dtls1.2', leaf: null, psk, ciphers: 'ECDHE-PSK-CHACHA20-POLY1305' });
    const { c, messages } = await ourClient(peer, port, { pskCallback: () => ({ psk: Buffer.from(psk.key, 'hex'), identity: psk.identity }), rejectUnauthorized: false });
    expect(c.getProtocol()).toBe('DTLSv1.2');
    expect(c.getCipher()?.standardName).toBe('TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256');
    await peer.waitOutput('HANDSHAKE version=DTLSv1.2 cipher=ECDHE-PSK-CHACHA20-POLY1305');
    c.send('psk fallback over udp\n');
    await until('the echo', () => messages.includes('psk fallback over udp\n'), () => peer.describe());
  });
});

describe(`${wolfssl.title} DTLS 1.2 client → our DTLS server`, () => {
  it.each([
    ['default MTU', {}],
    ['MTU 500 on both sides', { mtu: 500 }],
  ] as const)('%s: the cookie exchange, wolfSSL verifies us, data echoed, close_notify', async (_label, o: WolfsslOptions) => {
    const { server, port, received, clientErrors } = await ourDtlsServer(cleanups, o.mtu ? { mtu: o.mtu } : {});
    const peer = startWolfsslClient(port, { proto: 'dtls1.2', ...o });
    await until('the handshake', () => peer.output.includes('HANDSHAKE version=DTLSv1.2') || peer.exit !== undefined, () => `${peer.describe()}\nour server: ${clientErrors.map((e) => e.message).join('; ')}`);
    expect(peer.output).toContain('HANDSHAKE version=DTLSv1.2');
    peer.send('from wolfssl over udp\n');
    await until('our server to get the line', () => received.includes('from wolfssl over udp\n'), () => peer.describe());
    await peer.waitOutput(/^from wolfssl over udp$/m);
    peer.closeStdin(); // EOF: close_notify, the association ends
    await until('the association to close', () => server.associations.size === 0, () => peer.describe());
  });
});

// ---- DTLS 1.2 connection IDs (RFC 9146) ------------------------------------------------------------

const hex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('hex') : undefined);

describe(`DTLS 1.2 connection IDs (RFC 9146): our client → ${wolfssl.title} server`, () => {
  it.each([
    ['we ask for none, the server for one', '', 'a1b2c3d4'],
    ['both ask for one', '0102', 'a1b2c3d4e5f60708'],
    ['we ask for one, the server for none', '0102', ''],
  ] as const)('%s: tls12_cid records both ways, data echoed', async (_label, ours, theirs) => {
    const { peer, port } = await startWolfsslServer({ proto: 'dtls1.2', cid: theirs });
    const { c, messages } = await ourDtlsClient(cleanups, port, peer, { connectionId: Buffer.from(ours, 'hex') });
    expect(hex(c.connection.connectionIds?.send)).toBe(theirs);
    expect(hex(c.connection.connectionIds?.receive)).toBe(ours);
    await peer.waitOutput('HANDSHAKE version=DTLSv1.2');
    for (const line of ['first with cids\n', 'second with cids\n']) {
      c.send(line);
      await until('the echo', () => messages.includes(line), () => peer.describe());
    }
    expect(c.connection.recordStats.dropped.badMac).toBe(0);
    c.close();
    await peer.waitOutput('CLOSED');
  });

  it('CIDs off: the server asks for one, our client offers none, plain records', async () => {
    const { peer, port } = await startWolfsslServer({ proto: 'dtls1.2', cid: 'a1b2c3d4' });
    const { c, messages } = await ourDtlsClient(cleanups, port, peer);
    expect(c.connection.connectionIds).toBeUndefined();
    c.send('no cids\n');
    await until('the echo', () => messages.includes('no cids\n'), () => peer.describe());
  });
});

describe(`DTLS 1.2 connection IDs (RFC 9146): ${wolfssl.title} client → our server`, () => {
  it.each([
    ['the client asks for none', ''],
    ['the client asks for one', '0a0b0c'],
  ] as const)('%s: our server hands out an 8-byte CID, data echoed', async (_label, theirs) => {
    const { port, received, sockets, clientErrors } = await ourDtlsServer(cleanups, { connectionIds: true });
    const peer = startWolfsslClient(port, { proto: 'dtls1.2', cid: theirs });
    await until('the handshake', () => peer.output.includes('HANDSHAKE version=DTLSv1.2') || peer.exit !== undefined, () => `${peer.describe()}\nour server: ${clientErrors.map((e) => e.message).join('; ')}`);
    const ids = sockets[0]!.connection.connectionIds;
    expect(ids?.receive.length).toBe(8);
    expect(hex(ids?.send)).toBe(theirs);
    // wolfSSL prints the CID it sends: ours.
    expect(peer.output).toContain(`cid=${hex(ids?.receive)}`);
    peer.send('from wolfssl with cids\n');
    await until('our server to get the line', () => received.includes('from wolfssl with cids\n'), () => peer.describe());
    await peer.waitOutput(/^from wolfssl with cids$/m);
  });

  // (wolfSSL 5.9.2 as a client that asked for a CID does not complete with a server that does not
  // answer the extension, ours or openssl's, so "off" is tested from the other side.)
  it('CIDs off: wolfSSL offers none, our CID server answers none, plain records', async () => {
    const { received, sockets, port } = await ourDtlsServer(cleanups, { connectionIds: true });
    const peer = startWolfsslClient(port, { proto: 'dtls1.2' });
    await peer.waitOutput('HANDSHAKE version=DTLSv1.2');
    peer.send('no cids from wolfssl\n');
    await until('our server to get the line', () => received.includes('no cids from wolfssl\n'), () => peer.describe());
    await peer.waitOutput(/^no cids from wolfssl$/m);
    expect(sockets[0]!.connection.connectionIds).toBeUndefined();
  });
});

describe.each([
  ['dtls1.2', 'DTLSv1.2'],
  ['dtls1.3', 'DTLSv1.3'],
] as const)(`tsls --dtls --cid against ${wolfssl.title} over %s`, (proto, version) => {
  const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

  it('tsls client --dtls --cid uses the CID of a wolfSSL server and says so', async () => {
    const { peer, port } = await startWolfsslServer({ proto, cid: 'c0ffee01' });
    const client = new Peer('node', [CLI, 'client', '--dtls', '--cid', `127.0.0.1:${port}`, '--ca', 'root.crt', '--servername', 'localhost']);
    await client.waitOutput("connection IDs: ours none, the peer's c0ffee01");
    expect(client.stderr).toContain(`over UDP: ${version}, `);
    client.send('cid line\n');
    await until('the echo at tsls', () => client.stdout.includes('cid line\n'), () => `${client.describe()}\n${peer.describe()}`);
    client.closeStdin();
    expect((await client.waitExit()).code, client.describe()).toBe(0);
  });

  it('a wolfSSL client gets a CID from tsls server --dtls --cid, named on the association line', async () => {
    const { peer: server, port } = await startServer(
      'node',
      (p) => [CLI, 'server', '--dtls', '--cid', '--port', String(p), '--host', '127.0.0.1', '--cert', 'leaf-ecdsa-p256.chain.pem', '--key', 'leaf-ecdsa-p256.key'],
      /dtls echo server listening on 127\.0\.0\.1:\d+/,
      { udp: true },
    );
    const peer = startWolfsslClient(port, { proto, cid: '' });
    const line = await server.waitOutput(/connection IDs: ours [0-9a-f]{16}, the peer's none/);
    const ours = /connection IDs: ours ([0-9a-f]{16})/.exec(line)![1]!;
    expect(line).toContain(`: ${version}, `);
    await peer.waitOutput(`cid=${ours}`);
    peer.send('via cid\n');
    await peer.waitOutput(/^via cid$/m);
  });
});
