/**
 * Encrypted Client Hello wire structures (RFC 9849): ECHConfig and ECHConfigList (section 4),
 * the `encrypted_client_hello` extension in each message (section 5, 7.2, 7.2.1) and
 * `ech_outer_extensions` (section 5.1). Strict like every codec here: lengths and trailing
 * bytes checked, so malformed input is decode_error; what a client must merely skip
 * (a config of an unknown version, or with a mandatory extension it does not know) is skipped.
 */
import { decodeError, illegalParameter } from '../errors.js';
import { Reader, Writer } from '../util/bytes.js';
import { type Infer, decode, encode, fixed, list, opaque, struct, text, u16, u8 } from './codec.js';

/** The ECHConfig version of RFC 9849 (draft 13 onwards). */
export const ECH_VERSION = 0xfe0d;
/** Extension code points (RFC 9849 section 11.1). */
export const ECH_EXTENSION = 0xfe0d;
export const ECH_OUTER_EXTENSIONS = 0xfd00;

const HpkeSymmetricCipherSuite = struct({ kdf_id: u16, aead_id: u16 });
export type HpkeSymmetricCipherSuite = Infer<typeof HpkeSymmetricCipherSuite>;

const HpkeKeyConfig = struct({
  config_id: u8,
  kem_id: u16,
  public_key: opaque(2, 1),
  cipher_suites: list(2, HpkeSymmetricCipherSuite, 4, 0xfffc),
});

const ECHConfigExtension = struct({ type: u16, data: opaque(2) });

const ECHConfigContents = struct({
  key_config: HpkeKeyConfig,
  maximum_name_length: u8,
  public_name: text(1, 1),
  extensions: list(2, ECHConfigExtension),
});

export type ECHConfigContents = Infer<typeof ECHConfigContents>;

/** One ECHConfig as read from a list: its contents, and its exact bytes (the HPKE `info` needs them). */
export interface ECHConfig {
  contents: ECHConfigContents;
  /** The whole ECHConfig (version, length, contents) as it was on the wire. */
  raw: Uint8Array;
}

/** Encode one ECHConfig (version 0xfe0d). */
export function encodeEchConfig(contents: ECHConfigContents): ECHConfig {
  const body = encode(ECHConfigContents, contents);
  const w = new Writer();
  w.u16(ECH_VERSION);
  w.vecBytes(2, body);
  return { contents, raw: w.finish() };
}

/** An ECHConfigList: the configs' bytes behind a two-byte length. */
export function encodeEchConfigList(configs: ECHConfig[]): Uint8Array {
  const w = new Writer();
  w.vec(2, (inner) => configs.forEach((c) => inner.bytes(c.raw)));
  return w.finish();
}

/**
 * Parse an ECHConfigList (section 4): configs of other versions and configs with a mandatory
 * extension we do not know (high bit of the type set; we know none) are skipped, as a client
 * must. Anything structurally wrong is decode_error. The list may come out empty.
 */
export function parseEchConfigList(bytes: Uint8Array): ECHConfig[] {
  const r = new Reader(bytes, 'ECHConfigList');
  const body = r.sub(2, 'ECHConfigList', 4);
  r.end();
  const out: ECHConfig[] = [];
  while (body.remaining > 0) {
    const start = body.offset;
    const version = body.u16();
    const contents = body.vec(2);
    const raw = bytes.subarray(2 + start, 2 + body.offset);
    if (version !== ECH_VERSION) continue;
    const parsed = decode(ECHConfigContents, contents, 'ECHConfigContents');
    const seen = new Set<number>();
    for (const e of parsed.extensions) {
      if (seen.has(e.type)) throw decodeError(`ECHConfig: duplicate extension ${e.type}`);
      seen.add(e.type);
    }
    if (parsed.extensions.some((e) => e.type & 0x8000)) continue;
    out.push({ contents: parsed, raw: raw.slice() });
  }
  return out;
}

// ---- the encrypted_client_hello extension ----

export const ECHClientHelloType = { outer: 0, inner: 1 } as const;

const ECHClientHelloOuter = struct({
  cipher_suite: HpkeSymmetricCipherSuite,
  config_id: u8,
  enc: opaque(2),
  payload: opaque(2, 1),
});
export type ECHClientHelloOuter = Infer<typeof ECHClientHelloOuter>;

export type ECHClientHello = ({ type: 'outer' } & ECHClientHelloOuter) | { type: 'inner' };

/** The extension in a ClientHello: outer (the encrypted inner hello) or inner (an empty marker). */
export function parseEchClientHello(data: Uint8Array): ECHClientHello {
  const r = new Reader(data, 'encrypted_client_hello');
  const type = r.u8();
  if (type === ECHClientHelloType.inner) {
    r.end();
    return { type: 'inner' };
  }
  if (type !== ECHClientHelloType.outer) throw illegalParameter(`encrypted_client_hello: unknown type ${type}`);
  const outer = ECHClientHelloOuter.read(r);
  r.end();
  return { type: 'outer', ...outer };
}

export function encodeEchClientHello(v: ECHClientHello): Uint8Array {
  const w = new Writer();
  if (v.type === 'inner') {
    w.u8(ECHClientHelloType.inner);
    return w.finish();
  }
  w.u8(ECHClientHelloType.outer);
  ECHClientHelloOuter.write(w, v);
  return w.finish();
}

/** In HelloRetryRequest: the 8-byte acceptance confirmation. */
export const EchHelloRetryRequest = struct({ confirmation: fixed(8) });

/** ech_outer_extensions: the types copied from the outer hello, in order (at least one). */
export const OuterExtensions = struct({ types: list(1, u16, 2, 254) });
