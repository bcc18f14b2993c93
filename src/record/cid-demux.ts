/**
 * Which association a datagram is for, by the connection ID its first record carries, before
 * any record is opened: what a server on one UDP socket needs so that a client whose address
 * changed (a NAT rebinding) still reaches its association. Two record forms carry a CID:
 *
 *   DTLS 1.2, RFC 9146 4:  tls12_cid(25) | version(2) | epoch(2) | seq(6) | cid | length(2) | ...
 *   DTLS 1.3, RFC 9147 4:  001CSLEE | cid (when C) | seq(1 or 2) | length(0 or 2) | ...
 *
 * The CID's length is not on the wire in either: the server knows the length of the CIDs it
 * hands out. The CID found here is only a hint of where to deliver the datagram; the
 * association's record layer still authenticates it (a forged CID fails there and is dropped).
 */
import { TLS12_CID } from './dtls-cid.js';
import { isUnifiedHeader } from './dtls13-header.js';

/** The unified header's C bit (RFC 9147 4). */
const C_BIT = 0x10;

/**
 * The CID (`cidLength` bytes, a view into `datagram`) that the datagram's first record
 * carries, or undefined when it carries none or the datagram is too short to hold one.
 */
export function datagramCid(datagram: Uint8Array, cidLength: number): Uint8Array | undefined {
  if (cidLength <= 0 || datagram.length === 0) return undefined;
  const first = datagram[0]!;
  if (first === TLS12_CID) {
    // The fixed header before the CID is 11 bytes; a length field follows it.
    return datagram.length >= 13 + cidLength ? datagram.subarray(11, 11 + cidLength) : undefined;
  }
  if (isUnifiedHeader(first) && (first & C_BIT) !== 0) {
    // At least one sequence-number byte follows the CID.
    return datagram.length >= 2 + cidLength ? datagram.subarray(1, 1 + cidLength) : undefined;
  }
  return undefined;
}
