/**
 * The DTLS 1.3 record header (RFC 9147 section 4). A datagram holds DTLSPlaintext records
 * (epoch 0: the 13-byte header DTLS 1.2 also uses) and DTLSCiphertext records with the
 * unified header, side by side:
 *
 *    0 1 2 3 4 5 6 7
 *   +-+-+-+-+-+-+-+-+
 *   |0|0|1|C|S|L|E E|   C: a connection ID follows; S: 16-bit (else 8-bit) sequence number;
 *   +-+-+-+-+-+-+-+-+   L: a 16-bit length is present (else the record runs to the end of
 *   | Connection ID |      the datagram); EE: the low two bits of the epoch
 *   | 8/16-bit seq  |   (the sequence bits are encrypted on the wire: dtls13-record-number.ts)
 *   | 16-bit length |
 *   +---------------+
 *
 * The CID's length is not on the wire: a receiver knows the length of the CIDs it handed out.
 * Parsing never throws and bounds its work (records per datagram, record lengths).
 */
import { DTLS_MAX_PLAINTEXT, parseDatagramDetailed, type DtlsRecord } from './dtls-record-layer.js';

/** Largest DTLSCiphertext.encrypted_record: 2^14 + 256 (RFC 9147 4, as TLS 1.3's TLSCiphertext). */
export const DTLS13_MAX_CIPHERTEXT = DTLS_MAX_PLAINTEXT + 256;
/** The unified header's fixed bits: 001 in the top three bits of the first byte. */
const FIXED_MASK = 0xe0;
const FIXED_BITS = 0x20;
const C_BIT = 0x10;
const S_BIT = 0x08;
const L_BIT = 0x04;

export interface UnifiedHeaderFields {
  /** The full epoch; only its low two bits go on the wire. */
  epoch: number;
  /** The full record sequence number; only its low 8 or 16 bits go on the wire. */
  seq: number;
  /** 1 or 2 bytes of sequence number (default 2, which RFC 9147 4 recommends unless space is tight). */
  seqLength?: 1 | 2;
  /** The CID to carry (C bit), if any. */
  cid?: Uint8Array;
  /** Write the length field (L bit; needed unless the record is the last of its datagram). Default true. */
  withLength?: boolean;
}

/** A parsed unified header and the record it introduces (views into the datagram). */
export interface Dtls13CiphertextRecord {
  kind: 'ciphertext';
  /** The first byte, with the C/S/L/EE bits. */
  flags: number;
  /** The low two bits of the epoch. */
  epochBits: number;
  /** 1 or 2: how many sequence-number bytes the header carries. */
  seqLength: 1 | 2;
  /** The sequence number bits as they are on the wire (still encrypted). */
  encryptedSeqBits: number;
  cid?: Uint8Array;
  /** The header, byte for byte as received (the AEAD's additional data, once the sequence bits are decrypted). */
  header: Uint8Array;
  /** DTLSCiphertext.encrypted_record. */
  encryptedRecord: Uint8Array;
  /** Header and encrypted record. */
  raw: Uint8Array;
}

export interface Dtls13PlaintextRecord extends DtlsRecord {
  kind: 'plaintext';
}

export type Dtls13Record = Dtls13CiphertextRecord | Dtls13PlaintextRecord;

export interface ParsedDtls13Datagram {
  records: Dtls13Record[];
  /** Bytes after the last whole record that were not parsed (damage, truncation, the record limit, a CID we cannot parse). */
  unparsed: number;
}

/** Whether `firstByte` starts a unified header (RFC 9147 4.1: the demultiplexing rule). */
export function isUnifiedHeader(firstByte: number): boolean {
  return (firstByte & FIXED_MASK) === FIXED_BITS;
}

/** Length of the unified header that `fields` make. */
export function unifiedHeaderLength(fields: Pick<UnifiedHeaderFields, 'seqLength' | 'cid' | 'withLength'>): number {
  return 1 + (fields.cid?.length ?? 0) + (fields.seqLength ?? 2) + (fields.withLength === false ? 0 : 2);
}

/**
 * The unified header for a record whose encrypted_record is `length` bytes, with the
 * sequence bits in the clear (record number encryption is applied after sealing).
 * Throws RangeError for a caller error (a field out of range).
 */
export function encodeUnifiedHeader(fields: UnifiedHeaderFields, length: number): Uint8Array {
  const out = new Uint8Array(unifiedHeaderLength(fields));
  writeUnifiedHeader(out, fields, length);
  return out;
}

/** `encodeUnifiedHeader` written at the start of `out` (a record's own buffer: no header of its own); returns its length. */
export function writeUnifiedHeader(out: Uint8Array, fields: UnifiedHeaderFields, length: number): number {
  const seqLength = fields.seqLength ?? 2;
  const withLength = fields.withLength !== false;
  const cid = fields.cid;
  if (!Number.isInteger(fields.epoch) || fields.epoch < 0) throw new RangeError(`bad epoch ${fields.epoch}`);
  if (!Number.isInteger(fields.seq) || fields.seq < 0 || fields.seq >= 2 ** 48) throw new RangeError(`bad sequence number ${fields.seq}`);
  if (seqLength !== 1 && seqLength !== 2) throw new RangeError(`bad sequence number length ${String(seqLength)}`);
  if (cid && (cid.length === 0 || cid.length > 255)) throw new RangeError(`a CID in a header is 1 to 255 bytes, not ${cid.length}`);
  if (!Number.isInteger(length) || length < 0 || length > DTLS13_MAX_CIPHERTEXT) throw new RangeError(`bad record length ${length}`);
  out[0] = FIXED_BITS | (cid ? C_BIT : 0) | (seqLength === 2 ? S_BIT : 0) | (withLength ? L_BIT : 0) | (fields.epoch & 3);
  let at = 1;
  if (cid) {
    out.set(cid, at);
    at += cid.length;
  }
  if (seqLength === 2) out[at++] = (fields.seq >>> 8) & 0xff;
  out[at++] = fields.seq & 0xff;
  if (withLength) {
    out[at++] = length >>> 8;
    out[at++] = length & 0xff;
  }
  return at;
}

/**
 * Cut a DTLS 1.3 datagram into records. `cidLength` is the length of our CIDs (0: we use
 * none, so a header with the C bit cannot be parsed and ends the datagram, RFC 9147 9).
 * Parsing stops at the first record that is truncated, too long, of neither format, or
 * past `maxRecords`; the rest is counted in `unparsed`. A unified header without a length
 * takes the rest of the datagram. Never throws.
 */
export function parseDtls13Datagram(datagram: Uint8Array, cidLength = 0, maxRecords = 64): ParsedDtls13Datagram {
  const records: Dtls13Record[] = [];
  let at = 0;
  while (at < datagram.length && records.length < maxRecords) {
    const first = datagram[at]!;
    if (!isUnifiedHeader(first)) {
      // DTLSPlaintext (and DTLS 1.2-format records): one record of the 13-byte format, or nothing.
      // A DTLS 1.2 tls12_cid record carries our CID too (RFC 9146), of the same length.
      const one = parseDatagramDetailed(datagram.subarray(at), 1, cidLength).records[0];
      if (!one) break;
      records.push({ kind: 'plaintext', ...one });
      at += one.raw.length;
      continue;
    }
    const hasCid = (first & C_BIT) !== 0;
    if (hasCid && cidLength === 0) break;
    const seqLength: 1 | 2 = first & S_BIT ? 2 : 1;
    const hasLength = (first & L_BIT) !== 0;
    const headerLength = 1 + (hasCid ? cidLength : 0) + seqLength + (hasLength ? 2 : 0);
    if (datagram.length - at < headerLength) break;
    let p = at + 1;
    const cid = hasCid ? datagram.subarray(p, p + cidLength) : undefined;
    p += hasCid ? cidLength : 0;
    const encryptedSeqBits = seqLength === 2 ? (datagram[p]! << 8) | datagram[p + 1]! : datagram[p]!;
    p += seqLength;
    const length = hasLength ? (datagram[p]! << 8) | datagram[p + 1]! : datagram.length - at - headerLength;
    if (length > DTLS13_MAX_CIPHERTEXT) break;
    const start = at + headerLength;
    const end = start + length;
    if (end > datagram.length) break;
    records.push({
      kind: 'ciphertext',
      flags: first,
      epochBits: first & 3,
      seqLength,
      encryptedSeqBits,
      ...(cid ? { cid } : {}),
      header: datagram.subarray(at, start),
      encryptedRecord: datagram.subarray(start, end),
      raw: datagram.subarray(at, end),
    });
    at = end;
  }
  return { records, unparsed: datagram.length - at };
}
