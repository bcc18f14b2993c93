/**
 * After a stateless DTLS 1.3 HelloRetryRequest (RFC 9147 5.1) the server keeps nothing but
 * what its cookie says: the cipher suite and the group the HelloRetryRequest named. The
 * second ClientHello is held to them as after any HelloRetryRequest (RFC 8446 4.1.2, 4.1.4):
 * the same suite, exactly one key share, of the named group, no early_data; and a hello that
 * would need another HelloRetryRequest gets an alert instead (a server sends at most one).
 * Each second hello below carries the genuine cookie, so the guard lets it through and the
 * association must judge it.
 */
import { describe, expect, it } from 'vitest';
import { DtlsConnection, type DtlsClientOptions, type DtlsServerOptions } from '../../src/dtls-connection.js';
import { DtlsCookieGuard } from '../../src/dtls-cookie.js';
import { nobleProvider } from '../../src/crypto/noble.js';
import { ContentType, ExtensionType, HandshakeType, NamedGroup } from '../../src/messages/constants.js';
import { decodeHandshake, encodeHandshake, type MessageOf } from '../../src/messages/handshake.js';
import { Extensions } from '../../src/messages/extensions.js';
import { encodeDtlsRecord, parseDatagram } from '../../src/record/dtls-record-layer.js';
import { fragmentMessage, splitFragments } from '../../src/statem/dtls-flight.js';
import { certifiedKey, rootCa } from '../helpers/pki.js';
import { exchangeDatagrams } from '../helpers/dtls-pair.js';

type ClientHello = MessageOf<'client_hello'>;
type KeyShareEntry = { group: number; key_exchange: Uint8Array };

const ADDRESS = '192.0.2.7:5684';
const V13 = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;
const TLS_AES_128_GCM_SHA256 = 0x1301;

/** The server wants P-384 (then P-256); the client shares X25519 first: the HelloRetryRequest names P-384. */
const ASKS_P384 = {
  client: { groups: ['x25519', 'secp384r1', 'secp256r1'], keyShareGroups: ['x25519'] },
  server: { groups: ['secp384r1', 'secp256r1'] },
} as const satisfies { client: DtlsClientOptions; server: Partial<DtlsServerOptions> };
/** The server takes the client's X25519 share as it is: the HelloRetryRequest carries only the cookie. */
const COOKIE_ONLY = {
  client: { groups: ['x25519', 'secp256r1'], keyShareGroups: ['x25519'] },
  server: { groups: ['x25519', 'secp256r1'] },
} as const satisfies { client: DtlsClientOptions; server: Partial<DtlsServerOptions> };

/** A client's second ClientHello, answering the HelloRetryRequest a stateless guard sent to its first. */
function secondHello(client: DtlsClientOptions, server: Partial<DtlsServerOptions>) {
  const guard = new DtlsCookieGuard(nobleProvider, { server: { ...V13, ...server } });
  const c = DtlsConnection.client({ ...V13, ca: rootCa(), servername: 'localhost', ...client });
  const [first] = c.takeDatagrams();
  const verdict = guard.check(first!, ADDRESS);
  if (verdict.kind !== 'verify') throw new Error('expected a HelloRetryRequest');
  c.feedDatagram(verdict.datagram);
  const datagrams = c.takeDatagrams();
  expect(datagrams).toHaveLength(1);
  return { guard, client: c, datagram: datagrams[0]! };
}

/** `datagram`'s ClientHello changed by `edit`, in one record with the same message_seq and record number. */
function rewritten(datagram: Uint8Array, edit: (hello: ClientHello) => ClientHello): Uint8Array {
  const [record] = parseDatagram(datagram);
  const [fragment] = splitFragments(record!.fragment).fragments;
  expect(fragment!.fragmentLength).toBe(fragment!.length);
  const hello = decodeHandshake(HandshakeType.client_hello, fragment!.fragment, 'dtls12') as ClientHello;
  const body = encodeHandshake(edit(hello), 'dtls12').subarray(4);
  const [handshake] = fragmentMessage(HandshakeType.client_hello, fragment!.messageSeq, body, body.length);
  return encodeDtlsRecord(ContentType.handshake, record!.version, 0, record!.seq, handshake!);
}

/** The hello with its key_share's entries replaced by `shares` (every other extension as it was, in place). */
function withShares(hello: ClientHello, shares: KeyShareEntry[]): ClientHello {
  const list = hello.extensions.list.map((e) => (e.name === 'key_share' ? { ...e, value: { client_shares: shares } } : e));
  return { ...hello, extensions: new Extensions('client_hello', list) };
}

const sharesOf = (hello: ClientHello): KeyShareEntry[] => hello.extensions.get('key_share', 'client_hello')?.client_shares ?? [];
const shareFor = (group: 'secp256r1' | 'secp384r1' | 'x25519'): KeyShareEntry => ({ group: NamedGroup[group], key_exchange: nobleProvider.generateKeyPair(group).publicKey });

/** The guard takes `datagram` (its cookie is genuine); the association it starts processes it. */
function association(guard: DtlsCookieGuard, server: Partial<DtlsServerOptions>, datagram: Uint8Array) {
  const verdict = guard.check(datagram, ADDRESS);
  if (verdict.kind !== 'accept') throw new Error(`expected the cookie to pass, got ${verdict.kind}`);
  const s = DtlsConnection.server({ ...V13, certificates: [certifiedKey('leaf-ecdsa-p256')], ...server }, verdict);
  s.on('error', () => {});
  s.feedDatagram(datagram);
  return s;
}

/** The server refused the hello: dead with `alert`, and all it sent is that alert (no ServerHello, no second HelloRetryRequest). */
function expectRefused(s: DtlsConnection, alert: string, message: RegExp) {
  expect(s.state).toBe('DEAD');
  expect(s.error?.alert).toBe(alert);
  expect(s.error?.message).toMatch(message);
  const records = s.takeDatagrams().flatMap((d) => parseDatagram(d));
  expect(records.map((r) => r.type)).toEqual([ContentType.alert]);
}

describe('the second ClientHello after a stateless DTLS 1.3 HelloRetryRequest', () => {
  it.each([
    ['as the client sent it', ASKS_P384],
    ['as the client sent it, after a HelloRetryRequest with only a cookie', COOKIE_ONLY],
  ])('%s (re-encoded unchanged) completes the handshake', (_name, { client, server }) => {
    const { guard, client: c, datagram } = secondHello(client, server);
    const s = association(guard, server, rewritten(datagram, (hello) => hello));
    c.on('error', () => {});
    exchangeDatagrams(c, s);
    expect(s.error).toBeUndefined();
    expect(c.state).toBe('ESTABLISHED');
    expect(s.state).toBe('ESTABLISHED');
    expect(s.helloRetried).toBe(true);
  });

  it.each([
    ['TLS_AES_256_GCM_SHA384 (another hash)', 0x1302],
    ['TLS_CHACHA20_POLY1305_SHA256 (the same hash)', 0x1303],
  ])('offering only %s, not the suite the cookie names, is illegal_parameter', (_name, suite) => {
    const { guard, datagram } = secondHello(ASKS_P384.client, ASKS_P384.server);
    const forged = rewritten(datagram, (hello) => {
      expect(hello.cipher_suites).toContain(TLS_AES_128_GCM_SHA256);
      return { ...hello, cipher_suites: [suite] };
    });
    expectRefused(association(guard, ASKS_P384.server, forged), 'illegal_parameter', /cipher suite/);
  });

  it('a key share for another group than the one the HelloRetryRequest named is illegal_parameter', () => {
    const { guard, datagram } = secondHello(ASKS_P384.client, ASKS_P384.server);
    const forged = rewritten(datagram, (hello) => {
      expect(sharesOf(hello).map((s) => s.group)).toEqual([NamedGroup.secp384r1]);
      return withShares(hello, [shareFor('secp256r1')]);
    });
    expectRefused(association(guard, ASKS_P384.server, forged), 'illegal_parameter', /key share/);
  });

  it('two key shares, one of them of the named group, is illegal_parameter', () => {
    const { guard, datagram } = secondHello(ASKS_P384.client, ASKS_P384.server);
    const forged = rewritten(datagram, (hello) => withShares(hello, [...sharesOf(hello), shareFor('secp256r1')]));
    expectRefused(association(guard, ASKS_P384.server, forged), 'illegal_parameter', /exactly one key share/);
  });

  it('the first hello\'s share again (a group the server lacks) gets illegal_parameter, never a second HelloRetryRequest', () => {
    const { guard, datagram } = secondHello(ASKS_P384.client, ASKS_P384.server);
    const forged = rewritten(datagram, (hello) => withShares(hello, [shareFor('x25519')]));
    expectRefused(association(guard, ASKS_P384.server, forged), 'illegal_parameter', /key share/);
  });

  it('after a HelloRetryRequest with only a cookie, a hello whose share is gone gets illegal_parameter, never a second HelloRetryRequest', () => {
    const { guard, datagram } = secondHello(COOKIE_ONLY.client, COOKIE_ONLY.server);
    const forged = rewritten(datagram, (hello) => {
      expect(sharesOf(hello).map((s) => s.group)).toEqual([NamedGroup.x25519]);
      return withShares(hello, []);
    });
    expectRefused(association(guard, COOKIE_ONLY.server, forged), 'illegal_parameter', /HelloRetryRequest/);
  });

  it('after a HelloRetryRequest with only a cookie, a share of another group than the one the server took is illegal_parameter', () => {
    // The HelloRetryRequest asked for no change to key_share (RFC 8446 4.1.2): the X25519 share stays.
    const { guard, datagram } = secondHello(COOKIE_ONLY.client, COOKIE_ONLY.server);
    const forged = rewritten(datagram, (hello) => withShares(hello, [shareFor('secp256r1')]));
    expectRefused(association(guard, COOKIE_ONLY.server, forged), 'illegal_parameter', /key share/);
  });

  it('early_data in the second hello is illegal_parameter', () => {
    const { guard, datagram } = secondHello(ASKS_P384.client, ASKS_P384.server);
    const forged = rewritten(datagram, (hello) => {
      const list = [...hello.extensions.list];
      // pre_shared_key, when there is one, stays last (RFC 8446 4.2.11): early_data goes first.
      list.unshift({ type: ExtensionType.early_data, name: 'early_data', value: true });
      return { ...hello, extensions: new Extensions('client_hello', list) };
    });
    expectRefused(association(guard, ASKS_P384.server, forged), 'illegal_parameter', /early_data/);
  });
});
