/**
 * The TLS record layer over a byte stream: cuts incoming bytes into records, opens them
 * with the current read protection, and frames outgoing data into records no larger
 * than the negotiated limit. Buffering is bounded by one record: bytes are consumed as
 * soon as a whole record is there.
 */
import { TLSError } from '../errors.js';
import { ContentType } from '../messages/constants.js';
import { MAX_CIPHERTEXT_EXPANSION, MAX_FRAGMENT, NullProtection, type Opened, type RecordProtection } from './protection.js';

const KNOWN_TYPES = new Set<number>(Object.values(ContentType));

/** `the peer does not speak TLS (received 'HTTP/1.1 400 Bad Request…')`: the first line of what came, escaped. */
function notTls(bytes: Uint8Array, knownType: boolean): TLSError {
  let text = '';
  let i = 0;
  for (; i < bytes.length && i < 32; i++) {
    const c = bytes[i]!;
    if (c === 0x0d || c === 0x0a) break;
    text += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  }
  // Only the start of what the peer sent is at hand: more may follow.
  return new TLSError(knownType ? 'decode_error' : 'unexpected_message', `the peer does not speak TLS (received '${text}…')`);
}

/**
 * A new byte array of `n` bytes for records, every byte of which the caller overwrites:
 * on Node, from Buffer.allocUnsafe (no zeroing; pooled when small), as a plain Uint8Array.
 */
const allocUnsafe: (n: number) => Uint8Array = (() => {
  const B = (globalThis as { Buffer?: { allocUnsafe(n: number): Uint8Array } }).Buffer;
  if (!B || typeof B.allocUnsafe !== 'function') return (n: number) => new Uint8Array(n);
  return (n: number) => {
    const b = B.allocUnsafe(n);
    return new Uint8Array(b.buffer, b.byteOffset, n);
  };
})();

const EMPTY = new Uint8Array(0);

export class RecordLayer {
  private readProtection: RecordProtection = new NullProtection();
  private writeProtection: RecordProtection = new NullProtection();
  /**
   * Bytes received and not yet cut into records: `buf[start..end)`. Between `feed` and
   * `settle` this may be the caller's own array (borrowed, read in place); `settle` copies
   * what is left of it (a partial record) into storage of our own. With nothing buffered
   * no storage is kept at all.
   */
  private buf: Uint8Array = EMPTY;
  private start = 0;
  private end = 0;
  private borrowed = false;
  /** A valid record header was read: later bad headers are bad records, not a peer that is not TLS. */
  private seenRecord = false;
  /** Largest plaintext fragment we send (record_size_limit lowers it). */
  maxSendFragment = MAX_FRAGMENT;
  /**
   * Bytes of a client's early data still to skip, unread (RFC 8446 4.2.10: a server that
   * does not take 0-RTT drops records it cannot decrypt, or, after a HelloRetryRequest,
   * protected records arriving in the clear, up to max_early_data_size). 0: skip nothing.
   */
  private earlyDataToSkip = 0;

  /** Start skipping a client's early data, up to `maxEarlyDataSize` bytes of it. */
  skipEarlyData(maxEarlyDataSize: number): void {
    this.earlyDataToSkip = maxEarlyDataSize;
  }

  get readEncrypted(): boolean {
    return this.readProtection.encrypted;
  }
  get writeEncrypted(): boolean {
    return this.writeProtection.encrypted;
  }
  /** Records sealed under the current write key (the AEAD usage limits count these). */
  get sealedRecords(): number {
    return this.writeProtection.sealedRecords;
  }

  setReadProtection(p: RecordProtection): void {
    this.readProtection.destroy();
    this.readProtection = p;
  }
  setWriteProtection(p: RecordProtection): void {
    this.writeProtection.destroy();
    this.writeProtection = p;
  }

  /** Bytes received and not yet cut into a record. */
  get buffered(): number {
    return this.end - this.start;
  }

  /**
   * Bytes received. `data` may be read in place until `settle` (or the next `feed`), so
   * the caller must not change it before then; `Connection.feed` settles before it returns.
   */
  feed(data: Uint8Array): void {
    if (data.length === 0) return;
    if (this.start === this.end) {
      // Nothing pending: read the caller's bytes where they are.
      this.buf = data;
      this.start = 0;
      this.end = data.length;
      this.borrowed = true;
      return;
    }
    if (this.borrowed) this.settle();
    const live = this.end - this.start;
    if (this.end + data.length > this.buf.length) {
      if (live + data.length <= this.buf.length) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        const next = new Uint8Array(Math.max(live + data.length, this.buf.length * 2, 1024));
        next.set(this.buf.subarray(this.start, this.end));
        this.buf = next;
      }
      this.start = 0;
      this.end = live;
    }
    this.buf.set(data, this.end);
    this.end += data.length;
  }

  /** Stop reading the caller's bytes in place: copy what is left of them (a partial record). */
  settle(): void {
    if (!this.borrowed) return;
    this.borrowed = false;
    const live = this.end - this.start;
    if (live === 0) {
      this.release();
      return;
    }
    // Room for the rest of the record (most likely the next thing to arrive).
    const b = this.buf;
    const s = this.start;
    let size = live;
    if (live >= 5) size = Math.max(live, 5 + ((b[s + 3]! << 8) | b[s + 4]!));
    const own = new Uint8Array(Math.max(size, 1024));
    own.set(b.subarray(s, this.end));
    this.buf = own;
    this.start = 0;
    this.end = live;
  }

  private release(): void {
    this.buf = EMPTY;
    this.start = this.end = 0;
    this.borrowed = false;
  }

  /**
   * The next whole record, opened; null when more bytes are needed. `plaintextTypes`
   * lists content types that arrive unprotected even while reading is encrypted
   * (TLS 1.3's compatibility ChangeCipherSpec).
   */
  next(plaintextTypes: ReadonlySet<number> = NO_TYPES): Opened | null {
    for (;;) {
      const record = this.nextRecord(plaintextTypes);
      if (record !== SKIPPED) return record;
    }
  }

  /**
   * Whether a record that could not be read is early data to skip: charged to the budget
   * by its size less the AEAD tag and content type (what its plaintext can at most be).
   */
  private skipped(type: number, length: number): boolean {
    const cost = Math.max(0, length - EARLY_DATA_OVERHEAD);
    if (this.earlyDataToSkip === 0 || type !== ContentType.application_data || cost > this.earlyDataToSkip) return false;
    this.earlyDataToSkip -= cost;
    return true;
  }

  private nextRecord(plaintextTypes: ReadonlySet<number>): Opened | null | typeof SKIPPED {
    if (this.end - this.start < 5) return null;
    const b = this.buf;
    const s = this.start;
    const type = b[s]!;
    const length = (b[s + 3]! << 8) | b[s + 4]!;
    const known = KNOWN_TYPES.has(type);
    // The first bytes are not a record header at all: most likely a plaintext protocol (an
    // HTTP answer, a banner). Say so, with what came, rather than name a content type.
    if (!this.seenRecord && (!known || b[s + 1] !== 0x03)) throw notTls(b.subarray(s, Math.min(this.end, s + 40)), known);
    if (!known) throw new TLSError('unexpected_message', `unknown record content type ${type}`);
    if (b[s + 1] !== 0x03) throw new TLSError('decode_error', 'not a TLS record (bad version)');
    this.seenRecord = true;
    const limit = this.readProtection.encrypted ? MAX_FRAGMENT + MAX_CIPHERTEXT_EXPANSION : MAX_FRAGMENT;
    if (length > limit) throw new TLSError('record_overflow', `record of ${length} bytes exceeds ${limit}`);
    if (this.end - s < 5 + length) return null;
    this.start += 5 + length;
    if (this.start === this.end) {
      if (this.borrowed) this.start = this.end = 0;
      else this.release();
    }
    if (!this.readProtection.encrypted && type === ContentType.application_data && this.skipped(type, length)) return SKIPPED;
    // A handshake record in the clear is the second ClientHello: early data is over.
    if (!this.readProtection.encrypted && type === ContentType.handshake) this.earlyDataToSkip = 0;
    if (!this.readProtection.encrypted || plaintextTypes.has(type)) {
      // Copy out: the caller keeps the data while the buffer is reused (or, borrowed, the
      // feeder's array, which it may reuse). Not slice(): on a Buffer that is a view.
      const payload = new Uint8Array(b.subarray(s + 5, s + 5 + length));
      if (this.readProtection.encrypted) return { type, data: payload };
      return this.checked(this.readProtection.open(new Uint8Array(b.subarray(s, s + 5)), payload));
    }
    // Decryption writes new bytes: the record can be read in place.
    let opened: Opened;
    try {
      opened = this.readProtection.open(b.subarray(s, s + 5), b.subarray(s + 5, s + 5 + length));
    } catch (err) {
      if (err instanceof TLSError && err.alert === 'bad_record_mac' && this.skipped(type, length)) return SKIPPED;
      throw err;
    }
    // The first record that opens is the client's second flight: early data is over.
    this.earlyDataToSkip = 0;
    // A provider that decrypted in place: copy, the buffer is reused.
    if (opened.data.buffer === b.buffer && opened.data.length > 0) return this.checked({ type: opened.type, data: new Uint8Array(opened.data) });
    return this.checked(opened);
  }

  private checked(opened: Opened): Opened {
    if (opened.data.length === 0 && opened.type !== ContentType.application_data) {
      throw new TLSError('unexpected_message', `empty ${opened.type === ContentType.handshake ? 'handshake' : 'alert/ccs'} record`);
    }
    return opened;
  }

  /**
   * Frame (and protect) `data` into one or more records, all in one new array pushed onto
   * `out`; with `p`, under that protection instead of the write keys (TLS 1.3 early data).
   */
  seal(type: number, data: Uint8Array, out: Uint8Array[], p: RecordProtection = this.writeProtection): void {
    const max = this.maxSendFragment;
    if (data.length <= max) {
      const record = allocUnsafe(p.sealedLength(data.length));
      p.sealInto(type, data, record, 0);
      out.push(record);
      return;
    }
    const full = Math.floor(data.length / max);
    const rest = data.length - full * max;
    const total = full * p.sealedLength(max) + (rest ? p.sealedLength(rest) : 0);
    const records = allocUnsafe(total);
    let at = 0;
    for (let from = 0; from < data.length; from += max) {
      at += p.sealInto(type, data.subarray(from, Math.min(from + max, data.length)), records, at);
    }
    if (at !== total) throw new Error('record sizes do not add up');
    out.push(records);
  }

  /** A record sent in the clear regardless of the write keys (TLS 1.3 compatibility CCS). */
  sealPlaintext(type: number, data: Uint8Array, out: Uint8Array[]): void {
    out.push(new NullProtection().seal(type, data));
  }

  destroy(): void {
    this.readProtection.destroy();
    this.writeProtection.destroy();
    this.release();
  }
}

const NO_TYPES: ReadonlySet<number> = new Set();
/** `nextRecord` dropped a record of early data: look at the next one. */
const SKIPPED = Symbol('skipped');
/** A TLS 1.3 record's AEAD tag and inner content type. */
const EARLY_DATA_OVERHEAD = 17;
