/**
 * A hostile server's brotli CompressedCertificate, in a real handshake: garbage, a bomb, a
 * stream shorter or longer than it declares, a truncated stream. The client answers each with
 * bad_certificate, reports ERR_TLS_BAD_CERTIFICATE_COMPRESSION and is DEAD; nothing else escapes.
 * The server is ours with its compressor replaced by the hostile one.
 */
import { brotliCompressSync, constants } from 'node:zlib';
import { describe, expect, it, vi } from 'vitest';
import { TLSError } from '../../src/errors.js';
import { certifiedKey } from '../helpers/pki.js';
import { makePair } from '../helpers/pair.js';

const hostile = vi.hoisted(() => ({ compress: undefined as ((body: Uint8Array) => Uint8Array) | undefined }));

vi.mock('../../src/cert-compression-codecs.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/cert-compression-codecs.js')>();
  return { ...real, compressCertificate: (algorithm: 'brotli', body: Uint8Array) => hostile.compress?.(body) ?? real.compressCertificate(algorithm, body) };
});

const brotli = (data: Uint8Array) => new Uint8Array(brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } }));
/** `body` followed by `zeros` zero bytes. */
const padded = (body: Uint8Array, zeros: number) => {
  const out = new Uint8Array(body.length + zeros);
  out.set(body);
  return out;
};

const CASES: [string, (body: Uint8Array) => Uint8Array][] = [
  ['garbage', () => new TextEncoder().encode('this is not a brotli stream at all')],
  ['a bomb: the real body followed by 16 MB of zeros', (body) => brotli(padded(body, 16 << 20))],
  ['one byte more than declared', (body) => brotli(padded(body, 1))],
  ['one byte fewer than declared', (body) => brotli(body.subarray(0, body.length - 1))],
  ['a stream cut in half', (body) => brotli(body).subarray(0, brotli(body).length >> 1)],
];

describe('a hostile brotli CompressedCertificate', () => {
  it.each(CASES)('%s: the client sends bad_certificate and is dead', (_, compress) => {
    hostile.compress = compress;
    try {
      // A fresh CertifiedKey each time, so the server's per-certificate cache compresses anew.
      const p = makePair({ certificateCompression: ['brotli'] }, { certificates: [{ ...certifiedKey('leaf-ecdsa-p256') }], certificateCompression: ['brotli'] });
      const rounds = p.pump();
      expect(rounds).toBeLessThan(1000);
      expect(p.clientErrors).toHaveLength(1);
      const err = p.clientErrors[0]!;
      expect(err).toBeInstanceOf(TLSError);
      expect(err.alert).toBe('bad_certificate');
      expect(err.code).toBe('ERR_TLS_BAD_CERTIFICATE_COMPRESSION');
      expect(p.client.state).toBe('DEAD');
      expect(p.serverErrors.map((e) => e.code)).toEqual(['ERR_TLS_ALERT_BAD_CERTIFICATE']);
    } finally {
      hostile.compress = undefined;
    }
  });

  it('the same setup with the real compressor completes, so the cases above fail for their streams alone', () => {
    const p = makePair({ certificateCompression: ['brotli'] }, { certificates: [{ ...certifiedKey('leaf-ecdsa-p256') }], certificateCompression: ['brotli'] });
    p.pump();
    expect(p.clientErrors).toEqual([]);
    expect(p.client.state).toBe('ESTABLISHED');
  });
});
