/**
 * DTLS 1.3's stateless cookie exchange (RFC 9147 5.1): HelloRetryRequest with a cookie
 * takes the place of DTLS 1.2's HelloVerifyRequest. A cookie-less ClientHello is answered
 * with an HRR whose cookie carries, under an HMAC that binds it to the client's address,
 * everything the server needs to pick up the handshake later without having kept any state
 * (RFC 8446 4.2.2): when it was made, the cipher suite the HRR named, the group (the one it
 * asked a share of, or the one whose share in ClientHello1 was taken as it was: `named` says
 * which), and the hash of ClientHello1. When the second ClientHello echoes a valid cookie, the
 * association starts with a transcript rebuilt from it: message_hash(ClientHello1), then the
 * same HRR; and holds ClientHello2 to the suite and the group.
 *
 *   cookie = version(1) time_s(4) cipher_suite(2) group(2) named(1) hash_length(1) hash  mac(32)
 */
import type { ResolvedCommon } from './config.js';
import type { CryptoProvider } from './crypto/provider.js';
import { HRR_RANDOM, HandshakeType, NamedGroup, ProtocolVersion, cipherSuiteByCode, type CipherSuiteInfo } from './messages/constants.js';
import { Extensions, encodeHandshake, type MessageOf } from './messages/handshake.js';
import type { GroupName } from './crypto/provider.js';
import { chooseGroup13 } from './statem/key-exchange.js';
import { concat, constantTimeEqual, utf8 } from './util/bytes.js';
import { need, type RetryRequest, type ServerHandshake } from './statem/context.js';

const COOKIE_VERSION = 2;
/** The bytes before Hash(ClientHello1). */
const FIXED_LENGTH = 11;
const MAC_LENGTH = 32;

/** What a valid cookie gives back: the HRR to put in the transcript after message_hash(ClientHello1), and what it named. */
export interface StatelessRetry extends RetryRequest {
  cookie: Uint8Array;
  /** Hash(ClientHello1), with the suite's hash. */
  helloHash: Uint8Array;
}

/** The HRR of a stateless retry, with its 4-byte header: built the same way when sent and when rebuilt. */
export function statelessHelloRetryRequest(suite: CipherSuiteInfo, group: GroupName | undefined, cookie: Uint8Array): Uint8Array {
  const ext = new Extensions('hello_retry_request');
  ext.add('supported_versions', { selected_version: ProtocolVersion.DTLS1_3 });
  if (group) ext.add('key_share', { selected_group: NamedGroup[group] });
  ext.add('cookie', { cookie });
  const hrr: MessageOf<'hello_retry_request'> = {
    type: 'hello_retry_request',
    legacy_version: ProtocolVersion.DTLS1_2,
    random: HRR_RANDOM,
    legacy_session_id_echo: new Uint8Array(0),
    cipher_suite: suite.code,
    legacy_compression_method: 0,
    extensions: ext,
  };
  return encodeHandshake(hrr, 'dtls13');
}

/** The suite and group a DTLS 1.3 server would pick for `hello`, as server-tls13 does; undefined when there is none. */
export function chooseRetry(common: ResolvedCommon, hello: MessageOf<'client_hello'>): RetryRequest | undefined {
  const suite = common.cipherSuites.find((s) => s.version === 'TLSv1.3' && hello.cipher_suites.includes(s.code));
  const listed = hello.extensions.get('supported_groups', 'client_hello')?.named_group_list ?? [];
  const shares = hello.extensions.get('key_share', 'client_hello')?.client_shares ?? [];
  if (!suite) return undefined;
  const choice = chooseGroup13(common.groups, listed, shares, true);
  if (!choice) return undefined;
  // A share the server takes as it is needs no new one: the HRR only carries the cookie.
  return choice.share ? { suite, taken: choice.group } : { suite, group: choice.group };
}

/** Hash(ClientHello1) as DTLS 1.3 hashes it (TLS framing, RFC 9147 5.2). */
export function helloHash(provider: CryptoProvider, suite: CipherSuiteInfo, helloBody: Uint8Array): Uint8Array {
  const framed = new Uint8Array(4 + helloBody.length);
  framed[0] = HandshakeType.client_hello;
  framed[1] = helloBody.length >>> 16;
  framed[2] = (helloBody.length >>> 8) & 0xff;
  framed[3] = helloBody.length & 0xff;
  framed.set(helloBody, 4);
  return provider.hash(suite.hash, framed);
}

function macOf(provider: CryptoProvider, key: Uint8Array, address: string, body: Uint8Array): Uint8Array {
  return provider.hmac('sha256', key, concat(utf8.encode(address), new Uint8Array([0]), body));
}

/** A cookie for `address` under `key`, made at `nowMs`. */
export function makeRetryCookie(provider: CryptoProvider, key: Uint8Array, address: string, nowMs: number, retry: Omit<StatelessRetry, 'cookie'>): Uint8Array {
  const hash = retry.helloHash;
  const body = new Uint8Array(FIXED_LENGTH + hash.length);
  const seconds = Math.floor(nowMs / 1000) >>> 0;
  body[0] = COOKIE_VERSION;
  body[1] = seconds >>> 24;
  body[2] = (seconds >>> 16) & 0xff;
  body[3] = (seconds >>> 8) & 0xff;
  body[4] = seconds & 0xff;
  body[5] = retry.suite.code >>> 8;
  body[6] = retry.suite.code & 0xff;
  const group = NamedGroup[need(retry.group ?? retry.taken, 'the group of a stateless retry')];
  body[7] = group >>> 8;
  body[8] = group & 0xff;
  body[9] = retry.group ? 1 : 0;
  body[10] = hash.length;
  body.set(hash, FIXED_LENGTH);
  return concat(body, macOf(provider, key, address, body));
}

/**
 * What a cookie from `address` stands for, if one of `keys` made it no more than `maxAgeMs`
 * ago for a suite and group `common` still has; undefined otherwise. The MAC is checked in
 * constant time before anything in the cookie is believed.
 */
export function openRetryCookie(
  provider: CryptoProvider,
  keys: readonly Uint8Array[],
  address: string,
  cookie: Uint8Array,
  nowMs: number,
  maxAgeMs: number,
  common: ResolvedCommon,
): StatelessRetry | undefined {
  if (cookie.length < FIXED_LENGTH + MAC_LENGTH || cookie[0] !== COOKIE_VERSION) return undefined;
  const body = cookie.subarray(0, cookie.length - MAC_LENGTH);
  const mac = cookie.subarray(cookie.length - MAC_LENGTH);
  if (body.length !== FIXED_LENGTH + body[10]!) return undefined;
  if (!keys.some((k) => constantTimeEqual(mac, macOf(provider, k, address, body)))) return undefined;
  const seconds = ((body[1]! << 24) >>> 0) + ((body[2]! << 16) | (body[3]! << 8) | body[4]!);
  const age = nowMs - seconds * 1000;
  if (age < -1000 || age > maxAgeMs) return undefined;
  const suite = cipherSuiteByCode((body[5]! << 8) | body[6]!);
  const code = (body[7]! << 8) | body[8]!;
  const group = common.groups.find((g) => NamedGroup[g] === code);
  if (!suite || !common.cipherSuites.includes(suite) || !group || body[9]! > 1) return undefined;
  const named = body[9] === 1 ? { group } : { taken: group };
  return { suite, ...named, cookie: new Uint8Array(cookie), helloHash: body.slice(FIXED_LENGTH) };
}

/**
 * Start a server association where a stateless retry left it: its transcript (RFC 8446
 * 4.4.1) is message_hash carrying Hash(ClientHello1), then the HRR, both before
 * ClientHello2, hashed with the HRR's suite; and ClientHello2 is held to what the HRR named,
 * as after an HRR the association sent itself (server-tls13.ts).
 */
export function resumeStatelessRetry(hs: ServerHandshake, retry: StatelessRetry): void {
  const hash = retry.helloHash;
  // A new association's handshake has its transcript from the start.
  const transcript = need(hs.transcript, 'the transcript');
  transcript.setHash(retry.suite.hash);
  transcript.add(concat(new Uint8Array([HandshakeType.message_hash, 0, 0, hash.length]), hash));
  transcript.add(statelessHelloRetryRequest(retry.suite, retry.group, retry.cookie));
  hs.negotiated.helloRetried = true;
  hs.retryRequest = { suite: retry.suite, group: retry.group, taken: retry.taken };
}
