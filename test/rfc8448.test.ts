// RFC 8448 (TLS 1.3 example handshake traces) reproduced by tsls's own code, byte for byte.
//
// test/rfc8448-vectors.test.ts checks that the extracted data is self-consistent with
// node:crypto; this file checks that *our* key schedule, transcript, handshake codec,
// record protection and signature verification produce every value in the traces.
//
// It is data-driven: every step of the traces that carries data is claimed by one check
// (key pair, key schedule, message, record), and every check insists that it compared
// every item of its step, so no byte of the traces goes unverified.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Connection } from '../src/connection.js';
import {
  deriveSecret,
  earlySecret,
  finishedVerifyData,
  handshakeSecret,
  masterSecret,
  resumptionPsk,
  trafficKeys,
  type TrafficKeys,
} from '../src/crypto/keyschedule.js';
import { nobleProvider } from '../src/crypto/noble.js';
import type { CryptoProvider, GroupName, HashName } from '../src/crypto/provider.js';
import { cipherSuiteByCode, groupByCode } from '../src/messages/constants.js';
import { decodeHandshake, encodeHandshake, type HandshakeMessage, type MessageOf } from '../src/messages/handshake.js';
import { NullProtection, Tls13Protection, type RecordProtection } from '../src/record/protection.js';
import { certificateVerifyContent } from '../src/statem/both.js';
import { Transcript } from '../src/statem/transcript.js';
import { parseCertificate } from '../src/x509/certificate.js';
import { StepCheck, Trace, bytesToHex, itemOf, type Step, type Who } from './helpers/rfc8448.js';

const TRACES = [
  { file: 'simple-1rtt.json', section: 'RFC 8448 section 3' },
  { file: 'hello-retry-request.json', section: 'RFC 8448 section 5' },
] as const;

const HASH: HashName = 'sha256'; // both traces use TLS_AES_128_GCM_SHA256

function expectBytes(actual: Uint8Array | undefined, expected: Uint8Array, what: string): void {
  expect(actual, what).toBeDefined();
  expect(bytesToHex(actual!), what).toBe(bytesToHex(expected));
}

const other = (who: Who): Who => (who === 'client' ? 'server' : 'client');

// ---- a provider that records every HKDF and HMAC call our key schedule makes ------------

interface Call {
  op: 'extract' | 'expand' | 'hmac';
  /** salt (extract), PRK (expand) or key (hmac) */
  key: Uint8Array;
  /** IKM (extract), info (expand) or message (hmac) */
  data: Uint8Array;
  out: Uint8Array;
}

function recordingProvider(base: CryptoProvider): { provider: CryptoProvider; calls: Call[] } {
  const calls: Call[] = [];
  const log = (op: Call['op'], key: Uint8Array, data: Uint8Array, out: Uint8Array) => {
    calls.push({ op, key: key.slice(), data: data.slice(), out: out.slice() });
    return out;
  };
  const provider: CryptoProvider = {
    ...base,
    hkdfExtract: (h, salt, ikm) => log('extract', salt, ikm, base.hkdfExtract(h, salt, ikm)),
    hkdfExpand: (h, prk, info, length) => log('expand', prk, info, base.hkdfExpand(h, prk, info, length)),
    hmac: (h, key, data) => log('hmac', key, data, base.hmac(h, key, data)),
  };
  return { provider, calls };
}

// ---- everything our code computes from a trace ---------------------------------------------

interface Message {
  step: Step;
  raw: Uint8Array;
  msg: HandshakeMessage;
}

const MESSAGE_STEP = /^construct an? (\w+) handshake message$/;
const KEY_PAIR_STEP = /^create an ephemeral (x25519|P-256) key pair$/;
const RECORD_STEP = /^send (handshake|application_data|alert) record$/;
const RFC_GROUP: Record<string, GroupName> = { x25519: 'x25519', 'P-256': 'secp256r1' };

function messagesOf(trace: Trace): Message[] {
  return trace.steps
    .filter((s) => MESSAGE_STEP.test(s.action))
    .map((step) => {
      const label = MESSAGE_STEP.exec(step.action)![1]!;
      const raw = itemOf(step, label);
      return { step, raw, msg: decodeHandshake(raw[0]!, raw.subarray(4)) };
    });
}

interface Ours {
  calls: Call[];
  findCall(op: Call['op'], key: Uint8Array, data: Uint8Array): Call | undefined;
  messages: Message[];
  /** Transcript-Hash after a message, by `${sender}:${message type}` (the last such message). */
  th: Record<string, Uint8Array>;
  emptyHash: Uint8Array;
  group: GroupName;
  sharedAtClient: Uint8Array;
  sharedAtServer: Uint8Array;
  secrets: Record<
    | 'early'
    | 'handshake'
    | 'master'
    | 'clientHandshake'
    | 'serverHandshake'
    | 'clientApplication'
    | 'serverApplication'
    | 'exporter'
    | 'resumption',
    Uint8Array
  >;
  keys: Record<'clientHandshake' | 'serverHandshake' | 'clientApplication' | 'serverApplication', TrafficKeys>;
  finished: Record<Who, Uint8Array>;
  ticketNonce?: Uint8Array;
  resumptionPsk?: Uint8Array;
  aead: 'AES-128-GCM' | 'AES-256-GCM' | 'CHACHA20-POLY1305' | 'AES-128-CCM' | 'AES-128-CCM-8';
  provider: CryptoProvider;
}

function computeOurs(trace: Trace): Ours {
  const { provider: p, calls } = recordingProvider(nobleProvider);
  const messages = messagesOf(trace);

  // The transcript, fed as our handshake feeds it: ClientHello before the hash is known,
  // message_hash(ClientHello1) replacing it when a HelloRetryRequest arrives.
  const transcript = new Transcript(p);
  const th: Record<string, Uint8Array> = {};
  for (const m of messages) {
    if (m.msg.type === 'new_session_ticket') continue;
    if (m.msg.type === 'server_hello' || m.msg.type === 'hello_retry_request') {
      transcript.setHash(cipherSuiteByCode(m.msg.cipher_suite)!.hash);
      if (m.msg.type === 'hello_retry_request') transcript.replaceWithMessageHash();
    }
    transcript.add(m.raw);
    if (transcript.hashName) th[`${m.step.who}:${m.msg.type}`] = transcript.hash();
  }
  const empty = new Transcript(p);
  empty.setHash(HASH);

  const find = <K extends HandshakeMessage['type']>(type: K) => messages.filter((m) => m.msg.type === type).map((m) => m.msg as MessageOf<K>);
  const sh = find('server_hello')[0]!;
  const ch = find('client_hello').at(-1)!;
  const suite = cipherSuiteByCode(sh.cipher_suite)!;
  expect(suite.hash).toBe(HASH);

  // ECDHE: the trace's private keys with the peer's public key as our codec read it from the hellos.
  const serverShare = sh.extensions.get('key_share', 'server_hello')!.server_share;
  const group = groupByCode.get(serverShare.group)!;
  const clientShare = ch.extensions.get('key_share', 'client_hello')!.client_shares.find((s) => s.group === serverShare.group)!;
  const rfcGroup = Object.keys(RFC_GROUP).find((k) => RFC_GROUP[k] === group)!;
  const privateKey = (who: Who) => trace.item(who, `create an ephemeral ${rfcGroup} key pair`, 'private key');
  const sharedAtClient = p.decapsulate(group, privateKey('client'), serverShare.key_exchange);
  const sharedAtServer = p.decapsulate(group, privateKey('server'), clientShare.key_exchange);

  const early = earlySecret(p, HASH);
  const handshake = handshakeSecret(p, HASH, early, sharedAtClient);
  const clientHandshake = deriveSecret(p, HASH, handshake, 'c hs traffic', th['server:server_hello']!);
  const serverHandshake = deriveSecret(p, HASH, handshake, 's hs traffic', th['server:server_hello']!);
  const master = masterSecret(p, HASH, handshake);
  const clientApplication = deriveSecret(p, HASH, master, 'c ap traffic', th['server:finished']!);
  const serverApplication = deriveSecret(p, HASH, master, 's ap traffic', th['server:finished']!);
  const exporter = deriveSecret(p, HASH, master, 'exp master', th['server:finished']!);
  const resumption = deriveSecret(p, HASH, master, 'res master', th['client:finished']!);
  const keys = {
    clientHandshake: trafficKeys(p, HASH, suite.aead, clientHandshake),
    serverHandshake: trafficKeys(p, HASH, suite.aead, serverHandshake),
    clientApplication: trafficKeys(p, HASH, suite.aead, clientApplication),
    serverApplication: trafficKeys(p, HASH, suite.aead, serverApplication),
  };
  const finished = {
    server: finishedVerifyData(p, HASH, serverHandshake, th['server:certificate_verify']!),
    client: finishedVerifyData(p, HASH, clientHandshake, th['server:finished']!),
  };
  const nst = find('new_session_ticket')[0];
  const eq = (a: Uint8Array, b: Uint8Array) => bytesToHex(a) === bytesToHex(b);
  return {
    calls,
    findCall: (op, key, data) => calls.find((c) => c.op === op && eq(c.key, key) && eq(c.data, data)),
    messages,
    th,
    emptyHash: empty.hash(),
    group,
    sharedAtClient,
    sharedAtServer,
    secrets: { early, handshake, master, clientHandshake, serverHandshake, clientApplication, serverApplication, exporter, resumption },
    keys,
    finished,
    ticketNonce: nst?.ticket_nonce,
    resumptionPsk: nst && resumptionPsk(p, HASH, resumption, nst.ticket_nonce),
    aead: suite.aead,
    provider: p,
  };
}

const oursCache = new Map<Trace, Ours>();
const oursFor = (trace: Trace): Ours => {
  let o = oursCache.get(trace);
  if (!o) oursCache.set(trace, (o = computeOurs(trace)));
  return o;
};

// ---- key schedule steps: what each RFC step line is, in our terms ---------------------

type Pick = (o: Ours) => Uint8Array;
interface KeyScheduleCheck {
  proves: string;
  run(c: StepCheck, o: Ours): void;
}

/** HKDF-Extract(salt, IKM) = secret: our code made exactly this call. */
function extractStep(proves: string, ikm: Pick, secret: Pick): KeyScheduleCheck {
  return {
    proves,
    run(c, o) {
      expectBytes(secret(o), c.get('secret'), `our ${proves}`);
      expectBytes(ikm(o), c.get('IKM'), 'IKM');
      const call = o.findCall('extract', c.get('salt'), c.get('IKM'));
      expect(call, 'our key schedule calls HKDF-Extract with the RFC salt and IKM').toBeDefined();
      expectBytes(call!.out, c.get('secret'), 'HKDF-Extract output');
    },
  };
}

/** Derive-Secret / HKDF-Expand-Label: PRK, context (the "hash" item), HkdfLabel info and output. */
function expandStep(proves: string, prk: Pick, context: Pick, out?: Pick): KeyScheduleCheck {
  return {
    proves,
    run(c, o) {
      expectBytes(prk(o), c.get('PRK'), 'PRK');
      expectBytes(context(o), c.get('hash'), 'context (transcript hash)');
      const call = o.findCall('expand', c.get('PRK'), c.get('info'));
      expect(call, `our key schedule calls HKDF-Expand with the RFC's PRK and HkdfLabel info; it used ${o.calls.filter((x) => x.op === 'expand').map((x) => bytesToHex(x.data)).join(', ')}`).toBeDefined();
      expectBytes(call!.out, c.get('expanded'), 'HKDF-Expand output');
      if (out) expectBytes(out(o), c.get('expanded'), `our ${proves}`);
    },
  };
}

type SecretName = keyof Ours['secrets'];
type KeysName = keyof Ours['keys'];
const sec = (name: SecretName): Pick => (o) => o.secrets[name];

/** The steps with data, by step line. Steps "(same as …)" carry no data and need no check. */
function keyScheduleCheck(step: Step): KeyScheduleCheck | undefined {
  const a = step.action;
  const fixed: Record<string, KeyScheduleCheck> = {
    'extract secret "early"': extractStep('early_secret', (o) => new Uint8Array(o.emptyHash.length), sec('early')),
    'derive secret for handshake "tls13 derived"': expandStep('Derive-Secret(early_secret, "derived", "")', sec('early'), (o) => o.emptyHash),
    'extract secret "handshake"': extractStep('handshake_secret from our (EC)DHE shared secret', (o) => o.sharedAtClient, sec('handshake')),
    'derive secret "tls13 c hs traffic"': expandStep('client_handshake_traffic_secret', sec('handshake'), (o) => o.th['server:server_hello']!, sec('clientHandshake')),
    'derive secret "tls13 s hs traffic"': expandStep('server_handshake_traffic_secret', sec('handshake'), (o) => o.th['server:server_hello']!, sec('serverHandshake')),
    'derive secret for master "tls13 derived"': expandStep('Derive-Secret(handshake_secret, "derived", "")', sec('handshake'), (o) => o.emptyHash),
    'extract secret "master"': extractStep('master_secret', (o) => new Uint8Array(o.emptyHash.length), sec('master')),
    'derive secret "tls13 c ap traffic"': expandStep('client_application_traffic_secret_0', sec('master'), (o) => o.th['server:finished']!, sec('clientApplication')),
    'derive secret "tls13 s ap traffic"': expandStep('server_application_traffic_secret_0', sec('master'), (o) => o.th['server:finished']!, sec('serverApplication')),
    'derive secret "tls13 exp master"': expandStep('exporter_master_secret', sec('master'), (o) => o.th['server:finished']!, sec('exporter')),
    'derive secret "tls13 res master"': expandStep('resumption_master_secret', sec('master'), (o) => o.th['client:finished']!, sec('resumption')),
    'generate resumption secret "tls13 resumption"': expandStep(
      'the resumption PSK from the NewSessionTicket ticket_nonce',
      sec('resumption'),
      (o) => o.ticketNonce!,
      (o) => o.resumptionPsk!,
    ),
  };
  if (fixed[a]) return fixed[a];

  const keys = /^derive (write|read) traffic keys for (handshake|application) data$/.exec(a);
  if (keys) {
    const sender = keys[1] === 'write' ? step.who : other(step.who);
    const name = `${sender}${keys[2] === 'handshake' ? 'Handshake' : 'Application'}` as KeysName;
    const secretLabel = `${sender}_${keys[2]}_traffic_secret${keys[2] === 'application' ? '_0' : ''}`;
    return {
      proves: `${sender}_write_key and ${sender}_write_iv from ${secretLabel}`,
      run(c, o) {
        expectBytes(o.secrets[name], c.get('PRK'), 'traffic secret');
        const k = o.keys[name];
        expectBytes(k.key, c.get('key expanded'), 'our write key');
        expectBytes(k.iv, c.get('iv expanded'), 'our write iv');
        expectBytes(o.findCall('expand', c.get('PRK'), c.get('key info'))?.out, c.get('key expanded'), 'HKDF-Expand-Label(secret, "key", "", 16)');
        expectBytes(o.findCall('expand', c.get('PRK'), c.get('iv info'))?.out, c.get('iv expanded'), 'HKDF-Expand-Label(secret, "iv", "", 12)');
      },
    };
  }

  if (a === 'calculate finished "tls13 finished"') {
    const who = step.who;
    const base = sec(who === 'server' ? 'serverHandshake' : 'clientHandshake');
    // Server Finished covers ClientHello..CertificateVerify; client Finished ..server Finished.
    const hashed = (o: Ours) => (who === 'server' ? o.th['server:certificate_verify']! : o.th['server:finished']!);
    return {
      proves: `the ${who} Finished verify_data`,
      run(c, o) {
        expandStep('finished_key', base, () => new Uint8Array(0)).run(c, o);
        expectBytes(o.finished[who], c.get('finished'), 'our verify_data');
        const mac = o.findCall('hmac', c.get('expanded'), hashed(o));
        expect(mac, 'our Finished is HMAC(finished_key, Transcript-Hash)').toBeDefined();
        expectBytes(mac!.out, c.get('finished'), 'HMAC output');
      },
    };
  }
  return undefined;
}

// ---- records: which keys and sequence number each record is protected with ------------

type Epoch = 'plaintext' | 'handshake' | 'application';
interface RecordCase {
  step: Step;
  contentType: number;
  epoch: Epoch;
  /** Records sent before this one by the same side in the same epoch (they fix the sequence number). */
  earlier: Step[];
  /** legacy_record_version of a plaintext record: the RFC's client uses 0x0301 for its initial ClientHello. */
  version: number;
}

const CONTENT_TYPE: Record<string, number> = { alert: 21, handshake: 22, application_data: 23 };
const HRR_RANDOM_HEX = createHash('sha256').update('HelloRetryRequest').digest('hex');

/**
 * Walk the trace's records the way the two peers change keys: both move to handshake keys
 * once the (real) ServerHello is sent, and each to application keys after its own Finished.
 */
function recordCases(trace: Trace): RecordCase[] {
  const epoch: Record<Who, Epoch> = { client: 'plaintext', server: 'plaintext' };
  const sent = new Map<string, Step[]>();
  const out: RecordCase[] = [];
  for (const step of trace.steps) {
    const m = RECORD_STEP.exec(step.action);
    if (!m) continue;
    const key = `${step.who}:${epoch[step.who]}`;
    const earlier = sent.get(key) ?? [];
    const first = out.every((r) => r.step.who !== step.who);
    out.push({ step, contentType: CONTENT_TYPE[m[1]!]!, epoch: epoch[step.who], earlier: [...earlier], version: first && step.who === 'client' ? 0x0301 : 0x0303 });
    sent.set(key, [...earlier, step]);
    if (m[1] !== 'handshake') continue;
    const payload = itemOf(step, 'payload');
    const types = handshakeTypes(payload);
    if (types.includes(2) && bytesToHex(payload.subarray(6, 38)) !== HRR_RANDOM_HEX) epoch.client = epoch.server = 'handshake';
    if (types.includes(20)) epoch[step.who] = 'application';
  }
  return out;
}

/** The handshake message types in a record payload (msg_type, uint24 length, body)*. */
function handshakeTypes(payload: Uint8Array): number[] {
  const types: number[] = [];
  for (let at = 0; at < payload.length; at += 4 + ((payload[at + 1]! << 16) | (payload[at + 2]! << 8) | payload[at + 3]!)) types.push(payload[at]!);
  return types;
}

function protectionFor(o: Ours, r: RecordCase): RecordProtection {
  if (r.epoch === 'plaintext') return new NullProtection(r.version);
  const name = `${r.step.who}${r.epoch === 'handshake' ? 'Handshake' : 'Application'}` as KeysName;
  const { key, iv } = o.keys[name];
  // Copies: Tls13Protection wipes its key and iv on destroy.
  return new Tls13Protection(o.provider, o.aead, key.slice(), iv.slice());
}

const contentTypeOf = (s: Step) => CONTENT_TYPE[RECORD_STEP.exec(s.action)![1]!]!;

// ---- message spot checks: decoded fields that must be what the RFC says -------------------

function spotCheck(trace: Trace, m: Message, o: Ours): void {
  const pub = (who: Who, group: string) => bytesToHex(trace.item(who, `create an ephemeral ${group} key pair`, 'public key'));
  const hex = bytesToHex;
  const msg = m.msg;
  switch (msg.type) {
    case 'client_hello': {
      const second = o.messages.filter((x) => x.msg.type === 'client_hello')[0]!.step !== m.step;
      expect(msg.legacy_version).toBe(0x0303);
      expect(msg.cipher_suites).toEqual([0x1301, 0x1303, 0x1302]);
      expect(msg.extensions.get('supported_versions', 'client_hello')?.versions).toEqual([0x0304]);
      expect(msg.extensions.get('server_name', 'client_hello')?.server_name_list).toEqual([{ name_type: 0, host_name: 'server' }]);
      expect(msg.extensions.get('supported_groups', 'client_hello')?.named_group_list.slice(0, 2)).toEqual([0x001d, 0x0017]);
      expect(msg.extensions.get('record_size_limit', 'client_hello')).toBe(0x4001);
      const shares = msg.extensions.get('key_share', 'client_hello')!.client_shares.map((s) => [s.group, hex(s.key_exchange)]);
      if (!second) expect(shares).toEqual([[0x001d, pub('client', 'x25519')]]);
      else {
        expect(shares).toEqual([[0x0017, pub('client', 'P-256')]]);
        const hrr = o.messages.find((x) => x.msg.type === 'hello_retry_request')!.msg as MessageOf<'hello_retry_request'>;
        expect(hex(msg.extensions.get('cookie', 'client_hello')!.cookie)).toBe(hex(hrr.extensions.get('cookie', 'hello_retry_request')!.cookie));
      }
      return;
    }
    case 'hello_retry_request':
      expect(hex(msg.random)).toBe(HRR_RANDOM_HEX);
      expect(msg.cipher_suite).toBe(0x1301);
      expect(msg.extensions.get('supported_versions', 'hello_retry_request')?.selected_version).toBe(0x0304);
      expect(msg.extensions.get('key_share', 'hello_retry_request')?.selected_group).toBe(0x0017); // secp256r1
      expect(msg.extensions.get('cookie', 'hello_retry_request')?.cookie.length).toBe(0x72);
      expect(msg.extensions.types).toEqual([51, 44, 43]); // key_share, cookie, supported_versions
      return;
    case 'server_hello': {
      const hrrTrace = o.messages.some((x) => x.msg.type === 'hello_retry_request');
      expect(msg.cipher_suite).toBe(0x1301);
      expect(msg.legacy_session_id_echo.length).toBe(0);
      expect(msg.extensions.get('supported_versions', 'server_hello')?.selected_version).toBe(0x0304);
      const share = msg.extensions.get('key_share', 'server_hello')!.server_share;
      expect([share.group, hex(share.key_exchange)]).toEqual(hrrTrace ? [0x0017, pub('server', 'P-256')] : [0x001d, pub('server', 'x25519')]);
      return;
    }
    case 'encrypted_extensions':
      expect(msg.extensions.has('server_name')).toBe(true);
      expect(msg.extensions.get('supported_groups', 'encrypted_extensions')?.named_group_list).toContain(0x001d);
      expect(msg.extensions.get('record_size_limit', 'encrypted_extensions')).toBe(0x4001);
      return;
    case 'certificate':
      expect(msg.certificate_request_context.length).toBe(0);
      expect(msg.certificate_list.length).toBe(1);
      expect(msg.certificate_list[0]!.extensions.list).toEqual([]);
      return;
    case 'certificate_verify':
      expect(msg.algorithm).toBe(0x0804); // rsa_pss_rsae_sha256
      expect(msg.signature.length).toBe(128);
      return;
    case 'finished':
      expect(hex(msg.verify_data)).toBe(hex(o.finished[m.step.who]));
      return;
    case 'new_session_ticket':
      expect(msg.ticket_lifetime).toBe(30);
      expect(msg.ticket_age_add).toBe(0xfad6aac5);
      expect(hex(msg.ticket_nonce)).toBe('0000');
      expect(msg.ticket.length).toBe(0xb2);
      expect(msg.extensions.get('early_data', 'new_session_ticket')).toEqual({ max_early_data_size: 0x400 });
      return;
    default:
      throw new Error(`unexpected ${msg.type} in the trace`);
  }
}


const MESSAGE_NAME_BY_CODE: Record<number, string> = { 1: 'ClientHello', 2: 'ServerHello', 4: 'NewSessionTicket', 8: 'EncryptedExtensions', 11: 'Certificate', 15: 'CertificateVerify', 20: 'Finished' };

/** it.each rows whose first column is the test's full title (vitest's $name formatting would quote and truncate it). */
function titled<T>(rows: T[], title: (row: T) => string): [string, T][] {
  return rows.map((row) => [title(row), row]);
}

// ---- the tests ----------------------------------------------------------------------------------

describe.each(TRACES)('$section ($file)', ({ file, section }) => {
  const trace = Trace.load(file);
  const ours = () => oursFor(trace);

  const keySteps = trace.steps.filter((s) => Object.keys(s.items).length > 0 && keyScheduleCheck(s));
  const keyPairSteps = trace.steps.filter((s) => KEY_PAIR_STEP.test(s.action));
  const messageSteps = trace.steps.filter((s) => MESSAGE_STEP.test(s.action));
  const records = recordCases(trace);

  it('every step that carries data is one of the checks below', () => {
    const claimed = new Set<Step>([...keySteps, ...keyPairSteps, ...messageSteps, ...records.map((r) => r.step)]);
    const unclaimed = trace.steps.filter((s) => Object.keys(s.items).length > 0 && !claimed.has(s)).map((s) => `{${s.who}} ${s.action}`);
    expect(unclaimed).toEqual([]);
    expect(claimed.size).toBeGreaterThanOrEqual(30);
  });

  describe('key pairs', () => {
    it.each(titled(keyPairSteps, (s) => `our provider derives the public key of {${s.who}} ${s.action} of ${section}`))('%s', (_, step) => {
      const c = new StepCheck(step);
      const group = RFC_GROUP[KEY_PAIR_STEP.exec(step.action)![1]!]!;
      const pair = nobleProvider.generateKeyPair(group, c.get('private key'));
      expectBytes(pair.publicKey, c.get('public key'), 'public key');
      expectBytes(pair.privateKey, c.get('private key'), 'private key kept');
      expect(c.unchecked).toEqual([]);
    });

    it(`our provider's ECDHE gives the same shared secret on both sides of ${section}`, () => {
      const o = ours();
      expect(o.group).toBe(section.endsWith('3') ? 'x25519' : 'secp256r1');
      expectBytes(o.sharedAtServer, o.sharedAtClient, 'shared secret, server view vs client view');
      expectBytes(o.sharedAtClient, trace.item('server', 'extract secret "handshake"', 'IKM'), 'RFC (EC)DHE input');
    });
  });

  describe('key schedule', () => {
    it.each(titled(keySteps, (s) => `derives ${keyScheduleCheck(s)!.proves} of ${section} ({${s.who}} ${s.action})`))('%s', (_, step) => {
      const c = new StepCheck(step);
      keyScheduleCheck(step)!.run(c, ours());
      expect(c.unchecked).toEqual([]);
    });
  });

  describe('transcript', () => {
    it(`our Transcript hashes match every transcript hash in ${section}`, () => {
      const o = ours();
      const hashes = trace.steps.filter((s) => /^derive secret "tls13 (c|s) (hs|ap) traffic"$|exp master|res master/.test(s.action) && s.items.hash);
      expect(hashes.length).toBeGreaterThanOrEqual(6);
      const at = (s: Step) => (s.action.includes('hs traffic') ? o.th['server:server_hello'] : s.action.includes('res master') ? o.th['client:finished'] : o.th['server:finished']);
      for (const s of hashes) expectBytes(at(s), itemOf(s, 'hash'), s.action);
    });
  });

  describe('handshake messages', () => {
    const named = messageSteps.map((step) => {
      const raw = itemOf(step, MESSAGE_STEP.exec(step.action)![1]!);
      // Named without decoding, so that a message our codec rejects fails its own test only.
      const name = raw[0] === 2 && bytesToHex(raw.subarray(6, 38)) === HRR_RANDOM_HEX ? 'HelloRetryRequest' : MESSAGE_NAME_BY_CODE[raw[0]!];
      return { step, name: `${step.who} ${name ?? `message of type ${raw[0]}`}` };
    });
    // "ClientHello #2" where the trace has two.
    const cases = named.map(({ step, name }, i) => {
      const same = named.filter((x) => x.name === name);
      return { step, name: same.length > 1 ? `${name} #${same.indexOf(named[i]!) + 1}` : name };
    });
    it.each(titled(cases, (c) => `decodes and re-encodes the ${c.name} of ${section} byte for byte`))('%s', (_, { step }) => {
      const c = new StepCheck(step);
      const label = MESSAGE_STEP.exec(step.action)![1]!;
      const raw = c.get(label);
      expect((raw[1]! << 16) | (raw[2]! << 8) | raw[3]!).toBe(raw.length - 4);
      const msg = decodeHandshake(raw[0]!, raw.subarray(4));
      expectBytes(encodeHandshake(msg), raw, `re-encoded ${label}`);
      // The RFC labels the HelloRetryRequest a ServerHello; our decoder must tell them apart.
      if (label === 'ServerHello') expect(msg.type).toBe(bytesToHex(raw.subarray(6, 38)) === HRR_RANDOM_HEX ? 'hello_retry_request' : 'server_hello');
      spotCheck(trace, { step, raw, msg }, ours());
      expect(c.unchecked).toEqual([]);
    });

    if (section.endsWith('5')) {
      it('decodes the first "ServerHello" of section 5 as a hello_retry_request', () => {
        const raw = trace.item('server', 'construct a ServerHello handshake message', 'ServerHello', 0);
        expect(decodeHandshake(raw[0]!, raw.subarray(4)).type).toBe('hello_retry_request');
        const sh = trace.item('server', 'construct a ServerHello handshake message', 'ServerHello', 1);
        expect(decodeHandshake(sh[0]!, sh.subarray(4)).type).toBe('server_hello');
      });
    }
  });

  describe('records', () => {
    const describeRecord = (r: RecordCase) => {
      const kind = RECORD_STEP.exec(r.step.action)![1]!;
      const payload = itemOf(r.step, 'payload');
      const contents =
        kind === 'handshake'
          ? handshakeTypes(payload)
              .map((t) => (t === 2 && bytesToHex(payload.subarray(6, 38)) === HRR_RANDOM_HEX ? 'HelloRetryRequest' : (MESSAGE_NAME_BY_CODE[t] ?? t)))
              .join('+')
          : kind === 'alert'
            ? `alert ${bytesToHex(payload)}`
            : `${payload.length} octets`;
      const keys =
        r.epoch === 'plaintext'
          ? `in the clear, legacy_record_version 0x0${r.version.toString(16)}`
          : `with the ${r.step.who}_${r.epoch}_traffic keys, sequence number ${r.earlier.length}`;
      return `the ${r.step.who}'s ${kind} record [${contents}] of ${section} (${keys})`;
    };
    const cases = records.map((r) => ({ r, name: describeRecord(r) }));

    it.each(titled(cases, (c) => `protects ${c.name} to the RFC's complete record`))('%s', (_, { r }) => {
      const c = new StepCheck(r.step);
      const sealer = protectionFor(ours(), r);
      for (const e of r.earlier) sealer.seal(contentTypeOf(e), itemOf(e, 'payload'));
      expectBytes(sealer.seal(r.contentType, c.get('payload')), c.get('complete record'), 'complete record');
      expect(c.unchecked).toEqual([]);
    });

    it.each(titled(cases, (c) => `opens ${c.name} to the RFC's payload`))('%s', (_, { r }) => {
      const c = new StepCheck(r.step);
      const opener = protectionFor(ours(), r);
      const open = (rec: Uint8Array) => opener.open(rec.subarray(0, 5), rec.subarray(5));
      for (const e of r.earlier) open(itemOf(e, 'complete record'));
      const opened = open(c.get('complete record'));
      expect(opened.type).toBe(r.contentType);
      expectBytes(opened.data, c.get('payload'), 'payload');
      expect(c.unchecked).toEqual([]);
    });

    it(`sees the records of ${section} in the epochs of RFC 8446`, () => {
      const summary = records.map((r) => `${r.step.who}:${r.epoch}:${r.earlier.length}`);
      expect(summary).toEqual(
        section.endsWith('3')
          ? ['client:plaintext:0', 'server:plaintext:0', 'server:handshake:0', 'client:handshake:0', 'server:application:0', 'client:application:0', 'server:application:1', 'client:application:1', 'server:application:2']
          : ['client:plaintext:0', 'server:plaintext:0', 'client:plaintext:1', 'server:plaintext:1', 'server:handshake:0', 'client:handshake:0', 'client:application:0', 'server:application:0'],
      );
    });
  });

  describe('CertificateVerify', () => {
    it(`verifies the server's CertificateVerify of ${section} with the key our X.509 parser reads from the Certificate`, () => {
      const o = ours();
      const certMsg = o.messages.find((m) => m.msg.type === 'certificate')!.msg as MessageOf<'certificate'>;
      const cert = parseCertificate(certMsg.certificate_list[0]!.cert_data);
      const key = cert.publicKey;
      expect(key.kind).toBe('rsa');
      if (key.kind !== 'rsa') return;
      expect(key.n.toString(16).padStart(256, '0')).toBe(trace.serverRsaKey['modulus (public)']);
      expect(key.e).toBe(BigInt('0x' + trace.serverRsaKey['public exponent']));
      const cv = o.messages.find((m) => m.msg.type === 'certificate_verify')!.msg as MessageOf<'certificate_verify'>;
      const content = certificateVerifyContent('server', o.th['server:certificate']!);
      expect(nobleProvider.verify('rsa_pss_rsae_sha256', key, content, cv.signature)).toBe(true);
      // …and it is the transcript that makes it verify: not the client's label, not another point of the handshake.
      expect(nobleProvider.verify('rsa_pss_rsae_sha256', key, certificateVerifyContent('client', o.th['server:certificate']!), cv.signature)).toBe(false);
      expect(nobleProvider.verify('rsa_pss_rsae_sha256', key, certificateVerifyContent('server', o.th['server:encrypted_extensions']!), cv.signature)).toBe(false);
    });
  });
});

// ---- bonus: our client Connection against the server's side of section 3 -------------------

describe('our client Connection on RFC 8448 section 3', () => {
  // Our ClientHello cannot be the RFC's (it sends no renegotiation_info, session_ticket or
  // psk_key_exchange_modes, and orders extensions differently), so the transcripts part after
  // ClientHello and the server's encrypted flight cannot be replayed into it. What can be
  // checked: with the RFC's randomness injected, the client's ClientHello carries the RFC's
  // random and x25519 share, it accepts the RFC's ServerHello, and its handshake traffic
  // secret is the RFC's handshake_secret expanded over its own transcript.
  it("reaches the RFC's handshake_secret from the RFC's ServerHello", () => {
    const trace = Trace.load('simple-1rtt.json');
    const rfcCH = trace.item('client', 'construct a ClientHello handshake message', 'ClientHello');
    const clientKey = trace.step('client', 'create an ephemeral x25519 key pair');
    // Our client draws, in order: its random, then the x25519 private key (no session id
    // without compatibility mode, no GREASE values with grease off).
    const draws = [rfcCH.subarray(6, 38), itemOf(clientKey, 'private key')];
    const client = Connection.client({
      servername: 'server',
      grease: false,
      compatibilityMode: false,
      // RFC 8448 predates the hybrid groups: the classic ones, x25519 first and alone in key_share.
      groups: ['x25519', 'secp256r1', 'secp384r1', 'x448'],
      random: (n) => {
        const next = draws.shift();
        if (!next || next.length !== n) throw new Error(`unexpected random(${n})`);
        return next.slice();
      },
    });
    const keylog: string[] = [];
    client.on('keylog', (line) => keylog.push(line));

    const out = client.takeOutput();
    expect(draws).toEqual([]);
    expect(out[0]).toBe(22);
    const ourCH = out.subarray(5);
    const ch = decodeHandshake(ourCH[0]!, ourCH.subarray(4)) as MessageOf<'client_hello'>;
    expectBytes(ch.random, rfcCH.subarray(6, 38), 'client random');
    const share = ch.extensions.get('key_share', 'client_hello')!.client_shares[0]!;
    expect(share.group).toBe(0x001d);
    expectBytes(share.key_exchange, itemOf(clientKey, 'public key'), 'x25519 key share');

    client.feed(trace.item('server', 'send handshake record', 'complete record', 0));
    expect(client.error).toBeUndefined();
    expect(client.group).toBe('x25519');
    expect(client.cipher?.standardName).toBe('TLS_AES_128_GCM_SHA256');

    const transcript = new Transcript(nobleProvider);
    transcript.setHash(HASH);
    transcript.add(ourCH);
    transcript.add(trace.item('server', 'construct a ServerHello handshake message', 'ServerHello'));
    const rfcHandshakeSecret = trace.item('server', 'extract secret "handshake"', 'secret');
    const random = bytesToHex(rfcCH.subarray(6, 38));
    for (const [label, name] of [
      ['CLIENT_HANDSHAKE_TRAFFIC_SECRET', 'c hs traffic'],
      ['SERVER_HANDSHAKE_TRAFFIC_SECRET', 's hs traffic'],
    ] as const) {
      const expected = deriveSecret(nobleProvider, HASH, rfcHandshakeSecret, name, transcript.hash());
      expect(keylog).toContain(`${label} ${random} ${bytesToHex(expected)}`);
    }
  });
});
