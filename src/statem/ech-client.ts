/**
 * The client's side of Encrypted Client Hello (RFC 9849), kept out of the state code: the
 * ClientHelloInner the state code builds is sealed with HPKE into a ClientHelloOuter that
 * shows only the config's public_name (section 6.1); ServerHello's random says whether the
 * server accepted it (section 7.2), and the transcript then continues with the inner hello;
 * a rejection is verified against the public_name, its retry_configs kept, and the
 * connection ends with ech_required once the server has proven itself (section 6.1.6).
 *
 * Across a HelloRetryRequest the HRR carries its own confirmation (section 6.1.5) and the second
 * hello is sealed with the same HPKE context and an empty enc.
 *
 * Not here yet: ech_outer_extensions compression (every extension travels in both hellos),
 * PSKs with ECH (not offered).
 */
import { hpkeSetupSender, hpkeSupports, type HpkeContext } from '../crypto/hpke.js';
import { echConfigListBytes } from '../ech/keys.js';
import { echConfirmation, echHpkeInfo, messageHash } from '../ech/schedule.js';
import { TLSError, illegalParameter } from '../errors.js';
import { ECH_EXTENSION, EchHelloRetryRequest, encodeEchClientHello, parseEchConfigList, type ECHConfig, type HpkeSymmetricCipherSuite } from '../messages/ech.js';
import { decode } from '../messages/codec.js';
import { ExtensionType } from '../messages/constants.js';
import { Extensions, encodeHandshake, type MessageOf } from '../messages/handshake.js';
import { concat, constantTimeEqual, utf8 } from '../util/bytes.js';
import { need, type ClientHandshake } from './context.js';
import type { Phase } from './declare.js';

export interface EchClientState {
  config: ECHConfig;
  suite: HpkeSymmetricCipherSuite;
  context?: HpkeContext;
  /** ClientHelloInner as the transcript would hash it (outer's session ID, 4-byte header). */
  inner?: Uint8Array;
  innerRandom?: Uint8Array;
  /** The outer hello's random: the second ClientHello repeats it (RFC 8446 section 4.1.2). */
  outerRandom?: Uint8Array;
  /** After a HelloRetryRequest: whether it confirmed ECH, message_hash(ClientHelloInner1) and the HRR's bytes. */
  retried?: { accepted: boolean; innerHash: Uint8Array; hrr: Uint8Array };
  status: 'offered' | 'accepted' | 'rejected';
  /** The server's retry_configs (ECHConfigList bytes), when it rejected ECH and sent them. */
  retryConfigs?: Uint8Array;
}

const TAG_LENGTH = 16;

/** The first config in the list we can use: a KEM and one cipher suite we support. */
export function chooseEchConfig(configList: Uint8Array | string): { config: ECHConfig; suite: HpkeSymmetricCipherSuite } {
  const configs = parseEchConfigList(echConfigListBytes(configList));
  for (const config of configs) {
    const k = config.contents.key_config;
    const suite = k.cipher_suites.find((s) => hpkeSupports({ kem: k.kem_id, kdf: s.kdf_id, aead: s.aead_id }));
    if (suite) return { config, suite };
  }
  throw new TLSError('internal_error', 'ECH: no config in the list has a KEM and cipher suite we support', { code: 'ERR_TLS_ECH_CONFIG_LIST' });
}

/** Zero padding for EncodedClientHelloInner (RFC 9849 section 6.1.3): hide the name's length, then round to 32. */
function paddingLength(state: EchClientState, servername: string | undefined, encodedLength: number): number {
  const maxName = state.config.contents.maximum_name_length;
  const nameLength = servername ? utf8.encode(servername).length : 0;
  const forName = servername ? Math.max(0, maxName - nameLength) : maxName + 9;
  const total = encodedLength + forName;
  return forName + (31 - ((total + 31) % 32));
}

/**
 * The ClientHelloOuter for `inner` (which carries the inner marker). The outer hello has a
 * fresh random, the public_name as SNI and the encrypted inner hello in place of the marker;
 * every other extension is the same.
 */
export function sealClientHello(hs: ClientHandshake, state: EchClientState, inner: MessageOf<'client_hello'>): MessageOf<'client_hello'> {
  const p = hs.provider;
  const k = state.config.contents.key_config;
  state.inner = encodeHandshake(inner);
  state.innerRandom = inner.random;
  // EncodedClientHelloInner: the inner hello without its session ID (the outer's is used), padded.
  const encoded = encodeHandshake({ ...inner, legacy_session_id: new Uint8Array(0) }).subarray(4);
  const plaintext = concat(encoded, new Uint8Array(paddingLength(state, hs.options.servername, encoded.length)));
  // The second hello (after HRR) goes on with the first one's context, and sends no enc.
  const { enc, context } = state.context
    ? { enc: new Uint8Array(0), context: state.context }
    : hpkeSetupSender(p, { kem: k.kem_id, kdf: state.suite.kdf_id, aead: state.suite.aead_id }, k.public_key, echHpkeInfo(state.config));
  state.context = context;
  state.outerRandom ??= hs.common.random(32);
  const echExtension = (payload: Uint8Array) =>
    encodeEchClientHello({ type: 'outer', cipher_suite: state.suite, config_id: k.config_id, enc, payload });

  const outerExtensions = new Extensions('client_hello');
  let echIndex = -1;
  for (const e of inner.extensions.list) {
    if (e.type === ExtensionType.server_name) {
      outerExtensions.add('server_name', { server_name_list: [{ name_type: 0, host_name: state.config.contents.public_name }] });
    } else if (e.type === ECH_EXTENSION) {
      echIndex = outerExtensions.list.length;
      outerExtensions.addRaw(ECH_EXTENSION, new Uint8Array(0));
    } else {
      outerExtensions.list.push(e);
    }
  }
  if (echIndex < 0) throw new Error('ECH: the inner hello has no encrypted_client_hello marker');
  // A ClientHello without SNI still shows the public_name outside.
  if (!outerExtensions.has('server_name')) outerExtensions.list.unshift({ type: ExtensionType.server_name, name: 'server_name', value: { server_name_list: [{ name_type: 0, host_name: state.config.contents.public_name }] } });
  const outer: MessageOf<'client_hello'> = { ...inner, random: state.outerRandom, extensions: outerExtensions };
  const at = outerExtensions.list.findIndex((e) => e.type === ECH_EXTENSION);
  // ClientHelloOuterAAD: the outer hello with a payload of zeros the length of the ciphertext.
  outerExtensions.list[at] = { type: ECH_EXTENSION, value: echExtension(new Uint8Array(plaintext.length + TAG_LENGTH)) };
  const aad = encodeHandshake(outer).subarray(4);
  outerExtensions.list[at] = { type: ECH_EXTENSION, value: echExtension(context.seal(aad, plaintext)) };
  return outer;
}

/**
 * Whether ServerHello accepted ECH (RFC 9849 section 7.2): its last 8 random bytes are
 * HKDF-Expand-Label(HKDF-Extract(0, inner random), "ech accept confirmation",
 * Transcript-Hash(ClientHelloInner || ServerHello with those bytes zeroed), 8). On
 * acceptance the transcript restarts from ClientHelloInner.
 */
export function checkEchAcceptance(hs: Phase<ClientHandshake, 'suite' | 'transcript'>, state: EchClientState, serverHello: MessageOf<'server_hello'>): void {
  if (state.retried && !state.retried.accepted) {
    state.status = hs.negotiated.ech = 'rejected';
    return;
  }
  const zeroed = { ...serverHello, random: concat(serverHello.random.subarray(0, 24), new Uint8Array(8)) };
  const inner = need(state.inner, 'the ClientHelloInner');
  const before = state.retried ? [state.retried.innerHash, state.retried.hrr, inner] : [inner];
  const confirmation = acceptConfirmation(hs, state, 'ech accept confirmation', concat(...before, encodeHandshake(zeroed)));
  if (constantTimeEqual(confirmation, serverHello.random.subarray(24))) {
    state.status = hs.negotiated.ech = 'accepted';
    hs.transcript.reset();
    for (const m of before) hs.transcript.add(m);
    hs.clientRandom = state.innerRandom;
  } else {
    // A server that confirmed ECH in its HRR must confirm it again (section 6.1.5).
    if (state.retried) throw illegalParameter('ECH confirmed in HelloRetryRequest but not in ServerHello');
    state.status = hs.negotiated.ech = 'rejected';
  }
}

function acceptConfirmation(hs: Phase<ClientHandshake, 'suite' | 'transcript'>, state: EchClientState, label: 'ech accept confirmation' | 'hrr ech accept confirmation', messages: Uint8Array): Uint8Array {
  return echConfirmation(hs.provider, hs.suite.hash, need(state.innerRandom, 'the inner random'), label, hs.provider.hash(hs.suite.hash, messages));
}

/**
 * HelloRetryRequest with ECH offered (section 6.1.5): its encrypted_client_hello, if any, holds
 * "hrr ech accept confirmation" over message_hash(ClientHelloInner1) and the HRR with those 8
 * bytes zeroed. Without the extension, or with a wrong value, ECH is rejected.
 */
export function checkEchRetry(hs: Phase<ClientHandshake, 'suite' | 'transcript'>, state: EchClientState, hrr: MessageOf<'hello_retry_request'>): void {
  const innerHash = messageHash(hs.provider, hs.suite.hash, need(state.inner, 'the ClientHelloInner'));
  const at = hrr.extensions.list.findIndex((e) => e.type === ECH_EXTENSION);
  let accepted = false;
  if (at >= 0) {
    const value = hrr.extensions.list[at].value as Uint8Array;
    const confirmation = decode(EchHelloRetryRequest, value, 'encrypted_client_hello').confirmation;
    const zeroed = new Extensions('hello_retry_request', hrr.extensions.list.map((e, i) => (i === at ? { type: ECH_EXTENSION, value: new Uint8Array(8) } : e)));
    const expected = acceptConfirmation(hs, state, 'hrr ech accept confirmation', concat(innerHash, encodeHandshake({ ...hrr, extensions: zeroed })));
    accepted = constantTimeEqual(expected, confirmation);
  }
  state.retried = { accepted, innerHash, hrr: encodeHandshake(hrr) };
}

/** EncryptedExtensions: retry_configs may come only with a rejection (RFC 9849 section 6.1.6, 7.1). */
export function takeRetryConfigs(state: EchClientState, ext: Extensions): void {
  const data = ext.list.find((e) => e.type === ECH_EXTENSION)?.value as Uint8Array | undefined;
  if (!data) return;
  if (state.status === 'accepted') throw new TLSError('unsupported_extension', 'ECH accepted, yet EncryptedExtensions carries retry_configs');
  // Parsed to check it; a list of configs we cannot use is still the server's answer.
  parseEchConfigList(data);
  state.retryConfigs = data.slice();
}

/** The name to verify the server's certificate for: the public_name once ECH was rejected. */
export function echVerificationName(state: EchClientState | undefined): string | undefined {
  return state?.status === 'rejected' ? state.config.contents.public_name : undefined;
}

/** An error that carries the server's retry configs, as Go's ECHRejectionError does. */
export class EchRequiredError extends TLSError {
  constructor(readonly retryConfigs: Uint8Array | undefined) {
    super('ech_required', retryConfigs ? 'ECH rejected by the server; it sent retry configs' : 'ECH rejected by the server (no retry configs)', { code: 'ERR_TLS_ECH_REQUIRED' });
  }
}

/** After the server's Finished checks out on a rejected ECH: end with ech_required (RFC 9849 section 6.1.6). */
export function refuseRejectedEch(state: EchClientState | undefined): void {
  if (state?.status === 'rejected') throw new EchRequiredError(state.retryConfigs);
}

/** GREASE ECH (section 6.2): an outer extension that looks real and opens nothing. */
export interface EchGreaseState {
  configId: number;
  enc: Uint8Array;
  payloadLength: number;
}

const GREASE_SUITE = { kdf_id: 0x0001, aead_id: 0x0001 };

/** Made once per connection; a ClientHello2 repeats config and suite with an empty enc (as a real one would). */
export function startEchGrease(hs: ClientHandshake): EchGreaseState {
  const random = hs.common.random(3);
  return {
    configId: random[0],
    // From the injected randomness, so a seeded connection replays byte for byte.
    enc: hs.provider.generateKeyPair('x25519', hs.common.random(32)).publicKey,
    // A real payload is the padded inner hello (multiples of 32) plus the AEAD tag.
    payloadLength: 32 * (8 + (random[1] % 4)) + TAG_LENGTH,
  };
}

export function echGreaseExtension(hs: ClientHandshake, g: EchGreaseState, second: boolean): Uint8Array {
  return encodeEchClientHello({
    type: 'outer',
    cipher_suite: GREASE_SUITE,
    config_id: g.configId,
    enc: second ? new Uint8Array(0) : g.enc,
    payload: hs.common.random(g.payloadLength),
  });
}
