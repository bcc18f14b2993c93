import { describe, expect, it } from 'vitest';
import { dtlsPair, pair12, V12 } from './helpers/dtls-pair.js';
import { certifiedKey } from './helpers/pki.js';
import { seededFloats } from './helpers/random.js';

const text = (s: string) => new TextEncoder().encode(s);
const str = (chunks: Uint8Array[]) => chunks.map((c) => new TextDecoder().decode(c));


describe("DTLS 1.2 in memory (maxVersion 'TLSv1.2')", () => {
  it('completes a handshake and carries datagrams both ways', () => {
    const p = pair12();
    p.run();
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(p.client.state).toBe('ESTABLISHED');
    expect(p.server.state).toBe('ESTABLISHED');
    expect(p.client.protocol).toBe('DTLSv1.2');
    expect(p.client.cipher?.standardName).toBe('TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256');
    p.client.send(text('one'));
    p.client.send(text('two'));
    p.server.send(text('back'));
    p.run();
    expect(str(p.received.server)).toEqual(['one', 'two']);
    expect(str(p.received.client)).toEqual(['back']);
  });

  it.each(['TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'])(
    'negotiates %s',
    (suite) => {
      const p = pair12({ cipherSuites: [suite] }, { certificates: [certifiedKey(suite.includes('RSA') ? 'leaf-rsa2048' : 'leaf-ecdsa-p256')] });
      p.run();
      expect(p.client.cipher?.standardName).toBe(suite);
      expect(p.server.state).toBe('ESTABLISHED');
    },
  );

  it('fragments a certificate flight to a small MTU and reassembles it', () => {
    const p = pair12({ mtu: 300 }, { mtu: 300, certificates: [certifiedKey('leaf-rsa2048')] });
    let largest = 0;
    p.run({ deliver: (d) => ((largest = Math.max(largest, d.length)), [d]) });
    expect(p.client.state).toBe('ESTABLISHED');
    expect(largest).toBeLessThanOrEqual(300);
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('survives 30 percent loss, reordering, duplication and MTU 500 (seed %i)', (seed) => {
    const rnd = seededFloats(seed);
    const p = pair12({ mtu: 500, maxRetransmissions: 12 }, { mtu: 500, maxRetransmissions: 12 });
    const net = {
      deliver: (d: Uint8Array) => (rnd() < 0.3 ? [] : rnd() < 0.1 ? [d, d] : [d]),
      shuffle: (a: Uint8Array[]) => a.map((d) => [rnd(), d] as const).sort((x, y) => x[0] - y[0]).map(([, d]) => d),
    };
    p.run(net, 2000);
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(p.client.state).toBe('ESTABLISHED');
    expect(p.server.state).toBe('ESTABLISHED');
  });

  it('drops replayed and tampered records without killing the association', () => {
    const p = pair12();
    p.run();
    p.client.send(text('once'));
    const [datagram] = p.client.takeDatagrams();
    p.server.feedDatagram(datagram!);
    p.server.feedDatagram(datagram!); // replay
    const tampered = datagram!.slice();
    tampered[tampered.length - 1]! ^= 1;
    p.server.feedDatagram(tampered);
    p.server.feedDatagram(new Uint8Array([23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 3, 1, 2, 3])); // garbage
    expect(str(p.received.server)).toEqual(['once']);
    expect(p.server.state).toBe('ESTABLISHED');
    expect(p.server.recordStats.dropped.replay).toBeGreaterThan(0);
    expect(p.server.recordStats.dropped.badMac).toBeGreaterThan(0);
    p.client.send(text('still alive'));
    p.run();
    expect(str(p.received.server)).toEqual(['once', 'still alive']);
  });

  it('drops records from a future epoch, lying handshake fragments and random garbage without killing the association', () => {
    const p = pair12();
    p.run();
    p.client.send(text('epoch 1'));
    const [datagram] = p.client.takeDatagrams();
    // The same record relabelled with epochs the association has never reached.
    for (const epoch of [2, 7, 0xffff]) {
      const future = datagram!.slice();
      future[3] = epoch >>> 8;
      future[4] = epoch & 0xff;
      p.server.feedDatagram(future);
    }
    // A plaintext handshake record whose fragment claims more bytes than the message and the record hold.
    const lying = new Uint8Array([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 99, 0, 16, 20, 0, 0, 12, 0, 5, 0, 0, 0, 0xff, 0xff, 0xff, 1, 2, 3, 4]);
    p.server.feedDatagram(lying);
    const rnd = seededFloats(99);
    for (let i = 0; i < 200; i++) p.server.feedDatagram(Uint8Array.from({ length: 1 + Math.floor(rnd() * 120) }, () => Math.floor(rnd() * 256)));
    expect(p.server.state).toBe('ESTABLISHED');
    expect(p.received.server).toEqual([]);
    p.server.feedDatagram(datagram!);
    p.client.send(text('still alive'));
    p.run();
    expect(str(p.received.server)).toEqual(['epoch 1', 'still alive']);
    expect(p.errors).toEqual({ client: [], server: [] });
  });

  it("an 'end' listener that answers close_notify with close() gets one 'close' and ends CLOSED", () => {
    const p = pair12();
    p.run();
    let closes = 0;
    p.server.on('close', () => closes++);
    p.server.on('end', () => p.server.close());
    p.client.close();
    p.run();
    expect(p.server.state).toBe('CLOSED');
    expect(p.client.state).toBe('CLOSED');
    expect(closes).toBe(1);
  });

  it("an 'end' listener that destroys the association leaves it DEAD", () => {
    const p = pair12();
    p.run();
    p.server.on('end', () => p.server.destroy());
    p.client.close();
    p.run();
    expect(p.server.state).toBe('DEAD');
  });

  it('gives up on a silent peer with a timeout error', () => {
    const p = pair12({ maxRetransmissions: 3 });
    p.run({ deliver: () => [] });
    expect(p.client.state).toBe('DEAD');
    expect(p.client.error?.code).toBe('ERR_TLS_HANDSHAKE_TIMEOUT');
  });

  it('closes with close_notify both ways', () => {
    const p = pair12();
    p.run();
    p.client.close();
    p.run();
    expect(p.server.state).toBe('CLOSING');
    p.server.close();
    p.run();
    expect(p.client.state).toBe('CLOSED');
    expect(p.server.state).toBe('CLOSED');
  });
});

describe("DTLS 1.2 HelloVerifyRequest cookie exchange (maxVersion 'TLSv1.2')", () => {
  it('a stateless cookie round trip comes before the association, then the handshake completes', () => {
    const p = pair12({}, {}, { cookie: true });
    const clientStates: string[] = [];
    p.client.on('transition', (t) => clientStates.push(t.to));
    p.run();
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(clientStates.slice(0, 3)).toEqual(['C.ClientHello', 'C.HelloVerifyRequest', 'C.ClientHelloCookie']);
    expect(p.server.state).toBe('ESTABLISHED');
    p.client.send(text('after cookie'));
    p.run();
    expect(str(p.received.server)).toEqual(['after cookie']);
  });

  it.each([11, 12, 13, 14])('the cookie exchange survives a lossy, reordering network (seed %i)', (seed) => {
    const rnd = seededFloats(seed);
    const p = pair12({ mtu: 500, maxRetransmissions: 12 }, { mtu: 500, maxRetransmissions: 12 }, { cookie: true });
    p.run({ deliver: (d) => (rnd() < 0.3 ? [] : rnd() < 0.1 ? [d, d] : [d]) }, 2000);
    expect(p.client.state).toBe('ESTABLISHED');
    expect(p.server.state).toBe('ESTABLISHED');
  });

  it('answers no larger than the ClientHello and keeps no state for cookieless floods', async () => {
    const { DtlsCookieGuard } = await import('../src/dtls-cookie.js');
    const { nobleProvider } = await import('../src/crypto/noble.js');
    const { DtlsConnection } = await import('../src/dtls-connection.js');
    const guard = new DtlsCookieGuard(nobleProvider);
    for (let i = 0; i < 200; i++) {
      const c = DtlsConnection.client({ ...V12, rejectUnauthorized: false });
      const [hello] = c.takeDatagrams();
      const verdict = guard.check(hello!, `10.0.0.${i % 250}:${1000 + i}`);
      expect(verdict.kind).toBe('verify');
      if (verdict.kind === 'verify') expect(verdict.datagram.length).toBeLessThanOrEqual(hello!.length);
    }
    // A cookie made for one address does not open the door for another.
    const c = DtlsConnection.client({ ...V12, rejectUnauthorized: false });
    const [hello] = c.takeDatagrams();
    const verdict = guard.check(hello!, '192.0.2.1:1');
    if (verdict.kind !== 'verify') throw new Error('expected a HelloVerifyRequest');
    c.feedDatagram(verdict.datagram);
    const [second] = c.takeDatagrams();
    expect(guard.check(second!, '192.0.2.1:1').kind).toBe('accept');
    expect(guard.check(second!, '192.0.2.2:1').kind).toBe('verify');
    // Garbage is dropped without an answer.
    expect(guard.check(new Uint8Array([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4, 5]), 'x').kind).toBe('drop');
  });
});

describe('DTLS-SRTP (RFC 5764)', () => {
  it('agrees on the server’s preferred profile among the client’s and exports the same keys', () => {
    const p = dtlsPair(
      { srtpProfiles: ['SRTP_AES128_CM_SHA1_32', 'SRTP_AES128_CM_SHA1_80'] },
      { srtpProfiles: ['SRTP_AEAD_AES_128_GCM', 'SRTP_AES128_CM_SHA1_80', 'SRTP_AES128_CM_SHA1_32'] },
    );
    p.run();
    expect(p.client.srtpProfile).toBe('SRTP_AES128_CM_SHA1_80');
    expect(p.server.srtpProfile).toBe('SRTP_AES128_CM_SHA1_80');
    // 2 * (16-byte key + 14-byte salt) for AES128_CM (RFC 5764 4.2).
    expect(p.client.exportKeyingMaterial(60, 'EXTRACTOR-dtls_srtp')).toEqual(p.server.exportKeyingMaterial(60, 'EXTRACTOR-dtls_srtp'));
  });

  it('goes on without SRTP when no profile is shared, and without it when not asked', () => {
    const none = dtlsPair({ srtpProfiles: ['SRTP_AEAD_AES_256_GCM'] }, { srtpProfiles: ['SRTP_AES128_CM_SHA1_80'] });
    none.run();
    expect(none.client.state).toBe('ESTABLISHED');
    expect(none.client.srtpProfile).toBeUndefined();
    const unasked = dtlsPair({}, { srtpProfiles: ['SRTP_AES128_CM_SHA1_80'] });
    unasked.run();
    expect(unasked.server.srtpProfile).toBeUndefined();
  });
});

describe('DTLS robustness against stray records', () => {
  it('an unexpected plaintext ChangeCipherSpec is dropped, not fatal', async () => {
    const { encodeDtlsRecord } = await import('../src/record/dtls-record-layer.js');
    const p = dtlsPair();
    p.client.takeDatagrams(); // the ClientHello goes nowhere yet
    p.client.feedDatagram(encodeDtlsRecord(20, 0xfefd, 0, 7, new Uint8Array([1])));
    expect(p.client.state).toBe('HANDSHAKE');
    p.run();
    expect(p.client.state).toBe('ESTABLISHED');
  });
});
