/**
 * DTLS 1.2 and 1.3 resumption through tsls/node (client side): 'session' follows 'secureConnect' and
 * carries a Buffer that `session` accepts on the next dtls.connect, which then resumes
 * (isSessionReused on both ends, authorized without a new certificate check). A client that
 * did not verify the server (rejectUnauthorized: false against an unknown CA) is given no
 * session to resume: resuming must never skip verification.
 */
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { dtls, type DTLSConnectOptions, type DTLSSocket } from '../../src/node/entry.js';
import { ourDtlsServer } from '../helpers/dtls-endpoints.js';
import { until } from '../helpers/peers.js';
import { ROOT } from './util.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const DTLS12 = { minVersion: 'DTLSv1.2', maxVersion: 'DTLSv1.2' } as const;

async function connect(port: number, options: Partial<DTLSConnectOptions> = {}) {
  const c = dtls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: ROOT, ...options });
  cleanups.push(() => void c.destroy());
  const events: string[] = [];
  const sessions: Buffer[] = [];
  c.on('secureConnect', () => events.push('secureConnect'));
  c.on('session', (s: Buffer) => (events.push('session'), sessions.push(s)));
  await once(c, 'secureConnect', { signal: AbortSignal.timeout(5000) });
  await new Promise((r) => setTimeout(r, 50)); // the session event, if any, follows in the same turn or the next
  return { c, events, sessions };
}

describe('DTLS 1.2 client resumption through tsls/node', () => {
  it.each([
    ['tickets', {}],
    ['session IDs (no tickets)', { secureOptions: 0x4000 /* SSL_OP_NO_TICKET */ }],
  ] as const)('with %s: session after secureConnect, the next association resumes', async (_label, serverOptions) => {
    const { port, sockets } = await ourDtlsServer(cleanups, { ...serverOptions, ...DTLS12 });
    const first = await connect(port);
    expect(first.c.getProtocol()).toBe('DTLSv1.2');
    expect(first.events).toEqual(['secureConnect', 'session']);
    expect(first.c.isSessionReused()).toBe(false);
    expect(first.c.getSession()).toEqual(first.sessions[0]);
    first.c.close();

    const second = await connect(port, { session: first.sessions[0]! });
    expect(second.c.isSessionReused()).toBe(true);
    expect(second.c.authorized).toBe(true);
    await new Promise<void>((resolve) => {
      const check = () => (sockets.length === 2 ? resolve() : setTimeout(check, 5));
      check();
    });
    expect((sockets[1] as DTLSSocket).isSessionReused()).toBe(true);
    expect(second.events[0]).toBe('secureConnect');
  });

  it('an unverified association hands out no session', async () => {
    const { port } = await ourDtlsServer(cleanups);
    const { c, sessions } = await connect(port, { ca: undefined, rejectUnauthorized: false });
    expect(c.authorized).toBe(false);
    expect(sessions).toEqual([]);
    expect(c.getSession()).toBeUndefined();
  });

  it('refuses a session that is not a tsls session Buffer at once', () => {
    expect(() => dtls.connect({ host: '127.0.0.1', port: 9, session: Buffer.from('not a session') })).toThrow();
  });
});

describe('DTLS 1.3 client resumption through tsls/node', () => {
  it('the NewSessionTicket after the handshake is the session; the next association resumes with it, from a new port', async () => {
    const { port, sockets } = await ourDtlsServer(cleanups);
    const first = await connect(port);
    expect(first.c.getProtocol()).toBe('DTLSv1.3');
    await until('the ticket', () => first.sessions.length > 0);
    expect(first.events[0]).toBe('secureConnect');
    first.c.close();

    const second = await connect(port, { session: first.sessions[0]! });
    expect(second.c.getProtocol()).toBe('DTLSv1.3');
    expect(second.c.isSessionReused()).toBe(true);
    expect(second.c.authorized).toBe(true);
    await until('the second association', () => sockets.length === 2 && sockets[1]!.established);
    expect(sockets[1]!.isSessionReused()).toBe(true);
    expect(sockets[1]!.remotePort).not.toBe(sockets[0]!.remotePort);
  });

  it('a server that sends no tickets (SSL_OP_NO_TICKET) gives our client no session to resume', async () => {
    const { port } = await ourDtlsServer(cleanups, { secureOptions: 0x4000 });
    const first = await connect(port);
    await new Promise((r) => setTimeout(r, 200));
    expect(first.sessions).toEqual([]);
    expect(first.c.getSession()).toBeUndefined();
  });
});
