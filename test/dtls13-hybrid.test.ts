/**
 * Hybrid post-quantum key exchange over DTLS 1.3, in memory. The client's first ClientHello
 * keeps to one datagram (a classic X25519 share, the hybrids listed first); a server that
 * prefers a hybrid names it in its HelloRetryRequest (the cookie's, when it is stateless) and
 * the second ClientHello carries the 1,216-byte share in fragments. Small MTUs, loss, each
 * hybrid group, and malformed shares.
 */
import { describe, expect, it } from 'vitest';
import type { GroupName, CryptoProvider } from '../src/crypto/provider.js';
import { nobleProvider } from '../src/crypto/noble.js';
import type { DtlsClientOptions, DtlsServerOptions } from '../src/dtls-connection.js';
import { NamedGroup } from '../src/messages/constants.js';
import type { MessageOf } from '../src/messages/handshake.js';
import { dtlsPair, type Network } from './helpers/dtls-pair.js';
import { seededFloats } from './helpers/random.js';

const V13 = { maxVersion: 'TLSv1.3' } as const;
const HYBRIDS: GroupName[] = ['X25519MLKEM768', 'SecP256r1MLKEM768', 'SecP384r1MLKEM1024'];
const text = (s: string) => new TextEncoder().encode(s);

function pair13(client: DtlsClientOptions = {}, server: Partial<DtlsServerOptions> = {}, options: { cookie?: boolean } = {}) {
  const p = dtlsPair({ ...V13, ...client }, { ...V13, ...server }, options);
  const hellos: MessageOf<'client_hello'>[] = [];
  const retries: MessageOf<'hello_retry_request'>[] = [];
  p.client.on('message', (dir, m) => {
    if (dir === 'send' && m.type === 'client_hello') hellos.push(m as MessageOf<'client_hello'>);
    if (dir === 'recv' && m.type === 'hello_retry_request') retries.push(m as MessageOf<'hello_retry_request'>);
  });
  const datagrams: Uint8Array[] = [];
  const base = p.run;
  // Every datagram the client sends, as sent (before any loss).
  const run = (net: Network = {}, rounds?: number) =>
    base({ deliver: (d, from) => (from === 'client' && datagrams.push(d), net.deliver ? net.deliver(d, from) : [d]) }, rounds);
  return Object.assign(p, { run, hellos, retries, clientDatagrams: datagrams });
}

/** Both ends ESTABLISHED on DTLS 1.3 with `group`, and data crossing both ways. */
function expectGroup(p: ReturnType<typeof pair13>, group: GroupName) {
  expect(p.errors).toEqual({ client: [], server: [] });
  expect(p.client.protocol).toBe('DTLSv1.3');
  expect(p.client.group).toBe(group);
  expect(p.server.group).toBe(group);
  const before = { client: p.received.client.length, server: p.received.server.length };
  p.client.send(text('ping'));
  p.server.send(text('pong'));
  p.run();
  expect(p.received.server.slice(before.server).map((d) => new TextDecoder().decode(d))).toEqual(['ping']);
  expect(p.received.client.slice(before.client).map((d) => new TextDecoder().decode(d))).toEqual(['pong']);
}

const shares = (ch: MessageOf<'client_hello'>) => ch.extensions.get('key_share', 'client_hello')!.client_shares.map((s) => s.group);
const selected = (hrr: MessageOf<'hello_retry_request'>) => hrr.extensions.get('key_share', 'hello_retry_request')?.selected_group;

describe('hybrid groups over DTLS 1.3: defaults', () => {
  it('the first ClientHello fits one 1200-byte datagram: an X25519 share, X25519MLKEM768 listed first', () => {
    const p = pair13();
    p.run();
    const first = p.hellos[0]!;
    expect(shares(first)).toEqual([NamedGroup.x25519]);
    // GREASE values (0x?a?a) aside.
    const listed = first.extensions.get('supported_groups', 'client_hello')!.named_group_list.filter((g) => (g & 0x0f0f) !== 0x0a0a);
    expect(listed[0]).toBe(NamedGroup.X25519MLKEM768);
    expect(p.clientDatagrams[0]!.length).toBeLessThanOrEqual(1200);
  });

  it('a default stateless server names X25519MLKEM768 in its cookie HelloRetryRequest: one retry, the hybrid share in the second ClientHello', () => {
    const p = pair13({}, {}, { cookie: true });
    p.run();
    expect(p.retries).toHaveLength(1);
    expect(selected(p.retries[0]!)).toBe(NamedGroup.X25519MLKEM768);
    expect(p.retries[0]!.extensions.has('cookie')).toBe(true);
    expect(p.hellos.map(shares)).toEqual([[NamedGroup.x25519], [NamedGroup.X25519MLKEM768]]);
    expect(p.client.helloRetried).toBe(true);
    expectGroup(p, 'X25519MLKEM768');
  });

  it('a default stateful server asks for X25519MLKEM768 by HelloRetryRequest when the share is classic', () => {
    const p = pair13();
    p.run();
    expect(p.retries.map(selected)).toEqual([NamedGroup.X25519MLKEM768]);
    expectGroup(p, 'X25519MLKEM768');
  });

  it('a client that sends the hybrid share itself needs no HelloRetryRequest', () => {
    const p = pair13({ keyShareGroups: ['X25519MLKEM768'] });
    p.run();
    expect(p.retries).toEqual([]);
    expectGroup(p, 'X25519MLKEM768');
  });

  it('a server that ranks X25519 first takes the client\'s X25519 share without a HelloRetryRequest', () => {
    const p = pair13({}, { groups: ['x25519', 'X25519MLKEM768'] });
    p.run();
    expect(p.retries).toEqual([]);
    expectGroup(p, 'x25519');
  });

  it('a client that lists no hybrid gets X25519 from a default server', () => {
    const p = pair13({ groups: ['x25519', 'secp256r1'] }, {}, { cookie: true });
    p.run();
    expect(p.retries.map(selected)).toEqual([undefined]);
    expectGroup(p, 'x25519');
  });
});

describe('hybrid groups over DTLS 1.3: each group, small MTUs, loss', () => {
  for (const group of HYBRIDS) {
    for (const mtu of [1200, 500]) {
      it(`${group} at MTU ${mtu}: the server that wants it asks, the share crosses in fragments, both report it`, () => {
        const p = pair13({ mtu, groups: [group, 'x25519'] }, { mtu, groups: [group] }, { cookie: true });
        p.run();
        expect(p.retries.map(selected)).toEqual([NamedGroup[group]]);
        // Plaintext (epoch 0) handshake records: the first ClientHello, then the second in two or more.
        expect(p.clientDatagrams.filter((d) => d[0] === 22).length).toBeGreaterThanOrEqual(3);
        for (const d of p.clientDatagrams) expect(d.length).toBeLessThanOrEqual(mtu);
        expectGroup(p, group);
      });
    }
  }

  for (const cookie of [true, false]) {
    it(`X25519MLKEM768 at MTU 500 with 30% of datagrams lost (${cookie ? 'stateless' : 'stateful'} server)`, () => {
      const rnd = seededFloats(cookie ? 1309 : 1310);
      const options = { mtu: 500, maxRetransmissions: 16 };
      const p = pair13(options, options, { cookie });
      p.run({ deliver: (d) => (rnd() < 0.3 ? [] : [d]) }, 4000);
      expectGroup(p, 'X25519MLKEM768');
    });
  }
});

describe('hybrid groups over DTLS 1.3: malformed shares', () => {
  it('on the wire: an X25519MLKEM768 share whose ML-KEM key fails the modulus check is illegal_parameter, both ends dead', () => {
    const p = pair13({}, {}, { cookie: true });
    // The key_share entry: group 0x11ec, length 1216 (0x04c0), then the ML-KEM-768 key first.
    const entry = Buffer.from([0x11, 0xec, 0x04, 0xc0]);
    let spoiled = 0;
    p.run({
      deliver: (d, from) => {
        const at = from === 'client' ? Buffer.from(d).indexOf(entry) : -1;
        if (at < 0) return [d];
        const bad = d.slice();
        // A first coefficient of 0xfff, beyond q = 3329 (FIPS 203 7.2).
        bad.fill(0xff, at + 4, at + 7);
        spoiled++;
        return [bad];
      },
    });
    expect(spoiled).toBeGreaterThan(0);
    expect(p.errors.server.map((e) => e.code)).toEqual(['ERR_TLS_ILLEGAL_PARAMETER']);
    expect(p.errors.client.map((e) => e.code)).toEqual(['ERR_TLS_ALERT_ILLEGAL_PARAMETER']);
    expect(p.server.state).toBe('DEAD');
    expect(p.client.state).toBe('DEAD');
  });

  /** A provider whose `op` output is cut short by one byte for hybrid groups. */
  function truncating(op: 'generateKeyPair' | 'encapsulate'): CryptoProvider {
    return new Proxy(nobleProvider, {
      get(target, key, receiver) {
        if (key === 'generateKeyPair' && op === key) {
          return (group: GroupName, seed?: Uint8Array) => {
            const pair = target.generateKeyPair(group, seed);
            return HYBRIDS.includes(group) ? { ...pair, publicKey: pair.publicKey.subarray(1) } : pair;
          };
        }
        if (key === 'encapsulate' && op === key) {
          return (group: GroupName, share: Uint8Array, seed?: Uint8Array) => {
            const e = target.encapsulate(group, share, seed);
            return HYBRIDS.includes(group) ? { ...e, share: e.share.subarray(1) } : e;
          };
        }
        return Reflect.get(target, key, receiver);
      },
    });
  }

  it('a short hybrid share in the second ClientHello: the server answers illegal_parameter, both ends dead', () => {
    const p = pair13({ mtu: 500, provider: truncating('generateKeyPair') }, { mtu: 500 }, { cookie: true });
    p.run();
    expect(p.errors.server.map((e) => e.code)).toEqual(['ERR_TLS_ILLEGAL_PARAMETER']);
    expect(p.errors.client.map((e) => e.code)).toEqual(['ERR_TLS_ALERT_ILLEGAL_PARAMETER']);
    expect(p.server.state).toBe('DEAD');
    expect(p.client.state).toBe('DEAD');
  });

  it('a short hybrid share in the ServerHello: the client answers illegal_parameter, both ends dead', () => {
    const p = pair13({ mtu: 500, keyShareGroups: ['X25519MLKEM768'] }, { mtu: 500, provider: truncating('encapsulate') });
    p.run();
    expect(p.errors.client.map((e) => e.code)).toEqual(['ERR_TLS_ILLEGAL_PARAMETER']);
    expect(p.errors.server.map((e) => e.code)).toEqual(['ERR_TLS_ALERT_ILLEGAL_PARAMETER']);
    expect(p.client.state).toBe('DEAD');
    expect(p.server.state).toBe('DEAD');
  });
});
