/**
 * A hostile DTLS 1.3 peer at the record layer (RFC 9147), against an established in-memory
 * association: what does not authenticate, repeats, or belongs to an epoch not reached is
 * dropped silently and counted (RFC 9147 4.5.2); ACKs naming records never sent change
 * nothing; a malformed ACK that authenticated is the peer's bug (decode_error, DEAD). The
 * association keeps working after every drop. Records the peer "sends" are sealed with its
 * own keys, so they reach the checks beyond authentication.
 */
import { describe, expect, it } from 'vitest';
import type { DtlsConnection } from '../../src/dtls-connection.js';
import { ACK_CONTENT_TYPE, encodeAck } from '../../src/record/dtls13-ack.js';
import { encodeUnifiedHeader } from '../../src/record/dtls13-header.js';
import { concat } from '../../src/util/bytes.js';
import { dtlsPair } from '../helpers/dtls-pair.js';
import { established, stillWorks } from '../helpers/dtls13-established.js';

const V13 = { maxVersion: 'TLSv1.3' } as const;
const text = (s: string) => new TextEncoder().encode(s);
const str = (ds: Uint8Array[]) => ds.map((d) => new TextDecoder().decode(d));

/** A record of `type` sealed with `conn`'s current write keys: what its peer would accept as genuine. */
function sealedBy(conn: DtlsConnection, type: number, data: Uint8Array): Uint8Array {
  return (conn as unknown as { records: { seal(type: number, data: Uint8Array): Uint8Array } }).records.seal(type, data);
}

describe('DTLS 1.3 records a hostile peer sends', () => {
  it('a tampered record is dropped silently (bad MAC), the association goes on', () => {
    const p = established();
    p.client.send(text('genuine'));
    const [datagram] = p.client.takeDatagrams();
    const tampered = Uint8Array.from(datagram!);
    tampered[tampered.length - 1]! ^= 0x01;
    const bad = p.server.recordStats.dropped.badMac;
    p.server.feedDatagram(tampered);
    expect(p.server.recordStats.dropped.badMac).toBe(bad + 1);
    expect(p.received.server).toEqual([]);
    expect(p.server.state).toBe('ESTABLISHED');
    p.server.feedDatagram(datagram!);
    expect(str(p.received.server)).toEqual(['genuine']);
    stillWorks(p);
  });

  it('a replayed record is delivered once; the copies are dropped as replays', () => {
    const p = established();
    p.client.send(text('once'));
    const [datagram] = p.client.takeDatagrams();
    for (let i = 0; i < 5; i++) p.server.feedDatagram(datagram!);
    expect(str(p.received.server)).toEqual(['once']);
    expect(p.server.recordStats.dropped.replay).toBe(4);
    stillWorks(p);
  });

  it('records of an epoch not reached are kept within a bound, never opened, then dropped and counted', () => {
    const p = established();
    // Epoch 3 carries the application data now; epoch 4's keys do not exist (no KeyUpdate happened).
    const body = new Uint8Array(40).fill(0x41);
    const future = concat(encodeUnifiedHeader({ epoch: 4, seq: 1 }, body.length), body);
    for (let i = 0; i < 1000; i++) p.server.feedDatagram(future);
    // What did not fit the small waiting room was dropped, and the room stays small.
    expect(p.server.recordStats.dropped.unknownEpoch).toBeGreaterThan(900);
    const waiting = (p.server as unknown as { records: { pending: unknown[] } }).records.pending;
    expect(waiting.length).toBeLessThanOrEqual(64);
    expect(p.received.server).toEqual([]);
    stillWorks(p);
  });

  it('a record with a CID, at an endpoint that gave out none, is dropped (it cannot be parsed)', () => {
    const p = established();
    const body = new Uint8Array(40).fill(0x42);
    const withCid = concat(encodeUnifiedHeader({ epoch: 3, seq: 9, cid: Uint8Array.from([1, 2, 3, 4]) }, body.length), body);
    const malformed = p.server.recordStats.dropped.malformed;
    p.server.feedDatagram(withCid);
    expect(p.server.recordStats.dropped.malformed).toBe(malformed + 1);
    stillWorks(p);
  });

  it('a record with a CID other than ours, at an endpoint that gave one out, is dropped; ours still works', () => {
    const p = dtlsPair({ ...V13, connectionId: new Uint8Array(0) }, { ...V13, connectionId: Uint8Array.from([7, 7, 7, 7]) });
    p.run();
    expect(p.client.connectionIds?.send).toEqual(Uint8Array.from([7, 7, 7, 7]));
    const body = new Uint8Array(40).fill(0x43);
    const dropped = () => p.server.recordStats.dropped;
    const before = dropped().badMac + dropped().malformed;
    // Same length as ours, other bytes: found by no association, and here not authentic either.
    p.server.feedDatagram(concat(encodeUnifiedHeader({ epoch: 3, seq: 9, cid: Uint8Array.from([9, 9, 9, 9]) }, body.length), body));
    expect(dropped().badMac + dropped().malformed).toBe(before + 1);
    expect(p.server.state).toBe('ESTABLISHED');
    stillWorks(p);
  });

  it('an ACK naming records never sent changes nothing: a KeyUpdate still waits for its own ACK', () => {
    const p = established();
    p.server.keyUpdate(false);
    const keyUpdate = p.server.takeDatagrams(); // lost on the way
    expect(keyUpdate.length).toBeGreaterThan(0);
    const waiting = p.server.nextTimeout();
    expect(waiting).toBeDefined();
    p.server.feedDatagram(
      sealedBy(
        p.client,
        ACK_CONTENT_TYPE,
        encodeAck([
          { epoch: 3, seq: 1_000_000 },
          { epoch: 9, seq: 0 },
          { epoch: 2, seq: 77 },
        ]),
      ),
    );
    expect(p.errors.server).toEqual([]);
    expect(p.server.state).toBe('ESTABLISHED');
    // The KeyUpdate is still unacknowledged: its retransmission stays armed, and it goes out again.
    expect(p.server.nextTimeout()).toBe(waiting);
    p.advance(60_000);
    p.server.handleTimeout(waiting! + 1);
    expect(p.server.takeDatagrams().length).toBeGreaterThan(0);
    stillWorks(p);
  });

  it('a malformed ACK that authenticated is decode_error: the association is DEAD, with a stable code', () => {
    const p = established();
    p.server.feedDatagram(sealedBy(p.client, ACK_CONTENT_TYPE, Uint8Array.from([0, 5, 1, 2, 3, 4, 5])));
    expect(p.server.state).toBe('DEAD');
    expect(p.errors.server).toHaveLength(1);
    expect(p.errors.server[0]!.alert).toBe('decode_error');
    expect(p.errors.server[0]!.code).toBe('ERR_TLS_BAD_ACK');
  });

  it('an ACK with more record numbers than any flight holds is refused, not walked', () => {
    const p = established();
    const many = Array.from({ length: 1000 }, (_, i) => ({ epoch: 3, seq: i }));
    p.server.feedDatagram(sealedBy(p.client, ACK_CONTENT_TYPE, encodeAck(many)));
    expect(p.server.state).toBe('DEAD');
    expect(p.errors.server[0]!.alert).toBe('decode_error');
  });
});

describe('DTLS 1.3 records waiting for keys', () => {
  const pendingOf = (conn: DtlsConnection) => (conn as unknown as { records: { pending: unknown[] } }).records.pending;
  const body = new Uint8Array(40).fill(0x44);

  it('only a record that may be of the next epoch waits: junk of other epochs cannot fill the room the next epoch needs', () => {
    const p = established();
    // Read epoch 3: only epoch 4 (low bits 0) can be keyed next. Bits 1 and 2 stand for epochs 1/5 and 2/6: never next.
    for (let i = 0; i < 40; i++) p.server.feedDatagram(concat(encodeUnifiedHeader({ epoch: 5, seq: i }, body.length), body));
    for (let i = 0; i < 40; i++) p.server.feedDatagram(concat(encodeUnifiedHeader({ epoch: 6, seq: i }, body.length), body));
    expect(pendingOf(p.server)).toHaveLength(0);
    // A record that may be epoch 4's still waits for its keys.
    p.server.feedDatagram(concat(encodeUnifiedHeader({ epoch: 4, seq: 1 }, body.length), body));
    expect(pendingOf(p.server)).toHaveLength(1);
    stillWorks(p);
  });

  it('before any DTLS 1.3 keys, only records that may be of epoch 1 (0-RTT) or 2 (the handshake) wait, and those of epoch 1 go once the handshake epoch is keyed', () => {
    const p = dtlsPair(V13, V13);
    p.client.takeDatagrams(); // the ClientHello; the client has no DTLS 1.3 keys yet
    for (let i = 0; i < 40; i++) p.client.feedDatagram(concat(encodeUnifiedHeader({ epoch: 3, seq: i }, body.length), body));
    for (let i = 0; i < 40; i++) p.client.feedDatagram(concat(encodeUnifiedHeader({ epoch: 4, seq: i }, body.length), body));
    expect(pendingOf(p.client)).toHaveLength(0);
    p.client.feedDatagram(concat(encodeUnifiedHeader({ epoch: 2, seq: 1 }, body.length), body));
    p.client.feedDatagram(concat(encodeUnifiedHeader({ epoch: 1, seq: 1 }, body.length), body));
    expect(pendingOf(p.client)).toHaveLength(2);
    p.run();
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(pendingOf(p.client)).toHaveLength(0);
  });
});
