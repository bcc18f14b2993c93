/**
 * The keying material exporter against OpenSSL's (-keymatexport): RFC 8446 7.5 for TLS 1.3
 * and RFC 5705 for TLS 1.2, both directions. The same label over the same connection must
 * give the same bytes on both sides.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Connection } from '../../src/connection.js';
import { toHex } from '../../src/util/bytes.js';
import { killAllPeers, peers, startOpensslClient, startOpensslServer } from '../helpers/peers.js';
import { certifiedKey, rootCa } from '../helpers/pki.js';
import { destroyAllDrivers, listen, SocketDriver } from '../helpers/socket-driver.js';

const LABEL = 'EXPERIMENTAL-tsls-interop';
const EXPORT = ['-keymatexport', LABEL, '-keymatexportlen', '32'];

it(`${peers.openssl3.title} is there`, () => {
  expect(peers.openssl3.bin).toBeTruthy();
});

afterEach(async () => {
  destroyAllDrivers();
  await killAllPeers();
});

/** OpenSSL prints the material as upper-case hex after "Keying material: ". */
async function opensslMaterial(peer: { waitOutput(n: RegExp): Promise<string> }): Promise<string> {
  const out = await peer.waitOutput(/Keying material: [0-9A-F]{64}/);
  return /Keying material: ([0-9A-F]+)/.exec(out)![1]!.toLowerCase();
}

describe.each(['TLSv1.3', 'TLSv1.2'] as const)(`exporter against ${peers.openssl3.title} over %s`, (version) => {
  it('our client derives what openssl s_server exports', async () => {
    const { peer, port } = await startOpensslServer({ version, extra: EXPORT });
    const d = await SocketDriver.connect(Connection.client({ ca: rootCa(), servername: 'localhost', minVersion: version, maxVersion: version }), port, '127.0.0.1', {
      context: () => peer.describe(),
    });
    await d.waitHandshake();
    expect(toHex(d.conn.exportKeyingMaterial(32, LABEL))).toBe(await opensslMaterial(peer));
  });

  it('openssl s_client exports what our server derives', async () => {
    const listener = await listen();
    const accepted = listener.accept(Connection.server({ certificates: [certifiedKey('leaf-ecdsa-p256')], minVersion: version, maxVersion: version }));
    const peer = startOpensslClient(listener.port, { version, extra: EXPORT });
    const d = await accepted;
    await d.waitHandshake();
    expect(toHex(d.conn.exportKeyingMaterial(32, LABEL))).toBe(await opensslMaterial(peer));
    await listener.close();
  });
});
