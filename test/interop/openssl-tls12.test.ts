/**
 * TLS 1.2 interop with real peers: our client against `openssl s_server -tls1_2` (OpenSSL 3 and
 * OpenSSL 4, the same matrix for each) and `gnutls-serv` limited to TLS 1.2, and `openssl
 * s_client -tls1_2` / `gnutls-cli` against our server, over TCP on 127.0.0.1. Also version negotiation between a 1.3-capable side
 * and a 1.2-only peer, and the extended master secret requirement (RFC 7627).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { GroupName } from '../../src/crypto/provider.js';
import { Connection } from '../../src/connection.js';
import type { ServerOptions } from '../../src/config.js';
import { cipherSuiteByName } from '../../src/messages/constants.js';
import { killAllPeers, peers, startGnutlsClient, startGnutlsServer, startOpensslClient, startOpensslServer, type Peer } from '../helpers/peers.js';
import { certifiedKey, type LeafName } from '../helpers/pki.js';
import { connectTo, destroyAllDrivers, echoReversed, listenerPerTest, SocketDriver } from '../helpers/socket-driver.js';
import { defaultClientOptions } from '../helpers/pair.js';

/** The six ECDHE AEAD suites of TLS 1.2 (by name: the table also holds CCM and PSK suites), each with a certificate of the key type it authenticates with. */
const SUITES = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].map((openssl) => {
  const s = cipherSuiteByName(openssl)!;
  return { iana: s.name, openssl, leaf: (s.auth === 'RSA' ? 'leaf-rsa2048' : 'leaf-ecdsa-p256') as LeafName };
});
const SUITE_ROWS = SUITES.map((s) => [s.openssl, s.leaf, s] as const);

/** Other server keys, once each, with an ECDSA suite (Ed25519 authenticates ECDSA suites in TLS 1.2). */
/** How s_client names the server's signature: OpenSSL 3 by key type, OpenSSL 4 by scheme. */
const EXTRA_KEYS: { label: string; leaf: LeafName; scheme: string; peerSignature: RegExp }[] = [
  // In TLS 1.2 an ECDSA scheme names the hash only: a P-384 key may sign with SHA-256.
  { label: 'ECDSA P-384', leaf: 'leaf-ecdsa-p384', scheme: 'ecdsa_secp256r1_sha256', peerSignature: /Peer signature type: (ECDSA|ecdsa_secp256r1_sha256)$/m },
  { label: 'Ed25519', leaf: 'leaf-ed25519', scheme: 'ed25519', peerSignature: /Peer signature type: ed25519$/m },
];
const KEY_ROWS = EXTRA_KEYS.map((k) => [k.label, k] as const);

/** Our group name, OpenSSL's, and how s_client reports the server's ephemeral key (OpenSSL 3 says "Server", 4 "Peer"). */
const GROUPS: { group: GroupName; opensslGroup: string; tempKey: RegExp }[] = [
  { group: 'x25519', opensslGroup: 'X25519', tempKey: /(Server|Peer) Temp Key: X25519, 253 bits/ },
  { group: 'secp256r1', opensslGroup: 'P-256', tempKey: /(Server|Peer) Temp Key: ECDH, prime256v1, 256 bits/ },
  { group: 'secp384r1', opensslGroup: 'P-384', tempKey: /(Server|Peer) Temp Key: ECDH, secp384r1, 384 bits/ },
];
const GROUP_ROWS = GROUPS.map((g) => [g.group, g] as const);
/**
 * The group tests use an RSA suite and key: in TLS 1.2 supported_groups also constrains the
 * curve of an ECDSA certificate (RFC 8422 5.3), and these tests offer exactly one group.
 */
const GROUP_SUITE = 'ECDHE-RSA-AES128-GCM-SHA256';
const GROUP_LEAF: LeafName = 'leaf-rsa2048';
const ECDSA_SUITE = 'ECDHE-ECDSA-AES128-GCM-SHA256';


const OPENSSLS = [peers.openssl3, peers.openssl4];

// No skipping when a peer is missing: this fails (and so does every test that needs it, on its own).
it.each([...OPENSSLS, peers.gnutls].map((p) => [p.title, p] as const))('%s is there', (_title, peer) => {
  expect(peer.bin).toBeTruthy();
});

afterEach(async () => {
  destroyAllDrivers();
  await killAllPeers();
});

/** An OPENSSL_CONF that turns the extended master secret off in every SSL_CTX the openssl command makes. */
let noEmsConf: string;
let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tsls-tls12-'));
  noEmsConf = join(tmp, 'no-ems.cnf');
  writeFileSync(
    noEmsConf,
    ['openssl_conf = openssl_init', '[openssl_init]', 'ssl_conf = ssl_sect', '[ssl_sect]', 'system_default = system_default_sect', '[system_default_sect]', 'Options = -ExtendedMasterSecret', ''].join('\n'),
  );
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

for (const openssl of OPENSSLS) {
  describe(`our client → ${openssl.title} s_server -tls1_2`, () => {
    it.each(SUITE_ROWS)('our client completes %s against openssl s_server with a %s certificate and exchanges data', async (cipher, leaf, { iana }) => {
      const { peer, port } = await startOpensslServer({ peer: openssl, version: 'TLSv1.2', cipher, leaf, rev: true });
      const d = await connectTo(peer, port, defaultClientOptions({ cipherSuites: [cipher] }));
      await d.waitHandshake();
      expect(d.conn.protocol).toBe('TLSv1.2');
      expect(d.conn.cipher?.name).toBe(cipher);
      expect(d.conn.cipher?.standardName).toBe(iana);
      expect(d.conn.peerCertificates).toHaveLength(2);
      await echoReversed(d, `hello ${cipher}`);
      await peer.waitOutput(`Ciphersuite: ${cipher}`);
    });

    it.each(KEY_ROWS)('our client verifies an openssl s_server with an %s certificate over TLS 1.2', async (_label, { leaf, scheme }) => {
      const { peer, port } = await startOpensslServer({ peer: openssl, version: 'TLSv1.2', cipher: ECDSA_SUITE, leaf, rev: true });
      const d = await connectTo(peer, port, defaultClientOptions());
      await d.waitHandshake();
      expect(d.conn.protocol).toBe('TLSv1.2');
      expect(d.conn.signatureScheme).toBe(scheme);
      expect(d.conn.peerCertificates[0]!.subject.text).toContain(`tsls test ${leaf}`);
      await echoReversed(d, `signed by ${leaf}`);
    });

    it.each(GROUP_ROWS)('our client does ECDHE over %s with openssl s_server over TLS 1.2', async (group, { opensslGroup }) => {
      const { peer, port } = await startOpensslServer({ peer: openssl, version: 'TLSv1.2', cipher: GROUP_SUITE, leaf: GROUP_LEAF, groups: opensslGroup, rev: true });
      const d = await connectTo(peer, port, defaultClientOptions({ groups: [group] }));
      await d.waitHandshake();
      expect(d.conn.protocol).toBe('TLSv1.2');
      expect(d.conn.group).toBe(group);
      await echoReversed(d, `ECDHE over ${group}`);
    });

    it('our client with default versions settles on TLS 1.2 with a TLS 1.2-only openssl s_server (no downgrade alarm)', async () => {
      const { peer, port } = await startOpensslServer({ peer: openssl, version: 'TLSv1.2', rev: true });
      const d = await connectTo(peer, port, defaultClientOptions());
      await d.waitHandshake();
      expect(d.conn.protocol).toBe('TLSv1.2');
      expect(d.conn.cipher?.version).toBe('TLSv1.2');
      expect(d.messages).toContain('send client_hello');
      expect(d.messages).not.toContain('recv encrypted_extensions');
      await echoReversed(d, 'negotiated down to 1.2');
    });

    it('our client limited to TLS 1.3 is refused by a TLS 1.2-only openssl s_server with protocol_version', async () => {
      const { peer, port } = await startOpensslServer({ peer: openssl, version: 'TLSv1.2', rev: true });
      const d = await connectTo(peer, port, defaultClientOptions({ minVersion: 'TLSv1.3' }));
      const err = await d.waitError();
      expect(err.alert).toBe('protocol_version');
      expect(err.remote).toBe(true);
      expect(d.conn.handshakeComplete).toBe(false);
      await peer.waitOutput(/unsupported protocol/i);
    });

    it("our close_notify over TLS 1.2 gets openssl s_server to answer with its own", async () => {
      const { peer, port } = await startOpensslServer({ peer: openssl, version: 'TLSv1.2', rev: true });
      const d = await connectTo(peer, port, defaultClientOptions({ maxVersion: 'TLSv1.2' }));
      await d.waitHandshake();
      await echoReversed(d, 'goodbye');
      d.end();
      await d.waitPeerEnd();
      expect(d.conn.state).toBe('CLOSED');
      expect(d.error).toBeUndefined();
      expect((await peer.waitExit()).code).toBe(0);
    });
  });
}

for (const openssl of OPENSSLS) {
  describe(`${openssl.title} s_client -tls1_2 → our server`, () => {
    const listener = listenerPerTest();

    function serverOptions(leaf: LeafName = 'leaf-ecdsa-p256', extra: Partial<ServerOptions> = {}): ServerOptions {
      return { certificates: [certifiedKey(leaf)], ...extra };
    }

    /** Accept s_client's connection with our server; everything it receives is echoed back. */
    async function accept(peer: Peer, options: ServerOptions): Promise<SocketDriver> {
      const d = await listener().accept(Connection.server(options), { context: () => peer.describe() });
      d.conn.on('data', (bytes) => d.write(bytes));
      return d;
    }

    /** Handshake done on both sides: ours finished, s_client verified us and used the extended master secret. */
    async function established(peer: Peer, d: SocketDriver, cipher?: string): Promise<void> {
      await d.waitHandshake();
      await peer.waitOutput('Verify return code: 0 (ok)');
      await peer.waitOutput('Extended master secret: yes');
      expect(peer.output).toMatch(cipher ? `New, TLSv1.2, Cipher is ${cipher}` : /New, TLSv1\.2, Cipher is /);
      expect(peer.output).toContain('Protocol  : TLSv1.2');
      expect(d.conn.protocol).toBe('TLSv1.2');
    }

    /** A line typed into s_client comes back through our echo. */
    async function echoThrough(peer: Peer, d: SocketDriver, line: string): Promise<void> {
      peer.send(`${line}\n`);
      await d.waitText(line);
      await peer.waitOutput(line);
    }

    it.each(SUITE_ROWS)('openssl s_client completes %s against our server with a %s certificate and gets its data echoed', async (cipher, leaf, { iana }) => {
      const peer = startOpensslClient(listener().port, { peer: openssl, version: 'TLSv1.2', cipher });
      const d = await accept(peer, serverOptions(leaf));
      await established(peer, d, cipher);
      expect(d.conn.cipher?.name).toBe(cipher);
      expect(d.conn.cipher?.standardName).toBe(iana);
      await echoThrough(peer, d, `echo ${cipher}`);
    });

    it.each(KEY_ROWS)('openssl s_client verifies our server with an %s certificate over TLS 1.2', async (_label, { leaf, peerSignature }) => {
      const peer = startOpensslClient(listener().port, { peer: openssl, version: 'TLSv1.2', cipher: ECDSA_SUITE });
      const d = await accept(peer, serverOptions(leaf));
      await established(peer, d, ECDSA_SUITE);
      expect(peer.output).toMatch(peerSignature);
      await echoThrough(peer, d, `verified ${leaf}`);
    });

    it.each(GROUP_ROWS)('openssl s_client does ECDHE over %s with our server over TLS 1.2', async (group, { opensslGroup, tempKey }) => {
      const peer = startOpensslClient(listener().port, { peer: openssl, version: 'TLSv1.2', cipher: GROUP_SUITE, groups: opensslGroup });
      const d = await accept(peer, serverOptions(GROUP_LEAF));
      await established(peer, d, GROUP_SUITE);
      expect(d.conn.group).toBe(group);
      expect(peer.output).toMatch(tempKey);
      await echoThrough(peer, d, `ECDHE over ${group}`);
    });

    it('our server passes over its ECDSA P-256 certificate for a TLS 1.2 client whose supported_groups omit P-256 (RFC 8422 5.3)', async () => {
      const peer = startOpensslClient(listener().port, { peer: openssl, version: 'TLSv1.2', groups: 'X25519' });
      const d = await accept(peer, { certificates: [certifiedKey('leaf-ecdsa-p256'), certifiedKey('leaf-rsa2048')] });
      await established(peer, d);
      expect(d.conn.cipher?.name).toMatch(/^ECDHE-RSA-/);
      expect(d.conn.group).toBe('x25519');
      expect(peer.output).toMatch(/Peer signature type: (RSA-PSS|rsa_pss_rsae_sha256)$/m);
      await echoThrough(peer, d, 'signed with the RSA key');
    });

    it('our server refuses a TLS 1.2 client whose supported_groups leave no usable certificate, with handshake_failure', async () => {
      const peer = startOpensslClient(listener().port, { peer: openssl, version: 'TLSv1.2', groups: 'X25519' });
      const d = await accept(peer, serverOptions('leaf-ecdsa-p256'));
      const err = await d.waitError();
      expect(err.alert).toBe('handshake_failure');
      expect(err.remote).toBe(false);
      await peer.waitOutput(/alert handshake failure/i);
    });

    it('a TLS 1.2-only openssl s_client settles on TLS 1.2 with our server with default versions (sentinel accepted)', async () => {
      const peer = startOpensslClient(listener().port, { peer: openssl, version: 'TLSv1.2' });
      const d = await accept(peer, serverOptions());
      await established(peer, d);
      expect(d.conn.cipher?.version).toBe('TLSv1.2');
      await echoThrough(peer, d, 'negotiated down to 1.2');
    });

    it('our server refuses an openssl s_client without the extended master secret with handshake_failure', async () => {
      const peer = startOpensslClient(listener().port, { peer: openssl, version: 'TLSv1.2', env: { OPENSSL_CONF: noEmsConf } });
      const d = await accept(peer, serverOptions());
      const err = await d.waitError();
      expect(err.alert).toBe('handshake_failure');
      expect(err.remote).toBe(false);
      expect(err.message).toMatch(/extended master secret/);
      expect(d.conn.handshakeComplete).toBe(false);
      await peer.waitOutput(/alert handshake failure/i);
    });

    it('the OPENSSL_CONF that the refusal above relies on really turns the extended master secret off', async () => {
      // Control: the same s_client against openssl s_server completes, without EMS.
      const { port } = await startOpensslServer({ peer: openssl, version: 'TLSv1.2' });
      const peer = startOpensslClient(port, { peer: openssl, version: 'TLSv1.2', env: { OPENSSL_CONF: noEmsConf } });
      await peer.waitOutput('Extended master secret: no');
    });
  });
}

const GNUTLS_TLS12 = 'NORMAL:-VERS-ALL:+VERS-TLS1.2';

describe(`${peers.gnutls.title}, TLS 1.2`, () => {
  it('our client completes ECDHE-RSA-AES256-GCM-SHA384 against gnutls-serv limited to TLS 1.2 and gets its data echoed', async () => {
    const { peer, port } = await startGnutlsServer({ leaf: 'leaf-rsa2048', priority: `${GNUTLS_TLS12}:-CIPHER-ALL:+AES-256-GCM` });
    const d = await connectTo(peer, port, defaultClientOptions());
    await d.waitHandshake();
    expect(d.conn.protocol).toBe('TLSv1.2');
    expect(d.conn.cipher?.name).toBe('ECDHE-RSA-AES256-GCM-SHA384');
    d.write('echo over gnutls 1.2\n');
    await d.waitText('echo over gnutls 1.2\n');
  });

  describe('gnutls-cli → our server', () => {
    const listener = listenerPerTest();

    it('gnutls-cli limited to TLS 1.2 completes ECDHE-ECDSA-CHACHA20-POLY1305 with our server, with the extended master secret', async () => {
      const peer = startGnutlsClient(listener().port, { priority: `${GNUTLS_TLS12}:-CIPHER-ALL:+CHACHA20-POLY1305` });
      const d = await listener().accept(Connection.server({ certificates: [certifiedKey('leaf-ecdsa-p256')] }), { context: () => peer.describe() });
      d.conn.on('data', (bytes) => d.write(bytes));
      await d.waitHandshake();
      await peer.waitOutput('- Handshake was completed');
      expect(d.conn.protocol).toBe('TLSv1.2');
      expect(d.conn.cipher?.name).toBe('ECDHE-ECDSA-CHACHA20-POLY1305');
      expect(peer.output).toContain('- Status: The certificate is trusted.');
      expect(peer.output).toMatch(/- Description: \(TLS1\.2-X\.509\)-\(ECDHE-[A-Z0-9]+\)-\(ECDSA-SHA256\)-\(CHACHA20-POLY1305\)/);
      expect(peer.output).toMatch(/- Options: .*extended master secret/);
      peer.send('echo over gnutls-cli 1.2\n');
      await d.waitText('echo over gnutls-cli 1.2\n');
      await peer.waitOutput(/^echo over gnutls-cli 1\.2$/m);
    });
  });
});
