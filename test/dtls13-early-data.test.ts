/**
 * DTLS 1.3 0-RTT (RFC 9147 5.6, 6.1; RFC 8446 2.3, 4.2.10), in memory, behind the client's
 * `datagramEarlyData` option: early data in epoch 1, no EndOfEarlyData on the wire, the
 * server reading epoch 1 beside the handshake epoch; refusals (a replayed ticket, a cookie
 * HelloRetryRequest), the ticket's limit on both sides, and a lost early datagram.
 */
import { describe, expect, it } from 'vitest';
import type { DtlsClientOptions, DtlsServerOptions } from '../src/dtls-connection.js';

import type { EarlyDataMark } from '../src/connection-base.js';
import { EarlyDataReplayCache } from '../src/statem/anti-replay.js';
import { dtlsPair, type Network } from './helpers/dtls-pair.js';

const V13 = { maxVersion: 'TLSv1.3' } as const;
const text = (s: string) => new TextEncoder().encode(s);
const str = (d: Uint8Array) => new TextDecoder().decode(d);

/** One server's settings (its ticket keys and anti-replay record are shared by every association made with them). */
function serverOptions(extra: Partial<DtlsServerOptions> = {}): Partial<DtlsServerOptions> {
  return { ...V13, ticketKeys: new Uint8Array(48).fill(9), maxEarlyData: 1000, datagramEarlyData: true, earlyDataReplayStore: new EarlyDataReplayCache(), ...extra };
}

function pair13(client: DtlsClientOptions, server: Partial<DtlsServerOptions>, options: { cookie?: boolean } = {}) {
  const p = dtlsPair({ ...V13, ...client }, server, options);
  const sent: string[] = [];
  p.client.on('message', (dir, m) => dir === 'send' && sent.push(m.type));
  return Object.assign(p, { sent });
}

/** A session from a full handshake with `server`. */
function ticketFrom(server: Partial<DtlsServerOptions>): DtlsClientOptions['session'] {
  const sessions: DtlsClientOptions['session'][] = [];
  const first = pair13({}, server);
  first.client.on('session', (s) => sessions.push(s));
  first.run();
  expect(sessions.length).toBeGreaterThan(0);
  return sessions[0];
}

/** The server's data, with the early mark. */
function serverData(p: ReturnType<typeof pair13>, run: (net?: Network) => void, net?: Network) {
  const got: { data: string; early: boolean }[] = [];
  p.server.on('data', (d: Uint8Array, mark?: EarlyDataMark) => got.push({ data: str(d), early: mark?.early === true }));
  run(net);
  return got;
}

describe('DTLS 1.3 0-RTT', () => {
  it('with datagramEarlyData: a datagram sent before the handshake arrives as early data in epoch 1; no EndOfEarlyData; then data both ways', () => {
    const server = serverOptions();
    const p = pair13({ session: ticketFrom(server), datagramEarlyData: true }, server);
    p.client.start();
    expect(p.client.sendingEarlyData).toBe(true);
    p.client.send(text('early reading'));
    const got = serverData(p, (net) => p.run(net));
    expect(got).toEqual([{ data: 'early reading', early: true }]);
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(p.client.earlyDataAccepted).toBe(true);
    expect(p.server.earlyDataAccepted).toBe(true);
    expect(p.client.sessionReused).toBe(true);
    // The client resumed with its X25519 share: a HelloRetryRequest for the hybrid would have refused the 0-RTT.
    expect(p.client.helloRetried).toBe(false);
    expect(p.sent).not.toContain('end_of_early_data');
    expect(p.client.sendingEarlyData).toBe(false);
    p.client.send(text('after'));
    p.server.send(text('back'));
    p.run();
    expect(got.at(-1)).toEqual({ data: 'after', early: false });
    expect(p.received.client.map(str)).toEqual(['back']);
  });

  it('without datagramEarlyData the client offers none, and send() before the handshake is refused', () => {
    const server = serverOptions();
    const p = pair13({ session: ticketFrom(server) }, server);
    expect(p.client.sendingEarlyData).toBe(false);
    expect(() => p.client.send(text('too early'))).toThrow(expect.objectContaining({ code: 'ERR_TLS_INVALID_STATE' }));
    p.run();
    expect(p.client.earlyDataAccepted).toBeUndefined();
    expect(p.client.sessionReused).toBe(true);
  });

  it('the ticket\'s max_early_data_size bounds what the client sends', () => {
    const server = serverOptions({ maxEarlyData: 16 });
    const p = pair13({ session: ticketFrom(server), datagramEarlyData: true }, server);
    p.client.send(text('0123456789'));
    expect(() => p.client.send(text('0123456789'))).toThrow(expect.objectContaining({ code: 'ERR_TLS_EARLY_DATA_LIMIT' }));
    const got = serverData(p, (net) => p.run(net));
    expect(got).toEqual([{ data: '0123456789', early: true }]);
  });

  it('a ticket used twice: the second time its early data is refused (anti-replay) and not delivered, the handshake completes', () => {
    const server = serverOptions();
    const session = ticketFrom(server);
    const first = pair13({ session, datagramEarlyData: true }, server);
    first.client.send(text('once'));
    expect(serverData(first, (net) => first.run(net))).toEqual([{ data: 'once', early: true }]);
    const replay = pair13({ session, datagramEarlyData: true }, server);
    replay.client.send(text('twice'));
    const got = serverData(replay, (net) => replay.run(net));
    expect(got).toEqual([]);
    expect(replay.errors).toEqual({ client: [], server: [] });
    expect(replay.client.earlyDataAccepted).toBe(false);
    expect(replay.client.sessionReused).toBe(true);
    expect(replay.client.state).toBe('ESTABLISHED');
  });

  it('a cookie HelloRetryRequest refuses it: nothing early is delivered, the second ClientHello offers none, the handshake completes', () => {
    const server = serverOptions();
    const p = pair13({ session: ticketFrom(server), datagramEarlyData: true }, server, { cookie: true });
    p.client.send(text('refused'));
    p.run();
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(p.client.helloRetried).toBe(true);
    expect(p.client.earlyDataAccepted).toBe(false);
    expect(p.received.server).toEqual([]);
    expect(p.client.state).toBe('ESTABLISHED');
    expect(p.client.sendingEarlyData).toBe(false);
  });

  it('a lost early datagram is lost (datagram semantics); the handshake completes with 0-RTT accepted', () => {
    const server = serverOptions();
    const p = pair13({ session: ticketFrom(server), datagramEarlyData: true }, server);
    p.client.send(text('into the void'));
    let dropped = 0;
    // The early datagram is the client's second: after the ClientHello.
    const got = serverData(p, (net) => p.run(net), { deliver: (d, from) => (from === 'client' && ++dropped === 2 ? [] : [d]) });
    expect(got).toEqual([]);
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(p.client.earlyDataAccepted).toBe(true);
    expect(p.server.state).toBe('ESTABLISHED');
  });

  it('more early data than the server allows now (a ticket of a larger limit) is unexpected_message, both ends dead', () => {
    const keys = { ticketKeys: new Uint8Array(48).fill(4) };
    const session = ticketFrom(serverOptions({ ...keys, maxEarlyData: 1000 }));
    const p = pair13({ session, datagramEarlyData: true }, serverOptions({ ...keys, maxEarlyData: 10 }));
    p.client.send(text('a hundred bytes would do, but this is enough'));
    p.run();
    expect(p.errors.server.map((e) => e.code)).toEqual(['ERR_TLS_UNEXPECTED_MESSAGE']);
    expect(p.errors.client.map((e) => e.code)).toEqual(['ERR_TLS_ALERT_UNEXPECTED_MESSAGE']);
    expect(p.server.state).toBe('DEAD');
    expect(p.client.state).toBe('DEAD');
  });

  it('a handshake record under the early data key (epoch 1) is unexpected_message: the epoch carries nothing but early data', () => {
    const server = serverOptions();
    const p = pair13({ session: ticketFrom(server), datagramEarlyData: true }, server);
    p.client.start();
    // What a hostile ticket holder could seal: a Finished-shaped message in epoch 1.
    const records = (p.client as unknown as { records: { seal(type: number, data: Uint8Array, epoch: number): Uint8Array } }).records;
    const forged = records.seal(22, new Uint8Array([20, 0, 0, 32, ...new Uint8Array(32)]), 1);
    p.client.takeDatagrams().forEach((d) => p.server.feedDatagram(d));
    expect(p.server.earlyDataAccepted).toBe(true);
    p.server.feedDatagram(forged);
    expect(p.server.error?.code).toBe('ERR_TLS_UNEXPECTED_MESSAGE');
    expect(p.server.state).toBe('DEAD');
  });
});
