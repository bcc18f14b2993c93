/**
 * The TLS 1.2 and DTLS 1.2 pre-shared key suites (RFC 4279, RFC 5487, RFC 5489, RFC 7905,
 * RFC 8442) through the `tsls` command, against OpenSSL 4 and wolfSSL in both directions:
 * `tsls client --psk` against each peer's PSK-only server, and each peer's client against a
 * certificate-free `tsls server --psk`; over TCP, then over UDP with --dtls. Each row names
 * the suite both sides must report; a line makes the round trip.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { killAllPeers, Peer, peers, startOpensslClient, startOpensslServer, startServer, startWolfsslClient, startWolfsslServer } from '../helpers/peers.js';
import { startTslsServer, tsls } from '../helpers/tsls-cli.js';

const KEY = '00112233445566778899aabbccddeeff0123456789abcdef';
const IDENTITY = 'Client_identity';
const PSK_ARGS = ['--psk', KEY, '--psk-identity', IDENTITY];
const psk = { key: KEY, identity: IDENTITY };
const reverse = (s: string) => [...s].reverse().join('');

/** Suite rows: OpenSSL's (and wolfSSL's) name and the standard one tsls reports. */
type Row = [openssl: string, standard: string];
const PSK_AES128_GCM: Row = ['PSK-AES128-GCM-SHA256', 'TLS_PSK_WITH_AES_128_GCM_SHA256'];
const PSK_AES256_GCM: Row = ['PSK-AES256-GCM-SHA384', 'TLS_PSK_WITH_AES_256_GCM_SHA384'];
const PSK_CHACHA: Row = ['PSK-CHACHA20-POLY1305', 'TLS_PSK_WITH_CHACHA20_POLY1305_SHA256'];
const ECDHE_PSK_CHACHA: Row = ['ECDHE-PSK-CHACHA20-POLY1305', 'TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256'];
const ECDHE_PSK_AES128_GCM: Row = ['ECDHE-PSK-AES128-GCM-SHA256', 'TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256'];

/** OpenSSL has no ECDHE_PSK with AES-GCM (RFC 8442). */
const OPENSSL_ROWS = [PSK_AES128_GCM, PSK_AES256_GCM, PSK_CHACHA, ECDHE_PSK_CHACHA];
/** This wolfSSL build refuses the plain PSK suites (its cipher list takes none): ECDHE_PSK, with RFC 8442's AES-GCM. */
const WOLFSSL_ROWS = [ECDHE_PSK_CHACHA, ECDHE_PSK_AES128_GCM];

afterEach(killAllPeers);

/** The `tsls client` summary line's protocol and suite. */
const connected = (protocol: string, standard: string) => new RegExp(`tsls: connected to .*${protocol}, ${standard}\\b`);

describe(`TLS 1.2 PSK suites: tsls and ${peers.openssl4.title}`, () => {
  it.each(OPENSSL_ROWS)('tsls client --psk --ciphers → openssl s_server -tls1_2 -psk -nocert, %s', async (cipher, standard) => {
    const { peer, port } = await startOpensslServer({ peer: peers.openssl4, version: 'TLSv1.2', cipher, rev: true, extra: ['-nocert', '-psk', KEY, '-psk_identity', IDENTITY] });
    const client = tsls('client', `127.0.0.1:${port}`, ...PSK_ARGS, '--max-version', 'TLSv1.2', '--ciphers', standard);
    await client.waitOutput(connected('TLSv1\\.2', standard));
    client.send('psk twelve\n');
    await client.waitOutput(`${reverse('psk twelve')}\n`);
    expect(peer.output).toContain(`Ciphersuite: ${cipher}`);
  });

  it.each(OPENSSL_ROWS)('openssl s_client -tls1_2 -psk → certificate-free tsls server --psk, %s', async (cipher, standard) => {
    const { server, port } = await startTslsServer('--host', '127.0.0.1', ...PSK_ARGS);
    const client = startOpensslClient(port, { peer: peers.openssl4, version: 'TLSv1.2', cipher, extra: ['-psk', KEY, '-psk_identity', IDENTITY] });
    await client.waitOutput(`Cipher is ${cipher}`);
    client.send('psk from openssl\n');
    await client.waitOutput('psk from openssl\n');
    await server.waitOutput(new RegExp(`TLSv1\\.2, ${standard}\\b`));
  });
});

describe(`TLS 1.2 PSK suites: tsls and ${peers.wolfssl.title}`, () => {
  it.each(WOLFSSL_ROWS)('tsls client --psk --ciphers → wolfSSL server (PSK only), %s', async (cipher, standard) => {
    const { peer, port } = await startWolfsslServer({ proto: 'tls1.2', leaf: null, psk, ciphers: cipher });
    const client = tsls('client', `127.0.0.1:${port}`, ...PSK_ARGS, '--max-version', 'TLSv1.2', '--ciphers', standard);
    await client.waitOutput(connected('TLSv1\\.2', standard));
    await peer.waitOutput(`HANDSHAKE version=TLSv1.2 cipher=${cipher}`);
    client.send('psk to wolfssl\n');
    await client.waitOutput('psk to wolfssl\n');
  });

  it.each(WOLFSSL_ROWS)('wolfSSL client → certificate-free tsls server --psk, %s', async (cipher, standard) => {
    const { server, port } = await startTslsServer('--host', '127.0.0.1', ...PSK_ARGS);
    const client = startWolfsslClient(port, { proto: 'tls1.2', psk, ciphers: cipher });
    await client.waitOutput(`HANDSHAKE version=TLSv1.2 cipher=${cipher}`);
    client.send('psk from wolfssl\n');
    await client.waitOutput('psk from wolfssl\n');
    await server.waitOutput(new RegExp(`TLSv1\\.2, ${standard}\\b`));
  });
});

// ---- DTLS 1.2 ------------------------------------------------------------------------------

/** `openssl s_server -dtls1_2 -nocert -psk` in stdin/stdout mode (what it reads, it prints). */
function opensslDtlsServer(cipher: string) {
  return startServer(
    peers.openssl4.bin,
    (port) => ['s_server', '-dtls1_2', '-accept', `127.0.0.1:${port}`, '-nocert', '-psk', KEY, '-psk_identity', IDENTITY, '-cipher', cipher, '-naccept', '1'],
    'ACCEPT',
    { udp: true },
  );
}

function opensslDtlsClient(port: number, cipher: string): Peer {
  return new Peer(peers.openssl4.bin, ['s_client', '-dtls1_2', '-connect', `127.0.0.1:${port}`, '-psk', KEY, '-psk_identity', IDENTITY, '-cipher', cipher]);
}

describe(`DTLS 1.2 PSK suites: tsls --dtls and ${peers.openssl4.title}`, () => {
  it.each(OPENSSL_ROWS)('tsls client --dtls --psk → openssl s_server -dtls1_2 -psk -nocert, %s', async (cipher, standard) => {
    const { peer, port } = await opensslDtlsServer(cipher);
    const client = tsls('client', '--dtls', `127.0.0.1:${port}`, ...PSK_ARGS, '--ciphers', standard);
    await client.waitOutput(connected('DTLSv1\\.2', standard));
    client.send('datagram to openssl\n');
    await peer.waitOutput('datagram to openssl');
    peer.send('datagram back\n');
    await client.waitOutput('datagram back');
    expect(peer.output).toContain(`CIPHER is ${cipher}`);
  });

  it.each(OPENSSL_ROWS)('openssl s_client -dtls1_2 -psk → certificate-free tsls server --dtls --psk, %s', async (cipher, standard) => {
    const { server, port } = await startTslsServer('--dtls', '--host', '127.0.0.1', ...PSK_ARGS);
    const client = opensslDtlsClient(port, cipher);
    await client.waitOutput(`Cipher is ${cipher}`);
    client.send('datagram from openssl\n');
    await client.waitOutput('datagram from openssl\n');
    await server.waitOutput(new RegExp(`DTLSv1\\.2, ${standard}\\b`));
  });
});

describe(`DTLS 1.2 PSK suites: tsls --dtls and ${peers.wolfssl.title}`, () => {
  it.each(WOLFSSL_ROWS)('tsls client --dtls --psk → wolfSSL DTLS 1.2 server (PSK only), %s', async (cipher, standard) => {
    const { peer, port } = await startWolfsslServer({ proto: 'dtls1.2', leaf: null, psk, ciphers: cipher });
    const client = tsls('client', '--dtls', `127.0.0.1:${port}`, ...PSK_ARGS, '--ciphers', standard);
    await client.waitOutput(connected('DTLSv1\\.2', standard));
    await peer.waitOutput(`HANDSHAKE version=DTLSv1.2 cipher=${cipher}`);
    client.send('datagram to wolfssl\n');
    await client.waitOutput('datagram to wolfssl\n');
  });

  it.each(WOLFSSL_ROWS)('wolfSSL DTLS 1.2 client → certificate-free tsls server --dtls --psk, %s', async (cipher, standard) => {
    const { server, port } = await startTslsServer('--dtls', '--host', '127.0.0.1', ...PSK_ARGS);
    const client = startWolfsslClient(port, { proto: 'dtls1.2', psk, ciphers: cipher });
    await client.waitOutput(`HANDSHAKE version=DTLSv1.2 cipher=${cipher}`);
    client.send('datagram from wolfssl\n');
    await client.waitOutput('datagram from wolfssl\n');
    await server.waitOutput(new RegExp(`DTLSv1\\.2, ${standard}\\b`));
  });
});
