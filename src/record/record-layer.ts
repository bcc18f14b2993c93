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

export class RecordLayer {
  private readProtection: RecordProtection = new NullProtection();
  private writeProtection: RecordProtection = new NullProtection();
  private buf = new Uint8Array(0);
  private start = 0;
  private end = 0;
  /** Largest plaintext fragment we send (record_size_limit lowers it). */
  maxSendFragment = MAX_FRAGMENT;

  get readEncrypted(): boolean {
    return this.readProtection.encrypted;
  }
  get writeEncrypted(): boolean {
    return this.writeProtection.encrypted;
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

  feed(data: Uint8Array): void {
    if (data.length === 0) return;
    if (this.end + data.length > this.buf.length) {
      const live = this.end - this.start;
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

  /**
   * The next whole record, opened; null when more bytes are needed. `plaintextTypes`
   * lists content types that arrive unprotected even while reading is encrypted
   * (TLS 1.3's compatibility ChangeCipherSpec).
   */
  next(plaintextTypes: ReadonlySet<number> = NO_TYPES): Opened | null {
    if (this.end - this.start < 5) return null;
    const b = this.buf;
    const s = this.start;
    const type = b[s]!;
    const length = (b[s + 3]! << 8) | b[s + 4]!;
    if (!KNOWN_TYPES.has(type)) throw new TLSError('unexpected_message', `unknown record content type ${type}`);
    if (b[s + 1] !== 0x03) throw new TLSError('decode_error', 'not a TLS record (bad version)');
    const limit = this.readProtection.encrypted ? MAX_FRAGMENT + MAX_CIPHERTEXT_EXPANSION : MAX_FRAGMENT;
    if (length > limit) throw new TLSError('record_overflow', `record of ${length} bytes exceeds ${limit}`);
    if (this.end - s < 5 + length) return null;
    // Copy out: the caller may keep the data while the buffer is reused.
    const header = b.slice(s, s + 5);
    const payload = b.slice(s + 5, s + 5 + length);
    this.start += 5 + length;
    if (this.start === this.end) this.start = this.end = 0;
    if (this.readProtection.encrypted && plaintextTypes.has(type)) return { type, data: payload };
    const opened = this.readProtection.open(header, payload);
    if (opened.data.length === 0 && opened.type !== ContentType.application_data) {
      throw new TLSError('unexpected_message', `empty ${opened.type === ContentType.handshake ? 'handshake' : 'alert/ccs'} record`);
    }
    return opened;
  }

  /** Frame (and protect) `data` into one or more records. */
  seal(type: number, data: Uint8Array, out: Uint8Array[]): void {
    const max = this.maxSendFragment;
    if (data.length === 0) {
      out.push(this.writeProtection.seal(type, data));
      return;
    }
    for (let at = 0; at < data.length; at += max) {
      out.push(this.writeProtection.seal(type, data.subarray(at, Math.min(at + max, data.length))));
    }
  }

  /** A record sent in the clear regardless of the write keys (TLS 1.3 compatibility CCS). */
  sealPlaintext(type: number, data: Uint8Array, out: Uint8Array[]): void {
    out.push(new NullProtection().seal(type, data));
  }

  destroy(): void {
    this.readProtection.destroy();
    this.writeProtection.destroy();
    this.buf = new Uint8Array(0);
    this.start = this.end = 0;
  }
}

const NO_TYPES: ReadonlySet<number> = new Set();
