/**
 * The CID a datagram's first record carries, as the Node server reads it to find an
 * association before opening any record: DTLS 1.2's tls12_cid header (RFC 9146 4) and DTLS
 * 1.3's unified header (RFC 9147 4), and no CID from what carries none or is cut short.
 */
import { describe, expect, it } from 'vitest';
import { datagramCid } from '../src/record/cid-demux.js';
import { TLS12_CID } from '../src/record/dtls-cid.js';
import { encodeUnifiedHeader } from '../src/record/dtls13-header.js';

const CID = Uint8Array.from([0xc1, 0xc2, 0xc3, 0xc4]);
const hex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('hex') : undefined);

/** type, version fefd, epoch 1, seq 7, CID, length, body. */
function tls12Cid(cid: Uint8Array, body = new Uint8Array(20)): Uint8Array {
  const header = [TLS12_CID, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 7];
  return Uint8Array.from([...header, ...cid, body.length >> 8, body.length & 0xff, ...body]);
}

function unified(cid: Uint8Array | undefined, body = new Uint8Array(20), seqLength: 1 | 2 = 2): Uint8Array {
  const header = encodeUnifiedHeader({ epoch: 3, seq: 5, seqLength, ...(cid ? { cid } : {}) }, body.length);
  return Uint8Array.from([...header, ...body]);
}

describe('datagramCid', () => {
  it('reads the CID of a tls12_cid record (DTLS 1.2, RFC 9146)', () => {
    expect(hex(datagramCid(tls12Cid(CID), CID.length))).toBe('c1c2c3c4');
  });

  it.each([1, 2] as const)('reads the CID of a unified header with the C bit (DTLS 1.3), %i-byte sequence number', (seqLength) => {
    expect(hex(datagramCid(unified(CID, new Uint8Array(20), seqLength), CID.length))).toBe('c1c2c3c4');
  });

  it('a unified header without the C bit carries no CID', () => {
    expect(datagramCid(unified(undefined), CID.length)).toBeUndefined();
  });

  it('a DTLSPlaintext record (a ClientHello, an epoch-0 alert) carries no CID', () => {
    const plaintext = Uint8Array.from([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]);
    expect(datagramCid(plaintext, CID.length)).toBeUndefined();
  });

  it('a datagram too short to hold the CID and what must follow it gives none', () => {
    expect(datagramCid(tls12Cid(CID).subarray(0, 11 + CID.length + 1), CID.length)).toBeUndefined();
    expect(datagramCid(unified(CID).subarray(0, 1 + CID.length), CID.length)).toBeUndefined();
    expect(datagramCid(new Uint8Array(0), CID.length)).toBeUndefined();
  });

  it('a server that hands out no CIDs (length 0) reads none', () => {
    expect(datagramCid(unified(CID), 0)).toBeUndefined();
    expect(datagramCid(tls12Cid(CID), 0)).toBeUndefined();
  });
});
