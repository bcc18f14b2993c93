/**
 * Malformed and out-of-order input, table-driven: every row names the side that must detect
 * the problem and the alert it must send. Each ends with that side DEAD and exactly one
 * TLSError with that alert — never an exception out of `feed`, never a hang.
 *
 * Corruptions of encrypted handshake messages are made by a man in the middle that knows
 * the sender's traffic secrets (from the sender's own `keylog` event): it opens each
 * record, rewrites handshake messages, and seals them again at the right sequence numbers.
 * This is exactly what a malicious peer could send, and needs no hook in the engine.
 *
 * Then: delivery one byte at a time, coalesced flights, and records split at every record edge
 * and a seeded sample of the other byte boundaries (TSLS_SPLIT_SAMPLES=all: at every one).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ClientOptions, ServerOptions } from '../src/config.js';
import { Connection } from '../src/connection.js';
import { nextTrafficSecret, trafficKeys } from '../src/crypto/keyschedule.js';
import { nobleProvider } from '../src/crypto/noble.js';
import { TLSError } from '../src/errors.js';
import { ContentType, HRR_RANDOM, HandshakeType, ProtocolVersion, cipherSuiteByName } from '../src/messages/constants.js';
import { decodeHandshake, encodeHandshake, type HandshakeMessage } from '../src/messages/handshake.js';
import { Tls13Protection } from '../src/record/protection.js';
import type { Side } from '../src/statem/states.js';
import { concat, equal, fromHex } from '../src/util/bytes.js';
import { makePair, type Pair } from './helpers/pair.js';
import { rootCa } from './helpers/pki.js';
import { seededBytes } from './helpers/random.js';
import { splitPoints } from './helpers/boundaries.js';
import { splitRecords } from './helpers/records.js';

// ---- records and messages -----------------------------------------------------------------

function plainRecord(type: number, data: Uint8Array): Uint8Array {
  return concat(new Uint8Array([type, 3, 3, data.length >>> 8, data.length & 0xff]), data);
}

/** Whole handshake messages (header included) in a handshake record's payload. */
function splitMessages(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < data.length) {
    const length = (data[at + 1]! << 16) | (data[at + 2]! << 8) | data[at + 3]!;
    out.push(data.subarray(at, at + 4 + length));
    at += 4 + length;
  }
  return out;
}

const header = (type: number, length: number) => new Uint8Array([type, length >>> 16, (length >>> 8) & 0xff, length & 0xff]);
const bodyOf = (msg: Uint8Array) => msg.subarray(4);
/** The message with another body, its length field fixed. */
const withBody = (msg: Uint8Array, body: Uint8Array) => concat(header(msg[0]!, body.length), body);
/** Decode, change, re-encode (TLS 1.3 structures). */
function edit(msg: Uint8Array, change: (m: any) => void): Uint8Array {
  const m = decodeHandshake(msg[0]!, bodyOf(msg)) as any;
  change(m);
  return encodeHandshake(m as HandshakeMessage);
}
const flipLast = (b: Uint8Array) => {
  const c = b.slice();
  c[c.length - 1] ^= 0x01;
  return c;
};

// ---- a man in the middle that knows one side's keys ----------------------------------------

/** Return undefined to keep a message, null to drop it, bytes (or several records' worth) to replace it. */
type Rewrite = (msg: Uint8Array) => Uint8Array | Uint8Array[] | null | undefined;

class Mitm {
  private readonly secrets = new Map<string, Uint8Array>();
  private stage: 'plain' | 'handshake' | 'application' = 'plain';
  private sentCCS = false;
  private secret?: Uint8Array;
  private open?: Tls13Protection;
  private seal?: Tls13Protection;

  constructor(private readonly sender: Connection) {
    sender.on('keylog', (line) => {
      const [label, , secret] = line.split(' ');
      this.secrets.set(label!, fromHex(secret!));
    });
  }

  private use(secret: Uint8Array): void {
    const suite = cipherSuiteByName(this.sender.cipher!.standardName)!;
    const { key, iv } = trafficKeys(nobleProvider, suite.hash, suite.aead, secret);
    this.secret = secret;
    this.open = new Tls13Protection(nobleProvider, suite.aead, key, iv);
    this.seal = new Tls13Protection(nobleProvider, suite.aead, key, iv);
  }

  private label(name: string): Uint8Array {
    const secret = this.secrets.get(`${this.sender.side === 'client' ? 'CLIENT' : 'SERVER'}_${name}`);
    if (!secret) throw new Error(`the ${this.sender.side} logged no ${name}`);
    return secret;
  }

  private static apply(msgs: Uint8Array[], rewrite: Rewrite): Uint8Array[] {
    return msgs.flatMap((m) => {
      const r = rewrite(m);
      return r === undefined ? [m] : r === null ? [] : Array.isArray(r) ? r : [r];
    });
  }

  /** Rewrite a chunk of the sender's output (whole records). */
  rewrite(data: Uint8Array, rewrite: Rewrite): Uint8Array {
    const out: Uint8Array[] = [];
    for (const record of splitRecords(data)) {
      const type = record[0]!;
      // TLS 1.2 records after ChangeCipherSpec are protected but keep their content type: pass them on.
      if (type === ContentType.handshake && this.sender.protocol === 'TLSv1.2' && this.sentCCS) {
        out.push(record);
        continue;
      }
      if (type === ContentType.change_cipher_spec) this.sentCCS = true;
      if (type === ContentType.handshake) {
        for (const piece of Mitm.apply(splitMessages(record.subarray(5)), rewrite)) out.push(plainRecord(ContentType.handshake, piece));
        continue;
      }
      if (type !== ContentType.application_data) {
        out.push(record);
        continue;
      }
      if (this.stage === 'plain') {
        this.use(this.label('HANDSHAKE_TRAFFIC_SECRET'));
        this.stage = 'handshake';
      }
      const inner = this.open!.open(record.subarray(0, 5), record.subarray(5));
      if (inner.type !== ContentType.handshake) {
        out.push(this.seal!.seal(inner.type, inner.data));
        continue;
      }
      const msgs = splitMessages(inner.data);
      for (const piece of Mitm.apply(msgs, rewrite)) out.push(this.seal!.seal(ContentType.handshake, piece));
      // Key changes follow what the sender really sent.
      for (const m of msgs) {
        if (m[0] === HandshakeType.finished && this.stage === 'handshake') {
          this.use(this.label('TRAFFIC_SECRET_0'));
          this.stage = 'application';
        } else if (m[0] === HandshakeType.key_update) {
          const suite = cipherSuiteByName(this.sender.cipher!.standardName)!;
          this.use(nextTrafficSecret(nobleProvider, suite.hash, this.secret!));
        }
      }
    }
    return concat(...out);
  }
}

interface Run {
  p: Pair;
  /** Pump rounds used; the pump gives up at 1000. */
  rounds: number;
}

interface MitmSetup {
  client?: Rewrite;
  server?: Rewrite;
  clientOptions?: ClientOptions;
  serverOptions?: Partial<ServerOptions>;
  /** More to do once the first pump is over (the man in the middle stays in place). */
  then?: (p: Pair) => void;
}

function mitmRun(setup: MitmSetup): Run {
  const p = makePair(setup.clientOptions, setup.serverOptions);
  const mitm = { client: new Mitm(p.client), server: new Mitm(p.server) };
  const transform = (bytes: Uint8Array, from: Side) => {
    const rewrite = setup[from];
    return [rewrite ? mitm[from].rewrite(bytes, rewrite) : bytes];
  };
  let rounds = p.pump(transform);
  if (setup.then) {
    setup.then(p);
    rounds += p.pump(transform);
  }
  return { p, rounds };
}

/** Rewrite only messages of one type. */
const onType =
  (type: number, change: (msg: Uint8Array) => Uint8Array | Uint8Array[] | null) =>
  (msg: Uint8Array) =>
    msg[0] === type ? change(msg) : undefined;

/** Rewrite the first record of one content type in the peer's output, once. */
function onceOnRecord(from: Side, type: number, change: (record: Uint8Array) => Uint8Array) {
  let done = false;
  return (bytes: Uint8Array, who: Side) => {
    if (done || who !== from || bytes.length === 0) return [bytes];
    return [
      concat(
        ...splitRecords(bytes).map((r) => {
          if (done || r[0] !== type) return r;
          done = true;
          return change(r);
        }),
      ),
    ];
  };
}

function established(clientOptions?: ClientOptions, serverOptions?: Partial<ServerOptions>): Run {
  const p = makePair(clientOptions, serverOptions);
  const rounds = p.pump();
  expect(p.client.state).toBe('ESTABLISHED');
  expect(p.server.state).toBe('ESTABLISHED');
  return { p, rounds };
}

/** Extension helpers on a decoded ClientHello. */
const extIndex = (m: any, name: string) => m.extensions.list.findIndex((e: any) => e.name === name);

/** The default client's first key share (X25519MLKEM768) replaced by `change` of it, on its way to the server. */
function firstClientShare(change: (key: Uint8Array) => Uint8Array): Run {
  return mitmRun({
    client: onType(HandshakeType.client_hello, (m) =>
      edit(m, (ch) => {
        const share = ch.extensions.list[extIndex(ch, 'key_share')].value.client_shares[0];
        expect(share.group).toBe(0x11ec);
        share.key_exchange = change(share.key_exchange);
      }),
    ),
  });
}

// ---- the table ------------------------------------------------------------------------------

interface Row {
  name: string;
  /** The side that must detect the problem. */
  detector: Side;
  alert: string;
  /** Defaults to ERR_TLS_<ALERT> (ERR_TLS_ALERT_<ALERT> when remote). */
  code?: string;
  /** The error is the peer's alert. */
  remote?: boolean;
  /**
   * What becomes of the other side: it reads the alert (ERR_TLS_ALERT_<ALERT>) — even a
   * client that fails on ServerHello, which has no keys yet and alerts in the clear: the
   * server reads plaintext alerts during the handshake, as OpenSSL does.
   */
  peer?: 'reads-alert';
  run: () => Run;
}

const manyProtocols = Array.from({ length: 48 }, (_, i) => `protocol-name-number-${String(i).padStart(4, '0')}`);

const ROWS: Row[] = [
  // -- framing --
  {
    name: 'truncated ClientHello body (length field fixed)',
    detector: 'server',
    alert: 'decode_error',
    run: () => mitmRun({ client: onType(HandshakeType.client_hello, (m) => withBody(m, bodyOf(m).subarray(0, 40))) }),
  },
  {
    name: 'handshake length larger than the record carries, then the peer closes',
    detector: 'server',
    alert: 'unexpected_message',
    run: () => {
      const p = makePair();
      const ch = p.client.takeOutput();
      const msg = ch.subarray(5);
      // Announce 100 bytes more than follow.
      const longer = concat(header(msg[0]!, msg.length - 4 + 100), bodyOf(msg));
      p.server.feed(plainRecord(ContentType.handshake, longer));
      // The server waits for the rest: no error, nothing sent.
      expect(p.server.state).toBe('HANDSHAKE');
      expect(p.server.error).toBeUndefined();
      expect(p.server.pendingOutput).toBe(0);
      // The rest never comes: the client closes (close_notify) instead.
      p.client.end();
      const rounds = p.pump();
      return { p, rounds };
    },
  },
  {
    name: 'ClientHello over limits.maxClientHello, refused from its header before the body is sent',
    detector: 'server',
    alert: 'illegal_parameter',
    code: 'ERR_TLS_HANDSHAKE_MESSAGE_TOO_LARGE',
    run: () => {
      const p = makePair({ ALPNProtocols: manyProtocols }, { limits: { maxClientHello: 1024 } });
      const msg = p.client.takeOutput().subarray(5);
      expect(msg.length - 4).toBeGreaterThan(1024);
      // Fragment the ClientHello; send the 4-byte header and 8 body bytes only.
      p.server.feed(plainRecord(ContentType.handshake, msg.subarray(0, 12)));
      expect(p.server.state).toBe('DEAD');
      expect(p.serverErrors).toHaveLength(1);
      const rounds = p.pump();
      return { p, rounds };
    },
  },
  {
    name: 'trailing bytes after a message (ClientHello)',
    detector: 'server',
    alert: 'decode_error',
    run: () => mitmRun({ client: onType(HandshakeType.client_hello, (m) => withBody(m, concat(bodyOf(m), new Uint8Array([0])))) }),
  },
  {
    name: 'a handshake message spanning a key change (ServerHello + the start of the next message)',
    detector: 'client',
    alert: 'unexpected_message',
    run: () => mitmRun({ server: onType(HandshakeType.server_hello, (m) => concat(m, new Uint8Array([HandshakeType.encrypted_extensions, 0, 0]))) }),
  },
  {
    name: 'empty handshake record',
    detector: 'server',
    alert: 'unexpected_message',
    run: () => {
      const p = makePair();
      p.server.feed(plainRecord(ContentType.handshake, new Uint8Array(0)));
      return { p, rounds: p.pump() };
    },
  },
  // -- ClientHello contents --
  {
    name: 'duplicate extension in ClientHello',
    detector: 'server',
    alert: 'illegal_parameter',
    run: () =>
      mitmRun({
        client: onType(HandshakeType.client_hello, (m) =>
          edit(m, (ch) => {
            const groups = ch.extensions.list[extIndex(ch, 'supported_groups')];
            ch.extensions.list.splice(1, 0, { ...groups });
          }),
        ),
      }),
  },
  {
    name: 'ClientHello without TLS 1.3 in supported_versions (server is TLS 1.3 only)',
    detector: 'server',
    alert: 'protocol_version',
    run: () =>
      mitmRun({
        serverOptions: { minVersion: 'TLSv1.3' },
        client: onType(HandshakeType.client_hello, (m) =>
          edit(m, (ch) => {
            ch.extensions.list[extIndex(ch, 'supported_versions')].value = { versions: [ProtocolVersion.TLS1_2] };
          }),
        ),
      }),
  },
  {
    name: 'ClientHello offering compression methods other than [0]',
    detector: 'server',
    alert: 'illegal_parameter',
    run: () => mitmRun({ client: onType(HandshakeType.client_hello, (m) => edit(m, (ch) => (ch.legacy_compression_methods = new Uint8Array([0, 1])))) }),
  },
  {
    name: 'ClientHello with no cipher suite in common',
    detector: 'server',
    alert: 'handshake_failure',
    run: () => mitmRun({ clientOptions: { cipherSuites: ['TLS_AES_256_GCM_SHA384'] }, serverOptions: { cipherSuites: ['TLS_AES_128_GCM_SHA256'] } }),
  },
  {
    name: 'ClientHello key share for a group it does not list',
    detector: 'server',
    alert: 'illegal_parameter',
    run: () =>
      mitmRun({
        client: onType(HandshakeType.client_hello, (m) =>
          edit(m, (ch) => {
            ch.extensions.list[extIndex(ch, 'supported_groups')].value = { named_group_list: [0x0017] };
          }),
        ),
      }),
  },
  // -- ServerHello contents --
  {
    name: 'ServerHello choosing a cipher suite not offered',
    detector: 'client',
    alert: 'illegal_parameter',
    run: () =>
      mitmRun({
        clientOptions: { cipherSuites: ['TLS_AES_128_GCM_SHA256'] },
        server: onType(HandshakeType.server_hello, (m) => edit(m, (sh) => (sh.cipher_suite = 0x1302))),
      }),
  },
  {
    name: 'ServerHello not echoing legacy_session_id',
    detector: 'client',
    alert: 'illegal_parameter',
    run: () => mitmRun({ server: onType(HandshakeType.server_hello, (m) => edit(m, (sh) => (sh.legacy_session_id_echo = flipLast(sh.legacy_session_id_echo)))) }),
  },
  {
    name: 'ServerHello key share for a group the client sent no share for',
    detector: 'client',
    alert: 'illegal_parameter',
    run: () =>
      mitmRun({
        clientOptions: { keyShareGroups: ['x25519'] },
        server: onType(HandshakeType.server_hello, (m) =>
          edit(m, (sh) => {
            const ks = sh.extensions.list.find((e: any) => e.name === 'key_share');
            ks.value = { server_share: { group: 0x0017, key_exchange: ks.value.server_share.key_exchange } };
          }),
        ),
      }),
  },
  {
    name: 'X25519MLKEM768 client share with an ML-KEM coefficient not below q (FIPS 203 modulus check)',
    detector: 'server',
    alert: 'illegal_parameter',
    run: () =>
      firstClientShare((key) => {
        const bad = key.slice();
        bad[0] = 0xff;
        bad[1] |= 0x0f;
        return bad;
      }),
  },
  {
    name: 'X25519MLKEM768 client share one byte short',
    detector: 'server',
    alert: 'illegal_parameter',
    run: () => firstClientShare((key) => key.subarray(1)),
  },
  {
    name: 'SecP256r1MLKEM768 server share whose EC point is not on the curve',
    detector: 'client',
    alert: 'illegal_parameter',
    run: () =>
      mitmRun({
        clientOptions: { groups: ['SecP256r1MLKEM768'] },
        serverOptions: { groups: ['SecP256r1MLKEM768'] },
        server: onType(HandshakeType.server_hello, (m) =>
          edit(m, (sh) => {
            const ks = sh.extensions.list.find((e: any) => e.name === 'key_share');
            const share = ks.value.server_share.key_exchange.slice();
            share[10] ^= 1;
            ks.value = { server_share: { group: 0x11eb, key_exchange: share } };
          }),
        ),
      }),
  },
  {
    name: 'X25519MLKEM768 server share (ciphertext) one byte long',
    detector: 'client',
    alert: 'illegal_parameter',
    run: () =>
      mitmRun({
        server: onType(HandshakeType.server_hello, (m) =>
          edit(m, (sh) => {
            const ks = sh.extensions.list.find((e: any) => e.name === 'key_share');
            ks.value = { server_share: { group: 0x11ec, key_exchange: concat(ks.value.server_share.key_exchange, new Uint8Array(1)) } };
          }),
        ),
      }),
  },
  {
    name: 'ServerHello selecting compression',
    detector: 'client',
    alert: 'illegal_parameter',
    run: () => mitmRun({ server: onType(HandshakeType.server_hello, (m) => edit(m, (sh) => (sh.legacy_compression_method = 1))) }),
  },
  {
    name: 'a second HelloRetryRequest',
    detector: 'client',
    alert: 'unexpected_message',
    run: () => {
      let hrr: Uint8Array | undefined;
      return mitmRun({
        clientOptions: { groups: ['x25519', 'secp256r1'], keyShareGroups: ['x25519'] },
        serverOptions: { groups: ['secp256r1'] },
        server: onType(HandshakeType.server_hello, (m) => {
          if (equal(m.subarray(6, 38), HRR_RANDOM)) {
            hrr = m;
            return m;
          }
          expect(hrr).toBeDefined();
          return hrr!; // the ServerHello replaced by the HelloRetryRequest again
        }),
      });
    },
  },
  // -- encrypted server flight --
  {
    name: 'an extension in the wrong message (key_share in EncryptedExtensions)',
    detector: 'client',
    alert: 'illegal_parameter',
    run: () =>
      mitmRun({
        server: onType(HandshakeType.encrypted_extensions, (m) =>
          edit(m, (ee) => ee.extensions.addRaw(51, new Uint8Array([0x00, 0x1d, 0x00, 0x01, 0x00]))),
        ),
      }),
  },
  {
    name: 'EncryptedExtensions answering an extension the client did not offer (ALPN)',
    detector: 'client',
    alert: 'unsupported_extension',
    run: () =>
      mitmRun({
        server: onType(HandshakeType.encrypted_extensions, (m) =>
          edit(m, (ee) => ee.extensions.add('application_layer_protocol_negotiation', { protocol_name_list: ['h2'] })),
        ),
      }),
  },
  {
    name: 'an empty Certificate from the server',
    detector: 'client',
    alert: 'decode_error',
    run: () => mitmRun({ server: onType(HandshakeType.certificate, (m) => edit(m, (c) => (c.certificate_list = []))) }),
  },
  {
    name: 'a bad CertificateVerify signature',
    detector: 'client',
    alert: 'decrypt_error',
    run: () => mitmRun({ server: onType(HandshakeType.certificate_verify, (m) => edit(m, (cv) => (cv.signature = flipLast(cv.signature)))) }),
  },
  {
    name: 'CertificateVerify with a signature scheme the client did not offer',
    detector: 'client',
    alert: 'illegal_parameter',
    run: () =>
      mitmRun({
        clientOptions: { signatureSchemes: ['ecdsa_secp256r1_sha256'] },
        server: onType(HandshakeType.certificate_verify, (m) => edit(m, (cv) => (cv.algorithm = 0x0503))),
      }),
  },
  {
    name: 'a bad server Finished',
    detector: 'client',
    alert: 'decrypt_error',
    run: () => mitmRun({ server: onType(HandshakeType.finished, (m) => withBody(m, flipLast(bodyOf(m)))) }),
  },
  {
    name: 'a server Finished of the wrong length',
    detector: 'client',
    alert: 'decode_error',
    run: () => mitmRun({ server: onType(HandshakeType.finished, (m) => withBody(m, bodyOf(m).subarray(1))) }),
  },
  {
    name: 'a bad client Finished',
    detector: 'server',
    alert: 'decrypt_error',
    run: () => mitmRun({ client: onType(HandshakeType.finished, (m) => withBody(m, flipLast(bodyOf(m)))) }),
  },
  {
    name: 'server Finished before its Certificate (Certificate and CertificateVerify dropped)',
    detector: 'client',
    alert: 'unexpected_message',
    run: () => mitmRun({ server: (m) => (m[0] === HandshakeType.certificate || m[0] === HandshakeType.certificate_verify ? null : undefined) }),
  },
  // -- TLS 1.2 --
  {
    name: 'TLS 1.2: a downgrade to TLS 1.2 (supported_versions stripped in flight) seen in the ServerHello random',
    detector: 'client',
    alert: 'illegal_parameter',
    run: () =>
      mitmRun({
        client: onType(HandshakeType.client_hello, (m) =>
          edit(m, (ch) => {
            ch.extensions.list.splice(extIndex(ch, 'supported_versions'), 1);
          }),
        ),
      }),
  },
  {
    name: 'TLS 1.2: a bad ServerKeyExchange signature',
    detector: 'client',
    alert: 'decrypt_error',
    run: () => mitmRun({ clientOptions: { maxVersion: 'TLSv1.2' }, server: onType(HandshakeType.server_key_exchange, (m) => withBody(m, flipLast(bodyOf(m)))) }),
  },
  {
    name: 'TLS 1.2: ChangeCipherSpec before ClientKeyExchange (the key exchange dropped)',
    detector: 'server',
    alert: 'unexpected_message',
    run: () => mitmRun({ clientOptions: { maxVersion: 'TLSv1.2' }, client: (m) => (m[0] === HandshakeType.client_key_exchange ? null : undefined) }),
  },
  // -- records --
  {
    name: 'a record with a bad MAC',
    detector: 'client',
    alert: 'bad_record_mac',
    run: () => {
      const p = makePair();
      return { p, rounds: p.pump(onceOnRecord('server', ContentType.application_data, flipLast)) };
    },
  },
  {
    name: 'a record longer than 2^14+256, refused from its header',
    detector: 'client',
    alert: 'record_overflow',
    run: () => {
      const { p } = established();
      p.client.feed(new Uint8Array([ContentType.application_data, 3, 3, (2 ** 14 + 257) >>> 8, (2 ** 14 + 257) & 0xff]));
      return { p, rounds: p.pump() };
    },
  },
  {
    name: 'an unknown record content type',
    detector: 'server',
    alert: 'unexpected_message',
    run: () => {
      const p = makePair();
      p.server.feed(new Uint8Array([99, 3, 3, 0, 1, 0]));
      return { p, rounds: p.pump() };
    },
  },
  {
    name: 'application data before the handshake',
    detector: 'server',
    alert: 'unexpected_message',
    run: () => {
      const p = makePair();
      p.server.feed(plainRecord(ContentType.application_data, new Uint8Array([0x41])));
      return { p, rounds: p.pump() };
    },
  },
  {
    name: 'a change_cipher_spec with a payload other than 0x01',
    detector: 'client',
    alert: 'unexpected_message',
    run: () => {
      const p = makePair();
      return { p, rounds: p.pump(onceOnRecord('server', ContentType.change_cipher_spec, () => plainRecord(ContentType.change_cipher_spec, new Uint8Array([2])))) };
    },
  },
  {
    name: 'an alert record of 3 bytes',
    detector: 'server',
    alert: 'decode_error',
    run: () => {
      const p = makePair();
      p.server.feed(plainRecord(ContentType.alert, new Uint8Array([2, 40, 0])));
      return { p, rounds: p.pump() };
    },
  },
  // -- post-handshake --
  {
    name: 'a KeyUpdate with request_update = 7',
    detector: 'server',
    alert: 'illegal_parameter',
    run: () =>
      mitmRun({
        client: onType(HandshakeType.key_update, (m) => withBody(m, new Uint8Array([7]))),
        then: (p) => p.client.keyUpdate(false),
      }),
  },
  {
    name: 'a ClientHello after the handshake',
    detector: 'server',
    alert: 'unexpected_message',
    run: () =>
      mitmRun({
        // The client's KeyUpdate replaced by a (well-formed) ClientHello.
        client: onType(HandshakeType.key_update, () => encodeHandshake(decodeHandshake(HandshakeType.client_hello, bodyOf(firstClientHello())))),
        then: (p) => p.client.keyUpdate(false),
      }),
  },
  // -- the peer's alerts --
  {
    name: "the peer's handshake_failure alert",
    detector: 'client',
    alert: 'handshake_failure',
    remote: true,
    run: () => {
      const p = makePair();
      p.client.takeOutput();
      p.client.feed(plainRecord(ContentType.alert, new Uint8Array([2, 40])));
      // A remote alert is not answered.
      expect(p.client.pendingOutput).toBe(0);
      return { p, rounds: p.pump() };
    },
  },
  {
    name: "the peer's handshake_failure alert sent as a warning (TLS 1.3 treats it as fatal)",
    detector: 'server',
    alert: 'handshake_failure',
    remote: true,
    run: () => {
      const p = makePair();
      p.server.feed(plainRecord(ContentType.alert, new Uint8Array([1, 40])));
      return { p, rounds: p.pump() };
    },
  },
];

let cachedClientHello: Uint8Array | undefined;
/** A real ClientHello message (header included). */
function firstClientHello(): Uint8Array {
  cachedClientHello ??= makePair().client.takeOutput().subarray(5);
  return cachedClientHello;
}

describe('malformed and out-of-order input', () => {
  it.each(ROWS)('$name: the $detector sends $alert', (row) => {
    const { p, rounds } = row.run();
    expect(rounds, 'the pump settles').toBeLessThan(1000);
    const detector = row.detector === 'client' ? p.client : p.server;
    const peer = row.detector === 'client' ? p.server : p.client;
    const errors = row.detector === 'client' ? p.clientErrors : p.serverErrors;
    const peerErrors = row.detector === 'client' ? p.serverErrors : p.clientErrors;
    expect(detector.state).toBe('DEAD');
    expect(errors, 'exactly one error event').toHaveLength(1);
    const err = errors[0]!;
    expect(err).toBeInstanceOf(TLSError);
    expect(err.alert).toBe(row.alert);
    const upper = row.alert.toUpperCase();
    expect(err.code).toBe(row.code ?? (row.remote ? `ERR_TLS_ALERT_${upper}` : `ERR_TLS_${upper}`));
    expect(err.remote).toBe(row.remote ?? false);
    expect(detector.error).toBe(err);
    if (!row.remote && (row.peer ?? 'reads-alert') === 'reads-alert') {
      // The alert reached the peer, which reports it as the peer's.
      expect(peerErrors.map((e) => e.code)).toEqual([`ERR_TLS_ALERT_${upper}`]);
      expect(peer.state).toBe('DEAD');
    }
    // Dead stays dead: more input changes nothing and throws nothing.
    detector.feed(new Uint8Array([ContentType.handshake, 3, 3, 0, 1, 0]));
    expect(errors).toHaveLength(1);
  });
});

// ---- delivery ----------------------------------------------------------------------------------

const sha256 = (chunks: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const c of chunks) h.update(c);
  return h.digest('hex');
};

function feedBytewise(to: Connection, data: Uint8Array): void {
  for (let i = 0; i < data.length; i++) to.feed(data.subarray(i, i + 1));
}

describe('delivery', () => {
  it('one byte at a time completes the handshake and carries 1 MiB each way intact', () => {
    const p = makePair();
    let rounds = 0;
    for (; rounds < 100; rounds++) {
      const c = p.client.takeOutput();
      const s = p.server.takeOutput();
      if (c.length === 0 && s.length === 0) break;
      feedBytewise(p.server, c);
      feedBytewise(p.client, s);
    }
    expect(rounds).toBeLessThan(100);
    expect(p.client.state).toBe('ESTABLISHED');
    expect(p.server.state).toBe('ESTABLISHED');

    const MiB = 1 << 20;
    const up = seededBytes(1)(MiB);
    const down = seededBytes(2)(MiB);
    p.client.write(up);
    p.server.write(down);
    feedBytewise(p.server, p.client.takeOutput());
    feedBytewise(p.client, p.server.takeOutput());
    expect(p.clientErrors).toEqual([]);
    expect(p.serverErrors).toEqual([]);
    expect(p.serverData.reduce((n, d) => n + d.length, 0)).toBe(MiB);
    expect(p.clientData.reduce((n, d) => n + d.length, 0)).toBe(MiB);
    expect(sha256(p.serverData)).toBe(sha256([up]));
    expect(sha256(p.clientData)).toBe(sha256([down]));
  }, 120_000);

  it('each flight coalesced into one feed per direction (with early application data) works', () => {
    const p = makePair();
    const feeds = { toServer: 0, toClient: 0 };
    p.client.write(new TextEncoder().encode('early from the client'));
    p.server.write(new TextEncoder().encode('early from the server'));
    for (let i = 0; i < 10; i++) {
      const c = p.client.takeOutput();
      const s = p.server.takeOutput();
      if (c.length === 0 && s.length === 0) break;
      if (c.length) {
        feeds.toServer++;
        p.server.feed(c);
      }
      if (s.length) {
        feeds.toClient++;
        p.client.feed(s);
      }
    }
    expect(p.client.state).toBe('ESTABLISHED');
    expect(p.server.state).toBe('ESTABLISHED');
    // To the server: ClientHello; then CCS + Finished + the queued data. To the client: the
    // whole first flight; then what follows the client's Finished (ticket, queued data).
    expect(feeds).toEqual({ toServer: 2, toClient: 2 });
    expect(new TextDecoder().decode(concat(...p.serverData))).toBe('early from the client');
    expect(new TextDecoder().decode(concat(...p.clientData))).toBe('early from the server');
  });

  it('the first server flight split at each record edge ±2 and at a seeded sample of byte boundaries completes each time', () => {
    // Seeded randomness on both sides: every fresh client sends the same ClientHello, so one
    // server flight answers them all, and every client must then send the same bytes.
    // The reference client checks the certificate chain; the split clients skip that
    // path check (it does not depend on how bytes arrive; CertificateVerify and Finished are
    // still verified every time), which halves the run time.
    const ca = rootCa();
    const clientOptions = (checkChain = false): ClientOptions => ({ ca, servername: 'localhost', random: seededBytes(7), ...(checkChain ? {} : { verifyPeer: () => {} }) });
    const server = makePair({}, { random: seededBytes(8) }).server;
    const reference = Connection.client(clientOptions(true));
    const ch = reference.takeOutput();
    server.feed(ch);
    const flight = server.takeOutput();
    reference.feed(flight);
    expect(reference.handshakeComplete).toBe(true);
    const finished = reference.takeOutput();
    server.feed(finished);
    expect(server.state).toBe('ESTABLISHED');

    // Every record edge ±2 and a seeded sample of the other boundaries (TSLS_SPLIT_SAMPLES=all: every one).
    const cuts = splitPoints(flight, 0x5b1d);
    const failures: number[] = [];
    for (const i of cuts) {
      const client = Connection.client(clientOptions());
      expect(equal(client.takeOutput(), ch)).toBe(true);
      client.feed(flight.subarray(0, i));
      client.feed(flight.subarray(i));
      if (!client.handshakeComplete || client.error || !equal(client.takeOutput(), finished)) failures.push(i);
    }
    expect(failures).toEqual([]);
  }, 300_000);
});
