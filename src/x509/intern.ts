/**
 * Parsed certificates by content, weakly held, so that the many connections (and the
 * sessions they leave) talking to one server keep one parsed chain between them rather
 * than one each. A certificate stays here only while something still holds it. Entries
 * are found by length and the last 32 bytes (inside the signature) and only ever matched
 * by comparing every byte of the DER.
 */
import { equal, toHex } from '../util/bytes.js';
import { parseCertificate, type Certificate } from './certificate.js';

const certificates = new Map<string, WeakRef<Certificate>>();
const TABLE_SIZE = 256;

function keyOf(der: Uint8Array): string | undefined {
  if (typeof WeakRef !== 'function' || der.length < 32) return undefined;
  return `${der.length}:${toHex(der.subarray(der.length - 32))}`;
}

function known(key: string, der: Uint8Array): Certificate | undefined {
  const cert = certificates.get(key)?.deref();
  return cert && equal(cert.der, der) ? cert : undefined;
}

/** `cert`, or the certificate with the same DER that this process already holds. */
export function internCertificate(cert: Certificate): Certificate {
  const key = keyOf(cert.der);
  if (key === undefined) return cert;
  const found = known(key, cert.der);
  if (found) return found;
  if (certificates.size >= TABLE_SIZE) {
    for (const [k, ref] of certificates) if (!ref.deref()) certificates.delete(k);
    // Still full: the oldest entry makes room.
    if (certificates.size >= TABLE_SIZE) certificates.delete(certificates.keys().next().value!);
  }
  certificates.set(key, new WeakRef(cert));
  return cert;
}

/** The certificate with this DER: one already held if there is one, else parsed (and remembered). */
export function certificateFromDer(der: Uint8Array): Certificate {
  const key = keyOf(der);
  const found = key === undefined ? undefined : known(key, der);
  return found ?? internCertificate(parseCertificate(der));
}
