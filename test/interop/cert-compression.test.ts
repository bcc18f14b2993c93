/**
 * Certificate compression (RFC 8879) against OpenSSL 4.0, both ways: our client takes the
 * CompressedCertificate of `s_server -cert_comp` (zlib and zstd), and `s_client` takes ours.
 * The OpenSSL 4 here is built without brotli (zlib and zstd only), so with brotli offered
 * first it must fall back to what it has; no peer here compresses with brotli.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Connection } from '../../src/connection.js';
import type { HandshakeMessage } from '../../src/messages/handshake.js';
import { defaultClientOptions, defaultServerOptions } from '../helpers/pair.js';
import { killAllPeers, peers, startOpensslClient, startOpensslServer } from '../helpers/peers.js';
import { connectTo, destroyAllDrivers, echoReversed, listenerPerTest } from '../helpers/socket-driver.js';

afterEach(async () => {
  destroyAllDrivers();
  await killAllPeers();
});

const openssl = peers.openssl4;

describe(`our client → ${openssl.title} s_server -cert_comp`, () => {
  it.each(['zlib', 'zstd'] as const)('offering %s, we get a CompressedCertificate, verify the chain and exchange data', async (alg) => {
    const { peer, port } = await startOpensslServer({ peer: openssl, rev: true, extra: ['-cert_comp'] });
    const received: HandshakeMessage[] = [];
    const d = await connectTo(peer, port, defaultClientOptions({ certificateCompression: [alg] }));
    d.conn.on('message', (dir: string, msg: HandshakeMessage) => dir === 'recv' && received.push(msg));
    await d.waitHandshake();
    const compressed = received.find((m) => m.type === 'compressed_certificate');
    expect(compressed, `received ${received.map((m) => m.type).join(', ')}`).toBeDefined();
    expect(compressed!.type === 'compressed_certificate' && compressed!.algorithm).toBe(alg === 'zlib' ? 1 : 3);
    expect(d.conn.peerCertificates).toHaveLength(2);
    await echoReversed(d, `compressed with ${alg}`);
  });
});

describe(`our client offering brotli → ${openssl.title} s_server -cert_comp (built without brotli)`, () => {
  async function algorithmReceived(offer: ('brotli' | 'zlib' | 'zstd')[]): Promise<number | undefined> {
    const { peer, port } = await startOpensslServer({ peer: openssl, rev: true, extra: ['-cert_comp'] });
    const received: HandshakeMessage[] = [];
    const d = await connectTo(peer, port, defaultClientOptions({ certificateCompression: offer }));
    d.conn.on('message', (dir: string, msg: HandshakeMessage) => dir === 'recv' && received.push(msg));
    await d.waitHandshake();
    expect(d.conn.peerCertificates).toHaveLength(2);
    await echoReversed(d, `offered ${offer.join(', ')}`);
    const compressed = received.find((m) => m.type === 'compressed_certificate');
    return compressed?.type === 'compressed_certificate' ? compressed.algorithm : undefined;
  }

  it('offering brotli then zstd, we get zstd', async () => {
    expect(await algorithmReceived(['brotli', 'zstd'])).toBe(3);
  });

  it('offering brotli alone, we get a plain Certificate', async () => {
    expect(await algorithmReceived(['brotli'])).toBeUndefined();
  });
});

describe(`${openssl.title} s_client → our server`, () => {
  const listener = listenerPerTest();

  it('s_client receives our zlib CompressedCertificate, verifies it and gets its data echoed', async () => {
    const peer = startOpensslClient(listener().port, { peer: openssl, extra: ['-msg'] });
    const sent: HandshakeMessage[] = [];
    const d = await listener().accept(Connection.server(defaultServerOptions()), { context: () => peer.describe() });
    d.conn.on('message', (dir: string, msg: HandshakeMessage) => dir === 'send' && sent.push(msg));
    d.conn.on('data', (bytes) => d.write(bytes));
    await d.waitHandshake();
    await peer.waitOutput('Verify return code: 0 (ok)');
    expect(peer.output).toMatch(/<<< TLS 1\.3, Handshake \[length [0-9a-f]+\], CompressedCertificate/);
    expect(sent.map((m) => m.type)).toContain('compressed_certificate');
    peer.send('echo me\n');
    await peer.waitOutput('echo me');
  });
});
