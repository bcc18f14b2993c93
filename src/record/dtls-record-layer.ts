/**
 * The DTLS 1.2 record layer (RFC 6347 section 4.1): records carry an explicit epoch and
 * 48-bit sequence number, several records may share one datagram, and a record that fails
 * to parse or to authenticate is dropped silently (RFC 6347 4.1.2.7) instead of killing the
 * connection. Everything here is sans-IO: datagrams in, records out.
 *
 * Pieces:
 * - `parseDatagram` / `encodeDtlsHeader`: the 13-byte header, several records a datagram.
 * - `ReplayWindow`: the RFC 4303 3.4.3 sliding window (RFC 6347 4.1.2.6).
 * - `DtlsNullProtection` (epoch 0) and `DtlsAeadProtection` (epoch >= 1: AES-GCM, AES-CCM,
 *   AES-CCM-8, ChaCha20-Poly1305), both behind `DtlsProtection`.
 * - `DtlsRecordLayer`: write epoch + sequence numbers, read epochs (the newest two), replay
 *   windows, a small bounded buffer for records of the next epoch, drop counters.
 */
import type { AeadName, CryptoProvider } from '../crypto/provider.js';
import { Aead12, dtlsSequenceHigh } from './aead-nonce.js';
import { TLSError } from '../errors.js';
import { ContentType } from '../messages/constants.js';
import { cidAdditionalData, cidOverhead, decodeInnerPlaintext, encodeInnerPlaintext, sameCid, TLS12_CID, type ConnectionIds } from './dtls-cid.js';

// ---- Constants and bounds ----

/** DTLS 1.2 on the wire (RFC 6347 4.1). */
export const DTLS1_2_VERSION = 0xfefd;
/** DTLS 1.0: allowed in the record header of the first ClientHello / HelloVerifyRequest (RFC 6347 4.1). */
export const DTLS1_0_VERSION = 0xfeff;
/** type(1) version(2) epoch(2) sequence_number(6) length(2). */
export const DTLS_HEADER_LENGTH = 13;
/** Largest plaintext fragment (2^14). */
export const DTLS_MAX_PLAINTEXT = 2 ** 14;
/** Largest DTLSCiphertext.fragment (RFC 6347 4.1 / RFC 5246 6.2.3: 2^14 + 2048). */
export const DTLS_MAX_CIPHERTEXT = 2 ** 14 + 2048;
/** Sequence numbers are 48-bit; a write epoch refuses to use this value. */
export const DTLS_MAX_SEQ = 2 ** 48;
export const DTLS_MAX_EPOCH = 0xffff;
/** At most this many records of one datagram are looked at; the rest is dropped (counted as malformed). */
export const MAX_RECORDS_PER_DATAGRAM = 64;
/** Records of the not-yet-keyed next epoch kept until its keys arrive. */
export const MAX_BUFFERED_RECORDS = 16;
export const MAX_BUFFERED_BYTES = 32 * 1024;
/** Default replay window (RFC 6347 asks for at least 32, RFC 4303 recommends 64). */
export const DEFAULT_REPLAY_WINDOW = 128;

const KNOWN_TYPES = new Set<number>(Object.values(ContentType));

// ---- Header and datagram parsing ----

/** One record as it sits in a datagram. `fragment` and `raw` are views into the datagram. */
export interface DtlsRecord {
  type: number;
  version: number;
  epoch: number;
  seq: number;
  /** The record's payload (DTLSPlaintext/DTLSCiphertext.fragment). */
  fragment: Uint8Array;
  /** A tls12_cid record's connection ID (RFC 9146). */
  cid?: Uint8Array;
  /** Header and payload, exactly as received. */
  raw: Uint8Array;
}

function writeU48(out: Uint8Array, at: number, v: number): void {
  const hi = Math.floor(v / 2 ** 32);
  const lo = v >>> 0;
  out[at] = (hi >>> 8) & 0xff;
  out[at + 1] = hi & 0xff;
  out[at + 2] = lo >>> 24;
  out[at + 3] = (lo >>> 16) & 0xff;
  out[at + 4] = (lo >>> 8) & 0xff;
  out[at + 5] = lo & 0xff;
}

function readU48(b: Uint8Array, at: number): number {
  const hi = (b[at]! << 8) | b[at + 1]!;
  const lo = ((b[at + 2]! << 24) >>> 0) + ((b[at + 3]! << 16) | (b[at + 4]! << 8) | b[at + 5]!);
  return hi * 2 ** 32 + lo;
}

function isEpoch(epoch: number): boolean {
  return Number.isInteger(epoch) && epoch >= 0 && epoch <= DTLS_MAX_EPOCH;
}

function isSeq(seq: number): boolean {
  return Number.isInteger(seq) && seq >= 0 && seq < DTLS_MAX_SEQ;
}

/** Write a 13-byte header at `at` in `out`. Throws internal_error for an out-of-range field. */
export function writeDtlsHeader(out: Uint8Array, at: number, type: number, version: number, epoch: number, seq: number, length: number): void {
  if (!isEpoch(epoch)) throw new TLSError('internal_error', `DTLS epoch out of range: ${epoch}`);
  if (!isSeq(seq)) throw new TLSError('internal_error', `DTLS sequence number out of range: ${seq}`);
  if (!Number.isInteger(length) || length < 0 || length > 0xffff) throw new TLSError('internal_error', `DTLS record length out of range: ${length}`);
  out[at] = type & 0xff;
  out[at + 1] = (version >>> 8) & 0xff;
  out[at + 2] = version & 0xff;
  out[at + 3] = epoch >>> 8;
  out[at + 4] = epoch & 0xff;
  writeU48(out, at + 5, seq);
  out[at + 11] = length >>> 8;
  out[at + 12] = length & 0xff;
}

export function encodeDtlsHeader(type: number, version: number, epoch: number, seq: number, length: number): Uint8Array {
  const out = new Uint8Array(DTLS_HEADER_LENGTH);
  writeDtlsHeader(out, 0, type, version, epoch, seq, length);
  return out;
}

/** Header + payload as one record (no protection applied). */
export function encodeDtlsRecord(type: number, version: number, epoch: number, seq: number, fragment: Uint8Array): Uint8Array {
  const out = new Uint8Array(DTLS_HEADER_LENGTH + fragment.length);
  writeDtlsHeader(out, 0, type, version, epoch, seq, fragment.length);
  out.set(fragment, DTLS_HEADER_LENGTH);
  return out;
}

export interface ParsedDatagram {
  records: DtlsRecord[];
  /** Bytes after the last whole record that were not parsed (damage, truncation, or the record limit). */
  unparsed: number;
}

/**
 * Cut a datagram into records. Parsing stops at the first record that is truncated, has
 * an unknown content type, a version other than DTLS 1.2 / 1.0, or a length above
 * 2^14 + 2048, and after `maxRecords` records; what follows is reported as `unparsed`.
 * Never throws.
 */
export function parseDatagramDetailed(datagram: Uint8Array, maxRecords = Infinity, cidLength = 0): ParsedDatagram {
  const records: DtlsRecord[] = [];
  let at = 0;
  while (at < datagram.length && records.length < maxRecords) {
    if (datagram.length - at < DTLS_HEADER_LENGTH) break;
    const type = datagram[at]!;
    const version = (datagram[at + 1]! << 8) | datagram[at + 2]!;
    const epoch = (datagram[at + 3]! << 8) | datagram[at + 4]!;
    const seq = readU48(datagram, at + 5);
    // A tls12_cid record has our CID (of a length only we know) between sequence number and length (RFC 9146 4).
    const cid = type === TLS12_CID && cidLength > 0 ? cidLength : 0;
    if (datagram.length - at < DTLS_HEADER_LENGTH + cid) break;
    const length = (datagram[at + 11 + cid]! << 8) | datagram[at + 12 + cid]!;
    if (!KNOWN_TYPES.has(type) && !cid) break;
    if (version !== DTLS1_2_VERSION && version !== DTLS1_0_VERSION) break;
    if (length > DTLS_MAX_CIPHERTEXT) break;
    const start = at + DTLS_HEADER_LENGTH + cid;
    const end = start + length;
    if (end > datagram.length) break;
    records.push({
      type,
      version,
      epoch,
      seq,
      fragment: datagram.subarray(start, end),
      raw: datagram.subarray(at, end),
      ...(cid ? { cid: datagram.subarray(at + 11, at + 11 + cid) } : {}),
    });
    at = end;
  }
  return { records, unparsed: datagram.length - at };
}

/** Every well-formed record of a datagram, up to the first damaged one. Never throws. */
export function parseDatagram(datagram: Uint8Array): DtlsRecord[] {
  return parseDatagramDetailed(datagram).records;
}

// ---- Replay window ----

/**
 * Anti-replay sliding window (RFC 6347 4.1.2.6, RFC 4303 3.4.3). A sequence number is a
 * replay if it was accepted before or is `size` or more below the highest accepted one.
 * Check `isReplay` before authenticating a record, call `accept` only once it authenticated,
 * so forged records can neither mark numbers as seen nor slide the window.
 */
export class ReplayWindow {
  readonly size: number;
  private top = -1;
  /** Bit `seq % size` is set when `seq` (within the window) was accepted. */
  private readonly bits: Uint32Array;

  constructor(size = DEFAULT_REPLAY_WINDOW) {
    if (!Number.isInteger(size) || size < 64 || size > 4096 || size % 32 !== 0) {
      throw new RangeError(`replay window size must be a multiple of 32 in [64, 4096], got ${size}`);
    }
    this.size = size;
    this.bits = new Uint32Array(size / 32);
  }

  /** Highest accepted sequence number, -1 before the first. */
  get highest(): number {
    return this.top;
  }

  private test(seq: number): boolean {
    const i = seq % this.size;
    return (this.bits[i >>> 5]! & (1 << (i & 31))) !== 0;
  }
  private set(seq: number, on: boolean): void {
    const i = seq % this.size;
    if (on) this.bits[i >>> 5]! |= 1 << (i & 31);
    else this.bits[i >>> 5]! &= ~(1 << (i & 31));
  }

  /** True for a duplicate, a number that fell out of the window, or an invalid number. */
  isReplay(seq: number): boolean {
    if (!isSeq(seq)) return true;
    if (seq > this.top) return false;
    if (this.top - seq >= this.size) return true;
    return this.test(seq);
  }

  /** Record `seq` as received (call only after the record authenticated). Throws RangeError outside [0, 2^48). */
  accept(seq: number): void {
    if (!isSeq(seq)) throw new RangeError(`sequence number out of range: ${seq}`);
    if (seq > this.top) {
      if (seq - this.top >= this.size) {
        this.bits.fill(0);
      } else {
        // Slots between the old top and seq held numbers now out of the window.
        for (let s = this.top + 1; s < seq; s++) this.set(s, false);
      }
      this.set(seq, true);
      this.top = seq;
    } else if (this.top - seq < this.size) {
      this.set(seq, true);
    }
  }

  reset(): void {
    this.top = -1;
    this.bits.fill(0);
  }
}

// ---- Protection ----

/** One direction of one epoch. */
export interface DtlsProtection {
  /** True when records are authenticated (epoch >= 1); the replay window applies only then. */
  readonly encrypted: boolean;
  /** Bytes a record adds to its plaintext, header included (13 in the clear, 13 + 8 + 16 for AES-GCM...). */
  readonly overhead: number;
  /** Protect `data` into a whole record (header included). Throws only for a caller error (bad epoch/seq/length). */
  seal(type: number, data: Uint8Array, epoch: number, seq: number): Uint8Array;
  /** The plaintext of one parsed record, or null when it does not authenticate or is malformed. Never throws. */
  open(record: DtlsRecord): Uint8Array | null;
  /** Forget keys; afterwards `open` returns null and `seal` throws. */
  destroy(): void;
}

/** Epoch 0: the same header, no encryption. `version` is what `seal` writes (0xfeff for a first ClientHello if wanted). */
export class DtlsNullProtection implements DtlsProtection {
  readonly encrypted = false;
  readonly overhead = DTLS_HEADER_LENGTH;
  constructor(public version = DTLS1_2_VERSION) {}

  seal(type: number, data: Uint8Array, epoch: number, seq: number): Uint8Array {
    if (data.length > DTLS_MAX_PLAINTEXT) throw new TLSError('internal_error', `DTLS fragment of ${data.length} bytes exceeds 2^14`);
    return encodeDtlsRecord(type, this.version, epoch, seq, data);
  }

  open(record: DtlsRecord): Uint8Array | null {
    if (record.fragment.length > DTLS_MAX_PLAINTEXT || record.type === TLS12_CID) return null;
    // A copy (new Uint8Array, not slice: on a Buffer, slice is a view).
    return new Uint8Array(record.fragment);
  }

  destroy(): void {}
}

/**
 * DTLS 1.2 AEAD record protection for epochs >= 1: AES-GCM (RFC 5288), AES-CCM and
 * AES-CCM-8 (RFC 6655, RFC 7251) with an explicit nonce, ChaCha20-Poly1305 (RFC 7905) with
 * an XOR nonce. The arithmetic is TLS 1.2's (aead-nonce.ts's Aead12), with DTLS's sequence
 * field: epoch(2) + sequence_number(6), which is also the explicit nonce we send (RFC 6347
 * 4.1.2.1). On receipt the header fields are taken as received, so a changed version fails
 * like any other byte. `key` and `iv` are wiped by `destroy` (the same ownership rule as
 * the TLS protections).
 *
 * With connection IDs (RFC 9146, `cid`): records we send carry the peer's CID when it asked
 * for one (tls12_cid, an encrypted inner content type, RFC 9146's additional data); records we
 * receive must carry ours when we asked for one, and `open` then returns the decrypted
 * DTLSInnerPlaintext (the record layer takes the real content type from it).
 */
export class DtlsAeadProtection implements DtlsProtection {
  readonly encrypted = true;
  readonly overhead: number;
  private readonly aead: Aead12;
  private destroyed = false;

  constructor(
    provider: CryptoProvider,
    readonly aeadName: AeadName,
    key: Uint8Array,
    iv: Uint8Array,
    private readonly version = DTLS1_2_VERSION,
    private readonly cid: ConnectionIds = { send: new Uint8Array(0), receive: new Uint8Array(0) },
  ) {
    this.aead = new Aead12(provider, aeadName, key, iv);
    // A CID record adds the CID to the header and the real content type to the plaintext.
    this.overhead = DTLS_HEADER_LENGTH + this.aead.expansion + cidOverhead(cid);
  }

  seal(type: number, data: Uint8Array, epoch: number, seq: number): Uint8Array {
    if (this.destroyed) throw new TLSError('internal_error', 'DTLS protection used after destroy');
    if (!isEpoch(epoch)) throw new TLSError('internal_error', `DTLS epoch out of range: ${epoch}`);
    if (!isSeq(seq)) throw new TLSError('internal_error', `DTLS sequence number out of range: ${seq}`);
    if (data.length > DTLS_MAX_PLAINTEXT) throw new TLSError('internal_error', `DTLS fragment of ${data.length} bytes exceeds 2^14`);
    const out = new Uint8Array(this.overhead + data.length);
    const high = dtlsSequenceHigh(epoch, seq);
    const cid = this.cid.send;
    if (cid.length === 0) {
      writeDtlsHeader(out, 0, type, this.version, epoch, seq, out.length - DTLS_HEADER_LENGTH);
      this.aead.sealInto(high, seq >>> 0, type, this.version, data, out, DTLS_HEADER_LENGTH);
      return out;
    }
    // tls12_cid: the CID sits between sequence number and length; the real type moves inside.
    const headerLength = DTLS_HEADER_LENGTH + cid.length;
    writeDtlsHeader(out, 0, TLS12_CID, this.version, epoch, seq, 0);
    out.set(cid, 11);
    const length = out.length - headerLength;
    out[11 + cid.length] = length >>> 8;
    out[12 + cid.length] = length & 0xff;
    const inner = encodeInnerPlaintext(type, data);
    this.aead.sealInto(high, seq >>> 0, TLS12_CID, this.version, inner, out, headerLength, cidAdditionalData(this.version, out.subarray(3, 11), cid, inner.length));
    return out;
  }

  open(record: DtlsRecord): Uint8Array | null {
    if (this.destroyed) return null;
    try {
      const payload = record.fragment;
      if (payload.length < this.aead.expansion || payload.length > DTLS_MAX_CIPHERTEXT) return null;
      if (!isEpoch(record.epoch) || !isSeq(record.seq)) return null;
      // With our CID negotiated every protected record must carry it, and only it (RFC 9146 6).
      const ours = this.cid.receive;
      if (ours.length > 0 ? record.type !== TLS12_CID || !record.cid || !sameCid(record.cid, ours) : record.type === TLS12_CID) return null;
      // A DTLSInnerPlaintext is the content and its type byte (our peers pad not beyond that bound).
      const maxPlain = DTLS_MAX_PLAINTEXT + (ours.length > 0 ? 1 : 0);
      const plainLength = payload.length - this.aead.expansion;
      if (plainLength > maxPlain) return null;
      const high = dtlsSequenceHigh(record.epoch, record.seq);
      const epochAndSeq = record.raw.subarray(3, 11);
      const aad = ours.length > 0 ? cidAdditionalData(record.version, epochAndSeq, ours, plainLength) : undefined;
      const data = this.aead.open(high, record.seq >>> 0, record.type, record.version, payload, aad);
      if (!data || data.length > maxPlain) return null;
      return data;
    } catch {
      return null;
    }
  }

  destroy(): void {
    this.destroyed = true;
    this.aead.destroy();
  }
}

// ---- Record layer ----

/** One record that parsed, was of a known epoch, was not a replay and authenticated. */
export interface DtlsOpened {
  type: number;
  epoch: number;
  seq: number;
  /** The record-header version (0xfefd, or 0xfeff from an early ClientHello). */
  version: number;
  data: Uint8Array;
}

export interface DtlsRecordStats {
  /** Records delivered by `open` / `drainBuffered`. */
  received: number;
  /** Records of the next epoch put aside until its keys arrive (delivered or dropped later). */
  buffered: number;
  dropped: {
    /** Failed authentication (or decryption to more than 2^14 bytes). */
    badMac: number;
    /** Duplicate or too old for the replay window (authenticated epochs only). */
    replay: number;
    /** Epoch not installed: too old, too far ahead, or a next-epoch record that did not fit in the buffer. */
    unknownEpoch: number;
    /**
     * Per datagram with a damaged / truncated tail or more than `maxRecordsPerDatagram`
     * records (once per datagram); plus, per record, plaintext-epoch records that are
     * application_data or longer than 2^14.
     */
    malformed: number;
  };
}

export interface DtlsRecordLayerOptions {
  /** Replay window size (multiple of 32 in [64, 4096]); default 128. */
  replayWindow?: number;
  maxRecordsPerDatagram?: number;
  maxBufferedRecords?: number;
  maxBufferedBytes?: number;
}

interface ReadState {
  protection: DtlsProtection;
  window: ReplayWindow | null;
  /** Records of this epoch that failed to authenticate (RFC 9147 4.5.3 counts them per key). */
  forgeries: number;
}

interface WriteState {
  epoch: number;
  protection: DtlsProtection;
  nextSeq: number;
}

/**
 * The DTLS record layer of one association.
 *
 * Write side: one current write epoch with its protection and next sequence number (0 at
 * each new epoch, never wrapping at 2^48), plus the previous write epoch, kept so a
 * retransmitted flight can go out in the epoch it was first sent in (e.g. the
 * ClientKeyExchange + ChangeCipherSpec of epoch 0 before a Finished of epoch 1).
 *
 * Read side: the two newest installed epochs (the newest and the one before it, for
 * reordered or retransmitted records of the previous epoch, RFC 6347 4.1 and 4.2.4.1).
 * Installing an epoch drops and wipes anything older than the one before it. Records of
 * the epoch right after the newest installed one are buffered (bounded) and delivered
 * by the first `open` / `drainBuffered` after `setReadEpoch` installs that epoch.
 *
 * The layer does not decide which content types are acceptable in which epoch beyond one
 * rule: application_data is never accepted in epoch 0. The engine must check `epoch` on
 * what it gets (e.g. Finished in the new epoch, no plaintext alerts once encrypted).
 */
export class DtlsRecordLayer {
  readonly stats: DtlsRecordStats = { received: 0, buffered: 0, dropped: { badMac: 0, replay: 0, unknownEpoch: 0, malformed: 0 } };

  private write: WriteState;
  private previousWrite: WriteState | null = null;
  private readonly reads = new Map<number, ReadState>();
  private highestRead = 0;
  private pending: DtlsRecord[] = [];
  private pendingBytes = 0;
  private readonly plaintext = new DtlsNullProtection();

  private readonly replayWindowSize: number;
  /**
   * Forged records tolerated per read key (the AEAD's integrity limit, RFC 9147 4.5.3; the
   * engine sets it with the keys). Dropping forgeries is what lets an attacker keep trying,
   * so past this many `integrityLimitReached` turns true and the engine must end the
   * association.
   */
  integrityLimit = Infinity;
  integrityLimitReached = false;
  /**
   * How many times an authenticated record was the newest so far (highest epoch, then
   * sequence number): RFC 9146 6 lets a CID server follow a client to a new address only on
   * such a record, so a delayed or replayed older one cannot send it back.
   */
  newestRecords = 0;
  private newest = { epoch: -1, seq: -1 };
  /** Length of the CID we asked the peer to put in its records (RFC 9146; 0: none), for parsing tls12_cid records. */
  receiveCidLength = 0;
  readonly maxRecordsPerDatagram: number;
  readonly maxBufferedRecords: number;
  readonly maxBufferedBytes: number;

  constructor(options: DtlsRecordLayerOptions = {}) {
    this.replayWindowSize = options.replayWindow ?? DEFAULT_REPLAY_WINDOW;
    new ReplayWindow(this.replayWindowSize); // validate the size now
    this.maxRecordsPerDatagram = options.maxRecordsPerDatagram ?? MAX_RECORDS_PER_DATAGRAM;
    this.maxBufferedRecords = options.maxBufferedRecords ?? MAX_BUFFERED_RECORDS;
    this.maxBufferedBytes = options.maxBufferedBytes ?? MAX_BUFFERED_BYTES;
    this.write = { epoch: 0, protection: this.plaintext, nextSeq: 0 };
    this.reads.set(0, { protection: this.plaintext, window: null, forgeries: 0 });
  }

  /** Record-header version of epoch-0 records we send (0xfefd; 0xfeff for a first ClientHello if wanted). */
  get plaintextVersion(): number {
    return this.plaintext.version;
  }
  set plaintextVersion(v: number) {
    this.plaintext.version = v;
  }

  get writeEpoch(): number {
    return this.write.epoch;
  }
  /** Sequence number the next record of the current write epoch gets. */
  get nextWriteSeq(): number {
    return this.write.nextSeq;
  }
  /** Sequence number the next record of `epoch` gets (the current or the previous write epoch). */
  nextSeqOf(epoch: number): number {
    return epoch === this.previousWrite?.epoch ? this.previousWrite.nextSeq : this.write.nextSeq;
  }
  /** Bytes a record of the current write epoch adds to its plaintext (header, explicit nonce, tag). */
  get writeOverhead(): number {
    return this.write.protection.overhead;
  }
  /** The newest installed read epoch. */
  get readEpoch(): number {
    return this.highestRead;
  }
  /** Installed read epochs, oldest first. */
  get readEpochs(): number[] {
    return [...this.reads.keys()].sort((a, b) => a - b);
  }
  /** Next-epoch records waiting for keys. */
  get bufferedRecords(): number {
    return this.pending.length;
  }

  /**
   * Start writing `epoch` (greater than the current write epoch) with `protection`; its
   * sequence numbers start at 0. The current epoch becomes the previous one (still usable
   * by `seal(type, data, previousEpoch)`); the one before is destroyed.
   */
  setWriteEpoch(epoch: number, protection: DtlsProtection): void {
    if (!isEpoch(epoch) || epoch <= this.write.epoch) {
      throw new TLSError('internal_error', `DTLS write epoch must increase: ${this.write.epoch} -> ${epoch}`);
    }
    this.destroyWrite(this.previousWrite);
    this.previousWrite = this.write;
    this.write = { epoch, protection, nextSeq: 0 };
  }

  /** Forget the previous write epoch (once the peer has acknowledged the flight, e.g. the handshake is done). */
  discardPreviousWriteEpoch(): void {
    this.destroyWrite(this.previousWrite);
    this.previousWrite = null;
  }

  /** Move the current write epoch's next sequence number forward (e.g. echoing a ClientHello's). Never backwards. */
  advanceWriteSequence(seq: number): void {
    if (!Number.isInteger(seq) || seq < this.write.nextSeq || seq > DTLS_MAX_SEQ) {
      throw new TLSError('internal_error', `DTLS write sequence cannot move from ${this.write.nextSeq} to ${seq}`);
    }
    this.write.nextSeq = seq;
  }

  private destroyWrite(w: WriteState | null): void {
    if (w && w.protection !== this.write.protection && !this.isReadProtection(w.protection)) w.protection.destroy();
  }
  private isReadProtection(p: DtlsProtection): boolean {
    for (const r of this.reads.values()) if (r.protection === p) return true;
    return false;
  }
  private dropRead(epoch: number, state: ReadState): void {
    this.reads.delete(epoch);
    if (state.protection !== this.write.protection && state.protection !== this.previousWrite?.protection) state.protection.destroy();
  }

  /**
   * Install the read protection of `epoch` (greater than every installed read epoch).
   * Keeps the epoch before it (if installed); older ones are dropped and wiped. Buffered
   * records of `epoch` are delivered by the next `open` or `drainBuffered`; buffered records
   * of any other epoch are dropped (unknownEpoch).
   */
  setReadEpoch(epoch: number, protection: DtlsProtection): void {
    if (!isEpoch(epoch) || epoch <= this.highestRead) {
      throw new TLSError('internal_error', `DTLS read epoch must increase: ${this.highestRead} -> ${epoch}`);
    }
    this.reads.set(epoch, { protection, window: protection.encrypted ? new ReplayWindow(this.replayWindowSize) : null, forgeries: 0 });
    this.highestRead = epoch;
    for (const [e, state] of [...this.reads]) if (e < epoch - 1) this.dropRead(e, state);
    const keep = this.pending.filter((r) => r.epoch === epoch);
    this.stats.dropped.unknownEpoch += this.pending.length - keep.length;
    this.pending = keep;
    this.pendingBytes = keep.reduce((n, r) => n + r.raw.length, 0);
  }

  /** Forget every read epoch but the newest (the engine decides when "a while" is over). */
  discardPreviousReadEpoch(): void {
    for (const [e, state] of [...this.reads]) if (e !== this.highestRead) this.dropRead(e, state);
  }

  /**
   * One record of `type` in the current write epoch (or in `epoch`, which may name the
   * previous write epoch for a retransmission). `data` is at most 2^14 bytes; throws
   * internal_error beyond, or when the epoch's sequence numbers are exhausted (2^48).
   */
  seal(type: number, data: Uint8Array, epoch: number = this.write.epoch): Uint8Array {
    const w = epoch === this.write.epoch ? this.write : epoch === this.previousWrite?.epoch ? this.previousWrite : null;
    if (!w) throw new TLSError('internal_error', `DTLS write epoch ${epoch} is not available`);
    if (data.length > DTLS_MAX_PLAINTEXT) throw new TLSError('internal_error', `DTLS fragment of ${data.length} bytes exceeds 2^14`);
    if (w.nextSeq >= DTLS_MAX_SEQ) throw new TLSError('internal_error', `DTLS sequence numbers of epoch ${epoch} exhausted`);
    const record = w.protection.seal(type, data, w.epoch, w.nextSeq);
    w.nextSeq++;
    return record;
  }

  /**
   * Every record of `datagram` that parses, belongs to an installed epoch, is not a
   * replay and authenticates, in order; preceded by buffered next-epoch records that
   * became readable. Everything else is dropped and counted in `stats`. Never throws.
   */
  open(datagram: Uint8Array): DtlsOpened[] {
    const out = this.drainBuffered();
    const { records, unparsed } = parseDatagramDetailed(datagram, this.maxRecordsPerDatagram, this.receiveCidLength);
    if (unparsed > 0) this.stats.dropped.malformed++;
    for (const record of records) this.process(record, out);
    return out;
  }

  /** Deliver buffered records whose epoch has been installed (call right after `setReadEpoch`). */
  drainBuffered(): DtlsOpened[] {
    const out: DtlsOpened[] = [];
    // setReadEpoch keeps only records of the epoch it installs, so either all are readable or none.
    if (this.pending.length === 0 || !this.reads.has(this.pending[0]!.epoch)) return out;
    const pending = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    for (const record of pending) this.process(record, out);
    return out;
  }

  private process(record: DtlsRecord, out: DtlsOpened[]): void {
    const state = this.reads.get(record.epoch);
    if (!state) {
      if (record.epoch === this.highestRead + 1 && this.buffer(record)) return;
      this.stats.dropped.unknownEpoch++;
      return;
    }
    if (!state.protection.encrypted && record.type === ContentType.application_data) {
      this.stats.dropped.malformed++;
      return;
    }
    if (state.window?.isReplay(record.seq)) {
      this.stats.dropped.replay++;
      return;
    }
    let data: Uint8Array | null;
    try {
      data = state.protection.open(record);
    } catch {
      data = null;
    }
    if (!data) {
      if (state.protection.encrypted) {
        this.stats.dropped.badMac++;
        if (++state.forgeries >= this.integrityLimit) this.integrityLimitReached = true;
      } else {
        this.stats.dropped.malformed++;
      }
      return;
    }
    let type = record.type;
    if (type === TLS12_CID) {
      // The protection checked the CID and returned the DTLSInnerPlaintext.
      const inner = decodeInnerPlaintext(data);
      if (!inner) {
        this.stats.dropped.malformed++;
        return;
      }
      ({ type, data } = inner);
    }
    state.window?.accept(record.seq);
    this.stats.received++;
    if (state.protection.encrypted && (record.epoch > this.newest.epoch || (record.epoch === this.newest.epoch && record.seq > this.newest.seq))) {
      this.newest = { epoch: record.epoch, seq: record.seq };
      this.newestRecords++;
    }
    out.push({ type, epoch: record.epoch, seq: record.seq, version: record.version, data });
  }

  private buffer(record: DtlsRecord): boolean {
    if (this.pending.length >= this.maxBufferedRecords || this.pendingBytes + record.raw.length > this.maxBufferedBytes) return false;
    // Copy: the caller may reuse the datagram buffer (new Uint8Array: a Buffer's slice would be a view).
    const raw = new Uint8Array(record.raw);
    const fragmentAt = raw.length - record.fragment.length;
    this.pending.push({ ...record, raw, fragment: raw.subarray(fragmentAt), ...(record.cid ? { cid: raw.subarray(11, fragmentAt - 2) } : {}) });
    this.pendingBytes += raw.length;
    this.stats.buffered++;
    return true;
  }

  /** Wipe every key and buffer. */
  destroy(): void {
    const all = new Set<DtlsProtection>([this.write.protection, ...[...this.reads.values()].map((r) => r.protection)]);
    if (this.previousWrite) all.add(this.previousWrite.protection);
    for (const p of all) p.destroy();
    this.previousWrite = null;
    this.reads.clear();
    this.pending = [];
    this.pendingBytes = 0;
  }
}
