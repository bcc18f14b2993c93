/**
 * ECH against OpenSSL 4.0: key files. OpenSSL's s_server serves ECH with the key file
 * `tsls ech` writes (its s_client reports ECH success and reaches the inner name), and we
 * read the key file `openssl ech` writes.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { nobleProvider as p } from '../../src/crypto/noble.js';
import { Connection } from '../../src/connection.js';
import { echConfigListBase64, echConfigListBytes, generateEchKey, parseEchKeyFile, type EchKey } from '../../src/ech/keys.js';
import { ECH_EXTENSION, encodeEchConfigList, parseEchClientHello, parseEchConfigList } from '../../src/messages/ech.js';
import type { MessageOf } from '../../src/messages/handshake.js';
import type { ClientOptions } from '../../src/config.js';
import type { EchRequiredError } from '../../src/statem/ech-client.js';
import { defaultClientOptions, defaultServerOptions } from '../helpers/pair.js';
import { killAllPeers, opensslEchKeys, peers, startOpensslClient, startOpensslServer, type Peer } from '../helpers/peers.js';
import { SocketDriver, connectTo, destroyAllDrivers, echoReversed, listenerPerTest } from '../helpers/socket-driver.js';

const TSLS = new URL('../../bin/tsls.js', import.meta.url).pathname;
/** The X25519MLKEM768 client share: a compressed inner hello is shorter than this one extension. */
const HYBRID_SHARE = 1216;

afterEach(async () => {
  destroyAllDrivers();
  await killAllPeers();
});

describe('ECH key files with OpenSSL 4', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsls-ech-keys-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("we read OpenSSL 4's key file: the config it prints and the public half of its key agree", () => {
    const { keyFile, configList } = opensslEchKeys(dir, 'openssl.example');
    const [key] = parseEchKeyFile(p, readFileSync(keyFile, 'utf8'));
    expect(key!.config.contents.public_name).toBe('openssl.example');
    expect(encodeEchConfigList([key!.config])).toEqual(echConfigListBytes(configList));
    expect(key!.publicKey).toEqual(key!.config.contents.key_config.public_key);
  });

  it('OpenSSL 4 s_server serves ECH with the file `tsls ech` wrote: its s_client reaches the inner name', async () => {
    const keyFile = join(dir, 'tsls-ech.pem');
    const configList = execFileSync(process.execPath, [TSLS, 'ech', '--public-name', 'public.example', '--out', keyFile], { encoding: 'utf8' }).trim();
    const { port } = await startOpensslServer({ peer: peers.openssl4, rev: true, extra: ['-ech_key', keyFile] });
    const client = startOpensslClient(port, { peer: peers.openssl4, extra: ['-ech_config_list', configList] });
    await client.waitOutput('Verify return code: 0 (ok)');
    client.send('hidden\n');
    await client.waitOutput('neddih');
    client.closeStdin();
    expect(client.output).toMatch(/ECH: success/);
    expect(client.output).toMatch(/ECH: inner: localhost/);
    expect(client.output).toMatch(/ECH: outer: public\.example/);
  });
});

describe(`our ECH client → ${peers.openssl4.title} s_server -ech_key`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsls-ech-client-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('ECH accepted: the inner name localhost is reached through public.example, and data flows', async () => {
    const { keyFile, configList } = opensslEchKeys(dir);
    const { peer, port } = await startOpensslServer({ peer: peers.openssl4, rev: true, extra: ['-ech_key', keyFile] });
    const d = await connectTo(peer, port, defaultClientOptions({ ech: { configList } }));
    await d.waitHandshake();
    expect(d.conn.echStatus).toBe('accepted');
    await echoReversed(d, 'through ECH');
  });

  it.each([
    ['OpenSSL 4 with ECH keys (it answers with retry configs, which GREASE ignores)', true],
    ['OpenSSL 3.0 (no ECH at all)', false],
  ])('GREASE ECH against %s: the handshake completes and data flows', async (_what, withKeys) => {
    const { keyFile } = opensslEchKeys(dir);
    const { peer, port } = await startOpensslServer(
      withKeys ? { peer: peers.openssl4, rev: true, extra: ['-ech_key', keyFile] } : { peer: peers.openssl3, rev: true },
    );
    const d = await connectTo(peer, port, defaultClientOptions({ echGrease: true }));
    await d.waitHandshake();
    expect(d.conn.echStatus).toBeUndefined();
    await echoReversed(d, 'greased');
  });

  it('ECH accepted across a HelloRetryRequest (our share is P-256, s_server wants X25519)', async () => {
    const { keyFile, configList } = opensslEchKeys(dir);
    const { peer, port } = await startOpensslServer({ peer: peers.openssl4, rev: true, groups: 'X25519', extra: ['-ech_key', keyFile] });
    const d = await connectTo(peer, port, defaultClientOptions({ ech: { configList }, groups: ['secp256r1', 'x25519'], keyShareGroups: ['secp256r1'] }));
    await d.waitHandshake();
    expect(d.conn.helloRetried).toBe(true);
    expect(d.conn.group).toBe('x25519');
    expect(d.conn.echStatus).toBe('accepted');
    await echoReversed(d, 'retried through ECH');
  });

  /** A client connection that records the ECH payload of each outer hello it sends and each inner hello behind them. */
  function watchedClient(options: ClientOptions) {
    const conn = Connection.client(defaultClientOptions(options));
    const payloads: number[] = [];
    const inner: MessageOf<'client_hello'>[] = [];
    conn.on('message', (dir, msg, _length, ech) => {
      if (dir !== 'send' || msg.type !== 'client_hello') return;
      if (ech === 'inner') return void inner.push(msg);
      const data = msg.extensions.list.find((e) => e.type === ECH_EXTENSION)!.value as Uint8Array;
      const outer = parseEchClientHello(data);
      payloads.push(outer.type === 'outer' ? outer.payload.length : -1);
    });
    return { conn, payloads, inner };
  }

  it('ECH accepted with a compressed inner hello: its X25519MLKEM768 share travels once, outside (the payload is shorter than the share)', async () => {
    const { keyFile, configList } = opensslEchKeys(dir);
    const { peer, port } = await startOpensslServer({ peer: peers.openssl4, rev: true, extra: ['-ech_key', keyFile] });
    const w = watchedClient({ ech: { configList }, keyShareGroups: ['X25519MLKEM768'] });
    const d = await SocketDriver.connect(w.conn, port, '127.0.0.1', { context: () => peer.describe() });
    await d.waitHandshake();
    expect(d.conn.echStatus).toBe('accepted');
    expect(d.conn.group).toBe('X25519MLKEM768');
    expect(w.inner[0]!.extensions.get('key_share', 'client_hello')!.client_shares[0]!.key_exchange.length).toBe(HYBRID_SHARE);
    expect(w.payloads[0]).toBeLessThan(HYBRID_SHARE);
    expect(w.payloads[0]! % 32).toBe(16);
    await echoReversed(d, 'compressed');
  });

  it('ECH accepted across a HelloRetryRequest with compressed inner hellos: the second refers to the new X25519MLKEM768 share', async () => {
    const { keyFile, configList } = opensslEchKeys(dir);
    const { peer, port } = await startOpensslServer({ peer: peers.openssl4, rev: true, groups: 'X25519MLKEM768', extra: ['-ech_key', keyFile] });
    const w = watchedClient({ ech: { configList }, groups: ['x25519', 'X25519MLKEM768'], keyShareGroups: ['x25519'] });
    const d = await SocketDriver.connect(w.conn, port, '127.0.0.1', { context: () => peer.describe() });
    await d.waitHandshake();
    expect(d.conn.helloRetried).toBe(true);
    expect(d.conn.echStatus).toBe('accepted');
    expect(d.conn.group).toBe('X25519MLKEM768');
    expect(w.inner).toHaveLength(2);
    expect(w.inner[1]!.extensions.get('key_share', 'client_hello')!.client_shares[0]!.key_exchange.length).toBe(HYBRID_SHARE);
    expect(w.payloads[1]).toBeLessThan(HYBRID_SHARE);
    await echoReversed(d, 'compressed after retry');
  });

  it('ECH rejected (a config for a key the server does not hold): the certificate is checked for public_name, then ERR_TLS_ECH_REQUIRED with the retry configs', async () => {
    const { keyFile, configList: served } = opensslEchKeys(dir);
    const { configList: stranger } = opensslEchKeys(dir, 'localhost');
    const { peer, port } = await startOpensslServer({ peer: peers.openssl4, rev: true, extra: ['-ech_key', keyFile] });
    const d = await connectTo(peer, port, defaultClientOptions({ ech: { configList: stranger }, servername: 'inner.example' }));
    const err = await d.waitError();
    expect(err.code).toBe('ERR_TLS_ECH_REQUIRED');
    expect(d.conn.echStatus).toBe('rejected');
    const retry = (err as EchRequiredError).retryConfigs;
    expect(retry).toBeDefined();
    expect(parseEchConfigList(retry!).map((c) => c.raw)).toEqual(parseEchConfigList(echConfigListBytes(served)).map((c) => c.raw));
  });
});

describe(`our ECH client → ${peers.openssl4.title} s_server -tls1_2 (RFC 9849 section 6.1.6)`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsls-ech-tls12-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the server picks TLS 1.2 from the outer hello: it is authenticated for public_name localhost, the handshake runs to its Finished, then ERR_TLS_ECH_REQUIRED without retry configs', async () => {
    const { configList } = opensslEchKeys(dir, 'localhost');
    const { peer, port } = await startOpensslServer({ peer: peers.openssl4, rev: true, version: 'TLSv1.2' });
    const d = await connectTo(peer, port, defaultClientOptions({ ech: { configList }, servername: 'inner.example' }));
    const err = await d.waitError();
    expect(err.code).toBe('ERR_TLS_ECH_REQUIRED');
    expect(err.alert).toBe('ech_required');
    expect((err as EchRequiredError).retryConfigs).toBeUndefined();
    expect(d.conn.echStatus).toBe('rejected');
    expect(d.messages).toContain('recv server_hello_tls12');
    expect(d.messages).toContain('send finished');
    expect(d.messages).toContain('recv finished');
  });

  it('a TLS 1.2 server whose certificate is not for the public_name fails on the certificate, not with ech_required', async () => {
    const { configList } = opensslEchKeys(dir, 'public.example');
    const { peer, port } = await startOpensslServer({ peer: peers.openssl4, rev: true, version: 'TLSv1.2' });
    const d = await connectTo(peer, port, defaultClientOptions({ ech: { configList }, servername: 'localhost' }));
    const err = await d.waitError();
    expect(err.code).not.toBe('ERR_TLS_ECH_REQUIRED');
    expect(err.alert).toMatch(/certificate/);
    expect(d.messages).not.toContain('recv finished');
  });
});

describe(`${peers.openssl4.title} s_client -ech_config_list → our ECH server`, () => {
  const listener = listenerPerTest();
  const dir = mkdtempSync(join(tmpdir(), 'tsls-ech-server-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function serve(peer: Peer, keys: EchKey[]) {
    const d = await listener().accept(Connection.server(defaultServerOptions({ ech: { keys } })), { context: () => peer.describe() });
    d.conn.on('data', (bytes) => d.write(bytes));
    return d;
  }

  it('ECH accepted with our key file: s_client reports success and the inner name; we see the inner SNI', async () => {
    const keyFile = join(dir, 'ours.pem');
    const configList = execFileSync(process.execPath, [TSLS, 'ech', '--public-name', 'public.example', '--out', keyFile], { encoding: 'utf8' }).trim();
    const keys = parseEchKeyFile(p, readFileSync(keyFile, 'utf8'));
    const peer = startOpensslClient(listener().port, { peer: peers.openssl4, extra: ['-ech_config_list', configList] });
    const d = await serve(peer, keys);
    await d.waitHandshake();
    await peer.waitOutput('Verify return code: 0 (ok)');
    peer.send('inside\n');
    await peer.waitOutput('inside');
    expect(peer.output).toMatch(/ECH: success/);
    expect(peer.output).toMatch(/ECH: inner: localhost/);
    expect(peer.output).toMatch(/ECH: outer: public\.example/);
    expect(d.conn.echStatus).toBe('accepted');
    expect(d.conn.servername).toBe('localhost');
  });

  it("OpenSSL 4's compressed inner hello is rebuilt: its X25519MLKEM768 share came from the outer hello (the payload is shorter than the share)", async () => {
    const keys = [generateEchKey(p, { publicName: 'public.example' })];
    const peer = startOpensslClient(listener().port, { peer: peers.openssl4, groups: 'X25519MLKEM768', extra: ['-ech_config_list', echConfigListBase64(keys)] });
    const conn = Connection.server(defaultServerOptions({ ech: { keys } }));
    let payload = -1;
    let inner: MessageOf<'client_hello'> | undefined;
    conn.on('message', (dir, msg, _length, ech) => {
      if (dir !== 'recv' || msg.type !== 'client_hello') return;
      if (ech === 'inner') return void (inner = msg);
      const outer = parseEchClientHello(msg.extensions.list.find((e) => e.type === ECH_EXTENSION)!.value as Uint8Array);
      payload = outer.type === 'outer' ? outer.payload.length : -1;
    });
    const d = await listener().accept(conn, { context: () => peer.describe() });
    await d.waitHandshake();
    await peer.waitOutput(/ECH: success/);
    expect(d.conn.echStatus).toBe('accepted');
    expect(d.conn.group).toBe('X25519MLKEM768');
    expect(inner!.extensions.get('key_share', 'client_hello')!.client_shares[0]!.key_exchange.length).toBe(HYBRID_SHARE);
    expect(payload).toBeGreaterThan(0);
    expect(payload).toBeLessThan(HYBRID_SHARE);
  });

  it("ECH accepted with OpenSSL's own key file (openssl ech) loaded by us", async () => {
    const { keyFile, configList } = opensslEchKeys(dir, 'public.example');
    const peer = startOpensslClient(listener().port, { peer: peers.openssl4, extra: ['-ech_config_list', configList] });
    const d = await serve(peer, parseEchKeyFile(p, readFileSync(keyFile, 'utf8')));
    await d.waitHandshake();
    await peer.waitOutput(/ECH: success/);
    expect(d.conn.echStatus).toBe('accepted');
  });

  it('ECH accepted across a HelloRetryRequest: s_client shares P-256, our server wants X25519', async () => {
    const keys = [generateEchKey(p, { publicName: 'public.example' })];
    const peer = startOpensslClient(listener().port, { peer: peers.openssl4, groups: 'P-256:X25519', extra: ['-ech_config_list', echConfigListBase64(keys)] });
    // No HRR cookie: OpenSSL 4.0.3's second inner hello refers (ech_outer_extensions) to a cookie
    // its outer hello does not carry, which RFC 9849 section 5.1 makes illegal_parameter.
    const d = await listener().accept(Connection.server(defaultServerOptions({ ech: { keys }, groups: ['x25519'], helloRetryCookie: false })), {
      context: () => peer.describe(),
    });
    d.conn.on('data', (bytes) => d.write(bytes));
    await d.waitHandshake();
    await peer.waitOutput(/ECH: success/);
    expect(d.conn.helloRetried).toBe(true);
    expect(d.conn.echStatus).toBe('accepted');
    expect(d.conn.servername).toBe('localhost');
  });

  it('ECH rejected (s_client has a config we do not hold): we send retry configs, s_client reports the failure', async () => {
    const { configList: stranger } = opensslEchKeys(dir, 'localhost');
    const ours = generateEchKey(p, { publicName: 'localhost' });
    const peer = startOpensslClient(listener().port, { peer: peers.openssl4, extra: ['-ech_config_list', stranger] });
    const d = await serve(peer, [ours]);
    await peer.waitOutput(/ECH: failed/);
    expect(peer.output).not.toMatch(/ECH: success/);
    expect(d.conn.echStatus).toBe('rejected');
  });
});
