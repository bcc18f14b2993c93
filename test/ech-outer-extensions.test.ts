/**
 * What our ECH client puts inside the outer hello (RFC 9849 sections 5.1, 6.1.3, 6.1.6), seen by
 * opening it with the server's key: the inner hello refers to the outer's copies of the
 * extensions both share (ech_outer_extensions, in the outer's order) instead of repeating them,
 * and is padded with zeros, the name hidden up to maximum_name_length and the whole a multiple
 * of 32. Our server rebuilds exactly the inner hello the client hashed, also after a
 * HelloRetryRequest. The outer hello offers TLS 1.2 too: a TLS 1.2 server is authenticated for
 * the public_name, then the client ends with ech_required.
 */
import { describe, expect, it } from 'vitest';
import { hpkeSetupRecipient, type HpkeContext } from '../src/crypto/hpke.js';
import { nobleProvider as p } from '../src/crypto/noble.js';
import type { GroupName } from '../src/crypto/provider.js';
import { echConfigListBase64, generateEchKey, type EchKey } from '../src/ech/keys.js';
import { echHpkeInfo } from '../src/ech/schedule.js';
import { ECH_EXTENSION, OuterExtensions, encodeEchClientHello, parseEchClientHello } from '../src/messages/ech.js';
import { decode } from '../src/messages/codec.js';
import { ExtensionType, ProtocolVersion } from '../src/messages/constants.js';
import { Extensions, decodeHandshake, encodeHandshake, type HandshakeMessage, type MessageOf } from '../src/messages/handshake.js';
import type { EchRequiredError } from '../src/statem/ech-client.js';
import { Reader } from '../src/util/bytes.js';
import { makePair } from './helpers/pair.js';
import { certifiedKey, rootCa } from './helpers/pki.js';

type Hello = MessageOf<'client_hello'>;

/** The hellos a connection's `message` events showed: outer ones as sent or received, inner ones marked. */
function watch(conn: { on(event: 'message', f: (dir: 'recv' | 'send', msg: HandshakeMessage, length: number, ech?: 'inner') => void): unknown }, dir: 'recv' | 'send') {
  const seen = { outer: [] as Hello[], inner: [] as Hello[] };
  conn.on('message', (d, msg, _length, ech) => {
    if (d === dir && msg.type === 'client_hello') seen[ech === 'inner' ? 'inner' : 'outer'].push(msg);
  });
  return seen;
}

/** Where EncodedClientHelloInner ends and its padding begins. */
function encodedEnd(plaintext: Uint8Array): number {
  const r = new Reader(plaintext, 'EncodedClientHelloInner');
  r.u16();
  r.bytes(32);
  r.vec(1);
  r.vec(2);
  r.vec(1);
  r.vec(2);
  return r.offset;
}

/** Opens the outer hellos of one connection as its server would: the second with the first one's context. */
function opener(key: EchKey) {
  let context: HpkeContext | undefined;
  return (outer: Hello): { encoded: Hello; padding: Uint8Array; payloadLength: number } => {
    const at = outer.extensions.list.findIndex((e) => e.type === ECH_EXTENSION);
    const ech = parseEchClientHello(outer.extensions.list[at]!.value as Uint8Array);
    if (ech.type !== 'outer') throw new Error('not an outer hello');
    const k = key.config.contents.key_config;
    context ??= hpkeSetupRecipient(p, { kem: k.kem_id, kdf: ech.cipher_suite.kdf_id, aead: ech.cipher_suite.aead_id }, ech.enc, key, echHpkeInfo(key.config));
    const zeroed = { ...ech, payload: new Uint8Array(ech.payload.length) };
    const aadHello = { ...outer, extensions: new Extensions('client_hello', outer.extensions.list.map((e, i) => (i === at ? { type: ECH_EXTENSION, value: encodeEchClientHello(zeroed) } : e))) };
    const plaintext = context.open(encodeHandshake(aadHello).subarray(4), ech.payload);
    if (!plaintext) throw new Error('the payload does not open');
    const end = encodedEnd(plaintext);
    return { encoded: decodeHandshake(1, plaintext.subarray(0, end)) as Hello, padding: plaintext.subarray(end), payloadLength: ech.payload.length };
  };
}

function referencesOf(encoded: Hello): number[] {
  const refs = encoded.extensions.list.find((e) => e.type === ExtensionType.ech_outer_extensions);
  return refs ? decode(OuterExtensions, refs.value as Uint8Array, 'ech_outer_extensions').types : [];
}

const RETRY = { client: { groups: ['secp256r1', 'x25519'] as GroupName[], keyShareGroups: ['secp256r1'] as GroupName[] }, server: { groups: ['x25519'] as GroupName[] } };

function echPair(key: EchKey, o: { servername?: string; retry?: boolean; serverKeys?: EchKey[] } = {}) {
  const pair = makePair(
    { servername: o.servername, ech: { configList: echConfigListBase64([key]) }, verifyPeer: () => {}, ...(o.retry ? RETRY.client : {}) },
    { ech: { keys: o.serverKeys ?? [key] }, ...(o.retry ? RETRY.server : {}) },
  );
  return { pair, sent: watch(pair.client, 'send'), received: watch(pair.server, 'recv') };
}

const key = generateEchKey(p, { publicName: 'localhost', configId: 5 });

describe('ech_outer_extensions from our client', () => {
  it('the inner hello refers to the outer key_share, groups, signature algorithms, record_size_limit and PSK modes, in the outer order, and carries none of them itself', () => {
    const { pair, sent } = echPair(key, { servername: 'inner.example' });
    pair.pump();
    expect(pair.clientErrors).toEqual([]);
    expect(pair.server.echStatus).toBe('accepted');
    const { encoded } = opener(key)(sent.outer[0]!);
    const refs = referencesOf(encoded);
    expect(refs).toEqual([
      ExtensionType.supported_groups,
      ExtensionType.signature_algorithms,
      ExtensionType.key_share,
      ExtensionType.record_size_limit,
      ExtensionType.psk_key_exchange_modes,
    ]);
    const outerTypes = sent.outer[0]!.extensions.types;
    expect(refs.map((t) => outerTypes.indexOf(t))).toEqual([...refs.map((t) => outerTypes.indexOf(t))].sort((a, b) => a - b));
    for (const t of refs) expect(encoded.extensions.types).not.toContain(t);
    // What stays inside: the real name, TLS 1.3 alone, the inner marker.
    expect(encoded.extensions.get('server_name', 'client_hello')?.server_name_list[0]?.host_name).toBe('inner.example');
    expect(encoded.extensions.get('supported_versions', 'client_hello')?.versions.filter((v) => v === ProtocolVersion.TLS1_2)).toEqual([]);
    expect(encoded.extensions.types).toContain(ECH_EXTENSION);
  });

  it('our server rebuilds byte for byte the inner hello our client hashed (the message events show it on both sides)', () => {
    const { pair, sent, received } = echPair(key, { servername: 'inner.example' });
    pair.pump();
    expect(pair.clientErrors).toEqual([]);
    expect(sent.inner).toHaveLength(1);
    expect(received.inner).toHaveLength(1);
    expect(encodeHandshake(received.inner[0]!)).toEqual(encodeHandshake(sent.inner[0]!));
    expect(received.outer).toHaveLength(1);
    expect(received.inner[0]!.extensions.get('key_share', 'client_hello')).toEqual(sent.outer[0]!.extensions.get('key_share', 'client_hello'));
  });

  it('after a HelloRetryRequest the second inner hello refers to the new key share of the second outer hello, and is accepted', () => {
    const { pair, sent, received } = echPair(key, { servername: 'inner.example', retry: true });
    pair.pump();
    expect(pair.clientErrors).toEqual([]);
    expect(pair.client.helloRetried).toBe(true);
    expect(pair.client.echStatus).toBe('accepted');
    expect(sent.outer).toHaveLength(2);
    const open = opener(key);
    open(sent.outer[0]!);
    const second = open(sent.outer[1]!);
    expect(referencesOf(second.encoded)).toContain(ExtensionType.key_share);
    expect(received.inner[1]!.extensions.get('key_share', 'client_hello')!.client_shares.map((s) => s.group)).toEqual([0x001d]);
    expect(encodeHandshake(received.inner[1]!)).toEqual(encodeHandshake(sent.inner[1]!));
  });
});

describe('EncodedClientHelloInner padding (RFC 9849 section 6.1.3)', () => {
  const roomy = generateEchKey(p, { publicName: 'localhost', configId: 6, maximumNameLength: 40 });

  function padded(servername: string | undefined, k = roomy) {
    const { pair, sent } = echPair(k, { servername });
    pair.pump();
    expect(pair.clientErrors).toEqual([]);
    return opener(k)(sent.outer[0]!);
  }

  it('is zeros and makes the whole a multiple of 32', () => {
    for (const name of ['a.example', 'inner.example', undefined]) {
      const { encoded, padding } = padded(name);
      expect(padding.every((b) => b === 0)).toBe(true);
      expect((encodeHandshake(encoded).length - 4 + padding.length) % 32).toBe(0);
    }
  });

  it('hides the name length up to maximum_name_length: a short and a long name give payloads of one size', () => {
    const short = padded('a.example');
    const long = padded('a-much-longer-inner-name.example');
    expect(short.payloadLength).toBe(long.payloadLength);
    expect(short.padding.length - long.padding.length).toBe('a-much-longer-inner-name.example'.length - 'a.example'.length);
  });

  it('without a name, pads maximum_name_length + 9 (what a server_name extension would take) before rounding', () => {
    const { padding } = padded(undefined);
    expect(padding.length).toBeGreaterThanOrEqual(40 + 9);
    expect(padding.length).toBeLessThan(40 + 9 + 32);
  });

  it('a name longer than maximum_name_length gets only the rounding', () => {
    const tight = generateEchKey(p, { publicName: 'localhost', configId: 7, maximumNameLength: 4 });
    expect(padded('inner.example', tight).padding.length).toBeLessThan(32);
  });
});

describe('a TLS 1.2 server answers a hello that offered ECH (RFC 9849 section 6.1.6)', () => {
  function tls12(publicName: string) {
    const k = generateEchKey(p, { publicName, configId: 8 });
    // The certificate is for localhost and trusted: only a public_name of localhost authenticates it.
    const pair = makePair({ servername: 'inner.example', ech: { configList: echConfigListBase64([k]) } }, { maxVersion: 'TLSv1.2' });
    const sent = watch(pair.client, 'send');
    const received: string[] = [];
    pair.client.on('message', (dir, msg) => dir === 'recv' && received.push(msg.type));
    pair.pump();
    return { pair, sent, received };
  }

  it('the outer hello offers TLS 1.2 and its extensions; the inner one TLS 1.3 alone', () => {
    const { sent } = tls12('localhost');
    const outer = sent.outer[0]!;
    expect(outer.extensions.get('supported_versions', 'client_hello')?.versions).toContain(ProtocolVersion.TLS1_2);
    expect(outer.extensions.types).toContain(ExtensionType.extended_master_secret);
    const inner = sent.inner[0]!;
    expect(inner.extensions.get('supported_versions', 'client_hello')?.versions).not.toContain(ProtocolVersion.TLS1_2);
    expect(inner.extensions.types).not.toContain(ExtensionType.extended_master_secret);
    expect(inner.cipher_suites.filter((c) => c >= 0xc000 && c <= 0xcfff)).toEqual([]);
  });

  it('the server is authenticated for the public_name, its Finished checked, then ERR_TLS_ECH_REQUIRED without retry configs', () => {
    const { pair, received } = tls12('localhost');
    const err = pair.clientErrors[0] as EchRequiredError;
    expect(pair.clientErrors).toHaveLength(1);
    expect(err.code).toBe('ERR_TLS_ECH_REQUIRED');
    expect(err.alert).toBe('ech_required');
    expect(err.retryConfigs).toBeUndefined();
    expect(pair.client.echStatus).toBe('rejected');
    expect(received).toEqual(['server_hello_tls12', 'certificate', 'server_key_exchange', 'server_hello_done', 'new_session_ticket_tls12', 'finished']);
    expect(pair.client.state).toBe('DEAD');
    expect(pair.serverErrors.map((e) => e.code)).toEqual(['ERR_TLS_ALERT_ECH_REQUIRED']);
  });

  it('a server that asks for our certificate gets an empty Certificate (RFC 9849 section 6.1.7): ours would cross in the clear', () => {
    const k = generateEchKey(p, { publicName: 'localhost', configId: 9 });
    const pair = makePair(
      { servername: 'inner.example', ech: { configList: echConfigListBase64([k]) }, certificate: certifiedKey('client-ecdsa-p256') },
      { maxVersion: 'TLSv1.2', requestCert: true, rejectUnauthorized: false, ca: rootCa() },
    );
    const sent: HandshakeMessage[] = [];
    pair.client.on('message', (dir, msg) => dir === 'send' && sent.push(msg));
    pair.pump();
    expect(pair.clientErrors.map((e) => e.code)).toEqual(['ERR_TLS_ECH_REQUIRED']);
    const certificate = sent.find((m) => m.type === 'certificate');
    expect(certificate?.type === 'certificate' && certificate.certificate_list).toEqual([]);
    expect(sent.map((m) => m.type)).not.toContain('certificate_verify');
  });

  it('control: without ECH the same client sends its certificate to that server', () => {
    const pair = makePair({ certificate: certifiedKey('client-ecdsa-p256') }, { maxVersion: 'TLSv1.2', requestCert: true, ca: rootCa() });
    pair.pump();
    expect(pair.serverErrors).toEqual([]);
    expect(pair.server.peerCertificates[0]!.subject.text).toContain('tsls test client');
  });

  it('a certificate that is not for the public_name fails as a certificate, never as ech_required', () => {
    const { pair, received } = tls12('elsewhere.example');
    expect(pair.clientErrors).toHaveLength(1);
    expect(pair.clientErrors[0]!.code).not.toBe('ERR_TLS_ECH_REQUIRED');
    expect(pair.clientErrors[0]!.alert).toMatch(/certificate/);
    expect(received).not.toContain('finished');
  });
});
