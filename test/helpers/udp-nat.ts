/**
 * A NAT on 127.0.0.1 for DTLS tests over real UDP: the client talks to `inside`; what it sends
 * leaves from the current outside socket to the server, answers come back the same way.
 * `rebind()` moves to a new outside port, as a NAT that forgot the binding does; while
 * `state.holding`, datagrams from the client are kept in `held` instead of forwarded.
 */
import * as dgram from 'node:dgram';
import { once } from 'node:events';

export type Cleanups = (() => Promise<void> | void)[];

/** A UDP socket bound on 127.0.0.1, closed by `cleanups`. */
export async function boundUdp(cleanups: Cleanups): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  cleanups.push(() => new Promise<void>((r) => s.close(() => r())).catch(() => undefined));
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

export interface UdpNat {
  /** Where the client sends. */
  port: number;
  /** Move to a new outside port. */
  rebind(): Promise<void>;
  /** The outside ports used, oldest first. */
  outsidePorts: number[];
  /** Datagrams from the client kept back instead of forwarded, while `state.holding`. */
  held: Buffer[];
  state: { holding: boolean };
}

export async function udpNat(cleanups: Cleanups, serverPort: number): Promise<UdpNat> {
  const inside = await boundUdp(cleanups);
  let client: { port: number; address: string } | undefined;
  let outside: dgram.Socket | undefined;
  const outsidePorts: number[] = [];
  const held: Buffer[] = [];
  const state = { holding: false };
  const rebind = async () => {
    const o = await boundUdp(cleanups);
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
