/**
 * Certificate compression (RFC 8879): the algorithms, and decompression that bounds its work.
 *
 * Decoders are pure JavaScript so this runs in browsers: fflate (zlib, both directions; small,
 * no dependencies, the most used inflate on npm) and fzstd (zstd decoding, by fflate's author,
 * same style). Both decode as streams, so output is counted as it appears and decoding stops
 * the moment it passes the length the peer declared: a bomb costs at most one chunk of work
 * beyond the limit, never its full expansion. Brotli is not offered: the pure-JS decoders on
 * npm do not bound their output.
 */
import { Unzlib, zlibSync } from 'fflate';
import { Decompress as ZstdDecompress } from 'fzstd';
import { TLSError } from './errors.js';

/** CertificateCompressionAlgorithm code points (RFC 8879 section 7.3). */
export const CertificateCompressionAlgorithm = { zlib: 1, brotli: 2, zstd: 3 } as const;
export type CertificateCompressionName = 'zlib' | 'zstd';

/** What we can decompress, in our order of preference (a client offers these). */
export const DECOMPRESSORS: readonly CertificateCompressionName[] = ['zstd', 'zlib'];
/** What we can compress with (a server uses the first the client offered). */
export const COMPRESSORS: readonly CertificateCompressionName[] = ['zlib'];

/** Input is fed in pieces this size, so a bomb is caught within one piece's expansion. */
const CHUNK = 1024;

type StreamDecoder = (onData: (chunk: Uint8Array) => void) => { push(chunk: Uint8Array, final: boolean): void };

const decoders: Record<CertificateCompressionName, StreamDecoder> = {
  zlib: (onData) => new Unzlib(onData),
  zstd: (onData) => new ZstdDecompress(onData),
};

const badCertificate = (message: string) => new TLSError('bad_certificate', `CompressedCertificate: ${message}`, { code: 'ERR_TLS_BAD_CERTIFICATE_COMPRESSION' });

export function compressionName(code: number): CertificateCompressionName | undefined {
  return DECOMPRESSORS.find((n) => CertificateCompressionAlgorithm[n] === code);
}

/**
 * Decompress `data`, which must expand to exactly `uncompressedLength` bytes (and that at
 * most `max`). Anything else — a bad stream, more or fewer bytes — is bad_certificate (RFC 8879
 * section 4).
 */
export function decompressCertificate(algorithm: CertificateCompressionName, data: Uint8Array, uncompressedLength: number, max: number): Uint8Array {
  if (uncompressedLength > max) throw badCertificate(`declares ${uncompressedLength} bytes, over the limit of ${max}`);
  const out = new Uint8Array(uncompressedLength);
  let at = 0;
  const stream = decoders[algorithm]((chunk) => {
    if (at + chunk.length > uncompressedLength) throw badCertificate(`expands beyond the ${uncompressedLength} bytes it declares`);
    out.set(chunk, at);
    at += chunk.length;
  });
  try {
    for (let i = 0; i < data.length || i === 0; i += CHUNK) stream.push(data.subarray(i, i + CHUNK), i + CHUNK >= data.length);
  } catch (err) {
    if (err instanceof TLSError) throw err;
    throw badCertificate(`${algorithm} data does not decode: ${(err as Error).message}`);
  }
  if (at !== uncompressedLength) throw badCertificate(`expands to ${at} bytes, not the ${uncompressedLength} it declares`);
  return out;
}

export function compressCertificate(algorithm: CertificateCompressionName, data: Uint8Array): Uint8Array {
  if (algorithm !== 'zlib') throw new Error(`cannot compress with ${algorithm}`);
  return zlibSync(data, { level: 9 });
}
