/**
 * The server's side of Encrypted Client Hello (RFC 9849), shared mode (this server terminates
 * both hellos), kept out of the state code: trial decryption of ClientHelloOuter with the keys
 * whose config_id matches (section 7.1), the inner hello rebuilt from its encoding and the
 * outer's referenced extensions (section 5.1) and processed as the real one, the acceptance
 * confirmation in ServerHello.random (section 7.2), retry_configs when ECH is rejected.
 *
 * Across a HelloRetryRequest (section 7.1.1) the HRR carries its own confirmation, and the
 * second hello is opened with the first one's HPKE context. Not here yet: split mode.
 */
import { hpkeSetupRecipient, hpkeSupports, type HpkeContext } from '../crypto/hpke.js';
import type { EchKey } from '../ech/keys.js';
import { echConfirmation, echHpkeInfo, messageHash } from '../ech/schedule.js';
import { TLSError, illegalParameter } from '../errors.js';
import { ExtensionType, HandshakeType, ProtocolVersion } from '../messages/constants.js';
import { ECH_EXTENSION, OuterExtensions, encodeEchConfigList, parseEchClientHello, type HpkeSymmetricCipherSuite } from '../messages/ech.js';
import { decode } from '../messages/codec.js';
import type { Extension } from '../messages/extensions.js';
import { Extensions, decodeHandshake, encodeHandshake, type HandshakeMessage, type MessageOf } from '../messages/handshake.js';
import { Reader, concat } from '../util/bytes.js';
import { need, type ServerHandshake } from './context.js';
import type { Phase } from './declare.js';

export interface EchServerState {
  status: 'accepted' | 'rejected';
  /** The HPKE context, config_id and suite that opened the first hello: the second must use them. */
  opened?: { context: HpkeContext; configId: number; suite: HpkeSymmetricCipherSuite };
  /** After a HelloRetryRequest: message_hash(ClientHelloInner1) and the HRR as sent, to rebuild the transcript. */
  retried?: { innerHash: Uint8Array; hrr: Uint8Array };
  /** The inner ClientHello as the transcript hashes it (4-byte header, the outer's session ID). */
  inner?: Uint8Array;
  innerRandom?: Uint8Array;
}


/** Where the extensions of a ClientHello body start, and the body's end (the encoded inner hello is followed by padding). */
function extensionsBlock(body: Uint8Array): { start: number; end: number } {
  const r = new Reader(body, 'ClientHello');
  r.u16();
  r.bytes(32);
  r.vec(1);
  r.vec(2);
  r.vec(1);
  const start = r.offset;
  const length = r.u16();
  return { start: start + 2, end: start + 2 + length };
}

/** ClientHelloOuterAAD (section 5.2): the outer hello's body with the ECH payload zeroed, found in the bytes as received. */
function outerAad(body: Uint8Array, payloadLength: number): Uint8Array {
  const { start, end } = extensionsBlock(body);
  const r = new Reader(body.subarray(start, end), 'ClientHello extensions');
  while (r.remaining > 0) {
    const type = r.u16();
    r.vec(2);
    if (type !== ECH_EXTENSION) continue;
    // The payload is the last field of the extension.
    const at = start + r.offset - payloadLength;
    const aad = body.slice();
    aad.fill(0, at, at + payloadLength);
    return aad;
  }
  throw new Error('ECH: outer hello lost its extension');
}

/** The outer extensions the inner hello refers to, put in place (section 5.1): in order, each once, never ECH itself. */
function expandOuterExtensions(inner: Extensions, outer: Extensions): Extensions {
  const out = new Extensions('client_hello');
  for (const e of inner.list) {
    if (e.type !== ExtensionType.ech_outer_extensions) {
      out.list.push(e);
      continue;
    }
    const { types } = decode(OuterExtensions, e.value as Uint8Array, 'ech_outer_extensions');
    let cursor = 0;
    for (const type of types) {
      if (type === ECH_EXTENSION) throw illegalParameter('ech_outer_extensions refers to encrypted_client_hello');
      if (type === ExtensionType.ech_outer_extensions) throw illegalParameter('ech_outer_extensions refers to itself');
      // Each reference must come after the previous one in the outer hello: no repeats, no loops.
      const found = outer.list.findIndex((o, i) => i >= cursor && o.type === type);
      if (found < 0) throw illegalParameter(`ech_outer_extensions refers to extension ${type}, absent from the outer hello or out of order (outer: ${outer.types.join(" ")}; refs: ${types.join(" ")})`);
      out.list.push(outer.list[found] as Extension);
      cursor = found + 1;
    }
  }
  return out;
}

/** An inner hello offers TLS 1.3 and nothing older (section 7.1); GREASE values aside. */
function checkInnerVersions(inner: MessageOf<'client_hello'>): void {
  const versions = inner.extensions.get('supported_versions', 'client_hello')?.versions ?? [];
  const real = versions.filter((v) => (v & 0x0f0f) !== 0x0a0a);
  if (!real.includes(ProtocolVersion.TLS1_3) || real.some((v) => v < ProtocolVersion.TLS1_3)) {
    throw illegalParameter(`ClientHelloInner must offer TLS 1.3 only, not ${real.map((v) => `0x${v.toString(16)}`).join(', ') || 'nothing'}`);
  }
}

/**
 * Open the ClientHelloOuter `outer` (its wire body `raw` without the header) with our keys.
 * Returns the hello to process (the inner one when decryption worked), its raw bytes, and
 * what happened; `undefined` state when the client sent no ECH or we have no keys.
 */
export function openClientHello(
  hs: ServerHandshake,
  outer: MessageOf<'client_hello'>,
  raw: Uint8Array,
): { hello: MessageOf<'client_hello'>; raw: Uint8Array; state?: EchServerState } {
  const keys = hs.options.ech?.keys ?? [];
  const data = outer.extensions.list.find((e) => e.type === ECH_EXTENSION)?.value as Uint8Array | undefined;
  if (!keys.length || !data) return { hello: outer, raw };
  const ech = parseEchClientHello(data);
  if (ech.type === 'inner') throw illegalParameter('ClientHelloOuter carries the inner encrypted_client_hello');
  const body = raw.subarray(4);
  const aad = outerAad(body, ech.payload.length);
  for (const key of keys) {
    const k = key.config.contents.key_config;
    if (k.config_id !== ech.config_id) continue;
    const suite = { kem: k.kem_id, kdf: ech.cipher_suite.kdf_id, aead: ech.cipher_suite.aead_id };
    if (!k.cipher_suites.some((s) => s.kdf_id === suite.kdf && s.aead_id === suite.aead) || !hpkeSupports(suite)) continue;
    let context: HpkeContext | undefined;
    let plaintext: Uint8Array | null = null;
    try {
      context = hpkeSetupRecipient(hs.provider, suite, ech.enc, key, echHpkeInfo(key.config));
      plaintext = context.open(aad, ech.payload);
    } catch {
      // a malformed enc decrypts nothing: ECH is rejected, not the connection
    }
    if (!plaintext || !context) continue;
    const hello = innerHello(plaintext, outer);
    const innerRaw = encodeHandshake(hello);
    hs.showInnerHello?.('recv', hello, innerRaw.length);
    const opened = { context, configId: ech.config_id, suite: ech.cipher_suite };
    return { hello, raw: innerRaw, state: { status: 'accepted', inner: innerRaw, innerRandom: hello.random, opened } };
  }
  return { hello: outer, raw, state: { status: 'rejected' } };
}

/**
 * The second ClientHello after an HRR that accepted ECH (section 7.1.1): the same config and
 * suite, an empty enc, opened with the first hello's context. Failing that is fatal now.
 */
export function openSecondClientHello(hs: ServerHandshake, outer: MessageOf<'client_hello'>, raw: Uint8Array): { hello: MessageOf<'client_hello'>; raw: Uint8Array } {
  const state = hs.echState;
  if (state?.status !== 'accepted') return { hello: outer, raw };
  const opened = need(state.opened, 'the opened ECH context');
  const data = outer.extensions.list.find((e) => e.type === ECH_EXTENSION)?.value as Uint8Array | undefined;
  if (!data) throw new TLSError('missing_extension', 'the second ClientHello dropped encrypted_client_hello');
  const ech = parseEchClientHello(data);
  if (ech.type !== 'outer') throw illegalParameter('the second ClientHelloOuter carries the inner encrypted_client_hello');
  if (ech.config_id !== opened.configId || ech.cipher_suite.kdf_id !== opened.suite.kdf_id || ech.cipher_suite.aead_id !== opened.suite.aead_id || ech.enc.length !== 0) {
    throw illegalParameter('the second ClientHello changed its ECH config, suite or enc');
  }
  const plaintext = opened.context.open(outerAad(raw.subarray(4), ech.payload.length), ech.payload);
  if (!plaintext) throw new TLSError('decrypt_error', 'the second ClientHelloInner does not decrypt');
  const hello = innerHello(plaintext, outer);
  const innerRaw = encodeHandshake(hello);
  hs.showInnerHello?.('recv', hello, innerRaw.length);
  state.inner = innerRaw;
  return { hello, raw: innerRaw };
}

/** The HRR of an accepted ECH carries "hrr ech accept confirmation" in its own extension (section 7.2.1). */
export function confirmEchRetry(hs: Phase<ServerHandshake, 'suite' | 'transcript'>, hrr: HandshakeMessage): HandshakeMessage {
  const state = hs.echState;
  if (state?.status !== 'accepted' || hrr.type !== 'hello_retry_request') return hrr;
  hrr.extensions.addRaw(ECH_EXTENSION, new Uint8Array(8));
  const transcriptHash = hs.transcript.hashWith(encodeHandshake(hrr));
  const last = hrr.extensions.list.length - 1;
  hrr.extensions.list[last] = { type: ECH_EXTENSION, value: echConfirmation(hs.provider, hs.suite.hash, need(state.innerRandom, 'the inner random'), 'hrr ech accept confirmation', transcriptHash) };
  state.retried = { innerHash: messageHash(hs.provider, hs.suite.hash, need(state.inner, 'the ClientHelloInner')), hrr: encodeHandshake(hrr) };
  return hrr;
}

/** EncodedClientHelloInner → ClientHelloInner: strict, padding all zeros, outer extensions expanded. */
function innerHello(plaintext: Uint8Array, outer: MessageOf<'client_hello'>): MessageOf<'client_hello'> {
  const { end } = extensionsBlock(plaintext);
  if (end > plaintext.length) throw new TLSError('decode_error', 'EncodedClientHelloInner is truncated');
  if (plaintext.subarray(end).some((b) => b !== 0)) throw illegalParameter('EncodedClientHelloInner padding is not zeros');
  const encoded = decodeHandshake(HandshakeType.client_hello, plaintext.subarray(0, end)) as MessageOf<'client_hello'>;
  if (encoded.legacy_session_id.length !== 0) throw illegalParameter('EncodedClientHelloInner has a legacy_session_id');
  // A TLS 1.3 hello says TLS 1.2 here (RFC 8446 section 4.1.2); the outer one may say anything older.
  if (encoded.legacy_version !== ProtocolVersion.TLS1_2) throw illegalParameter(`ClientHelloInner legacy_version 0x${encoded.legacy_version.toString(16)} is not 0x0303`);
  const rebuilt = { ...encoded, legacy_session_id: outer.legacy_session_id, extensions: expandOuterExtensions(encoded.extensions, outer.extensions) };
  // Parsed again from its bytes: the same checks as any ClientHello (duplicates, PSK last, structure).
  const hello = decodeHandshake(HandshakeType.client_hello, encodeHandshake(rebuilt).subarray(4)) as MessageOf<'client_hello'>;
  const marker = hello.extensions.list.find((e) => e.type === ECH_EXTENSION)?.value as Uint8Array | undefined;
  if (!marker || parseEchClientHello(marker).type !== 'inner') throw illegalParameter('ClientHelloInner lacks the inner encrypted_client_hello');
  checkInnerVersions(hello);
  return hello;
}

/** After a ClientHello is in the transcript: an accepted ECH puts the inner hello(s) there instead. */
export function useInnerTranscript(hs: Phase<ServerHandshake, 'transcript'>): void {
  const state = hs.echState;
  if (state?.status !== 'accepted') return;
  hs.transcript.reset();
  if (state.retried) {
    hs.transcript.add(state.retried.innerHash);
    hs.transcript.add(state.retried.hrr);
  }
  hs.transcript.add(need(state.inner, 'the ClientHelloInner'));
}

/** ServerHello.random's last 8 bytes become the acceptance confirmation (section 7.2). */
export function confirmEch(hs: Phase<ServerHandshake, 'suite' | 'transcript'>, serverHello: HandshakeMessage): HandshakeMessage {
  const state = hs.echState;
  if (state?.status !== 'accepted' || serverHello.type !== 'server_hello') return serverHello;
  serverHello.random = concat(serverHello.random.subarray(0, 24), new Uint8Array(8));
  const transcriptHash = hs.transcript.hashWith(encodeHandshake(serverHello));
  serverHello.random = concat(serverHello.random.subarray(0, 24), echConfirmation(hs.provider, hs.suite.hash, need(state.innerRandom, 'the inner random'), 'ech accept confirmation', transcriptHash));
  return serverHello;
}

/** EncryptedExtensions of a rejected ECH carry the configs to retry with (section 7.1). */
export function addRetryConfigs(hs: ServerHandshake, ee: HandshakeMessage): HandshakeMessage {
  if (hs.echState?.status !== 'rejected' || ee.type !== 'encrypted_extensions') return ee;
  const retry = (hs.options.ech?.keys ?? []).filter((k: EchKey) => k.retry !== false);
  if (retry.length) ee.extensions.addRaw(ECH_EXTENSION, encodeEchConfigList(retry.map((k) => k.config)));
  return ee;
}


