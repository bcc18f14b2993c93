/**
 * Connection IDs on the Node DTLS server (RFC 9146): an association survives its client's
 * NAT rebinding. A small NAT between client and server forwards datagrams from one outside
 * port, then from a new one; with CIDs the server keeps the same association and answers at
 * the new address, without them it cannot tell the datagrams are the client's.
 */
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { dtls, type DTLSServerOptions } from '../../src/node/entry.js';
import { ourDtlsServer } from '../helpers/dtls-endpoints.js';
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

async function udp(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  cleanups.push(() => new Promise<void>((r) => s.close(() => r())).catch(() => undefined));
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

/**
 * A NAT on 127.0.0.1: the client talks to `inside`; what it sends leaves from the current
 * outside socket to the server, answers come back the same way. `rebind()` moves to a new
 * outside port, as a NAT that forgot the binding does.
 */
async function nat(serverPort: number) {
  const inside = await udp();
  let client: { port: number; address: string } | undefined;
  let outside: dgram.Socket | undefined;
  const outsidePorts: number[] = [];
  /** Datagrams from the client kept back instead of forwarded, while `holding`. */
  const held: Buffer[] = [];
  const state = { holding: false };
  const rebind = async () => {
    const o = await udp();
    o.on('message', (m) => client && inside.send(m, client.port, client.address));
    outside = o;
    outsidePorts.push(o.address().port);
  };
  await rebind();
  inside.on('message', (m, rinfo) => {
    client = { port: rinfo.port, address: rinfo.address };
    if (state.holding) held.push(m);
    else outside!.send(m, serverPort, '127.0.0.1');
  });
  return { port: inside.address().port, rebind, outsidePorts, held, state };
}

/** Our echo server (tests/helpers), each message back as it came. */
const echoServer = (options: Partial<DTLSServerOptions>) => ourDtlsServer(cleanups, options);

async function connectThrough(port: number, connectionId?: Uint8Array) {
  const c = dtls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: ROOT, ...(connectionId ? { connectionId } : {}) });
  cleanups.push(() => void c.destroy());
  const messages: string[] = [];
  c.on('message', (m: Buffer) => messages.push(m.toString()));
  c.on('error', () => undefined);
  await until('the handshake', () => c.established);
  return { c, messages };
}

describe('DTLS 1.2 connection IDs on the Node server (RFC 9146)', () => {
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
    n.state.holding = true;
    c.send('late');
    await until('the NAT to hold the record', () => n.held.length === 1);
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
    // A tls12_cid record with the right CID but no valid protection, from another port.
    const attacker = await udp();
    const forged = Buffer.alloc(13 + cid.length + 40, 0x41);
    forged[0] = 25;
    forged.writeUInt16BE(0xfefd, 1);
    forged.writeUInt16BE(1, 3);
    cid.copy(forged, 11);
    forged.writeUInt16BE(40, 11 + cid.length);
    attacker.send(forged, port, '127.0.0.1');
    // And one with an unknown CID.
    const unknown = Buffer.from(forged);
    unknown[11]! ^= 0xff;
    attacker.send(unknown, port, '127.0.0.1');
    await until('the forgery to be dropped', () => sockets[0]!.connection.recordStats.dropped.badMac >= 1);
    expect(sockets[0]!.remotePort).toBe(n.outsidePorts[0]);
    expect([...server.associations.keys()]).toEqual([`127.0.0.1:${n.outsidePorts[0]}`]);
    c.send('still here');
    await until('the echo after the forgery', () => messages.includes('still here'));
    expect(sockets).toHaveLength(1);
  });
});
