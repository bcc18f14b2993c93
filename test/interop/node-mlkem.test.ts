/**
 * The node provider's ML-KEM through node:crypto (crypto.encapsulate / decapsulate, Node ≥ 24.7),
 * which the project's own Node may lack (the provider then falls back to noble): the built
 * package (dist/) run under Node 24 (`peers.node24`), with a probe preloaded that counts the
 * calls reaching node:crypto. NIST's ACVP ML-KEM-768/1024 vectors through it, and hybrid
 * handshakes (X25519MLKEM768, SecP256r1MLKEM768) against OpenSSL 4 in both directions, each
 * shown to have taken the node:crypto path.
 */
import * as nodeCrypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { killAllPeers, Peer, peers, startOpensslClient, startOpensslServer } from '../helpers/peers.js';
import { CLI, startTslsServerAs } from '../helpers/tsls-cli.js';

const PROBE = fileURLToPath(new URL('./fixtures/node-crypto-probe.mjs', import.meta.url));
const KAT = fileURLToPath(new URL('./fixtures/node-mlkem-kat.mjs', import.meta.url));
const SERVER_PKI = ['--cert', 'leaf-ecdsa-p256.chain.pem', '--key', 'leaf-ecdsa-p256.key'];
const HYBRIDS = ['X25519MLKEM768', 'SecP256r1MLKEM768'];
const reverse = (s: string) => [...s].reverse().join('');

afterEach(killAllPeers);

/** `tsls ARGS` (dist/cli.js) under `node`, with the node:crypto probe preloaded. */
function probedTsls(node: string, ...args: string[]): Peer {
  return new Peer(node, ['--import', PROBE, CLI, ...args]);
}

const node24Tsls = (...args: string[]) => probedTsls(peers.node24.bin, ...args);

describe(`ML-KEM on node:crypto under ${peers.node24.title}`, () => {
  it("NIST's ML-KEM-768 and ML-KEM-1024 vectors pass through the node provider, and its ML-KEM calls reach node:crypto", async () => {
    const run = new Peer(peers.node24.bin, ['--import', PROBE, KAT]);
    const exit = await run.waitExit(60_000);
    expect(exit.code, run.describe()).toBe(0);
    for (const set of ['ML-KEM-768', 'ML-KEM-1024']) {
      expect(run.output).toMatch(new RegExp(`ok ${set} keyGen: [1-9]`));
      expect(run.output).toMatch(new RegExp(`ok ${set} through node:crypto: [1-9]\\d* encapsulations, [1-9]\\d* decapsulations`));
    }
    expect(run.output).toMatch(/done on Node v2[4-9]\./);
  });

  it("the same script under this test run's Node passes exactly when that Node has crypto.encapsulate (so its check can fail)", async () => {
    const run = new Peer(process.execPath, ['--import', PROBE, KAT]);
    const exit = await run.waitExit(60_000);
    const has = typeof (nodeCrypto as { encapsulate?: unknown }).encapsulate === 'function';
    expect(exit.code === 0, run.describe()).toBe(has);
    if (!has) expect(run.output).toMatch(/FAILED: the node provider detects ML-KEM in node:crypto/);
  });

  for (const group of HYBRIDS) {
    it(`${peers.openssl4.title} s_client -groups ${group} → tsls server: the server's ML-KEM encapsulation runs on node:crypto`, async () => {
      const { server, port } = await startTslsServerAs(node24Tsls, '--host', '127.0.0.1', ...SERVER_PKI);
      const client = startOpensslClient(port, { peer: peers.openssl4, groups: group });
      await client.waitOutput('Verify return code: 0 (ok)');
      client.send('ml-kem ping\n');
      await client.waitOutput('ml-kem ping\n');
      expect(client.output).toMatch(new RegExp(`Negotiated TLS1\\.3 group: ${group}\\b`));
      await server.waitOutput(new RegExp(`TLSv1\\.3, \\S+, ${group}\\b`));
      expect(server.output).toMatch(/probe: node:crypto encapsulate called/);
    });

    it(`tsls client --groups ${group} → ${peers.openssl4.title} s_server: the client's ML-KEM decapsulation runs on node:crypto`, async () => {
      const { port } = await startOpensslServer({ peer: peers.openssl4, groups: group, rev: true });
      const client = node24Tsls('client', `127.0.0.1:${port}`, '--servername', 'localhost', '--ca', 'root.crt', '--groups', group);
      await client.waitOutput(new RegExp(`tsls: connected to .*TLSv1\\.3, \\S+, ${group}\\b`));
      client.send('ml-kem pong\n');
      await client.waitOutput(`${reverse('ml-kem pong')}\n`);
      expect(client.output).toMatch(/probe: node:crypto decapsulate called/);
    });
  }
});
