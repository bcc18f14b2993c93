/**
 * ECH groundwork (RFC 9849, RFC 9934): the ECHConfig / ECHConfigList codec and the ECH
 * extension encodings, strict on malformed input; key files written and read back (OpenSSL 4
 * with our files and we with its files: test/interop/ech.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { hpkeSetupRecipient, hpkeSetupSender } from '../src/crypto/hpke.js';
import { nobleProvider } from '../src/crypto/noble.js';
import { echConfigListBase64, echConfigListBytes, echKeyFile, generateEchKey, parseEchKeyFile } from '../src/ech/keys.js';
import { Connection } from '../src/connection.js';
import { TLSError } from '../src/errors.js';
import {
  ECH_VERSION,
  EchHelloRetryRequest,
  OuterExtensions,
  encodeEchClientHello,
  encodeEchConfig,
  encodeEchConfigList,
  parseEchClientHello,
  parseEchConfigList,
} from '../src/messages/ech.js';
import { decode, encode } from '../src/messages/codec.js';
import { concat, fromHex, utf8 } from '../src/util/bytes.js';

const p = nobleProvider;

function expectTLSError(f: () => unknown, alert: string): void {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(TLSError);
    expect((err as TLSError).alert).toBe(alert);
    return;
  }
  throw new Error(`expected a TLSError ${alert}`);
}

describe('ECHConfigList codec', () => {
  const key = generateEchKey(p, { publicName: 'public.example', configId: 7 });

  it('round-trips a config, keeping its exact bytes for the HPKE info', () => {
    const list = encodeEchConfigList([key.config]);
    const [back] = parseEchConfigList(list);
    expect(back!.raw).toEqual(key.config.raw);
    expect(back!.contents.public_name).toBe('public.example');
    expect(back!.contents.key_config.config_id).toBe(7);
    expect(back!.contents.key_config.public_key).toEqual(key.publicKey);
  });

  it('skips a config of an unknown version and one with an unknown mandatory extension, keeps the rest', () => {
    const unknownVersion = fromHex('fe0c0003aabbcc');
    const mandatory = encodeEchConfig({ ...key.config.contents, extensions: [{ type: 0x8001, data: new Uint8Array(0) }] });
    const optional = encodeEchConfig({ ...key.config.contents, extensions: [{ type: 0x0001, data: fromHex('00') }] });
    const w = concat(unknownVersion, mandatory.raw, key.config.raw, optional.raw);
    const list = concat(Uint8Array.of(w.length >> 8, w.length & 0xff), w);
    const parsed = parseEchConfigList(list);
    expect(parsed.map((c) => c.raw)).toEqual([key.config.raw, optional.raw]);
  });

  it('refuses truncation, trailing bytes, an empty public_name, no cipher suites and duplicate extensions', () => {
    const list = encodeEchConfigList([key.config]);
    expectTLSError(() => parseEchConfigList(list.subarray(0, list.length - 1)), 'decode_error');
    expectTLSError(() => parseEchConfigList(concat(list, Uint8Array.of(0))), 'decode_error');
    expectTLSError(() => parseEchConfigList(fromHex('0000')), 'decode_error');
    expect(() => encodeEchConfig({ ...key.config.contents, public_name: '' })).not.toThrow();
    expectTLSError(() => parseEchConfigList(encodeEchConfigList([encodeEchConfig({ ...key.config.contents, public_name: '' })])), 'decode_error');
    const noSuites = encodeEchConfig({ ...key.config.contents, key_config: { ...key.config.contents.key_config, cipher_suites: [] } });
    expectTLSError(() => parseEchConfigList(encodeEchConfigList([noSuites])), 'decode_error');
    const dup = encodeEchConfig({ ...key.config.contents, extensions: [{ type: 1, data: new Uint8Array(0) }, { type: 1, data: new Uint8Array(0) }] });
    expectTLSError(() => parseEchConfigList(encodeEchConfigList([dup])), 'decode_error');
  });

  it('a version field we do not know is skipped even when its body would not parse as ours', () => {
    expect(parseEchConfigList(fromHex('00050001000100'))).toEqual([]);
    expect(ECH_VERSION).toBe(0xfe0d);
  });
});

describe('encrypted_client_hello and ech_outer_extensions encodings', () => {
  it('outer and inner ClientHello forms round-trip', () => {
    const outer = { type: 'outer' as const, cipher_suite: { kdf_id: 1, aead_id: 1 }, config_id: 9, enc: fromHex('0102'), payload: fromHex('aabbcc') };
    expect(parseEchClientHello(encodeEchClientHello(outer))).toEqual(outer);
    expect(encodeEchClientHello({ type: 'inner' })).toEqual(fromHex('01'));
    expect(parseEchClientHello(fromHex('01'))).toEqual({ type: 'inner' });
  });

  it('malformed forms: unknown type is illegal_parameter; an empty payload, trailing bytes after inner, truncation are decode_error', () => {
    expectTLSError(() => parseEchClientHello(fromHex('02')), 'illegal_parameter');
    expectTLSError(() => parseEchClientHello(fromHex('0100')), 'decode_error');
    expectTLSError(() => parseEchClientHello(fromHex('00000100010900000000')), 'decode_error');
    expectTLSError(() => parseEchClientHello(fromHex('0000010001090000')), 'decode_error');
    expectTLSError(() => parseEchClientHello(new Uint8Array(0)), 'decode_error');
  });

  it('the HRR confirmation is exactly 8 bytes; outer extension lists hold 1 to 127 types', () => {
    expect(decode(EchHelloRetryRequest, fromHex('0102030405060708'), 'hrr').confirmation).toEqual(fromHex('0102030405060708'));
    expectTLSError(() => decode(EchHelloRetryRequest, fromHex('01020304050607'), 'hrr'), 'decode_error');
    expect(decode(OuterExtensions, encode(OuterExtensions, { types: [10, 13] }), 'outer').types).toEqual([10, 13]);
    expectTLSError(() => decode(OuterExtensions, fromHex('00'), 'outer'), 'decode_error');
  });
});

describe('ECH key files', () => {
  it('our key file reads back: the same config, and its key opens what is sealed to the config', () => {
    const key = generateEchKey(p, { publicName: 'public.example' });
    const [back] = parseEchKeyFile(p, echKeyFile(key));
    expect(back!.config.raw).toEqual(key.config.raw);
    const suite = { kem: 0x20, kdf: 1, aead: 1 };
    const info = concat(utf8.encode('tls ech\0'), back!.config.raw);
    const { enc, context } = hpkeSetupSender(p, suite, key.config.contents.key_config.public_key, info);
    const ct = context.seal(new Uint8Array(0), utf8.encode('inner'));
    expect(utf8.decode(hpkeSetupRecipient(p, suite, enc, back!, info).open(new Uint8Array(0), ct)!)).toBe('inner');
    expect(echConfigListBytes(echConfigListBase64([key]))).toEqual(encodeEchConfigList([key.config]));
  });

  it('a key file whose config is for another key is refused with a stable code', () => {
    const a = generateEchKey(p, { publicName: 'a.example' });
    const b = generateEchKey(p, { publicName: 'b.example' });
    const mixed = echKeyFile(a).split('-----BEGIN ECHCONFIG-----')[0]! + echKeyFile(b).slice(echKeyFile(b).indexOf('-----BEGIN ECHCONFIG-----'));
    expect(() => parseEchKeyFile(p, mixed)).toThrow(expect.objectContaining({ code: 'ERR_TLS_ECH_KEY_FILE' }));
    expect(() => parseEchKeyFile(p, echKeyFile(a).split('-----BEGIN ECHCONFIG-----')[0]!)).toThrow(/no ECHCONFIG/);
  });
});

describe('the ECH client hello', () => {
  it('the first flight shows the public_name, never the inner name; without ECH the name is in the clear', () => {
    const key = generateEchKey(p, { publicName: 'public.example' });
    const flight = (ech?: { configList: string }) =>
      Buffer.from(Connection.client({ servername: 'secret.example', ca: [], ...(ech ? { ech } : {}) }).takeOutput()).toString('latin1');
    const hidden = flight({ configList: echConfigListBase64([key]) });
    expect(hidden).toContain('public.example');
    expect(hidden).not.toContain('secret.example');
    expect(flight()).toContain('secret.example');
  });

  it('an ECHConfigList with no usable config is refused before anything is sent, with a stable code', () => {
    const key = generateEchKey(p, { publicName: 'public.example' });
    const odd = encodeEchConfig({ ...key.config.contents, key_config: { ...key.config.contents.key_config, kem_id: 0x0012 } });
    const conn = Connection.client({ servername: 'a.example', ech: { configList: encodeEchConfigList([odd]) } });
    const errors: TLSError[] = [];
    conn.on('error', (e) => errors.push(e));
    const out = Buffer.from(conn.takeOutput()).toString('latin1');
    expect(errors.map((e) => e.code)).toEqual(['ERR_TLS_ECH_CONFIG_LIST']);
    expect(conn.state).toBe('DEAD');
    expect(out).not.toContain('a.example');
  });

  it.each(['192.0.2.1', 'public.0x1f', 'public.123', 'bad_label.example', '.example', 'example.', `${'a'.repeat(64)}.example`])(
    'a config whose public_name is %s (not a host name a client can authenticate, RFC 9849 section 6.1.7) is passed over',
    (publicName) => {
      const bad = generateEchKey(p, { publicName, configId: 1 });
      const good = generateEchKey(p, { publicName: 'good.test', configId: 2 });
      const flight = (keys: typeof bad[]) => {
        const conn = Connection.client({ servername: 'a.example', ech: { configList: encodeEchConfigList(keys.map((k) => k.config)) } });
        const errors: TLSError[] = [];
        conn.on('error', (e) => errors.push(e));
        return { out: Buffer.from(conn.takeOutput()).toString('latin1'), errors };
      };
      expect(flight([bad]).errors.map((e) => e.code)).toEqual(['ERR_TLS_ECH_CONFIG_LIST']);
      const next = flight([bad, good]);
      expect(next.errors).toEqual([]);
      expect(next.out).toContain('good.test');
      expect(next.out).not.toContain(publicName);
    },
  );
});
