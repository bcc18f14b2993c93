/**
 * A DTLS 1.3 ClientHello flood against the Node server over real UDP: the stateless cookie
 * exchange (RFC 9147 5.1) keeps no association for a hello without a valid cookie, answers
 * with at most three times the bytes that arrived (RFC 9147 5.1's amplification limit), keeps
 * the fragments of hellos it is putting together within a fixed bound, and does not take a
 * cookie from another address. A real client still gets in afterwards.
 */
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { DtlsConnection } from '../../src/dtls-connection.js';
import { dtls, type DTLSServer } from '../../src/node/entry.js';
import { ourDtlsServer } from '../helpers/dtls-endpoints.js';
import { until } from '../helpers/peers.js';
import { ROOT } from '../node/util.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const echoServer = () => ourDtlsServer(cleanups);

/** A UDP socket that counts what it receives. */
async function attacker(): Promise<{ udp: dgram.Socket; received: { datagrams: number; bytes: number; last?: Buffer } }> {
  const udp = dgram.createSocket('udp4');
  cleanups.push(() => new Promise<void>((r) => udp.close(() => r())).catch(() => undefined));
  udp.bind(0, '127.0.0.1');
  await once(udp, 'listening');
  const received: { datagrams: number; bytes: number; last?: Buffer } = { datagrams: 0, bytes: 0 };
  udp.on('message', (m: Buffer) => {
    received.datagrams++;
    received.bytes += m.length;
    received.last = m;
  });
  return { udp, received };
}

/** The first flight of a fresh DTLS 1.3 client, cut to `mtu`. */
const firstFlight = (mtu = 1200) => DtlsConnection.client({ rejectUnauthorized: false, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', mtu }).takeDatagrams();

const fragmentsHeld = (server: DTLSServer) => (server as unknown as { guard: { fragments: { size: number } } }).guard.fragments.size;

/** A real client still connects and is echoed. */
async function realClientGetsIn(port: number, mtu = 1200): Promise<void> {
  const c = dtls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: ROOT, mtu });
  cleanups.push(() => void c.destroy());
  await once(c, 'secureConnect', { signal: AbortSignal.timeout(10_000) });
  expect(c.getProtocol()).toBe('DTLSv1.3');
  c.send('after the flood');
  const [m] = (await once(c, 'message', { signal: AbortSignal.timeout(5000) })) as [Buffer];
  expect(m.toString()).toBe('after the flood');
}

describe('a DTLS 1.3 ClientHello flood', () => {
  it('whole hellos without a cookie: no association, and the answers stay within 3x the bytes that came (RFC 9147 5.1)', async () => {
    const { server, port } = await echoServer();
    const { udp, received } = await attacker();
    const hellos = Array.from({ length: 300 }, () => firstFlight()).map((f) => f[0]!);
    let sent = 0;
    for (let i = 0; i < hellos.length; i += 30) {
      for (const h of hellos.slice(i, i + 30)) {
        udp.send(h, port, '127.0.0.1');
        sent += h.length;
      }
      await new Promise((r) => setTimeout(r, 5));
      expect(server.associations.size + server.halfOpenCount).toBe(0);
    }
    await until('the answers', () => received.datagrams >= 250);
    expect(received.bytes).toBeLessThanOrEqual(3 * sent);
    expect(received.bytes / received.datagrams).toBeLessThan(Math.min(...hellos.map((h) => h.length)));
    expect(server.stats.accepted).toBe(0);
    await realClientGetsIn(port);
  });

  it('first fragments of hellos that never complete: nothing is answered, the pieces kept stay bounded, and a fragmented real hello still gets in', async () => {
    const { server, port } = await echoServer();
    const sockets = await Promise.all(Array.from({ length: 40 }, () => attacker()));
    // Each socket (one address) starts 10 different hellos: 400 partial hellos in all.
    for (const { udp } of sockets) {
      for (let i = 0; i < 10; i++) {
        const flight = firstFlight(150);
        expect(flight.length).toBeGreaterThan(1);
        udp.send(flight[0]!, port, '127.0.0.1');
      }
      await new Promise((r) => setTimeout(r, 2));
      expect(fragmentsHeld(server)).toBeLessThanOrEqual(64);
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(sockets.reduce((n, s) => n + s.received.datagrams, 0)).toBe(0);
    expect(server.associations.size).toBe(0);
    expect(fragmentsHeld(server)).toBeLessThanOrEqual(64);
    await realClientGetsIn(port, 200);
  });

  it('a valid cookie replayed from another address is not taken: no association, no answer', async () => {
    const { server, port } = await echoServer();
    const honest = await attacker();
    const client = DtlsConnection.client({ rejectUnauthorized: false, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' });
    for (const d of client.takeDatagrams()) honest.udp.send(d, port, '127.0.0.1');
    await until('the HelloRetryRequest', () => honest.received.last !== undefined);
    client.feedDatagram(honest.received.last!);
    // The ClientHello with the cookie made for `honest`: in fragments, as it carries the X25519MLKEM768 share the HelloRetryRequest asked for.
    const second = client.takeDatagrams();
    expect(second.length).toBeGreaterThan(1);
    const thief = await attacker();
    for (let i = 0; i < 20; i++) for (const d of second) thief.udp.send(d, port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 200));
    expect(thief.received.datagrams).toBe(0);
    expect(server.associations.size).toBe(0);
    expect(server.stats.accepted).toBe(0);
    // From the address it was made for, the same datagram is let in.
    for (const d of second) honest.udp.send(d, port, '127.0.0.1');
    await until('the association of the honest client', () => server.stats.accepted === 1);
  });
});
