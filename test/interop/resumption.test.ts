/**
 * Session resumption against real peers, both directions: openssl s_client -sess_out /
 * -sess_in and gnutls-cli --resume against one running our-server (several connections
 * sharing one ServerOptions object, so one set of ticket keys and one session cache), and
 * our client resuming, from its `session` event, against openssl s_server and gnutls-serv.
 * TLS 1.3 (PSK from a ticket), TLS 1.2 with tickets (RFC 5077) and TLS 1.2 by session ID.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../src/connection.js';
import type { ClientOptions, ServerOptions, TLSVersionName } from '../../src/config.js';
import { encodeSession, type TLSSession } from '../../src/statem/session.js';
import { GNUTLS_TLS13, killAllPeers, peers, startGnutlsClient, startGnutlsServer, startOpensslClient, startOpensslServer, type Peer } from '../helpers/peers.js';
import { certifiedKey, rootCa } from '../helpers/pki.js';
import { destroyAllDrivers, listenerPerTest, SocketDriver } from '../helpers/socket-driver.js';

const GNUTLS_TLS12 = 'NORMAL:-VERS-ALL:+VERS-TLS1.2';

it.each([peers.openssl3, peers.gnutls].map((p) => [p.title, p] as const))('%s is there', (_title, peer) => {
  expect(peer.bin).toBeTruthy();
});

afterEach(async () => {
  destroyAllDrivers();
  await killAllPeers();
});

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tsls-resume-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe(`${peers.openssl3.title} s_client -sess_out / -sess_in → one running our-server`, () => {
  const listener = listenerPerTest();

  /** Accept the next s_client connection with `options` (shared across connections) and echo its data. */
  async function accept(peer: Peer, options: ServerOptions): Promise<SocketDriver> {
    const d = await listener().accept(Connection.server(options), { context: () => peer.describe() });
    d.conn.on('data', (bytes) => d.write(bytes));
    return d;
  }

  const CASES: { name: string; version: TLSVersionName; extra: string[]; ticket: boolean }[] = [
    { name: 'TLS 1.3 with a ticket', version: 'TLSv1.3', extra: [], ticket: true },
    { name: 'TLS 1.2 with a session ticket (RFC 5077)', version: 'TLSv1.2', extra: [], ticket: true },
    { name: 'TLS 1.2 by session ID (-no_ticket: our session cache)', version: 'TLSv1.2', extra: ['-no_ticket'], ticket: false },
  ];

  it.each(CASES.map((c) => [c.name, c] as const))('openssl s_client resumes a session with our server: %s', async (name, { version, extra, ticket }) => {
    const options: ServerOptions = { certificates: [certifiedKey('leaf-ecdsa-p256')] }; // one object: one keyring, one cache
    const file = join(tmp, `s_client-${name.replace(/\W+/g, '-')}.sess`);

    // First connection: a full handshake; s_client saves the session it gets.
    const first = startOpensslClient(listener().port, { version, extra: ['-sess_out', file, ...extra] });
    const d1 = await accept(first, options);
    await d1.waitHandshake();
    // The session s_client prints once it has it (for TLS 1.3: when our ticket arrives), to its last line.
    await first.waitOutput(version === 'TLSv1.3' ? /Protocol  : TLSv1\.3[\s\S]*Max Early Data: / : 'Extended master secret: yes');
    expect(first.output).toContain(`New, ${version}, Cipher is`);
    expect(d1.conn.sessionReused).toBe(false);
    if (version === 'TLSv1.2') {
      if (ticket) expect(first.output).toMatch(/TLS session ticket:\n\s+0000 - /);
      else expect(first.output).not.toMatch(/TLS session ticket:\n\s+0000 - /);
      expect(first.output).toMatch(/Session-ID: [0-9A-F]{64}\n/);
    }
    first.send('first connection\n');
    await first.waitOutput(/^first connection$/m);
    first.send('Q\n');
    expect((await first.waitExit()).code).toBe(0);
    expect(existsSync(file) && statSync(file).size > 0).toBe(true);

    // Second connection, same server options: s_client offers the saved session and we take it.
    const second = startOpensslClient(listener().port, { version, extra: ['-sess_in', file, ...extra] });
    const d2 = await accept(second, options);
    await d2.waitHandshake();
    await second.waitOutput(`Reused, ${version}, Cipher is`);
    expect(second.output).not.toContain(`New, ${version}`);
    expect(d2.conn.sessionReused).toBe(true);
    expect(d2.conn.protocol).toBe(version);
    expect(d2.messages).not.toContain('send certificate');
    second.send('resumed connection\n');
    await d2.waitText('resumed connection\n');
    await second.waitOutput(/^resumed connection$/m);
  });

  it('openssl s_client falls back to a full handshake when its session comes from another server configuration', async () => {
    const file = join(tmp, 's_client-other-keys.sess');
    const first = startOpensslClient(listener().port, { extra: ['-sess_out', file] });
    const d1 = await accept(first, { certificates: [certifiedKey('leaf-ecdsa-p256')] });
    await d1.waitHandshake();
    await first.waitOutput('Protocol  : TLSv1.3');
    first.send('Q\n');
    await first.waitExit();

    const second = startOpensslClient(listener().port, { extra: ['-sess_in', file] });
    const d2 = await accept(second, { certificates: [certifiedKey('leaf-ecdsa-p256')] }); // new options object: other ticket keys
    await d2.waitHandshake();
    await second.waitOutput('New, TLSv1.3, Cipher is');
    expect(d2.conn.sessionReused).toBe(false);
  });
});

describe(`our client → ${peers.openssl3.title} s_server -naccept 2, resuming`, () => {
  const CASES: { name: string; version: TLSVersionName; extra: string[] }[] = [
    { name: 'TLS 1.3 with a ticket', version: 'TLSv1.3', extra: [] },
    { name: 'TLS 1.2 with a session ticket', version: 'TLSv1.2', extra: [] },
    { name: 'TLS 1.2 by session ID (s_server -no_ticket)', version: 'TLSv1.2', extra: ['-no_ticket'] },
  ];

  it.each(CASES.map((c) => [c.name, c] as const))('our client resumes with openssl s_server: %s', async (_name, { version, extra }) => {
    // stdin/stdout mode (not -rev): that is where s_server reports a resumed connection.
    const { peer, port } = await startOpensslServer({ version, naccept: 2, extra });
    const options: ClientOptions = { ca: rootCa(), servername: 'localhost', maxVersion: version };

    const d1 = await SocketDriver.connect(Connection.client(options), port, '127.0.0.1', { context: () => peer.describe() });
    const sessions: TLSSession[] = [];
    d1.conn.on('session', (s) => sessions.push(s));
    await d1.waitHandshake();
    d1.write('first connection\n');
    await peer.waitOutput('first connection');
    peer.send('first reply\n');
    await d1.waitText('first reply\n'); // TLS 1.3 tickets came before this
    expect(d1.conn.sessionReused).toBe(false);
    expect(peer.output).not.toContain('Reused session-id');
    expect(sessions.length).toBeGreaterThan(0);
    const session = sessions[0]!;
    if (extra.includes('-no_ticket')) {
      expect(session.ticket.length).toBe(0);
      expect(session.session_id.length).toBe(32);
    } else {
      expect(session.ticket.length).toBeGreaterThan(0);
    }
    d1.end();
    await peer.waitOutput('CONNECTION CLOSED');

    // Second connection with the session, passed as bytes as an application would keep it.
    const d2 = await SocketDriver.connect(Connection.client({ ...options, session: encodeSession(session) }), port, '127.0.0.1', {
      context: () => peer.describe(),
    });
    await d2.waitHandshake();
    expect(d2.conn.sessionReused).toBe(true);
    expect(d2.conn.protocol).toBe(version);
    expect(d2.messages).not.toContain('recv certificate');
    // No Certificate came, yet the connection still says whom it talks to: the session's chain.
    expect(d2.conn.peerCertificates.map((c) => c.der)).toEqual(d1.conn.peerCertificates.map((c) => c.der));
    expect(d2.conn.peerCertificates.length).toBeGreaterThan(0);
    await peer.waitOutput('Reused session-id');
    d2.write('resumed connection\n');
    await peer.waitOutput('resumed connection');
    peer.send('resumed reply\n');
    await d2.waitText('resumed reply\n');
  });
});

describe(`${peers.gnutls.title}`, () => {
  it.each([
    ['TLS 1.3', 'TLSv1.3', GNUTLS_TLS13],
    ['TLS 1.2', 'TLSv1.2', GNUTLS_TLS12],
  ] as const)('our client resumes with gnutls-serv over %s', async (_label, version, priority) => {
    const { peer, port } = await startGnutlsServer({ priority });
    const options: ClientOptions = { ca: rootCa(), servername: 'localhost' };

    const d1 = await SocketDriver.connect(Connection.client(options), port, '127.0.0.1', { context: () => peer.describe() });
    const sessions: TLSSession[] = [];
    d1.conn.on('session', (s) => sessions.push(s));
    await d1.waitHandshake();
    expect(d1.conn.protocol).toBe(version);
    d1.write('first connection\n');
    await d1.waitText('first connection\n');
    expect(sessions.length).toBeGreaterThan(0);
    d1.end();
    await d1.waitPeerEnd();

    const d2 = await SocketDriver.connect(Connection.client({ ...options, session: sessions[0] }), port, '127.0.0.1', { context: () => peer.describe() });
    await d2.waitHandshake();
    expect(d2.conn.sessionReused).toBe(true);
    expect(d2.conn.protocol).toBe(version);
    expect(d2.messages).not.toContain('recv certificate');
    expect(d2.conn.peerCertificates.map((c) => c.der)).toEqual(d1.conn.peerCertificates.map((c) => c.der));
    d2.write('resumed connection\n');
    await d2.waitText('resumed connection\n');
    await peer.waitOutput(/Accepted connection[\s\S]*Accepted connection[^\n]*\n\*\*\* This is a resumed session/);
  });

  describe('gnutls-cli --resume → our server', () => {
    const listener = listenerPerTest();

    it.each([
      ['TLS 1.3', 'TLSv1.3', GNUTLS_TLS13, ['--waitresumption']],
      ['TLS 1.2', 'TLSv1.2', GNUTLS_TLS12, []],
    ] as const)('gnutls-cli --resume resumes its session with our server over %s', async (_label, version, priority, extra) => {
      const options: ServerOptions = { certificates: [certifiedKey('leaf-ecdsa-p256')] };
      const peer = startGnutlsClient(listener().port, { priority, extra: ['--resume', ...extra] });
      const d1 = await listener().accept(Connection.server(options), { context: () => peer.describe() });
      await d1.waitHandshake();
      expect(d1.conn.sessionReused).toBe(false);
      const d2 = await listener().accept(Connection.server(options), { context: () => peer.describe() });
      d2.conn.on('data', (bytes) => d2.write(bytes));
      await d2.waitHandshake();
      await peer.waitOutput('This is a resumed session');
      expect(d2.conn.sessionReused).toBe(true);
      expect(d2.conn.protocol).toBe(version);
      peer.send('resumed connection\n');
      await d2.waitText('resumed connection\n');
      await peer.waitOutput(/^resumed connection$/m);
    });
  });
});
