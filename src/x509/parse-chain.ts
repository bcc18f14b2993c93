/**
 * Certificate chains from PEM or DER. PEM itself is ../util/pem.ts and private keys are
 * ../crypto/private-key.ts; both are re-exported here, where users have always found them.
 * No Buffer and no node:* imports: this runs in browsers too.
 */
import { DerError } from '../util/der.js';
import { derBlocks } from '../util/pem.js';
import { parseCertificate, type Certificate } from './certificate.js';

export { base64Decode, base64Encode, pemDecode, pemEncode, type PemBlock } from '../util/pem.js';
export { parsePrivateKey, publicKeyMatches } from '../crypto/private-key.js';

/** Certificates from PEM text (every CERTIFICATE block) or DER (one or more concatenated). */
export function parseCertificateChain(pemOrDer: string | Uint8Array): Certificate[] {
  const ders = derBlocks(pemOrDer, 'CERTIFICATE');
  if (ders.length === 0) throw new DerError('no certificate found');
  return ders.map(parseCertificate);
}
