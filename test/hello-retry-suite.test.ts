/**
 * A second ClientHello must lead to the cipher suite the HelloRetryRequest named (RFC 8446
 * 4.1.4): the transcript already hashes with it. A client whose second hello drops that
 * suite gets illegal_parameter, and the connection is dead.
 */
import { describe, expect, it } from 'vitest';
import { decodeHandshake, encodeHandshake, type MessageOf } from '../src/messages/handshake.js';
import { makePair } from './helpers/pair.js';

const TLS_AES_128_GCM_SHA256 = 0x1301;
const TLS_AES_256_GCM_SHA384 = 0x1302;

/** The records in `bytes` (TLS framing), each with its content type. */
function records(bytes: Uint8Array): { type: number; body: Uint8Array }[] {
  const out: { type: number; body: Uint8Array }[] = [];
  for (let at = 0; at < bytes.length; ) {
    const length = (bytes[at + 3]! << 8) | bytes[at + 4]!;
    out.push({ type: bytes[at]!, body: bytes.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return out;
}

function record(type: number, body: Uint8Array): Uint8Array {
  return Uint8Array.from([type, 3, 3, body.length >> 8, body.length & 0xff, ...body]);
}

describe('the second ClientHello after a HelloRetryRequest', () => {
  it('leading to another cipher suite than the first is illegal_parameter', () => {
    // The client shares P-256 only, the server wants X25519: it asks again, having chosen AES-128-GCM.
    const p = makePair({ groups: ['secp256r1', 'x25519'], keyShareGroups: ['secp256r1'] }, { groups: ['x25519'], cipherSuites: ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384'] });
    p.server.feed(p.client.takeOutput());
    p.client.feed(p.server.takeOutput());
    expect(p.server.helloRetried).toBe(true);
    // The second hello as the client sent it, but offering AES-256-GCM alone.
    const rewritten = records(p.client.takeOutput()).map(({ type, body }) => {
      if (type !== 22) return record(type, body);
      const hello = decodeHandshake(1, body.subarray(4)) as MessageOf<'client_hello'>;
      expect(hello.cipher_suites).toContain(TLS_AES_128_GCM_SHA256);
      return record(22, encodeHandshake({ ...hello, cipher_suites: [TLS_AES_256_GCM_SHA384] }));
    });
    for (const bytes of rewritten) p.server.feed(bytes);
    expect(p.server.error?.alert).toBe('illegal_parameter');
    expect(p.server.error?.message).toMatch(/another cipher suite/);
    expect(p.server.state).not.toBe('ESTABLISHED');
  });

  it('offering the same suites again goes on to the handshake', () => {
    const p = makePair({ groups: ['secp256r1', 'x25519'], keyShareGroups: ['secp256r1'] }, { groups: ['x25519'], cipherSuites: ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384'] });
    p.pump();
    expect(p.server.helloRetried).toBe(true);
    expect(p.server.state).toBe('ESTABLISHED');
    expect(p.client.state).toBe('ESTABLISHED');
  });
});
