/**
 * DTLS 1.2 connection IDs in the engine (RFC 9146): the tls12_cid record format and its
 * additional data, checked against node:crypto's AES-GCM and ChaCha20-Poly1305 on records we
 * build by hand from the RFC's layout (an independent route to the same bytes); the record
 * layer's rules (wrong CID, missing CID, empty inner plaintext, truncated headers are dropped);
 * and whole handshakes with CIDs in memory, also under loss.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { nobleProvider } from '../src/crypto/noble.js';
import { TLSError } from '../src/errors.js';
import { DtlsAeadProtection, DtlsRecordLayer, parseDatagram, parseDatagramDetailed } from '../src/record/dtls-record-layer.js';
import { cidAdditionalData, decodeInnerPlaintext, TLS12_CID, type ConnectionIds } from '../src/record/dtls-cid.js';
import type { TLSSession } from '../src/statem/session.js';
import { concat, fromHex } from '../src/util/bytes.js';
import { pair12 } from './helpers/dtls-pair.js';
import { mulberry32 } from './helpers/random.js';

const APPDATA = 23;
const none = new Uint8Array(0);
const KEY = fromHex('000102030405060708090a0b0c0d0e0f');
const SALT = fromHex('a0a1a2a3');
const CHACHA_KEY = fromHex('101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f');
const CHACHA_IV = fromHex('b0b1b2b3b4b5b6b7b8b9babb');
const CID = fromHex('c1c2c3c4c5');

/** RFC 9146 section 5's additional_data, spelled out field by field (not through the code under test). */
function rfcAad(cid: Uint8Array, epoch: number, seq: number, innerLength: number): Buffer {
  return Buffer.concat([
    Buffer.alloc(8, 0xff), // seq_num_placeholder
    Buffer.from([25, cid.length, 25]), // tls12_cid, cid_length, tls12_cid
    Buffer.from([0xfe, 0xfd]), // DTLSCiphertext.version
    Buffer.from([epoch >> 8, epoch & 0xff, 0, 0, 0, 0, seq >> 8, seq & 0xff]),
    Buffer.from(cid),
    Buffer.from([innerLength >> 8, innerLength & 0xff]),
  ]);
}

const ids = (send: Uint8Array, receive: Uint8Array): ConnectionIds => ({ send, receive });

describe('tls12_cid records (RFC 9146 sections 4 and 5)', () => {
  it('AES-128-GCM: the header carries the CID, and node:crypto opens the record with the RFC additional data', () => {
    const sealed = new DtlsAeadProtection(nobleProvider, 'AES-128-GCM', KEY.slice(), SALT.slice(), undefined, ids(CID, none)).seal(APPDATA, new TextEncoder().encode('hello'), 1, 5);
    const header = Buffer.from(sealed.subarray(0, 13 + CID.length));
    // type 25, DTLS 1.2, epoch 1, seq 5, the CID, length = 8 explicit nonce + 6 inner + 16 tag
    expect(header.toString('hex')).toBe(`19fefd0001000000000005${Buffer.from(CID).toString('hex')}001e`);
    const body = sealed.subarray(header.length);
    const explicit = body.subarray(0, 8);
    expect(Buffer.from(explicit).toString('hex')).toBe('0001000000000005');
    const d = createDecipheriv('aes-128-gcm', KEY, Buffer.concat([SALT, explicit]));
    d.setAAD(rfcAad(CID, 1, 5, 6));
    d.setAuthTag(body.subarray(body.length - 16));
    const inner = Buffer.concat([d.update(body.subarray(8, body.length - 16)), d.final()]);
    expect(inner.toString('hex')).toBe(`${Buffer.from('hello').toString('hex')}17`); // content, then the real type
  });

  it('ChaCha20-Poly1305: a record node:crypto sealed (with padding) opens in our record layer as application data', () => {
    const inner = Buffer.concat([Buffer.from('padded'), Buffer.from([APPDATA, 0, 0, 0])]);
    const nonce = Buffer.from(CHACHA_IV);
    const epochSeq = Buffer.from([0, 1, 0, 0, 0, 0, 0, 9]);
    for (let i = 0; i < 8; i++) nonce[4 + i]! ^= epochSeq[i]!;
    const e = createCipheriv('chacha20-poly1305', CHACHA_KEY, nonce, { authTagLength: 16 });
    e.setAAD(rfcAad(CID, 1, 9, inner.length));
    const body = Buffer.concat([e.update(inner), e.final(), e.getAuthTag()]);
    const record = Buffer.concat([Buffer.from([25, 0xfe, 0xfd]), epochSeq, Buffer.from(CID), Buffer.from([body.length >> 8, body.length & 0xff]), body]);

    const rx = new DtlsRecordLayer();
    rx.receiveCidLength = CID.length;
    rx.setReadEpoch(1, new DtlsAeadProtection(nobleProvider, 'CHACHA20-POLY1305', CHACHA_KEY.slice(), CHACHA_IV.slice(), undefined, ids(none, CID)));
    const got = rx.open(record);
    expect(got).toHaveLength(1);
    expect(got[0]!.type).toBe(APPDATA);
    expect(new TextDecoder().decode(got[0]!.data)).toBe('padded');
    expect(cidAdditionalData(0xfefd, epochSeq, CID, inner.length)).toEqual(new Uint8Array(rfcAad(CID, 1, 9, inner.length)));
  });

  function link(sendCid: Uint8Array) {
    const tx = new DtlsRecordLayer();
    tx.setWriteEpoch(1, new DtlsAeadProtection(nobleProvider, 'AES-128-GCM', KEY.slice(), SALT.slice(), undefined, ids(sendCid, none)));
    const rx = new DtlsRecordLayer();
    rx.receiveCidLength = CID.length;
    rx.setReadEpoch(1, new DtlsAeadProtection(nobleProvider, 'AES-128-GCM', KEY.slice(), SALT.slice(), undefined, ids(none, CID)));
    return { tx, rx };
  }

  it('a record with another CID, or without one once CIDs are in use, is dropped; the right one passes', () => {
    const { tx, rx } = link(CID);
    const good = tx.seal(APPDATA, new Uint8Array([1, 2, 3]));
    const wrong = new Uint8Array(good);
    wrong[11]! ^= 1;
    expect(rx.open(wrong)).toEqual([]);
    expect(rx.stats.dropped.badMac).toBe(1);
    const plain = link(none).tx.seal(APPDATA, new Uint8Array([1, 2, 3]));
    expect(plain[0]).toBe(APPDATA);
    expect(rx.open(plain)).toEqual([]);
    expect(rx.stats.dropped.badMac).toBe(2);
    expect(rx.open(good).map((r) => [r.type, [...r.data]])).toEqual([[APPDATA, [1, 2, 3]]]);
  });

  it('a tls12_cid record to a side that asked for no CID is dropped', () => {
    const rx = new DtlsRecordLayer();
    rx.setReadEpoch(1, new DtlsAeadProtection(nobleProvider, 'AES-128-GCM', KEY.slice(), SALT.slice()));
    expect(rx.open(link(CID).tx.seal(APPDATA, new Uint8Array(4)))).toEqual([]);
    expect(rx.stats.received).toBe(0);
  });

  it('truncated CID headers and lengths past the datagram parse to nothing, and never throw', () => {
    const record = link(CID).tx.seal(APPDATA, new Uint8Array(10));
    for (let n = 0; n < record.length; n++) expect(parseDatagram(record.subarray(0, n)).length, `${n} bytes`).toBe(0);
    const lying = new Uint8Array(record);
    lying[11 + CID.length] = 0xff; // length 0xff.. beyond the datagram and beyond 2^14 + 2048
    const rx = link(CID).rx;
    expect(rx.open(lying)).toEqual([]);
    expect(rx.stats.dropped.malformed).toBe(1);
  });

  it('an inner plaintext of only padding, or with an unknown type, is no record', () => {
    expect(decodeInnerPlaintext(new Uint8Array(50))).toBeNull();
    expect(decodeInnerPlaintext(new Uint8Array([1, 2, 99, 0]))).toBeNull();
    expect(decodeInnerPlaintext(new Uint8Array([1, 2, 22, 0, 0]))).toEqual({ type: 22, data: new Uint8Array([1, 2]) });
  });

  it('record 25 is not accepted in the clear (epoch 0)', () => {
    const rx = new DtlsRecordLayer();
    rx.receiveCidLength = CID.length;
    const record = concat(new Uint8Array([TLS12_CID, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1]), CID, new Uint8Array([0, 2, 1, 23]));
    expect(rx.open(record)).toEqual([]);
  });
});


describe("DTLS 1.2 handshakes with connection IDs, in memory (maxVersion 'TLSv1.2')", () => {
  it('both sides ask for a CID: every protected record is tls12_cid with the peer\'s CID, data flows both ways', () => {
    const clientCid = fromHex('0102');
    const serverCid = fromHex('a0a1a2a3a4a5a6a7');
    const p = pair12({ connectionId: clientCid }, { connectionId: serverCid });
    const wire: { from: string; d: Uint8Array }[] = [];
    p.run({ deliver: (d, from) => (wire.push({ from, d }), [d]) });
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(p.client.connectionIds).toEqual({ send: serverCid, receive: clientCid });
    // The first tls12_cid records (each Finished) ride with their ChangeCipherSpec, before the read
    // keys exist: they are parsed (and wait for the keys), not dropped and retransmitted.
    expect(p.server.recordStats.dropped).toEqual({ badMac: 0, replay: 0, unknownEpoch: 0, malformed: 0 });
    expect(p.client.recordStats.dropped).toEqual({ badMac: 0, replay: 0, unknownEpoch: 0, malformed: 0 });
    expect(p.client.nextTimeout()).toBeUndefined();
    expect(p.server.connectionIds).toEqual({ send: clientCid, receive: serverCid });
    p.client.send(new TextEncoder().encode('up'));
    p.run({ deliver: (d, from) => (wire.push({ from, d }), [d]) });
    p.server.send(new TextEncoder().encode('down'));
    p.run({ deliver: (d, from) => (wire.push({ from, d }), [d]) });
    expect(new TextDecoder().decode(p.received.server[0])).toBe('up');
    expect(new TextDecoder().decode(p.received.client[0])).toBe('down');
    // Every record with epoch >= 1 is a tls12_cid record carrying the receiver's CID; epoch 0 has none.
    let protectedRecords = 0;
    for (const { from, d } of wire) {
      // The receiver knows the length of its own CID: the server's is 8 bytes, the client's 2.
      for (const r of parseDatagramDetailed(d, Infinity, from === 'client' ? 8 : 2).records) {
        if (r.epoch === 0) {
          expect(r.type).not.toBe(TLS12_CID);
          continue;
        }
        protectedRecords++;
        expect(r.type).toBe(TLS12_CID);
        expect(r.cid).toEqual(from === 'client' ? serverCid : clientCid);
      }
    }
    expect(protectedRecords).toBeGreaterThanOrEqual(4); // two Finished, two application data
  });

  it('one side asks for none: only records to the side that asked carry a CID', () => {
    const serverCid = fromHex('0badcafe');
    const p = pair12({ connectionId: none }, { connectionId: serverCid });
    p.run();
    p.client.send(new Uint8Array([7]));
    p.server.send(new Uint8Array([8]));
    const fromClient = p.client.takeDatagrams();
    const fromServer = p.server.takeDatagrams();
    expect(fromClient[0]![0]).toBe(TLS12_CID);
    expect(fromServer[0]![0]).toBe(APPDATA);
    p.server.feedDatagram(fromClient[0]!);
    p.client.feedDatagram(fromServer[0]!);
    expect(p.received.server).toEqual([new Uint8Array([7])]);
    expect(p.received.client).toEqual([new Uint8Array([8])]);
  });

  it('a server without the option ignores the client\'s offer: ordinary records', () => {
    const p = pair12({ connectionId: fromHex('01') }, {});
    p.run();
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(p.client.connectionIds).toBeUndefined();
    p.client.send(new Uint8Array([1]));
    expect(p.client.takeDatagrams()[0]![0]).toBe(APPDATA);
  });

  it('completes with CIDs through the cookie exchange, 25% loss and a 300-byte MTU', () => {
    const { next: rand } = mulberry32(9146);
    const p = pair12({ connectionId: fromHex('0102'), mtu: 300, maxRetransmissions: 12 }, { connectionId: fromHex('aabbccdd'), mtu: 300, maxRetransmissions: 12 }, { cookie: true });
    p.run({ deliver: (d) => (rand() < 0.25 ? [] : [d]) }, 3000);
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(p.client.state).toBe('ESTABLISHED');
    expect(p.server.connectionIds?.receive).toEqual(fromHex('aabbccdd'));
  });

  it('an abbreviated (resumed) handshake negotiates CIDs too', () => {
    const server = { connectionId: fromHex('5151'), ticketKeys: new Uint8Array(48).fill(3) };
    const first = pair12({ connectionId: none }, server);
    const sessions: TLSSession[] = [];
    first.client.on('session', (s) => sessions.push(s));
    first.run();
    const p = pair12({ connectionId: none, session: sessions[0] }, server);
    p.run();
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(p.client.sessionReused).toBe(true);
    expect(p.client.connectionIds).toEqual({ send: fromHex('5151'), receive: none });
    p.client.send(new Uint8Array([42]));
    const d = p.client.takeDatagrams()[0]!;
    expect(d[0]).toBe(TLS12_CID);
    p.server.feedDatagram(d);
    expect(p.received.server).toEqual([new Uint8Array([42])]);
  });

  it('a CID longer than 255 bytes is refused as an option error', () => {
    const p = pair12({ connectionId: new Uint8Array(256) }, {});
    p.run();
    expect(p.errors.client[0]).toBeInstanceOf(TLSError);
    expect(p.errors.client[0]!.code).toBe('ERR_TLS_INVALID_OPTION');
  });
});
