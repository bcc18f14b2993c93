/**
 * Certificate compression (RFC 8879) in memory: the decoders bound their work (a bomb, a
 * short or long stream, garbage are bad_certificate), our client and server compress and
 * decompress a real chain with the transcript intact (zlib and brotli), the client reads a chain
 * brotli-compressed by node:zlib at every quality, the server compresses once per certificate,
 * and a CompressedCertificate the client did not ask for is refused.
 */
import { execFileSync } from 'node:child_process';
import { brotliCompressSync, constants } from 'node:zlib';
import { zlibSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { decompressCertificate } from '../src/cert-compression-codecs.js';
import { TLSError } from '../src/errors.js';
import { encodeHandshake, type HandshakeMessage } from '../src/messages/handshake.js';
import { certificateFromCompressed } from '../src/statem/cert-compression.js';
import type { ClientHandshake } from '../src/statem/context.js';
import { utf8 } from '../src/util/bytes.js';
import { certifiedKey } from './helpers/pki.js';
import { makePair } from './helpers/pair.js';

function zstd(data: Uint8Array): Uint8Array {
  return new Uint8Array(execFileSync('zstd', ['-q', '-c'], { input: data }));
}

function brotli(data: Uint8Array, quality = 11): Uint8Array {
  return new Uint8Array(brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: quality } }));
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
  const compressors = { zlib: (d: Uint8Array) => zlibSync(d), zstd, brotli: (d: Uint8Array) => brotli(d) };

  it.each(['zlib', 'zstd', 'brotli'] as const)('%s: exact declared length decodes', (alg) => {
    expect(decompressCertificate(alg, compressors[alg](text), text.length, 1 << 16)).toEqual(text);
  });

  it.each(['zlib', 'zstd', 'brotli'] as const)('%s: a bomb (10 MB of zeros declared as 1000 bytes) is refused with bad_certificate in a fraction of a full decode', (alg) => {
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

  it.each(['zlib', 'zstd', 'brotli'] as const)('%s: fewer bytes than declared, a declared length over the limit, and garbage are bad_certificate', (alg) => {
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

  it.each(['zlib', 'brotli', 'zstd'] as const)('a client offering %s alone gets a CompressedCertificate (zlib, brotli) or a plain Certificate (zstd, which we do not compress with)', (alg) => {
    const p = makePair({ certificateCompression: [alg] });
    const messages: HandshakeMessage[] = [];
    p.client.on('message', (dir: string, msg: HandshakeMessage) => dir === 'recv' && messages.push(msg));
    p.pump();
    expect(p.clientErrors).toEqual([]);
    expect(p.client.protocol).toBe('TLSv1.3');
    const compressed = messages.find((m) => m.type === 'compressed_certificate');
    if (alg === 'zstd') expect(compressed).toBeUndefined();
    else expect(compressed?.type === 'compressed_certificate' && compressed.algorithm).toBe(alg === 'zlib' ? 1 : 2);
    expect(p.client.peerCertificates.length).toBe(2);
  });

  it('a client offering brotli then zlib gets zlib from a default server (its order), brotli from one that prefers it', () => {
    const algorithmSent = (serverOrder?: ('zlib' | 'brotli')[]) => {
      const p = makePair({ certificateCompression: ['brotli', 'zlib'] }, serverOrder ? { certificateCompression: serverOrder } : {});
      const messages: HandshakeMessage[] = [];
      p.client.on('message', (dir: string, msg: HandshakeMessage) => dir === 'recv' && messages.push(msg));
      p.pump();
      expect(p.clientErrors).toEqual([]);
      const compressed = messages.find((m) => m.type === 'compressed_certificate');
      return compressed?.type === 'compressed_certificate' ? compressed.algorithm : undefined;
    };
    expect(algorithmSent()).toBe(1);
    expect(algorithmSent(['brotli', 'zlib'])).toBe(2);
  });

  it('the client reads a real chain that node:zlib brotli-compressed, at every quality', () => {
    // The Certificate our server would send, compressed by another brotli encoder.
    const p = makePair();
    let body: Uint8Array | undefined;
    p.server.on('message', (dir: string, msg: HandshakeMessage) => {
      if (dir === 'send' && msg.type === 'certificate') body = encodeHandshake(msg, 'tls13').subarray(4);
    });
    p.pump();
    expect(body).toBeDefined();
    const hs = { options: { certificateCompression: ['brotli'] } } as unknown as ClientHandshake;
    for (let quality = 0; quality <= 11; quality++) {
      const msg = { type: 'compressed_certificate' as const, algorithm: 2, uncompressed_length: body!.length, compressed_certificate_message: brotli(body!, quality) };
      const certificate = certificateFromCompressed(hs, msg);
      expect(certificate.certificate_list, `quality ${quality}`).toHaveLength(2);
      expect(encodeHandshake(certificate, 'tls13').subarray(4)).toEqual(body);
    }
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
