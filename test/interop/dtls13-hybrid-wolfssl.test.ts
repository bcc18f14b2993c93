/**
 * Hybrid post-quantum groups over DTLS 1.3 against wolfSSL (test/peers/wolfssl-peer.c, built
 * with ML-KEM and fragmented-ClientHello support), over real UDP on 127.0.0.1, both
 * directions. Our client's first ClientHello carries an X25519 share and lists the hybrids
 * first; a wolfSSL server that takes only a hybrid asks for it in its cookie
 * HelloRetryRequest and our second ClientHello brings the share in fragments. The wolfSSL
 * client with a hybrid share, and with an X25519 share and the hybrid listed, ends up on the
 * hybrid with our server.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { GroupName } from '../../src/crypto/provider.js';
import type { DTLSConnectOptions, DTLSServerOptions } from '../../src/node/entry.js';
import { ourDtlsClient, ourDtlsServer } from '../helpers/dtls-endpoints.js';
import { killAllPeers, type Peer, peers, startWolfsslClient, startWolfsslServer, until } from '../helpers/peers.js';

const wolfssl = peers.wolfssl;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await killAllPeers();
});

const DTLS13 = { minVersion: 'DTLSv1.3', maxVersion: 'DTLSv1.3' } as const;
/** The hybrids, by our name, which wolfSSL prints the same way. */
const HYBRIDS: GroupName[] = ['X25519MLKEM768', 'SecP256r1MLKEM768', 'SecP384r1MLKEM1024'];

describe(`our DTLS 1.3 client → ${wolfssl.title} server, hybrid groups`, () => {
  async function connect(peer: Peer, port: number, options: Partial<DTLSConnectOptions> = {}) {
    const client = await ourDtlsClient(cleanups, port, peer, { ...DTLS13, ...options });
    expect(client.c.getProtocol()).toBe('DTLSv1.3');
    return client;
  }

  it.each(HYBRIDS)('a wolfSSL server taking only %s asks for it in its cookie HelloRetryRequest; our default client follows, data echoed', async (group) => {
    const { peer, port } = await startWolfsslServer({ proto: 'dtls1.3', groups: [group], hrrCookie: true });
    const client = await connect(peer, port);
    expect(client.c.connection.helloRetried).toBe(true);
    expect(client.c.connection.group).toBe(group);
    expect(client.c.getEphemeralKeyInfo()).toEqual({ type: 'TLSGroup', name: group });
    await peer.waitOutput(new RegExp(`HANDSHAKE version=DTLSv1\\.3 .*group=${group}\\b`));
    client.c.send('hybrid over datagrams\n');
    await until('the echo', () => client.messages.includes('hybrid over datagrams\n'), () => peer.describe());
  });

  it('at MTU 500 our second ClientHello (X25519MLKEM768 share) crosses in fragments and wolfSSL puts it together', async () => {
    const { peer, port } = await startWolfsslServer({ proto: 'dtls1.3', groups: ['X25519MLKEM768'], hrrCookie: true });
    const client = await connect(peer, port, { mtu: 500 });
    expect(client.c.connection.group).toBe('X25519MLKEM768');
    await peer.waitOutput(/HANDSHAKE version=DTLSv1\.3 .*group=X25519MLKEM768\b/);
    client.c.send('small datagrams\n');
    await until('the echo', () => client.messages.includes('small datagrams\n'), () => peer.describe());
  });

  it('a control: a wolfSSL server with X25519 only takes our X25519 share without a HelloRetryRequest', async () => {
    const { peer, port } = await startWolfsslServer({ proto: 'dtls1.3', groups: ['x25519'], hrrCookie: false });
    const client = await connect(peer, port);
    expect(client.c.connection.helloRetried).toBe(false);
    expect(client.c.getEphemeralKeyInfo()).toEqual({ type: 'ECDH', name: 'X25519', size: 253 });
    await peer.waitOutput(/HANDSHAKE version=DTLSv1\.3 .*group=X25519\b/);
  });
});

describe(`${wolfssl.title} DTLS 1.3 client → our DTLS server, hybrid groups`, () => {
  async function serve(options: Partial<DTLSServerOptions> = {}) {
    return ourDtlsServer(cleanups, { ...DTLS13, ...options });
  }
  async function handshake(server: Awaited<ReturnType<typeof serve>>, peer: Peer, printed: RegExp): Promise<void> {
    await until('the wolfSSL handshake', () => printed.test(peer.output) || peer.exit !== undefined, () => `${peer.describe()}\nour server: ${server.clientErrors.map((e) => e.message).join('; ')}`);
    expect(printed.test(peer.output), peer.describe()).toBe(true);
  }
  async function echoThrough(server: Awaited<ReturnType<typeof serve>>, peer: Peer, line: string): Promise<void> {
    peer.send(`${line}\n`);
    await until(`our server to get ${JSON.stringify(line)}`, () => server.received.includes(`${line}\n`), () => peer.describe());
    await peer.waitOutput(new RegExp(`^${line}$`, 'm'));
  }

  it.each(HYBRIDS)('the wolfSSL client sending a %s share gets it from our default server', async (group) => {
    const server = await serve();
    const peer = startWolfsslClient(server.port, { proto: 'dtls1.3', groups: [group] });
    await handshake(server, peer, new RegExp(`HANDSHAKE version=DTLSv1\\.3 .*group=${group}\\b`));
    expect(server.sockets[0]!.connection.group).toBe(group);
    await echoThrough(server, peer, `wolfssl ${group}`);
  });

  it('the wolfSSL client with an X25519 share and X25519MLKEM768 listed is asked for the hybrid by our cookie HelloRetryRequest', async () => {
    const server = await serve();
    const peer = startWolfsslClient(server.port, { proto: 'dtls1.3', groups: ['x25519', 'X25519MLKEM768'] });
    await handshake(server, peer, /HANDSHAKE version=DTLSv1\.3 .*group=X25519MLKEM768\b/);
    expect(server.sockets[0]!.connection.group).toBe('X25519MLKEM768');
    expect(server.sockets[0]!.connection.helloRetried).toBe(true);
    await echoThrough(server, peer, 'asked for the hybrid');
  });

  it('the wolfSSL client with its default groups ends up on X25519MLKEM768 with our default server', async () => {
    const server = await serve();
    const peer = startWolfsslClient(server.port, { proto: 'dtls1.3' });
    await handshake(server, peer, /HANDSHAKE version=DTLSv1\.3 .*group=X25519MLKEM768\b/);
    expect(server.sockets[0]!.connection.group).toBe('X25519MLKEM768');
    await echoThrough(server, peer, 'wolfssl defaults');
  });

  it('a control: our server configured with X25519 first takes the wolfSSL client\'s X25519 share', async () => {
    const server = await serve({ ecdhCurve: 'X25519:X25519MLKEM768' });
    const peer = startWolfsslClient(server.port, { proto: 'dtls1.3', groups: ['x25519', 'X25519MLKEM768'] });
    await handshake(server, peer, /HANDSHAKE version=DTLSv1\.3 .*group=X25519\b/);
    expect(server.sockets[0]!.connection.group).toBe('x25519');
  });
});
