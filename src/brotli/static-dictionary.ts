/**
 * The static dictionary (RFC 7932 section 8): words of 4 to 24 bytes, 2^NDBITS[length] of each
 * length, stored back to back by length. The data is embedded compressed and inflated on the
 * first dictionary reference; its SHA-256 must equal the published one, so a damaged copy is
 * refused rather than silently producing wrong output.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { inflateSync } from 'fflate';
import { base64Decode } from '../util/pem.js';
import { equal, fromHex } from '../util/bytes.js';
import { BrotliError } from './brotli-error.js';
import { DICTIONARY_DEFLATED_BASE64 } from './dictionary-deflated.js';

/** SHA-256 of the 122,784-byte dictionary, as published with the reference implementation. */
export const DICTIONARY_SHA256 = '20e42eb1b511c21806d4d227d07e5dd06877d8ce7b3a817f378f313653f35c70';
export const DICTIONARY_SIZE = 122_784;

export const MIN_WORD_LENGTH = 4;
export const MAX_WORD_LENGTH = 24;
/** NDBITS: log2 of the number of words of each length (indexed by length; 0..3 unused). */
export const NDBITS = [0, 0, 0, 0, 10, 10, 11, 11, 10, 10, 10, 10, 10, 9, 9, 8, 7, 7, 8, 7, 7, 6, 6, 5, 5];
/** DOFFSET: where the words of each length start. */
export const DOFFSET: number[] = [];
for (let len = 0, at = 0; len <= MAX_WORD_LENGTH; len++) {
  DOFFSET.push(at);
  if (len >= MIN_WORD_LENGTH) at += len << NDBITS[len]!;
}

/** Inflate and check a compressed dictionary (exported so the check itself can be tested). */
export function loadDictionary(deflatedBase64: string): Uint8Array {
  let data: Uint8Array;
  try {
    data = inflateSync(base64Decode(deflatedBase64));
  } catch (err) {
    throw new BrotliError(`the embedded static dictionary does not inflate: ${(err as Error).message}`);
  }
  if (data.length !== DICTIONARY_SIZE || !equal(sha256(data), fromHex(DICTIONARY_SHA256))) {
    throw new BrotliError('the embedded static dictionary does not match its published SHA-256');
  }
  return data;
}

let dictionary: Uint8Array | undefined;

/** Word `index` of length `length` (the caller has checked both are in range). */
export function dictionaryWord(length: number, index: number): Uint8Array {
  dictionary ??= loadDictionary(DICTIONARY_DEFLATED_BASE64);
  const start = DOFFSET[length]! + index * length;
  return dictionary.subarray(start, start + length);
}
