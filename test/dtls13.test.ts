/**
 * DTLS 1.3 (RFC 9147) in memory: TLS 1.3's handshake over datagrams, with the unified
 * record header, record number encryption, epochs and ACKs.
 */
import { describe, expect, it } from 'vitest';
import type { DtlsClientOptions, DtlsServerOptions } from '../src/dtls-connection.js';
import { certifiedKey, rootCa } from './helpers/pki.js';
import { dtlsPair, pair12, V12, type Network } from './helpers/dtls-pair.js';
import type { Connection } from '../src/connection.js';
import { traceConnection } from '../src/node/trace.js';
import { seededFloats } from './helpers/random.js';

const V13 = { maxVersion: 'TLSv1.3' } as const;
/** Classic groups only: tests of flights and cookies that step a handshake without the hybrid's HelloRetryRequest (dtls13-hybrid.test.ts has those). */
const CLASSIC = { groups: ['x25519', 'secp256r1'] } as const satisfies Partial<DtlsServerOptions>;
const text = (s: string) => new TextEncoder().encode(s);
const str = (ds: Uint8Array[]) => ds.map((d) => new TextDecoder().decode(d));

function pair13(client: DtlsClientOptions = {}, server: Partial<DtlsServerOptions> = {}, options: { cookie?: boolean } = {}) {
  return dtlsPair({ ...V13, ...client }, { ...V13, ...server }, options);
}

/** Both ends ESTABLISHED on DTLS 1.3, no error, and data crossing both ways. */
function expectWorking(p: ReturnType<typeof pair13>, net?: Network) {
  expect(p.errors).toEqual({ client: [], server: [] });
  expect(p.client.protocol).toBe('DTLSv1.3');
  expect(p.server.protocol).toBe('DTLSv1.3');
  expect(p.client.state).toBe('ESTABLISHED');
  expect(p.server.state).toBe('ESTABLISHED');
  const before = { client: p.received.client.length, server: p.received.server.length };
  p.client.send(text('ping'));
  p.server.send(text('pong'));
  p.run(net);
  expect(str(p.received.server.slice(before.server))).toEqual(['ping']);
  expect(str(p.received.client.slice(before.client))).toEqual(['pong']);
}

/** The types of the handshake messages `conn` receives from now on. */
function receivedTypes(conn: { on(e: 'message', l: (dir: 'send' | 'recv', m: { type: string }) => void): unknown }): string[] {
  const types: string[] = [];
  conn.on('message', (dir, m) => dir === 'recv' && types.push(m.type));
  return types;
}

/** Data crosses a DTLS 1.2 pair both ways. */
function expectWorking12(p: ReturnType<typeof dtlsPair>) {
  p.client.send(text('ping'));
  p.server.send(text('pong'));
  p.run();
  expect(str(p.received.server)).toEqual(['ping']);
  expect(str(p.received.client)).toEqual(['pong']);
}

describe('DTLS 1.3 handshake', () => {
  it('completes, carries data both ways, and leaves no flight unacknowledged', () => {
    const p = pair13();
    p.run();
    expectWorking(p);
    // The client's last flight and the server's ticket were acknowledged: no timer is left running.
    expect(p.client.nextTimeout()).toBeUndefined();
    expect(p.server.nextTimeout()).toBeUndefined();
  });

  it('writes protected records with the unified header and the DTLS 1.3 version in supported_versions', () => {
    const p = pair13();
    const sent: Uint8Array[] = [];
    p.run({ deliver: (d) => (sent.push(d), [d]) });
    // Epoch 0 records keep the 13-byte header (type 22); every later record starts 001CSLEE (RFC 9147 4).
    expect(sent[0]![0]).toBe(22);
    expect(sent.some((d) => (d[0]! & 0xe0) === 0x20)).toBe(true);
    p.client.send(text('x'));
    const [record] = p.client.takeDatagrams();
    expect(record![0]! & 0xe0).toBe(0x20);
    expect(record![0]! & 0x03).toBe(3); // the first application epoch
  });

  it.each(['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'])('negotiates %s (record number masks of its cipher)', (suite) => {
    const p = pair13({ cipherSuites: [suite] });
    p.run();
    expect(p.client.cipher?.standardName).toBe(suite);
    expect(p.client.cipher?.version).toBe('DTLSv1.3');
    expectWorking(p);
  });

  it.each(['leaf-ecdsa-p256', 'leaf-rsa2048', 'leaf-ed25519'] as const)('authenticates a %s server', (leaf) => {
    const p = pair13({}, { certificates: [certifiedKey(leaf)] });
    p.run();
    expect(p.client.authorized).toBe(true);
    expectWorking(p);
  });

  it('authenticates the client when the server asks (mutual TLS)', () => {
    const p = pair13({ certificate: certifiedKey('client-ecdsa-p256') }, { requestCert: true, rejectUnauthorized: true, ca: rootCa() });
    p.run();
    expect(p.server.peerCertificates.length).toBeGreaterThan(0);
    expect(p.server.authorized).toBe(true);
    expectWorking(p);
  });

  it('retries the ClientHello when the server wants another group (HelloRetryRequest)', () => {
    const p = pair13({ keyShareGroups: ['x25519'] }, { groups: ['secp256r1'] });
    p.run();
    expect(p.client.group).toBe('secp256r1');
    expectWorking(p);
  });

  it('answers a cookie-less ClientHello with a stateless HelloRetryRequest and rebuilds the transcript from its cookie', () => {
    const p = pair13({}, {}, { cookie: true });
    const types: string[] = [];
    p.client.on('message', (dir, m) => types.push(`${dir} ${m.type}`));
    p.run();
    expect(types.slice(0, 4)).toEqual(['send client_hello', 'recv hello_retry_request', 'send client_hello', 'recv server_hello']);
    expect(p.client.helloRetried).toBe(true);
    expectWorking(p);
  });

  it('the stateless HelloRetryRequest asks for the group the server wants, and survives loss', () => {
    const rnd = seededFloats(21);
    const p = pair13({ keyShareGroups: ['x25519'], maxRetransmissions: 12 }, { groups: ['secp384r1'], maxRetransmissions: 12 }, { cookie: true });
    p.run({ deliver: (d) => (rnd() < 0.3 ? [] : [d]) }, 2000);
    expect(p.client.group).toBe('secp384r1');
    expectWorking(p);
  });

  it('the cookie guard answers no larger than the ClientHello, keeps nothing, and takes a cookie only from its address', async () => {
    const { DtlsCookieGuard } = await import('../src/dtls-cookie.js');
    const { nobleProvider } = await import('../src/crypto/noble.js');
    const { DtlsConnection } = await import('../src/dtls-connection.js');
    const guard = new DtlsCookieGuard(nobleProvider, { server: V13 });
    const c = DtlsConnection.client({ ...V13, ...CLASSIC, rejectUnauthorized: false });
    const [hello] = c.takeDatagrams();
    const verdict = guard.check(hello!, '192.0.2.1:1');
    if (verdict.kind !== 'verify') throw new Error('expected a HelloRetryRequest');
    expect(verdict.datagram.length).toBeLessThanOrEqual(hello!.length);
    c.feedDatagram(verdict.datagram);
    const [second] = c.takeDatagrams();
    const accepted = guard.check(second!, '192.0.2.1:1');
    expect(accepted.kind).toBe('accept');
    if (accepted.kind === 'accept') expect(accepted.helloRetry?.helloHash.length).toBe(32);
    expect(guard.check(second!, '192.0.2.2:1').kind).toBe('drop');
    // A cookie changed by one bit does not open (its MAC ends the HelloRetryRequest, the cookie extension being last).
    const mac = Buffer.from(verdict.datagram.slice(-32));
    const at = Buffer.from(second!).indexOf(mac);
    expect(at).toBeGreaterThan(0);
    const forged = second!.slice();
    forged[at]! ^= 1;
    expect(guard.check(forged, '192.0.2.1:1').kind).not.toBe('accept');
  });

  it.each([31, 32, 33])('a ClientHello fragmented by a 300-byte MTU passes the stateless cookie exchange, under loss (seed %i)', (seed) => {
    const rnd = seededFloats(seed);
    const p = pair13({ mtu: 300, maxRetransmissions: 12 }, { mtu: 300, maxRetransmissions: 12 }, { cookie: true });
    let largest = 0;
    p.run({ deliver: (d) => ((largest = Math.max(largest, d.length)), rnd() < 0.2 ? [] : [d]) }, 3000);
    expect(largest).toBeLessThanOrEqual(300);
    expect(p.client.helloRetried).toBe(true);
    expectWorking(p);
  });

  it('a DTLS 1.2 ClientHello fragmented by a 120-byte MTU passes the HelloVerifyRequest exchange too', () => {
    const p = dtlsPair({ ...V12, mtu: 120 }, { mtu: 120 }, { cookie: true });
    let first = 0;
    p.run({ deliver: (d, from) => (from === 'client' && first++ === 0 && expect(d.length).toBe(120), [d]) });
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(p.client.protocol).toBe('DTLSv1.2');
    expectWorking12(p);
  });

  it('the cookie guard keeps a bounded number of fragmented ClientHellos, and none of an attacker who never finishes', async () => {
    const { DtlsCookieGuard } = await import('../src/dtls-cookie.js');
    const { nobleProvider } = await import('../src/crypto/noble.js');
    const { DtlsConnection } = await import('../src/dtls-connection.js');
    const guard = new DtlsCookieGuard(nobleProvider, { server: V13 });
    // 500 addresses each send the first fragment of a ClientHello and nothing more.
    for (let i = 0; i < 500; i++) {
      const c = DtlsConnection.client({ ...V13, rejectUnauthorized: false, mtu: 200 });
      const [first] = c.takeDatagrams();
      expect(guard.check(first!, `10.0.${i >> 8}.${i & 255}:1`).kind).toBe('drop');
    }
    expect((guard as unknown as { fragments: { size: number } }).fragments.size).toBeLessThanOrEqual(64);
    // A real client still gets its HelloRetryRequest once all its fragments are in.
    const c = DtlsConnection.client({ ...V13, rejectUnauthorized: false, mtu: 200 });
    const verdicts = c.takeDatagrams().map((d) => guard.check(d, '192.0.2.9:1').kind);
    expect(verdicts.at(-1)).toBe('verify');
    expect(verdicts.slice(0, -1).every((v) => v === 'drop')).toBe(true);
  });

  it('fragments a certificate flight to a small MTU and reassembles it', () => {
    const p = pair13({ mtu: 300 }, { mtu: 300, certificates: [certifiedKey('leaf-rsa2048')] });
    let largest = 0;
    p.run({ deliver: (d) => ((largest = Math.max(largest, d.length)), [d]) });
    expect(largest).toBeLessThanOrEqual(300);
    expectWorking(p);
  });

  it.each([1, 2, 3, 4, 5, 6])('survives 30 percent loss, reordering, duplication and MTU 500 (seed %i)', (seed) => {
    const rnd = seededFloats(seed);
    const p = pair13({ mtu: 500, maxRetransmissions: 12 }, { mtu: 500, maxRetransmissions: 12, certificates: [certifiedKey('leaf-rsa2048')] });
    const net = {
      deliver: (d: Uint8Array) => (rnd() < 0.3 ? [] : rnd() < 0.1 ? [d, d] : [d]),
      shuffle: (a: Uint8Array[]) => a.map((d) => [rnd(), d] as const).sort((x, y) => x[0] - y[0]).map(([, d]) => d),
    };
    p.run(net, 4000);
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(p.client.state).toBe('ESTABLISHED');
    expect(p.server.state).toBe('ESTABLISHED');
    // Data under loss: sent until it arrives (the application's job on DTLS), at most a few tries.
    for (let i = 0; i < 30 && p.received.server.length === 0; i++) {
      p.client.send(text('through the loss'));
      p.run(net, 4000);
    }
    expect(str(p.received.server)[0]).toBe('through the loss');
  });

  it('resends only the records the peer did not acknowledge', () => {
    const p = pair13({ mtu: 400 }, { mtu: 400, ...CLASSIC, certificates: [certifiedKey('leaf-rsa2048')] });
    // The server's first flight: lose its third datagram only.
    p.client.takeDatagrams().forEach((d) => p.server.feedDatagram(d));
    const flight = p.server.takeDatagrams();
    expect(flight.length).toBeGreaterThan(3);
    flight.forEach((d, i) => i !== 2 && p.client.feedDatagram(d));
    // The client acknowledges what it got, a quarter of the retransmission timeout later (the
    // rest did not come); the server's retransmission is the lost part alone.
    expect(p.client.takeDatagrams()).toEqual([]);
    const ackAt = p.client.nextTimeout()!;
    expect(ackAt - Date.now()).toBeLessThanOrEqual(1000);
    p.client.handleTimeout(ackAt);
    const acks = p.client.takeDatagrams();
    expect(acks.length).toBe(1);
    acks.forEach((d) => p.server.feedDatagram(d));
    p.advance(1000);
    p.server.handleTimeout(Date.now() + 10_000);
    const resent = p.server.takeDatagrams();
    expect(resent.length).toBe(1);
    expect(resent[0]!.length).toBe(flight[2]!.length);
    resent.forEach((d) => p.client.feedDatagram(d));
    p.run();
    expectWorking(p);
  });

  it('an ACK names no more records than one datagram at the MTU holds (the newest)', () => {
    const p = pair13({ mtu: 200 }, { mtu: 200, ...CLASSIC, certificates: [certifiedKey('leaf-rsa2048')] });
    p.client.takeDatagrams().forEach((d) => p.server.feedDatagram(d));
    const flight = p.server.takeDatagrams();
    // All but the last datagram: the client acknowledges what it has, a record number per record.
    flight.slice(0, -1).forEach((d) => p.client.feedDatagram(d));
    expect(flight.length).toBeGreaterThan(12);
    p.client.handleTimeout(p.client.nextTimeout()!);
    const acks = p.client.takeDatagrams();
    expect(acks.length).toBe(1);
    expect(acks[0]!.length).toBeLessThanOrEqual(200);
    p.run();
    expectWorking(p);
  });

  it('answers a resent server flight of several datagrams with one copy of its Finished', () => {
    const p = pair13({ mtu: 400 }, { mtu: 400, ...CLASSIC, certificates: [certifiedKey('leaf-rsa2048')] });
    p.client.takeDatagrams().forEach((d) => p.server.feedDatagram(d));
    p.server.takeDatagrams().forEach((d) => p.client.feedDatagram(d));
    expect(p.client.state).toBe('ESTABLISHED');
    p.client.takeDatagrams(); // the Finished (and an ACK): lost
    p.advance(1000);
    p.server.handleTimeout(p.server.nextTimeout()!);
    const resent = p.server.takeDatagrams();
    expect(resent.length).toBeGreaterThan(3);
    let answers = 0;
    for (const d of resent) {
      p.client.feedDatagram(d);
      answers += p.client.takeDatagrams().filter((a) => (a[0]! & 3) === 2).length;
    }
    expect(answers).toBe(1);
    p.run();
    expectWorking(p);
  });

  it('drops replayed and tampered records without killing the association', () => {
    const p = pair13();
    p.run();
    p.client.send(text('once'));
    const [datagram] = p.client.takeDatagrams();
    p.server.feedDatagram(datagram!);
    p.server.feedDatagram(datagram!); // replay
    const tampered = datagram!.slice();
    tampered[tampered.length - 1]! ^= 1;
    p.server.feedDatagram(tampered);
    const header = datagram!.slice();
    header[0]! ^= 0x02; // another epoch
    p.server.feedDatagram(header);
    p.server.feedDatagram(new Uint8Array([0x2f, 1, 2, 0, 20, ...new Uint8Array(20)])); // a unified header, garbage after
    expect(str(p.received.server)).toEqual(['once']);
    expect(p.server.state).toBe('ESTABLISHED');
    expect(p.server.recordStats.dropped.replay).toBeGreaterThan(0);
    expect(p.server.recordStats.dropped.badMac).toBeGreaterThan(0);
    p.client.send(text('still alive'));
    p.run();
    expect(str(p.received.server)).toEqual(['once', 'still alive']);
  });
});

describe('DTLS 1.3 under hostile input', () => {
  it('ends the association when forged records reach the integrity limit of the read key (RFC 9147 4.5.3)', () => {
    const p = pair13({}, { aeadLimits: { integrity: 5 } } as Partial<DtlsServerOptions>);
    p.run();
    p.client.send(text('genuine'));
    const [record] = p.client.takeDatagrams();
    for (let i = 0; i < 4; i++) {
      const forged = record!.slice();
      forged[forged.length - 1 - i]! ^= 0x40;
      p.server.feedDatagram(forged);
    }
    expect(p.server.state).toBe('ESTABLISHED');
    const forged = record!.slice();
    forged[10]! ^= 1;
    p.server.feedDatagram(forged);
    expect(p.server.state).toBe('DEAD');
    expect(p.server.error?.code).toBe('ERR_TLS_AEAD_LIMIT');
  });

  it('survives seeded mutations of its records and random garbage in both formats', () => {
    const p = pair13();
    p.run();
    p.client.send(text('template'));
    const [record] = p.client.takeDatagrams();
    const rnd = seededFloats(77);
    const int = (n: number) => Math.floor(rnd() * n);
    for (let i = 0; i < 400; i++) {
      const d = record!.slice();
      for (let k = 1 + int(3); k > 0; k--) d[int(d.length)] = int(256);
      p.server.feedDatagram(i % 3 === 0 ? d.subarray(0, int(d.length)) : d);
      const garbage = Uint8Array.from({ length: 1 + int(80) }, () => int(256));
      if (i % 2) garbage[0] = 0x20 | int(32); // a unified header's first byte
      p.server.feedDatagram(garbage);
    }
    expect(p.server.state).toBe('ESTABLISHED');
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(p.received.server.length).toBeLessThanOrEqual(1);
    expectWorking(p);
  });

  it('a plaintext alert after the handshake is dropped: it could come from anyone', () => {
    const p = pair13();
    p.run();
    p.server.feedDatagram(new Uint8Array([21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 50, 0, 2, 2, 40]));
    expect(p.server.state).toBe('ESTABLISHED');
    expectWorking(p);
  });

  it('a malformed ACK under the peer’s keys is decode_error, and the association is dead', () => {
    const p = pair13();
    p.run();
    // A protected record of content type ACK whose body is not a whole number of record numbers.
    const sealed = (p.client as unknown as { records: { seal(type: number, data: Uint8Array): Uint8Array } }).records.seal(26, Uint8Array.of(0, 3, 1, 2, 3));
    p.server.feedDatagram(sealed);
    expect(p.server.state).toBe('DEAD');
    expect(p.server.error?.alert).toBe('decode_error');
  });

  it('gives up an unacknowledged ticket without killing the association', () => {
    const p = pair13({ maxRetransmissions: 2 }, { maxRetransmissions: 2 });
    // Every datagram from the client after the handshake is lost: the server's ticket is never acknowledged.
    p.run({ deliver: (d, from) => (from === 'client' && p.client.state === 'ESTABLISHED' && (d[0]! & 3) === 3 ? [] : [d]) });
    expect(p.server.state).toBe('ESTABLISHED');
    expect(p.server.nextTimeout()).toBeUndefined();
  });
});

describe('DTLS 1.3 trace', () => {
  it('shows record numbers, epochs, ACKs and retransmissions', () => {
    const p = pair13();
    const lines: string[] = [];
    traceConnection(p.client as unknown as Connection, 'client', (l) => lines.push(l));
    // Lose the client's Finished once: it is retransmitted until the server acknowledges it.
    let lost = false;
    const finished = (d: Uint8Array) => p.client.state === 'ESTABLISHED' && (d[0]! & 0xe3) === 0x22;
    p.run({ deliver: (d, from) => (from === 'client' && finished(d) && !lost ? ((lost = true), []) : [d]) });
    expect(lost).toBe(true);
    expect(p.client.state).toBe('ESTABLISHED');
    const first = lines.find((l) => /C.ClientFinished -> Established/.test(l));
    expect(first).toBeDefined();
    const sent = lines.filter((l) => /\] >>> record handshake epoch 2 seq \d+ 44 bytes/.test(l));
    expect(sent.length).toBeGreaterThanOrEqual(2);
    expect(sent[1]).toMatch(/\(retransmission\)$/);
    const resentSeq = /seq (\d+)/.exec(sent.at(-1)!)![1];
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`<<< record ack epoch 3 seq \\d+ \\d+ bytes acknowledging 2/${resentSeq}$`)));
    expect(lines).toContainEqual(expect.stringMatching(/>>> record ack epoch 3 seq \d+ \d+ bytes acknowledging 3\/\d+$/));
    expect(lines).toContainEqual(expect.stringMatching(/<<< record handshake epoch 0 seq 0/));
  });
  it('shows application data and alerts it sends with the epoch and sequence number the peer receives them under', () => {
    const p = pair13();
    p.run();
    const sent: string[] = [];
    const received: string[] = [];
    traceConnection(p.client as unknown as Connection, 'client', (l) => sent.push(l));
    traceConnection(p.server as unknown as Connection, 'server', (l) => received.push(l));
    p.client.send(text('one'));
    p.client.send(text('two'));
    p.client.close();
    p.run();
    const out = sent.filter((l) => / >>> record (application_data|alert) /.test(l));
    expect(out).toHaveLength(3);
    expect(out[0]).toMatch(/>>> record application_data epoch 3 seq \d+ 3 bytes$/);
    expect(out[2]).toMatch(/>>> record alert epoch 3 seq \d+ 2 bytes$/);
    const seqs = out.map((l) => Number(/seq (\d+)/.exec(l)![1]));
    expect(seqs).toEqual([seqs[0], seqs[0]! + 1, seqs[0]! + 2]);
    // The same record numbers, seen from the other side.
    const inbound = received.filter((l) => / <<< record (application_data|alert) /.test(l));
    expect(inbound.map((l) => l.replace(/^\[server\] <<< /, ''))).toEqual(out.map((l) => l.replace(/^\[client\] >>> /, '')));
  });

  it('shows application data after a KeyUpdate in the new epoch, and the DTLS 1.2 records it sends and resends too', () => {
    const p = pair13();
    p.run();
    const lines: string[] = [];
    traceConnection(p.client as unknown as Connection, 'client', (l) => lines.push(l));
    p.client.keyUpdate(false);
    p.run();
    p.client.send(text('after'));
    p.run();
    expect(lines).toContainEqual(expect.stringMatching(/>>> record handshake epoch 3 seq \d+ \d+ bytes$/));
    expect(lines).toContainEqual(expect.stringMatching(/>>> record application_data epoch 4 seq 0 5 bytes$/));

    // DTLS 1.2 (maxVersion 'TLSv1.2'), its first ClientHello lost: the resent one is marked.
    const q = pair12();
    const lines12: string[] = [];
    traceConnection(q.client as unknown as Connection, 'client', (l) => lines12.push(l));
    let lost = false;
    q.run({ deliver: (d, from) => (from === 'client' && !lost ? ((lost = true), []) : [d]) });
    q.client.send(text('twelve'));
    q.run();
    expect(lines12).toContainEqual(expect.stringMatching(/>>> record handshake epoch 0 seq 0 \d+ bytes$/));
    expect(lines12).toContainEqual(expect.stringMatching(/>>> record handshake epoch 0 seq 1 \d+ bytes \(retransmission\)$/));
    expect(lines12).toContainEqual(expect.stringMatching(/>>> record change_cipher_spec epoch 0 seq \d+ 1 bytes$/));
    expect(lines12).toContainEqual(expect.stringMatching(/>>> record application_data epoch 1 seq \d+ 6 bytes$/));
  });
});

describe('DTLS 1.3 after the handshake', () => {
  it('keyUpdate() while an earlier KeyUpdate is unacknowledged is queued, not an error: sent once the ACK comes', () => {
    const p = pair13();
    p.run();
    const sentUpdates: number[] = [];
    p.client.on('message', (dir, m) => dir === 'send' && m.type === 'key_update' && sentUpdates.push(m.request_update));
    p.client.keyUpdate(false);
    expect(() => p.client.keyUpdate(false)).not.toThrow();
    // The second waits for the first's ACK: one KeyUpdate on the wire so far.
    expect(sentUpdates).toEqual([0]);
    p.run();
    expect(sentUpdates).toEqual([0, 0]);
    p.client.send(text('epoch 5'));
    const [record] = p.client.takeDatagrams();
    expect(record![0]! & 3).toBe(1); // epoch 5: both updates took effect
    p.server.feedDatagram(record!);
    expect(str(p.received.server)).toEqual(['epoch 5']);
    expect(p.errors).toEqual({ client: [], server: [] });
  });

  it('keyUpdate() calls while one is unacknowledged make one more update, which asks the peer to update if any of them did', () => {
    const p = pair13();
    p.run();
    const sentUpdates: number[] = [];
    p.client.on('message', (dir, m) => dir === 'send' && m.type === 'key_update' && sentUpdates.push(m.request_update));
    const serverEpochs = new Set<number>();
    p.server.on('record', (dir, r) => dir === 'send' && r.contentType === 23 && serverEpochs.add(r.epoch));
    p.client.keyUpdate(false);
    p.client.keyUpdate(false);
    p.client.keyUpdate(true);
    p.client.keyUpdate(false);
    p.run();
    expect(sentUpdates).toEqual([0, 1]);
    p.client.send(text('c'));
    p.run();
    const [record] = (p.client.send(text('d')), p.client.takeDatagrams());
    expect(record![0]! & 3).toBe(1); // epoch 5, not 6: the queued calls made one update
    p.server.feedDatagram(record!);
    // The server answered update_requested: its data goes out in epoch 4.
    p.server.send(text('s'));
    p.run();
    expect([...serverEpochs]).toEqual([4]);
    expect(str(p.received.server)).toEqual(['c', 'd']);
    expect(str(p.received.client)).toEqual(['s']);
    expect(p.errors).toEqual({ client: [], server: [] });
  });

  it('KeyUpdate: the new keys are used once the update is acknowledged, and the peer answers a request', () => {
    const p = pair13();
    p.run();
    p.client.keyUpdate(true);
    const update = p.client.takeDatagrams();
    // Until the ACK, data still goes out in epoch 3.
    p.client.send(text('old keys'));
    const [old] = p.client.takeDatagrams();
    expect(old![0]! & 3).toBe(3);
    update.forEach((d) => p.server.feedDatagram(d));
    p.server.feedDatagram(old!);
    p.run();
    p.client.send(text('new keys'));
    const [fresh] = p.client.takeDatagrams();
    expect(fresh![0]! & 3).toBe(0); // epoch 4
    p.server.feedDatagram(fresh!);
    expect(str(p.received.server)).toEqual(['old keys', 'new keys']);
    // The server answered update_requested with its own update: its data moved on too.
    p.server.send(text('server new keys'));
    const [back] = p.server.takeDatagrams();
    expect(back![0]! & 3).toBe(0);
    p.client.feedDatagram(back!);
    expect(str(p.received.client)).toEqual(['server new keys']);
    expect(p.errors).toEqual({ client: [], server: [] });
  });

  it('updates the keys by itself before the AEAD confidentiality limit', () => {
    const p = pair13({ aeadLimits: { confidentiality: 40 } } as DtlsClientOptions);
    p.run();
    for (let i = 0; i < 100; i++) {
      p.client.send(text(`n${i}`));
      p.run();
    }
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(p.received.server.length).toBe(100);
    // 100 records under a limit of 40: the keys moved on more than once (epoch 3, then 4, 5, ...).
    const epochs = new Set<number>();
    p.server.on('record', (dir, r) => dir === 'recv' && r.contentType === 23 && epochs.add(r.epoch));
    p.client.send(text('last'));
    p.run();
    expect(Math.min(...epochs)).toBeGreaterThanOrEqual(5);
  });

  it('resumes with a ticket, and close_notify ends the association', () => {
    const sessions: unknown[] = [];
    // One server: its ticket keys are the same for both associations.
    const ticketKeys = new Uint8Array(48).fill(7);
    const first = pair13({}, { ticketKeys });
    first.client.on('session', (s) => sessions.push(s));
    first.run();
    expect(sessions.length).toBeGreaterThan(0);
    first.client.close();
    first.run();
    expect(first.server.state).toBe('CLOSING');
    const second = pair13({ session: sessions[0] as DtlsClientOptions['session'] }, { ticketKeys });
    second.run();
    expect(second.client.sessionReused).toBe(true);
    expectWorking(second);
  });

  it('offers no 0-RTT over datagrams, even with a ticket that came from a server configured for it', () => {
    const sessions: DtlsClientOptions['session'][] = [];
    const ticketKeys = new Uint8Array(48).fill(3);
    const server = { ticketKeys, maxEarlyData: 1000 } as Partial<DtlsServerOptions>;
    const first = pair13({}, server);
    first.client.on('session', (s) => sessions.push(s));
    first.run();
    const second = pair13({ session: sessions[0], earlyData: text('too early') } as DtlsClientOptions, server);
    const offered: string[] = [];
    second.client.on('message', (dir, m) => dir === 'send' && m.type === 'client_hello' && offered.push(...(m.extensions.has('early_data') ? ['early_data'] : [])));
    second.run();
    expect(offered).toEqual([]);
    expect(second.client.sessionReused).toBe(true);
    expectWorking(second);
  });

  it('authenticates with an external PSK', () => {
    const key = new Uint8Array(32).fill(7);
    const p = pair13({ psk: { identity: 'device-1', key } }, { pskCallback: (id) => (new TextDecoder().decode(id) === 'device-1' ? key : undefined) });
    p.run();
    expect(p.client.sessionReused).toBe(true);
    expectWorking(p);
  });
});

describe('DTLS 1.3 connection IDs (RFC 9147 9)', () => {
  it('puts the CID each side asked for in the unified header of every protected record', () => {
    const p = pair13({ connectionId: Uint8Array.of(0xc1, 0xc1) }, { connectionId: Uint8Array.of(0x5e, 0x5e, 0x5e) });
    const seen: Uint8Array[] = [];
    p.run({ deliver: (d, from) => (from === 'client' && seen.push(d), [d]) });
    expect(p.client.connectionIds?.send).toEqual(Uint8Array.of(0x5e, 0x5e, 0x5e));
    expect(p.server.connectionIds?.send).toEqual(Uint8Array.of(0xc1, 0xc1));
    p.client.send(text('with cid'));
    const [record] = p.client.takeDatagrams();
    expect(record![0]! & 0x10).toBe(0x10); // the C bit
    expect([...record!.subarray(1, 4)]).toEqual([0x5e, 0x5e, 0x5e]);
    p.server.feedDatagram(record!);
    expect(str(p.received.server)).toEqual(['with cid']);
    // The same record with another CID is dropped.
    const other = record!.slice();
    other[1] = 0x00;
    p.server.feedDatagram(other);
    expect(str(p.received.server)).toEqual(['with cid']);
    expectWorking(p);
  });

  it('sends no CID when only one side asks', () => {
    const p = pair13({ connectionId: Uint8Array.of(1, 2) }, {});
    p.run();
    expect(p.client.connectionIds).toBeUndefined();
    p.client.send(text('x'));
    const [record] = p.client.takeDatagrams();
    expect(record![0]! & 0x10).toBe(0);
    p.server.feedDatagram(record!);
    expectWorking(p);
  });
});

describe('DTLS-SRTP over DTLS 1.3 (RFC 5764)', () => {
  it('agrees on a profile in EncryptedExtensions and exports the same keys', () => {
    const p = pair13({ srtpProfiles: ['SRTP_AES128_CM_SHA1_80', 'SRTP_AEAD_AES_128_GCM'] }, { srtpProfiles: ['SRTP_AEAD_AES_128_GCM', 'SRTP_AES128_CM_SHA1_80'] });
    p.run();
    expect(p.client.srtpProfile).toBe('SRTP_AEAD_AES_128_GCM');
    expect(p.server.srtpProfile).toBe('SRTP_AEAD_AES_128_GCM');
    const label = 'EXTRACTOR-dtls_srtp';
    expect(p.client.exportKeyingMaterial(56, label)).toEqual(p.server.exportKeyingMaterial(56, label));
    expectWorking(p);
  });
});

describe('DTLS version negotiation', () => {
  it('a DTLS 1.3 client answers a DTLS 1.2 HelloVerifyRequest with the same ClientHello and its cookie', () => {
    const p = dtlsPair(V13, V12, { cookie: true });
    p.run();
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(p.client.protocol).toBe('DTLSv1.2');
    expectWorking12(p);
  });

  it("a DTLS 1.3 server refuses a DTLS 1.3 ClientHello with a legacy_cookie (illegal_parameter, RFC 9147 5.3): a guard that speaks only DTLS 1.2 cannot stand before it", async () => {
    const { DtlsCookieGuard } = await import('../src/dtls-cookie.js');
    const { nobleProvider } = await import('../src/crypto/noble.js');
    const { DtlsConnection } = await import('../src/dtls-connection.js');
    const guard = new DtlsCookieGuard(nobleProvider, { server: V12 });
    const c = DtlsConnection.client({ ...V13, ca: rootCa(), servername: 'localhost' });
    const [hello] = c.takeDatagrams();
    const verdict = guard.check(hello!, 'peer');
    if (verdict.kind !== 'verify') throw new Error('expected a HelloVerifyRequest');
    c.feedDatagram(verdict.datagram);
    const [second] = c.takeDatagrams();
    const accepted = guard.check(second!, 'peer');
    if (accepted.kind !== 'accept') throw new Error('expected the cookie to pass');
    const s = DtlsConnection.server({ ...V13, certificates: [certifiedKey('leaf-ecdsa-p256')] }, accepted);
    s.on('error', () => {});
    s.feedDatagram(second!);
    expect(s.state).toBe('DEAD');
    expect(s.error?.alert).toBe('illegal_parameter');
    expect(s.error?.code).toBe('ERR_TLS_DTLS13_LEGACY_COOKIE');
    // The alert tells the client.
    c.on('error', () => {});
    s.takeDatagrams().forEach((d) => c.feedDatagram(d));
    expect(c.state).toBe('DEAD');
  });

  it('a DTLS 1.3 client offering a DTLS 1.3 ticket passes a DTLS 1.2 cookie exchange under loss (the binder is not in the cookie)', () => {
    const sessions: DtlsClientOptions['session'][] = [];
    const first = pair13();
    first.client.on('session', (s) => sessions.push(s));
    first.run();
    expect(sessions.length).toBeGreaterThan(0);
    const rnd = seededFloats(15);
    const p = dtlsPair({ ...V13, session: sessions[0], maxRetransmissions: 12 }, { ...V12, maxRetransmissions: 12 }, { cookie: true });
    const types: string[] = [];
    p.client.on('message', (_dir, m) => types.push(m.type));
    p.run({ deliver: (d) => (rnd() < 0.25 ? [] : [d]) }, 2000);
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(types).toContain('hello_verify_request');
    expect(p.client.protocol).toBe('DTLSv1.2');
  });

  it('a client offering a DTLS 1.2 session caps its version there, so a DTLS 1.3 server resumes it', () => {
    const sessions: DtlsClientOptions['session'][] = [];
    const ticketKeys = new Uint8Array(48).fill(9);
    const first = dtlsPair(V12, { ...V13, ticketKeys });
    first.client.on('session', (s) => sessions.push(s));
    first.run();
    expect(first.client.protocol).toBe('DTLSv1.2');
    expect(sessions.length).toBeGreaterThan(0);
    const second = pair13({ session: sessions[0] }, { ticketKeys });
    second.run();
    expect(second.errors).toEqual({ client: [], server: [] });
    expect(second.client.protocol).toBe('DTLSv1.2');
    expect(second.client.sessionReused).toBe(true);
  });

  it('a DTLS 1.3 client and a DTLS 1.2 server agree on DTLS 1.2', () => {
    const p = dtlsPair(V13, V12);
    p.run();
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(p.client.protocol).toBe('DTLSv1.2');
    expect(p.server.protocol).toBe('DTLSv1.2');
  });

  it('a DTLS 1.2 client and a DTLS 1.3 server agree on DTLS 1.2', () => {
    const p = dtlsPair(V12, V13);
    p.run();
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(p.client.protocol).toBe('DTLSv1.2');
    expect(p.server.protocol).toBe('DTLSv1.2');
    p.client.send(text('down'));
    p.run();
    expect(str(p.received.server)).toEqual(['down']);
  });

  it('a DTLS 1.3 client refuses a DTLS 1.2 ServerHello that carries the downgrade sentinel', () => {
    // A DTLS 1.3 server held to DTLS 1.2 by an attacker still marks its random (RFC 8446 4.1.3, RFC 9147 5).
    const p = dtlsPair(V13, { ...V13, minVersion: 'TLSv1.2' });
    const [hello] = p.client.takeDatagrams();
    // Strip supported_versions' DTLS 1.3 from the ClientHello the server sees: rewrite 0xfefc to an unknown version.
    const forged = hello!.slice();
    for (let i = 0; i + 1 < forged.length; i++) if (forged[i] === 0xfe && forged[i + 1] === 0xfc) forged[i + 1] = 0x00;
    p.server.feedDatagram(forged);
    p.server.takeDatagrams().forEach((d) => p.client.feedDatagram(d));
    expect(p.client.state).toBe('DEAD');
    expect(p.client.error?.message).toMatch(/downgrade/);
  });
});

describe('DTLS 1.3 by default, DTLS 1.2 with a peer that has only that (no version options)', () => {
  it('a DtlsConnection pair with no version options speaks DTLS 1.3 and carries data both ways', () => {
    const p = dtlsPair();
    p.run();
    expect(p.client.protocol).toBe('DTLSv1.3');
    expect(p.client.cipher?.version).toBe('DTLSv1.3');
    expectWorking(p);
  });

  it('the default cookie guard answers a DTLS 1.3 ClientHello with a HelloRetryRequest cookie', () => {
    const p = dtlsPair({}, {}, { cookie: true });
    const types = receivedTypes(p.client);
    p.run();
    expect(types[0]).toBe('hello_retry_request');
    expect(p.client.helloRetried).toBe(true);
    expectWorking(p);
  });

  it("the default cookie guard answers a DTLS 1.2-only ClientHello (maxVersion 'TLSv1.2') with a HelloVerifyRequest, and the default server speaks DTLS 1.2", () => {
    const p = pair12({}, {}, { cookie: true });
    const types = receivedTypes(p.client);
    p.run();
    expect(types[0]).toBe('hello_verify_request');
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(p.client.protocol).toBe('DTLSv1.2');
    expect(p.server.protocol).toBe('DTLSv1.2');
    expectWorking12(p);
  });

  it('a default server answers a default client that holds a DTLS 1.2 session with DTLS 1.2 (the session caps the offer)', () => {
    const sessions: DtlsClientOptions['session'][] = [];
    const ticketKeys = new Uint8Array(48).fill(4);
    const first = pair12({}, { ticketKeys });
    first.client.on('session', (s) => sessions.push(s));
    first.run();
    expect(sessions.length).toBeGreaterThan(0);
    const second = dtlsPair({ session: sessions[0] }, { ticketKeys });
    second.run();
    expect(second.errors).toEqual({ client: [], server: [] });
    expect(second.client.protocol).toBe('DTLSv1.2');
    expect(second.client.sessionReused).toBe(true);
  });

  it('resumes a DTLS 1.3 ticket through the stateless HelloRetryRequest cookie under 25% loss', () => {
    const sessions: DtlsClientOptions['session'][] = [];
    const ticketKeys = new Uint8Array(48).fill(5);
    const first = dtlsPair({}, { ticketKeys });
    first.client.on('session', (s) => sessions.push(s));
    first.run();
    expect(sessions.length).toBeGreaterThan(0);
    const rnd = seededFloats(41);
    const p = dtlsPair({ session: sessions[0], maxRetransmissions: 12 }, { ticketKeys, maxRetransmissions: 12 }, { cookie: true });
    const types = receivedTypes(p.client);
    p.run({ deliver: (d) => (rnd() < 0.25 ? [] : [d]) }, 3000);
    expect(types).toContain('hello_retry_request');
    expect(types).not.toContain('certificate');
    expect(p.client.sessionReused).toBe(true);
    expectWorking(p);
  });

  it('falls back to a full DTLS 1.3 handshake when the server cannot open the ticket', () => {
    const sessions: DtlsClientOptions['session'][] = [];
    const first = dtlsPair({}, { ticketKeys: new Uint8Array(48).fill(6) });
    first.client.on('session', (s) => sessions.push(s));
    first.run();
    const p = dtlsPair({ session: sessions[0] }, { ticketKeys: new Uint8Array(48).fill(9) });
    const types = receivedTypes(p.client);
    p.run();
    expect(p.client.sessionReused).toBe(false);
    expect(types).toEqual(expect.arrayContaining(['certificate', 'certificate_verify', 'finished']));
    expectWorking(p);
  });

  it('a resumed DTLS 1.3 handshake negotiates connection IDs too', () => {
    const sessions: DtlsClientOptions['session'][] = [];
    const server = { connectionId: Uint8Array.of(0x51, 0x51), ticketKeys: new Uint8Array(48).fill(3) };
    const first = dtlsPair({ connectionId: new Uint8Array(0) }, server);
    first.client.on('session', (s) => sessions.push(s));
    first.run();
    const p = dtlsPair({ connectionId: new Uint8Array(0), session: sessions[0] }, server);
    p.run();
    expect(p.client.sessionReused).toBe(true);
    expect(p.client.connectionIds).toEqual({ send: Uint8Array.of(0x51, 0x51), receive: new Uint8Array(0) });
    p.client.send(text('cid'));
    const [record] = p.client.takeDatagrams();
    expect(record![0]! & 0x10).toBe(0x10); // the C bit of the unified header
    expect([...record!.subarray(1, 3)]).toEqual([0x51, 0x51]);
    p.server.feedDatagram(record!);
    expect(str(p.received.server)).toEqual(['cid']);
    expectWorking(p);
  });
});

describe('DTLS 1.2 pre-shared keys under the DTLS 1.3 default', () => {
  const key = new Uint8Array(32).fill(0x42);
  const pskCallback = (id: Uint8Array) => (new TextDecoder().decode(id) === 'device-7' ? key : undefined);
  const pskOnly12 = { maxVersion: 'TLSv1.2', cipherSuites: ['TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256', 'TLS_PSK_WITH_AES_128_GCM_SHA256'], pskCallback } as const;

  it("a client with only an external PSK (no version options) reaches a DTLS 1.2-only PSK server (maxVersion 'TLSv1.2'): DTLS 1.2 with a PSK suite", () => {
    const p = dtlsPair({ psk: { identity: 'device-7', key } }, { ...pskOnly12, cipherSuites: [...pskOnly12.cipherSuites] });
    p.run();
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(p.client.protocol).toBe('DTLSv1.2');
    expect(p.client.cipher?.standardName).toBe('TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256');
    expectWorking12(p);
  });

  it("a DTLS 1.2-only PSK client (maxVersion 'TLSv1.2') reaches a default server with a pskCallback", () => {
    const p = dtlsPair({ maxVersion: 'TLSv1.2', cipherSuites: ['TLS_PSK_WITH_AES_128_GCM_SHA256'], psk: { identity: 'device-7', key } }, { pskCallback });
    p.run();
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(p.client.protocol).toBe('DTLSv1.2');
    expect(p.server.cipher?.standardName).toBe('TLS_PSK_WITH_AES_128_GCM_SHA256');
    expectWorking12(p);
  });

  it('the same PSK with no version options on both sides is a DTLS 1.3 external PSK', () => {
    const p = dtlsPair({ psk: { identity: 'device-7', key } }, { pskCallback });
    p.run();
    expect(p.client.sessionReused).toBe(true);
    expectWorking(p);
  });

  it('a wrong PSK never establishes the DTLS 1.2 fallback: its Finished is dropped as a forged record and the client times out', () => {
    const p = dtlsPair({ psk: { identity: 'device-7', key: new Uint8Array(32).fill(1) } }, { ...pskOnly12, cipherSuites: [...pskOnly12.cipherSuites] });
    p.run();
    expect(p.client.state).toBe('DEAD');
    expect(p.errors.client.map((e) => e.code)).toEqual(['ERR_TLS_HANDSHAKE_TIMEOUT']);
    // DTLS drops records that do not authenticate (RFC 6347 4.1.2.7): the server never finishes, and its caller's handshake timeout ends it.
    expect(p.server.state).not.toBe('ESTABLISHED');
    expect(p.server.recordStats.dropped.badMac).toBeGreaterThan(0);
  });
});
