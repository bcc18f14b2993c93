/**
 * The `tsls` command (src/cli.ts), run as a child process (`node dist/cli.js`, built by
 * `npm test`'s tsc step) against real openssl and gnutls peers, and against itself.
 *
 * What the CLI promises: application data goes to stdout and nothing else does; summaries,
 * traces, warnings and errors go to stderr; expected failures are one line (no stack
 * trace) and exit code 1; stdin EOF ends a client with exit code 0.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  killAllPeers,
  Peer,
  peers,
  requireBinary,
  startGnutlsClient,
  startGnutlsServer,
  startOpensslClient,
  startOpensslServer,
  until,
  type Exit,
} from './helpers/peers.js';
import { CLI, startTslsServer, tsls } from './helpers/tsls-cli.js';
import { udpNat } from './helpers/udp-nat.js';
import { cn, dnsName, ipName, issue, makeKey, profiles } from './helpers/x509-builder.js';
import { OID } from '../src/x509/certificate.js';
import { pemEncode } from '../src/x509/parse-chain.js';

/** The test PKI's server chain: leaf-ecdsa-p256 followed by the intermediate. */
const SERVER_PKI = ['--cert', 'leaf-ecdsa-p256.chain.pem', '--key', 'leaf-ecdsa-p256.key'];

const reverse = (s: string) => [...s].reverse().join('');
const lines = (s: string) => s.split('\n').filter((l) => l !== '');

it(`the CLI is built and ${peers.openssl3.title} and ${peers.gnutls.title} are there`, () => {
  expect(existsSync(CLI), `${CLI} is missing: run \`npx tsc -p .\` (npm test does) first`).toBe(true);
  for (const bin of [requireBinary('node'), peers.openssl3.bin, peers.gnutls.cli, peers.gnutls.serv]) expect(bin).toBeTruthy();
});

afterEach(async () => {
  await killAllPeers();
});

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tsls-cli-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// ---- helpers -----------------------------------------------------------------------------

/** `tsls client 127.0.0.1:PORT ARGS`. */
function tslsClient(port: number, ...args: string[]): Peer {
  return tsls('client', `127.0.0.1:${port}`, ...args);
}

/** Wait for `peer` to exit and describe it when the code is not `code`. */
async function expectExit(peer: Peer, code: number): Promise<Exit> {
  const exit = await peer.waitExit();
  expect(exit.code, `exit code\n${peer.describe()}`).toBe(code);
  return exit;
}

/** An expected failure: exit 1, exactly one line on stderr matching `pattern`, no stack trace, nothing on stdout. */
async function expectOneLineFailure(peer: Peer, pattern: RegExp): Promise<string> {
  await expectExit(peer, 1);
  const err = lines(peer.stderr);
  expect(err, peer.describe()).toHaveLength(1);
  expect(err[0]).toMatch(/^tsls: /);
  expect(err[0]).toMatch(pattern);
  expect(peer.stderr).not.toMatch(/^\s+at /m);
  expect(peer.stdout).toBe('');
  return err[0]!;
}

/** `openssl s_client` with exactly these arguments. */
function sClient(...args: string[]): Peer {
  return new Peer(peers.openssl3.bin, ['s_client', ...args]);
}

/**
 * Send a line and wait for `reply` (by default the line itself) to come back. Neither the
 * CLI nor s_client nor gnutls-cli prints what it reads from stdin, so the text in the
 * output is what the other end sent.
 */
async function echo(peer: Peer, line: string, reply = line): Promise<void> {
  peer.send(`${line}\n`);
  await peer.waitOutput(`${reply}\n`);
}

/** Send a line to `s_server -rev` and wait for it to come back reversed. */
const echoReversed = (peer: Peer, line: string) => echo(peer, line, reverse(line));

/** The summary line `tsls client` prints on stderr once connected. */
function summaryOf(client: Peer): string {
  const line = lines(client.stderr).find((l) => l.startsWith('tsls: connected to '));
  expect(line, `no summary line\n${client.describe()}`).toBeDefined();
  return line!;
}

// ---- the README --------------------------------------------------------------------------

describe(`the README's promise: \`tsls server\`, then \`openssl s_client -connect localhost:PORT\` (${peers.openssl3.title})`, () => {
  it('tsls server with nothing but --port uses a throwaway certificate, completes TLS 1.3 with openssl s_client and echoes its line', async () => {
    const { server, port } = await startTslsServer();
    expect(server.stderr).toMatch(/throwaway self-signed certificate/);
    const client = sClient('-connect', `localhost:${port}`);
    await client.waitOutput('New, TLSv1.3');
    await echo(client, 'hello from the README');
    await server.waitOutput(/: TLSv1\.3, TLS_\w+, \w+/);
    expect(server.stdout).toBe('');
  });

  it('tsls server without --cert saves its certificate and prints a tsls client line that, pasted, verifies it', async () => {
    const { server, port } = await startTslsServer();
    const tryLine = /^tsls: try: (tsls client .*)$/m.exec(server.stderr)?.[1];
    expect(tryLine, server.describe()).toBe(`tsls client localhost:${port} --ca ${/saved in (\S+)/.exec(server.stderr)?.[1]}`);
    const client = tsls(...tryLine!.split(' ').slice(1));
    await client.waitOutput('tsls: connected to');
    await echo(client, 'pasted');
    client.closeStdin();
    await expectExit(client, 0);
    expect(client.stderr).toMatch(/^tsls: {3}verification: OK$/m);
    expect(client.stdout).toBe('pasted\n');
  });

  describe('tsls server --www', () => {
    const GET = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: localhost\r\n${extra}\r\n`;
    const responses = (out: string) => out.split('HTTP/1.1 ').slice(1);

    it('tsls server --www answers a GET from openssl s_client with a 200 page naming the protocol, cipher and group', async () => {
      const { port } = await startTslsServer('--www');
      const client = sClient('-connect', `localhost:${port}`, '-ign_eof');
      await client.waitOutput('New, TLSv1.3');
      const cipher = /New, TLSv1\.3, Cipher is (\S+)/.exec(client.output)![1]!;
      client.send(GET('/status'));
      await client.waitOutput('</html>');
      const [response] = responses(client.stdout);
      expect(response).toMatch(/^200 OK\r\n/);
      expect(response).toMatch(/\r\nContent-Type: text\/html/);
      expect(response).toContain('<th>Protocol</th><td>TLSv1.3</td>');
      expect(response).toContain(`<th>Cipher</th><td>${cipher}</td>`);
      expect(response).toContain('<th>Group</th><td>x25519</td>'); // s_client's first key share
      expect(response).toContain('<th>Path</th><td>/status</td>');
      const length = Number(/\r\nContent-Length: (\d+)\r\n/.exec(response!)![1]);
      expect(Buffer.byteLength(response!.slice(response!.indexOf('\r\n\r\n') + 4))).toBe(length);
    });

    it('tsls server --www --alpn h2,http/1.1 selects http/1.1 for a client offering both, and answers it', async () => {
      const { server, port } = await startTslsServer('--www', '--alpn', 'h2,http/1.1');
      expect(server.stderr).toMatch(/warning: --www speaks http\/1\.1 only: not selecting h2/);
      const client = sClient('-connect', `localhost:${port}`, '-ign_eof', '-alpn', 'h2,http/1.1');
      await client.waitOutput('New, TLSv1.3');
      await client.waitOutput('ALPN protocol: http/1.1');
      client.send(GET('/alpn'));
      await client.waitOutput('</html>');
      expect(responses(client.stdout)[0]).toMatch(/^200 OK\r\n/);
    });

    it('tsls server --www answers each request in one record and accepts bare \\n line ends', async () => {
      const { port } = await startTslsServer('--www');
      const client = sClient('-connect', `localhost:${port}`, '-ign_eof', '-trace');
      await client.waitOutput('New, TLSv1.3');
      await client.waitOutput('NewSessionTicket'); // the tickets come first: count only what follows
      const before = client.stdout.length;
      client.send('GET /bare HTTP/1.0\n\n');
      await client.waitOutput('</html>');
      const after = client.stdout.slice(before);
      // s_client sends the request line by line (two records); what counts is what came back.
      const received = after.split(/^(?=Sent Record|Received Record)/m).filter((r) => r.startsWith('Received Record'));
      expect(received.filter((r) => /Inner Content Type = ApplicationData/.test(r)), client.describe()).toHaveLength(1);
      expect(after).toContain('<th>Path</th><td>/bare</td>');
    });

    it('tsls server --www answers two pipelined requests in order on one connection, then closes on Connection: close', async () => {
      const { port } = await startTslsServer('--www');
      const client = sClient('-connect', `localhost:${port}`, '-ign_eof');
      await client.waitOutput('New, TLSv1.3');
      client.send(GET('/first') + GET('/second')); // one write: both requests arrive together
      await client.waitOutput(/<td>\/second<\/td>[^]*<\/html>/);
      let got = responses(client.stdout);
      expect(got).toHaveLength(2);
      expect(got[0]).toContain('<td>/first</td>');
      expect(got[1]).toContain('<td>/second</td>');
      for (const r of got) expect(r).toMatch(/^200 OK\r\n[^]*\r\nConnection: keep-alive\r\n/);
      expect(client.exit, 'the connection stays open after keep-alive requests').toBeUndefined();

      client.send(GET('/last', 'Connection: close\r\n'));
      await client.waitOutput(/<td>\/last<\/td>[^]*<\/html>/);
      got = responses(client.stdout);
      expect(got).toHaveLength(3);
      expect(got[2]).toMatch(/^200 OK\r\n[^]*\r\nConnection: close\r\n/);
      // stdin is still open (-ign_eof): s_client ends only because the server closed the connection.
      await client.waitExit();
    });
  });
});

// ---- help, version, usage errors --------------------------------------------------------

describe('help, --version and usage errors', () => {
  it.each(['client', 'server'])('tsls %s --help prints that command\'s flags on stdout and exits 0 without connecting or listening', async (command) => {
    const help = tsls(command, '--help');
    await expectExit(help, 0);
    expect(help.stdout).toMatch(new RegExp(`^usage: tsls ${command} `));
    for (const flag of ['--ca FILE', '--alpn LIST', '--min-version V', '--ciphers LIST', '--psk HEX', '--trace']) expect(help.stdout).toContain(flag);
    expect(help.stdout).toContain(command === 'client' ? '--servername NAME' : '--www');
    expect(help.stderr).toBe('');
  });

  it('tsls --help, tsls client --help and --version load no engine module (start-up stays fast)', async () => {
    const hook = join(tmp, 'record-imports.mjs');
    writeFileSync(hook, "export async function resolve(s, c, n) { const r = await n(s, c); process.stderr.write(`import ${r.url}\\n`); return r; }\n");
    for (const args of [['--help'], ['client', '--help'], ['server', '--help'], ['--version']]) {
      const peer = new Peer('node', ['--no-warnings', '--experimental-loader', hook, CLI, ...args]);
      await expectExit(peer, 0);
      const imported = lines(peer.stderr).filter((l) => l.startsWith('import file:'));
      expect(imported.length, peer.describe()).toBeGreaterThan(0); // the hook saw the CLI itself
      expect(imported.filter((l) => /\/dist\/(statem|record|crypto|x509|node)\/|@noble\//.test(l)), args.join(' ')).toEqual([]);
    }
  });

  it('tsls --version prints the package version and exits 0', async () => {
    const v = tsls('--version');
    await expectExit(v, 0);
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as { version: string };
    expect(v.stdout).toMatch(new RegExp(`^tsls ${pkg.version.replace(/\./g, '\\.')} `));
  });

  it.each([
    ['client without HOST:PORT', ['client'], /client needs HOST:PORT/],
    ['an unknown flag', ['client', '127.0.0.1:1', '--bogus'], /--bogus/],
    ['an unknown version', ['server', '--max-version', 'TLSv1.1'], /unknown version TLSv1\.1/],
    ['a TLS version with --dtls', ['client', '--dtls', '127.0.0.1:1', '--min-version', 'TLSv1.3'], /--min-version TLSv1\.3: with --dtls the versions are DTLSv1\.2 and DTLSv1\.3/],
    ['a DTLS version without --dtls', ['server', '--max-version', 'DTLSv1.3'], /--max-version DTLSv1\.3 goes with --dtls/],
    ['an unknown --webpki-profile', ['client', '127.0.0.1:1', '--webpki-profile', 'lax'], /unknown --webpki-profile lax \(on, off or strict\)/],
  ])('a usage error (%s) is one line pointing at --help, without the usage text, and exit 1', async (_what, args, pattern) => {
    const peer = tsls(...args);
    const line = await expectOneLineFailure(peer, pattern);
    expect(line).toMatch(/\(see tsls (client|server) --help\)$/);
  });
});

// ---- tsls server -------------------------------------------------------------------------

describe('tsls server', () => {
  it('tsls server --echo serves connections one after another and at once', async () => {
    const { server, port } = await startTslsServer('--echo', ...SERVER_PKI);
    for (const n of [1, 2]) {
      const client = startOpensslClient(port);
      await client.waitOutput('New, TLSv1.3');
      await echo(client, `sequential ${n}`);
      client.closeStdin();
      await expectExit(client, 0);
    }
    const a = startOpensslClient(port);
    const b = startOpensslClient(port);
    await Promise.all([a.waitOutput('New, TLSv1.3'), b.waitOutput('New, TLSv1.3')]);
    await echo(a, 'a first');
    await echo(b, 'b while a is open');
    await echo(a, 'a again while b is open');
    expect(a.exit).toBeUndefined();
    expect(b.exit).toBeUndefined();
    expect(lines(server.stderr).filter((l) => / TLSv1\.3, /.test(l))).toHaveLength(4);
  });

  it.each([
    ['TLS 1.3', 'TLSv1.3' as const, 'TLSv1.3'],
    ['TLS 1.2', 'TLSv1.2' as const, 'TLSv1.2'],
  ])('tsls server --cert leaf-rsa2048.chain.pem sends leaf and intermediate, which openssl s_client verifies against root.crt (%s)', async (_n, version, protocol) => {
    const { port } = await startTslsServer('--cert', 'leaf-rsa2048.chain.pem', '--key', 'leaf-rsa2048.key');
    const client = startOpensslClient(port, { version, extra: ['-showcerts'] });
    await client.waitOutput(`New, ${protocol}`);
    await client.waitOutput('Verify return code: 0 (ok)');
    // -showcerts lists what the server sent: the leaf, then the intermediate (not the root).
    expect(client.output).toMatch(/ 0 s:[^\n]*CN = tsls test leaf-rsa2048\b[^\n]*\n\s+i:[^\n]*CN = tsls Test Intermediate CA\b/);
    expect(client.output).toMatch(/ 1 s:[^\n]*CN = tsls Test Intermediate CA\b[^\n]*\n\s+i:[^\n]*CN = tsls Test Root CA\b/);
    expect(client.output).not.toMatch(/ 2 s:/);
    await echo(client, `chain over ${protocol}`);
  });

  describe('tsls server --ca root.crt --verify', () => {
    it('tsls server --verify accepts an openssl s_client with a client certificate and names its subject on stderr', async () => {
      const { server, port } = await startTslsServer('--echo', ...SERVER_PKI, '--ca', 'root.crt', '--verify');
      const client = startOpensslClient(port, { extra: ['-cert', 'client-ecdsa-p256.crt', '-cert_chain', 'intermediate.crt', '-key', 'client-ecdsa-p256.key'] });
      await client.waitOutput('New, TLSv1.3');
      await echo(client, 'authenticated');
      await server.waitOutput(/client CN=tsls test client/);
    });

    it('tsls server --verify refuses an openssl s_client without a certificate', async () => {
      const { server, port } = await startTslsServer('--echo', ...SERVER_PKI, '--ca', 'root.crt', '--verify');
      const client = startOpensslClient(port);
      await client.waitOutput(/alert certificate required/);
      await server.waitOutput(/handshake failed: .*\(ERR_TLS_CLIENT_CERTIFICATE_REQUIRED\)/);
      expect(server.stderr).not.toMatch(/: TLSv1\.3, /); // no summary line: it never got a connection
      client.send('not echoed\n');
      const exit = await client.waitExit();
      expect(exit.code).not.toBe(0);
      expect(client.stdout).not.toContain('not echoed');
    });
  });

  it(`${peers.gnutls.title} gnutls-cli completes TLS 1.3 with tsls server and gets its data echoed`, async () => {
    const { server, port } = await startTslsServer('--echo', ...SERVER_PKI);
    const client = startGnutlsClient(port);
    await client.waitOutput(/Description: \(TLS1\.3-X\.509\)/);
    await client.waitOutput('- Handshake was completed');
    await echo(client, 'hello gnutls');
    await server.waitOutput(/: TLSv1\.3, TLS_\w+, \w+, SNI localhost/);
  });
});

// ---- tsls client -------------------------------------------------------------------------

describe('tsls client', () => {
  it('tsls client against openssl s_server -rev: stdin goes out, stdout is exactly the reply, the summary is on stderr, EOF exits 0', async () => {
    const { peer, port } = await startOpensslServer({ rev: true, extra: ['-trace'] });
    const client = tslsClient(port, '--ca', 'root.crt');
    await client.waitOutput('tsls: connected to');
    await echoReversed(client, 'hello openssl');
    client.closeStdin();
    await expectExit(client, 0);
    expect(client.stdout).toBe(`${reverse('hello openssl')}\n`);
    expect(summaryOf(client)).toMatch(/^tsls: connected to 127\.0\.0\.1:\d+: TLSv1\.3, TLS_\w+, x25519$/);
    // No --servername: no SNI at all, and the certificate was checked against the IP 127.0.0.1.
    expect(peer.output).toMatch(/ClientHello/);
    expect(peer.output).not.toMatch(/extension_type=server_name/);
  });

  it('tsls client localhost:PORT sends SNI localhost by default (and none for 127.0.0.1)', async () => {
    const { peer, port } = await startOpensslServer({ rev: true, extra: ['-trace'] });
    const client = tsls('client', `localhost:${port}`, '--ca', 'root.crt');
    await client.waitOutput('tsls: connected to');
    await echoReversed(client, 'sni by default');
    client.closeStdin();
    await expectExit(client, 0);
    expect(peer.output).toMatch(/extension_type=server_name\(0\), length=14\n\s+0000 - 00 0c 00 00 09 6c 6f 63-61 6c 68 6f 73 74 /);
  });

  it('tsls client reports the chain, the verification result, the signature scheme and an ALPN offer the server did not take', async () => {
    const { port } = await startOpensslServer({ rev: true });
    const client = tslsClient(port, '--ca', 'root.crt', '--alpn', 'h2,http/1.1');
    await client.waitOutput('tsls: connected to');
    await echoReversed(client, 'details');
    client.closeStdin();
    await expectExit(client, 0);
    const err = client.stderr;
    expect(err).toMatch(/^tsls: {3}certificate chain \(2\):$/m);
    expect(err).toMatch(/^tsls: {5}0 s: CN=tsls test leaf-ecdsa-p256\b.*\ntsls: {7}i: CN=tsls Test Intermediate CA\b.*\ntsls: {7}valid .* GMT to .* GMT; ECDSA P-256; DNS:localhost/m);
    expect(err).toMatch(/^tsls: {5}1 s: CN=tsls Test Intermediate CA\b/m);
    expect(err).toMatch(/^tsls: {3}verification: OK$/m);
    expect(err).toMatch(/^tsls: {3}signature scheme ecdsa_secp256r1_sha256; ALPN offered \(h2,http\/1\.1\) but none selected; new session$/m);
    expect(client.stdout).toBe(`${reverse('details')}\n`);
  });

  it('tsls client --insecure still reports why the certificate would have been refused', async () => {
    const { port } = await startOpensslServer({ rev: true });
    const client = tslsClient(port, '--insecure', '--servername', 'localhost');
    await client.waitOutput('tsls: connected to');
    client.closeStdin();
    await expectExit(client, 0);
    expect(client.stderr).toMatch(/^tsls: {3}verification: FAILED: UNABLE_TO_GET_ISSUER_CERT_LOCALLY \(ignored: --insecure\)$/m);
  });

  it('tsls client refuses a server certificate without extKeyUsage serverAuth (the Web PKI profile), and --webpki-profile off accepts it', async () => {
    // A private PKI's leaf, valid under RFC 5280: openssl s_server serves it.
    const rootKey = makeKey('cli-root');
    const root = issue({ subject: cn('CLI Private Root'), key: rootKey, extensions: profiles.root(rootKey) });
    const leafKey = makeKey('cli-leaf');
    const extensions = profiles.leaf(root, [dnsName('localhost'), ipName([127, 0, 0, 1])]).filter((e) => e.oid !== OID.extKeyUsage);
    const leaf = issue({ subject: cn('localhost'), key: leafKey, issuer: root, extensions });
    writeFileSync(join(tmp, 'private-root.crt'), pemEncode('CERTIFICATE', root.der));
    writeFileSync(join(tmp, 'no-eku.crt'), pemEncode('CERTIFICATE', leaf.der));
    writeFileSync(join(tmp, 'no-eku.key'), leafKey.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const { port } = await startOpensslServer({ rev: true, leaf: join(tmp, 'no-eku'), naccept: 2 });
    const refused = tslsClient(port, '--ca', join(tmp, 'private-root.crt'));
    await expectOneLineFailure(refused, /no extKeyUsage: a server certificate names serverAuth.*\(INVALID_PURPOSE, sent alert unsupported_certificate\)$/);
    const client = tslsClient(port, '--ca', join(tmp, 'private-root.crt'), '--webpki-profile', 'off');
    await client.waitOutput('tsls: connected to');
    await echoReversed(client, 'private pki');
    client.closeStdin();
    await expectExit(client, 0);
    expect(client.stderr).toMatch(/^tsls: {3}verification: OK$/m);
  });

  it('tsls client --servername localhost sends SNI localhost', async () => {
    const { peer, port } = await startOpensslServer({ rev: true, extra: ['-trace'] });
    const client = tslsClient(port, '--ca', 'root.crt', '--servername', 'localhost');
    await client.waitOutput('tsls: connected to');
    await echoReversed(client, 'with sni');
    client.closeStdin();
    await expectExit(client, 0);
    expect(peer.output).toMatch(/extension_type=server_name\(0\), length=14\n\s+0000 - 00 0c 00 00 09 6c 6f 63-61 6c 68 6f 73 74 /);
  });

  it(`tsls client against ${peers.gnutls.title} gnutls-serv --echo: stdout is exactly the echo, EOF exits 0`, async () => {
    const { port } = await startGnutlsServer();
    const client = tslsClient(port, '--ca', 'root.crt', '--servername', 'localhost');
    await client.waitOutput('tsls: connected to');
    await echo(client, 'hello gnutls');
    client.closeStdin();
    await expectExit(client, 0);
    expect(client.stdout).toBe('hello gnutls\n');
    expect(summaryOf(client)).toMatch(/TLSv1\.3, TLS_\w+, \w+$/);
  });

  it('tsls client --servername wrong.example fails with one line naming ERR_TLS_CERT_ALTNAME_INVALID and exit 1', async () => {
    const { port } = await startOpensslServer({ rev: true });
    const client = tslsClient(port, '--ca', 'root.crt', '--servername', 'wrong.example');
    await expectOneLineFailure(client, /ERR_TLS_CERT_ALTNAME_INVALID/);
  });

  it('tsls client without --ca rejects the test root (not a node root) with UNABLE_TO_GET_ISSUER_CERT_LOCALLY and exit 1', async () => {
    const { port } = await startOpensslServer({ rev: true });
    const client = tslsClient(port, '--servername', 'localhost');
    await expectOneLineFailure(client, /UNABLE_TO_GET_ISSUER_CERT_LOCALLY/);
  });

  it('tsls client --insecure connects without a CA and warns on stderr', async () => {
    const { port } = await startOpensslServer({ rev: true });
    const client = tslsClient(port, '--insecure');
    await client.waitOutput('tsls: connected to');
    await echoReversed(client, 'insecure');
    client.closeStdin();
    await expectExit(client, 0);
    expect(client.stderr).toMatch(/^tsls: warning: --insecure.*NOT verified/m);
    expect(client.stdout).toBe(`${reverse('insecure')}\n`);
  });

  it('tsls client to a plaintext HTTP server says the peer does not speak TLS and quotes what it sent, in one line', async () => {
    const http = net.createServer((socket) => {
      socket.once('data', () => socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'));
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    try {
      const client = tslsClient((http.address() as net.AddressInfo).port, '--ca', 'root.crt');
      const line = await expectOneLineFailure(client, /the peer does not speak TLS \(received 'HTTP\/1\.1 400 Bad Request[^']*'\)/);
      expect(line).not.toMatch(/content type/);
    } finally {
      http.close();
    }
  });

  it('tsls client to a port nobody listens on fails with one line and exit 1', async () => {
    const port = await freePort();
    const client = tslsClient(port, '--ca', 'root.crt');
    await expectOneLineFailure(client, /ECONNREFUSED/);
  });

  it('tsls client with --cert/--key (chain.pem) authenticates to openssl s_server -Verify 1', async () => {
    const { peer, port } = await startOpensslServer({ rev: true, extra: ['-Verify', '1', '-CAfile', 'root.crt', '-verify_return_error'] });
    const client = tslsClient(port, '--ca', 'root.crt', '--cert', 'client-ecdsa-p256.chain.pem', '--key', 'client-ecdsa-p256.key');
    await client.waitOutput('tsls: connected to');
    await echoReversed(client, 'mutual');
    await peer.waitOutput(/Peer certificate: [^\n]*CN = tsls test client\b/);
    expect(peer.output).toMatch(/depth=1 [^\n]*CN = tsls Test Intermediate CA\b/); // the chain reached it
    expect(peer.output).toMatch(/Verification: OK/);
    client.closeStdin();
    await expectExit(client, 0);
  });

  it('tsls client without --cert is refused by openssl s_server -Verify 1 with exit 1 and one error line', async () => {
    const { port } = await startOpensslServer({ rev: true, extra: ['-Verify', '1', '-CAfile', 'root.crt', '-verify_return_error'] });
    const client = tslsClient(port, '--ca', 'root.crt');
    client.send('not echoed\n');
    await expectExit(client, 1);
    // TLS 1.3: the client is connected (and reports it) before the server judges its certificate.
    const errors = lines(client.stderr).filter((l) => !l.startsWith('tsls: connected to') && !l.startsWith('tsls:   '));
    expect(errors, client.describe()).toHaveLength(1);
    expect(errors[0]).toMatch(/CERTIFICATE_REQUIRED/);
    expect(errors[0]!.match(/certificate_required/gi), `the alert is named once as an alert, once in the code: ${errors[0]}`).toHaveLength(2);
    expect(client.stderr).not.toMatch(/^\s+at /m);
    expect(client.stdout).toBe('');
  });

  describe('tsls client --session FILE', () => {
    const PEERS = ['openssl s_server', 'tsls server'] as const;
    const VERSIONS = [
      ['TLS 1.3', 'TLSv1.3', []],
      ['TLS 1.2', 'TLSv1.2', ['--max-version', 'TLSv1.2']],
    ] as const;
    const ROWS = PEERS.flatMap((p) => VERSIONS.map(([name, protocol, args]) => [p, name, { protocol, args: [...args] }] as const));

    it.each(ROWS)('tsls client --session resumes against %s (%s)', async (peerName, name, { protocol, args }) => {
      const rev = peerName === 'openssl s_server';
      const { server, port } = rev
        ? await startOpensslServer({ rev: true, version: 'any', naccept: 2 }).then(({ peer, port }) => ({ server: peer, port }))
        : await startTslsServer('--echo', ...SERVER_PKI);
      const file = join(tmp, `${peerName}-${name}.session`.replace(/[^\w.-]+/g, '-'));
      for (const run of ['first', 'second']) {
        const client = tslsClient(port, '--ca', 'root.crt', '--session', file, ...args);
        await client.waitOutput('tsls: connected to');
        // The reply comes after any TLS 1.3 ticket, so the session is stored by then.
        await (rev ? echoReversed(client, `${run} run`) : echo(client, `${run} run`));
        client.closeStdin();
        await expectExit(client, 0);
        const summary = summaryOf(client);
        const context = `${run} run\n${client.describe()}\n${server.describe()}`;
        expect(summary, context).toContain(`: ${protocol}, `);
        if (run === 'first') {
          expect(summary, context).not.toMatch(/resumed/);
          expect(existsSync(file), `${file} was not written\n${client.describe()}`).toBe(true);
        } else {
          expect(summary, context).toMatch(/, resumed$/);
        }
      }
    });
  });

  it('tsls client --session with a file it cannot read warns, does a full handshake and stores a new session', async () => {
    const { port } = await startTslsServer('--echo', ...SERVER_PKI);
    const file = join(tmp, 'unreadable.session');
    writeFileSync(file, 'not a session');
    const client = tslsClient(port, '--ca', 'root.crt', '--session', file);
    await client.waitOutput('tsls: connected to');
    await echo(client, 'after a bad session');
    client.closeStdin();
    await expectExit(client, 0);
    expect(client.stderr).toMatch(/warning: ignoring the session in .*unreadable\.session/);
    expect(summaryOf(client)).not.toMatch(/resumed/);
    expect(readFileSync(file, 'utf8')).not.toBe('not a session');
  });

  it('tsls client --keylog writes the same five TLS 1.3 secrets as openssl s_server -keylogfile', async () => {
    const ours = join(tmp, 'client.keylog');
    const theirs = join(tmp, 'server.keylog');
    const { port } = await startOpensslServer({ rev: true, extra: ['-keylogfile', theirs] });
    const client = tslsClient(port, '--ca', 'root.crt', '--keylog', ours);
    await client.waitOutput('tsls: connected to');
    await echoReversed(client, 'keylog');
    client.closeStdin();
    await expectExit(client, 0);
    const read = (f: string) => lines(readFileSync(f, 'utf8')).filter((l) => !l.startsWith('#'));
    const mine = read(ours);
    expect(mine).toHaveLength(5);
    expect(mine.map((l) => l.split(' ')[0]).sort()).toEqual([
      'CLIENT_HANDSHAKE_TRAFFIC_SECRET',
      'CLIENT_TRAFFIC_SECRET_0',
      'EXPORTER_SECRET',
      'SERVER_HANDSHAKE_TRAFFIC_SECRET',
      'SERVER_TRAFFIC_SECRET_0',
    ]);
    expect(new Set(mine.map((l) => l.split(' ')[1])).size, 'one client random').toBe(1);
    expect([...mine].sort()).toEqual(read(theirs).sort());
    expect(client.stdout).toBe(`${reverse('keylog')}\n`);
  });
});

// ---- --psk and --dtls ----------------------------------------------------------------------

const PSK_HEX = '00112233445566778899aabbccddeeff';

describe('tsls --psk', () => {
  it('tsls client --psk --psk-identity completes TLS 1.2 with openssl s_server -psk on a PSK suite', async () => {
    const { peer, port } = await startOpensslServer({ rev: true, version: 'TLSv1.2', cipher: 'ECDHE-PSK-CHACHA20-POLY1305', extra: ['-psk', PSK_HEX, '-psk_identity', 'tsls-cli', '-nocert'] });
    const client = tslsClient(port, '--psk', PSK_HEX, '--psk-identity', 'tsls-cli');
    await client.waitOutput('tsls: connected to');
    await echoReversed(client, 'psk over tls 1.2');
    client.closeStdin();
    await expectExit(client, 0);
    expect(summaryOf(client)).toMatch(/: TLSv1\.2, TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256, x25519$/);
    expect(peer.output).toContain('Ciphersuite: ECDHE-PSK-CHACHA20-POLY1305');
  });

  it('tsls client --dtls --psk ↔ tsls server --dtls --psk agree on the PSK suite', async () => {
    // The CoAP suite is DTLS 1.2's: --max-version keeps both sides there (DTLS 1.3 would use the PSK with its own suites).
    const { port } = await startTslsServer('--dtls', '--host', '127.0.0.1', '--psk', PSK_HEX, '--psk-identity', 'device-1', '--ciphers', 'TLS_PSK_WITH_AES_128_CCM_8', '--max-version', 'DTLSv1.2');
    const client = tsls('client', '--dtls', `127.0.0.1:${port}`, '--psk', PSK_HEX, '--psk-identity', 'device-1', '--ciphers', 'TLS_PSK_WITH_AES_128_CCM_8', '--max-version', 'DTLSv1.2');
    await client.waitOutput('tsls: connected to');
    expect(summaryOf(client)).toMatch(/over UDP: DTLSv1\.2, TLS_PSK_WITH_AES_128_CCM_8, no \(EC\)DHE$/);
    await echo(client, 'psk datagram');
    client.closeStdin();
    await expectExit(client, 0);
  });

  it('tsls client --dtls --psk-import ↔ tsls server --dtls --psk-import: DTLS 1.3 on the imported PSK, with X25519MLKEM768', async () => {
    const imported = ['--psk', PSK_HEX, '--psk-identity', 'device-1', '--psk-import', '--psk-context', 'site-3'];
    const { server, port } = await startTslsServer('--dtls', '--host', '127.0.0.1', ...imported);
    const client = tsls('client', '--dtls', `127.0.0.1:${port}`, ...imported);
    await client.waitOutput('tsls: connected to');
    expect(summaryOf(client)).toMatch(/over UDP: DTLSv1\.3, TLS_AES_128_GCM_SHA256, X25519MLKEM768, resumed$/);
    await echo(client, 'imported over datagrams');
    await server.waitOutput(/DTLSv1\.3, TLS_AES_128_GCM_SHA256, X25519MLKEM768, resumed/);
    client.closeStdin();
    await expectExit(client, 0);
  });
});

describe('tsls --dtls', () => {
  it('tsls client --dtls ↔ tsls server --dtls with their defaults agree on X25519MLKEM768 (asked for in the cookie HelloRetryRequest)', async () => {
    const { port } = await startTslsServer('--dtls', '--host', '127.0.0.1', ...SERVER_PKI);
    const client = tsls('client', '--dtls', `127.0.0.1:${port}`, '--ca', 'root.crt', '--servername', 'localhost');
    await client.waitOutput('tsls: connected to');
    expect(summaryOf(client)).toMatch(/over UDP: DTLSv1\.3, TLS_AES_128_GCM_SHA256, X25519MLKEM768$/);
    await echo(client, 'post-quantum datagram');
    client.closeStdin();
    await expectExit(client, 0);
  });

  it('tsls client --dtls --trace shows each record sent and received with its epoch and number, the retransmission of a lost ClientHello, and what ACKs name', async () => {
    const { port } = await startTslsServer('--dtls', '--host', '127.0.0.1', ...SERVER_PKI);
    const cleanups: (() => Promise<void> | void)[] = [];
    try {
      // A relay that loses the client's first datagram: its ClientHello goes out again on the timer.
      const nat = await udpNat(cleanups, port);
      nat.state.holding = true;
      const client = tsls('client', '--dtls', `127.0.0.1:${nat.port}`, '--ca', 'root.crt', '--servername', 'localhost', '--trace');
      await until('the first ClientHello to be lost', () => nat.held.length > 0, () => client.describe());
      nat.state.holding = false;
      await client.waitOutput('tsls: connected to');
      await echo(client, 'traced');
      client.closeStdin();
      await expectExit(client, 0);
      const trace = client.stderr;
      expect(trace).toMatch(/\[client\] >>> record handshake epoch 0 seq 0 \d+ bytes\n/);
      expect(trace).toMatch(/\[client\] >>> record handshake epoch 0 seq \d+ \d+ bytes \(retransmission\)/);
      expect(trace).toMatch(/\[client\] <<< record handshake epoch 2 seq \d+ \d+ bytes/);
      expect(trace).toMatch(/\[client\] <<< record application_data epoch 3 seq \d+ \d+ bytes/);
      // What we send is shown the same way: our data, and the close_notify that ends it.
      expect(trace).toMatch(/\[client\] >>> record application_data epoch 3 seq \d+ \d+ bytes/);
      expect(trace).toMatch(/\[client\] >>> record alert epoch 3 seq \d+ 2 bytes/);
      // Our ACK of the server's NewSessionTicket, and the server's of our Finished.
      expect(trace).toMatch(/\[client\] >>> record ack epoch 3 seq \d+ \d+ bytes acknowledging 3\/\d+/);
      // The client's last flight is acknowledged by the server's ACK, which names its records.
      expect(trace).toMatch(/\[client\] <<< record ack epoch 3 seq \d+ \d+ bytes acknowledging( \d+\/\d+)+/);
    } finally {
      for (const c of cleanups.reverse()) await c();
    }
  });

  it('tsls client --dtls ↔ tsls server --dtls speak DTLS 1.3; --max-version DTLSv1.2 on the client settles on DTLS 1.2', async () => {
    const { port } = await startTslsServer('--dtls', '--host', '127.0.0.1', ...SERVER_PKI);
    for (const [flags, version] of [[[], 'DTLSv1\\.3, TLS_AES_128_GCM_SHA256'], [['--max-version', 'DTLSv1.2'], 'DTLSv1\\.2, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256']] as const) {
      const client = tsls('client', '--dtls', `127.0.0.1:${port}`, '--ca', 'root.crt', '--servername', 'localhost', ...flags);
      await client.waitOutput('tsls: connected to');
      expect(summaryOf(client)).toMatch(new RegExp(`over UDP: ${version}, `));
      await echo(client, `over ${version.slice(0, 8)}`);
      client.closeStdin();
      await expectExit(client, 0);
    }
  });

  it('echo x | tsls client --dtls: stdin ends at once, and the reply still arrives before the client exits 0', async () => {
    const { port } = await startTslsServer('--dtls', '--host', '127.0.0.1', ...SERVER_PKI);
    const client = tsls('client', '--dtls', `127.0.0.1:${port}`, '--ca', 'root.crt', '--servername', 'localhost');
    client.send('x\n');
    client.closeStdin(); // before the handshake is even done
    await expectExit(client, 0);
    expect(client.stdout).toBe('x\n');
  });

  it('tsls server --dtls says "resumed" for an openssl s_client that resumes its session', async () => {
    const { server, port } = await startTslsServer('--dtls', '--host', '127.0.0.1', ...SERVER_PKI);
    const file = join(tmp, 'dtls.session');
    for (const [run, flag] of [['first', '-sess_out'], ['second', '-sess_in']] as const) {
      const client = sClient('-dtls1_2', '-connect', `127.0.0.1:${port}`, '-CAfile', 'root.crt', '-servername', 'localhost', flag, file);
      await client.waitOutput(run === 'first' ? 'New, TLSv1.2' : 'Reused, TLSv1.2');
      client.send('Q\n');
      await client.waitExit();
    }
    const summaries = lines(server.stderr).filter((l) => / DTLSv1\.2, /.test(l));
    expect(summaries, server.describe()).toHaveLength(2);
    expect(summaries[0]).not.toMatch(/resumed/);
    expect(summaries[1]).toMatch(/, resumed$/);
  });
});

// ---- --trace and states ------------------------------------------------------------------

it('--trace on tsls client and tsls server prints state transitions and messages on stderr only', async () => {
  const { server, port } = await startTslsServer('--echo', ...SERVER_PKI, '--trace');
  const client = tslsClient(port, '--ca', 'root.crt', '--servername', 'localhost', '--trace');
  await client.waitOutput('tsls: connected to');
  await echo(client, 'traced');
  client.closeStdin();
  await expectExit(client, 0);
  expect(client.stdout).toBe('traced\n');
  expect(client.stderr).toMatch(/C\.ClientHello -> C\.ServerHello/);
  expect(client.stderr).toMatch(/>>> client_hello \d+ bytes/);
  expect(client.stderr).toMatch(/<<< server_hello \d+ bytes/);
  await server.waitOutput(/connection \w+ -> CLOSED/);
  expect(server.stdout).toBe('');
  expect(server.stderr).toMatch(/S\.ClientHello -> S\.ServerHello/);
  expect(server.stderr).toMatch(/<<< client_hello \d+ bytes/);
  expect(server.stderr).toMatch(/>>> server_hello \d+ bytes/);
});

it('--trace over TLS 1.2 names the suite, the group and the signature scheme of each message, as for TLS 1.3', async () => {
  const { port } = await startOpensslServer({ rev: true, version: 'TLSv1.2' });
  const client = tslsClient(port, '--ca', 'root.crt', '--servername', 'localhost', '--max-version', 'TLSv1.2', '--trace');
  await client.waitOutput('tsls: connected to');
  client.closeStdin();
  await expectExit(client, 0);
  expect(client.stderr).toMatch(/>>> client_hello \d+ bytes: suites=(grease:0x\w+,)?TLS_ECDHE_\w+.* groups=(grease:0x\w+,)?x25519,[\w,]+ schemes=(grease:0x\w+,)?ecdsa_secp256r1_sha256,/);
  expect(client.stderr).toMatch(/<<< server_hello_tls12 \d+ bytes: suite=TLS_ECDHE_ECDSA_WITH_\w+ session_id=\d+ bytes/);
  expect(client.stderr).toMatch(/<<< server_key_exchange \d+ bytes: group=x25519 public=32 bytes scheme=\w+ signature=\d+ bytes/);
  expect(client.stderr).toMatch(/>>> client_key_exchange \d+ bytes: public=32 bytes/);
});

it('tsls states client prints a Mermaid state diagram of the client handshake', async () => {
  const states = tsls('states', 'client');
  await expectExit(states, 0);
  expect(states.stdout).toMatch(/^stateDiagram-v2\n/);
  expect(states.stdout).toContain('C_ClientHello --> C_ServerHello');
  expect(states.stderr).toBe('');
  const server = tsls('states', 'server');
  await expectExit(server, 0);
  expect(server.stdout).toMatch(/S_ClientHello --> S_ServerHello/);
});
