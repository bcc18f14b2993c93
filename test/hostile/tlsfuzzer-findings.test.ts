/**
 * The RFC-exact refusals tlsfuzzer found missing, each reproduced as the probe that found
 * it and answered with the exact alert (or, where the RFC says to carry on, a handshake
 * that completes and data that flows).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { nobleProvider } from '../../src/crypto/noble.js';
import { trafficKeys } from '../../src/crypto/keyschedule.js';
import { AlertDescription, AlertLevel } from '../../src/errors.js';
import { ContentType, HandshakeType, ProtocolVersion, cipherSuiteByName } from '../../src/messages/constants.js';
import { Extensions } from '../../src/messages/extensions.js';
import { MAX_CLIENT_HELLO, encodeHandshake } from '../../src/messages/handshake.js';
import { Tls13Protection } from '../../src/record/protection.js';
import { TLS_FALLBACK_SCSV } from '../../src/statem/hello-version-checks.js';
import { concat, fromHex, utf8 } from '../../src/util/bytes.js';
import { pair12 } from '../helpers/dtls-pair.js';
import { makePair } from '../helpers/pair.js';
import { clientHelloRecords, plainRecord, plaintextAlerts, plaintextHandshakeTypes, sealAs, takeClientHello } from './probes.js';

afterEach(() => vi.restoreAllMocks());

const fatal = (alert: keyof typeof AlertDescription): [number, number] => [AlertLevel.fatal, AlertDescription[alert]];

function exchange(p: ReturnType<typeof makePair>, label: string): void {
  p.client.write(utf8.encode(`ping ${label}`));
  p.server.write(utf8.encode(`pong ${label}`));
  p.pump();
  expect(utf8.decode(concat(...p.serverData))).toContain(`ping ${label}`);
  expect(utf8.decode(concat(...p.clientData))).toContain(`pong ${label}`);
}

/** Make every ClientHello a client builds carry (or lack) an extension, before it is hashed: the client's own transcript stays right. */
function shapeClientHellos(shape: (ext: Extensions, name: string, value: unknown) => 'keep' | 'drop' | 'add-early-data', once = false): void {
  const add = Extensions.prototype.add;
  let used = false;
  vi.spyOn(Extensions.prototype, 'add').mockImplementation(function (this: Extensions, name: any, value: unknown) {
    if (this.context !== 'client_hello' || (once && used)) return add.call(this, name, value);
    const verdict = shape(this, name, value);
    if (verdict === 'drop') return this;
    add.call(this, name, value);
    if (verdict === 'add-early-data') {
      used = true;
      add.call(this, 'early_data', true);
    }
    return this;
  });
}

describe('ClientHello version signals', () => {
  it('legacy_version below 0x0303 with supported_versions gets protocol_version (RFC 8446 4.1.2, D.5)', () => {
    for (const legacy of [0x0300, 0x0301, 0x0302]) {
      const p = makePair();
      const hello = takeClientHello(p.client);
      p.server.feed(clientHelloRecords(hello, (m) => (m.legacy_version = legacy)));
      expect(p.server.error?.alert).toBe('protocol_version');
      expect(plaintextAlerts(p.server.takeOutput())).toEqual([fatal('protocol_version')]);
      expect(p.server.state).toBe('DEAD');
    }
  });

  it('TLS_FALLBACK_SCSV from a client whose highest version is below ours gets inappropriate_fallback (RFC 7507)', () => {
    const p = makePair({ maxVersion: 'TLSv1.2' });
    const hello = takeClientHello(p.client);
    p.server.feed(clientHelloRecords(hello, (m) => m.cipher_suites.push(TLS_FALLBACK_SCSV)));
    expect(p.server.error?.alert).toBe('inappropriate_fallback');
    expect(plaintextAlerts(p.server.takeOutput())).toEqual([fatal('inappropriate_fallback')]);
  });

  it('TLS_FALLBACK_SCSV is harmless when the client offers our highest version, or we speak no higher', () => {
    for (const [client, server] of [
      [{}, {}],
      [{ maxVersion: 'TLSv1.2' as const }, { maxVersion: 'TLSv1.2' as const }],
    ]) {
      const p = makePair(client, server);
      const hello = takeClientHello(p.client);
      p.server.feed(clientHelloRecords(hello, (m) => m.cipher_suites.push(TLS_FALLBACK_SCSV)));
      expect(p.server.error).toBeUndefined();
      expect(plaintextHandshakeTypes(p.server.takeOutput())[0]).toBe(HandshakeType.server_hello);
    }
  });
});

describe('TLS 1.3 record_overflow on the padded inner plaintext (RFC 8446 5.4)', () => {
  /** A record from the client under its first application key, padded so TLSInnerPlaintext has `inner` bytes. */
  function paddedRecord(p: ReturnType<typeof makePair>, secrets: Map<string, string>, inner: number): Uint8Array {
    const suite = cipherSuiteByName(p.client.cipher!.standardName)!;
    const { key, iv } = trafficKeys(nobleProvider, suite.hash, suite.aead, fromHex(secrets.get('CLIENT_TRAFFIC_SECRET_0')!));
    const data = new Uint8Array(1000).fill(0x61);
    return new Tls13Protection(nobleProvider, suite.aead, key, iv, inner - data.length - 1).seal(ContentType.application_data, data);
  }

  function established() {
    const p = makePair();
    const secrets = new Map<string, string>();
    p.client.on('keylog', (line) => {
      const [label, , secret] = line.split(' ');
      secrets.set(label!, secret!);
    });
    p.pump();
    expect(p.client.state).toBe('ESTABLISHED');
    return { p, secrets };
  }

  it('2^14 + 1 bytes of content, type and padding is accepted', () => {
    const { p, secrets } = established();
    p.server.feed(paddedRecord(p, secrets, 2 ** 14 + 1));
    expect(p.server.error).toBeUndefined();
    expect(p.serverData.reduce((n, d) => n + d.length, 0)).toBe(1000);
  });

  it('2^14 + 2 bytes gets record_overflow, though the content itself is small', () => {
    const { p, secrets } = established();
    p.server.feed(paddedRecord(p, secrets, 2 ** 14 + 2));
    expect(p.server.error?.alert).toBe('record_overflow');
    expect(p.serverData).toEqual([]);
  });
});

describe('early data the server cannot decrypt is skipped (RFC 8446 4.2.10)', () => {
  /** Records shaped like 0-RTT application data under a key the server does not have. */
  const garbage = (sizes: number[]) => concat(...sizes.map((n, i) => plainRecord(ContentType.application_data, new Uint8Array(n).fill(0x30 + i))));

  it('up to max_early_data_size: the handshake completes and data flows', () => {
    shapeClientHellos((_ext, name) => (name === 'psk_key_exchange_modes' ? 'add-early-data' : 'keep'), true);
    const p = makePair();
    p.server.feed(concat(p.client.takeOutput(), garbage([1000, 5000, 8000])));
    expect(p.server.error).toBeUndefined();
    p.pump();
    expect(p.server.state).toBe('ESTABLISHED');
    expect(p.client.state).toBe('ESTABLISHED');
    exchange(p, 'after skipped early data');
  });

  it('after a HelloRetryRequest, as protected records in the clear until the second ClientHello', () => {
    shapeClientHellos((_ext, name) => (name === 'psk_key_exchange_modes' ? 'add-early-data' : 'keep'), true);
    const p = makePair({ groups: ['x25519', 'secp384r1'], keyShareGroups: ['x25519'] }, { groups: ['secp384r1'] });
    p.server.feed(concat(p.client.takeOutput(), garbage([3000, 3000])));
    expect(p.server.error).toBeUndefined();
    p.pump();
    expect(p.server.helloRetried).toBe(true);
    expect(p.server.state).toBe('ESTABLISHED');
    exchange(p, 'after HRR and skipped early data');
  });

  it('more than max_early_data_size is bad_record_mac', () => {
    shapeClientHellos((_ext, name) => (name === 'psk_key_exchange_modes' ? 'add-early-data' : 'keep'), true);
    const p = makePair();
    p.server.feed(concat(p.client.takeOutput(), garbage([10000, 10000])));
    expect(p.server.error?.alert).toBe('bad_record_mac');
  });

  it('without early_data in the ClientHello nothing is skipped', () => {
    const p = makePair();
    p.server.feed(concat(p.client.takeOutput(), garbage([100])));
    expect(p.server.error?.alert).toBe('bad_record_mac');
  });
});

describe('clients with neither renegotiation_info nor the SCSV (RFC 5746 3.6)', () => {
  /** A client that sends neither and does not look for the server's (as wolfSSL's). */
  function legacyClient(): void {
    shapeClientHellos((_ext, name) => (name === 'renegotiation_info' ? 'drop' : 'keep'));
    const get = Extensions.prototype.get;
    vi.spyOn(Extensions.prototype, 'get').mockImplementation(function (this: Extensions, ...args: Parameters<typeof get>) {
      if (args[0] === 'renegotiation_info' && this.context === 'server_hello_tls12') return new Uint8Array(0);
      return get.apply(this, args);
    });
  }

  it('TLS 1.2: the handshake completes, data flows, and our ServerHello carries no unsolicited renegotiation_info', () => {
    legacyClient();
    const p = makePair({ maxVersion: 'TLSv1.2', grease: false });
    const serverHellos: Extensions[] = [];
    p.server.on('message', (dir, msg) => {
      if (dir === 'send' && msg.type === 'server_hello_tls12') serverHellos.push(msg.extensions);
    });
    p.pump();
    expect(p.server.protocol).toBe('TLSv1.2');
    expect(p.server.state).toBe('ESTABLISHED');
    exchange(p, 'legacy TLS 1.2 client');
    expect(serverHellos).toHaveLength(1);
    expect(serverHellos[0]!.types).not.toContain(0xff01);
  });

  it("DTLS 1.2 (maxVersion 'TLSv1.2'): the handshake completes and data flows", () => {
    legacyClient();
    const d = pair12({}, {}, { cookie: true });
    d.run();
    expect(d.errors).toEqual({ client: [], server: [] });
    expect(d.server.protocol).toBe('DTLSv1.2');
    expect(d.server.state).toBe('ESTABLISHED');
    d.client.send(utf8.encode('legacy DTLS client'));
    d.run();
    expect(utf8.decode(d.received.server[0]!)).toBe('legacy DTLS client');
  });

  it('a client that signals it still gets our renegotiation_info', () => {
    const p = makePair({ maxVersion: 'TLSv1.2' });
    const types: number[][] = [];
    p.server.on('message', (dir, msg) => dir === 'send' && msg.type === 'server_hello_tls12' && types.push(msg.extensions.types));
    p.pump();
    expect(p.server.state).toBe('ESTABLISHED');
    expect(types[0]).toContain(0xff01);
  });
});

describe('ClientHello size', () => {
  it('a legal ClientHello over 64 KiB (many suites, large padding) is answered', () => {
    const p = makePair();
    const hello = takeClientHello(p.client);
    const records = clientHelloRecords(hello, (m) => {
      // 30,000 unknown suites (60 KB) and 40 KB of padding-like unknown extension: ~100 KB in all.
      for (let i = 0; i < 30000; i++) m.cipher_suites.push(0x0a00 + (i % 0x5000));
      m.extensions.list.splice(0, 0, { type: 0xfe77, value: new Uint8Array(40000) });
    });
    expect(records.length).toBeGreaterThan(96 * 1024);
    p.server.feed(records);
    expect(p.server.error).toBeUndefined();
    expect(plaintextHandshakeTypes(p.server.takeOutput())[0]).toBe(HandshakeType.server_hello);
  });

  it('a declared length no ClientHello can have is decode_error, before anything is buffered', () => {
    for (const length of [MAX_CLIENT_HELLO + 1, 0xffffff]) {
      const p = makePair();
      p.server.feed(plainRecord(ContentType.handshake, new Uint8Array([HandshakeType.client_hello, length >>> 16, (length >>> 8) & 0xff, length & 0xff, 3, 3])));
      expect(p.server.error?.alert).toBe('decode_error');
      expect(p.server.error?.code).toBe('ERR_TLS_HANDSHAKE_MESSAGE_TOO_LARGE');
      expect(plaintextAlerts(p.server.takeOutput())).toEqual([fatal('decode_error')]);
    }
  });

  it('the largest possible ClientHello length is read, not refused from its header', () => {
    const p = makePair();
    p.server.feed(plainRecord(ContentType.handshake, new Uint8Array([HandshakeType.client_hello, MAX_CLIENT_HELLO >>> 16, (MAX_CLIENT_HELLO >>> 8) & 0xff, MAX_CLIENT_HELLO & 0xff, 3, 3])));
    expect(p.server.error).toBeUndefined();
    expect(p.server.state).toBe('HANDSHAKE');
  });
});

describe('NewSessionTicket', () => {
  it('is sent only to a client that offered psk_key_exchange_modes', () => {
    for (const offer of [true, false]) {
      if (!offer) shapeClientHellos((_ext, name) => (name === 'psk_key_exchange_modes' ? 'drop' : 'keep'));
      const p = makePair();
      const sent: string[] = [];
      p.server.on('message', (dir, msg) => dir === 'send' && sent.push(msg.type));
      p.pump();
      expect(p.server.state).toBe('ESTABLISHED');
      expect(sent.includes('new_session_ticket')).toBe(offer);
      vi.restoreAllMocks();
    }
  });

  it('a client that closes right after its Finished (before reading the ticket) gets close_notify back, no error', () => {
    const p = makePair();
    p.server.feed(p.client.takeOutput());
    p.client.feed(p.server.takeOutput());
    expect(p.client.state).toBe('ESTABLISHED');
    p.client.end();
    // Finished and close_notify in one chunk: the server sends its ticket and then answers the close.
    const sent: string[] = [];
    p.server.on('message', (dir, msg) => dir === 'send' && sent.push(msg.type));
    p.server.on('end', () => p.server.end());
    p.server.feed(p.client.takeOutput());
    expect(sent).toContain('new_session_ticket');
    expect(p.server.error).toBeUndefined();
    expect(p.server.state).toBe('CLOSED');
    p.client.feed(p.server.takeOutput());
    expect(p.client.error).toBeUndefined();
    expect(p.client.state).toBe('CLOSED');
  });
});

describe('refused renegotiation is a warning, and the connection carries on (RFC 5246 7.2.2)', () => {
  it('a TLS 1.2 client asking to renegotiate gets warning no_renegotiation; data still flows both ways', () => {
    const p = makePair({ maxVersion: 'TLSv1.2' });
    p.pump();
    expect(p.server.state).toBe('ESTABLISHED');
    const hello = takeClientHelloOf(p);
    p.server.feed(sealAs(p.client, ContentType.handshake, hello));
    expect(p.server.error).toBeUndefined();
    expect(p.server.state).toBe('ESTABLISHED');
    const receiveAlert = vi.spyOn(p.client as any, 'receiveAlert');
    p.client.feed(p.server.takeOutput());
    expect(receiveAlert).toHaveBeenCalledTimes(1);
    expect(receiveAlert.mock.calls[0]!.slice(0, 2)).toEqual([AlertLevel.warning, AlertDescription.no_renegotiation]);
    expect(p.client.error).toBeUndefined();
    expect(p.client.state).toBe('ESTABLISHED');
    exchange(p, 'after refused renegotiation');
  });
});

/** A TLS 1.2 renegotiation ClientHello (encoded) like the client's first. */
function takeClientHelloOf(_p: ReturnType<typeof makePair>): Uint8Array {
  const other = makePair({ maxVersion: 'TLSv1.2' });
  const hello = takeClientHello(other.client);
  return encodeHandshake({ ...hello, legacy_version: ProtocolVersion.TLS1_2 });
}
