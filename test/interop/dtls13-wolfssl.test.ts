/**
 * DTLS 1.3 (RFC 9147) against wolfSSL (test/peers/wolfssl-peer.c on the wolfSSL 5.9.2 fetched
 * from Debian sid, proven against itself in test/interop/peers.test.ts), over real UDP on
 * 127.0.0.1, both directions: our client → the wolfSSL echo server, the wolfSSL client → our
 * echo server. ECDHE with ECDSA and RSA certificates, each TLS 1.3 suite, HelloRetryRequest
 * with a cookie (our server's is stateless), mutual authentication, flights fragmented by a
 * small MTU, connection IDs on and off (and a wolfSSL client that a NAT moves to a new port),
 * KeyUpdate from either side, resumption with a ticket (also through tsls client --session),
 * and the fallback to DTLS 1.2 when the peer speaks only that.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { DTLSConnectOptions, DTLSServerOptions } from '../../src/node/entry.js';
import { ourDtlsClient, ourDtlsServer } from '../helpers/dtls-endpoints.js';
import { killAllPeers, Peer, peers, startWolfsslClient, startWolfsslServer, until, WOLFSSL_KEY_UPDATE, WOLFSSL_RECONNECT } from '../helpers/peers.js';
import { readPki } from '../helpers/pki.js';
import { udpNat } from '../helpers/udp-nat.js';

const wolfssl = peers.wolfssl;
const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await killAllPeers();
});

const ROOT = readPki('root.crt');
const RSA = { cert: readPki('leaf-rsa2048.chain.pem'), key: readPki('leaf-rsa2048.key') };
const CLIENT = { cert: readPki('client-ecdsa-p256.chain.pem'), key: readPki('client-ecdsa-p256.key') };
const DTLS13 = { minVersion: 'DTLSv1.3', maxVersion: 'DTLSv1.3' } as const;
const hex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('hex') : undefined);

/** Our suite names and wolfSSL's. */
const SUITES = [
  ['TLS_AES_128_GCM_SHA256', 'TLS13-AES128-GCM-SHA256'],
  ['TLS_AES_256_GCM_SHA384', 'TLS13-AES256-GCM-SHA384'],
  ['TLS_CHACHA20_POLY1305_SHA256', 'TLS13-CHACHA20-POLY1305-SHA256'],
] as const;

// ---- our client → the wolfSSL server ---------------------------------------------------------

describe(`our DTLS 1.3 client → ${wolfssl.title} server`, () => {
  /** Our client on `port`; the line comes back through the wolfSSL echo server. */
  async function connect(peer: Peer, port: number, options: Partial<DTLSConnectOptions> = {}) {
    const client = await ourDtlsClient(cleanups, port, peer, { ...DTLS13, ...options });
    expect(client.c.getProtocol()).toBe('DTLSv1.3');
    return client;
  }
  async function echoed(client: Awaited<ReturnType<typeof connect>>, peer: Peer, line: string): Promise<void> {
    client.c.send(line);
    await until(`the echo of ${JSON.stringify(line)}`, () => client.messages.includes(line), () => peer.describe());
  }

  it.each(SUITES)('%s with an ECDSA certificate: verified, data echoed, close_notify ends wolfSSL', async (ours, theirs) => {
    const { peer, port } = await startWolfsslServer({ proto: 'dtls1.3', ciphers: theirs });
    const client = await connect(peer, port, { ciphersuites: ours });
    expect(client.c.authorized).toBe(true);
    expect(client.c.getCipher()?.standardName).toBe(ours);
    await peer.waitOutput(`HANDSHAKE version=DTLSv1.3 cipher=${theirs}`);
    await echoed(client, peer, `${ours}\n`);
    client.c.close();
    await peer.waitOutput('CLOSED');
  });

  it('an RSA certificate (RSA-PSS signature) is verified', async () => {
    const { peer, port } = await startWolfsslServer({ proto: 'dtls1.3', leaf: 'leaf-rsa2048' });
    const client = await connect(peer, port);
    expect(client.c.authorized).toBe(true);
    expect(client.c.getPeerCertificate().subject?.CN).toBe('tsls test leaf-rsa2048');
    await echoed(client, peer, 'over rsa\n');
  });

  it('HelloRetryRequest with a cookie: wolfSSL asks for secp384r1, our client shared x25519; the cookie comes back', async () => {
    const { peer, port } = await startWolfsslServer({ proto: 'dtls1.3', groups: ['secp384r1'], hrrCookie: true });
    const client = await connect(peer, port, { ecdhCurve: 'X25519:P-384' });
    expect(client.c.connection.helloRetried).toBe(true);
    expect(client.c.connection.group).toBe('secp384r1');
    await peer.waitOutput(/HANDSHAKE version=DTLSv1\.3 .*group=SECP384R1/);
    await echoed(client, peer, 'after the retry\n');
  });

  it('the stateless cookie alone: a HelloRetryRequest for a group our client already shared', async () => {
    const { peer, port } = await startWolfsslServer({ proto: 'dtls1.3', groups: ['x25519'], hrrCookie: true });
    const client = await connect(peer, port, { ecdhCurve: 'X25519' });
    expect(client.c.connection.helloRetried).toBe(true);
    await echoed(client, peer, 'cookie only\n');
  });

  it('mutual authentication: wolfSSL requires our client certificate and names it', async () => {
    const { peer, port } = await startWolfsslServer({ proto: 'dtls1.3', verifyClient: true });
    const client = await connect(peer, port, CLIENT);
    await peer.waitOutput(/HANDSHAKE version=DTLSv1\.3 .*peer=.*tsls test client/);
    await echoed(client, peer, 'mtls\n');
  });

  // wolfSSL judges a first ClientHello from one datagram (statelessly) and drops one in
  // fragments, so here only the server's flight is cut small; our own fragmented flights
  // reach wolfSSL in the other direction.
  it('a wolfSSL server at MTU 256 (x25519, RSA chain) fragments its flight; our client reassembles it', async () => {
    const { peer, port } = await startWolfsslServer({ proto: 'dtls1.3', mtu: 256, groups: ['x25519'], leaf: 'leaf-rsa2048' });
    const client = await connect(peer, port, { ecdhCurve: 'X25519' });
    expect(client.stats.largest).toBeLessThanOrEqual(256);
    expect(client.stats.datagrams).toBeGreaterThan(8); // a ~2.5 KB chain in pieces of at most 256 bytes
    await echoed(client, peer, 'small mtu\n');
  });

  describe('connection IDs (RFC 9147 9)', () => {
    it.each([
      ['both ask for one', '0102', 'a1b2c3d4e5f60708'],
      ['we ask for none, the server for one', '', 'a1b2c3d4'],
      ['we ask for one, the server for none', '0102', ''],
    ] as const)('%s: records carry them both ways, data echoed', async (_label, ours, theirs) => {
      const { peer, port } = await startWolfsslServer({ proto: 'dtls1.3', cid: theirs });
      const client = await connect(peer, port, { connectionId: Buffer.from(ours, 'hex') });
      expect(hex(client.c.connection.connectionIds?.send)).toBe(theirs);
      expect(hex(client.c.connection.connectionIds?.receive)).toBe(ours);
      // wolfSSL prints the CID it sends: ours, empty when we asked for an empty one.
      await peer.waitOutput(new RegExp(`cid=${ours}( |$)`, 'm'));
      for (const line of ['first with cids\n', 'second with cids\n']) await echoed(client, peer, line);
      expect(client.c.connection.recordStats.dropped.badMac).toBe(0);
    });

    it('off: the server asks for one, our client offers none, records without', async () => {
      const { peer, port } = await startWolfsslServer({ proto: 'dtls1.3', cid: 'a1b2c3d4' });
      const client = await connect(peer, port);
      expect(client.c.connection.connectionIds).toBeUndefined();
      await echoed(client, peer, 'no cids\n');
    });
  });

  it('KeyUpdate: wolfSSL updates its keys before every echo, our client updates its own; all data gets through', async () => {
    const { peer, port } = await startWolfsslServer({ proto: 'dtls1.3', keyUpdate: true });
    const client = await connect(peer, port);
    for (const line of ['one\n', 'two\n', 'three\n']) await echoed(client, peer, line);
    expect(peer.output.match(/KEYUPDATE sent/g)).toHaveLength(3);
    client.c.keyUpdate();
    await echoed(client, peer, 'after ours\n');
    client.c.keyUpdate();
    await echoed(client, peer, 'after ours again\n');
    expect(client.c.connection.recordStats.dropped.badMac).toBe(0);
  });

  it('resumption: the ticket from the first association resumes the second (no certificate the second time)', async () => {
    const { peer, port } = await startWolfsslServer({ proto: 'dtls1.3', naccept: 2 });
    const first = await connect(peer, port);
    await echoed(first, peer, 'first\n');
    await until('a ticket', () => first.c.getSession() !== undefined, () => peer.describe());
    const session = first.c.getSession()!;
    first.c.close();
    await peer.waitOutput('CLOSED');
    const second = await connect(peer, port, { session });
    expect(second.c.isSessionReused()).toBe(true);
    await peer.waitOutput(/HANDSHAKE version=DTLSv1\.3 [^\n]*resumed=1/);
    await echoed(second, peer, 'second\n');
  });

  it('tsls client --dtls --session FILE keeps the ticket and resumes with it the next run', async () => {
    const { peer, port } = await startWolfsslServer({ proto: 'dtls1.3', naccept: 2 });
    const file = join(mkdtempSync(join(tmpdir(), 'tsls-dtls13-')), 'session');
    cleanups.push(() => rmSync(dirname(file), { recursive: true, force: true }));
    for (const run of ['first', 'second'] as const) {
      const client = new Peer('node', [CLI, 'client', '--dtls', `127.0.0.1:${port}`, '--ca', 'root.crt', '--servername', 'localhost', '--session', file]);
      await client.waitOutput('tsls: connected to');
      client.send(`${run} run\n`);
      await until('the echo at tsls', () => client.stdout.includes(`${run} run\n`), () => `${client.describe()}\n${peer.describe()}`);
      if (run === 'first') await client.waitOutput(`session ticket received`);
      client.closeStdin();
      expect((await client.waitExit()).code, client.describe()).toBe(0);
      expect(client.stderr).toMatch(run === 'first' ? /over UDP: DTLSv1\.3, [^\n]*(?<!resumed)\n/ : /over UDP: DTLSv1\.3, [^\n]*, resumed\n/);
    }
    await peer.waitOutput(/resumed=0[\s\S]*resumed=1/);
  });

  it('a server that sends no ticket gives our client no session to resume', async () => {
    const { peer, port } = await startWolfsslServer({ proto: 'dtls1.3', noTicket: true });
    const client = await connect(peer, port);
    await echoed(client, peer, 'no ticket\n');
    expect(client.c.getSession()).toBeUndefined();
  });

  it('our default client (DTLS 1.3 and 1.2) falls back to DTLS 1.2 with a wolfSSL server that speaks only that', async () => {
    const { peer, port } = await startWolfsslServer({ proto: 'dtls1.2' });
    const client = await ourDtlsClient(cleanups, port, peer);
    expect(client.c.getProtocol()).toBe('DTLSv1.2');
    await peer.waitOutput('HANDSHAKE version=DTLSv1.2');
  });

  it('our default client speaks DTLS 1.3 to a version-flexible wolfSSL server', async () => {
    const { peer, port } = await startWolfsslServer({ proto: 'dtls' });
    const client = await ourDtlsClient(cleanups, port, peer);
    expect(client.c.getProtocol()).toBe('DTLSv1.3');
    await peer.waitOutput('HANDSHAKE version=DTLSv1.3');
  });
});

// ---- the wolfSSL client → our server -----------------------------------------------------------

describe(`${wolfssl.title} DTLS 1.3 client → our DTLS server`, () => {
  /** Our echo server; fails with our side's errors when the wolfSSL client does not print its handshake. */
  async function serve(options: Partial<DTLSServerOptions> = {}) {
    return ourDtlsServer(cleanups, { ...DTLS13, ...options });
  }
  async function handshake(server: Awaited<ReturnType<typeof serve>>, peer: Peer, printed: string | RegExp = 'HANDSHAKE version=DTLSv1.3 '): Promise<void> {
    const seen = () => (typeof printed === 'string' ? peer.output.includes(printed) : printed.test(peer.output));
    await until('the wolfSSL handshake', () => seen() || peer.exit !== undefined, () => `${peer.describe()}\nour server: ${server.clientErrors.map((e) => e.message).join('; ')}`);
    expect(seen(), peer.describe()).toBe(true);
  }
  /** A line typed into the wolfSSL client reaches our server and comes back. */
  async function echoThrough(server: Awaited<ReturnType<typeof serve>>, peer: Peer, line: string): Promise<void> {
    peer.send(`${line}\n`);
    await until(`our server to get ${JSON.stringify(line)}`, () => server.received.includes(`${line}\n`), () => peer.describe());
    await peer.waitOutput(new RegExp(`^${line}$`, 'm'));
  }

  it.each(SUITES)('%s, ECDSA: wolfSSL verifies us, data echoed, its close_notify ends the association', async (ours, theirs) => {
    const server = await serve();
    const peer = startWolfsslClient(server.port, { proto: 'dtls1.3', ciphers: theirs });
    await handshake(server, peer, `HANDSHAKE version=DTLSv1.3 cipher=${theirs}`);
    expect(server.sockets[0]!.getCipher()?.standardName).toBe(ours);
    await echoThrough(server, peer, `wolfssl ${ours}`);
    peer.closeStdin();
    await until('the association to close', () => server.server.associations.size === 0, () => peer.describe());
  });

  it('an RSA certificate: wolfSSL verifies our RSA-PSS signature', async () => {
    const server = await serve(RSA);
    const peer = startWolfsslClient(server.port, { proto: 'dtls1.3' });
    await handshake(server, peer, /HANDSHAKE version=DTLSv1\.3 .*peer=.*leaf-rsa2048/);
    await echoThrough(server, peer, 'rsa from wolfssl');
  });

  it('HelloRetryRequest with a cookie: our server takes only secp256r1, wolfSSL shared x25519 first', async () => {
    const server = await serve({ ecdhCurve: 'P-256' });
    const peer = startWolfsslClient(server.port, { proto: 'dtls1.3', groups: ['x25519', 'secp256r1'] });
    await handshake(server, peer, /HANDSHAKE version=DTLSv1\.3 .*group=SECP256R1/);
    expect(server.sockets[0]!.connection.helloRetried).toBe(true);
    await echoThrough(server, peer, 'retried');
  });

  it('mutual authentication: our server requires the wolfSSL client certificate and verifies it', async () => {
    const server = await serve({ requestCert: true, rejectUnauthorized: true, ca: ROOT });
    const peer = startWolfsslClient(server.port, { proto: 'dtls1.3', clientLeaf: 'client-ecdsa-p256' });
    await handshake(server, peer);
    expect(server.sockets[0]!.authorized).toBe(true);
    expect(server.sockets[0]!.getPeerCertificate().subject?.CN).toBe('tsls test client');
    await echoThrough(server, peer, 'mutual');
  });

  it('a control: without its certificate the wolfSSL client is refused by our server that requires one', async () => {
    const server = await serve({ requestCert: true, rejectUnauthorized: true, ca: ROOT });
    const peer = startWolfsslClient(server.port, { proto: 'dtls1.3' });
    await until('our server to refuse', () => server.clientErrors.length > 0, () => peer.describe());
    expect(server.sockets.filter((s) => s.established)).toEqual([]);
  });

  // wolfSSL's client sends its ClientHello whole, so only our server's MTU is small here.
  it('our server at MTU 256 fragments its flight (RSA chain) and wolfSSL reassembles it', async () => {
    const server = await serve({ ...RSA, mtu: 256, ecdhCurve: 'X25519' });
    const peer = startWolfsslClient(server.port, { proto: 'dtls1.3', groups: ['x25519'] });
    await handshake(server, peer);
    await echoThrough(server, peer, 'through small datagrams');
  });

  describe('connection IDs (RFC 9147 9)', () => {
    it.each([
      ['the client asks for none', ''],
      ['the client asks for one', '0a0b0c'],
    ] as const)('%s: our server hands out an 8-byte CID, data echoed', async (_label, theirs) => {
      const server = await serve({ connectionIds: true });
      const peer = startWolfsslClient(server.port, { proto: 'dtls1.3', cid: theirs });
      await handshake(server, peer);
      const ids = server.sockets[0]!.connection.connectionIds;
      expect(ids?.receive.length).toBe(8);
      expect(hex(ids?.send)).toBe(theirs);
      expect(peer.output).toContain(`cid=${hex(ids?.receive)}`);
      await echoThrough(server, peer, 'with cids from wolfssl');
    });

    it('the wolfSSL client behind a NAT that rebinds keeps its association: our server follows it by CID', async () => {
      const server = await serve({ connectionIds: true });
      const nat = await udpNat(cleanups, server.port);
      const peer = startWolfsslClient(nat.port, { proto: 'dtls1.3', cid: '' });
      await handshake(server, peer);
      await echoThrough(server, peer, 'before the rebinding');
      expect(server.sockets[0]!.remotePort).toBe(nat.outsidePorts[0]);
      await nat.rebind();
      await echoThrough(server, peer, 'from the new port');
      expect(server.sockets).toHaveLength(1);
      expect(server.sockets[0]!.remotePort).toBe(nat.outsidePorts[1]);
      expect([...server.server.associations.keys()]).toEqual([`127.0.0.1:${nat.outsidePorts[1]}`]);
    });

    it('off: wolfSSL offers none, our CID server answers none, records without', async () => {
      const server = await serve({ connectionIds: true });
      const peer = startWolfsslClient(server.port, { proto: 'dtls1.3' });
      await handshake(server, peer);
      await echoThrough(server, peer, 'no cids from wolfssl');
      expect(server.sockets[0]!.connection.connectionIds).toBeUndefined();
    });
  });

  it('KeyUpdate: the wolfSSL client updates its keys, then our server its own; the data keeps flowing', async () => {
    const server = await serve();
    const peer = startWolfsslClient(server.port, { proto: 'dtls1.3' });
    await handshake(server, peer);
    peer.send(WOLFSSL_KEY_UPDATE);
    await peer.waitOutput('KEYUPDATE sent');
    await echoThrough(server, peer, 'after its update');
    server.sockets[0]!.keyUpdate();
    await echoThrough(server, peer, 'after ours');
    expect(server.sockets[0]!.connection.recordStats.dropped.badMac).toBe(0);
  });

  it('resumption: the wolfSSL client reconnects from a new port with our ticket and resumes', async () => {
    const server = await serve();
    const peer = startWolfsslClient(server.port, { proto: 'dtls1.3' });
    await handshake(server, peer, 'resumed=0');
    await echoThrough(server, peer, 'first'); // the ticket came before this echo
    peer.send(WOLFSSL_RECONNECT);
    await peer.waitOutput(/resumed=0[\s\S]*HANDSHAKE version=DTLSv1\.3 [^\n]*resumed=1/);
    await until('the second association', () => server.sockets.length === 2 && server.sockets[1]!.established, () => peer.describe());
    expect(server.sockets[1]!.isSessionReused()).toBe(true);
    expect(server.sockets[1]!.remotePort).not.toBe(server.sockets[0]!.remotePort);
    await echoThrough(server, peer, 'second');
  });

  it('our default server (DTLS 1.3 and 1.2) takes a wolfSSL client that speaks only DTLS 1.2', async () => {
    const server = await ourDtlsServer(cleanups);
    const peer = startWolfsslClient(server.port, { proto: 'dtls1.2' });
    await handshake(server, peer, 'HANDSHAKE version=DTLSv1.2 ');
    expect(server.sockets[0]!.getProtocol()).toBe('DTLSv1.2');
  });

  it('our default server speaks DTLS 1.3 with a version-flexible wolfSSL client', async () => {
    const server = await ourDtlsServer(cleanups);
    const peer = startWolfsslClient(server.port, { proto: 'dtls' });
    await handshake(server, peer);
    expect(server.sockets[0]!.getProtocol()).toBe('DTLSv1.3');
  });
});
