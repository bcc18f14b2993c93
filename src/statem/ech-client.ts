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
 * The inner hello refers to the outer one's copies of the extensions both share (section 5.1)
 * and is padded (section 6.1.3). The outer hello offers TLS 1.2 too: a server that picks it did
 * not take ECH, and is treated as a rejection without retry configs.
 *
 * A session is resumed inside: the inner hello offers its PSK, with binders over the inner
 * transcript, and the outer one GREASE identities and binders of the same lengths (section
 * 10.12.3), so neither the ticket nor the fact of resuming shows on the wire.
 */
import { hpkeSetupSender, hpkeSupports, type HpkeContext } from '../crypto/hpke.js';
import { hashLength } from '../crypto/provider.js';
import { echConfigListBytes } from '../ech/keys.js';
import { echConfirmation, echHpkeInfo, messageHash } from '../ech/schedule.js';
import { TLSError, illegalParameter } from '../errors.js';
import { ECH_EXTENSION, EchHelloRetryRequest, OuterExtensions, encodeEchClientHello, parseEchConfigList, type ECHConfig, type HpkeSymmetricCipherSuite } from '../messages/ech.js';
import { decode, encode } from '../messages/codec.js';
import { extensionsCodec, type Extension, type OfferedPsks } from '../messages/extensions.js';
import { ExtensionType } from '../messages/constants.js';
import { Extensions, encodeHandshake, type MessageOf } from '../messages/handshake.js';
import { concat, constantTimeEqual, equal, utf8 } from '../util/bytes.js';
import { need, type ClientHandshake } from './context.js';
import type { PskOffer } from './external-psk.js';
import { bindersLength, computeBinder } from './psk.js';
import type { Phase } from './declare.js';

export interface EchClientState {
  config: ECHConfig;
  suite: HpkeSymmetricCipherSuite;
  context?: HpkeContext;
  /** ClientHelloInner as the transcript would hash it (outer's session ID, 4-byte header). */
  inner?: Uint8Array;
  /** The same, decoded: what the server rebuilds (shown by --trace). */
  innerHello?: MessageOf<'client_hello'>;
  innerRandom?: Uint8Array;
  /** The outer hello's random: the second ClientHello repeats it (RFC 8446 section 4.1.2). */
  outerRandom?: Uint8Array;
  /** After a HelloRetryRequest: whether it confirmed ECH, message_hash(ClientHelloInner1) and the HRR's bytes. */
  retried?: { accepted: boolean; innerHash: Uint8Array; hrr: Uint8Array };
  status: 'offered' | 'accepted' | 'rejected';
  /** The server's retry_configs (ECHConfigList bytes), when it rejected ECH and sent them. */
  retryConfigs?: Uint8Array;
  /** The outer hello's GREASE PSK identities, made once: a second hello (after HRR) repeats them. */
  greasePskIdentities?: OfferedPsks['identities'];
}

const TAG_LENGTH = 16;

/**
 * A public_name a client can authenticate (RFC 9849 section 6.1.7): dot-separated LDH labels of
 * 1 to 63 octets, the last neither all digits nor 0x-hex (which would read as an IPv4 address).
 */
function validPublicName(name: string): boolean {
  const labels = name.split('.');
  if (!labels.every((l) => /^[A-Za-z0-9-]{1,63}$/.test(l))) return false;
  const last = labels[labels.length - 1];
  return !/^[0-9]+$/.test(last) && !/^0x[0-9a-f]*$/i.test(last);
}

/** The first config in the list we can use: a valid public_name, a KEM and one cipher suite we support. */
export function chooseEchConfig(configList: Uint8Array | string): { config: ECHConfig; suite: HpkeSymmetricCipherSuite } {
  const configs = parseEchConfigList(echConfigListBytes(configList));
  for (const config of configs) {
    if (!validPublicName(config.contents.public_name)) continue;
    const k = config.contents.key_config;
    const suite = k.cipher_suites.find((s) => hpkeSupports({ kem: k.kem_id, kdf: s.kdf_id, aead: s.aead_id }));
    if (suite) return { config, suite };
  }
  throw new TLSError('internal_error', 'ECH: no config in the list has a valid public_name with a KEM and cipher suite we support', { code: 'ERR_TLS_ECH_CONFIG_LIST' });
}

/**
 * Zero padding for EncodedClientHelloInner (RFC 9849 section 6.1.3): the name's length hidden
 * up to maximum_name_length (or as much as an SNI extension takes, without one), then the whole
 * rounded up to a multiple of 32.
 */
function echPaddingLength(maximumNameLength: number, serverName: string | undefined, encodedLength: number): number {
  const forName = serverName === undefined ? maximumNameLength + 9 : Math.max(0, maximumNameLength - utf8.encode(serverName).length);
  const total = encodedLength + forName;
  return forName + (31 - ((total + 31) % 32));
}

/**
 * The extensions an inner hello takes from the outer one by reference (section 5.1) when they
 * are the same in both: the ones browsers compress. server_name, supported_versions and
 * encrypted_client_hello always differ; the rest stays in the encrypted hello as it is.
 */
const COMPRESSIBLE: ReadonlySet<number> = new Set([
  ExtensionType.supported_groups,
  ExtensionType.signature_algorithms,
  ExtensionType.key_share,
  ExtensionType.psk_key_exchange_modes,
  ExtensionType.compress_certificate,
  ExtensionType.record_size_limit,
]);

const extensionBytes = (e: Extension) => encode(extensionsCodec('client_hello'), new Extensions('client_hello', [e]));

/**
 * EncodedClientHelloInner's extensions (section 5.1): the outer extensions that are the same
 * inside become one ech_outer_extensions, in the outer hello's order, where the first of them
 * was. Also the inner hello's extensions as the server rebuilds them (and the transcript hashes).
 */
function compressExtensions(inner: Extensions, outer: Extensions): { encoded: Extensions; expanded: Extensions } {
  const referenced = outer.list.filter((o) => {
    const i = inner.list.find((e) => e.type === o.type);
    return COMPRESSIBLE.has(o.type) && i !== undefined && equal(extensionBytes(i), extensionBytes(o));
  });
  const types = new Set(referenced.map((e) => e.type));
  const encoded = new Extensions('client_hello');
  const expanded = new Extensions('client_hello');
  let placed = false;
  for (const e of inner.list) {
    if (!types.has(e.type)) {
      encoded.list.push(e);
      expanded.list.push(e);
    } else if (!placed) {
      placed = true;
      encoded.addRaw(ExtensionType.ech_outer_extensions, encode(OuterExtensions, { types: [...types] }));
      expanded.list.push(...referenced);
    }
  }
  return { encoded, expanded };
}

/**
 * EncodedClientHelloInner (section 5.1), padded: `inner` without its session ID (the outer's is
 * used), compressed against the outer hello's extensions; and the inner hello the server will
 * rebuild from it.
 */
function encodedClientHelloInner(
  inner: MessageOf<'client_hello'>,
  outer: Extensions,
  maximumNameLength: number,
  bind: (expanded: MessageOf<'client_hello'>) => void = () => {},
): { plaintext: Uint8Array; expanded: MessageOf<'client_hello'> } {
  const { encoded, expanded } = compressExtensions(inner.extensions, outer);
  // Both forms share the pre_shared_key value: binders made over the expanded one are in the encoded one too.
  bind({ ...inner, extensions: expanded });
  const body = encodeHandshake({ ...inner, legacy_session_id: new Uint8Array(0), extensions: encoded }).subarray(4);
  const serverName = inner.extensions.get('server_name', 'client_hello')?.server_name_list[0]?.host_name;
  return {
    plaintext: concat(body, new Uint8Array(echPaddingLength(maximumNameLength, serverName, body.length))),
    expanded: { ...inner, extensions: expanded },
  };
}

/**
 * Seal `inner` (which carries the inner marker) into `outer` (which has an empty
 * encrypted_client_hello in its place): the inner hello is compressed against the outer one,
 * padded, and encrypted with the outer hello as additional data (section 5.2).
 */
export function sealClientHello(hs: Phase<ClientHandshake, 'transcript'>, state: EchClientState, inner: MessageOf<'client_hello'>, outer: MessageOf<'client_hello'>, psks: readonly PskOffer[]): MessageOf<'client_hello'> {
  const p = hs.provider;
  const k = state.config.contents.key_config;
  // Both hellos carry the same session ID; the second hello (after HRR) repeats the outer random.
  state.outerRandom ??= hs.common.random(32);
  outer.random = state.outerRandom;
  // The random on the wire, for the key log and TLS 1.2's keys, until the server takes ECH.
  hs.clientRandom = state.outerRandom;
  outer.legacy_session_id = inner.legacy_session_id;
  const { plaintext, expanded } = encodedClientHelloInner(inner, outer.extensions, state.config.contents.maximum_name_length, (hello) => bindInnerPsks(hs, state, hello, psks));
  state.innerHello = expanded;
  state.inner = encodeHandshake(expanded);
  state.innerRandom = inner.random;
  // The second hello (after HRR) goes on with the first one's context, and sends no enc.
  const { enc, context } = state.context
    ? { enc: new Uint8Array(0), context: state.context }
    : hpkeSetupSender(p, { kem: k.kem_id, kdf: state.suite.kdf_id, aead: state.suite.aead_id }, k.public_key, echHpkeInfo(state.config));
  state.context = context;
  const echExtension = (payload: Uint8Array) =>
    encodeEchClientHello({ type: 'outer', cipher_suite: state.suite, config_id: k.config_id, enc, payload });
  const at = outer.extensions.list.findIndex((e) => e.type === ECH_EXTENSION);
  if (at < 0) throw new Error('ECH: the outer hello has no place for encrypted_client_hello');
  // ClientHelloOuterAAD: the outer hello with a payload of zeros the length of the ciphertext.
  outer.extensions.list[at] = { type: ECH_EXTENSION, value: echExtension(new Uint8Array(plaintext.length + TAG_LENGTH)) };
  const aad = encodeHandshake(outer).subarray(4);
  outer.extensions.list[at] = { type: ECH_EXTENSION, value: echExtension(context.seal(aad, plaintext)) };
  return outer;
}

/**
 * The inner hello's binders (RFC 8446 section 4.2.11.2) over ClientHelloInner as the server
 * rebuilds it (outer extensions expanded, the outer's session ID), in the inner transcript:
 * after a HelloRetryRequest, message_hash(ClientHelloInner1) and the HRR come first.
 */
function bindInnerPsks(hs: Phase<ClientHandshake, 'transcript'>, state: EchClientState, expanded: MessageOf<'client_hello'>, psks: readonly PskOffer[]): void {
  const offered = expanded.extensions.get('pre_shared_key', 'client_hello');
  if (!offered) return;
  const raw = encodeHandshake(expanded);
  const truncated = raw.subarray(0, raw.length - bindersLength(offered));
  const before = state.retried ? concat(state.retried.innerHash, state.retried.hrr) : new Uint8Array(0);
  psks.forEach((p, i) => (offered.binders[i] = computeBinder(hs, p.hash, p.secret, truncated, p.label, before)));
}

/**
 * The outer hello's pre_shared_key when the inner one offers PSKs (RFC 9849 section 10.12.3):
 * for each, a random identity of the same length and a random obfuscated_ticket_age (kept for
 * a second hello), and a random binder as long as the real one. No PSKs inside, none outside.
 */
export function echGreasePsks(hs: ClientHandshake, state: EchClientState, psks: readonly PskOffer[]): OfferedPsks | undefined {
  if (psks.length === 0) return undefined;
  state.greasePskIdentities ??= psks.map((p) => {
    const age = hs.common.random(4);
    return { identity: hs.common.random(p.identity.length), obfuscated_ticket_age: ((age[0] << 24) | (age[1] << 16) | (age[2] << 8) | age[3]) >>> 0 };
  });
  return { identities: state.greasePskIdentities, binders: psks.map((p) => hs.common.random(hashLength[p.hash])) };
}

/** After the outer hello went out: the inner one it carries, to whoever watches the handshake. */
export function showInnerHello(hs: Phase<ClientHandshake, 'hello'>): void {
  const state = hs.hello.ech;
  if (state?.innerHello && state.inner) hs.showInnerHello?.('send', state.innerHello, state.inner.length);
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

/**
 * Whether our certificate stays home: a server that rejected ECH is authenticated only for
 * the public_name, so a CertificateRequest gets an empty Certificate (section 6.1.7). It matters
 * in TLS 1.2, where our Certificate goes out, in the clear, before the server's Finished.
 */
export function echWithholdsClientCertificate(state: EchClientState | undefined): boolean {
  return state?.status === 'rejected';
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

/** A TLS 1.2 ServerHello: the server did not take ECH; its certificate must then be for the public_name. */
export function rejectEchForTls12(hs: Phase<ClientHandshake, 'hello'>): void {
  if (hs.hello.ech) hs.hello.ech.status = hs.negotiated.ech = 'rejected';
}

/** After the server's Finished checks out on a rejected ECH: end with ech_required (RFC 9849 section 6.1.6). */
export function refuseRejectedEch(state: EchClientState | undefined): void {
  if (state?.status === 'rejected') throw new EchRequiredError(state.retryConfigs);
}

/** GREASE ECH (section 6.2): an outer extension that looks real and opens nothing. */
export interface EchGreaseState {
  configId: number;
  suite: HpkeSymmetricCipherSuite;
  enc: Uint8Array;
  /** The extension as first sent: a second ClientHello (after HRR) copies it whole. */
  sent?: Uint8Array;
}

/**
 * The suites GREASE picks from (section 6.2.1: the choice should vary among plausible ones):
 * HKDF-SHA256 with AES-128-GCM or ChaCha20Poly1305, the two every deployment offers, both
 * with a tag of TAG_LENGTH.
 */
const GREASE_SUITES: readonly HpkeSymmetricCipherSuite[] = [
  { kdf_id: 0x0001, aead_id: 0x0001 },
  { kdf_id: 0x0001, aead_id: 0x0003 },
];

/** Made once per connection, from the injected randomness (so a seeded connection replays byte for byte). */
export function startEchGrease(hs: ClientHandshake): EchGreaseState {
  const random = hs.common.random(2);
  return {
    configId: random[0],
    suite: GREASE_SUITES[random[1] & 1],
    enc: hs.provider.generateKeyPair('x25519', hs.common.random(32)).publicKey,
  };
}

/**
 * The GREASE extension, made once: a second ClientHello (after HRR) repeats it. Its payload is
 * as long as the hello `innerHello` makes would encrypt to (compressed against `outer`, the
 * extensions of the hello being built, padded as section 6.1.3 does with no config, so a
 * maximum_name_length of 0), plus the AEAD tag.
 */
export function echGreaseExtension(hs: ClientHandshake, g: EchGreaseState, innerHello: () => MessageOf<'client_hello'>, outer: Extensions): Uint8Array {
  if (g.sent) return g.sent;
  const payloadLength = encodedClientHelloInner(innerHello(), outer, 0).plaintext.length + TAG_LENGTH;
  g.sent = encodeEchClientHello({ type: 'outer', cipher_suite: g.suite, config_id: g.configId, enc: g.enc, payload: hs.common.random(payloadLength) });
  return g.sent;
}
