/**
 * TLS 1.3 interop with OpenSSL 3 (the system's) and OpenSSL 4 (fetched, see test/peers/setup.sh):
 * our client against `openssl s_server -tls1_3`, and `openssl s_client -tls1_3` against our
 * server, over real TCP sockets on 127.0.0.1; the same matrix for each OpenSSL.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { GroupName } from '../../src/crypto/provider.js';
import { Connection } from '../../src/connection.js';
import type { ClientOptions, ServerOptions } from '../../src/config.js';
import { parseCertificateChain } from '../../src/x509/parse-chain.js';
import { killAllPeers, peers, startOpensslClient, startOpensslServer, type Peer } from '../helpers/peers.js';
import { certifiedKey, readPki, rootCa, type LeafName } from '../helpers/pki.js';
import { connectTo, destroyAllDrivers, echoReversed, listenerPerTest, SocketDriver } from '../helpers/socket-driver.js';
import { defaultClientOptions } from '../helpers/pair.js';

const SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];
/** Our group name and OpenSSL's. */
const GROUPS: [GroupName, string][] = [
  ['x25519', 'X25519'],
  ['secp256r1', 'P-256'],
  ['secp384r1', 'P-384'],
];
const MATRIX = [
  ...SUITES.flatMap((suite) => GROUPS.map(([group, openssl]) => ({ suite, group, openssl }))),
  { suite: 'TLS_AES_256_GCM_SHA384', group: 'x448' as GroupName, openssl: 'X448' },
];
/** Leaf, the signature scheme TLS 1.3 must use with it, and a name for the test title. */
const KEY_TYPES: { leaf: LeafName; scheme: string; label: string }[] = [
  { leaf: 'leaf-ecdsa-p256', scheme: 'ecdsa_secp256r1_sha256', label: 'ECDSA P-256' },
  { leaf: 'leaf-ecdsa-p384', scheme: 'ecdsa_secp384r1_sha384', label: 'ECDSA P-384' },
  { leaf: 'leaf-ed25519', scheme: 'ed25519', label: 'Ed25519' },
  { leaf: 'leaf-rsa2048', scheme: 'rsa_pss_rsae_sha256', label: 'RSA-2048' },
];
const MATRIX_ROWS = MATRIX.map((m) => [m.suite, m.group, m.openssl] as const);
const KEY_ROWS = KEY_TYPES.map((k) => [k.label, k] as const);


const OPENSSLS = [peers.openssl3, peers.openssl4];

// No skipping when a peer is missing: this fails (and so does every test below, on its own).
it.each(OPENSSLS.map((o) => [o.title, o] as const))('%s is there', (_title, openssl) => {
  expect(openssl.bin).toBeTruthy();
});

afterEach(async () => {
  destroyAllDrivers();
  await killAllPeers();
});

for (const openssl of OPENSSLS) {
  describe(`our client → ${openssl.title} s_server -tls1_3`, () => {
    it.each(MATRIX_ROWS)('our client completes %s with %s against openssl s_server and exchanges data', async (suite, group, opensslGroup) => {
      const { peer, port } = await startOpensslServer({ peer: openssl, ciphersuites: suite, groups: opensslGroup, rev: true });
      const d = await connectTo(peer, port, defaultClientOptions({ cipherSuites: [suite], groups: [group] }));
      await d.waitHandshake();
      expect(d.conn.protocol).toBe('TLSv1.3');
      expect(d.conn.cipher?.name).toBe(suite);
      expect(d.conn.group).toBe(group);
      expect(d.conn.helloRetried).toBe(false);
      await echoReversed(d, `hello ${suite} ${group}`);
      await peer.waitOutput(`Ciphersuite: ${suite}`);
    });

    it.each(KEY_ROWS)('our client verifies an openssl s_server with an %s certificate against root.crt', async (_label, { leaf, scheme }) => {
      const { peer, port } = await startOpensslServer({ peer: openssl, leaf, rev: true });
      const d = await connectTo(peer, port, defaultClientOptions());
      await d.waitHandshake();
      expect(d.conn.signatureScheme).toBe(scheme);
      expect(d.conn.peerCertificates).toHaveLength(2);
      await echoReversed(d, `signed with ${scheme}`);
    });

    it('our client retries after openssl s_server answers its x25519 share with a HelloRetryRequest for secp256r1', async () => {
      const { peer, port } = await startOpensslServer({ peer: openssl, groups: 'P-256', rev: true });
      const d = await connectTo(peer, port, defaultClientOptions({ groups: ['x25519', 'secp256r1'], keyShareGroups: ['x25519'] }));
      await d.waitHandshake();
      expect(d.conn.helloRetried).toBe(true);
      expect(d.conn.group).toBe('secp256r1');
      expect(d.messages.filter((m) => m === 'send client_hello')).toHaveLength(2);
      await echoReversed(d, 'after a retry');
    });

    it('our client negotiates the ALPN protocol openssl s_server picks', async () => {
      const { peer, port } = await startOpensslServer({ peer: openssl, alpn: 'http/1.1', rev: true });
      const d = await connectTo(peer, port, defaultClientOptions({ ALPNProtocols: ['h2', 'http/1.1'] }));
      await d.waitHandshake();
      expect(d.conn.alpnProtocol).toBe('http/1.1');
      await echoReversed(d, 'alpn');
    });

    it.each([false, true])('data still flows after our client sends a KeyUpdate (update_requested=%s) to openssl s_server', async (requested) => {
      const { peer, port } = await startOpensslServer({ peer: openssl, rev: true });
      const d = await connectTo(peer, port, defaultClientOptions());
      await d.waitHandshake();
      await echoReversed(d, 'before the key update');
      d.keyUpdate(requested);
      await echoReversed(d, 'after the key update');
      if (requested) await d.waitMessage('recv key_update'); // openssl updated its sending keys too
      else expect(d.messages).not.toContain('recv key_update');
      expect(d.messages.filter((m) => m === 'send key_update')).toHaveLength(1);
      await echoReversed(d, 'and once more');
    });

    it('our client answers a KeyUpdate with update_requested from openssl s_server and data still flows both ways', async () => {
      const { peer, port } = await startOpensslServer({ peer: openssl }); // stdin/stdout mode: stdin "K" sends KeyUpdate(update_requested)
      const d = await connectTo(peer, port, defaultClientOptions());
      await d.waitHandshake();
      d.write('ping before\n');
      await peer.waitOutput('ping before');
      peer.send('K\n');
      await d.waitMessage('recv key_update');
      expect(d.messages).toContain('send key_update'); // our answer, with our new keys
      peer.send('pong after\n');
      await d.waitText('pong after');
      d.write('ping after\n');
      await peer.waitOutput('ping after');
    });

    it('our close_notify gets openssl s_server to answer with its own', async () => {
      const { peer, port } = await startOpensslServer({ peer: openssl, rev: true });
      const d = await connectTo(peer, port, defaultClientOptions());
      await d.waitHandshake();
      await echoReversed(d, 'goodbye');
      d.end();
      await d.waitPeerEnd();
      expect(d.conn.state).toBe('CLOSED');
      expect(d.error).toBeUndefined();
      expect((await peer.waitExit()).code).toBe(0);
    });

    it("our client receives openssl s_server's close_notify and answers it", async () => {
      const { peer, port } = await startOpensslServer({ peer: openssl, rev: true });
      const d = await connectTo(peer, port, defaultClientOptions());
      await d.waitHandshake();
      d.write('CLOSE\n'); // s_server -rev shuts the connection down on this line
      await d.waitPeerEnd();
      expect(d.conn.state).toBe('CLOSING');
      d.end();
      expect(d.conn.state).toBe('CLOSED');
      expect(d.error).toBeUndefined();
      await d.waitSocketClosed();
    });

    describe('verification failures', () => {
      const cases: { name: string; options: () => ClientOptions; code: string; alert: string; openssl: RegExp }[] = [
        {
          name: 'without a ca',
          options: () => ({ servername: 'localhost' }),
          code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
          alert: 'unknown_ca',
          openssl: /alert unknown ca/i,
        },
        {
          name: 'with the wrong ca',
          options: () => ({ servername: 'localhost', ca: parseCertificateChain(readPki('client-ecdsa-p256.crt')) }),
          code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
          alert: 'unknown_ca',
          openssl: /alert unknown ca/i,
        },
        {
          name: 'for the wrong servername',
          options: () => ({ ca: rootCa(), servername: 'wrong.example' }),
          code: 'ERR_TLS_CERT_ALTNAME_INVALID',
          alert: 'bad_certificate',
          openssl: /alert bad certificate/i,
        },
      ];
      it.each(cases.map((c) => [c.name, c] as const))('our client rejects the openssl s_server certificate %s and openssl sees the alert', async (_name, { options, code, alert, openssl: seen }) => {
        const { peer, port } = await startOpensslServer({ peer: openssl, rev: true });
        const d = await connectTo(peer, port, options());
        const err = await d.waitError();
        expect(err.code).toBe(code);
        expect(err.alert).toBe(alert);
        expect(err.remote).toBe(false);
        expect(d.conn.handshakeComplete).toBe(false);
        await peer.waitOutput(seen);
      });
    });
  });
}

/** How s_client reports the server's ephemeral key for each group (OpenSSL 3 says "Server", 4 "Peer"). */
const TEMP_KEY: Partial<Record<GroupName, RegExp>> = {
  x25519: /(Server|Peer) Temp Key: X25519, 253 bits/,
  secp256r1: /(Server|Peer) Temp Key: ECDH, prime256v1, 256 bits/,
  secp384r1: /(Server|Peer) Temp Key: ECDH, secp384r1, 384 bits/,
  x448: /(Server|Peer) Temp Key: X448, 448 bits/,
};
/** How s_client names the server's signature: OpenSSL 3 by key type, OpenSSL 4 by scheme. */
const PEER_SIGNATURE: Record<LeafName, string> = {
  'leaf-ecdsa-p256': 'ECDSA',
  'leaf-ecdsa-p384': 'ECDSA',
  'leaf-ed25519': 'ed25519',
  'leaf-rsa2048': 'RSA-PSS',
  'client-ecdsa-p256': 'ECDSA',
};
const peerSignature = (leaf: LeafName, scheme: string) => new RegExp(`Peer signature type: (${PEER_SIGNATURE[leaf]}|${scheme})$`, 'm');

for (const openssl of OPENSSLS) {
  describe(`${openssl.title} s_client -tls1_3 → our server`, () => {
    const listener = listenerPerTest();

    function serverOptions(extra: Partial<ServerOptions> = {}): ServerOptions {
      return { certificates: [certifiedKey('leaf-ecdsa-p256')], ...extra };
    }

    /** Accept s_client's connection with our server; everything it receives is echoed back. */
    async function accept(peer: Peer, options: ServerOptions, echo = true): Promise<SocketDriver> {
      const d = await listener().accept(Connection.server(options), { context: () => peer.describe() });
      if (echo) d.conn.on('data', (bytes) => d.write(bytes));
      return d;
    }

    /** Handshake done on both sides: ours finished and s_client verified us. */
    async function established(peer: Peer, d: SocketDriver): Promise<void> {
      await d.waitHandshake();
      await peer.waitOutput('Verify return code: 0 (ok)');
      expect(peer.output).toContain('New, TLSv1.3, Cipher is');
      await peer.waitOutput('Protocol  : TLSv1.3'); // the session s_client prints when our ticket arrives
    }

    /** A line typed into s_client comes back through our echo. */
    async function echoThrough(peer: Peer, line: string): Promise<void> {
      peer.send(`${line}\n`);
      await peer.waitOutput(line);
    }

    it.each(MATRIX_ROWS)('openssl s_client completes %s with %s against our server and gets its data echoed', async (suite, group, opensslGroup) => {
      const peer = startOpensslClient(listener().port, { peer: openssl, ciphersuites: suite, groups: opensslGroup });
      const d = await accept(peer, serverOptions());
      await established(peer, d);
      expect(d.conn.protocol).toBe('TLSv1.3');
      expect(d.conn.cipher?.name).toBe(suite);
      expect(d.conn.group).toBe(group);
      expect(d.conn.helloRetried).toBe(false);
      expect(peer.output).toContain(`Cipher is ${suite}`);
      expect(peer.output).toMatch(TEMP_KEY[group]!);
      await echoThrough(peer, `echo ${suite} ${group}`);
    });

    it.each(KEY_ROWS)('openssl s_client verifies our server with an %s certificate against root.crt', async (_label, { leaf, scheme }) => {
      const peer = startOpensslClient(listener().port, { peer: openssl });
      const d = await accept(peer, serverOptions({ certificates: [certifiedKey(leaf)] }));
      await established(peer, d);
      expect(d.conn.signatureScheme).toBe(scheme);
      expect(peer.output).toMatch(peerSignature(leaf, scheme));
      expect(peer.output).toContain('Verification: OK');
      await echoThrough(peer, `verified ${leaf}`);
    });

    it('our server sends openssl s_client a HelloRetryRequest for secp384r1 when it offers an x25519 share', async () => {
      const peer = startOpensslClient(listener().port, { peer: openssl, groups: 'X25519:P-384' });
      const d = await accept(peer, serverOptions({ groups: ['secp384r1'] }));
      await established(peer, d);
      expect(d.conn.helloRetried).toBe(true);
      expect(d.conn.group).toBe('secp384r1');
      expect(peer.output).toMatch(TEMP_KEY.secp384r1!);
      await echoThrough(peer, 'after a retry');
    });

    it("our server selects its preferred ALPN protocol among openssl s_client's", async () => {
      const peer = startOpensslClient(listener().port, { peer: openssl, alpn: 'h2,http/1.1' });
      const d = await accept(peer, serverOptions({ ALPNProtocols: ['http/1.1', 'h2'] }));
      await established(peer, d);
      expect(d.conn.alpnProtocol).toBe('http/1.1');
      expect(peer.output).toContain('ALPN protocol: http/1.1');
    });

    it('our server sees the SNI name openssl s_client sends', async () => {
      const peer = startOpensslClient(listener().port, { peer: openssl, servername: 'test.tsls.example' });
      const d = await accept(peer, serverOptions());
      await established(peer, d);
      expect(d.conn.servername).toBe('test.tsls.example');
    });

    it('our server answers a KeyUpdate with update_requested from openssl s_client and data still flows', async () => {
      const peer = startOpensslClient(listener().port, { peer: openssl });
      const d = await accept(peer, serverOptions());
      await established(peer, d);
      await echoThrough(peer, 'before the key update');
      peer.send('K\n'); // s_client: KeyUpdate with update_requested
      await d.waitMessage('recv key_update');
      expect(d.messages).toContain('send key_update');
      await echoThrough(peer, 'after the key update');
    });

    it('openssl s_client answers a KeyUpdate with update_requested from our server and data still flows', async () => {
      const peer = startOpensslClient(listener().port, { peer: openssl, extra: ['-msg'] }); // -msg: shows when it reads our KeyUpdate
      const d = await accept(peer, serverOptions());
      await established(peer, d);
      await echoThrough(peer, 'before our key update');
      d.keyUpdate(true);
      // OpenSSL answers with the next data it writes: type the line only once s_client (-msg) has read our KeyUpdate.
      await peer.waitOutput('<<< TLS 1.3, Handshake [length 0005], KeyUpdate');
      await echoThrough(peer, 'after our key update');
      await d.waitMessage('recv key_update');
      expect(d.messages.filter((m) => m.endsWith('key_update'))).toEqual(['send key_update', 'recv key_update']);
      d.write('pushed by the server\n');
      await peer.waitOutput('pushed by the server');
    });

    it('close_notify from openssl s_client reaches our server, and ours reaches s_client', async () => {
      const peer = startOpensslClient(listener().port, { peer: openssl });
      const d = await accept(peer, serverOptions());
      await established(peer, d);
      peer.send('Q\n'); // s_client: close_notify, then exit
      await d.waitPeerEnd();
      d.end();
      expect(d.conn.state).toBe('CLOSED');
      expect(d.error).toBeUndefined();
      expect((await peer.waitExit()).code).toBe(0);
    });

    describe('keylog', () => {
      let dir: string;
      beforeAll(() => {
        dir = mkdtempSync(join(tmpdir(), 'tsls-keylog-'));
      });
      afterAll(() => rmSync(dir, { recursive: true, force: true }));

      const keylogLines = (file: string) => {
        let text = '';
        try {
          text = readFileSync(file, 'utf8');
        } catch {
          // not written yet
        }
        return text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
      };
      const LABELS = ['CLIENT_HANDSHAKE_TRAFFIC_SECRET', 'SERVER_HANDSHAKE_TRAFFIC_SECRET', 'CLIENT_TRAFFIC_SECRET_0', 'SERVER_TRAFFIC_SECRET_0', 'EXPORTER_SECRET'];

      /** Wait until `file` holds five key log lines (openssl writes them as it derives the secrets). */
      async function fiveLines(file: string, peer: Peer): Promise<string[]> {
        const deadline = Date.now() + 10_000;
        for (;;) {
          const lines = keylogLines(file);
          if (lines.length >= 5) return lines;
          if (Date.now() > deadline) throw new Error(`openssl wrote ${lines.length} of 5 key log lines to ${file}\n${peer.describe()}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      }

      it.each(['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384'])(
        'our server logs exactly the keylog lines openssl s_client writes (%s)',
        async (suite) => {
          const file = join(dir, `s_client-${suite}.keylog`);
          const peer = startOpensslClient(listener().port, { peer: openssl, ciphersuites: suite, keylogfile: file });
          const d = await accept(peer, serverOptions());
          await established(peer, d);
          const theirs = await fiveLines(file, peer);
          expect(new Set(d.keylog)).toEqual(new Set(theirs));
          expect(d.keylog).toHaveLength(5);
          expect(d.keylog.map((l) => l.split(' ')[0]).sort()).toEqual([...LABELS].sort());
        },
      );

      it('our client logs exactly the keylog lines openssl s_server writes', async () => {
        const file = join(dir, 's_server.keylog');
        const { peer, port } = await startOpensslServer({ peer: openssl, rev: true, extra: ['-keylogfile', file] });
        const d = await connectTo(peer, port, defaultClientOptions());
        await d.waitHandshake();
        await echoReversed(d, 'keys logged');
        const theirs = await fiveLines(file, peer);
        expect(new Set(d.keylog)).toEqual(new Set(theirs));
        expect(d.keylog).toHaveLength(5);
      });
    });
  });
}

/**
 * OpenSSL 4 offers X25519MLKEM768 first (with an X25519 share beside it) and prefers it as a
 * server. A tsls that does not speak the hybrid must still meet it on X25519: by picking the
 * X25519 share, or by a HelloRetryRequest when the hybrid share is the only one.
 */
describe(`${peers.openssl4.title} prefers X25519MLKEM768: tsls without the hybrid falls back to x25519`, () => {
  const listener = listenerPerTest();
  const CLASSIC: GroupName[] = ['x25519', 'secp256r1', 'secp384r1'];

  async function accept(peer: Peer, options: ServerOptions): Promise<SocketDriver> {
    const d = await listener().accept(Connection.server(options), { context: () => peer.describe() });
    d.conn.on('data', (bytes) => d.write(bytes));
    return d;
  }

  it('our server picks the x25519 share an OpenSSL 4 s_client at its defaults sends beside X25519MLKEM768', async () => {
    const peer = startOpensslClient(listener().port, { peer: peers.openssl4 });
    const d = await accept(peer, { certificates: [certifiedKey('leaf-ecdsa-p256')], groups: CLASSIC });
    await d.waitHandshake();
    await peer.waitOutput('Verify return code: 0 (ok)');
    expect(d.conn.group).toBe('x25519');
    expect(d.conn.helloRetried).toBe(false);
    expect(peer.output).toMatch(TEMP_KEY.x25519!);
    peer.send('after the fallback\n');
    await peer.waitOutput(/^after the fallback$/m);
  });

  it('our server sends a HelloRetryRequest for x25519 to an OpenSSL 4 s_client whose only share is X25519MLKEM768', async () => {
    const peer = startOpensslClient(listener().port, { peer: peers.openssl4, groups: 'X25519MLKEM768:X25519' });
    const d = await accept(peer, { certificates: [certifiedKey('leaf-ecdsa-p256')], groups: CLASSIC });
    await d.waitHandshake();
    await peer.waitOutput('Verify return code: 0 (ok)');
    expect(d.conn.helloRetried).toBe(true);
    expect(d.conn.group).toBe('x25519');
    expect(peer.output).toMatch(TEMP_KEY.x25519!);
    peer.send('after the retry\n');
    await peer.waitOutput(/^after the retry$/m);
  });

  it('our client without the hybrid completes with an OpenSSL 4 s_server that prefers it, on x25519', async () => {
    const { peer, port } = await startOpensslServer({ peer: peers.openssl4, rev: true });
    const d = await connectTo(peer, port, defaultClientOptions({ groups: CLASSIC }));
    await d.waitHandshake();
    expect(d.conn.group).toBe('x25519');
    await echoReversed(d, 'classic client, hybrid server');
  });
});
