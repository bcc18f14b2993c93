/**
 * Certificate compression in the TLS 1.3 handshake (RFC 8879), kept out of the state code:
 * the client's offer in ClientHello, its reading of CompressedCertificate, and the server's
 * choice to send one. The server compresses each certificate message once (cached per
 * CertifiedKey and algorithm), not once per connection.
 */
import {
  COMPRESSORS,
  CertificateCompressionAlgorithm,
  compressCertificate,
  compressionName,
  decompressCertificate,
  type CertificateCompressionName,
} from '../cert-compression-codecs.js';
import type { CertifiedKey } from '../config.js';
import { illegalParameter } from '../errors.js';
import { HandshakeType } from '../messages/constants.js';
import { decodeHandshake, defaultLimits, encodeHandshake, type Extensions, type HandshakeMessage, type MessageOf } from '../messages/handshake.js';
import { equal } from '../util/bytes.js';
import type { ClientHandshake, ServerHandshake } from './context.js';
import type { Phase } from './declare.js';

/** Client: offer the algorithms the options name (none by default). */
export function offerCertificateCompression(hs: ClientHandshake, ext: Extensions): void {
  const algorithms = hs.options.certificateCompression ?? [];
  if (algorithms.length) ext.add('compress_certificate', { algorithms: algorithms.map((a) => CertificateCompressionAlgorithm[a]) });
}

/**
 * Client: the Certificate inside a CompressedCertificate. Only an algorithm we offered is
 * accepted (illegal_parameter otherwise); a stream that does not decode to exactly the declared
 * length, or to more than our Certificate limit, is bad_certificate.
 */
export function certificateFromCompressed(hs: ClientHandshake, msg: MessageOf<'compressed_certificate'>): MessageOf<'certificate'> {
  const name = compressionName(msg.algorithm);
  if (!name || !(hs.options.certificateCompression ?? []).includes(name)) {
    throw illegalParameter(`CompressedCertificate with algorithm ${msg.algorithm}, which we did not offer`);
  }
  const max = hs.options.limits?.maxCertificate ?? defaultLimits.maxCertificate;
  const body = decompressCertificate(name, msg.compressed_certificate_message, msg.uncompressed_length, max);
  return decodeHandshake(HandshakeType.certificate, body, 'tls13') as MessageOf<'certificate'>;
}

/** Server: the algorithm to compress with: the first of ours (that we can compress with) the client offered. */
export function chooseCertificateCompression(hs: ServerHandshake, ext: Extensions): CertificateCompressionName | undefined {
  const offered = ext.get('compress_certificate', 'client_hello')?.algorithms ?? [];
  const ours = (hs.options.certificateCompression ?? COMPRESSORS).filter((name) => COMPRESSORS.includes(name));
  return ours.find((name) => offered.includes(CertificateCompressionAlgorithm[name]));
}

interface Compressed {
  body: Uint8Array;
  message: MessageOf<'compressed_certificate'>;
}
const cache = new WeakMap<CertifiedKey, Map<CertificateCompressionName, Compressed>>();

/**
 * Server: `certificate` as a CompressedCertificate when the client asked for an algorithm we
 * have. The cache is checked against the exact message body, so a Certificate that differs
 * for this connection is compressed afresh rather than answered wrongly.
 */
export function maybeCompressCertificate(hs: Phase<ServerHandshake, 'hello'>, certified: CertifiedKey, certificate: HandshakeMessage): HandshakeMessage {
  const algorithm = hs.hello.certificateCompression;
  if (!algorithm) return certificate;
  const body = encodeHandshake(certificate, 'tls13').subarray(4);
  const perKey = cache.get(certified) ?? new Map<CertificateCompressionName, Compressed>();
  cache.set(certified, perKey);
  let hit = perKey.get(algorithm);
  if (!hit || !equal(hit.body, body)) {
    hit = {
      body: body.slice(),
      message: {
        type: 'compressed_certificate',
        algorithm: CertificateCompressionAlgorithm[algorithm],
        uncompressed_length: body.length,
        compressed_certificate_message: compressCertificate(algorithm, body),
      },
    };
    perKey.set(algorithm, hit);
  }
  return hit.message;
}
