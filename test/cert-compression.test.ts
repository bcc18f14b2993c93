/**
 * Certificate compression (RFC 8879) in memory: the decoders bound their work (a bomb, a
 * short or long stream, garbage are bad_certificate), our client and server compress and
 * decompress a real chain with the transcript intact, the server compresses once per
 * certificate, and a CompressedCertificate the client did not ask for is refused.
 */
import { execFileSync } from 'node:child_process';
import { zlibSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { decompressCertificate } from '../src/cert-compression-codecs.js';
import { TLSError } from '../src/errors.js';
import type { HandshakeMessage } from '../src/messages/handshake.js';
import { certificateFromCompressed } from '../src/statem/cert-compression.js';
import type { ClientHandshake } from '../src/statem/context.js';
import { utf8 } from '../src/util/bytes.js';
import { certifiedKey } from './helpers/pki.js';
import { makePair } from './helpers/pair.js';

function zstd(data: Uint8Array): Uint8Array {
  return new Uint8Array(execFileSync('zstd', ['-q', '-c'], { input: data }));
}

function expectBadCertificate(f: () => unknown): void {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(TLSError);
    expect((err as TLSError).alert).toBe('bad_certificate');
    return;
  }
  throw new Error('expected bad_certificate');
}

describe('decompression bounds', () => {
  const text = utf8.encode('certificate '.repeat(100));
  const compressors = { zlib: (d: Uint8Array) => zlibSync(d), zstd };

  it.each(['zlib', 'zstd'] as const)('%s: exact declared length decodes', (alg) => {
    expect(decompressCertificate(alg, compressors[alg](text), text.length, 1 << 16)).toEqual(text);
  });

  it.each(['zlib', 'zstd'] as const)('%s: a bomb (10 MB of zeros declared as 1000 bytes) is refused with bad_certificate in a fraction of a full decode', (alg) => {
    const bomb = compressors[alg](new Uint8Array(10_000_000));
    const timed = (f: () => void) => {
      const start = performance.now();
      f();
      return performance.now() - start;
    };
    const refused = timed(() => expectBadCertificate(() => decompressCertificate(alg, bomb, 1000, 1 << 16)));
    // What the whole expansion costs, on the same (shared, loaded) machine at the same moment.
    const full = timed(() => expect(decompressCertificate(alg, bomb, 10_000_000, 10_000_000).length).toBe(10_000_000));
    expect(refused).toBeLessThan(full / 2);
  });

  it.each(['zlib', 'zstd'] as const)('%s: fewer bytes than declared, a declared length over the limit, and garbage are bad_certificate', (alg) => {
    expectBadCertificate(() => decompressCertificate(alg, compressors[alg](text), text.length + 1, 1 << 16));
    expectBadCertificate(() => decompressCertificate(alg, compressors[alg](text), 1 << 20, 1 << 16));
    expectBadCertificate(() => decompressCertificate(alg, utf8.encode('not compressed at all'), 100, 1 << 16));
  });
});

describe('CompressedCertificate in a handshake', () => {
  function received(p: ReturnType<typeof makePair>): string[] {
    const kinds: string[] = [];
    p.client.on('message', (dir: string, msg: HandshakeMessage) => dir === 'recv' && kinds.push(msg.type));
    return kinds;
  }

  it.each(['zlib', 'zstd'] as const)('a client offering %s alone gets a CompressedCertificate (zlib) or a plain Certificate (zstd, which we do not compress with)', (alg) => {
    const p = makePair({ certificateCompression: [alg] });
    const kinds = received(p);
    p.pump();
    expect(p.clientErrors).toEqual([]);
    expect(p.client.protocol).toBe('TLSv1.3');
    expect(kinds).toContain(alg === 'zlib' ? 'compressed_certificate' : 'certificate');
    expect(p.client.peerCertificates.length).toBe(2);
  });

  it('a client that offers nothing gets a plain Certificate; a server with compression off sends one too', () => {
    let p = makePair();
    let kinds = received(p);
    p.pump();
    expect(kinds).toContain('certificate');
    p = makePair({ certificateCompression: ['zlib'] }, { certificateCompression: [] });
    kinds = received(p);
    p.pump();
    expect(p.clientErrors).toEqual([]);
    expect(kinds).toContain('certificate');
    expect(kinds).not.toContain('compressed_certificate');
  });

  it('the server compresses a certificate once, not once per connection', () => {
    const certified = certifiedKey('leaf-ecdsa-p256');
    const sent: HandshakeMessage[] = [];
    for (let i = 0; i < 3; i++) {
      const p = makePair({ certificateCompression: ['zlib'] }, { certificates: [certified] });
      p.server.on('message', (dir: string, msg: HandshakeMessage) => dir === 'send' && msg.type === 'compressed_certificate' && sent.push(msg));
      p.pump();
      expect(p.clientErrors).toEqual([]);
    }
    expect(sent).toHaveLength(3);
    expect(sent[1]).toBe(sent[0]);
    expect(sent[2]).toBe(sent[0]);
  });

  it('a CompressedCertificate with an algorithm the client did not offer is illegal_parameter', () => {
    // A client context that offered zstd only, handed a zlib CompressedCertificate.
    const hs = { options: { certificateCompression: ['zstd'] } } as unknown as ClientHandshake;
    const msg = { type: 'compressed_certificate' as const, algorithm: 1, uncompressed_length: 4, compressed_certificate_message: zlibSync(new Uint8Array(4)) };
    expect(() => certificateFromCompressed(hs, msg)).toThrow(expect.objectContaining({ alert: 'illegal_parameter' }));
    const brotli = { ...msg, algorithm: 2 };
    expect(() => certificateFromCompressed({ options: { certificateCompression: ['zlib', 'zstd'] } } as unknown as ClientHandshake, brotli)).toThrow(
      expect.objectContaining({ alert: 'illegal_parameter' }),
    );
  });
});
