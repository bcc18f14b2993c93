import { describe, expect, it } from 'vitest';
import type { ClientOptions, ServerOptions } from '../src/config.js';
import type { TLSSession } from '../src/statem/session.js';
import { trafficKeys } from '../src/crypto/keyschedule.js';
import { nobleProvider } from '../src/crypto/noble.js';
import { ContentType, HandshakeType } from '../src/messages/constants.js';
import { Tls13Protection } from '../src/record/protection.js';
import { EarlyDataReplayCache, type EarlyDataReplayStore } from '../src/statem/anti-replay.js';
import { concat, fromHex } from '../src/util/bytes.js';
import { defaultServerOptions, makePair } from './helpers/pair.js';

const text = (s: string) => new TextEncoder().encode(s);

/** A full handshake with a server of `server` options, returning the options (shared ticket keys) and the session it gave. */
function ticket(server: Partial<ServerOptions> = { maxEarlyData: 1024 }, client: ClientOptions = {}) {
  const serverOptions = defaultServerOptions(server);
  const first = makePair(client, serverOptions);
  const sessions: TLSSession[] = [];
  first.client.on('session', (s) => sessions.push(s));
  first.pump();
  expect(first.client.state).toBe('ESTABLISHED');
  expect(sessions).toHaveLength(1);
  return { serverOptions, session: sessions[0]! };
}

/** A resumption that offers `earlyData`, recording what the server got and whether it was marked early. */
function resumeWithEarlyData(serverOptions: ServerOptions, client: ClientOptions) {
  const pair = makePair(client, serverOptions);
  const received: { data: string; early: boolean }[] = [];
  pair.server.on('data', (d, mark) => received.push({ data: new TextDecoder().decode(d), early: mark?.early === true }));
  const serverStates: string[] = [];
  pair.server.on('transition', (t) => serverStates.push(t.to));
  pair.pump();
  return { pair, received, serverStates };
}

describe('TLS 1.3 0-RTT early data', () => {
  it('tickets carry max_early_data_size only when the server sets maxEarlyData', () => {
    expect(ticket().session.state.max_early_data).toBe(1024);
    expect(ticket({}).session.state.max_early_data).toBe(0);
  });

  it('a server with maxEarlyData accepts early data on a fresh ticket and delivers it marked as early', () => {
    const { serverOptions, session } = ticket();
    const { pair, received, serverStates } = resumeWithEarlyData(serverOptions, { session, earlyData: text('GET / early') });
    expect(pair.clientErrors).toEqual([]);
    expect(pair.serverErrors).toEqual([]);
    expect(pair.client.earlyDataAccepted).toBe(true);
    expect(pair.server.earlyDataAccepted).toBe(true);
    expect(received).toEqual([{ data: 'GET / early', early: true }]);
    expect(serverStates).toContain('S.EndOfEarlyData');
    pair.client.write(text('after'));
    pair.pump();
    expect(received.at(-1)).toEqual({ data: 'after', early: false });
  });

  it('writes made before the handshake completes go as early data too, within the ticket limit; the rest after', () => {
    const { serverOptions, session } = ticket({ maxEarlyData: 8 });
    const pair = makePair({ session }, serverOptions);
    const received: { data: string; early: boolean }[] = [];
    pair.server.on('data', (d, mark) => received.push({ data: new TextDecoder().decode(d), early: mark?.early === true }));
    pair.client.write(text('0123456789'));
    pair.pump();
    expect(pair.client.earlyDataAccepted).toBe(true);
    expect(received).toEqual([
      { data: '01234567', early: true },
      { data: '89', early: false },
    ]);
  });

  it('the same ticket used twice for early data: the replay is refused and its data resent after the handshake', () => {
    const { serverOptions, session } = ticket();
    const first = resumeWithEarlyData(serverOptions, { session, earlyData: text('once') });
    expect(first.pair.server.earlyDataAccepted).toBe(true);
    const replay = resumeWithEarlyData(serverOptions, { session, earlyData: text('twice') });
    expect(replay.pair.serverErrors).toEqual([]);
    expect(replay.pair.client.sessionReused).toBe(true);
    expect(replay.pair.server.earlyDataAccepted).toBe(false);
    expect(replay.pair.client.earlyDataAccepted).toBe(false);
    expect(replay.received).toEqual([{ data: 'twice', early: false }]);
  });

  it("a rejected client with earlyDataRejected: 'report' gets its early data back instead of a resend", () => {
    const { serverOptions, session } = ticket();
    resumeWithEarlyData(serverOptions, { session, earlyData: text('once') });
    const pair = makePair({ session, earlyData: text('not again'), earlyDataRejected: 'report' }, serverOptions);
    const reported: string[] = [];
    pair.client.on('earlyDataRejected', (d) => reported.push(new TextDecoder().decode(d)));
    pair.pump();
    expect(pair.client.state).toBe('ESTABLISHED');
    expect(reported).toEqual(['not again']);
    expect(pair.serverData).toEqual([]);
  });

  describe('refused (and the handshake goes on, the data resent after it) when', () => {
    const refusals: [string, Partial<ServerOptions>, (o: ServerOptions) => ServerOptions, ClientOptions?][] = [
      ['the resuming server no longer sets maxEarlyData', { maxEarlyData: 1024 }, (o) => ({ ...o, maxEarlyData: 0 })],
      ['the ticket is another server’s (a full handshake)', { maxEarlyData: 1024 }, () => defaultServerOptions({ maxEarlyData: 1024 })],
      ['the server now chooses another ALPN protocol', { maxEarlyData: 1024, ALPNProtocols: ['h2', 'http/1.1'] }, (o) => ({ ...o, ALPNProtocols: ['http/1.1', 'h2'] }), { ALPNProtocols: ['h2', 'http/1.1'] }],
      ['the server now chooses another cipher suite of the same hash', { maxEarlyData: 1024, cipherSuites: ['TLS_AES_128_GCM_SHA256'] }, (o) => ({ ...o, cipherSuites: ['TLS_CHACHA20_POLY1305_SHA256'] })],
      ['a HelloRetryRequest is needed', { maxEarlyData: 1024 }, (o) => ({ ...o, groups: ['secp256r1', 'x25519'] }), { groups: ['x25519', 'secp256r1'], keyShareGroups: ['x25519'] }],
    ];
    for (const [name, first, then, client = {}] of refusals) {
      it(name, () => {
        const { serverOptions, session } = ticket(first, client);
        const resumed = then(serverOptions);
        const { pair, received } = resumeWithEarlyData(resumed, { ...client, session, earlyData: text('early') });
        expect(pair.clientErrors).toEqual([]);
        expect(pair.serverErrors).toEqual([]);
        expect(pair.client.state).toBe('ESTABLISHED');
        expect(pair.client.earlyDataAccepted).toBe(false);
        expect(received).toEqual([{ data: 'early', early: false }]);
      });
    }

    it('the ticket is older by its client’s clock than the window allows (a stale or replayed ClientHello)', () => {
      const { serverOptions, session } = ticket();
      // The client thinks the ticket is 20 s older than the server does.
      const { pair, received } = resumeWithEarlyData(serverOptions, { session, earlyData: text('stale'), now: () => Date.now() + 20_000 });
      expect(pair.client.sessionReused).toBe(true);
      expect(pair.client.earlyDataAccepted).toBe(false);
      expect(received).toEqual([{ data: 'stale', early: false }]);
    });
  });

  it('a client sends no early data for a ticket that does not allow it (and its data goes after the handshake)', () => {
    const { serverOptions, session } = ticket({});
    const { pair, received } = resumeWithEarlyData({ ...serverOptions, maxEarlyData: 1024 }, { session, earlyData: text('late') });
    expect(pair.client.earlyDataAccepted).toBeUndefined();
    expect(received).toEqual([{ data: 'late', early: false }]);
  });

  it('more early data than max_early_data_size ends the handshake with unexpected_message', () => {
    const { serverOptions, session } = ticket({ maxEarlyData: 16 });
    // A client that claims a bigger limit than the ticket gave.
    const greedy = { ...session, state: { ...session.state, max_early_data: 64 } };
    const { pair } = resumeWithEarlyData(serverOptions, { session: greedy, earlyData: new Uint8Array(64) });
    expect(pair.serverErrors.map((e) => e.alert)).toEqual(['unexpected_message']);
    expect(pair.server.state).toBe('DEAD');
  });

  it('a handshake message other than EndOfEarlyData under the early key is unexpected_message', () => {
    const { serverOptions, session } = ticket();
    const pair = makePair({ session, earlyData: text('early') }, serverOptions);
    let early: Uint8Array | undefined;
    pair.server.on('keylog', (line) => {
      const [label, , secret] = line.split(' ');
      if (label === 'CLIENT_EARLY_TRAFFIC_SECRET') early = fromHex(secret!);
    });
    // The client's first flight (ClientHello, CCS, one record of early data) only.
    pair.server.feed(pair.client.takeOutput());
    expect(pair.server.earlyDataAccepted).toBe(true);
    const { key, iv } = trafficKeys(nobleProvider, 'sha256', 'AES-128-GCM', early!);
    const sealer = new Tls13Protection(nobleProvider, 'AES-128-GCM', key, iv);
    sealer.seal(ContentType.application_data, new Uint8Array(1)); // the early data record took sequence number 0
    const finished = concat(new Uint8Array([HandshakeType.finished, 0, 0, 32]), new Uint8Array(32));
    pair.server.feed(sealer.seal(ContentType.handshake, finished));
    expect(pair.serverErrors.map((e) => e.alert)).toEqual(['unexpected_message']);
  });
});

describe('0-RTT anti-replay store', () => {
  it('the in-memory store records a first use until it expires, and refuses (fails closed) when full of live entries', () => {
    const store = new EarlyDataReplayCache(2);
    const id = (n: number) => new Uint8Array([n]);
    expect(store.firstUse(id(1), 1000, 0)).toBe(true);
    expect(store.firstUse(id(1), 1000, 10)).toBe(false);
    expect(store.firstUse(id(2), 500, 10)).toBe(true);
    expect(store.firstUse(id(3), 1000, 10)).toBe(false); // full, nothing expired: refused, not forgotten
    expect(store.firstUse(id(3), 1000, 600)).toBe(true); // id 2 expired and made room
    expect(store.size).toBe(2);
    expect(store.firstUse(id(1), 2000, 1000)).toBe(true); // id 1 expired: a new ticket with its hash may go
  });

  it("the application's store decides: one that says the ticket was seen makes the server refuse the early data", () => {
    const calls: { id: Uint8Array; expires: number }[] = [];
    let answer = true;
    const shared: EarlyDataReplayStore = {
      firstUse(id, expiresMs) {
        calls.push({ id, expires: expiresMs });
        return answer;
      },
    };
    const { serverOptions, session } = ticket({ maxEarlyData: 1024, earlyDataReplayStore: shared });
    const accepted = resumeWithEarlyData(serverOptions, { session, earlyData: text('a') });
    expect(accepted.pair.server.earlyDataAccepted).toBe(true);
    answer = false;
    const refused = resumeWithEarlyData(serverOptions, { session, earlyData: text('b') });
    expect(refused.pair.server.earlyDataAccepted).toBe(false);
    expect(refused.received).toEqual([{ data: 'b', early: false }]);
    // The same ticket both times: one id (a SHA-256 of the ticket), kept until the ticket expires.
    expect(calls).toHaveLength(2);
    expect(calls[0]!.id).toHaveLength(32);
    expect(calls[1]!.id).toEqual(calls[0]!.id);
    expect(calls[0]!.expires).toBe(session.state.issued_ms + session.state.lifetime_s * 1000);
  });
});
