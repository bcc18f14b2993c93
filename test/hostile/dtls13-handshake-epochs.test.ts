/**
 * DTLS 1.3 handshake messages come under the keys of their stage (RFC 9147 4, 6; RFC 8446
 * 5.1): the hellos in DTLSPlaintext (epoch 0), the rest of the handshake under the handshake
 * keys (epoch 2), post-handshake messages under application keys (epoch 3 on). Once an
 * endpoint has left an epoch, that epoch's records may only repeat what it already has
 * (a lost answer makes the peer resend); a new message in it — one anybody on the path can
 * write in the clear — is dropped and changes nothing.
 */
import { describe, expect, it } from 'vitest';
import type { DtlsClientOptions, DtlsConnection, DtlsServerOptions } from '../../src/dtls-connection.js';
import { ContentType, HandshakeType, HRR_RANDOM } from '../../src/messages/constants.js';
import { equal } from '../../src/util/bytes.js';
import { dtlsPair } from '../helpers/dtls-pair.js';
import { established, stillWorks } from '../helpers/dtls13-established.js';

const V13 = { maxVersion: 'TLSv1.3' } as const;

/** One DTLSPlaintext record (epoch 0, the 13-byte header) of one handshake message in one fragment. */
function plaintextHandshake(msgType: number, messageSeq: number, body: Uint8Array, recordSeq = 1000): Uint8Array {
  const fragment = new Uint8Array(12 + body.length);
  fragment[0] = msgType;
  fragment[3] = body.length;
  fragment[4] = messageSeq >>> 8;
  fragment[5] = messageSeq & 0xff;
  fragment[11] = body.length;
  fragment.set(body, 12);
  const record = new Uint8Array(13 + fragment.length);
  // type, version (DTLS 1.2 on the wire), epoch 0, 48-bit sequence_number, length
  record.set([ContentType.handshake, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, recordSeq >>> 8, recordSeq & 0xff, fragment.length >>> 8, fragment.length & 0xff]);
  record.set(fragment, 13);
  return record;
}

/** A handshake record sealed with `conn`'s keys of `epoch`: what its peer would take as genuine. */
function sealedBy(conn: DtlsConnection, epoch: number, msgType: number, messageSeq: number, body: Uint8Array): Uint8Array {
  const fragment = plaintextHandshake(msgType, messageSeq, body).subarray(13);
  return (conn as unknown as { records: { seal(type: number, data: Uint8Array, epoch: number): Uint8Array } }).records.seal(ContentType.handshake, fragment, epoch);
}

const nextSeq = (conn: DtlsConnection) => (conn as unknown as { reassembler: { nextSeq: number } }).reassembler.nextSeq;
const readEpoch = (conn: DtlsConnection) => (conn as unknown as { records: { dtls13ReadEpoch: number } }).records.dtls13ReadEpoch;

describe('DTLS 1.3 handshake messages in an epoch the endpoint has left', () => {
  it('a KeyUpdate in the clear (epoch 0) after the handshake is dropped: no new read keys, no KeyUpdate in answer', () => {
    const p = established();
    const epoch = readEpoch(p.server);
    expect(epoch).toBe(3);
    // update_requested: a server that took it would move its read epoch and send a KeyUpdate of its own.
    p.server.feedDatagram(plaintextHandshake(HandshakeType.key_update, nextSeq(p.server), Uint8Array.of(1)));
    expect(readEpoch(p.server)).toBe(epoch);
    expect(p.server.takeDatagrams()).toEqual([]);
    expect(p.server.state).toBe('ESTABLISHED');
    // The genuine KeyUpdate, with that same message_seq, is still taken as new.
    p.client.keyUpdate(true);
    p.run();
    expect(readEpoch(p.server)).toBe(epoch + 1);
    stillWorks(p);
  });

  it('a NewSessionTicket in the clear (epoch 0) after the handshake is dropped: no session for it', () => {
    const p = established();
    const sessions: unknown[] = [];
    p.client.on('session', (s) => sessions.push(s));
    // ticket_lifetime, ticket_age_add, ticket_nonce<0..255>, ticket<1..2^16-1>, extensions<0..2^16-2>
    const body = Uint8Array.of(0, 0, 0x0e, 0x10, 1, 2, 3, 4, 1, 0, 0, 4, 9, 9, 9, 9, 0, 0);
    p.client.feedDatagram(plaintextHandshake(HandshakeType.new_session_ticket, nextSeq(p.client), body));
    expect(sessions).toEqual([]);
    expect(p.client.state).toBe('ESTABLISHED');
    stillWorks(p);
  });

  it('a new message under the handshake keys (epoch 2) after the handshake is dropped, authentic or not', () => {
    const p = established();
    const epoch = readEpoch(p.server);
    p.server.feedDatagram(sealedBy(p.client, 2, HandshakeType.key_update, nextSeq(p.server), Uint8Array.of(1)));
    expect(readEpoch(p.server)).toBe(epoch);
    expect(p.server.state).toBe('ESTABLISHED');
    stillWorks(p);
  });

  it.each<[string, DtlsClientOptions, Partial<DtlsServerOptions>]>([
    ['', {}, {}],
    [' (after a HelloRetryRequest)', { keyShareGroups: ['x25519'] }, { groups: ['secp256r1'] }],
  ])('during the handshake%s, a message in the clear after the ServerHello is dropped: the genuine one, under handshake keys, completes the handshake', (_, client, server) => {
    const p = dtlsPair({ ...V13, ...client }, { ...V13, ...server });
    let forged = false;
    p.run({
      deliver: (d, from) => {
        // The datagram that starts with the ServerHello (a DTLSPlaintext record; not a HelloRetryRequest, whose random is fixed).
        const isServerHello = from === 'server' && d[0] === ContentType.handshake && d[13] === HandshakeType.server_hello && !equal(d.subarray(27, 59), HRR_RANDOM);
        if (forged || !isServerHello) return [d];
        forged = true;
        // Keep only the ServerHello record (the rest of the flight is lost) and let a forged
        // EncryptedExtensions in the clear follow it, where the client now reads epoch 2.
        const serverHello = d.subarray(0, 13 + ((d[11]! << 8) | d[12]!));
        const nextMessage = ((d[17]! << 8) | d[18]!) + 1;
        return [serverHello, plaintextHandshake(HandshakeType.encrypted_extensions, nextMessage, Uint8Array.of(0xff, 0xff, 0xff))];
      },
    });
    expect(forged).toBe(true);
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(p.client.state).toBe('ESTABLISHED');
    stillWorks(p);
  });

  it('a resent message of an epoch left behind is still a retransmission: the client Finished resent in epoch 2 gets its ACK', () => {
    const p = dtlsPair(V13, V13);
    let clientFinishedSent = 0;
    let serverSpoke = false;
    let ackLost = false;
    const acksAfterLoss: number[] = [];
    p.run({
      deliver: (d, from) => {
        if (from === 'server') {
          // The server's first answer to the client's Finished (its ACK) is lost: the client resends its Finished.
          if (clientFinishedSent > 0 && !ackLost) {
            ackLost = true;
            return [];
          }
          if (ackLost) acksAfterLoss.push(d.length);
          serverSpoke = true;
          return [d];
        }
        if (serverSpoke) clientFinishedSent++;
        return [d];
      },
    });
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(ackLost).toBe(true);
    expect(clientFinishedSent).toBeGreaterThanOrEqual(2);
    // The resent Finished (epoch 2, which the server has left) was acknowledged: the client stopped resending.
    expect(acksAfterLoss.length).toBeGreaterThanOrEqual(1);
    expect(p.client.nextTimeout()).toBeUndefined();
    expect(p.server.state).toBe('ESTABLISHED');
    stillWorks(p);
  });
});

describe('DTLS 1.3 ACKs name only handshake records kept (RFC 9147 7)', () => {
  /** The record numbers of every ACK `conn` sends from now on. */
  function acksSent(conn: DtlsConnection): { epoch: number; seq: number }[][] {
    const acks: { epoch: number; seq: number }[][] = [];
    conn.on('record', (dir, r) => dir === 'send' && r.acknowledges && acks.push(r.acknowledges));
    return acks;
  }

  it('a message within the reassembly window is buffered and its record acknowledged', () => {
    const p = established();
    const acks = acksSent(p.client);
    // One message ahead of the next expected: kept until the one before it comes.
    p.client.feedDatagram(sealedBy(p.server, 3, HandshakeType.key_update, nextSeq(p.client) + 1, Uint8Array.of(0)));
    expect(acks).toHaveLength(1);
    expect(acks[0]).toHaveLength(1);
    expect(acks[0]![0]!.epoch).toBe(3);
  });

  it('a message too far ahead is dropped by the reassembler and its record is not acknowledged (the sender must resend it)', () => {
    const p = established();
    const acks = acksSent(p.client);
    p.client.feedDatagram(sealedBy(p.server, 3, HandshakeType.key_update, nextSeq(p.client) + 100, Uint8Array.of(0)));
    expect(acks).toEqual([]);
    expect(p.client.state).toBe('ESTABLISHED');
    stillWorks(p);
  });
});
