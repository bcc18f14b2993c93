/**
 * AEAD usage limits (RFC 8446 5.5, RFC 9147 4.5.3), with the limits lowered so that a test
 * reaches them: TLS 1.3 moves to a new key with KeyUpdate before the confidentiality limit
 * and data keeps flowing; DTLS ends the association at the integrity limit.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { killAllPeers, startOpensslServer } from '../helpers/peers.js';
import { connectTo, destroyAllDrivers, echoReversed } from '../helpers/socket-driver.js';
import { aeadLimits } from '../../src/record/aead-limits.js';
import { ContentType } from '../../src/messages/constants.js';
import { concat, utf8 } from '../../src/util/bytes.js';
import { pair12 } from '../helpers/dtls-pair.js';
import { defaultClientOptions, makePair } from '../helpers/pair.js';
import { encodeDtlsRecord } from '../../src/record/dtls-record-layer.js';

describe('TLS 1.3 confidentiality limit', () => {
  it('a KeyUpdate goes out before the write key protects more records than the limit, and every byte still arrives in order', () => {
    const p = makePair({ aeadLimits: { confidentiality: 4 } });
    p.pump();
    const keyUpdates: number[] = [];
    p.client.on('message', (dir, msg) => dir === 'send' && msg.type === 'key_update' && keyUpdates.push(msg.request_update));
    const sealedPerKey: number[] = [];
    const records = (p.client as any).records;
    p.client.on('message', (dir, msg) => dir === 'send' && msg.type === 'key_update' && sealedPerKey.push(records.sealedRecords));
    const sent: string[] = [];
    for (let i = 0; i < 20; i++) {
      sent.push(`message ${i};`);
      p.client.write(utf8.encode(sent[i]!));
      p.pump();
    }
    // One big write that needs many records is split across keys too.
    const big = new Uint8Array(5 * 2 ** 14).fill(0x62);
    p.client.write(big);
    p.pump();
    expect(p.client.error).toBeUndefined();
    expect(p.server.error).toBeUndefined();
    // 20 one-record writes and 5 full records, 3 records per key (one kept for the KeyUpdate itself).
    expect(keyUpdates.length).toBeGreaterThanOrEqual(8);
    expect(keyUpdates.every((r) => r === 0)).toBe(true);
    // Each KeyUpdate left under the old key with the limit not exceeded.
    expect(Math.max(...sealedPerKey)).toBeLessThanOrEqual(4);
    const received = concat(...p.serverData);
    expect(utf8.decode(received.subarray(0, received.length - big.length))).toBe(sent.join(''));
    expect(received.subarray(received.length - big.length)).toEqual(big);
    // And the other direction still works with its own key.
    p.server.write(utf8.encode('still here'));
    p.pump();
    expect(utf8.decode(concat(...p.clientData))).toBe('still here');
  });

  it('the limits are the RFC figures per AEAD, and options only lower them', () => {
    expect(aeadLimits('AES-128-GCM').confidentiality).toBe(Math.floor(2 ** 24.5));
    expect(aeadLimits('AES-128-CCM-8').integrity).toBe(2 ** 7);
    expect(aeadLimits('AES-256-GCM', { confidentiality: 2 ** 40 }).confidentiality).toBe(Math.floor(2 ** 24.5));
    expect(aeadLimits('CHACHA20-POLY1305', { integrity: 10 }).integrity).toBe(10);
  });

  it('TLS 1.2, which has no KeyUpdate, ends the connection at the limit rather than exceed it', () => {
    const p = makePair({ maxVersion: 'TLSv1.2', aeadLimits: { confidentiality: 4 } });
    p.pump();
    for (let i = 0; i < 3; i++) p.client.write(utf8.encode(`m${i}`));
    expect(p.client.error?.code).toBe('ERR_TLS_AEAD_LIMIT');
    expect(p.client.state).toBe('DEAD');
  });
});

describe("DTLS 1.2 AEAD limits (maxVersion 'TLSv1.2'; DTLS 1.3's are in dtls13.test.ts)", () => {
  /** A record of epoch 1 that will not authenticate. */
  const forged = (seq: number) => encodeDtlsRecord(ContentType.application_data, 0xfefd, 1, seq, new Uint8Array(40).fill(seq));

  it('forged records are dropped up to the integrity limit; the one that reaches it ends the association', () => {
    const d = pair12({}, { aeadLimits: { integrity: 5 } });
    d.run();
    expect(d.server.state).toBe('ESTABLISHED');
    for (let seq = 100; seq < 104; seq++) d.server.feedDatagram(forged(seq));
    expect(d.server.state).toBe('ESTABLISHED');
    d.client.send(utf8.encode('after four forgeries'));
    d.run();
    expect(utf8.decode(d.received.server[0]!)).toBe('after four forgeries');
    d.server.feedDatagram(forged(104));
    expect(d.server.state).toBe('DEAD');
    expect(d.server.error?.code).toBe('ERR_TLS_AEAD_LIMIT');
    expect(d.server.error?.alert).toBe('bad_record_mac');
  });

  it('sending ends at the confidentiality limit (DTLS 1.2 has no KeyUpdate)', () => {
    const d = pair12({ aeadLimits: { confidentiality: 4 } });
    d.run();
    // The client's Finished was record 0 of epoch 1.
    d.client.send(utf8.encode('1'));
    d.client.send(utf8.encode('2'));
    expect(() => d.client.send(utf8.encode('3'))).toThrow(/AEAD usage limit/);
    expect(d.client.state).toBe('DEAD');
  });
});

describe('against openssl s_server', () => {
  afterEach(async () => {
    destroyAllDrivers();
    await killAllPeers();
  });

  it('our client keys up on its own at a lowered limit and openssl keeps answering', async () => {
    const { peer, port } = await startOpensslServer({ rev: true });
    const d = await connectTo(peer, port, defaultClientOptions({ aeadLimits: { confidentiality: 3 } }));
    await d.waitHandshake();
    for (let i = 0; i < 6; i++) await echoReversed(d, `line ${i} under limited keys`);
    expect(d.messages.filter((m) => m === 'send key_update').length).toBeGreaterThanOrEqual(2);
    expect(d.error).toBeUndefined();
  });
});
