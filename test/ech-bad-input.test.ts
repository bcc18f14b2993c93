/**
 * Hostile ECH input at our server (RFC 9849 sections 5.1, 7.1): a malformed extension, the
 * inner marker in an outer hello, an inner hello offering an older version or lacking its
 * marker, a legacy_version other than 0x0303, padding that is not zeros, and
 * ech_outer_extensions references that repeat, go backwards (the only way to loop), name ECH
 * or ech_outer_extensions itself, name what is absent or what the inner hello already has. Each gets its
 * alert, a TLSError with a stable code, and the connection goes to DEAD.
 */
import { describe, expect, it } from 'vitest';
import { Connection } from '../src/connection.js';
import { hpkeSetupSender } from '../src/crypto/hpke.js';
import { nobleProvider as p } from '../src/crypto/noble.js';
import { generateEchKey } from '../src/ech/keys.js';
import type { TLSError } from '../src/errors.js';
import { ECH_EXTENSION, encodeEchClientHello } from '../src/messages/ech.js';
import { ExtensionType, ProtocolVersion } from '../src/messages/constants.js';
import { Extensions, decodeHandshake, encodeHandshake, type MessageOf } from '../src/messages/handshake.js';
import { concat, utf8 } from '../src/util/bytes.js';
import { defaultServerOptions } from './helpers/pair.js';

const key = generateEchKey(p, { publicName: 'localhost', configId: 3 });
const SUITE = { kdf_id: 1, aead_id: 1 };

/** A real ClientHello from our client (TLS 1.3 only), as the base of the crafted ones. */
function baseHello(servername: string): MessageOf<'client_hello'> {
  const out = Connection.client({ servername, minVersion: 'TLSv1.3', grease: false }).takeOutput();
  return decodeHandshake(1, out.subarray(9)) as MessageOf<'client_hello'>;
}

function record(hello: MessageOf<'client_hello'>): Uint8Array {
  const hs = encodeHandshake(hello);
  return concat(Uint8Array.of(0x16, 0x03, 0x01, hs.length >> 8, hs.length & 0xff), hs);
}

/** An outer hello whose ECH payload is `plaintext` sealed to our key (what a client would do, but with our bytes). */
function outerWith(plaintext: Uint8Array, edit: (ext: Extensions) => void = () => {}): MessageOf<'client_hello'> {
  const outer = baseHello('localhost');
  edit(outer.extensions);
  const { enc, context } = hpkeSetupSender(p, { kem: 0x20, kdf: 1, aead: 1 }, key.publicKey, concat(utf8.encode('tls ech\0'), key.config.raw));
  const ext = (payload: Uint8Array) => encodeEchClientHello({ type: 'outer', cipher_suite: SUITE, config_id: 3, enc, payload });
  outer.extensions.addRaw(ECH_EXTENSION, ext(new Uint8Array(plaintext.length + 16)));
  const aad = encodeHandshake(outer).subarray(4);
  outer.extensions.list[outer.extensions.list.length - 1] = { type: ECH_EXTENSION, value: ext(context.seal(aad, plaintext)) };
  return outer;
}

/** EncodedClientHelloInner for `inner` (session ID emptied), with `padding`. */
function encodedInner(inner: MessageOf<'client_hello'>, padding = new Uint8Array(16)): Uint8Array {
  return concat(encodeHandshake({ ...inner, legacy_session_id: new Uint8Array(0) }).subarray(4), padding);
}

function innerHello(edit: (ext: Extensions) => void = () => {}): MessageOf<'client_hello'> {
  const inner = baseHello('secret.example');
  inner.extensions.addRaw(ECH_EXTENSION, encodeEchClientHello({ type: 'inner' }));
  edit(inner.extensions);
  return inner;
}

function serverAfter(bytes: Uint8Array): { conn: Connection; errors: TLSError[] } {
  const conn = Connection.server(defaultServerOptions({ ech: { keys: [key] } }));
  const errors: TLSError[] = [];
  conn.on('error', (e) => errors.push(e));
  conn.feed(bytes);
  return { conn, errors };
}

function expectRefused(bytes: Uint8Array, alert: string): void {
  const { conn, errors } = serverAfter(bytes);
  expect(errors.map((e) => e.alert)).toEqual([alert]);
  expect(errors[0]!.code).toBe(`ERR_TLS_${alert.toUpperCase()}`);
  expect(conn.state).toBe('DEAD');
}

function outerRefs(types: number[]): (ext: Extensions) => void {
  return (ext) => ext.addRaw(ExtensionType.ech_outer_extensions, concat(Uint8Array.of(types.length * 2), ...types.map((t) => Uint8Array.of(t >> 8, t & 0xff))));
}

describe('our ECH server refuses hostile ECH input', () => {
  it('control: a well-formed crafted inner hello is accepted', () => {
    const { errors, conn } = serverAfter(record(outerWith(encodedInner(innerHello()))));
    expect(errors).toEqual([]);
    expect(conn.echStatus).toBe('accepted');
    expect(conn.servername).toBe('secret.example');
  });

  it('control: references in order to extensions the outer hello has are expanded and accepted', () => {
    const inner = innerHello();
    // Move supported_groups and signature_algorithms out: the inner hello refers to the outer's.
    const moved: number[] = [ExtensionType.supported_groups, ExtensionType.signature_algorithms];
    // `list` is a read-only property of the hello: take the moved extensions out of the array itself.
    const kept = inner.extensions.list.filter((e) => !moved.includes(e.type));
    inner.extensions.list.splice(0, Infinity, ...kept);
    outerRefs(moved)(inner.extensions);
    const { errors, conn } = serverAfter(record(outerWith(encodedInner(inner))));
    expect(errors).toEqual([]);
    expect(conn.echStatus).toBe('accepted');
  });

  it('a truncated encrypted_client_hello is decode_error', () => {
    const outer = baseHello('localhost');
    outer.extensions.addRaw(ECH_EXTENSION, Uint8Array.of(0, 0, 1, 0, 1, 3, 0, 0));
    expectRefused(record(outer), 'decode_error');
  });

  it('an unknown ECHClientHelloType is illegal_parameter; so is the inner marker in an outer hello', () => {
    const outer = baseHello('localhost');
    outer.extensions.addRaw(ECH_EXTENSION, Uint8Array.of(7));
    expectRefused(record(outer), 'illegal_parameter');
    const marked = baseHello('localhost');
    marked.extensions.addRaw(ECH_EXTENSION, Uint8Array.of(1));
    expectRefused(record(marked), 'illegal_parameter');
  });

  it('an inner hello that offers TLS 1.2 is illegal_parameter', () => {
    const inner = innerHello((ext) => {
      const sv = ext.list.find((e) => e.type === ExtensionType.supported_versions)!;
      sv.value = { versions: [ProtocolVersion.TLS1_3, ProtocolVersion.TLS1_2] };
    });
    expectRefused(record(outerWith(encodedInner(inner))), 'illegal_parameter');
  });

  it('an inner hello without the inner marker, or with padding that is not zeros, is illegal_parameter', () => {
    expectRefused(record(outerWith(encodedInner(baseHello('secret.example')))), 'illegal_parameter');
    expectRefused(record(outerWith(encodedInner(innerHello(), Uint8Array.of(0, 0, 1)))), 'illegal_parameter');
  });

  it.each([
    ['repeat a type', [ExtensionType.supported_groups, ExtensionType.supported_groups]],
    ['go backwards (the only way to loop)', [ExtensionType.signature_algorithms, ExtensionType.supported_groups]],
    ['name encrypted_client_hello', [ECH_EXTENSION]],
    ['name an extension the outer hello lacks', [ExtensionType.use_srtp]],
  ])('ech_outer_extensions references that %s are illegal_parameter', (_what, types) => {
    expectRefused(record(outerWith(encodedInner(innerHello(outerRefs(types))))), 'illegal_parameter');
  });

  it('ech_outer_extensions naming itself is illegal_parameter, even when the outer hello carries one', () => {
    const self = outerRefs([ExtensionType.ech_outer_extensions]);
    const inner = encodedInner(innerHello(self));
    expectRefused(record(outerWith(inner, (ext) => ext.addRaw(ExtensionType.ech_outer_extensions, Uint8Array.of(2, 0, 10)))), 'illegal_parameter');
    expectRefused(record(outerWith(inner)), 'illegal_parameter');
  });

  it('a reference to an extension the inner hello also carries makes a duplicate: illegal_parameter', () => {
    // innerHello keeps its own supported_groups and refers to the outer one too.
    expectRefused(record(outerWith(encodedInner(innerHello(outerRefs([ExtensionType.supported_groups]))))), 'illegal_parameter');
  });

  it('an ech_outer_extensions that is empty, of odd length or with trailing bytes is decode_error', () => {
    for (const body of [Uint8Array.of(0), Uint8Array.of(3, 0, 10, 0), Uint8Array.of(2, 0, 10, 0)]) {
      expectRefused(record(outerWith(encodedInner(innerHello((ext) => ext.addRaw(ExtensionType.ech_outer_extensions, body))))), 'decode_error');
    }
  });

  it.each([
    ['0x0301', 0x0301],
    ['0x0302', 0x0302],
    ['0x0304', 0x0304],
    ['0xfefd (DTLS 1.2)', 0xfefd],
  ])('an inner hello whose legacy_version is %s, not 0x0303, is illegal_parameter', (_name, version) => {
    expectRefused(record(outerWith(encodedInner({ ...innerHello(), legacy_version: version }))), 'illegal_parameter');
  });

  it('padding that is not zeros anywhere (first, middle or last byte) is illegal_parameter', () => {
    for (const at of [0, 7, 15]) {
      const padding = new Uint8Array(16);
      padding[at] = 0x80;
      expectRefused(record(outerWith(encodedInner(innerHello(), padding))), 'illegal_parameter');
    }
  });

  it('a payload that does not decrypt is a rejection, not an error: the outer hello goes on', () => {
    const outer = outerWith(encodedInner(innerHello()));
    const last = outer.extensions.list[outer.extensions.list.length - 1]!;
    const bytes = (last.value as Uint8Array).slice();
    bytes[bytes.length - 1]! ^= 1;
    last.value = bytes;
    const { errors, conn } = serverAfter(record(outer));
    expect(errors).toEqual([]);
    expect(conn.echStatus).toBe('rejected');
  });
});
