/**
 * DTLS 1.3 (RFC 9147) against wolfSSL (test/peers/wolfssl-peer.c on the wolfSSL 5.9.2 fetched
 * from Debian sid, proven against itself in test/interop/peers.test.ts), over real UDP on
 * 127.0.0.1: our client → the wolfSSL echo server with ECDSA and RSA certificates, each TLS 1.3
 * suite, HelloRetryRequest with a cookie, mutual authentication, the server's flight fragmented
 * by a small MTU, KeyUpdate from either side, resumption with a ticket, and the fallback to
 * DTLS 1.2 when the peer speaks only that; the wolfSSL client → our echo server.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DTLSConnectOptions, DTLSServerOptions } from '../../src/node/entry.js';
import { ourDtlsClient, ourDtlsServer } from '../helpers/dtls-endpoints.js';
import { killAllPeers, peers, startWolfsslClient, startWolfsslServer, until, WOLFSSL_KEY_UPDATE, WOLFSSL_RECONNECT, type Peer } from '../helpers/peers.js';
import { readPki } from '../helpers/pki.js';

const wolfssl = peers.wolfssl;
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

  it('our default server (DTLS 1.3 and 1.2) takes a wolfSSL client that speaks only DTLS 1.2', async () => {
    const server = await ourDtlsServer(cleanups);
    const peer = startWolfsslClient(server.port, { proto: 'dtls1.2' });
    await handshake(server, peer, 'HANDSHAKE version=DTLSv1.2 ');
    expect(server.sockets[0]!.getProtocol()).toBe('DTLSv1.2');
  });
});
