/**
 * DTLS 1.3 record numbers (RFC 9147 4.2.2 and 4.2.3).
 *
 * Record number encryption: the sequence-number bits of a unified header are XORed with a
 * mask computed from the first 16 bytes of the record's ciphertext under sn_key, a key
 * derived per epoch and direction from the traffic secret (label "sn"). The mask's cipher
 * follows the AEAD (AES-ECB or ChaCha20, `CryptoProvider.recordNumberMask`). A sender
 * encrypts the bits after sealing the record; a receiver decrypts them before it can
 * choose the nonce and additional data. Records shorter than 16 bytes of ciphertext cannot
 * be processed and are dropped (RFC 9147 4.2.3).
 *
 * Reconstruction: the header carries only the low 8 or 16 bits of the sequence number and
 * the low 2 bits of the epoch; the receiver picks the full value closest to the next one it
 * expects (RFC 9147 4.2.2).
 */
import { hkdfExpandLabel } from '../crypto/keyschedule.js';
import type { AeadName, CryptoProvider, HashName } from '../crypto/provider.js';
import { TLSError } from '../errors.js';

/** Bytes of ciphertext the mask is computed from; shorter records are dropped. */
export const RECORD_NUMBER_SAMPLE_LENGTH = 16;

const KEY_LENGTH: Record<AeadName, number> = {
  'AES-128-GCM': 16,
  'AES-256-GCM': 32,
  'CHACHA20-POLY1305': 32,
  'AES-128-CCM': 16,
  'AES-128-CCM-8': 16,
};

/** sn_key = HKDF-Expand-Label(traffic_secret, "sn", "", key_length), with DTLS 1.3's "dtls13" label prefix (RFC 9147 4.2.3, 5.9). */
export function deriveSnKey(provider: CryptoProvider, hash: HashName, aead: AeadName, trafficSecret: Uint8Array): Uint8Array {
  return hkdfExpandLabel(provider, hash, trafficSecret, 'sn', new Uint8Array(0), KEY_LENGTH[aead], 'dtls13');
}

/**
 * XOR the record-number mask into the sequence bits of one record, in place: the same call
 * encrypts (sender, after sealing) and decrypts (receiver, before opening). `record` is the
 * unified header followed by the encrypted record; `seqOffset` and `seqLength` say where the
 * sequence bits sit in it, `headerLength` where the ciphertext starts. Returns false, touching
 * nothing, when the ciphertext is shorter than the 16-byte sample.
 */
export function maskRecordNumber(
  provider: CryptoProvider,
  aead: AeadName,
  snKey: Uint8Array,
  record: Uint8Array,
  seqOffset: number,
  seqLength: 1 | 2,
  headerLength: number,
): boolean {
  if (record.length - headerLength < RECORD_NUMBER_SAMPLE_LENGTH) return false;
  if (!provider.recordNumberMask) throw new TLSError('internal_error', `the crypto provider ${provider.name} has no record number encryption (DTLS 1.3)`);
  const mask = provider.recordNumberMask(aead, snKey, record.subarray(headerLength, headerLength + RECORD_NUMBER_SAMPLE_LENGTH));
  for (let i = 0; i < seqLength; i++) record[seqOffset + i]! ^= mask[i]!;
  return true;
}

/**
 * The full value of a counter of which only the low `bits` bits were sent: of the
 * candidates with those low bits, the one closest to `expected` (ties go to the lower one),
 * never negative and never above `max`. RFC 9147 4.2.2 asks this for sequence numbers with
 * `expected` = highest received + 1 in the epoch.
 */
export function reconstruct(lowBits: number, bits: number, expected: number, max = 2 ** 48 - 1): number {
  const window = 2 ** bits;
  if (!Number.isInteger(lowBits) || lowBits < 0 || lowBits >= window) throw new RangeError(`low bits ${lowBits} out of range for ${bits} bits`);
  const base = expected - (expected % window);
  let best = -1;
  for (const candidate of [base - window + lowBits, base + lowBits, base + window + lowBits]) {
    if (candidate < 0 || candidate > max) continue;
    if (best < 0 || Math.abs(candidate - expected) < Math.abs(best - expected)) best = candidate;
  }
  return best;
}

/** The record sequence number a header's 8 or 16 (decrypted) bits stand for, given the highest one received so far in its epoch (-1: none yet). */
export function reconstructSequence(lowBits: number, seqLength: 1 | 2, highestReceived: number): number {
  return reconstruct(lowBits, seqLength * 8, highestReceived + 1);
}

/**
 * The epoch a header's two epoch bits stand for, among the epochs the receiver has keys
 * for (RFC 9147 4.2.2: the low bits pick one; with more than four candidates the newest
 * that matches wins). Undefined when none matches: the record is dropped.
 */
export function reconstructEpoch(epochBits: number, installed: readonly number[]): number | undefined {
  let found: number | undefined;
  for (const e of installed) if ((e & 3) === (epochBits & 3) && (found === undefined || e > found)) found = e;
  return found;
}
