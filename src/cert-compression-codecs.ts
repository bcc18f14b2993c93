/**
 * Certificate compression (RFC 8879): the algorithms, and decompression that bounds its work.
 *
 * Decoders are pure JavaScript so this runs in browsers: fflate (zlib, both directions; small,
 * no dependencies, the most used inflate on npm), fzstd (zstd decoding, by fflate's author,
 * same style) and our own brotli decoder (src/brotli: the pure-JS ones on npm do not bound
 * their output). zlib and zstd decode as streams, so output is counted as it appears and
 * decoding stops the moment it passes the length the peer declared: a bomb costs at most one
 * chunk of work beyond the limit, never its full expansion. The brotli decoder takes the limit
 * itself and refuses a meta-block that would pass it before decoding it.
 */
import { Unzlib, zlibSync } from 'fflate';
import { Decompress as ZstdDecompress } from 'fzstd';
import { BrotliError } from './brotli/brotli-error.js';
import { brotliDecompress } from './brotli/brotli-decoder.js';
import { brotliCompress } from './brotli/brotli-encoder.js';
import { TLSError } from './errors.js';

/** CertificateCompressionAlgorithm code points (RFC 8879 section 7.3). */
export const CertificateCompressionAlgorithm = { zlib: 1, brotli: 2, zstd: 3 } as const;
export type CertificateCompressionName = 'zlib' | 'brotli' | 'zstd';

/** What we can decompress, in our order of preference (a client offers these). */
export const DECOMPRESSORS: readonly CertificateCompressionName[] = ['zstd', 'brotli', 'zlib'];
/** What we can compress with (a server uses the first the client offered). */
export const COMPRESSORS: readonly CertificateCompressionName[] = ['zlib', 'brotli'];

/** Input is fed in pieces this size, so a bomb is caught within one piece's expansion. */
const CHUNK = 1024;

type StreamDecoder = (onData: (chunk: Uint8Array) => void) => { push(chunk: Uint8Array, final: boolean): void };

const streamDecoders: Record<'zlib' | 'zstd', StreamDecoder> = {
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
  const out = algorithm === 'brotli' ? decodeBrotli(data, uncompressedLength) : decodeStream(algorithm, data, uncompressedLength);
  if (out.length !== uncompressedLength) throw badCertificate(`expands to ${out.length} bytes, not the ${uncompressedLength} it declares`);
  return out;
}

function decodeBrotli(data: Uint8Array, uncompressedLength: number): Uint8Array {
  try {
    return brotliDecompress(data, uncompressedLength);
  } catch (err) {
    if (err instanceof BrotliError) throw badCertificate(`brotli data does not decode within ${uncompressedLength} bytes: ${err.message}`);
    throw err;
  }
}

/** Feed `data` in chunks to a streaming decoder, stopping the moment its output passes `uncompressedLength`. */
function decodeStream(algorithm: 'zlib' | 'zstd', data: Uint8Array, uncompressedLength: number): Uint8Array {
  const out = new Uint8Array(uncompressedLength);
  let at = 0;
  const stream = streamDecoders[algorithm]((chunk) => {
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
  return out.subarray(0, at);
}

export function compressCertificate(algorithm: CertificateCompressionName, data: Uint8Array): Uint8Array {
  if (algorithm === 'zlib') return zlibSync(data, { level: 9 });
  if (algorithm === 'brotli') return brotliCompress(data);
  throw new Error(`cannot compress with ${algorithm}`);
}
