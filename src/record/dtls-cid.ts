/**
 * Connection IDs for DTLS 1.2 (RFC 9146): the pieces of the `tls12_cid` record that differ
 * from an ordinary DTLSCiphertext. With a CID negotiated, records protected under an epoch
 * >= 1 travel as
 *
 *   type = tls12_cid (25) | version | epoch | sequence_number | cid | length | enc_content
 *
 * where enc_content protects a DTLSInnerPlaintext (content, real type, zero padding: the
 * content type is encrypted, as in TLS 1.3), under the additional data of RFC 9146 section 5
 * (not the 13-byte RFC 6347 one). The CID length is not on the wire: a receiver knows the
 * length of the CIDs it hands out.
 */
import { ContentType } from '../messages/constants.js';

/** The record content type of a record that carries a CID (RFC 9146 section 4). */
export const TLS12_CID = 25;
/** The connection_id extension's code point (RFC 9146 section 3). */
export const CONNECTION_ID_EXTENSION = 54;
/** A CID is opaque cid<0..2^8-1>. */
export const MAX_CID_LENGTH = 255;

/** The CIDs of one association: what we put in records we send, what we expect in records we get. */
export interface ConnectionIds {
  /** The peer's CID (empty: the peer asked for none, so we send ordinary records). */
  send: Uint8Array;
  /** Our CID (empty: we asked for none, so records must come without one). */
  receive: Uint8Array;
}

/** Bytes a CID adds to a protected record we send: the CID in the header and the inner content type. */
export function cidOverhead(cids: ConnectionIds | undefined): number {
  return cids && cids.send.length > 0 ? cids.send.length + 1 : 0;
}

/**
 * additional_data of RFC 9146 section 5 (AEAD ciphers):
 *   seq_num_placeholder (8 x 0xff) + tls12_cid + cid_length + tls12_cid + version + epoch
 *   + sequence_number + cid + length_of_DTLSInnerPlaintext.
 * `epochAndSeq` is the 8 bytes epoch(2) + sequence_number(6) of the record header.
 */
export function cidAdditionalData(version: number, epochAndSeq: Uint8Array, cid: Uint8Array, innerLength: number): Uint8Array {
  const aad = new Uint8Array(8 + 1 + 1 + 1 + 2 + 8 + cid.length + 2);
  aad.fill(0xff, 0, 8);
  aad[8] = TLS12_CID;
  aad[9] = cid.length;
  aad[10] = TLS12_CID;
  aad[11] = version >>> 8;
  aad[12] = version & 0xff;
  aad.set(epochAndSeq, 13);
  aad.set(cid, 21);
  aad[21 + cid.length] = innerLength >>> 8;
  aad[22 + cid.length] = innerLength & 0xff;
  return aad;
}

/** DTLSInnerPlaintext: content, then the real content type; we add no padding. */
export function encodeInnerPlaintext(type: number, content: Uint8Array): Uint8Array {
  const inner = new Uint8Array(content.length + 1);
  inner.set(content);
  inner[content.length] = type;
  return inner;
}

// ChangeCipherSpec goes in epoch 0, before any CID applies.
const KNOWN_INNER = new Set<number>([ContentType.alert, ContentType.handshake, ContentType.application_data]);

/**
 * The real content type and content of a decrypted DTLSInnerPlaintext: the last non-zero
 * byte is the type, zeros after it are padding. Null (the record is dropped, as an invalid
 * record is) when it is all padding or the type is not one a CID record may carry. The scan
 * is bounded by the record, itself at most 2^14 + 1 + padding bytes.
 */
export function decodeInnerPlaintext(inner: Uint8Array): { type: number; data: Uint8Array } | null {
  let end = inner.length;
  while (end > 0 && inner[end - 1] === 0) end--;
  if (end === 0) return null;
  const type = inner[end - 1]!;
  if (!KNOWN_INNER.has(type)) return null;
  return { type, data: inner.subarray(0, end - 1) };
}

/** Byte-wise equality (CIDs are public: no constant-time need). */
export function sameCid(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
