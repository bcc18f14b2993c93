/**
 * DTLS 1.3 record-layer building blocks (RFC 9147), standalone (not wired into a handshake
 * yet): the unified header codec beside DTLSPlaintext, record number encryption, sequence
 * and epoch reconstruction from the low bits, the ACK codec, and replay windows per epoch.
 *
 * Record number encryption is checked two ways: the masks against the published vectors of
 * the same construction in RFC 9001 (QUIC header protection: AES-ECB of the sample, and
 * ChaCha20 with the sample's first four bytes as the little-endian counter); and a whole
 * header encrypted from a fixed traffic secret against a computation done here with
 * node:crypto alone (HKDF-Expand-Label "dtls13sn" by hand, aes-128-ecb / chacha20), an
 * independent route from the RFC's definition to the same bytes.
 */
import { createCipheriv, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { nobleProvider } from '../src/crypto/noble.js';
import { createNodeProvider } from '../src/crypto/node.js';
import type { AeadName, CryptoProvider } from '../src/crypto/provider.js';
import { TLSError } from '../src/errors.js';
import { encodeDtlsRecord } from '../src/record/dtls-record-layer.js';
import { ACK_CONTENT_TYPE, decodeAck, encodeAck } from '../src/record/dtls13-ack.js';
import { DTLS13_MAX_CIPHERTEXT, encodeUnifiedHeader, isUnifiedHeader, parseDtls13Datagram, type Dtls13CiphertextRecord } from '../src/record/dtls13-header.js';
import { deriveSnKey, maskRecordNumber, reconstruct, reconstructEpoch, reconstructSequence } from '../src/record/dtls13-record-number.js';
import { EpochReplayWindows } from '../src/record/dtls13-replay.js';
import { concat, fromHex, toHex } from '../src/util/bytes.js';

const providers: [string, CryptoProvider][] = [
  ['noble', nobleProvider],
  ['node', createNodeProvider()],
];
const body = (n: number, salt = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 13 + salt) & 0xff);

describe('unified header (RFC 9147 4)', () => {
  const cid = fromHex('c1c2c3');
  const combos = [
    { cid: undefined, seqLength: 1, withLength: true },
    { cid: undefined, seqLength: 2, withLength: true },
    { cid, seqLength: 2, withLength: true },
    { cid, seqLength: 1, withLength: false },
    { cid: undefined, seqLength: 2, withLength: false },
  ] as const;

  it.each(combos)('encodes and parses back: cid $cid, $seqLength-byte sequence, length $withLength', (c) => {
    const record = body(40);
    const header = encodeUnifiedHeader({ epoch: 6, seq: 0x12345, ...c }, record.length);
    expect(isUnifiedHeader(header[0]!)).toBe(true);
    expect(header[0]! & 3).toBe(2); // epoch 6 → bits 10
    expect(!!(header[0]! & 0x10)).toBe(!!c.cid);
    expect(!!(header[0]! & 0x08)).toBe(c.seqLength === 2);
    expect(!!(header[0]! & 0x04)).toBe(c.withLength);
    const { records, unparsed } = parseDtls13Datagram(concat(header, record), c.cid ? 3 : 0);
    expect(unparsed).toBe(0);
    const r = records[0] as Dtls13CiphertextRecord;
    expect(r.kind).toBe('ciphertext');
    expect(r.epochBits).toBe(2);
    expect(r.seqLength).toBe(c.seqLength);
    expect(r.encryptedSeqBits).toBe(c.seqLength === 2 ? 0x2345 : 0x45);
    expect(r.cid).toEqual(c.cid);
    expect(r.header).toEqual(header);
    expect(r.encryptedRecord).toEqual(record);
  });

  it('DTLSPlaintext and DTLSCiphertext side by side in one datagram; a length-less record takes the rest', () => {
    const hello = encodeDtlsRecord(22, 0xfefd, 0, 0, body(20));
    const withLength = concat(encodeUnifiedHeader({ epoch: 2, seq: 1 }, 30), body(30, 2));
    const last = concat(encodeUnifiedHeader({ epoch: 3, seq: 0, withLength: false }, 25), body(25, 3));
    const { records, unparsed } = parseDtls13Datagram(concat(hello, withLength, last));
    expect(unparsed).toBe(0);
    expect(records.map((r) => r.kind)).toEqual(['plaintext', 'ciphertext', 'ciphertext']);
    expect(records[0]!.kind === 'plaintext' && records[0]!.type).toBe(22);
    expect((records[1] as Dtls13CiphertextRecord).encryptedRecord.length).toBe(30);
    expect((records[2] as Dtls13CiphertextRecord).encryptedRecord).toEqual(body(25, 3));
  });

  it('truncated headers at every length parse to nothing and never throw', () => {
    const full = concat(encodeUnifiedHeader({ epoch: 1, seq: 9, cid }, 20), body(20));
    for (let n = 1; n < full.length; n++) {
      const { records, unparsed } = parseDtls13Datagram(full.subarray(0, n), 3);
      expect(records, `${n} bytes`).toEqual([]);
      expect(unparsed).toBe(n);
    }
  });

  it('an absurd length, a CID we do not use, an unknown first byte and the record limit end the parse', () => {
    const tooLong = encodeUnifiedHeader({ epoch: 1, seq: 1 }, 10);
    tooLong[3] = 0xff;
    tooLong[4] = 0xff; // 65535 > 2^14 + 256
    expect(parseDtls13Datagram(concat(tooLong, body(100))).records).toEqual([]);
    expect(() => encodeUnifiedHeader({ epoch: 1, seq: 1 }, DTLS13_MAX_CIPHERTEXT + 1)).toThrow(RangeError);
    const withCid = concat(encodeUnifiedHeader({ epoch: 1, seq: 1, cid }, 10), body(10));
    expect(parseDtls13Datagram(withCid, 0).records).toEqual([]); // C bit, and we hand out no CIDs
    expect(parseDtls13Datagram(new Uint8Array([0x80, 1, 2, 3])).unparsed).toBe(4);
    const one = concat(encodeUnifiedHeader({ epoch: 1, seq: 1 }, 1), body(1));
    const many = concat(...Array.from({ length: 100 }, () => one));
    const parsed = parseDtls13Datagram(many, 0, 64);
    expect(parsed.records).toHaveLength(64);
    expect(parsed.unparsed).toBe(36 * one.length);
  });
});

describe('record number encryption (RFC 9147 4.2.3)', () => {
  // RFC 9001 A.2 and A.5: the same mask construction (QUIC header protection), published values.
  const VECTORS: { aead: AeadName; key: string; sample: string; mask: string }[] = [
    { aead: 'AES-128-GCM', key: '9f50449e04a0e810283a1e9933adedd2', sample: 'd1b1c98dd7689fb8ec11d242b123dc9b', mask: '437b9aec36' },
    { aead: 'CHACHA20-POLY1305', key: '25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4', sample: '5e5cd55c41f69080575d7999c25a5bfb', mask: 'aefefe7d03' },
  ];
  for (const [name, p] of providers) {
    it.each(VECTORS)(`${name} provider: $aead mask matches the published vector`, (v) => {
      expect(toHex(p.recordNumberMask!(v.aead, fromHex(v.key), fromHex(v.sample)).subarray(0, 5))).toBe(v.mask);
    });
  }

  /** sn_key and the mask computed with node:crypto alone, from RFC 9147's definitions. */
  function independentMask(aead: AeadName, secret: Uint8Array, sample: Uint8Array): Buffer {
    const keyLength = aead === 'AES-128-GCM' ? 16 : 32;
    const label = Buffer.from('dtls13sn');
    const info = Buffer.concat([Buffer.from([0, keyLength, label.length]), label, Buffer.from([0])]);
    // HKDF-Expand only (a traffic secret is already a PRK), by hand with HMAC.
    const okm = expandOnly(secret, info, keyLength);
    if (aead === 'CHACHA20-POLY1305') return createCipheriv('chacha20', okm, sample).update(Buffer.alloc(16));
    return createCipheriv('aes-128-ecb', okm, null).setAutoPadding(false).update(sample);
  }
  function expandOnly(prk: Uint8Array, info: Buffer, length: number): Buffer {
    // One block is enough for 16 or 32 bytes of SHA-256: T(1) = HMAC(PRK, info || 0x01).
    return createHmac('sha256', prk).update(Buffer.concat([info, Buffer.from([1])])).digest().subarray(0, length);
  }

  for (const aead of ['AES-128-GCM', 'CHACHA20-POLY1305'] as const) {
    it.each(providers)(`%s provider, ${aead}: a header's 16-bit sequence number encrypts as node:crypto computes it, and decrypts back`, (_name, p) => {
      const secret = fromHex('b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21');
      const snKey = deriveSnKey(p, 'sha256', aead, secret);
      const ciphertext = body(40, 7);
      const header = encodeUnifiedHeader({ epoch: 3, seq: 0x0a0b }, ciphertext.length);
      const record = concat(header, ciphertext);
      expect(maskRecordNumber(p, aead, snKey, record, 1, 2, header.length)).toBe(true);
      const mask = independentMask(aead, secret, ciphertext.subarray(0, 16));
      expect(toHex(record.subarray(1, 3))).toBe(toHex(new Uint8Array([0x0a ^ mask[0]!, 0x0b ^ mask[1]!])));
      expect(record[0]).toBe(header[0]); // the flags are not encrypted
      expect(record.subarray(3)).toEqual(concat(header.subarray(3), ciphertext));
      maskRecordNumber(p, aead, snKey, record, 1, 2, header.length);
      expect(record).toEqual(concat(header, ciphertext));
    });
  }

  it('a record with less than 16 bytes of ciphertext is left alone and reported', () => {
    const header = encodeUnifiedHeader({ epoch: 3, seq: 5, seqLength: 1 }, 15);
    const record = concat(header, body(15));
    const before = new Uint8Array(record);
    expect(maskRecordNumber(nobleProvider, 'AES-128-GCM', new Uint8Array(16), record, 1, 1, header.length)).toBe(false);
    expect(record).toEqual(before);
  });
});

describe('sequence number and epoch reconstruction (RFC 9147 4.2.2)', () => {
  it('picks the value closest to the next expected one', () => {
    expect(reconstructSequence(0x01, 1, 0x1fe)).toBe(0x201); // wrapped past 0x1ff
    expect(reconstructSequence(0xfe, 1, 0x201)).toBe(0x1fe); // a late record from before the wrap
    expect(reconstructSequence(0x05, 1, -1)).toBe(5); // first record of the epoch
    expect(reconstructSequence(0xffff, 2, 0x1_0003)).toBe(0xffff);
    expect(reconstructSequence(0x0000, 2, 0xfffe)).toBe(0x1_0000);
    expect(reconstruct(0, 8, 128)).toBe(0); // a tie goes to the lower candidate
  });

  it('never gives a negative number or one past 2^48 - 1, and refuses low bits out of range', () => {
    expect(reconstructSequence(0xff, 1, 0)).toBe(0xff);
    expect(reconstruct(0xff, 8, 2 ** 48 - 2)).toBe(2 ** 48 - 1);
    expect(reconstruct(0x00, 8, 2 ** 48 - 1)).toBe(2 ** 48 - 256);
    expect(() => reconstruct(256, 8, 0)).toThrow(RangeError);
  });

  it('maps the two epoch bits to an installed epoch, the newest when several match, none when none does', () => {
    expect(reconstructEpoch(3, [2, 3])).toBe(3);
    expect(reconstructEpoch(0, [3, 4])).toBe(4);
    expect(reconstructEpoch(0, [0, 4, 8])).toBe(8);
    expect(reconstructEpoch(1, [2, 3, 4])).toBeUndefined(); // an epoch we have not reached
  });
});

describe('ACK (RFC 9147 7)', () => {
  it('encodes and decodes record numbers', () => {
    const records = [
      { epoch: 2, seq: 0 },
      { epoch: 2, seq: 1 },
      { epoch: 3, seq: 2 ** 40 + 7 },
    ];
    const wire = encodeAck(records);
    expect(toHex(wire.subarray(0, 18))).toBe('0030' + '0000000000000002' + '0000000000000000');
    expect(decodeAck(wire)).toEqual(records);
    expect(decodeAck(encodeAck([]))).toEqual([]);
    expect(ACK_CONTENT_TYPE).toBe(26);
  });

  it('refuses truncation, a lying length, a partial entry, too many entries and out-of-range numbers with decode_error', () => {
    const wire = encodeAck([{ epoch: 2, seq: 1 }]);
    const refuse = (b: Uint8Array, code = 'ERR_TLS_BAD_ACK') => {
      let err: unknown;
      try {
        decodeAck(b, 4);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TLSError);
      expect((err as TLSError).code).toBe(code);
      expect((err as TLSError).alert).toBe('decode_error');
    };
    refuse(new Uint8Array(0));
    refuse(new Uint8Array([0]));
    refuse(wire.subarray(0, wire.length - 1));
    refuse(concat(wire, new Uint8Array(1)));
    refuse(concat(new Uint8Array([0, 15]), new Uint8Array(15)));
    refuse(encodeAck(Array.from({ length: 5 }, (_, i) => ({ epoch: 2, seq: i }))), 'ERR_TLS_ACK_TOO_LARGE');
    const hugeEpoch = new Uint8Array(wire);
    hugeEpoch[2] = 0xff;
    refuse(hugeEpoch);
    const hugeSeq = new Uint8Array(wire);
    hugeSeq[11] = 1; // 2^48
    refuse(hugeSeq);
    expect(() => encodeAck(Array.from({ length: 4096 }, () => ({ epoch: 0, seq: 0 })))).toThrow(RangeError);
  });
});

describe('replay windows per epoch (RFC 9147 4.5.1)', () => {
  it('tracks each epoch apart: the same sequence number in two epochs is no replay', () => {
    const w = new EpochReplayWindows(2);
    w.open(2);
    w.open(3);
    expect(w.isReplay(2, 5)).toBe(false);
    w.accept(2, 5);
    expect(w.isReplay(2, 5)).toBe(true);
    expect(w.isReplay(3, 5)).toBe(false);
    w.accept(3, 5);
    expect(w.highest(3)).toBe(5);
  });

  it('keeps only the newest epochs: records of older or unknown epochs count as replays', () => {
    const w = new EpochReplayWindows(2);
    for (let e = 2; e < 1000; e++) w.open(e);
    expect(w.epochs).toEqual([998, 999]);
    expect(w.isReplay(2, 0)).toBe(true);
    expect(w.isReplay(1000, 0)).toBe(true);
    w.accept(2, 0); // ignored, no window
    expect(w.highest(2)).toBe(-1);
    expect(() => w.open(5)).toThrow(RangeError);
  });

  it('a number below the window is a replay', () => {
    const w = new EpochReplayWindows(1, 64);
    w.open(3);
    w.accept(3, 200);
    expect(w.isReplay(3, 136)).toBe(true);
    expect(w.isReplay(3, 137)).toBe(false);
  });
});
