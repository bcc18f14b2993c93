/**
 * DTLS 1.2 resumption on the client, in memory (RFC 6347 4.2 with RFC 5246 7.3 and RFC 5077):
 * a session from one association's 'session' event resumes the next one with an abbreviated
 * handshake, by ticket or by session ID, also through the cookie exchange and under loss; a
 * server that cannot resume it falls back to a full handshake.
 */
import { describe, expect, it } from 'vitest';
import type { DtlsServerOptions } from '../src/dtls-connection.js';
import { encodeSession, SessionCache, type TLSSession } from '../src/statem/session.js';
import { pair12 } from './helpers/dtls-pair.js';
import { mulberry32 } from './helpers/random.js';

/** A full handshake; returns the session the client was given and the message types it received. */
function firstSession(server: Partial<DtlsServerOptions>): TLSSession {
  const p = pair12({}, server);
  const sessions: TLSSession[] = [];
  p.client.on('session', (s) => sessions.push(s));
  p.run();
  expect(p.client.state).toBe('ESTABLISHED');
  expect(p.client.sessionReused).toBe(false);
  expect(sessions).toHaveLength(1);
  return sessions[0]!;
}

/** Handshake message types one side received. */
function received(conn: { on(e: 'message', l: (dir: 'send' | 'recv', msg: { type: string }) => void): unknown }): string[] {
  const types: string[] = [];
  conn.on('message', (dir, msg) => dir === 'recv' && types.push(msg.type));
  return types;
}

const ticketKeys = new Uint8Array(48).fill(7);


describe("DTLS 1.2 client resumption (maxVersion 'TLSv1.2')", () => {
  it('resumes with an RFC 5077 ticket: no Certificate, data flows both ways', () => {
    const server = { ticketKeys };
    const session = firstSession(server);
    expect(session.ticket.length).toBeGreaterThan(0);
    const p = pair12({ session }, server);
    const got = received(p.client);
    const again: TLSSession[] = [];
    p.client.on('session', (s) => again.push(s));
    p.run();
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(p.client.sessionReused).toBe(true);
    expect(p.server.sessionReused).toBe(true);
    expect(p.client.protocol).toBe('DTLSv1.2');
    expect(got).toEqual(['server_hello_tls12', 'new_session_ticket_tls12', 'finished']);
    // The peer's certificates come from the session.
    expect(p.client.peerCertificates.length).toBeGreaterThan(0);
    expect(again).toHaveLength(1);
    p.client.send(new TextEncoder().encode('after resumption'));
    p.run();
    expect(new TextDecoder().decode(p.received.server[0])).toBe('after resumption');
    p.server.send(new TextEncoder().encode('answer'));
    p.run();
    expect(new TextDecoder().decode(p.received.client[0])).toBe('answer');
  });

  it('resumes by session ID when the server gives no tickets (the same server, its session cache)', () => {
    const server = { tickets: 0, sessionCache: new SessionCache() };
    const session = firstSession(server);
    expect(session.ticket.length).toBe(0);
    expect(session.session_id.length).toBeGreaterThan(0);
    const p = pair12({ session: encodeSession(session) }, server);
    p.run();
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(p.client.sessionReused).toBe(true);
    expect(p.server.sessionReused).toBe(true);
  });

  it('resumes through the stateless cookie exchange (HelloVerifyRequest) and under 25% loss', () => {
    const server = { ticketKeys };
    const session = firstSession(server);
    const { next: rand } = mulberry32(15);
    const p = pair12({ session, maxRetransmissions: 12 }, { ...server, maxRetransmissions: 12 }, { cookie: true });
    const got = received(p.client);
    p.run({ deliver: (d) => (rand() < 0.25 ? [] : [d]) }, 2000);
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(got).toContain('hello_verify_request');
    expect(p.client.sessionReused).toBe(true);
    expect(p.server.sessionReused).toBe(true);
  });

  it('falls back to a full handshake when the server cannot open the ticket', () => {
    const session = firstSession({ ticketKeys });
    const p = pair12({ session }, { ticketKeys: new Uint8Array(48).fill(9) });
    const got = received(p.client);
    p.run();
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(p.client.state).toBe('ESTABLISHED');
    expect(p.client.sessionReused).toBe(false);
    expect(got).toEqual(expect.arrayContaining(['certificate', 'server_key_exchange', 'server_hello_done']));
  });

  it('does not offer a session whose server name differs (verification is never skipped)', () => {
    const server = { ticketKeys };
    const session = firstSession(server);
    const p = pair12({ session, servername: 'test.tsls.example' }, server);
    p.run();
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(p.client.sessionReused).toBe(false);
  });
});
