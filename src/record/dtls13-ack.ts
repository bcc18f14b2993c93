/**
 * The DTLS 1.3 ACK message (RFC 9147 section 7), its own content type (26):
 *
 *   struct { uint64 epoch; uint64 sequence_number; } RecordNumber;
 *   struct { RecordNumber record_numbers<0..2^16-1>; } ACK;
 *
 * Decoding is strict and bounded: the vector length must be a multiple of 16 and match the
 * bytes present, at most `maxRecordNumbers` entries are accepted (a flood of record numbers
 * must not cost unbounded work), an epoch must fit 2^53 and a sequence number 2^48 (no
 * record we send has a higher one). Failures are TLSError decode_error with a stable code.
 */
import { TLSError } from '../errors.js';
import { writeSequence } from './aead-nonce.js';

/** The ACK record's content type (RFC 9147 4, IANA). */
export const ACK_CONTENT_TYPE = 26;
/** Record numbers one ACK may carry by default: far more than a handshake flight's records. */
export const DEFAULT_MAX_ACK_RECORD_NUMBERS = 256;
const ENTRY = 16;

export interface RecordNumber {
  epoch: number;
  seq: number;
}

/** A u64 as a number, or -1 when it is 2^53 or more (not a value this implementation ever sends). */
function getU64(b: Uint8Array, at: number): number {
  const hi = ((b[at]! << 24) >>> 0) + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
  const lo = ((b[at + 4]! << 24) >>> 0) + ((b[at + 5]! << 16) | (b[at + 6]! << 8) | b[at + 7]!);
  if (hi >= 2 ** 21) return -1;
  return hi * 2 ** 32 + lo;
}

function ackError(message: string, code = 'ERR_TLS_BAD_ACK'): TLSError {
  return new TLSError('decode_error', `ACK: ${message}`, { code });
}

/** How many record numbers an ACK body of at most `room` bytes holds (at least one). */
export function ackCapacity(room: number): number {
  return Math.max(1, Math.floor((room - 2) / ENTRY));
}

/** The ACK body for `records` (RFC 9147 7 asks for them in ascending order; the caller sorts). Throws RangeError for a caller error. */
export function encodeAck(records: readonly RecordNumber[]): Uint8Array {
  if (records.length * ENTRY > 0xffff) throw new RangeError(`an ACK holds at most ${Math.floor(0xffff / ENTRY)} record numbers`);
  const out = new Uint8Array(2 + records.length * ENTRY);
  const length = records.length * ENTRY;
  out[0] = length >>> 8;
  out[1] = length & 0xff;
  records.forEach((r, i) => {
    if (!Number.isInteger(r.epoch) || r.epoch < 0 || r.epoch >= 2 ** 53) throw new RangeError(`bad epoch ${r.epoch}`);
    if (!Number.isInteger(r.seq) || r.seq < 0 || r.seq >= 2 ** 48) throw new RangeError(`bad sequence number ${r.seq}`);
    writeSequence(out, 2 + i * ENTRY, Math.floor(r.epoch / 2 ** 32), r.epoch >>> 0);
    writeSequence(out, 10 + i * ENTRY, Math.floor(r.seq / 2 ** 32), r.seq >>> 0);
  });
  return out;
}

/** The record numbers of an ACK body; throws TLSError (decode_error) on anything malformed or over the bound. */
export function decodeAck(body: Uint8Array, maxRecordNumbers = DEFAULT_MAX_ACK_RECORD_NUMBERS): RecordNumber[] {
  if (body.length < 2) throw ackError('truncated length');
  const length = (body[0]! << 8) | body[1]!;
  if (length !== body.length - 2) throw ackError(`record_numbers says ${length} bytes, ${body.length - 2} follow`);
  if (length % ENTRY !== 0) throw ackError(`record_numbers of ${length} bytes is not a whole number of RecordNumbers`);
  const count = length / ENTRY;
  if (count > maxRecordNumbers) throw ackError(`${count} record numbers, more than the ${maxRecordNumbers} accepted`, 'ERR_TLS_ACK_TOO_LARGE');
  const out: RecordNumber[] = [];
  for (let i = 0; i < count; i++) {
    const epoch = getU64(body, 2 + i * ENTRY);
    const seq = getU64(body, 10 + i * ENTRY);
    if (epoch < 0) throw ackError('an epoch of 2^53 or more');
    if (seq < 0 || seq >= 2 ** 48) throw ackError('a sequence number of 2^48 or more');
    out.push({ epoch, seq });
  }
  return out;
}
