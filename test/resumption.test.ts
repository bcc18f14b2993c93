import { describe, expect, it } from 'vitest';
import type { ClientOptions, ServerOptions } from '../src/config.js';
import { decodeSession, encodeSession, type TLSSession } from '../src/statem/session.js';
import { defaultServerOptions, makePair } from './helpers/pair.js';

const text = (s: string) => new TextEncoder().encode(s);

/** A full handshake that hands the client a session, then a second connection that offers it. */
function fullThenResume(client: ClientOptions = {}, server: Partial<ServerOptions> = {}, resumeClient: ClientOptions = {}) {
  const serverOptions = defaultServerOptions(server); // one options object: shared ticket keys
  const first = makePair(client, serverOptions);
  const sessions: TLSSession[] = [];
  first.client.on('session', (s) => sessions.push(s));
  first.pump();
  expect(first.client.state).toBe('ESTABLISHED');
  const second = makePair({ ...client, session: sessions[0], ...resumeClient }, serverOptions);
  const serverStates: string[] = [];
  second.server.on('transition', (t) => serverStates.push(t.to));
  second.pump();
  return { first, second, sessions, serverStates };
}

describe('TLS 1.3 resumption with tickets', () => {
  it('a ticket from the first connection resumes the second without certificates', () => {
    const { second, sessions, serverStates } = fullThenResume();
    expect(sessions).toHaveLength(1);
    expect(second.clientErrors).toEqual([]);
    expect(second.client.state).toBe('ESTABLISHED');
    expect(second.client.sessionReused).toBe(true);
    expect(second.server.sessionReused).toBe(true);
    expect(serverStates).not.toContain('S.Certificate');
    expect(serverStates).not.toContain('S.CertificateVerify');
    second.client.write(text('resumed'));
    second.pump();
    expect(new TextDecoder().decode(second.serverData[0])).toBe('resumed');
  });

  it('sessions survive encoding to bytes (what node’s session Buffer carries)', () => {
    const { sessions } = fullThenResume();
    const bytes = encodeSession(sessions[0]!);
    expect(decodeSession(bytes)).toEqual(sessions[0]);
    const serverOptions = defaultServerOptions();
    const a = makePair({}, serverOptions);
    const got: TLSSession[] = [];
    a.client.on('session', (s) => got.push(s));
    a.pump();
    const b = makePair({ session: encodeSession(got[0]!) }, serverOptions);
    b.pump();
    expect(b.client.sessionReused).toBe(true);
  });

  it('psk_ke resumes without a key exchange when both sides allow it', () => {
    const { second } = fullThenResume({}, {}, { pskModes: ['psk_ke'] });
    expect(second.client.sessionReused).toBe(true);
    expect(second.client.group).toBeUndefined();
  });

  it('a server refusing psk_ke does a full handshake instead', () => {
    const { second } = fullThenResume({}, { pskModes: ['psk_dhe_ke'] }, { pskModes: ['psk_ke'] });
    expect(second.client.state).toBe('ESTABLISHED');
    expect(second.client.sessionReused).toBe(false);
  });

  it('a ticket from another server’s keys falls back to a full handshake', () => {
    const first = makePair();
    const sessions: TLSSession[] = [];
    first.client.on('session', (s) => sessions.push(s));
    first.pump();
    const second = makePair({ session: sessions[0] }); // fresh options object: other keys
    second.pump();
    expect(second.client.state).toBe('ESTABLISHED');
    expect(second.client.sessionReused).toBe(false);
  });

  it('servers sharing ticketKeys resume each other’s sessions', () => {
    const ticketKeys = new Uint8Array(48).fill(7);
    const first = makePair({}, { ticketKeys });
    const sessions: TLSSession[] = [];
    first.client.on('session', (s) => sessions.push(s));
    first.pump();
    const second = makePair({ session: sessions[0] }, { ticketKeys });
    second.pump();
    expect(second.client.sessionReused).toBe(true);
  });

  it('an expired session is not offered', () => {
    const now = Date.now();
    const { second } = fullThenResume({ now: () => now }, {}, { now: () => now + 7201_000 });
    expect(second.client.state).toBe('ESTABLISHED');
    expect(second.client.sessionReused).toBe(false);
  });

  it('a forged binder is refused with decrypt_error', () => {
    const serverOptions = defaultServerOptions();
    const first = makePair({}, serverOptions);
    const sessions: TLSSession[] = [];
    first.client.on('session', (s) => sessions.push(s));
    first.pump();
    // Same ticket, wrong secret: the binder cannot verify.
    const forged: TLSSession = { ...sessions[0]!, state: { ...sessions[0]!.state, secret: new Uint8Array(32).fill(1) } };
    const second = makePair({ session: forged }, serverOptions);
    second.pump();
    expect(second.server.error?.alert).toBe('decrypt_error');
    expect(second.client.error?.code).toBe('ERR_TLS_ALERT_DECRYPT_ERROR');
  });

  it('resumes across a HelloRetryRequest, recomputing the binder', () => {
    // The client's only share is x25519 and the server takes only secp256r1: both connections retry.
    const { second } = fullThenResume({ groups: ['x25519', 'secp256r1'], keyShareGroups: ['x25519'] }, { groups: ['secp256r1'] });
    expect(second.client.state).toBe('ESTABLISHED');
    expect(second.client.helloRetried).toBe(true);
    expect(second.client.sessionReused).toBe(true);
  });

  it('sends the configured number of tickets, or none', () => {
    for (const tickets of [0, 1, 3]) {
      const p = makePair({}, { tickets });
      const got: TLSSession[] = [];
      p.client.on('session', (s) => got.push(s));
      p.pump();
      expect(got).toHaveLength(tickets);
    }
  });
});

describe('a resumed connection reports the server certificates of the session', () => {
  const derOf = (c: { peerCertificates: { der: Uint8Array }[] }) => c.peerCertificates.map((x) => Buffer.from(x.der).toString('hex'));

  it.each([
    ['TLS 1.3 ticket', {}, {}],
    ['TLS 1.2 ticket', { maxVersion: 'TLSv1.2' }, {}],
    ['TLS 1.2 session ID', { maxVersion: 'TLSv1.2' }, { tickets: 0 }],
  ] as [string, ClientOptions, Partial<ServerOptions>][])('%s: the same chain as the full handshake, also after encoding to bytes', (_name, client, server) => {
    const { first, second, sessions } = fullThenResume(client, server);
    expect(second.client.sessionReused).toBe(true);
    expect(derOf(first.client).length).toBeGreaterThan(0);
    expect(derOf(second.client)).toEqual(derOf(first.client));
    // Through bytes (node's session Buffer, tsls client --session) as well.
    const serverOptions = defaultServerOptions(server);
    const a = makePair(client, serverOptions);
    const got: TLSSession[] = [];
    a.client.on('session', (s) => got.push(s));
    a.pump();
    const b = makePair({ ...client, session: encodeSession(got[0]!) }, serverOptions);
    b.pump();
    expect(b.client.sessionReused).toBe(true);
    expect(derOf(b.client)).toEqual(derOf(a.client));
    expect(sessions[0]!.peer_certificates).toHaveLength(derOf(first.client).length);
  });

  it('connections and resumed connections to one server share one parsed chain', () => {
    const { first, second } = fullThenResume();
    expect(second.client.sessionReused).toBe(true);
    expect(second.client.peerCertificates.length).toBe(first.client.peerCertificates.length);
    second.client.peerCertificates.forEach((c, i) => expect(c).toBe(first.client.peerCertificates[i]));
    const third = makePair();
    third.pump();
    expect(third.client.peerCertificates[0]).toBe(first.client.peerCertificates[0]);
  });

  it('a session resumed again passes its certificates on to the next session', () => {
    const serverOptions = defaultServerOptions();
    const first = makePair({}, serverOptions);
    const s1: TLSSession[] = [];
    first.client.on('session', (s) => s1.push(s));
    first.pump();
    const second = makePair({ session: s1[0] }, serverOptions);
    const s2: TLSSession[] = [];
    second.client.on('session', (s) => s2.push(s));
    second.pump();
    expect(second.client.sessionReused).toBe(true);
    const third = makePair({ session: s2[0] }, serverOptions);
    third.pump();
    expect(third.client.sessionReused).toBe(true);
    expect(derOf(third.client)).toEqual(derOf(first.client));
  });

  it('session bytes whose certificate does not parse are refused with ERR_TLS_INVALID_SESSION', () => {
    const { sessions } = fullThenResume();
    const session = sessions[0]!;
    const broken = { ...session, peer_certificates: [new Uint8Array([0x30, 0x03, 1, 2, 3])] };
    expect(() => decodeSession(encodeSession(broken))).toThrow(expect.objectContaining({ code: 'ERR_TLS_INVALID_SESSION' }));
  });
});

describe('TLS 1.2 resumption', () => {
  const tls12: ClientOptions = { maxVersion: 'TLSv1.2' };

  it('resumes with a session ticket (RFC 5077): abbreviated handshake, no certificates', () => {
    const { first, second, sessions, serverStates } = fullThenResume(tls12);
    expect(first.client.protocol).toBe('TLSv1.2');
    expect(sessions).toHaveLength(1);
    expect(sessions[0]!.ticket.length).toBeGreaterThan(0);
    expect(second.clientErrors).toEqual([]);
    expect(second.client.sessionReused).toBe(true);
    expect(second.server.sessionReused).toBe(true);
    expect(serverStates).toContain('S12.ResumeFinished');
    expect(serverStates).not.toContain('S12.Certificate');
    second.client.write(text('resumed 1.2'));
    second.pump();
    expect(new TextDecoder().decode(second.serverData[0])).toBe('resumed 1.2');
  });

  it('resumes by session ID from the server cache when tickets are off', () => {
    const { sessions, second } = fullThenResume(tls12, { tickets: 0 });
    expect(sessions[0]!.ticket.length).toBe(0);
    expect(sessions[0]!.session_id.length).toBe(32);
    expect(second.client.sessionReused).toBe(true);
  });

  it('does a full handshake when the cache is off and there are no tickets', () => {
    const { sessions } = fullThenResume(tls12, { tickets: 0, sessionCacheSize: 0 });
    expect(sessions).toHaveLength(0);
  });

  it('a forged ticket falls back to a full handshake', () => {
    const serverOptions = defaultServerOptions();
    const first = makePair(tls12, serverOptions);
    const got: TLSSession[] = [];
    first.client.on('session', (s) => got.push(s));
    first.pump();
    const forged = { ...got[0]!, ticket: got[0]!.ticket.map((b, i) => (i === 20 ? b ^ 1 : b)) };
    const second = makePair({ ...tls12, session: forged }, serverOptions);
    second.pump();
    expect(second.client.state).toBe('ESTABLISHED');
    expect(second.client.sessionReused).toBe(false);
  });

  it('a TLS 1.2 session is not offered to a TLS 1.3-only client', () => {
    const { sessions } = fullThenResume(tls12);
    const p = makePair({ minVersion: 'TLSv1.3', session: sessions[0] });
    p.pump();
    expect(p.client.state).toBe('ESTABLISHED');
    expect(p.client.sessionReused).toBe(false);
  });

  it('a session cache stays within its bound', async () => {
    const { SessionCache, newSessionState } = await import('../src/statem/session.js');
    const cache = new SessionCache(3);
    const state = newSessionState({ version: 0x0303, cipher_suite: 0xc02b, secret: new Uint8Array(48), issued_ms: 0, lifetime_s: 60, ticket_age_add: 0, alpn: new Uint8Array(0), servername: new Uint8Array(0), max_early_data: 0 });
    for (let i = 0; i < 10; i++) cache.set(new Uint8Array([i]), state);
    expect(cache.size).toBe(3);
    expect(cache.get(new Uint8Array([0]), 1000)).toBeUndefined();
    expect(cache.get(new Uint8Array([9]), 1000)).toBeDefined();
    expect(cache.get(new Uint8Array([9]), 61_000)).toBeUndefined();
  });
});
