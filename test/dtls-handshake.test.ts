/**
 * DTLS 1.2 handshake transport (src/statem/dtls.ts): fragmentation, reassembly under loss,
 * reordering, duplication and overlap, the memory bounds under hostile input, the
 * retransmission timer, and flights packed into datagrams.
 */
import { describe, expect, it } from 'vitest';
import { TLSError } from '../src/errors.js';
import { ContentType, HandshakeType } from '../src/messages/constants.js';
import {
  DTLS_HANDSHAKE_HEADER_LENGTH,
  DTLS_RECORD_HEADER_LENGTH,
  Flight,
  HandshakeReassembler,
  RetransmitTimer,
  defaultReassemblerLimits,
  fragmentMessage,
  packDatagrams,
  reassemblyCost,
  splitFragments,
  tlsHandshakeBytes,
  transcriptBytes,
  type DtlsHandshakeMessage,
  type FlightRecord,
  type ReassemblyResult,
} from '../src/statem/dtls-flight.js';
import { mulberry32 } from './helpers/random.js';

// ---- helpers ------------------------------------------------------------------------------

/** A fragment with arbitrary header fields (for lies) and the given fragment bytes. */
function rawFragment(type: number, length: number, seq: number, offset: number, fragment: Uint8Array, fragLength = fragment.length): Uint8Array {
  const out = new Uint8Array(DTLS_HANDSHAKE_HEADER_LENGTH + fragment.length);
  out[0] = type;
  out[1] = length >>> 16;
  out[2] = (length >>> 8) & 0xff;
  out[3] = length & 0xff;
  out[4] = seq >>> 8;
  out[5] = seq & 0xff;
  out[6] = offset >>> 16;
  out[7] = (offset >>> 8) & 0xff;
  out[8] = offset & 0xff;
  out[9] = fragLength >>> 16;
  out[10] = (fragLength >>> 8) & 0xff;
  out[11] = fragLength & 0xff;
  out.set(fragment, DTLS_HANDSHAKE_HEADER_LENGTH);
  return out;
}

/** An honest fragment of body[a, b). */
const rangeFragment = (m: DtlsHandshakeMessage, a: number, b: number) => rawFragment(m.type, m.body.length, m.seq, a, m.body.subarray(a, b));

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));

function expectMessages(got: DtlsHandshakeMessage[], want: DtlsHandshakeMessage[]): void {
  expect(got.map((m) => [m.seq, m.type, m.body.length])).toEqual(want.map((m) => [m.seq, m.type, m.body.length]));
  for (let i = 0; i < want.length; i++) expect(same(got[i]!.body, want[i]!.body), `body of seq ${want[i]!.seq}`).toBe(true);
}

/** Feed pieces, collecting everything delivered; checks delivery order across calls. */
function feed(r: HandshakeReassembler, pieces: Uint8Array[], asRecords = false): { delivered: DtlsHandshakeMessage[]; results: ReassemblyResult[] } {
  const delivered: DtlsHandshakeMessage[] = [];
  const results: ReassemblyResult[] = [];
  for (const p of pieces) {
    const before = r.nextSeq;
    const res = asRecords ? r.addRecord(p) : r.add(p);
    results.push(res);
    // Plain checks (not expect) on this hot path: 10^5 pieces per test.
    if (res.messages.some((m, i) => m.seq !== before + i)) throw new Error(`out of order: ${res.messages.map((m) => m.seq)} after ${before}`);
    if (r.nextSeq !== before + res.messages.length) throw new Error(`nextSeq ${r.nextSeq} after delivering ${res.messages.length} from ${before}`);
    if (r.bufferedBytes > r.limits.maxBufferedBytes) throw new Error(`buffered ${r.bufferedBytes} over the bound`);
    delivered.push(...res.messages);
  }
  return { delivered, results };
}

function expectTLSError(fn: () => unknown, code: string, alert?: string): TLSError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(TLSError);
  expect((caught as TLSError).code).toBe(code);
  if (alert !== undefined) expect((caught as TLSError).alert).toBe(alert);
  return caught as TLSError;
}

// ---- framing ------------------------------------------------------------------------------

describe('DTLS handshake framing', () => {
  it('writes the 12-byte header on every fragment', () => {
    const body = mulberry32(1).bytes(250);
    const frags = fragmentMessage(HandshakeType.server_hello, 0x1234, body, 100);
    expect(frags.map((f) => f.length)).toEqual([112, 112, 62]);
    const parsed = frags.map((f) => splitFragments(f).fragments[0]!);
    expect(parsed.map((f) => [f.msgType, f.length, f.messageSeq, f.fragmentOffset, f.fragmentLength])).toEqual([
      [2, 250, 0x1234, 0, 100],
      [2, 250, 0x1234, 100, 100],
      [2, 250, 0x1234, 200, 50],
    ]);
    expect([...frags[1]!.subarray(0, 12)]).toEqual([2, 0, 0, 250, 0x12, 0x34, 0, 0, 100, 0, 0, 100]);
    expect(same(parsed[2]!.fragment, body.subarray(200))).toBe(true);
  });

  it('sends an empty message as one fragment', () => {
    const frags = fragmentMessage(HandshakeType.server_hello_done, 3, new Uint8Array(0), 100);
    expect(frags).toHaveLength(1);
    expect([...frags[0]!]).toEqual([14, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0]);
  });

  it('a message that fits exactly is one fragment; one byte more is two', () => {
    expect(fragmentMessage(1, 0, new Uint8Array(100), 100)).toHaveLength(1);
    expect(fragmentMessage(1, 0, new Uint8Array(101), 100)).toHaveLength(2);
  });

  it('hashes the message as if sent in one fragment (RFC 6347 4.2.6)', () => {
    const body = mulberry32(2).bytes(3000);
    const t = transcriptBytes(HandshakeType.certificate, 2, body);
    expect([...t.subarray(0, 12)]).toEqual([11, 0, 0x0b, 0xb8, 0, 2, 0, 0, 0, 0, 0x0b, 0xb8]);
    expect(same(t, fragmentMessage(HandshakeType.certificate, 2, body, 5000)[0]!)).toBe(true);
    expect(same(t.subarray(12), body)).toBe(true);
    expect([...tlsHandshakeBytes(11, body).subarray(0, 4)]).toEqual([11, 0, 0x0b, 0xb8]);
  });

  it('splits back-to-back fragments and reports trailing bytes', () => {
    const a = fragmentMessage(1, 0, new Uint8Array(10), 4);
    const payload = new Uint8Array([...a[0]!, ...a[1]!, ...a[2]!, 9, 9, 9]);
    const { fragments, trailing } = splitFragments(payload);
    expect(fragments.map((f) => f.fragmentOffset)).toEqual([0, 4, 8]);
    expect(trailing).toBe(3);
  });

  it('refuses nonsense arguments with a TLSError', () => {
    expectTLSError(() => fragmentMessage(1, 0, new Uint8Array(1), 0), 'ERR_TLS_INTERNAL_ERROR');
    expectTLSError(() => fragmentMessage(1, 65536, new Uint8Array(1), 10), 'ERR_TLS_INTERNAL_ERROR');
    expectTLSError(() => fragmentMessage(256, 0, new Uint8Array(1), 10), 'ERR_TLS_INTERNAL_ERROR');
  });
});

// ---- reassembly ---------------------------------------------------------------------------

describe('HandshakeReassembler: fragment, shuffle, duplicate, reassemble', () => {
  const sizes = [0, 1, 100, 1199, 1200, 5000, 70000];
  const types = [HandshakeType.server_hello_done, HandshakeType.finished, HandshakeType.server_hello, HandshakeType.client_key_exchange, HandshakeType.certificate_request, HandshakeType.server_key_exchange, HandshakeType.certificate];

  for (const fragSize of [1, 7, 100, 500]) {
    for (const asRecords of [false, true]) {
      it(`sizes ${sizes.join('/')} in fragments of ${fragSize}${asRecords ? ', several per record' : ''}`, () => {
        const rng = mulberry32(fragSize * 31 + (asRecords ? 1 : 0));
        const msgs: DtlsHandshakeMessage[] = sizes.map((n, seq) => ({ type: types[seq]!, seq, body: rng.bytes(n) }));
        let pieces = msgs.flatMap((m) => fragmentMessage(m.type, m.seq, m.body, fragSize));
        pieces = rng.shuffle([...pieces, ...pieces.filter(() => rng.chance(0.5))]);
        if (asRecords) {
          const records: Uint8Array[] = [];
          for (let i = 0; i < pieces.length; ) {
            const n = rng.between(1, 4);
            records.push(Buffer.concat(pieces.slice(i, i + n)));
            i += n;
          }
          pieces = records;
        }
        const r = new HandshakeReassembler();
        const { delivered, results } = feed(r, pieces, asRecords);
        expectMessages(delivered, msgs);
        expect(r.nextSeq).toBe(msgs.length);
        expect(r.bufferedBytes).toBe(0);
        expect(r.pendingMessages).toBe(0);
        expect(results.reduce((n, x) => n + x.dropped, 0)).toBe(0);
        expect(r.stats.lying + r.stats.mismatch + r.stats.malformed + r.stats.outOfWindow + r.stats.overBudget).toBe(0);
      });
    }
  }

  it('delivers in order even when the last message completes first', () => {
    const rng = mulberry32(3);
    const msgs = [0, 1, 2].map((seq) => ({ type: 2 + seq, seq, body: rng.bytes(50) }));
    const r = new HandshakeReassembler();
    expect(r.add(fragmentMessage(4, 2, msgs[2]!.body, 100)[0]!).messages).toEqual([]);
    expect(r.add(fragmentMessage(3, 1, msgs[1]!.body, 100)[0]!).messages).toEqual([]);
    expect(r.pendingMessages).toBe(2);
    const res = r.add(fragmentMessage(2, 0, msgs[0]!.body, 100)[0]!);
    expectMessages(res.messages, msgs);
    expect(res.retransmission).toBe(false);
  });

  it('seeded property: random flights, fragmentation, order, duplication, overlap, loss, then retransmission of everything', () => {
    for (let seed = 1; seed <= 150; seed++) {
      const rng = mulberry32(seed);
      const r = new HandshakeReassembler();
      let seq = 0;
      let previous: DtlsHandshakeMessage[] = [];
      const all: DtlsHandshakeMessage[] = [];
      const delivered: DtlsHandshakeMessage[] = [];
      const flights = rng.between(1, 5);
      for (let f = 0; f < flights; f++) {
        const flight: DtlsHandshakeMessage[] = [];
        for (let i = rng.between(1, 6); i > 0; i--) {
          const big = rng.chance(0.1);
          const n = rng.chance(0.15) ? 0 : big ? rng.between(5000, 30000) : rng.between(1, 3000);
          flight.push({ type: big ? HandshakeType.certificate : rng.between(0, 30), seq: seq++, body: rng.bytes(n) });
        }
        all.push(...flight);
        // First transmission: random fragment sizes, some messages fragmented twice
        // differently, some arbitrary overlapping ranges, duplicates, loss.
        let pieces: Uint8Array[] = [];
        for (const m of flight) {
          pieces.push(...fragmentMessage(m.type, m.seq, m.body, rng.between(1, 1500)));
          if (rng.chance(0.5)) pieces.push(...fragmentMessage(m.type, m.seq, m.body, rng.between(1, 1500)));
          for (let k = rng.between(0, 3); k > 0 && m.body.length > 0; k--) {
            const a = rng.between(0, m.body.length - 1);
            pieces.push(rangeFragment(m, a, rng.between(a + 1, m.body.length)));
          }
        }
        pieces.push(...pieces.filter(() => rng.chance(0.3)));
        const loss = rng.next() * 0.6;
        pieces = pieces.filter(() => !rng.chance(loss));
        // The peer's previous flight, retransmitted (it lost ours).
        const stale = previous.length > 0 && rng.chance(0.5) ? previous.flatMap((m) => fragmentMessage(m.type, m.seq, m.body, rng.between(50, 1500))) : [];
        pieces = rng.shuffle([...pieces, ...stale]);
        const first = feed(r, pieces, false);
        delivered.push(...first.delivered);
        if (stale.length > 0) expect(first.results.some((x) => x.retransmission)).toBe(true);
        // Our timer fires, we retransmit, the peer retransmits the whole flight: no loss this time.
        let again = flight.flatMap((m) => fragmentMessage(m.type, m.seq, m.body, rng.between(1, 1500)));
        again = rng.shuffle([...again, ...again.filter(() => rng.chance(0.2))]);
        delivered.push(...feed(r, again, false).delivered);
        expect(r.nextSeq).toBe(seq);
        expect(r.bufferedBytes).toBe(0);
        previous = flight;
      }
      expectMessages(delivered, all);
      expect(r.stats.lying + r.stats.mismatch + r.stats.malformed + r.stats.outOfWindow + r.stats.overBudget).toBe(0);
    }
  });
});

describe('HandshakeReassembler: retransmissions and the cookie exchange', () => {
  it('reports a fragment of an already delivered message as a retransmission, and nothing else does', () => {
    const r = new HandshakeReassembler();
    const body = new Uint8Array(300).fill(7);
    const frags = fragmentMessage(HandshakeType.server_hello, 0, body, 100);
    const results = frags.map((f) => r.add(f));
    expect(results.map((x) => x.retransmission)).toEqual([false, false, false]);
    expect(results[2]!.messages).toHaveLength(1);
    const again = r.add(frags[1]!);
    expect(again).toEqual({ messages: [], retransmission: true, dropped: 0 });
    expect(r.bufferedBytes).toBe(0);
    // A future message is not a retransmission.
    expect(r.add(fragmentMessage(11, 2, body, 100)[0]!).retransmission).toBe(false);
  });

  it('message_seq across HelloVerifyRequest (RFC 6347 4.2.2)', () => {
    // Client: HVR is seq 0, ServerHello seq 1; the retransmitted HVR is seen as one.
    const client = new HandshakeReassembler();
    const hvr = client.add(fragmentMessage(HandshakeType.hello_verify_request, 0, new Uint8Array([0xfe, 0xfd, 2, 9, 9]), 100)[0]!);
    expect(hvr.messages.map((m) => [m.type, m.seq])).toEqual([[3, 0]]);
    expect(client.add(fragmentMessage(HandshakeType.hello_verify_request, 0, new Uint8Array([0xfe, 0xfd, 2, 9, 9]), 100)[0]!).retransmission).toBe(true);
    expect(client.add(fragmentMessage(HandshakeType.server_hello, 1, new Uint8Array(70), 100)[0]!).messages.map((m) => m.seq)).toEqual([1]);

    // Stateless server: the ClientHello with the cookie (seq 1) was handled before the
    // connection existed; the connection starts expecting seq 2.
    const server = new HandshakeReassembler({}, 2);
    expect(server.add(fragmentMessage(HandshakeType.client_hello, 1, new Uint8Array(40), 100)[0]!).retransmission).toBe(true);
    expect(server.add(fragmentMessage(HandshakeType.client_key_exchange, 2, new Uint8Array(33), 100)[0]!).messages.map((m) => m.seq)).toEqual([2]);
  });

  it('reset() forgets buffered messages and moves the window', () => {
    const r = new HandshakeReassembler();
    r.add(fragmentMessage(2, 1, new Uint8Array(1000), 100)[0]!);
    r.add(fragmentMessage(2, 3, new Uint8Array(1000), 100)[0]!);
    expect(r.pendingMessages).toBe(2);
    expect(r.bufferedBytes).toBe(2 * reassemblyCost(1000));
    r.reset(2);
    expect(r.pendingMessages).toBe(0);
    expect(r.bufferedBytes).toBe(0);
    expect(r.nextSeq).toBe(2);
    expect(r.add(fragmentMessage(2, 1, new Uint8Array(10), 100)[0]!).retransmission).toBe(true);
    // The message at seq 3 must be received again in full: the old fragment was forgotten.
    const frags = fragmentMessage(2, 3, new Uint8Array(1000).fill(1), 100);
    expect(feed(r, [fragmentMessage(2, 2, new Uint8Array(0), 100)[0]!, ...frags.slice(1)]).delivered.map((m) => m.seq)).toEqual([2]);
    expect(r.add(frags[0]!).messages.map((m) => m.seq)).toEqual([3]);
    expectTLSError(() => r.reset(-1), 'ERR_TLS_INTERNAL_ERROR');
  });
});

describe('HandshakeReassembler: bounds and hostile input', () => {
  it('refuses a message over the per-type limit at its first fragment, before buffering', () => {
    const r = new HandshakeReassembler();
    const tooBig = 64 * 1024 + 1;
    for (const offset of [0, 30000]) {
      const err = expectTLSError(() => r.add(rawFragment(HandshakeType.server_hello, tooBig, 0, offset, new Uint8Array(10))), 'ERR_TLS_HANDSHAKE_MESSAGE_TOO_LARGE', 'illegal_parameter');
      expect(err.description).toBe(47);
      expect(r.bufferedBytes).toBe(0);
      expect(r.pendingMessages).toBe(0);
    }
    // Certificate has its own, larger, limit.
    expectTLSError(() => r.add(rawFragment(HandshakeType.certificate, 256 * 1024 + 1, 1, 0, new Uint8Array(1))), 'ERR_TLS_HANDSHAKE_MESSAGE_TOO_LARGE');
    expect(r.bufferedBytes).toBe(0);
    // At the limit is fine.
    r.add(rawFragment(HandshakeType.certificate, 256 * 1024, 1, 0, new Uint8Array(1)));
    r.add(rawFragment(HandshakeType.client_hello, 64 * 1024, 0, 0, new Uint8Array(1)));
    expect(r.bufferedBytes).toBe(reassemblyCost(256 * 1024) + reassemblyCost(64 * 1024));
    // Configured limits apply.
    const small = new HandshakeReassembler({ maxMessage: 1000 });
    expectTLSError(() => small.add(rawFragment(2, 1001, 0, 0, new Uint8Array(1))), 'ERR_TLS_HANDSHAKE_MESSAGE_TOO_LARGE');
    small.add(rawFragment(2, 1000, 0, 0, new Uint8Array(1)));
  });

  it('a huge length on a fragment outside the window is dropped, not fatal (spoofable)', () => {
    const r = new HandshakeReassembler();
    r.add(fragmentMessage(2, 0, new Uint8Array(1), 10)[0]!);
    expect(r.add(rawFragment(1, 0xffffff, 0, 0, new Uint8Array(1))).retransmission).toBe(true);
    expect(r.add(rawFragment(1, 0xffffff, 500, 0, new Uint8Array(1))).dropped).toBe(1);
  });

  it('drops a flood of fragments far ahead of the window', () => {
    const r = new HandshakeReassembler();
    const rng = mulberry32(4);
    let dropped = 0;
    for (let seq = defaultReassemblerLimits.maxMessagesAhead; seq <= 0xffff; seq++) {
      dropped += r.add(rawFragment(HandshakeType.certificate, 60000, seq, rng.between(0, 59000), rng.bytes(rng.between(1, 1000)))).dropped;
    }
    expect(dropped).toBe(0x10000 - 8);
    expect(r.stats.outOfWindow).toBe(dropped);
    expect(r.bufferedBytes).toBe(0);
    expect(r.pendingMessages).toBe(0);
    // The last seq inside the window is buffered.
    r.add(rawFragment(2, 100, 7, 0, new Uint8Array(10)));
    expect(r.pendingMessages).toBe(1);
  });

  it('keeps buffered bytes under the bound when the window is flooded, and still takes the next message', () => {
    const r = new HandshakeReassembler();
    const max = r.limits.maxBufferedBytes;
    expect(max).toBe(512 * 1024);
    const rng = mulberry32(5);
    let overBudget = 0;
    for (let i = 0; i < 20000; i++) {
      const seq = rng.between(1, 7);
      const res = r.add(rawFragment(HandshakeType.certificate, 256 * 1024, seq, rng.between(0, 256 * 1024 - 10), rng.bytes(10)));
      overBudget += res.dropped;
      expect(r.bufferedBytes).toBeLessThanOrEqual(max);
    }
    expect(overBudget).toBeGreaterThan(0);
    expect(r.stats.overBudget).toBe(overBudget);
    // The genuine next message pushes the bogus future ones out.
    const cert = rng.bytes(250 * 1024);
    const { delivered } = feed(r, rng.shuffle(fragmentMessage(HandshakeType.certificate, 0, cert, 1000)));
    expect(delivered).toHaveLength(1);
    expect(same(delivered[0]!.body, cert)).toBe(true);
    expect(r.stats.evicted).toBeGreaterThan(0);
    expect(r.bufferedBytes).toBeLessThanOrEqual(max);
  });

  it('drops fragments with lying offsets, lengths or types', () => {
    const r = new HandshakeReassembler();
    const body = mulberry32(6).bytes(300);
    const m = { type: HandshakeType.server_hello, seq: 0, body };
    // offset + fragment_length > length
    expect(r.add(rawFragment(2, 300, 0, 250, new Uint8Array(51))).dropped).toBe(1);
    expect(r.add(rawFragment(2, 0, 0, 0, new Uint8Array(1))).dropped).toBe(1);
    expect(r.add(rawFragment(2, 10, 0, 0xffffff, new Uint8Array(1))).dropped).toBe(1);
    expect(r.stats.lying).toBe(3);
    expect(r.pendingMessages).toBe(0);
    // The first fragment fixes type and length; disagreeing fragments are dropped unapplied.
    expect(r.add(rangeFragment(m, 0, 100)).dropped).toBe(0);
    expect(r.add(rawFragment(2, 400, 0, 100, new Uint8Array(200))).dropped).toBe(1);
    expect(r.add(rawFragment(2, 200, 0, 100, new Uint8Array(100))).dropped).toBe(1);
    expect(r.add(rawFragment(12, 300, 0, 100, new Uint8Array(200))).dropped).toBe(1);
    expect(r.stats.mismatch).toBe(3);
    // fragment_length larger than what the record carries
    expect(r.add(rawFragment(2, 300, 0, 100, body.subarray(100, 150), 200)).dropped).toBe(1);
    // trailing garbage after one fragment given to add()
    expect(r.add(new Uint8Array([...rangeFragment(m, 100, 200), 0])).dropped).toBe(1);
    expect(r.addRecord(new Uint8Array([...rangeFragment(m, 100, 200), 1, 2, 3])).dropped).toBe(1);
    expect(r.stats.malformed).toBe(3);
    // Nothing bogus got in: the honest rest completes the honest message.
    const res = r.add(rangeFragment(m, 200, 300));
    expectMessages(res.messages, [m]);
  });

  it('overlapping bytes: the first copy received wins', () => {
    const r = new HandshakeReassembler();
    const body = new Uint8Array(20).fill(1);
    r.add(rawFragment(2, 20, 0, 5, body.subarray(5, 10)));
    const res = r.add(rawFragment(2, 20, 0, 0, new Uint8Array(20).fill(9)));
    expect([...res.messages[0]!.body]).toEqual([9, 9, 9, 9, 9, 1, 1, 1, 1, 1, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]);
  });

  it('ignores zero-length fragments of non-empty messages', () => {
    const r = new HandshakeReassembler();
    const res = r.add(rawFragment(2, 100, 0, 50, new Uint8Array(0)));
    expect(res).toEqual({ messages: [], retransmission: false, dropped: 0 });
    expect(r.pendingMessages).toBe(0);
    expect(r.bufferedBytes).toBe(0);
    expect(r.stats.empty).toBe(1);
    // ...while a zero-length message is complete at once.
    expect(r.add(rawFragment(14, 0, 0, 0, new Uint8Array(0))).messages).toEqual([{ type: 14, seq: 0, body: new Uint8Array(0) }]);
  });

  it('never throws anything but the size TLSError on random and mutated input', () => {
    const rng = mulberry32(7);
    const valid = fragmentMessage(HandshakeType.certificate, 0, rng.bytes(5000), 300).concat(fragmentMessage(2, 1, rng.bytes(100), 30));
    for (let round = 0; round < 20; round++) {
      const r = new HandshakeReassembler({ maxBufferedBytes: reassemblyCost(256 * 1024) + 1000 });
      for (let i = 0; i < 2000; i++) {
        let input: Uint8Array;
        const kind = rng.between(0, 2);
        if (kind === 0) input = rng.bytes(rng.between(0, 64));
        else {
          input = Buffer.concat(Array.from({ length: rng.between(1, 3) }, () => valid[rng.between(0, valid.length - 1)]!));
          for (let k = rng.between(kind === 1 ? 1 : 0, 4); k > 0; k--) input[rng.between(0, input.length - 1)] = rng.between(0, 255);
          if (rng.chance(0.2)) input = input.subarray(0, rng.between(0, input.length));
        }
        try {
          if (rng.chance(0.5)) r.addRecord(input);
          else r.add(input);
        } catch (err) {
          expect(err).toBeInstanceOf(TLSError);
          expect((err as TLSError).code).toBe('ERR_TLS_HANDSHAKE_MESSAGE_TOO_LARGE');
        }
        expect(r.bufferedBytes).toBeLessThanOrEqual(r.limits.maxBufferedBytes);
        expect(r.pendingMessages).toBeLessThanOrEqual(r.limits.maxMessagesAhead);
      }
    }
  });

  it('checks its own limits', () => {
    expectTLSError(() => new HandshakeReassembler({ maxBufferedBytes: 1000 }), 'ERR_TLS_INVALID_OPTION');
    expectTLSError(() => new HandshakeReassembler({ maxMessagesAhead: 0 }), 'ERR_TLS_INVALID_OPTION');
    expectTLSError(() => new HandshakeReassembler({ maxMessage: -1 }), 'ERR_TLS_INVALID_OPTION');
    // A larger certificate limit raises the default budget with it.
    const big = new HandshakeReassembler({ maxCertificate: 1024 * 1024 });
    expect(big.limits.maxBufferedBytes).toBeGreaterThanOrEqual(reassemblyCost(1024 * 1024));
  });
});

// ---- retransmission timer -----------------------------------------------------------------

describe('RetransmitTimer', () => {
  it('starts at 1 s and doubles on every expiry up to 60 s', () => {
    const t = new RetransmitTimer({ maxRetransmissions: 10 });
    expect(t.nextTimeout()).toBeUndefined();
    expect(t.expired(1e9)).toBe(false);
    let now = 5000;
    t.start(now);
    expect(t.nextTimeout()).toBe(6000);
    const waits: number[] = [t.nextTimeout()! - now];
    for (let i = 0; i < 9; i++) {
      now = t.nextTimeout()!;
      expect(t.expired(now - 1)).toBe(false);
      expect(t.expired(now)).toBe(true);
      const deadline = t.backoff(now);
      expect(t.nextTimeout()).toBe(deadline);
      waits.push(deadline - now);
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000, 60000]);
    expect(t.retransmissions).toBe(9);
  });

  it('goes back to the initial value when the flight completes', () => {
    const t = new RetransmitTimer();
    t.start(0);
    t.backoff(1000);
    t.backoff(3000);
    expect(t.timeoutMs).toBe(4000);
    t.stop();
    expect(t.armed).toBe(false);
    expect(t.nextTimeout()).toBeUndefined();
    expect(t.expired(1e12)).toBe(false);
    expect(t.timeoutMs).toBe(1000);
    expect(t.retransmissions).toBe(0);
    t.start(10_000);
    expect(t.nextTimeout()).toBe(11_000);
  });

  it('gives up after the configured number of retransmissions', () => {
    for (const max of [0, 1, 6]) {
      const t = max === 6 ? new RetransmitTimer() : new RetransmitTimer({ maxRetransmissions: max });
      let now = 0;
      t.start(now);
      for (let i = 0; i < max; i++) {
        now = t.nextTimeout()!;
        t.backoff(now);
      }
      now = t.nextTimeout()!;
      expect(t.expired(now)).toBe(true);
      expectTLSError(() => t.backoff(now), 'ERR_TLS_HANDSHAKE_TIMEOUT');
      expect(t.armed).toBe(false);
      if (max === 6) expect(now).toBe(1000 + 2000 + 4000 + 8000 + 16000 + 32000 + 60000);
    }
  });

  it('takes other bounds', () => {
    const t = new RetransmitTimer({ initialMs: 400, maxMs: 1000, maxRetransmissions: 3 });
    t.start(0);
    expect([t.nextTimeout(), t.backoff(400), t.backoff(1200), t.backoff(2200)]).toEqual([400, 1200, 2200, 3200]);
    expectTLSError(() => t.backoff(3200), 'ERR_TLS_HANDSHAKE_TIMEOUT');
    expectTLSError(() => new RetransmitTimer({ initialMs: 0 }), 'ERR_TLS_INVALID_OPTION');
    expectTLSError(() => new RetransmitTimer({ initialMs: 2000, maxMs: 1000 }), 'ERR_TLS_INVALID_OPTION');
  });
});

// ---- flights ------------------------------------------------------------------------------

/** A stand-in record layer: header, payload, then `expansion(epoch)` bytes; a fresh sequence number each time. */
function fakeProtect(expansion: (epoch: number) => number) {
  let seq = 0;
  const sent: { seq: number; record: FlightRecord }[] = [];
  const protect = (record: FlightRecord) => {
    const n = record.payload.length + expansion(record.epoch);
    const out = new Uint8Array(DTLS_RECORD_HEADER_LENGTH + n);
    out[0] = record.contentType;
    out[1] = 0xfe;
    out[2] = 0xfd;
    out[3] = record.epoch >>> 8;
    out[4] = record.epoch & 0xff;
    out[10] = seq & 0xff;
    out[9] = (seq >>> 8) & 0xff;
    out[11] = n >>> 8;
    out[12] = n & 0xff;
    out.set(record.payload, DTLS_RECORD_HEADER_LENGTH);
    sent.push({ seq: seq++, record });
    return out;
  };
  return { protect, sent };
}

/** Parse datagrams back into (contentType, plaintext payload) records. */
function openDatagrams(datagrams: Uint8Array[], expansion: (epoch: number) => number): { contentType: number; epoch: number; payload: Uint8Array }[] {
  const out: { contentType: number; epoch: number; payload: Uint8Array }[] = [];
  for (const d of datagrams) {
    let at = 0;
    while (at < d.length) {
      const epoch = (d[at + 3]! << 8) | d[at + 4]!;
      const n = (d[at + 11]! << 8) | d[at + 12]!;
      const start = at + DTLS_RECORD_HEADER_LENGTH;
      out.push({ contentType: d[at]!, epoch, payload: d.subarray(start, start + n - expansion(epoch)) });
      at = start + n;
    }
    expect(at).toBe(d.length);
  }
  return out;
}

describe('Flight', () => {
  const expansion = (epoch: number) => (epoch === 0 ? 0 : 24);
  const overhead = (epoch: number) => DTLS_RECORD_HEADER_LENGTH + expansion(epoch);

  it('packs records into datagrams that never exceed the MTU, and round-trips', () => {
    const rng = mulberry32(8);
    for (let round = 0; round < 200; round++) {
      const mtu = rng.chance(0.3) ? 1200 : rng.between(64, 1500);
      const flight = new Flight({ mtu, overhead });
      const msgs: DtlsHandshakeMessage[] = [];
      let seq = rng.between(0, 3);
      for (let i = rng.between(1, 6); i > 0; i--) {
        const epoch = i === 1 && rng.chance(0.5) ? 1 : 0;
        if (epoch === 1) flight.addChangeCipherSpec(0);
        const m = { type: rng.between(1, 20), seq: seq++, body: rng.bytes(rng.chance(0.2) ? rng.between(0, 40) : rng.between(0, 9000)) };
        msgs.push(m);
        flight.addHandshake(epoch, m.type, m.seq, m.body);
      }
      for (const rec of flight.records) {
        expect(rec.payload.length + overhead(rec.epoch)).toBeLessThanOrEqual(mtu);
        if (rec.contentType === ContentType.handshake) expect(rec.payload.length - DTLS_HANDSHAKE_HEADER_LENGTH).toBeLessThanOrEqual(flight.maxFragmentBody(rec.epoch));
      }
      const { protect } = fakeProtect(expansion);
      const datagrams = flight.datagrams(protect);
      for (const d of datagrams) expect(d.length).toBeLessThanOrEqual(mtu);
      // Greedy packing: no two neighbouring datagrams could have been one.
      for (let i = 1; i < datagrams.length; i++) {
        const firstOfNext = openDatagrams([datagrams[i]!], expansion)[0]!;
        expect(datagrams[i - 1]!.length + DTLS_RECORD_HEADER_LENGTH + firstOfNext.payload.length + expansion(firstOfNext.epoch)).toBeGreaterThan(mtu);
      }
      const records = openDatagrams(datagrams, expansion);
      const r = new HandshakeReassembler({}, msgs[0]!.seq);
      const delivered = feed(
        r,
        records.filter((x) => x.contentType === ContentType.handshake).map((x) => x.payload),
        true,
      ).delivered;
      expectMessages(delivered, msgs);
    }
  });

  it('puts several small records in one datagram', () => {
    const flight = new Flight();
    flight.addHandshake(0, HandshakeType.certificate, 2, new Uint8Array(300));
    flight.addHandshake(0, HandshakeType.client_key_exchange, 3, new Uint8Array(33));
    flight.addHandshake(0, HandshakeType.certificate_verify, 4, new Uint8Array(72));
    flight.addChangeCipherSpec(0);
    flight.addHandshake(1, HandshakeType.finished, 5, new Uint8Array(12));
    expect(flight.records).toHaveLength(5);
    const datagrams = flight.datagrams(fakeProtect(expansion).protect);
    expect(datagrams).toHaveLength(1);
  });

  it('fragments for the default MTU of 1200 with the default overhead', () => {
    const flight = new Flight();
    expect(flight.mtu).toBe(1200);
    expect(flight.maxFragmentBody(0)).toBe(1200 - 13 - 24 - 12);
    flight.addHandshake(0, HandshakeType.certificate, 1, new Uint8Array(5000));
    expect(flight.records.map((r) => r.payload.length)).toEqual([1163, 1163, 1163, 1163, 12 + 5000 - 4 * 1151]);
    for (const d of flight.datagrams(fakeProtect(() => 24).protect)) expect(d.length).toBeLessThanOrEqual(1200);
  });

  it('retransmits with new record sequence numbers and the same message_seq', () => {
    const flight = new Flight({ mtu: 300 });
    flight.addHandshake(0, HandshakeType.server_hello, 1, new Uint8Array(500).fill(3));
    flight.addHandshake(0, HandshakeType.server_hello_done, 2, new Uint8Array(0));
    const { protect, sent } = fakeProtect(expansion);
    const first = flight.datagrams(protect);
    const second = flight.datagrams(protect);
    const n = flight.records.length;
    expect(sent).toHaveLength(2 * n);
    expect(sent.slice(n).map((s) => s.seq)).toEqual(sent.slice(0, n).map((s) => s.seq + n));
    expect(sent.slice(n).map((s) => s.record)).toEqual(sent.slice(0, n).map((s) => s.record));
    const seqs = (ds: Uint8Array[]) => openDatagrams(ds, expansion).map((x) => splitFragments(x.payload).fragments[0]!.messageSeq);
    expect(seqs(second)).toEqual(seqs(first));
    expect(first.map((d) => d.length)).toEqual(second.map((d) => d.length));
  });

  it('re-fragments when the MTU shrinks', () => {
    const flight = new Flight({ overhead: 37 });
    flight.addHandshake(0, HandshakeType.certificate, 0, new Uint8Array(3000));
    const before = flight.records.length;
    flight.setMtu(400);
    expect(flight.records.length).toBeGreaterThan(before);
    for (const d of flight.datagrams(fakeProtect(() => 24).protect)) expect(d.length).toBeLessThanOrEqual(400);
    flight.clear();
    expect(flight.empty).toBe(true);
    expect(flight.records).toEqual([]);
  });

  it('refuses to emit a datagram over the MTU', () => {
    expectTLSError(() => packDatagrams([new Uint8Array(1201)], 1200), 'ERR_TLS_RECORD_EXCEEDS_MTU');
    expect(packDatagrams([new Uint8Array(1200), new Uint8Array(1), new Uint8Array(1199)], 1200).map((d) => d.length)).toEqual([1200, 1200]);
    // The overhead was under-declared: the record layer adds more than the flight allowed for.
    const flight = new Flight({ mtu: 500, overhead: 13 });
    flight.addHandshake(1, HandshakeType.certificate, 0, new Uint8Array(2000));
    expectTLSError(() => flight.datagrams(fakeProtect(() => 24).protect), 'ERR_TLS_RECORD_EXCEEDS_MTU');
    expectTLSError(() => new Flight({ mtu: 20 }), 'ERR_TLS_INTERNAL_ERROR');
    expectTLSError(() => new Flight({ mtu: 500 }).addRecord(0, ContentType.alert, new Uint8Array(480)), 'ERR_TLS_INTERNAL_ERROR');
  });
});
