/**
 * TLS 1.3 0-RTT early data against OpenSSL 3.0 and 4.0, both directions, through the `tsls`
 * command: `openssl s_client -sess_out`, then `-sess_in … -early_data FILE` against `tsls
 * server --early-data` (accepted and echoed; refused for a ticket of another server, and
 * the handshake goes on), and `tsls client --session F --early-data FILE` against `openssl
 * s_server -early_data` (accepted; refused by a server that cannot open the ticket, and the
 * data resent after the handshake).
 */
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { killAllPeers, peers, startOpensslClient, startOpensslServer, type Peer, type TlsPeer } from '../helpers/peers.js';
import { SERVER_PKI, expectCliBuilt, startTslsServer, tsls } from '../helpers/tsls-cli.js';

const EARLY = 'GET /early 0-RTT\n';

const tmp = mkdtempSync(join(tmpdir(), 'tsls-early-'));
const earlyFile = join(tmp, 'early.txt');
writeFileSync(earlyFile, EARLY);

afterEach(killAllPeers);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

it('the CLI is built', expectCliBuilt);

function tslsClient(port: number, ...args: string[]): Peer {
  return tsls('client', `127.0.0.1:${port}`, '--servername', 'localhost', '--ca', 'root.crt', ...args);
}

/** A first s_client connection to `port` that saves its TLS 1.3 session (with the ticket's max_early_data) to `file`. */
async function opensslSession(peer: TlsPeer, port: number, file: string): Promise<string> {
  const first = startOpensslClient(port, { peer, extra: ['-sess_out', file] });
  // s_client prints the session once our ticket arrives; its last line is the ticket's early data limit.
  await first.waitOutput(/Protocol  : TLSv1\.3[\s\S]*Max Early Data: \d+/);
  const limit = /Max Early Data: (\d+)/.exec(first.output)![1]!;
  first.send('Q\n');
  expect((await first.waitExit()).code).toBe(0);
  expect(existsSync(file) && statSync(file).size > 0).toBe(true);
  return limit;
}

/** A first tsls client connection to `port` that keeps its session in `file`. */
async function tslsSession(port: number, file: string): Promise<void> {
  const first = tslsClient(port, '--session', file);
  await first.waitOutput(`session ticket received, lifetime 7200 s, kept in ${file}`);
  first.closeStdin();
  expect((await first.waitExit()).code).toBe(0);
}

for (const peer of [peers.openssl3, peers.openssl4]) {
  describe(`${peer.title} s_client -early_data → tsls server --early-data`, () => {
    it('a ticket from tsls server --early-data allows 16384 bytes; s_client -sess_in -early_data sends its file as 0-RTT, accepted and echoed', async () => {
      const { server, port } = await startTslsServer('--host', '127.0.0.1', '--early-data', ...SERVER_PKI);
      const file = join(tmp, `${peer.version}-accepted.sess`);
      expect(await opensslSession(peer, port, file)).toBe('16384');
      const second = startOpensslClient(port, { peer, extra: ['-sess_in', file, '-early_data', earlyFile] });
      await second.waitOutput('Early data was accepted');
      await second.waitOutput(EARLY);
      expect(second.output).toContain('Reused, TLSv1.3');
      await server.waitOutput(`${EARLY.length} bytes arrived as early data (0-RTT)`);
      expect(server.output).toMatch(/resumed, early data accepted/);
      second.send('after the handshake\n');
      await second.waitOutput(/^after the handshake$/m);
    });

    it('the same session offered twice: the replay of the ticket gets no 0-RTT, a normal resumed handshake instead', async () => {
      const { server, port } = await startTslsServer('--host', '127.0.0.1', '--early-data', ...SERVER_PKI);
      const file = join(tmp, `${peer.version}-replayed.sess`);
      await opensslSession(peer, port, file);
      const once = startOpensslClient(port, { peer, extra: ['-sess_in', file, '-early_data', earlyFile] });
      await once.waitOutput('Early data was accepted');
      once.send('Q\n');
      await once.waitExit();
      const twice = startOpensslClient(port, { peer, extra: ['-sess_in', file, '-early_data', earlyFile] });
      await twice.waitOutput('Early data was rejected');
      expect(twice.output).toContain('Reused, TLSv1.3');
      twice.send('still talking\n');
      await twice.waitOutput(/^still talking$/m);
      await server.waitOutput(/resumed, early data rejected/);
    });

    it('a tsls server without --early-data issues tickets that allow no 0-RTT', async () => {
      const { port } = await startTslsServer('--host', '127.0.0.1', ...SERVER_PKI);
      expect(await opensslSession(peer, port, join(tmp, `${peer.version}-no-early.sess`))).toBe('0');
    });

    it('a ticket of another tsls server (other ticket keys): the early data is refused and skipped, the handshake completes in full', async () => {
      const file = join(tmp, `${peer.version}-foreign.sess`);
      const issuer = await startTslsServer('--host', '127.0.0.1', '--early-data', ...SERVER_PKI);
      await opensslSession(peer, issuer.port, file);
      const { server, port } = await startTslsServer('--host', '127.0.0.1', '--early-data', ...SERVER_PKI);
      const client = startOpensslClient(port, { peer, extra: ['-sess_in', file, '-early_data', earlyFile] });
      await client.waitOutput('Early data was rejected');
      expect(client.output).toContain('New, TLSv1.3');
      client.send('full handshake\n');
      await client.waitOutput(/^full handshake$/m);
      await server.waitOutput(/TLSv1\.3, \S+, \S+, early data rejected/);
    });
  });

  describe(`tsls client --early-data → ${peer.title} s_server -early_data`, () => {
    it('tsls client --session F --early-data FILE: s_server receives FILE as early data and the client says it was accepted', async () => {
      const { peer: server, port } = await startOpensslServer({ peer, naccept: 2, extra: ['-early_data'] });
      const file = join(tmp, `${peer.version}-tsls-accepted.sess`);
      await tslsSession(port, file);
      const second = tslsClient(port, '--session', file, '--early-data', earlyFile);
      await second.waitOutput(/connected to .*TLSv1\.3, \S+, \S+, resumed, early data accepted/);
      await server.waitOutput(`Early data received:\n${EARLY}`);
      await server.waitOutput('End of early data');
      second.closeStdin();
      expect((await second.waitExit()).code).toBe(0);
    });

    it('a ticket s_server cannot open (another s_server): the early data is refused, resent after the full handshake, and arrives', async () => {
      const issuer = await startOpensslServer({ peer, naccept: 1, extra: ['-early_data'] });
      const file = join(tmp, `${peer.version}-tsls-foreign.sess`);
      await tslsSession(issuer.port, file);
      const { peer: server, port } = await startOpensslServer({ peer, naccept: 1, extra: ['-early_data'] });
      const client = tslsClient(port, '--session', file, '--early-data', earlyFile);
      await client.waitOutput(/connected to .*TLSv1\.3, \S+, \S+, early data rejected/);
      expect(client.output).not.toMatch(/connected to .*resumed/);
      await server.waitOutput(EARLY);
      expect(server.output).not.toContain('Early data received:');
      client.closeStdin();
      expect((await client.waitExit()).code).toBe(0);
    });
  });
}
