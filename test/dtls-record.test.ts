import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { nobleProvider } from '../src/crypto/noble.js';
import type { AeadName } from '../src/crypto/provider.js';
import {
  DTLS_HEADER_LENGTH,
  DTLS_MAX_SEQ,
  DtlsAeadProtection,
  DtlsNullProtection,
  DtlsRecordLayer,
  MAX_BUFFERED_BYTES,
  MAX_BUFFERED_RECORDS,
  MAX_RECORDS_PER_DATAGRAM,
  ReplayWindow,
  encodeDtlsHeader,
  encodeDtlsRecord,
  parseDatagram,
  parseDatagramDetailed,
  type DtlsRecord,
} from '../src/record/dtls-record-layer.js';
import { concat, fromHex, toHex } from '../src/util/bytes.js';
import { mulberry32 } from './helpers/random.js';

const HANDSHAKE = 22;
const APPDATA = 23;
const ALERT = 21;
const CCS = 20;

const bytesOf = (n: number, salt = 0) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + salt) & 0xff);
const u48 = (v: number) => {
  const b = new Uint8Array(6);
  let s = v;
  for (let i = 5; i >= 0; i--) {
    b[i] = s % 256;
    s = Math.floor(s / 256);
  }
  return b;
};
const u16 = (v: number) => new Uint8Array([v >>> 8, v & 0xff]);

describe('DTLS record header', () => {
  it('encodes the RFC 6347 4.1 layout', () => {
    expect(toHex(encodeDtlsHeader(22, 0xfefd, 1, 0x010203040506, 3))).toBe('16fefd' + '0001' + '010203040506' + '0003');
    expect(toHex(encodeDtlsRecord(23, 0xfefd, 0xffff, DTLS_MAX_SEQ - 1, fromHex('abcd')))).toBe('17fefdffffffffffffffff0002abcd');
  });

  it('round-trips header fields through parseDatagram', () => {
    const r = mulberry32(1);
    for (let i = 0; i < 200; i++) {
      const type = [CCS, ALERT, HANDSHAKE, APPDATA][r.int(4)]!;
      const version = r.int(2) ? 0xfefd : 0xfeff;
      const epoch = r.int(0x10000);
      const seq = i % 3 === 0 ? DTLS_MAX_SEQ - 1 - r.int(1000) : Math.floor(r.next() * DTLS_MAX_SEQ);
      const payload = r.bytes(r.int(40));
      const rec = encodeDtlsRecord(type, version, epoch, seq, payload);
      const [parsed, ...rest] = parseDatagram(rec);
      expect(rest).toEqual([]);
      expect(parsed).toMatchObject({ type, version, epoch, seq });
      expect(parsed!.fragment).toEqual(payload);
      expect(parsed!.raw).toEqual(rec);
    }
  });

  it('rejects out-of-range epoch / sequence / length when encoding', () => {
    expect(() => encodeDtlsHeader(22, 0xfefd, 0x10000, 0, 0)).toThrow();
    expect(() => encodeDtlsHeader(22, 0xfefd, 0, DTLS_MAX_SEQ, 0)).toThrow();
    expect(() => encodeDtlsHeader(22, 0xfefd, 0, -1, 0)).toThrow();
    expect(() => encodeDtlsHeader(22, 0xfefd, 0, 0.5, 0)).toThrow();
    expect(() => encodeDtlsHeader(22, 0xfefd, 0, 0, 0x10000)).toThrow();
  });
});

describe('parseDatagram', () => {
  const records = [
    encodeDtlsRecord(HANDSHAKE, 0xfefd, 0, 0, bytesOf(30, 1)),
    encodeDtlsRecord(CCS, 0xfefd, 0, 1, fromHex('01')),
    encodeDtlsRecord(HANDSHAKE, 0xfefd, 1, 0, bytesOf(0)),
    encodeDtlsRecord(APPDATA, 0xfefd, 1, 1, bytesOf(100, 3)),
  ];
  const datagram = concat(...records);
  const ends = records.reduce<number[]>((acc, r) => [...acc, (acc.at(-1) ?? 0) + r.length], []);

  it('returns several records of one datagram, in order', () => {
    const parsed = parseDatagram(datagram);
    expect(parsed.map((p) => toHex(p.raw))).toEqual(records.map(toHex));
    expect(parsed.map((p) => [p.type, p.epoch, p.seq])).toEqual([
      [HANDSHAKE, 0, 0],
      [CCS, 0, 1],
      [HANDSHAKE, 1, 0],
      [APPDATA, 1, 1],
    ]);
    expect(parseDatagramDetailed(datagram).unparsed).toBe(0);
    expect(parseDatagram(new Uint8Array(0))).toEqual([]);
  });

  it('keeps the whole records before a truncation, at every cut point', () => {
    for (let cut = 0; cut <= datagram.length; cut++) {
      const { records: got, unparsed } = parseDatagramDetailed(datagram.subarray(0, cut));
      const whole = ends.filter((e) => e <= cut).length;
      expect(got.length).toBe(whole);
      expect(got.map((g) => toHex(g.raw))).toEqual(records.slice(0, whole).map(toHex));
      expect(unparsed).toBe(cut - (ends[whole - 1] ?? 0));
    }
  });

  it('stops at an unknown type, a bad version or an oversized length', () => {
    const bad = [
      encodeDtlsRecord(99, 0xfefd, 0, 5, bytesOf(4)),
      encodeDtlsRecord(HANDSHAKE, 0x0303, 0, 5, bytesOf(4)),
      encodeDtlsRecord(HANDSHAKE, 0xfefc, 0, 5, bytesOf(4)),
      concat(encodeDtlsHeader(HANDSHAKE, 0xfefd, 0, 5, 2 ** 14 + 2049), new Uint8Array(2 ** 14 + 2049)),
      // a length running past the end of the datagram
      encodeDtlsHeader(HANDSHAKE, 0xfefd, 0, 5, 1000),
    ];
    for (const b of bad) {
      const got = parseDatagramDetailed(concat(records[0]!, records[1]!, b, records[2]!));
      expect(got.records.map((g) => toHex(g.raw))).toEqual([toHex(records[0]!), toHex(records[1]!)]);
      expect(got.unparsed).toBe(b.length + records[2]!.length);
    }
    // The longest legal ciphertext length is accepted.
    const max = concat(encodeDtlsHeader(APPDATA, 0xfefd, 1, 5, 2 ** 14 + 2048), new Uint8Array(2 ** 14 + 2048));
    expect(parseDatagram(max)).toHaveLength(1);
  });

  it('never throws on seeded mutations and keeps every record before the first damaged byte', () => {
    const r = mulberry32(42);
    for (let i = 0; i < 400; i++) {
      const d = datagram.slice();
      let first = d.length;
      let mutated: Uint8Array = d;
      switch (i % 4) {
        case 0: {
          const n = 1 + r.int(4);
          for (let k = 0; k < n; k++) {
            const at = r.int(d.length);
            const before = d[at];
            d[at] = r.int(256);
            if (d[at] !== before) first = Math.min(first, at);
          }
          break;
        }
        case 1: {
          const at = r.int(d.length);
          mutated = d.subarray(0, at);
          first = at;
          break;
        }
        case 2: {
          const at = r.int(d.length + 1);
          mutated = concat(d.subarray(0, at), r.bytes(1 + r.int(20)), d.subarray(at));
          first = at;
          break;
        }
        case 3: {
          // corrupt a length field
          const rec = r.int(records.length);
          const at = (ends[rec - 1] ?? 0) + 11 + r.int(2);
          const before = d[at];
          d[at] = r.int(256);
          if (d[at] !== before) first = at;
          break;
        }
      }
      let got: DtlsRecord[] = [];
      expect(() => (got = parseDatagram(mutated))).not.toThrow();
      const intact = ends.filter((e) => e <= first).length;
      expect(got.length).toBeGreaterThanOrEqual(intact);
      for (let k = 0; k < intact; k++) expect(toHex(got[k]!.raw)).toBe(toHex(records[k]!));
      // Whatever came out is a well-formed record that re-encodes to the same bytes.
      let at = 0;
      for (const g of got) {
        expect(toHex(encodeDtlsRecord(g.type, g.version, g.epoch, g.seq, g.fragment))).toBe(toHex(g.raw));
        expect(toHex(mutated.subarray(at, at + g.raw.length))).toBe(toHex(g.raw));
        at += g.raw.length;
      }
    }
  });

  it('never throws on random garbage', () => {
    const r = mulberry32(7);
    for (let i = 0; i < 300; i++) {
      const g = r.bytes(r.int(200));
      if (i % 3 === 0 && g.length > 3) {
        g[0] = HANDSHAKE;
        g[1] = 0xfe;
        g[2] = 0xfd;
      }
      expect(() => parseDatagram(g)).not.toThrow();
    }
  });
});

describe('ReplayWindow', () => {
  it('accepts in-order numbers and rejects duplicates', () => {
    const w = new ReplayWindow();
    expect(w.size).toBe(128);
    expect(w.highest).toBe(-1);
    for (let s = 0; s < 300; s++) {
      expect(w.isReplay(s)).toBe(false);
      w.accept(s);
      expect(w.isReplay(s)).toBe(true);
    }
    expect(w.highest).toBe(299);
  });

  it('accepts out-of-order numbers within the window once', () => {
    const w = new ReplayWindow(64);
    w.accept(100);
    for (const s of [99, 50, 37, 90]) {
      expect(w.isReplay(s)).toBe(false);
      w.accept(s);
      expect(w.isReplay(s)).toBe(true);
    }
    expect(w.isReplay(98)).toBe(false);
    expect(w.highest).toBe(100);
  });

  it('rejects numbers that are too old', () => {
    const w = new ReplayWindow(64);
    w.accept(200);
    expect(w.isReplay(137)).toBe(false); // 200 - 137 = 63 < 64
    expect(w.isReplay(136)).toBe(true); // 64 behind
    expect(w.isReplay(0)).toBe(true);
    w.accept(136); // ignored: out of the window
    expect(w.isReplay(137)).toBe(false);
  });

  it('slides on a large jump and forgets what fell out', () => {
    const w = new ReplayWindow(128);
    for (let s = 0; s < 10; s++) w.accept(s);
    w.accept(1_000_000);
    expect(w.isReplay(5)).toBe(true); // too old now
    expect(w.isReplay(1_000_000 - 127)).toBe(false);
    expect(w.isReplay(1_000_000 - 128)).toBe(true);
    // A jump shorter than the window: slots in between must be cleared (they held old numbers).
    const v = new ReplayWindow(64);
    for (let s = 0; s < 64; s++) v.accept(s);
    v.accept(100);
    for (let s = 64; s < 100; s++) expect(v.isReplay(s)).toBe(false);
    for (let s = 37; s < 64; s++) expect(v.isReplay(s)).toBe(true);
    expect(v.isReplay(36)).toBe(true);
    // near 2^48
    const big = new ReplayWindow();
    big.accept(DTLS_MAX_SEQ - 1);
    expect(big.isReplay(DTLS_MAX_SEQ - 1)).toBe(true);
    expect(big.isReplay(DTLS_MAX_SEQ - 2)).toBe(false);
    expect(big.isReplay(DTLS_MAX_SEQ)).toBe(true);
    expect(big.isReplay(-1)).toBe(true);
  });

  it('rejects bad sizes', () => {
    expect(() => new ReplayWindow(32)).toThrow();
    expect(() => new ReplayWindow(100)).toThrow();
    expect(() => new ReplayWindow(256)).not.toThrow();
  });

  it.each([64, 128, 256])('agrees with a Set-based reference over seeded random sequences (size %i)', (size) => {
    for (let seed = 1; seed <= 20; seed++) {
      const r = mulberry32(seed * 1000 + size);
      const w = new ReplayWindow(size);
      const seen = new Set<number>();
      let top = -1;
      let base = r.int(2) ? 0 : DTLS_MAX_SEQ - 5000;
      for (let i = 0; i < 1500; i++) {
        let seq: number;
        const pick = r.next();
        if (pick < 0.4) seq = Math.max(0, top + 1 + r.int(3));
        else if (pick < 0.8) seq = Math.max(0, top - r.int(size + 20));
        else if (pick < 0.95) seq = [...seen][r.int(seen.size)] ?? 0;
        else seq = top + 1 + r.int(3 * size);
        seq = Math.min(seq + (top < 0 ? base : 0), DTLS_MAX_SEQ - 1);
        base = 0;
        const expected = seen.has(seq) || (top >= 0 && top - seq >= size);
        expect(w.isReplay(seq), `seed ${seed} step ${i} seq ${seq} top ${top}`).toBe(expected);
        // Only some records "authenticate": the rest must leave the window untouched.
        if (!expected && r.next() < 0.85) {
          w.accept(seq);
          seen.add(seq);
          top = Math.max(top, seq);
        }
        expect(w.highest).toBe(top);
      }
    }
  });
});

// ---- AEAD protection ----

interface Suite {
  name: AeadName;
  keyLength: number;
  ivLength: number;
  tag: number;
  explicit: number;
}
const suites: Suite[] = [
  { name: 'AES-128-GCM', keyLength: 16, ivLength: 4, tag: 16, explicit: 8 },
  { name: 'AES-256-GCM', keyLength: 32, ivLength: 4, tag: 16, explicit: 8 },
  { name: 'CHACHA20-POLY1305', keyLength: 32, ivLength: 12, tag: 16, explicit: 0 },
  { name: 'AES-128-CCM', keyLength: 16, ivLength: 4, tag: 16, explicit: 8 },
  { name: 'AES-128-CCM-8', keyLength: 16, ivLength: 4, tag: 8, explicit: 8 },
];

/** Key material for one epoch of one suite; each call makes fresh copies (protections wipe theirs). */
function keys(s: Suite, epoch: number) {
  return { key: bytesOf(s.keyLength, epoch * 31 + 5), iv: bytesOf(s.ivLength, epoch * 17 + 9) };
}
function protection(s: Suite, epoch: number): DtlsAeadProtection {
  const { key, iv } = keys(s, epoch);
  return new DtlsAeadProtection(nobleProvider, s.name, key, iv);
}
function pair(s: Suite, epochs: number[]) {
  const tx = new DtlsRecordLayer();
  const rx = new DtlsRecordLayer();
  for (const e of epochs) {
    tx.setWriteEpoch(e, protection(s, e));
    rx.setReadEpoch(e, protection(s, e));
  }
  return { tx, rx };
}
const dropped = (l: DtlsRecordLayer) => ({ ...l.stats.dropped });

describe.each(suites)('DTLS 1.2 $name records', (s) => {
  it('round-trips across epochs, several records per datagram', () => {
    const tx = new DtlsRecordLayer();
    const rx = new DtlsRecordLayer();
    const hello = tx.seal(HANDSHAKE, bytesOf(50));
    const ccs = tx.seal(CCS, fromHex('01'));
    tx.setWriteEpoch(1, protection(s, 1));
    rx.setReadEpoch(1, protection(s, 1));
    const fin = tx.seal(HANDSHAKE, bytesOf(24, 1));
    expect(fin.length).toBe(DTLS_HEADER_LENGTH + s.explicit + 24 + s.tag);
    expect(tx.writeOverhead).toBe(DTLS_HEADER_LENGTH + s.explicit + s.tag);
    const app = tx.seal(APPDATA, bytesOf(1000, 2));
    const empty = tx.seal(APPDATA, new Uint8Array(0));
    const got = rx.open(concat(hello, ccs, fin, app, empty));
    expect(got.map((g) => [g.type, g.epoch, g.seq])).toEqual([
      [HANDSHAKE, 0, 0],
      [CCS, 0, 1],
      [HANDSHAKE, 1, 0],
      [APPDATA, 1, 1],
      [APPDATA, 1, 2],
    ]);
    expect(got[0]!.data).toEqual(bytesOf(50));
    expect(got[2]!.data).toEqual(bytesOf(24, 1));
    expect(got[3]!.data).toEqual(bytesOf(1000, 2));
    expect(got[4]!.data).toEqual(new Uint8Array(0));
    // Plaintext never shows in the protected record.
    expect(toHex(app)).not.toContain(toHex(bytesOf(1000, 2).subarray(0, 16)));
    // Epoch 2 (renegotiation-style): epoch 1 records still readable, epoch 0 gone.
    tx.setWriteEpoch(2, protection(s, 2));
    rx.setReadEpoch(2, protection(s, 2));
    const e2 = tx.seal(APPDATA, bytesOf(77, 9));
    const late1 = tx.seal(APPDATA, bytesOf(5, 4), 1); // previous write epoch, seq continues
    const lateHello = new DtlsNullProtection().seal(HANDSHAKE, bytesOf(10), 0, 5);
    const got2 = rx.open(concat(e2, late1, lateHello));
    expect(got2.map((g) => [g.epoch, g.seq])).toEqual([
      [2, 0],
      [1, 3],
    ]);
    expect(got2[0]!.data).toEqual(bytesOf(77, 9));
    expect(rx.stats.dropped.unknownEpoch).toBe(1);
    expect(rx.stats.received).toBe(7);
    expect(rx.readEpochs).toEqual([1, 2]);
  });

  it('drops and counts a tampered record, and keeps working', () => {
    const { tx, rx } = pair(s, [1]);
    const r = mulberry32(s.keyLength + s.tag);
    for (let i = 0; i < 40; i++) {
      const rec = tx.seal(APPDATA, bytesOf(20 + i, i));
      // Flip a byte anywhere after the header (explicit nonce, ciphertext or tag), or in the
      // header's sequence number or type (both authenticated through the AAD).
      // (Only the high seq bytes: a lower seq could be a replay, dropped before authentication.)
      const positions = [DTLS_HEADER_LENGTH + r.int(rec.length - DTLS_HEADER_LENGTH), 5 + r.int(5), 0];
      const at = positions[i % 3]!;
      const bad = rec.slice();
      bad[at] = at === 0 ? HANDSHAKE : bad[at]! ^ (1 << r.int(8));
      expect(toHex(bad)).not.toBe(toHex(rec));
      const before = dropped(rx);
      expect(rx.open(bad)).toEqual([]);
      expect(rx.stats.dropped.badMac).toBe(before.badMac + 1);
      const ok = rx.open(rec);
      expect(ok).toHaveLength(1);
      expect(ok[0]!.data).toEqual(bytesOf(20 + i, i));
    }
    // A version change in the header is authenticated too.
    const rec = tx.seal(APPDATA, bytesOf(3));
    const bad = rec.slice();
    bad[2] = 0xff;
    expect(rx.open(bad)).toEqual([]);
    expect(rx.stats.dropped.badMac).toBe(41);
    expect(rx.open(rec)).toHaveLength(1);
    // Truncated tag / too short to hold a tag: the datagram framing is intact, the MAC is not.
    const short = encodeDtlsRecord(APPDATA, 0xfefd, 1, 999, bytesOf(s.explicit + s.tag - 1));
    expect(rx.open(short)).toEqual([]);
    expect(rx.stats.dropped.badMac).toBe(42);
  });

  it('drops and counts replayed records', () => {
    const { tx, rx } = pair(s, [1]);
    const a = tx.seal(APPDATA, bytesOf(10));
    const b = tx.seal(APPDATA, bytesOf(11));
    expect(rx.open(b)).toHaveLength(1);
    expect(rx.open(concat(a, b, a))).toHaveLength(1); // a (out of order) once; b and the second a are replays
    expect(rx.stats.dropped.replay).toBe(2);
    expect(rx.open(a)).toEqual([]);
    expect(rx.stats.dropped.replay).toBe(3);
    // Too old: push the window far ahead.
    const old = tx.seal(APPDATA, bytesOf(12));
    tx.advanceWriteSequence(10_000);
    expect(rx.open(tx.seal(APPDATA, bytesOf(13)))).toHaveLength(1);
    expect(rx.open(old)).toEqual([]);
    expect(rx.stats.dropped.replay).toBe(4);
  });

  it('drops and counts records of an unknown epoch', () => {
    const { tx, rx } = pair(s, [1]);
    const other = protection(s, 3);
    const rec3 = other.seal(APPDATA, bytesOf(10), 3, 0);
    expect(rx.open(rec3)).toEqual([]);
    expect(rx.stats.dropped.unknownEpoch).toBe(1);
    // Epoch 1 keys cannot open a record relabelled as epoch 2 (buffered, then fails auth).
    const rec = tx.seal(APPDATA, bytesOf(10));
    const relabelled = rec.slice();
    relabelled[4] = 2;
    expect(rx.open(relabelled)).toEqual([]);
    expect(rx.bufferedRecords).toBe(1);
    rx.setReadEpoch(2, protection(s, 1));
    expect(rx.drainBuffered()).toEqual([]);
    expect(rx.stats.dropped.badMac).toBe(1);
    expect(rx.open(rec)).toHaveLength(1); // epoch 1 is still the previous epoch
  });

  it('never throws and never delivers forged data on mutated datagrams', () => {
    const r = mulberry32(99 + s.tag);
    for (let i = 0; i < 150; i++) {
      const { tx, rx } = pair(s, [1]);
      const plain = [bytesOf(10, i), bytesOf(40, i + 1), bytesOf(0), bytesOf(300, i + 2)];
      const recs = plain.map((p) => tx.seal(APPDATA, p));
      const d = concat(...recs);
      const n = 1 + r.int(3);
      for (let k = 0; k < n; k++) d[r.int(d.length)] ^= 1 + r.int(255);
      const cut = r.int(3) === 0 ? d.subarray(0, r.int(d.length)) : d;
      let got: ReturnType<typeof rx.open> = [];
      expect(() => (got = rx.open(cut))).not.toThrow();
      for (const g of got) {
        expect(g.epoch).toBe(1);
        expect(g.seq).toBeLessThan(plain.length);
        expect(toHex(g.data)).toBe(toHex(plain[g.seq]!));
      }
      const st = rx.stats;
      expect(st.received + st.dropped.badMac + st.dropped.replay + st.dropped.unknownEpoch).toBeLessThanOrEqual(recs.length + st.buffered);
    }
  });
});

// ---- Cross-checks against node:crypto ----

function handAad(epoch: number, seq: number, type: number, length: number) {
  return concat(u16(epoch), u48(seq), new Uint8Array([type, 0xfe, 0xfd]), u16(length));
}

describe('DTLS 1.2 records match an independent node:crypto construction', () => {
  const cases = [
    { epoch: 1, seq: 0, type: HANDSHAKE, len: 12 },
    { epoch: 1, seq: 1, type: APPDATA, len: 0 },
    { epoch: 2, seq: 0x123456789a, type: APPDATA, len: 100 },
    { epoch: 0xfffe, seq: DTLS_MAX_SEQ - 1, type: ALERT, len: 2 },
  ];

  it.each(cases)('AES-128-GCM epoch $epoch seq $seq', ({ epoch, seq, type, len }) => {
    const key = fromHex('00112233445566778899aabbccddeeff');
    const salt = fromHex('a1b2c3d4');
    const plaintext = bytesOf(len, 3);
    const explicit = concat(u16(epoch), u48(seq));
    const c = createCipheriv('aes-128-gcm', key, concat(salt, explicit));
    c.setAAD(handAad(epoch, seq, type, len));
    const body = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
    const expected = concat(new Uint8Array([type, 0xfe, 0xfd]), u16(epoch), u48(seq), u16(8 + body.length), explicit, body);
    const ours = new DtlsAeadProtection(nobleProvider, 'AES-128-GCM', key.slice(), salt.slice()).seal(type, plaintext, epoch, seq);
    expect(toHex(ours)).toBe(toHex(expected));
    const [rec] = parseDatagram(expected);
    expect(new DtlsAeadProtection(nobleProvider, 'AES-128-GCM', key.slice(), salt.slice()).open(rec!)).toEqual(plaintext);
  });

  it.each(cases)('AES-128-CCM-8 epoch $epoch seq $seq', ({ epoch, seq, type, len }) => {
    const key = fromHex('0f0e0d0c0b0a09080706050403020100');
    const salt = fromHex('deadbeef');
    const plaintext = bytesOf(len, 5);
    const explicit = concat(u16(epoch), u48(seq));
    const c = createCipheriv('aes-128-ccm', key, concat(salt, explicit), { authTagLength: 8 });
    c.setAAD(handAad(epoch, seq, type, len), { plaintextLength: len });
    const body = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
    expect(body.length).toBe(len + 8);
    const expected = concat(new Uint8Array([type, 0xfe, 0xfd]), u16(epoch), u48(seq), u16(8 + body.length), explicit, body);
    const ours = new DtlsAeadProtection(nobleProvider, 'AES-128-CCM-8', key.slice(), salt.slice()).seal(type, plaintext, epoch, seq);
    expect(toHex(ours)).toBe(toHex(expected));
    const [rec] = parseDatagram(expected);
    expect(new DtlsAeadProtection(nobleProvider, 'AES-128-CCM-8', key.slice(), salt.slice()).open(rec!)).toEqual(plaintext);
  });

  it.each(cases)('AES-128-CCM epoch $epoch seq $seq', ({ epoch, seq, type, len }) => {
    const key = fromHex('1f1e1d1c1b1a19181716151413121110');
    const salt = fromHex('01020304');
    const plaintext = bytesOf(len, 6);
    const explicit = concat(u16(epoch), u48(seq));
    const c = createCipheriv('aes-128-ccm', key, concat(salt, explicit), { authTagLength: 16 });
    c.setAAD(handAad(epoch, seq, type, len), { plaintextLength: len });
    const body = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
    const expected = concat(new Uint8Array([type, 0xfe, 0xfd]), u16(epoch), u48(seq), u16(8 + body.length), explicit, body);
    const ours = new DtlsAeadProtection(nobleProvider, 'AES-128-CCM', key.slice(), salt.slice()).seal(type, plaintext, epoch, seq);
    expect(toHex(ours)).toBe(toHex(expected));
  });

  it.each(cases)('CHACHA20-POLY1305 epoch $epoch seq $seq', ({ epoch, seq, type, len }) => {
    const key = bytesOf(32, 11);
    const iv = fromHex('070000004041424344454647');
    const plaintext = bytesOf(len, 7);
    // RFC 7905: nonce = IV XOR (0^32 || epoch(16) || seq(48)).
    const nonce = iv.slice();
    const s = concat(new Uint8Array(4), u16(epoch), u48(seq));
    for (let i = 0; i < 12; i++) nonce[i]! ^= s[i]!;
    const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
    c.setAAD(handAad(epoch, seq, type, len), { plaintextLength: len });
    const body = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
    const expected = concat(new Uint8Array([type, 0xfe, 0xfd]), u16(epoch), u48(seq), u16(body.length), body);
    const ours = new DtlsAeadProtection(nobleProvider, 'CHACHA20-POLY1305', key.slice(), iv.slice()).seal(type, plaintext, epoch, seq);
    expect(toHex(ours)).toBe(toHex(expected));
    const [rec] = parseDatagram(expected);
    expect(new DtlsAeadProtection(nobleProvider, 'CHACHA20-POLY1305', key.slice(), iv.slice()).open(rec!)).toEqual(plaintext);
  });

  it('opens a GCM record whose explicit nonce is not epoch+seq (the sender chooses it)', () => {
    const key = bytesOf(16, 1);
    const salt = bytesOf(4, 2);
    const explicit = fromHex('0102030405060708');
    const c = createCipheriv('aes-128-gcm', key, concat(salt, explicit));
    c.setAAD(handAad(1, 9, APPDATA, 5));
    const body = Buffer.concat([c.update(bytesOf(5)), c.final(), c.getAuthTag()]);
    const rec = concat(new Uint8Array([APPDATA, 0xfe, 0xfd]), u16(1), u48(9), u16(8 + body.length), explicit, body);
    expect(new DtlsAeadProtection(nobleProvider, 'AES-128-GCM', key, salt).open(parseDatagram(rec)[0]!)).toEqual(bytesOf(5));
  });
});

// ---- Record layer behaviour ----

describe('DtlsRecordLayer', () => {
  const gcm = suites[0]!;

  it('epoch 0 is plaintext with the DTLS header; the record version is settable', () => {
    const tx = new DtlsRecordLayer();
    tx.plaintextVersion = 0xfeff;
    const hello = tx.seal(HANDSHAKE, fromHex('0102'));
    expect(toHex(hello)).toBe('16feff' + '0000' + '000000000000' + '0002' + '0102');
    tx.plaintextVersion = 0xfefd;
    expect(toHex(tx.seal(ALERT, fromHex('0228')))).toBe('15fefd' + '0000' + '000000000001' + '0002' + '0228');
    const rx = new DtlsRecordLayer();
    const got = rx.open(hello);
    expect(got).toEqual([{ type: HANDSHAKE, epoch: 0, seq: 0, version: 0xfeff, data: fromHex('0102') }]);
    expect(tx.nextWriteSeq).toBe(2);
  });

  it('never accepts application_data in epoch 0', () => {
    const rx = new DtlsRecordLayer();
    expect(rx.open(encodeDtlsRecord(APPDATA, 0xfefd, 0, 0, bytesOf(5)))).toEqual([]);
    expect(rx.stats.dropped.malformed).toBe(1);
    expect(rx.stats.received).toBe(0);
  });

  it('applies no replay window to plaintext epoch 0 (forged records cannot slide it)', () => {
    const rx = new DtlsRecordLayer();
    const rec = encodeDtlsRecord(HANDSHAKE, 0xfefd, 0, 3, bytesOf(5));
    expect(rx.open(encodeDtlsRecord(HANDSHAKE, 0xfefd, 0, DTLS_MAX_SEQ - 1, bytesOf(5)))).toHaveLength(1);
    expect(rx.open(rec)).toHaveLength(1);
    expect(rx.open(rec)).toHaveLength(1); // duplicates are the handshake layer's business here
  });

  it('buffers next-epoch records until the keys arrive, within bounds', () => {
    const tx = new DtlsRecordLayer();
    const rx = new DtlsRecordLayer();
    tx.setWriteEpoch(1, protection(gcm, 1));
    const early = Array.from({ length: MAX_BUFFERED_RECORDS + 3 }, (_, i) => tx.seal(HANDSHAKE, bytesOf(10, i)));
    const plainCcs = tx.seal(CCS, fromHex('01'), 0); // previous write epoch
    expect(rx.open(concat(...early.slice(0, 5), plainCcs))).toEqual([
      { type: CCS, epoch: 0, seq: 0, version: 0xfefd, data: fromHex('01') },
    ]);
    for (const e of early.slice(5)) expect(rx.open(e)).toEqual([]);
    expect(rx.bufferedRecords).toBe(MAX_BUFFERED_RECORDS);
    expect(rx.stats.buffered).toBe(MAX_BUFFERED_RECORDS);
    expect(rx.stats.dropped.unknownEpoch).toBe(3);
    // Epoch 2 is not "next": dropped, not buffered.
    expect(rx.open(protection(gcm, 2).seal(APPDATA, bytesOf(1), 2, 0))).toEqual([]);
    expect(rx.stats.dropped.unknownEpoch).toBe(4);

    rx.setReadEpoch(1, protection(gcm, 1));
    const fresh = tx.seal(APPDATA, bytesOf(3));
    const got = rx.open(fresh);
    expect(got.map((g) => g.seq)).toEqual([...Array.from({ length: MAX_BUFFERED_RECORDS }, (_, i) => i), MAX_BUFFERED_RECORDS + 3]);
    expect(got[7]!.data).toEqual(bytesOf(10, 7));
    expect(rx.bufferedRecords).toBe(0);
    // The buffered ones went through the replay window.
    expect(rx.open(early[0]!)).toEqual([]);
    expect(rx.stats.dropped.replay).toBe(1);
    // The dropped-for-space ones still open when retransmitted (here: the same bytes).
    expect(rx.open(early[MAX_BUFFERED_RECORDS]!)).toHaveLength(1);
  });

  it('bounds the buffer by bytes and copies buffered records out of the datagram', () => {
    const tx = new DtlsRecordLayer();
    const rx = new DtlsRecordLayer();
    tx.setWriteEpoch(1, protection(gcm, 1));
    const big = Array.from({ length: 4 }, (_, i) => tx.seal(APPDATA, bytesOf(10_000, i)));
    for (const b of big) {
      const copy = b.slice();
      rx.open(copy);
      copy.fill(0); // the caller reuses its buffer
    }
    expect(rx.bufferedRecords).toBe(Math.floor(MAX_BUFFERED_BYTES / big[0]!.length));
    expect(rx.stats.dropped.unknownEpoch).toBe(4 - rx.bufferedRecords);
    rx.setReadEpoch(1, protection(gcm, 1));
    const got = rx.drainBuffered();
    expect(got).toHaveLength(3);
    got.forEach((g, i) => expect(g.data).toEqual(bytesOf(10_000, i)));
  });

  it('drops buffered records when a later epoch than theirs is installed', () => {
    const rx = new DtlsRecordLayer();
    rx.open(protection(gcm, 1).seal(APPDATA, bytesOf(1), 1, 0));
    expect(rx.bufferedRecords).toBe(1);
    rx.setReadEpoch(2, protection(gcm, 2));
    expect(rx.bufferedRecords).toBe(0);
    expect(rx.stats.dropped.unknownEpoch).toBe(1);
    expect(rx.readEpochs).toEqual([2]); // epoch 0 is older than the previous (1)
  });

  it('keeps the previous read epoch only, and can discard it', () => {
    const { tx, rx } = pair(gcm, []);
    const e0 = tx.seal(HANDSHAKE, bytesOf(4));
    tx.setWriteEpoch(1, protection(gcm, 1));
    rx.setReadEpoch(1, protection(gcm, 1));
    expect(rx.readEpochs).toEqual([0, 1]);
    expect(rx.open(e0)).toHaveLength(1); // retransmitted epoch-0 handshake record
    rx.discardPreviousReadEpoch();
    expect(rx.readEpochs).toEqual([1]);
    expect(rx.open(tx.seal(HANDSHAKE, bytesOf(4), 0))).toEqual([]);
    expect(rx.stats.dropped.unknownEpoch).toBe(1);
    expect(() => rx.setReadEpoch(1, protection(gcm, 1))).toThrow();
    expect(() => tx.setWriteEpoch(1, protection(gcm, 1))).toThrow();
  });

  it('wipes the keys of dropped epochs', () => {
    const rx = new DtlsRecordLayer();
    const k1 = keys(gcm, 1);
    rx.setReadEpoch(1, new DtlsAeadProtection(nobleProvider, gcm.name, k1.key, k1.iv));
    rx.setReadEpoch(2, protection(gcm, 2));
    expect(k1.key.some((b) => b !== 0)).toBe(true);
    rx.setReadEpoch(3, protection(gcm, 3));
    expect(k1.key.every((b) => b === 0)).toBe(true);
    expect(k1.iv.every((b) => b === 0)).toBe(true);
  });

  it('starts each write epoch at sequence 0 and refuses to wrap at 2^48', () => {
    const tx = new DtlsRecordLayer();
    tx.seal(HANDSHAKE, bytesOf(1));
    tx.setWriteEpoch(1, protection(gcm, 1));
    expect(tx.nextWriteSeq).toBe(0);
    tx.advanceWriteSequence(DTLS_MAX_SEQ - 1);
    const last = tx.seal(APPDATA, bytesOf(1));
    expect(parseDatagram(last)[0]!.seq).toBe(DTLS_MAX_SEQ - 1);
    expect(() => tx.seal(APPDATA, bytesOf(1))).toThrow(/exhausted/);
    expect(() => tx.advanceWriteSequence(5)).toThrow();
    // The previous write epoch is still usable; older ones are not.
    expect(parseDatagram(tx.seal(HANDSHAKE, bytesOf(1), 0))[0]).toMatchObject({ epoch: 0, seq: 1 });
    expect(() => tx.seal(HANDSHAKE, bytesOf(1), 7)).toThrow();
    tx.setWriteEpoch(2, protection(gcm, 2));
    expect(() => tx.seal(HANDSHAKE, bytesOf(1), 0)).toThrow();
  });

  it('refuses fragments over 2^14', () => {
    const tx = new DtlsRecordLayer();
    expect(() => tx.seal(APPDATA, new Uint8Array(2 ** 14 + 1))).toThrow();
    expect(tx.seal(HANDSHAKE, new Uint8Array(2 ** 14)).length).toBe(2 ** 14 + DTLS_HEADER_LENGTH);
    tx.setWriteEpoch(1, protection(gcm, 1));
    expect(() => tx.seal(APPDATA, new Uint8Array(2 ** 14 + 1))).toThrow();
    // Plaintext records over 2^14 are dropped by the receiver.
    const rx = new DtlsRecordLayer();
    expect(rx.open(encodeDtlsRecord(HANDSHAKE, 0xfefd, 0, 0, new Uint8Array(2 ** 14 + 1)))).toEqual([]);
    expect(rx.stats.dropped.malformed).toBe(1);
  });

  it(`looks at no more than ${MAX_RECORDS_PER_DATAGRAM} records of one datagram`, () => {
    const { tx, rx } = pair(gcm, [1]);
    const recs = Array.from({ length: MAX_RECORDS_PER_DATAGRAM + 10 }, () => tx.seal(APPDATA, bytesOf(1)));
    const got = rx.open(concat(...recs));
    expect(got).toHaveLength(MAX_RECORDS_PER_DATAGRAM);
    expect(rx.stats.dropped.malformed).toBe(1);
  });

  it('counts a damaged datagram tail as malformed once and delivers what came before', () => {
    const { tx, rx } = pair(gcm, [1]);
    const a = tx.seal(APPDATA, bytesOf(10));
    const b = tx.seal(APPDATA, bytesOf(11));
    const got = rx.open(concat(a, b.subarray(0, b.length - 1)));
    expect(got).toHaveLength(1);
    expect(rx.stats.dropped.malformed).toBe(1);
    expect(rx.open(b)).toHaveLength(1);
  });

  it('destroy wipes every key and makes protections unusable', () => {
    const k = keys(gcm, 1);
    const p = new DtlsAeadProtection(nobleProvider, gcm.name, k.key, k.iv);
    const rec = p.seal(APPDATA, bytesOf(3), 1, 0);
    const layer = new DtlsRecordLayer();
    layer.setReadEpoch(1, p);
    layer.destroy();
    expect(k.key.every((b) => b === 0)).toBe(true);
    expect(p.open(parseDatagram(rec)[0]!)).toBeNull();
    expect(() => p.seal(APPDATA, bytesOf(3), 1, 1)).toThrow();
  });

  it('rejects a wrong IV length for the suite', () => {
    expect(() => new DtlsAeadProtection(nobleProvider, 'AES-128-GCM', bytesOf(16), bytesOf(12))).toThrow();
    expect(() => new DtlsAeadProtection(nobleProvider, 'CHACHA20-POLY1305', bytesOf(32), bytesOf(4))).toThrow();
  });
});
