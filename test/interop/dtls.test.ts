/**
 * DTLS 1.2 interop over real UDP on 127.0.0.1, both directions: our client against
 * `openssl s_server -dtls1_2` and `gnutls-serv --udp`, `openssl s_client -dtls1_2` and
 * `gnutls-cli --udp` against our server, with and without a small MTU (fragmented flights);
 * and the `tsls --dtls` command against openssl both ways. A missing binary fails, never skips.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { DTLSConnectOptions, DTLSServerOptions } from '../../src/node/entry.js';
import { decodeSession } from '../../src/statem/session.js';
import { ourDtlsClient, ourDtlsServer } from '../helpers/dtls-endpoints.js';
import { killAllPeers, Peer, peers, requireBinary, startServer, until } from '../helpers/peers.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const GNUTLS_DTLS12 = 'NORMAL:-VERS-ALL:+VERS-DTLS1.2';

it(`${peers.openssl3.title}, ${peers.gnutls.title} and the built CLI are there`, () => {
  for (const bin of [peers.openssl3.bin, peers.gnutls.cli, peers.gnutls.serv, requireBinary('node')]) expect(bin).toBeTruthy();
  expect(existsSync(CLI), `${CLI} is missing: run \`npx tsc -p .\` (npm test does) first`).toBe(true);
});

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await killAllPeers();
});

// ---- helpers -----------------------------------------------------------------------------

function opensslServer(o: { leaf?: string; cipher?: string; mtu?: number; extra?: string[] } = {}) {
  const leaf = o.leaf ?? 'leaf-ecdsa-p256';
  return startServer(
    peers.openssl3.bin,
    (port) => [
      's_server',
      '-dtls1_2',
      '-accept',
      `127.0.0.1:${port}`,
      '-cert',
      `${leaf}.crt`,
      '-key',
      `${leaf}.key`,
      '-cert_chain',
      'intermediate.crt',
      '-naccept',
      '1',
      ...(o.cipher ? ['-cipher', o.cipher] : []),
      ...(o.mtu ? ['-mtu', String(o.mtu)] : []),
      ...(o.extra ?? []),
    ],
    'ACCEPT',
    { udp: true },
  );
}

function opensslClient(port: number, extra: string[] = []): Peer {
  return new Peer(peers.openssl3.bin, [
    's_client',
    '-dtls1_2',
    '-connect',
    `127.0.0.1:${port}`,
    '-CAfile',
    'root.crt',
    '-verify_return_error',
    '-verify_hostname',
    'localhost',
    '-servername',
    'localhost',
    ...extra,
  ]);
}

const ourClient = (port: number, peer: Peer, options: Partial<DTLSConnectOptions> = {}) => ourDtlsClient(cleanups, port, peer, options);
const ourServer = (options: Partial<DTLSServerOptions> = {}) => ourDtlsServer(cleanups, options);

// ---- our client → openssl s_server -dtls1_2 ----------------------------------------------------

const SUITES = [
  { cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256', leaf: 'leaf-ecdsa-p256', standard: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256' },
  { cipher: 'ECDHE-ECDSA-CHACHA20-POLY1305', leaf: 'leaf-ecdsa-p256', standard: 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256' },
  { cipher: 'ECDHE-RSA-AES256-GCM-SHA384', leaf: 'leaf-rsa2048', standard: 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384' },
];
const CLIENT_ROWS = SUITES.flatMap((s) => [undefined, 500].map((mtu) => [s.cipher, mtu ? `-mtu ${mtu}` : 'default MTU', s, mtu] as const));

describe(`our DTLS client → ${peers.openssl3.title} s_server -dtls1_2`, () => {
  it.each(CLIENT_ROWS)('%s, %s: handshake (with the cookie exchange), data both ways, close_notify', async (cipher, _label, suite, mtu) => {
    const { peer, port } = await opensslServer({ leaf: suite.leaf, cipher, ...(mtu ? { mtu } : {}) });
    const { c, messages, stats } = await ourClient(port, peer, mtu ? { mtu } : {});
    expect(c.getProtocol()).toBe('DTLSv1.2');
    expect(c.getCipher()?.name).toBe(cipher);
    expect(c.getCipher()?.standardName).toBe(suite.standard);
    expect(c.authorized).toBe(true);

    const ours = `hello from tsls over ${cipher}`;
    c.send(`${ours}\n`);
    await peer.waitOutput(ours);
    peer.send('hello from openssl\n');
    await until('the line from s_server', () => messages.join('').includes('hello from openssl'), () => peer.describe());
    await peer.waitOutput(`CIPHER is ${cipher}`);

    // s_server's -mtu is the link MTU: its flights came in datagrams no bigger. Without it, on an
    // unconnected socket, OpenSSL falls back to its smallest guess (256 - 28 bytes): the
    // certificate arrives in fragments either way.
    expect(stats.largest).toBeLessThanOrEqual(mtu ?? 256);
    expect(stats.datagrams).toBeGreaterThan(5);
    c.close();
    await peer.waitOutput(/DONE|shutting down SSL|CONNECTION CLOSED/);
  });

  it('the same exported keying material as s_server -keymatexport (RFC 5705)', async () => {
    const { peer, port } = await opensslServer({ extra: ['-keymatexport', 'EXPERIMENTAL-tsls-dtls', '-keymatexportlen', '32'] });
    const { c } = await ourClient(port, peer);
    const out = await peer.waitOutput(/Keying material: [0-9A-F]+/);
    const theirs = /Keying material: ([0-9A-F]+)/.exec(out)![1]!;
    expect(c.exportKeyingMaterial(32, 'EXPERIMENTAL-tsls-dtls').toString('hex').toUpperCase()).toBe(theirs);
  });
});

// ---- resumption: our client → openssl s_server -dtls1_2 -------------------------------------------

describe(`DTLS 1.2 resumption, our client → ${peers.openssl3.title} s_server -dtls1_2`, () => {
  it.each([
    ['a session ticket (RFC 5077)', [], true],
    ['a session ID (-no_ticket)', ['-no_ticket'], false],
  ] as const)('resumes with %s: the second association is abbreviated and carries data', async (_label, extra, ticket) => {
    const { peer, port } = await opensslServer({ extra: ['-naccept', '2', ...extra] });
    const first = await ourClient(port, peer);
    expect(first.c.isSessionReused()).toBe(false);
    await until('the session', () => first.c.getSession() !== undefined, () => peer.describe());
    const session = first.c.getSession()!;
    expect(decodeSession(session).ticket.length > 0).toBe(ticket);
    first.c.close();
    await peer.waitOutput(/DONE|shutting down SSL|CONNECTION CLOSED/);

    const second = await ourClient(port, peer, { session });
    expect(second.c.isSessionReused()).toBe(true);
    expect(second.c.authorized).toBe(true);
    expect(second.c.getProtocol()).toBe('DTLSv1.2');
    second.c.send('hello again\n');
    await until('the resumed line at s_server', () => peer.stdout.includes('hello again'), () => peer.describe());
    // s_server says so when the handshake was abbreviated.
    await peer.waitOutput('Reused session-id');
  });
});

// ---- openssl s_client -dtls1_2 → our server --------------------------------------------------

describe(`${peers.openssl3.title} s_client -dtls1_2 → our DTLS server`, () => {
  it.each([
    ['default MTU', undefined],
    ['-mtu 400', 400],
  ] as const)('%s: verified handshake and data both ways', async (_label, mtu) => {
    const { server, port, received, sockets } = await ourServer(mtu ? { mtu } : {});
    const peer = opensslClient(port, mtu ? ['-mtu', String(mtu)] : []);
    await peer.waitOutput('New, TLSv1.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256');
    await peer.waitOutput('Verify return code: 0 (ok)');
    expect(peer.output).toContain('Protocol  : DTLSv1.2');
    peer.send('ping from s_client\n');
    await until('our server to get the line', () => received.includes('ping from s_client\n'), () => peer.describe());
    // The echo: s_client prints what it receives; once in its output means it came back.
    await until('the echo at s_client', () => peer.stdout.split('ping from s_client').length > 1, () => peer.describe());
    expect(sockets[0]!.getProtocol()).toBe('DTLSv1.2');
    expect(server.associations.size).toBe(1);
    // "Q" makes s_client close (close_notify): the association is gone.
    peer.send('Q\n');
    await until('the association to close', () => server.associations.size === 0, () => peer.describe());
    await peer.waitExit();
  });
});

describe(`record sequence numbers after the cookie exchange (${peers.openssl3.title} s_client)`, () => {
  // The HelloVerifyRequest repeats the ClientHello's record sequence number; the association
  // then continues from the second ClientHello's, so its ServerHello is never taken for a
  // replay of the HelloVerifyRequest (which cost a one-second retransmission before).
  it('s_client completes without a retransmission: exactly two ClientHellos reach our server', async () => {
    const { server, port } = await ourServer();
    let hellos = 0;
    server.socket!.on('message', (m: Buffer) => {
      if (m[0] === 22 && m[3] === 0 && m[4] === 0 && m[13] === 1) hellos++;
    });
    const peer = opensslClient(port);
    await peer.waitOutput('New, TLSv1.2');
    expect(hellos).toBe(2);
  });
});

// ---- gnutls ----------------------------------------------------------------------------------

describe(`${peers.gnutls.title} over DTLS 1.2`, () => {
  it('gnutls-cli --udp → our server: verified, data both ways, same exported keys', async () => {
    const { port, received, sockets } = await ourServer();
    const peer = new Peer(peers.gnutls.cli, [
      '--udp',
      '-p',
      String(port),
      '--x509cafile',
      'root.crt',
      '--sni-hostname',
      'localhost',
      '--verify-hostname',
      'localhost',
      '--priority',
      GNUTLS_DTLS12,
      '--keymatexport',
      'EXPERIMENTAL-tsls-dtls',
      '--keymatexportsize',
      '20',
      '127.0.0.1',
    ]);
    await peer.waitOutput('- Handshake was completed');
    expect(peer.output).toContain('- Description: (DTLS1.2-X.509)-(ECDHE-');
    expect(peer.output).toContain('The certificate is trusted');
    const theirs = /Key material: ([0-9A-Fa-f]+)/.exec(await peer.waitOutput(/Key material: [0-9A-Fa-f]+/))![1]!;
    peer.send('ping from gnutls-cli\n');
    await until('our server to get the line', () => received.includes('ping from gnutls-cli\n'), () => peer.describe());
    await until('the echo at gnutls-cli', () => peer.stdout.includes('ping from gnutls-cli'), () => peer.describe());
    expect(sockets[0]!.exportKeyingMaterial(20, 'EXPERIMENTAL-tsls-dtls').toString('hex')).toBe(theirs.toLowerCase());
  });

  it.each([
    ['default MTU', undefined],
    ['--mtu 500', 500],
  ] as const)('our client → gnutls-serv --udp --echo, %s', async (_label, mtu) => {
    const { peer, port } = await startServer(
      peers.gnutls.serv,
      (p) => [
        '--udp',
        '--port',
        String(p),
        '--x509certfile',
        'leaf-ecdsa-p256.chain.pem',
        '--x509keyfile',
        'leaf-ecdsa-p256.key',
        '--priority',
        GNUTLS_DTLS12,
        '--echo',
        ...(mtu ? ['--mtu', String(mtu)] : []),
      ],
      /listening on IPv4 .*done/,
      { udp: true },
    );
    const { c, messages, stats } = await ourClient(port, peer, mtu ? { mtu } : {});
    expect(c.getProtocol()).toBe('DTLSv1.2');
    expect(c.authorized).toBe(true);
    c.send('hello gnutls\n');
    await until('the echo', () => messages.includes('hello gnutls\n'), () => peer.describe());
    if (mtu) expect(stats.largest).toBeLessThanOrEqual(mtu);
  });
});

// ---- the tsls command --------------------------------------------------------------------------

describe(`tsls --dtls against ${peers.openssl3.title}`, () => {
  it('tsls client --dtls → openssl s_server -dtls1_2: stdin lines out as messages, messages to stdout', async () => {
    const { peer: server, port } = await opensslServer();
    const client = new Peer('node', [CLI, 'client', '--dtls', `127.0.0.1:${port}`, '--ca', 'root.crt', '--servername', 'localhost']);
    await client.waitOutput(/connected to 127\.0\.0\.1:\d+ over UDP: DTLSv1\.2, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256/);
    client.send('line one from tsls\nline two from tsls\n');
    await server.waitOutput('line two from tsls');
    expect(server.stdout).toContain('line one from tsls\nline two from tsls\n');
    server.send('line from openssl\n');
    await until('the line at tsls', () => client.stdout.includes('line from openssl\n'), () => client.describe());
    expect(client.stdout).toBe('line from openssl\n'); // stdout carries application data only
    client.closeStdin(); // EOF: close_notify, exit 0
    const exit = await client.waitExit();
    expect(exit.code, client.describe()).toBe(0);
    await server.waitOutput(/DONE|shutting down SSL|CONNECTION CLOSED/);
  });

  it('tsls client --dtls --session F resumes against openssl s_server -dtls1_2', async () => {
    const { peer: server, port } = await opensslServer({ extra: ['-naccept', '2'] });
    const dir = mkdtempSync(join(tmpdir(), 'tsls-dtls-session-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'session');
    const args = [CLI, 'client', '--dtls', `127.0.0.1:${port}`, '--ca', 'root.crt', '--servername', 'localhost', '--session', file];
    const first = new Peer('node', args);
    await first.waitOutput(/session ticket received, lifetime \d+ s, kept in /);
    expect(first.stderr).toContain('new session');
    first.closeStdin();
    expect((await first.waitExit()).code, first.describe()).toBe(0);
    expect(existsSync(file)).toBe(true);

    const second = new Peer('node', args);
    await second.waitOutput(/over UDP: DTLSv1\.2, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256.*, resumed/);
    await second.waitOutput('session resumed');
    second.send('resumed line\n');
    await server.waitOutput('resumed line');
    await server.waitOutput('Reused session-id');
    second.closeStdin();
    expect((await second.waitExit()).code, second.describe()).toBe(0);
  });

  it('openssl s_client -dtls1_2 → tsls server --dtls (echo)', async () => {
    const { peer: server, port } = await startServer(
      'node',
      (p) => [CLI, 'server', '--dtls', '--port', String(p), '--host', '127.0.0.1', '--cert', 'leaf-ecdsa-p256.chain.pem', '--key', 'leaf-ecdsa-p256.key'],
      /dtls echo server listening on 127\.0\.0\.1:\d+/,
      { udp: true },
    );
    const client = opensslClient(port);
    await client.waitOutput('New, TLSv1.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256');
    await client.waitOutput('Verify return code: 0 (ok)');
    client.send('echo me over udp\n');
    await until('the echo', () => client.stdout.includes('echo me over udp'), () => `${client.describe()}\n${server.describe()}`);
    await server.waitOutput(/127\.0\.0\.1:\d+: DTLSv1\.2, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256/);
    expect(server.stdout).toBe('');
    client.send('Q\n');
    await server.waitOutput(/127\.0\.0\.1:\d+: closed/);
  });

  it('refuses --www with --dtls', async () => {
    const p = new Peer('node', [CLI, 'server', '--dtls', '--www', '--port', '0']);
    const exit = await p.waitExit();
    expect(exit.code).toBe(1);
    expect(p.stderr).toMatch(/--www .*--dtls/);
  });
});

// ---- PSK (CoAP's mandatory TLS_PSK_WITH_AES_128_CCM_8) and DTLS-SRTP, both directions -----------

const PSK_HEX = '00112233445566778899aabbccddeeff';
const PSK = Buffer.from(PSK_HEX, 'hex');
const PSK_ROWS = [
  ['PSK-AES128-CCM8', 'TLS_PSK_WITH_AES_128_CCM_8'],
  ['ECDHE-PSK-CHACHA20-POLY1305', 'TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256'],
] as const;

describe(`DTLS with pre-shared keys against ${peers.openssl3.title}`, () => {
  it.each(PSK_ROWS)('our client → s_server -psk, %s', async (cipher, standard) => {
    const { peer, port } = await opensslServer({ cipher, extra: ['-psk', PSK_HEX, '-psk_identity', 'Client_identity'] });
    const { c, messages } = await ourClient(port, peer, { ciphers: standard, pskCallback: () => ({ psk: PSK, identity: 'Client_identity' }), rejectUnauthorized: false });
    expect(c.getCipher()?.standardName).toBe(standard);
    c.send('psk hello\n');
    await peer.waitOutput('psk hello');
    peer.send('psk answer\n');
    await until('the answer', () => messages.join('').includes('psk answer'), () => peer.describe());
  });

  it.each(PSK_ROWS)('s_client -psk → our server, %s', async (cipher, standard) => {
    const identities: string[] = [];
    const { port, sockets, received } = await ourServer({
      ciphers: standard,
      pskCallback: (_socket: null, identity: string) => (identities.push(identity), identity === 'Client_identity' ? PSK : null),
    });
    const peer = opensslClient(port, ['-psk', PSK_HEX, '-cipher', cipher]);
    await peer.waitOutput(`Cipher is ${cipher}`);
    peer.send('from s_client\n');
    await until('the message at our server', () => received.join('').includes('from s_client'), () => peer.describe());
    expect(identities).toEqual(['Client_identity']);
    expect(sockets[0]!.getCipher()?.standardName).toBe(standard);
  });
});

// DTLS 1.3 is the default; a PSK alone (no version, no cipher options) still reaches a DTLS 1.2-only PSK peer.
describe(`A pre-shared key with no version or cipher options falls back to DTLS 1.2 against ${peers.openssl3.title}`, () => {
  it('our client (pskCallback only) → s_server -dtls1_2 -psk -cipher PSK: DTLS 1.2 with a PSK suite', async () => {
    const { peer, port } = await opensslServer({ cipher: 'PSK', extra: ['-psk', PSK_HEX, '-psk_identity', 'Client_identity'] });
    const { c, messages } = await ourClient(port, peer, { pskCallback: () => ({ psk: PSK, identity: 'Client_identity' }), rejectUnauthorized: false });
    expect(c.getProtocol()).toBe('DTLSv1.2');
    expect(c.getCipher()?.standardName).toMatch(/PSK/);
    c.send('psk fallback\n');
    await peer.waitOutput('psk fallback');
    peer.send('psk fallback answer\n');
    await until('the answer', () => messages.join('').includes('psk fallback answer'), () => peer.describe());
  });

  it('s_client -dtls1_2 -psk -cipher PSK → our server (pskCallback only): DTLS 1.2 with a PSK suite', async () => {
    const identities: string[] = [];
    const { port, sockets, received } = await ourServer({
      pskCallback: (_socket: null, identity: string) => (identities.push(identity), identity === 'Client_identity' ? PSK : null),
    });
    const peer = opensslClient(port, ['-psk', PSK_HEX, '-cipher', 'PSK']);
    await peer.waitOutput('Cipher is');
    peer.send('from a PSK-only s_client\n');
    await until('the message at our server', () => received.join('').includes('from a PSK-only s_client'), () => peer.describe());
    expect(identities).toEqual(['Client_identity']);
    expect(sockets[0]!.getProtocol()).toBe('DTLSv1.2');
    expect(sockets[0]!.getCipher()?.standardName).toMatch(/PSK/);
  });
});

describe(`DTLS-SRTP (use_srtp) against ${peers.openssl3.title}`, () => {
  it('our client and s_server -use_srtp agree on the profile and the exported SRTP keys', async () => {
    const { peer, port } = await opensslServer({ extra: ['-use_srtp', 'SRTP_AES128_CM_SHA1_80', '-keymatexport', 'EXTRACTOR-dtls_srtp', '-keymatexportlen', '60'] });
    const { c } = await ourClient(port, peer, { srtpProfiles: ['SRTP_AEAD_AES_128_GCM', 'SRTP_AES128_CM_SHA1_80'] });
    expect(c.srtpProfile).toBe('SRTP_AES128_CM_SHA1_80');
    await peer.waitOutput('SRTP Extension negotiated, profile=SRTP_AES128_CM_SHA1_80');
    const out = await peer.waitOutput(/Keying material: [0-9A-F]{120}/);
    expect(c.exportKeyingMaterial(60, 'EXTRACTOR-dtls_srtp').toString('hex').toUpperCase()).toBe(/Keying material: ([0-9A-F]{120})/.exec(out)![1]);
  });

  it('s_client -use_srtp and our server agree on the profile and the exported SRTP keys', async () => {
    const { port, sockets } = await ourServer({ srtpProfiles: ['SRTP_AES128_CM_SHA1_80'] });
    const peer = opensslClient(port, ['-use_srtp', 'SRTP_AES128_CM_SHA1_32:SRTP_AES128_CM_SHA1_80', '-keymatexport', 'EXTRACTOR-dtls_srtp', '-keymatexportlen', '60']);
    await peer.waitOutput('SRTP Extension negotiated, profile=SRTP_AES128_CM_SHA1_80');
    const out = await peer.waitOutput(/Keying material: [0-9A-F]{120}/);
    await until('the association', () => sockets.length > 0, () => peer.describe());
    expect(sockets[0]!.srtpProfile).toBe('SRTP_AES128_CM_SHA1_80');
    expect(sockets[0]!.exportKeyingMaterial(60, 'EXTRACTOR-dtls_srtp').toString('hex').toUpperCase()).toBe(/Keying material: ([0-9A-F]{120})/.exec(out)![1]);
  });
});
