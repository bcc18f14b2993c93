/**
 * The DTLS 1.3 record layer (RFC 9147 section 4): protected records carry the unified
 * header (dtls13-header.ts) with encrypted record numbers (dtls13-record-number.ts), epoch 0
 * keeps DTLS 1.2's DTLSPlaintext, and both kinds may share one datagram.
 *
 * `Dtls13RecordLayer` wraps the DTLS 1.2 record layer, which keeps handling every record in
 * the 13-byte format (epoch 0, and everything when the handshake settles on DTLS 1.2), so a
 * client or server that offers both versions has one record layer from its first datagram
 * on. What it adds are the DTLS 1.3 epochs: 2 for the handshake, 3 for the first application
 * keys, one more per KeyUpdate (RFC 9147 6.1), each with its own replay window. A record
 * that fails to parse, to authenticate or is a replay is dropped silently and counted
 * (RFC 9147 4.5.2), as in DTLS 1.2; records of an epoch not keyed yet wait, bounded.
 */
import { trafficKeys, type LabelPrefix } from '../crypto/keyschedule.js';
import type { Aead, AeadName, CryptoProvider, HashName } from '../crypto/provider.js';
import { TLSError } from '../errors.js';
import { ProtocolVersion } from '../messages/constants.js';
import { fastSealer, xorNonce, tlsSequenceHigh, type AeadSealTo } from './aead-nonce.js';
import { DTLS_MAX_PLAINTEXT, DtlsRecordLayer, ReplayWindow, type DtlsOpened, type DtlsProtection, type DtlsRecordLayerOptions, type DtlsRecordStats } from './dtls-record-layer.js';
import { parseDtls13Datagram, unifiedHeaderLength, writeUnifiedHeader, type Dtls13CiphertextRecord } from './dtls13-header.js';
import { deriveSnKey, maskRecordNumber, reconstructEpoch, reconstructSequence, RECORD_NUMBER_SAMPLE_LENGTH } from './dtls13-record-number.js';
import { wipe } from '../util/bytes.js';
import { sameCid } from './dtls-cid.js';

const PREFIX: LabelPrefix = 'dtls13';
/** Room for the longest unified header: flags, a 255-byte CID, 16-bit sequence number and length. */
const HEADER_SCRATCH = new Uint8Array(1 + 255 + 2 + 2);
/** Sequence numbers sent in full 16 bits (RFC 9147 4: recommended unless space is tight). */
const SEQ_LENGTH = 2;
/** Read epochs kept: the handshake's, and the application's across a KeyUpdate. */
const READ_EPOCHS_KEPT = 3;
/** The epoch of 0-RTT early data (RFC 9147 6.1). */
export const EARLY_DATA_EPOCH = 1;
/** Write epochs kept, for retransmitting a flight in the epoch it was first sent in. */
const WRITE_EPOCHS_KEPT = 4;

/**
 * One direction of one DTLS 1.3 epoch: the TLS 1.3 AEAD over DTLSInnerPlaintext with the
 * record's 64-bit sequence number in the nonce (the epoch is not in it, RFC 9147 4) and the
 * unified header, sequence bits in the clear, as additional data; then the sequence bits
 * are masked under sn_key.
 */
export class Dtls13Protection {
  private readonly aead: Aead;
  private readonly fast: (Aead & AeadSealTo) | undefined;
  private readonly iv: Uint8Array;
  private readonly snKey: Uint8Array;
  private readonly trailer = new Uint8Array(1);
  private destroyed = false;

  constructor(
    private readonly provider: CryptoProvider,
    hash: HashName,
    readonly aeadName: AeadName,
    secret: Uint8Array,
    /** The CID this direction's records carry (the peer's, when sending), if any. */
    private readonly cid?: Uint8Array,
  ) {
    const { key, iv } = trafficKeys(provider, hash, aeadName, secret, PREFIX);
    this.aead = provider.aead(aeadName, key);
    wipe(key);
    this.fast = fastSealer(this.aead);
    this.iv = iv;
    this.snKey = deriveSnKey(provider, hash, aeadName, secret);
  }

  /** Header, content type byte and tag around a record's data. */
  get overhead(): number {
    return unifiedHeaderLength({ cid: this.cid, seqLength: SEQ_LENGTH }) + 1 + this.aead.tagLength;
  }

  seal(type: number, data: Uint8Array, epoch: number, seq: number): Uint8Array {
    if (this.destroyed) throw new TLSError('internal_error', 'DTLS 1.3 protection used after destroy');
    if (data.length > DTLS_MAX_PLAINTEXT) throw new TLSError('internal_error', `DTLS fragment of ${data.length} bytes exceeds 2^14`);
    const length = data.length + 1 + this.aead.tagLength;
    const fields = { epoch, seq, seqLength: SEQ_LENGTH, cid: this.cid } as const;
    const out = new Uint8Array(unifiedHeaderLength(fields) + length);
    const header = out.subarray(0, writeUnifiedHeader(out, fields, length));
    const nonce = xorNonce(this.iv, tlsSequenceHigh(seq), seq >>> 0);
    this.trailer[0] = type;
    if (this.fast) {
      this.fast.sealTo(nonce, header, data, this.trailer, out, header.length);
    } else {
      const inner = new Uint8Array(data.length + 1);
      inner.set(data);
      inner[data.length] = type;
      out.set(this.aead.seal(nonce, inner, header), header.length);
    }
    maskRecordNumber(this.provider, this.aeadName, this.snKey, out, 1 + (this.cid?.length ?? 0), SEQ_LENGTH, header.length);
    return out;
  }

  /** The record's sequence bits, unmasked; undefined when its ciphertext is too short to sample (RFC 9147 4.2.3). */
  sequenceBits(record: Dtls13CiphertextRecord): number | undefined {
    if (this.destroyed || record.encryptedRecord.length < RECORD_NUMBER_SAMPLE_LENGTH + 1) return undefined;
    const mask = this.provider.recordNumberMask!(this.aeadName, this.snKey, record.encryptedRecord.subarray(0, RECORD_NUMBER_SAMPLE_LENGTH));
    return record.seqLength === 2 ? record.encryptedSeqBits ^ ((mask[0]! << 8) | mask[1]!) : record.encryptedSeqBits ^ mask[0]!;
  }

  /** The content type and data of a record whose full sequence number is `seq` and unmasked bits `bits`, or null when it does not authenticate. */
  open(record: Dtls13CiphertextRecord, seq: number, bits: number): { type: number; data: Uint8Array } | null {
    if (this.destroyed) return null;
    // The additional data is the header as sent, before its sequence bits were masked (in a scratch buffer: used by the AEAD call below only).
    const header = HEADER_SCRATCH.subarray(0, record.header.length);
    header.set(record.header);
    const at = 1 + (record.cid?.length ?? 0);
    if (record.seqLength === 2) {
      header[at] = bits >>> 8;
      header[at + 1] = bits & 0xff;
    } else {
      header[at] = bits;
    }
    const inner = this.aead.open(xorNonce(this.iv, tlsSequenceHigh(seq), seq >>> 0), record.encryptedRecord, header);
    if (!inner || inner.length > DTLS_MAX_PLAINTEXT + 1) return null;
    let end = inner.length - 1;
    while (end >= 0 && inner[end] === 0) end--;
    if (end < 0) return null;
    return { type: inner[end]!, data: inner.subarray(0, end) };
  }

  destroy(): void {
    this.destroyed = true;
    wipe(this.iv, this.snKey);
  }
}

interface Read13 {
  protection: Dtls13Protection;
  window: ReplayWindow;
  forgeries: number;
}

interface Write13 {
  protection: Dtls13Protection;
  nextSeq: number;
}

/** A record's epoch and sequence number (RFC 9147 4: what ACKs name). */
export interface RecordNumber {
  epoch: number;
  seq: number;
}

const MAX_PENDING_RECORDS = 16;
const MAX_PENDING_BYTES = 32 * 1024;

export class Dtls13RecordLayer {
  private readonly legacy: DtlsRecordLayer;
  private readonly reads = new Map<number, Read13>();
  private readonly writes = new Map<number, Write13>();
  private readEpoch13 = 0;
  private writeEpoch13 = 0;
  private pending: Dtls13CiphertextRecord[] = [];
  private pendingBytes = 0;
  private forgeryLimitReached = false;
  /** Forged records tolerated per DTLS 1.3 read key (RFC 9147 4.5.3); the engine sets it. */
  integrityLimit = Infinity;
  /** The newest protected record authenticated so far, and how many records were the newest when they came. */
  private newest13 = { epoch: -1, seq: -1, count: 0 };
  /** The CID protected records must carry (ours, when the peer agreed to use it, RFC 9147 9); none without. */
  receiveCid: Uint8Array | undefined = undefined;

  constructor(options: DtlsRecordLayerOptions = {}) {
    this.legacy = new DtlsRecordLayer(options);
  }

  get stats(): DtlsRecordStats {
    return this.legacy.stats;
  }
  get plaintextVersion(): number {
    return this.legacy.plaintextVersion;
  }
  set plaintextVersion(v: number) {
    this.legacy.plaintextVersion = v;
  }
  get receiveCidLength(): number {
    return this.legacy.receiveCidLength;
  }
  set receiveCidLength(n: number) {
    this.legacy.receiveCidLength = n;
  }
  get integrityLimitReached(): boolean {
    return this.forgeryLimitReached || this.legacy.integrityLimitReached;
  }
  /**
   * Authenticated records that were the newest received so far (a higher epoch, or a higher
   * sequence number in the same one): RFC 9147 9 lets a CID endpoint follow its peer to a new
   * address only on such a record, so a delayed or replayed older one cannot send it back.
   * DTLS 1.2-format records (epoch 0 here) count as the DTLS 1.2 layer counts them.
   */
  get newestRecords(): number {
    return this.newest13.count + this.legacy.newestRecords;
  }
  get writeEpoch(): number {
    return this.writeEpoch13 || this.legacy.writeEpoch;
  }
  get readEpoch(): number {
    return Math.max(this.readEpoch13, this.legacy.readEpoch);
  }
  /** The newest DTLS 1.3 epochs (0 before any). */
  get dtls13ReadEpoch(): number {
    return this.readEpoch13;
  }
  get dtls13WriteEpoch(): number {
    return this.writeEpoch13;
  }
  /** The sequence number the next record of `epoch` (default: the current write epoch) gets. */
  nextSeqOf(epoch = this.writeEpoch): number {
    return this.writes.get(epoch)?.nextSeq ?? this.legacy.nextSeqOf(epoch);
  }
  get nextWriteSeq(): number {
    return this.nextSeqOf();
  }
  /** Bytes a record of `epoch` adds to its data. */
  overheadOf(epoch: number): number {
    return this.writes.get(epoch)?.protection.overhead ?? this.legacy.writeOverhead;
  }

  // DTLS 1.2 keys, when the handshake settles on DTLS 1.2.
  advanceWriteSequence(seq: number): void {
    this.legacy.advanceWriteSequence(seq);
  }
  setWriteEpoch(epoch: number, protection: DtlsProtection): void {
    this.legacy.setWriteEpoch(epoch, protection);
  }
  setReadEpoch(epoch: number, protection: DtlsProtection): void {
    this.legacy.integrityLimit = this.integrityLimit;
    this.legacy.setReadEpoch(epoch, protection);
  }

  /** Start writing DTLS 1.3 `epoch` (above the current one); the oldest kept epochs beyond a few are wiped. */
  setWriteEpoch13(epoch: number, protection: Dtls13Protection): void {
    if (epoch <= this.writeEpoch13) throw new TLSError('internal_error', `DTLS 1.3 write epoch must increase: ${this.writeEpoch13} -> ${epoch}`);
    this.writes.set(epoch, { protection, nextSeq: 0 });
    this.writeEpoch13 = epoch;
    for (const [e, w] of [...this.writes]) {
      if (e > epoch - WRITE_EPOCHS_KEPT) continue;
      w.protection.destroy();
      this.writes.delete(e);
    }
  }

  /**
   * Client 0-RTT: epoch 1 (RFC 9147 6.1), sealed into by asking for it by number while the
   * current write epoch stays 0 (a second ClientHello and everything else go there) until
   * the handshake epoch. Keyed again (new keys, numbers from 0) for the ClientHello that
   * answers a DTLS 1.2 HelloVerifyRequest.
   */
  setEarlyWriteEpoch13(protection: Dtls13Protection): void {
    if (this.writeEpoch13 !== 0) throw new TLSError('internal_error', 'DTLS 1.3 early data epoch after the handshake epoch');
    this.writes.get(EARLY_DATA_EPOCH)?.protection.destroy();
    this.writes.set(EARLY_DATA_EPOCH, { protection, nextSeq: 0 });
  }

  /** Start reading DTLS 1.3 `epoch`; records of it that arrived early are delivered by the next `drainBuffered`. */
  setReadEpoch13(epoch: number, protection: Dtls13Protection): void {
    if (epoch <= this.readEpoch13) throw new TLSError('internal_error', `DTLS 1.3 read epoch must increase: ${this.readEpoch13} -> ${epoch}`);
    this.reads.set(epoch, { protection, window: new ReplayWindow(), forgeries: 0 });
    this.readEpoch13 = epoch;
    for (const [e, r] of [...this.reads]) {
      if (e > epoch - READ_EPOCHS_KEPT) continue;
      r.protection.destroy();
      this.reads.delete(e);
    }
  }

  /** One record of `type` in `epoch` (default: the current write epoch). */
  seal(type: number, data: Uint8Array, epoch: number = this.writeEpoch): Uint8Array {
    const w = this.writes.get(epoch);
    if (!w) return this.legacy.seal(type, data, epoch);
    if (w.nextSeq >= 2 ** 48) throw new TLSError('internal_error', `DTLS sequence numbers of epoch ${epoch} exhausted`);
    return w.protection.seal(type, data, epoch, w.nextSeq++);
  }

  /** Every record of `datagram` that parses, is of a keyed epoch, is no replay and authenticates, in order. Never throws. */
  open(datagram: Uint8Array): DtlsOpened[] {
    const out = this.drainBuffered();
    const { records, unparsed } = parseDtls13Datagram(datagram, this.receiveCidLength, this.legacy.maxRecordsPerDatagram);
    if (unparsed > 0) this.stats.dropped.malformed++;
    for (const record of records) {
      if (record.kind === 'plaintext') out.push(...this.legacy.open(record.raw));
      else this.process(record, out, true);
    }
    return out;
  }

  /** Records that waited for an epoch's keys and can be read now. */
  drainBuffered(): DtlsOpened[] {
    const out = this.legacy.drainBuffered();
    if (this.pending.length === 0) return out;
    const pending = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    for (const record of pending) this.process(record, out, true);
    return out;
  }

  private process(record: Dtls13CiphertextRecord, out: DtlsOpened[], mayWait: boolean): void {
    const epoch = reconstructEpoch(record.epochBits, [...this.reads.keys()]);
    const state = epoch === undefined ? undefined : this.reads.get(epoch);
    if (epoch === undefined || !state) {
      // Only the next epoch can be keyed (1 for 0-RTT or 2 first, then one more at a time, RFC 9147
      // 6.1): a record that cannot be of it would wait forever and take the room early records of
      // that epoch need. What waits is judged again at each drain, so it goes once it cannot be next.
      const next = this.readEpoch13 + 1;
      const mayBeNext = record.epochBits === (next & 3) || (this.readEpoch13 === 0 && record.epochBits === 2);
      if (!mayWait || !mayBeNext || !this.wait(record)) this.stats.dropped.unknownEpoch++;
      return;
    }
    // With our CID in use every protected record carries it, and only it (RFC 9147 9).
    const cid = this.receiveCid;
    if (cid ? !record.cid || !sameCid(record.cid, cid) : record.cid) {
      this.stats.dropped.malformed++;
      return;
    }
    const bits = state.protection.sequenceBits(record);
    if (bits === undefined) {
      this.stats.dropped.malformed++;
      return;
    }
    const seq = reconstructSequence(bits, record.seqLength, state.window.highest);
    if (state.window.isReplay(seq)) {
      this.stats.dropped.replay++;
      return;
    }
    const opened = state.protection.open(record, seq, bits);
    if (!opened) {
      this.stats.dropped.badMac++;
      if (++state.forgeries >= this.integrityLimit) this.forgeryLimitReached = true;
      return;
    }
    state.window.accept(seq);
    this.stats.received++;
    const newest = this.newest13;
    if (epoch > newest.epoch || (epoch === newest.epoch && seq > newest.seq)) this.newest13 = { epoch, seq, count: newest.count + 1 };
    out.push({ type: opened.type, epoch, seq, version: ProtocolVersion.DTLS1_3, data: opened.data });
  }

  /** Keep a record of an epoch not keyed yet (a copy: the datagram may be reused), within bounds. */
  private wait(record: Dtls13CiphertextRecord): boolean {
    if (this.pending.length >= MAX_PENDING_RECORDS || this.pendingBytes + record.raw.length > MAX_PENDING_BYTES) return false;
    const raw = new Uint8Array(record.raw);
    const headerLength = record.header.length;
    this.pending.push({
      ...record,
      raw,
      header: raw.subarray(0, headerLength),
      encryptedRecord: raw.subarray(headerLength),
      ...(record.cid ? { cid: raw.subarray(1, 1 + record.cid.length) } : {}),
    });
    this.pendingBytes += raw.length;
    this.stats.buffered++;
    return true;
  }

  destroy(): void {
    this.legacy.destroy();
    for (const r of this.reads.values()) r.protection.destroy();
    for (const w of this.writes.values()) w.protection.destroy();
    this.reads.clear();
    this.writes.clear();
    this.pending = [];
    this.pendingBytes = 0;
  }
}
