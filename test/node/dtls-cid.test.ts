/**
 * Connection IDs on the Node DTLS server (DTLS 1.2: RFC 9146; DTLS 1.3: RFC 9147 9): an
 * association survives its client's NAT rebinding. A small NAT between client and server
 * forwards datagrams from one outside port, then from a new one; with CIDs the server keeps the
 * same association and answers at the new address, without them it cannot tell the datagrams
 * are the client's. Each case runs over both versions: the CID sits in a tls12_cid header in
 * one, in the unified header in the other.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { dtls, type DTLSServerOptions } from '../../src/node/entry.js';
import { encodeUnifiedHeader } from '../../src/record/dtls13-header.js';
import { ourDtlsServer } from '../helpers/dtls-endpoints.js';
import { boundUdp, udpNat } from '../helpers/udp-nat.js';
import { ROOT } from './util.js';

const WAIT_MS = 5000;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function until(what: string, ok: () => boolean, ms = WAIT_MS): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const udp = () => boundUdp(cleanups);
const nat = (serverPort: number) => udpNat(cleanups, serverPort);

type Version = 'DTLSv1.2' | 'DTLSv1.3';

describe.each(['DTLSv1.2', 'DTLSv1.3'] as const)('%s connection IDs on the Node server', (version: Version) => {
  const only = { minVersion: version, maxVersion: version };
  /** Our echo server (tests/helpers), each message back as it came. */
  const echoServer = (options: Partial<DTLSServerOptions>) => ourDtlsServer(cleanups, { ...only, ...options });

  async function connectThrough(port: number, connectionId?: Uint8Array) {
    const c = dtls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: ROOT, ...only, ...(connectionId ? { connectionId } : {}) });
    cleanups.push(() => void c.destroy());
    const messages: string[] = [];
    c.on('message', (m: Buffer) => messages.push(m.toString()));
    c.on('error', () => undefined);
    await until('the handshake', () => c.established);
    expect(c.getProtocol()).toBe(version);
    return { c, messages };
  }

  /** A record carrying `cid` but no valid protection: 40 bytes that authenticate under no key. */
  function forgedRecord(cid: Buffer): Buffer {
    const body = Buffer.alloc(40, 0x41);
    if (version === 'DTLSv1.3') return Buffer.concat([encodeUnifiedHeader({ epoch: 3, seq: 50, cid }, body.length), body]);
    const forged = Buffer.alloc(13 + cid.length + body.length, 0x41);
    forged[0] = 25; // tls12_cid
    forged.writeUInt16BE(0xfefd, 1);
    forged.writeUInt16BE(1, 3);
    cid.copy(forged, 11);
    forged.writeUInt16BE(body.length, 11 + cid.length);
    return forged;
  }

  it('the same association continues from a new source port (NAT rebinding)', async () => {
    const { server, port, sockets, received } = await echoServer({ connectionIds: true });
    const n = await nat(port);
    const { c, messages } = await connectThrough(n.port, new Uint8Array(0));
    expect(c.connection.connectionIds?.send.length).toBe(8);
    c.send('before');
    await until('the first echo', () => messages.includes('before'));
    expect([...server.associations.keys()]).toEqual([`127.0.0.1:${n.outsidePorts[0]}`]);

    await n.rebind();
    c.send('after');
    await until('the echo from the new port', () => messages.includes('after'));
    expect(received).toEqual(['before', 'after']);
    expect(sockets).toHaveLength(1); // no new association: the CID found the old one
    expect(sockets[0]!.remotePort).toBe(n.outsidePorts[1]);
    expect([...server.associations.keys()]).toEqual([`127.0.0.1:${n.outsidePorts[1]}`]);
  });

  it('without CIDs the datagrams from the new port reach no association', async () => {
    const { port, sockets, received } = await echoServer({});
    const n = await nat(port);
    const { c, messages } = await connectThrough(n.port);
    c.send('before');
    await until('the first echo', () => messages.includes('before'));
    await n.rebind();
    c.send('after');
    await new Promise((r) => setTimeout(r, 300));
    expect(received).toEqual(['before']);
    expect(messages).toEqual(['before']);
    expect(sockets).toHaveLength(1);
  });

  it('a late record (older than one already received) from another port moves nothing (RFC 9146 6)', async () => {
    const { server, port, sockets, received } = await echoServer({ connectionIds: true });
    const n = await nat(port);
    const { c, messages } = await connectThrough(n.port, new Uint8Array(0));
    // Nothing of the handshake is in flight any more (DTLS 1.3 ends with ACKs), so the one record held is ours.
    await until('both sides to be quiet', () => c.connection.nextTimeout() === undefined && sockets[0]?.connection.nextTimeout() === undefined);
    n.state.holding = true;
    c.send('late');
    await until('the NAT to hold the record', () => n.held.length >= 1);
    n.state.holding = false;
    c.send('newer');
    await until('the echo of the newer record', () => messages.includes('newer'));
    // The held record is genuine and inside the replay window, but older: it arrives from elsewhere.
    const elsewhere = await udp();
    elsewhere.send(n.held[0]!, port, '127.0.0.1');
    await until('the late record to be taken', () => received.includes('late'));
    expect(sockets[0]!.remotePort).toBe(n.outsidePorts[0]);
    expect([...server.associations.keys()]).toEqual([`127.0.0.1:${n.outsidePorts[0]}`]);
    await until('its echo, sent to the old address', () => messages.includes('late'));
  });

  it('a record with a forged CID moves nothing: the association keeps its address', async () => {
    const { server, port, sockets } = await echoServer({ connectionIds: true });
    const n = await nat(port);
    const { c, messages } = await connectThrough(n.port, new Uint8Array(0));
    c.send('hello');
    await until('the echo', () => messages.includes('hello'));
    const cid = Buffer.from(c.connection.connectionIds!.send);
    // A record with the right CID but no valid protection, from another port.
    const attacker = await udp();
    const forged = forgedRecord(cid);
    attacker.send(forged, port, '127.0.0.1');
    // And one with an unknown CID.
    const unknown = forgedRecord(Buffer.from(cid.map((b) => b ^ 0xff)));
    attacker.send(unknown, port, '127.0.0.1');
    await until('the forgery to be dropped', () => sockets[0]!.connection.recordStats.dropped.badMac >= 1);
    expect(sockets[0]!.remotePort).toBe(n.outsidePorts[0]);
    expect([...server.associations.keys()]).toEqual([`127.0.0.1:${n.outsidePorts[0]}`]);
    c.send('still here');
    await until('the echo after the forgery', () => messages.includes('still here'));
    expect(sockets).toHaveLength(1);
  });
});
