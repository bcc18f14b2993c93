/**
 * The `tsls` command (src/cli.ts), run as a child process (`node dist/cli.js`, built by
 * `npm test`'s tsc step) against real openssl and gnutls peers, and against itself.
 *
 * What the CLI promises: application data goes to stdout and nothing else does; summaries,
 * traces, warnings and errors go to stderr; expected failures are one line (no stack
 * trace) and exit code 1; stdin EOF ends a client with exit code 0.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  killAllPeers,
  Peer,
  requireBinary,
  startGnutlsClient,
  startGnutlsServer,
  startOpensslClient,
  startOpensslServer,
  type Exit,
} from './helpers/peers.js';
import { CLI, startTslsServer, tsls } from './helpers/tsls-cli.js';

/** The test PKI's server chain: leaf-ecdsa-p256 followed by the intermediate. */
const SERVER_PKI = ['--cert', 'leaf-ecdsa-p256.chain.pem', '--key', 'leaf-ecdsa-p256.key'];

const reverse = (s: string) => [...s].reverse().join('');
const lines = (s: string) => s.split('\n').filter((l) => l !== '');

it('the CLI is built and openssl and gnutls are installed', () => {
  expect(existsSync(CLI), `${CLI} is missing: run \`npx tsc -p .\` (npm test does) first`).toBe(true);
  for (const name of ['node', 'openssl', 'gnutls-cli', 'gnutls-serv']) expect(requireBinary(name)).toBeTruthy();
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
  return new Peer('openssl', ['s_client', ...args]);
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

describe("the README's promise: `tsls server`, then `openssl s_client -connect localhost:PORT`", () => {
  it('tsls server with nothing but --port uses a throwaway certificate, completes TLS 1.3 with openssl s_client and echoes its line', async () => {
    const { server, port } = await startTslsServer();
    expect(server.stderr).toMatch(/throwaway self-signed certificate/);
    const client = sClient('-connect', `localhost:${port}`);
    await client.waitOutput('New, TLSv1.3');
    await echo(client, 'hello from the README');
    await server.waitOutput(/: TLSv1\.3, TLS_\w+, \w+/);
    expect(server.stdout).toBe('');
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

  it('gnutls-cli completes TLS 1.3 with tsls server and gets its data echoed', async () => {
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

  it('tsls client --servername localhost sends SNI localhost', async () => {
    const { peer, port } = await startOpensslServer({ rev: true, extra: ['-trace'] });
    const client = tslsClient(port, '--ca', 'root.crt', '--servername', 'localhost');
    await client.waitOutput('tsls: connected to');
    await echoReversed(client, 'with sni');
    client.closeStdin();
    await expectExit(client, 0);
    expect(peer.output).toMatch(/extension_type=server_name\(0\), length=14\n\s+0000 - 00 0c 00 00 09 6c 6f 63-61 6c 68 6f 73 74 /);
  });

  it('tsls client against gnutls-serv --echo: stdout is exactly the echo, EOF exits 0', async () => {
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
    const errors = lines(client.stderr).filter((l) => !l.startsWith('tsls: connected to'));
    expect(errors, client.describe()).toHaveLength(1);
    expect(errors[0]).toMatch(/CERTIFICATE_REQUIRED/);
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
