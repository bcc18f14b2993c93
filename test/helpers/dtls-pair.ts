/** An in-memory DTLS client↔server pair over a simulated datagram network. */
import type { DtlsClientOptions, DtlsServerOptions, DtlsServerStart } from '../../src/dtls-connection.js';
import { DtlsConnection } from '../../src/dtls-connection.js';
import type { TLSError } from '../../src/errors.js';
import { DtlsCookieGuard } from '../../src/dtls-cookie.js';
import { nobleProvider } from '../../src/crypto/noble.js';
import { certifiedKey, rootCa } from './pki.js';

export interface Network {
  /** What happens to one datagram in flight: return the datagrams that arrive (none = lost, two = duplicated). */
  deliver?: (d: Uint8Array, from: 'client' | 'server') => Uint8Array[];
}

/**
 * With `cookie`, the server side starts as a stateless DtlsCookieGuard: client datagrams go to
 * it until one passes, and only then is the server connection made (as a dgram server does).
 */
export function dtlsPair(client: DtlsClientOptions = {}, server: Partial<DtlsServerOptions> = {}, options: { cookie?: boolean } = {}) {
  let now = Date.now();
  const clock = () => now;
  const c = DtlsConnection.client({ ca: rootCa(), servername: 'localhost', now: clock, ...client });
  const makeServer = (start?: DtlsServerStart) =>
    DtlsConnection.server({ certificates: [certifiedKey('leaf-ecdsa-p256')], now: clock, ...server }, start);
  // A server that speaks DTLS 1.3 answers a DTLS 1.3 ClientHello with DTLS 1.3's HelloRetryRequest cookie.
  const guard = options.cookie ? new DtlsCookieGuard(nobleProvider, { now: clock, server }) : undefined;
  const verifies: Uint8Array[] = [];
  let s = guard ? undefined : makeServer();
  const received = { client: [] as Uint8Array[], server: [] as Uint8Array[] };
  const errors = { client: [] as TLSError[], server: [] as TLSError[] };
  c.on('data', (d) => received.client.push(d));
  c.on('error', (e) => errors.client.push(e));
  const wire = (conn: DtlsConnection) => {
    conn.on('data', (d) => received.server.push(d));
    conn.on('error', (e) => errors.server.push(e));
    return conn;
  };
  if (s) wire(s);
  /** A datagram for the server: through the cookie guard while there is no association. */
  const toServer = (d: Uint8Array) => {
    if (s) return s.feedDatagram(d);
    const verdict = guard!.check(d, '127.0.0.1:5684');
    if (verdict.kind === 'verify') verifies.push(verdict.datagram);
    if (verdict.kind === 'accept') {
      s = wire(makeServer(verdict));
      s.feedDatagram(d);
    }
  };
  /** Exchange datagrams (reordering within each burst when `shuffle`), advancing the clock on quiet rounds to fire retransmissions. */
  const run = (net: Network & { shuffle?: (a: Uint8Array[]) => Uint8Array[] } = {}, maxRounds = 400) => {
    let rounds = 0;
    for (; rounds < maxRounds; rounds++) {
      let moved = false;
      const fromServer = [...verifies.splice(0), ...(s ? s.takeDatagrams() : [])];
      for (const [from, out, deliverTo] of [
        ['client', c.takeDatagrams(), toServer],
        ['server', fromServer, (d: Uint8Array) => c.feedDatagram(d)],
      ] as const) {
        for (const d of net.shuffle ? net.shuffle(out) : out) {
          moved = true;
          for (const arrived of net.deliver ? net.deliver(d, from) : [d]) deliverTo(arrived);
        }
      }
      if (moved) continue;
      const next = [c.nextTimeout(), s?.nextTimeout()].filter((t): t is number => t !== undefined);
      if (next.length === 0) break;
      now = Math.max(now, Math.min(...next));
      c.handleTimeout(now);
      s?.handleTimeout(now);
    }
    return rounds;
  };
  return {
    client: c,
    get server(): DtlsConnection {
      if (!s) throw new Error('no server association yet');
      return s;
    },
    guard,
    received,
    errors,
    run,
    advance: (ms: number) => (now += ms),
  };
}

/** Datagrams from `server` to `client` and back, `rounds` times, with nothing lost: for pairs a test put together by hand. */
export function exchangeDatagrams(client: DtlsConnection, server: DtlsConnection, rounds = 10): void {
  for (let i = 0; i < rounds; i++) {
    server.takeDatagrams().forEach((d) => client.feedDatagram(d));
    client.takeDatagrams().forEach((d) => server.feedDatagram(d));
  }
}

/** DTLS 1.3 is the default: what is DTLS 1.2's is tested with the client held to DTLS 1.2 (the server speaks both). */
export const V12 = { maxVersion: 'TLSv1.2' } as const;

/** dtlsPair with the client held to DTLS 1.2 (maxVersion 'TLSv1.2'). */
export function pair12(...[client, server, options]: Parameters<typeof dtlsPair>) {
  return dtlsPair({ ...V12, ...client }, server, options);
}
