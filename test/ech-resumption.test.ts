/**
 * Resumption inside Encrypted Client Hello (RFC 9849 sections 6.1.2, 10.12.3), our client and
 * our server in memory: the inner hello offers the ticket, the outer one GREASE of the same
 * shape; accepted ECH resumes (also across a HelloRetryRequest, and with 0-RTT), rejected ECH
 * is a full handshake for the public name that ends in ech_required.
 */
import { describe, expect, it } from 'vitest';
import { nobleProvider as p } from '../src/crypto/noble.js';
import type { GroupName } from '../src/crypto/provider.js';
import type { ClientOptions, ServerOptions } from '../src/config.js';
import { echConfigListBase64, generateEchKey } from '../src/ech/keys.js';
import { parseEchClientHello } from '../src/messages/ech.js';
import { decodeHandshake, type MessageOf } from '../src/messages/handshake.js';
import type { EchRequiredError } from '../src/statem/ech-client.js';
import type { TLSSession } from '../src/statem/session.js';
import { utf8 } from '../src/util/bytes.js';
import { defaultServerOptions, makePair } from './helpers/pair.js';

const key = generateEchKey(p, { publicName: 'localhost', configId: 1 });
const configList = echConfigListBase64([key]);
const staleConfig = echConfigListBase64([generateEchKey(p, { publicName: 'localhost', configId: 9 })]);
const text = (s: string) => new TextEncoder().encode(s);

/** Client options that make the server ask again: a share for P-256 only, a server that wants X25519. */
const RETRY = { client: { groups: ['secp256r1', 'x25519'] as GroupName[], keyShareGroups: ['secp256r1'] as GroupName[] }, server: { groups: ['x25519'] as GroupName[] } };

/** The client's options for inner.example over ECH (the certificate is for the public name, localhost). */
function echClient(extra: ClientOptions = {}, list: string = configList): ClientOptions {
  return { servername: 'inner.example', ech: { configList: list }, verifyPeer: () => {}, ...extra };
}

/** A full ECH handshake that hands the client a ticket; the server options (their ticket keys) go on. */
function ticketOverEch(client: ClientOptions = {}, server: Partial<ServerOptions> = {}) {
  const serverOptions = defaultServerOptions({ ech: { keys: [key] }, ...server });
  const first = makePair(echClient(client), serverOptions);
  const sessions: TLSSession[] = [];
  first.client.on('session', (s) => sessions.push(s));
  first.pump();
  expect(first.clientErrors).toEqual([]);
  expect(first.client.echStatus).toBe('accepted');
  expect(sessions.length).toBeGreaterThan(0);
  return { serverOptions, session: sessions[0]! };
}

/** A connection offering `session`, with the client's first flight kept as sent. */
function resume(serverOptions: ServerOptions, client: ClientOptions) {
  const pair = makePair(client, serverOptions);
  const flights: Uint8Array[] = [];
  const received: { data: string; early: boolean }[] = [];
  pair.server.on('data', (d, mark) => received.push({ data: new TextDecoder().decode(d), early: mark?.early === true }));
  pair.pump((bytes, from) => {
    if (from === 'client' && bytes.length) flights.push(bytes);
    return [bytes];
  });
  return { pair, flights, received };
}

/** The ClientHello at the start of a client flight (one handshake record). */
function helloOf(flight: Uint8Array): MessageOf<'client_hello'> {
  return decodeHandshake(1, flight.subarray(9, 9 + ((flight[6]! << 16) | (flight[7]! << 8) | flight[8]!))) as MessageOf<'client_hello'>;
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack).indexOf(Buffer.from(needle)) >= 0;
}

describe('resumption inside ECH', () => {
  it('accepted ECH resumes the ticket of the inner name: no certificate, both sides report it reused', () => {
    const { serverOptions, session } = ticketOverEch();
    expect(utf8.decode(session.state.servername)).toBe('inner.example');
    const { pair } = resume(serverOptions, echClient({ session }));
    expect(pair.clientErrors).toEqual([]);
    expect(pair.serverErrors).toEqual([]);
    expect(pair.client.echStatus).toBe('accepted');
    expect(pair.server.echStatus).toBe('accepted');
    expect(pair.client.sessionReused).toBe(true);
    expect(pair.server.sessionReused).toBe(true);
    expect(pair.server.servername).toBe('inner.example');
    pair.client.write(text('resumed privately'));
    pair.pump();
    expect(new TextDecoder().decode(pair.serverData[0])).toBe('resumed privately');
  });

  it('the outer hello on the wire carries GREASE identities and binders of the real lengths, never the ticket', () => {
    const { serverOptions, session } = ticketOverEch();
    const { pair, flights } = resume(serverOptions, echClient({ session }));
    expect(pair.client.sessionReused).toBe(true);
    const outer = helloOf(flights[0]!);
    const psk = outer.extensions.get('pre_shared_key', 'client_hello');
    expect(psk).toBeDefined();
    expect(outer.extensions.list.at(-1)!.name).toBe('pre_shared_key');
    expect(psk!.identities).toHaveLength(1);
    expect(psk!.identities[0]!.identity).toHaveLength(session.ticket.length);
    expect(psk!.identities[0]!.identity).not.toEqual(session.ticket);
    expect(psk!.binders.map((b) => b.length)).toEqual([32]);
    // The ticket is nowhere in what the client sent, nor the inner name.
    for (const flight of flights) {
      expect(contains(flight, session.ticket)).toBe(false);
      expect(contains(flight, text('inner.example'))).toBe(false);
    }
  });

  it('a second connection with the same ticket shows other GREASE identities (nothing links the two)', () => {
    const { serverOptions, session } = ticketOverEch();
    const a = helloOf(resume(serverOptions, echClient({ session })).flights[0]!).extensions.get('pre_shared_key', 'client_hello')!;
    const b = helloOf(resume(serverOptions, echClient({ session })).flights[0]!).extensions.get('pre_shared_key', 'client_hello')!;
    expect(a.identities[0]!.identity).not.toEqual(b.identities[0]!.identity);
  });

  it.each([
    ['a session', {}, {}],
    ['a session and early data', { maxEarlyData: 1024 }, { earlyData: text('early secret') }],
  ])('GREASE ECH offering %s is as long as a real ECH offer of it: the PSK inside counts (RFC 9849 section 6.2)', (_what, server: Partial<ServerOptions>, client: ClientOptions) => {
    const { serverOptions, session } = ticketOverEch({}, server);
    const payloadLength = (flight: Uint8Array) => {
      const ech = parseEchClientHello(helloOf(flight).extensions.get('encrypted_client_hello', 'client_hello')!);
      return ech.type === 'outer' ? ech.payload.length : -1;
    };
    const greased = resume(serverOptions, { servername: 'inner.example', echGrease: true, verifyPeer: () => {}, session, ...client });
    const real = resume(serverOptions, echClient({ session, ...client }));
    expect([greased.pair.client.sessionReused, real.pair.client.sessionReused]).toEqual([true, true]);
    expect(payloadLength(greased.flights[0]!)).toBeGreaterThan(0);
    expect(payloadLength(greased.flights[0]!)).toBe(payloadLength(real.flights[0]!));
  });

  it('rejected ECH with a session: a full handshake for the public name, then ech_required; nothing resumed', () => {
    const { serverOptions, session } = ticketOverEch();
    const { pair } = resume(serverOptions, echClient({ session }, staleConfig));
    expect(pair.client.echStatus).toBe('rejected');
    expect(pair.server.echStatus).toBe('rejected');
    expect(pair.server.sessionReused).toBe(false);
    expect(pair.client.sessionReused).toBe(false);
    expect(pair.server.servername).toBe('localhost');
    const err = pair.clientErrors[0] as EchRequiredError;
    expect(err.code).toBe('ERR_TLS_ECH_REQUIRED');
    expect(err.retryConfigs).toBeDefined();
  });

  it('across a HelloRetryRequest: the second inner hello carries new binders and the session resumes', () => {
    const { serverOptions, session } = ticketOverEch(RETRY.client, RETRY.server);
    const { pair, flights } = resume(serverOptions, echClient({ ...RETRY.client, session }));
    expect(pair.clientErrors).toEqual([]);
    expect(pair.serverErrors).toEqual([]);
    expect(pair.client.helloRetried).toBe(true);
    expect(pair.client.echStatus).toBe('accepted');
    expect(pair.client.sessionReused).toBe(true);
    expect(pair.server.sessionReused).toBe(true);
    for (const flight of flights) expect(contains(flight, session.ticket)).toBe(false);
  });

  it('a ticket is not offered to another name than the one it was issued for', () => {
    const { serverOptions, session } = ticketOverEch();
    const { pair, flights } = resume(serverOptions, echClient({ session, servername: 'other.example' }));
    expect(pair.client.echStatus).toBe('accepted');
    expect(pair.client.sessionReused).toBe(false);
    expect(helloOf(flights[0]!).extensions.has('pre_shared_key')).toBe(false);
  });

  it('the server keeps its rule inside ECH: a ticket of inner.example offered for other.example is a full handshake', () => {
    const { serverOptions, session } = ticketOverEch();
    // The client is told the session is for other.example; the ticket (sealed by the server) says inner.example.
    const relabelled: TLSSession = { ...session, state: { ...session.state, servername: utf8.encode('other.example') } };
    const { pair } = resume(serverOptions, echClient({ session: relabelled, servername: 'other.example' }));
    expect(pair.server.echStatus).toBe('accepted');
    expect(pair.server.servername).toBe('other.example');
    expect(pair.server.sessionReused).toBe(false);
    expect(pair.client.sessionReused).toBe(false);
  });

  it('a TLS 1.2 session is not offered with ECH: its ticket would go in the clear in the outer hello', () => {
    const serverOptions = defaultServerOptions({ ech: { keys: [key] } });
    const first = makePair({ servername: 'inner.example', maxVersion: 'TLSv1.2', verifyPeer: () => {} }, serverOptions);
    const sessions: TLSSession[] = [];
    first.client.on('session', (s) => sessions.push(s));
    first.pump();
    const session = sessions[0]!;
    expect(session.ticket.length).toBeGreaterThan(0);
    const { pair, flights } = resume(serverOptions, echClient({ session }));
    expect(pair.client.echStatus).toBe('accepted');
    expect(pair.client.sessionReused).toBe(false);
    const outer = helloOf(flights[0]!);
    expect(outer.extensions.get('session_ticket', 'client_hello')).toEqual(new Uint8Array(0));
    expect(outer.extensions.has('pre_shared_key')).toBe(false);
    for (const flight of flights) expect(contains(flight, session.ticket)).toBe(false);
  });

  describe('0-RTT inside ECH', () => {
    it('accepted ECH: early data under the inner hello\'s key is accepted and delivered as early', () => {
      const { serverOptions, session } = ticketOverEch({}, { maxEarlyData: 1024 });
      const { pair, received, flights } = resume(serverOptions, echClient({ session, earlyData: text('early secret') }));
      expect(pair.clientErrors).toEqual([]);
      expect(pair.client.echStatus).toBe('accepted');
      expect(pair.client.earlyDataAccepted).toBe(true);
      expect(pair.server.earlyDataAccepted).toBe(true);
      expect(received[0]).toEqual({ data: 'early secret', early: true });
      // The outer hello says early_data too, so a server that rejects ECH skips the early records.
      expect(helloOf(flights[0]!).extensions.has('early_data')).toBe(true);
    });

    it('rejected ECH: the early data is refused with it, never read by the server', () => {
      const { serverOptions, session } = ticketOverEch({}, { maxEarlyData: 1024 });
      const { pair, received } = resume(serverOptions, echClient({ session, earlyData: text('early secret') }, staleConfig));
      expect(pair.client.echStatus).toBe('rejected');
      expect(pair.server.earlyDataAccepted).toBe(false);
      expect(pair.client.earlyDataAccepted).toBe(false);
      expect(received).toEqual([]);
      expect((pair.clientErrors[0] as EchRequiredError).code).toBe('ERR_TLS_ECH_REQUIRED');
    });
  });
});
