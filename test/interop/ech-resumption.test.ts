/**
 * Resumption inside Encrypted Client Hello against OpenSSL 4, both directions, through the
 * `tsls` command: `openssl s_client -ech_config_list … -sess_out F`, then `-sess_in F`, against
 * `tsls server --ech-key` (s_client reports "Reused, TLSv1.3" and ECH success), and `tsls client
 * --ech-config … --session F` twice against `openssl s_server -ech_key` (the second says
 * resumed and ECH accepted, s_server says it reused the session). OpenSSL 4 first resumes
 * with ECH against itself, so the pair of flags means what the other tests take it to mean.
 * 0-RTT inside ECH goes both ways too, and so does a resumption across a HelloRetryRequest (our
 * server in-process for that one: its HRR cookie must be off for OpenSSL 4.0.3).
 */
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { nobleProvider as p } from '../../src/crypto/noble.js';
import { Connection } from '../../src/connection.js';
import { echConfigListBase64, generateEchKey } from '../../src/ech/keys.js';
import { defaultServerOptions } from '../helpers/pair.js';
import { killAllPeers, opensslEchKeys, peers, startOpensslClient, startOpensslServer, type Peer } from '../helpers/peers.js';
import { destroyAllDrivers, listenerPerTest } from '../helpers/socket-driver.js';
import { SERVER_PKI, expectCliBuilt, startTslsServer, tsls } from '../helpers/tsls-cli.js';

const EARLY = 'GET /early-inside-ech\n';

const tmp = mkdtempSync(join(tmpdir(), 'tsls-ech-resume-'));
const earlyFile = join(tmp, 'early.txt');
writeFileSync(earlyFile, EARLY);

afterEach(async () => {
  destroyAllDrivers();
  await killAllPeers();
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

it('the CLI is built', expectCliBuilt);

/** `openssl s_client` (OpenSSL 4) with ECH to localhost (verified against root.crt), plus `extra`. */
function echClient(port: number, configList: string, ...extra: string[]): Peer {
  return startOpensslClient(port, { peer: peers.openssl4, extra: ['-ech_config_list', configList, ...extra] });
}

/** A first s_client connection over ECH that saves its session to `file` once our ticket arrives. */
async function opensslSessionOverEch(port: number, configList: string, file: string): Promise<Peer> {
  const first = echClient(port, configList, '-sess_out', file);
  await first.waitOutput(/Protocol  : TLSv1\.3[\s\S]*Max Early Data: \d+/);
  expect(first.output).toMatch(/New, TLSv1\.3, Cipher is/);
  expect(first.output).toMatch(/ECH: success: 1/);
  first.send('Q\n');
  expect((await first.waitExit()).code).toBe(0);
  expect(existsSync(file) && statSync(file).size > 0).toBe(true);
  return first;
}

function tslsEchClient(port: number, configList: string, ...args: string[]): Peer {
  return tsls('client', `127.0.0.1:${port}`, '--servername', 'localhost', '--ca', 'root.crt', '--ech-config', configList, ...args);
}

/** A first tsls client connection over ECH that keeps its session in `file`. */
async function tslsSessionOverEch(port: number, configList: string, file: string): Promise<void> {
  const first = tslsEchClient(port, configList, '--session', file);
  await first.waitOutput(/connected to .*TLSv1\.3, \S+, \S+, ECH accepted/);
  await first.waitOutput(`session ticket received, lifetime 7200 s, kept in ${file}`);
  expect(first.output).not.toMatch(/connected to .*resumed/);
  first.closeStdin();
  expect((await first.waitExit()).code).toBe(0);
}

describe(`${peers.openssl4.title} resumes inside ECH against itself`, () => {
  it('s_client -ech_config_list -sess_out, then -sess_in, against s_server -ech_key: Reused, TLSv1.3 with ECH success', async () => {
    const { keyFile, configList } = opensslEchKeys(tmp);
    const { peer: server, port } = await startOpensslServer({ peer: peers.openssl4, naccept: 2, extra: ['-ech_key', keyFile] });
    const file = join(tmp, 'openssl-openssl.sess');
    await opensslSessionOverEch(port, configList, file);
    const second = echClient(port, configList, '-sess_in', file);
    await second.waitOutput(/ECH: success: 1/);
    expect(second.output).toMatch(/Reused, TLSv1\.3, Cipher is/);
    expect(second.output).toMatch(/ECH: inner: localhost/);
    expect(second.output).toMatch(/ECH: outer: public\.example/);
    await server.waitOutput('Reused session-id');
    second.send('Q\n');
    await second.waitExit();
  });
});

describe(`${peers.openssl4.title} s_client -ech_config_list -sess_in → tsls server --ech-key`, () => {
  it('the ticket from the first ECH connection resumes the second: Reused, TLSv1.3 and ECH success; the server says resumed, ECH accepted, SNI localhost', async () => {
    const { keyFile, configList } = opensslEchKeys(tmp);
    const { server, port } = await startTslsServer('--host', '127.0.0.1', '--ech-key', keyFile, ...SERVER_PKI);
    const file = join(tmp, 'openssl-tsls.sess');
    await opensslSessionOverEch(port, configList, file);
    await server.waitOutput(/TLSv1\.3, \S+, \S+, ECH accepted, SNI localhost/);
    const second = echClient(port, configList, '-sess_in', file);
    await second.waitOutput(/ECH: success: 1/);
    expect(second.output).toMatch(/Reused, TLSv1\.3, Cipher is/);
    await server.waitOutput(/resumed, ECH accepted, SNI localhost/);
    second.send('through a resumed ECH connection\n');
    await second.waitOutput('through a resumed ECH connection');
    second.send('Q\n');
    await second.waitExit();
  });

  it('a stale ECH config with the saved session: our server takes the outer hello (its GREASE PSK ignored) for a full handshake, s_client gets the retry configs and ends with ech_required', async () => {
    const { keyFile, configList } = opensslEchKeys(tmp);
    // The stale config's public name is localhost, so the rejecting handshake verifies.
    const { configList: stale } = opensslEchKeys(tmp, 'localhost');
    const { server, port } = await startTslsServer('--host', '127.0.0.1', '--ech-key', keyFile, ...SERVER_PKI);
    const file = join(tmp, 'openssl-tsls-stale.sess');
    await opensslSessionOverEch(port, configList, file);
    const second = echClient(port, stale, '-sess_in', file);
    await second.waitOutput(/ECH: failed\+retry-configs/);
    expect(second.output).toMatch(/ECH: Got 1 retry-configs/);
    expect(second.output).toMatch(/New, TLSv1\.3, Cipher is/);
    expect(second.output).not.toMatch(/Reused, TLSv1\.3/);
    await server.waitOutput(/handshake failed: peer sent alert ech_required/);
    expect(server.output).not.toMatch(/decode_error|resumed/);
  });

  it('0-RTT inside ECH: s_client -sess_in -early_data against tsls server --early-data: accepted under the inner hello and echoed', async () => {
    const { keyFile, configList } = opensslEchKeys(tmp);
    const { server, port } = await startTslsServer('--host', '127.0.0.1', '--early-data', '--ech-key', keyFile, ...SERVER_PKI);
    const file = join(tmp, 'openssl-tsls-early.sess');
    const first = await opensslSessionOverEch(port, configList, file);
    expect(first.output).toMatch(/Max Early Data: 16384/);
    const second = echClient(port, configList, '-sess_in', file, '-early_data', earlyFile);
    await second.waitOutput(/ECH: success: 1/);
    await server.waitOutput(`${EARLY.length} bytes arrived as early data (0-RTT)`);
    expect(server.output).toMatch(/resumed, ECH accepted, early data accepted/);
    await second.waitOutput('Early data was accepted');
    second.send('Q\n');
    await second.waitExit();
  });
});

describe(`${peers.openssl4.title} s_client -ech_config_list -sess_in → our ECH server, across a HelloRetryRequest`, () => {
  const listener = listenerPerTest();

  it('s_client shares P-256, our server wants X25519: both connections retry, the second resumes with the binder of its second inner hello', async () => {
    const keys = [generateEchKey(p, { publicName: 'public.example' })];
    const configList = echConfigListBase64(keys);
    // One options object: one set of ticket keys. No HRR cookie: OpenSSL 4.0.3's second inner
    // hello refers (ech_outer_extensions) to a cookie its outer hello does not carry.
    const options = defaultServerOptions({ ech: { keys }, groups: ['x25519'], helloRetryCookie: false });
    const file = join(tmp, 'openssl-ours-hrr.sess');
    const retry = (...extra: string[]) => startOpensslClient(listener().port, { peer: peers.openssl4, groups: 'P-256:X25519', extra: ['-ech_config_list', configList, ...extra] });

    const first = retry('-sess_out', file);
    const d1 = await listener().accept(Connection.server(options), { context: () => first.describe() });
    await d1.waitHandshake();
    await first.waitOutput(/Protocol  : TLSv1\.3[\s\S]*Max Early Data: \d+/);
    expect(d1.conn.helloRetried).toBe(true);
    expect(d1.conn.sessionReused).toBe(false);
    first.send('Q\n');
    await first.waitExit();

    const second = retry('-sess_in', file);
    const d2 = await listener().accept(Connection.server(options), { context: () => second.describe() });
    d2.conn.on('data', (bytes) => d2.write(bytes));
    await d2.waitHandshake();
    await second.waitOutput(/ECH: success: 1/);
    expect(second.output).toMatch(/Reused, TLSv1\.3, Cipher is/);
    expect(d2.conn.helloRetried).toBe(true);
    expect(d2.conn.echStatus).toBe('accepted');
    expect(d2.conn.sessionReused).toBe(true);
    expect(d2.conn.servername).toBe('localhost');
    expect(d2.messages).not.toContain('send certificate');
    second.send('Q\n');
    await second.waitExit();
  });
});

describe(`tsls client --ech-config --session → ${peers.openssl4.title} s_server -ech_key`, () => {
  it('the second run resumes inside ECH: the client says resumed, ECH accepted; s_server reused the session', async () => {
    const { keyFile, configList } = opensslEchKeys(tmp);
    const { peer: server, port } = await startOpensslServer({ peer: peers.openssl4, naccept: 2, extra: ['-ech_key', keyFile] });
    const file = join(tmp, 'tsls-openssl.sess');
    await tslsSessionOverEch(port, configList, file);
    const second = tslsEchClient(port, configList, '--session', file);
    await second.waitOutput(/connected to .*TLSv1\.3, \S+, \S+, resumed, ECH accepted/);
    await server.waitOutput('Reused session-id');
    second.send('resumed inside ECH\n');
    await server.waitOutput('resumed inside ECH');
    second.closeStdin();
    expect((await second.waitExit()).code).toBe(0);
  });

  it('across a HelloRetryRequest (our share P-256, s_server wants X25519): resumed with binders over the second inner hello', async () => {
    const { keyFile, configList } = opensslEchKeys(tmp);
    const { peer: server, port } = await startOpensslServer({ peer: peers.openssl4, naccept: 2, groups: 'X25519', extra: ['-ech_key', keyFile] });
    const file = join(tmp, 'tsls-openssl-hrr.sess');
    const retry = ['--groups', 'P-256:X25519'];
    const first = tslsEchClient(port, configList, '--session', file, ...retry);
    await first.waitOutput(`kept in ${file}`);
    first.closeStdin();
    expect((await first.waitExit()).code).toBe(0);
    const second = tslsEchClient(port, configList, '--session', file, ...retry, '--trace');
    await second.waitOutput(/connected to .*TLSv1\.3, \S+, x25519, resumed, ECH accepted/);
    expect(second.output).toMatch(/hello_retry_request/);
    await server.waitOutput('Reused session-id');
    second.closeStdin();
    expect((await second.waitExit()).code).toBe(0);
  });

  it('a stale ECH config with the session and early data: s_server never reads the early data, the client ends with ERR_TLS_ECH_REQUIRED', async () => {
    const { keyFile, configList } = opensslEchKeys(tmp);
    // Its public name is localhost: the rejecting handshake is authenticated for it.
    const { configList: stale } = opensslEchKeys(tmp, 'localhost');
    const { peer: server, port } = await startOpensslServer({ peer: peers.openssl4, naccept: 2, extra: ['-early_data', '-ech_key', keyFile] });
    const file = join(tmp, 'tsls-openssl-stale-early.sess');
    await tslsSessionOverEch(port, configList, file);
    const second = tslsEchClient(port, stale, '--session', file, '--early-data', earlyFile);
    const exit = await second.waitExit();
    expect(exit.code, second.describe()).toBe(1);
    expect(second.stderr).toMatch(/ERR_TLS_ECH_REQUIRED/);
    expect(second.stderr).toMatch(/retry configs: --ech-config/);
    // The second connection's end, after whatever it read.
    await server.waitOutput(/CONNECTION CLOSED[\s\S]*CONNECTION CLOSED/);
    expect(server.output).not.toContain('Early data received');
    expect(server.output).not.toContain(EARLY.trim());
  });

  it('0-RTT inside ECH: tsls client --session F --early-data FILE against s_server -early_data -ech_key: accepted', async () => {
    const { keyFile, configList } = opensslEchKeys(tmp);
    const { peer: server, port } = await startOpensslServer({ peer: peers.openssl4, naccept: 2, extra: ['-early_data', '-ech_key', keyFile] });
    const file = join(tmp, 'tsls-openssl-early.sess');
    await tslsSessionOverEch(port, configList, file);
    const second = tslsEchClient(port, configList, '--session', file, '--early-data', earlyFile);
    await second.waitOutput(/connected to .*resumed, ECH accepted, early data accepted/);
    await server.waitOutput(`Early data received:\n${EARLY}`);
    second.closeStdin();
    expect((await second.waitExit()).code).toBe(0);
  });
});
