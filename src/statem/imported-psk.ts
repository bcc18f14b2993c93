/**
 * Imported external PSKs (RFC 9258): one external PSK (EPSK) turned into a distinct TLS 1.3
 * PSK for each target KDF, bound to its ImportedIdentity, so the same key is never used with
 * two hash functions or two protocols (section 1). The identity sent in pre_shared_key is the
 * ImportedIdentity itself; binders use the "imp binder" label (section 5.2), so an imported
 * PSK never passes for the same key used directly ("ext binder"), or the other way round.
 *
 *   epskx = HKDF-Extract(0, epsk)
 *   ipskx = HKDF-Expand-Label(epskx, "derived psk", Hash(ImportedIdentity), L)
 *
 * The HKDF and Hash are the EPSK's: SHA-256 unless one was provisioned with it (`epskHash`;
 * a GnuTLS PSK credential of SHA-384 is such a key); L is the target KDF's hash length
 * (section 4.2).
 */
import { earlySecret, hkdfExpandLabel } from '../crypto/keyschedule.js';
import { hashLength, type CryptoProvider, type HashName } from '../crypto/provider.js';
import { decode, encode, opaque, struct, u16, type Infer } from '../messages/codec.js';
import { ProtocolVersion } from '../messages/constants.js';
import type { ClientOptions, ServerOptions } from '../config.js';
import { TLSError } from '../errors.js';
import { equal, utf8 } from '../util/bytes.js';

/** The hashes of TLS 1.3's suites, each an RFC 9258 target KDF. */
export type ImportHash = 'sha256' | 'sha384';
export const IMPORT_HASHES: readonly ImportHash[] = ['sha256', 'sha384'];

/** The EPSK's own hash when none was provisioned with it: SHA-256 (RFC 9258 4.2). */
export const DEFAULT_EPSK_HASH: ImportHash = 'sha256';

/** target_kdf code points (RFC 9258 10, the TLS KDF Identifiers registry). */
const TARGET_KDF: Record<ImportHash, number> = { sha256: 0x0001, sha384: 0x0002 };

/** DTLS 1.3's version (RFC 9147), the other target_protocol an imported PSK may name. */
const DTLS1_3 = 0xfefc;

/** struct ImportedIdentity (RFC 9258 4.1). */
export const ImportedIdentityCodec = struct({
  external_identity: opaque(2, 1),
  context: opaque(2),
  target_protocol: u16,
  target_kdf: u16,
});
export type ImportedIdentity = Infer<typeof ImportedIdentityCodec>;

function targetProtocol(datagram: boolean): number {
  return datagram ? DTLS1_3 : ProtocolVersion.TLS1_3;
}

/** The ImportedIdentity a client sends for `hash`, encoded. */
export function encodeImportedIdentity(externalIdentity: Uint8Array, context: Uint8Array, datagram: boolean, hash: ImportHash): Uint8Array {
  return encode(ImportedIdentityCodec, {
    external_identity: externalIdentity,
    context,
    target_protocol: targetProtocol(datagram),
    target_kdf: TARGET_KDF[hash],
  });
}

/**
 * An offered identity read as an ImportedIdentity for our protocol with a target KDF we
 * know, and the hash it names; undefined for anything else (a plain external identity, a
 * ticket, another protocol's import), which then takes the other paths.
 */
export function parseImportedIdentity(bytes: Uint8Array, datagram: boolean): { identity: ImportedIdentity; hash: ImportHash } | undefined {
  let identity: ImportedIdentity;
  try {
    identity = decode(ImportedIdentityCodec, bytes, 'ImportedIdentity');
  } catch {
    return undefined;
  }
  if (identity.target_protocol !== targetProtocol(datagram)) return undefined;
  const hash = IMPORT_HASHES.find((h) => TARGET_KDF[h] === identity.target_kdf);
  return hash && { identity, hash };
}

/** ipskx: the PSK that the encoded ImportedIdentity stands for (RFC 9258 4.2). */
export function importedPskSecret(
  p: CryptoProvider,
  epsk: Uint8Array,
  encodedIdentity: Uint8Array,
  hash: ImportHash,
  epskHash: HashName = DEFAULT_EPSK_HASH,
): Uint8Array {
  const epskx = earlySecret(p, epskHash, epsk);
  return hkdfExpandLabel(p, epskHash, epskx, 'derived psk', p.hash(epskHash, encodedIdentity), hashLength[hash]);
}

/** Whether an imported identity's context is the one this endpoint was configured with. */
export function contextMatches(identity: ImportedIdentity, context: Uint8Array): boolean {
  return equal(identity.context, context);
}

/** Refuse import settings that could never be offered or matched, when the connection is made. */
export function checkImportOptions(o: { psk?: ClientOptions['psk']; importedPsk?: ServerOptions['importedPsk']; pskCallback?: ServerOptions['pskCallback'] }): void {
  const invalid = (message: string) => new TLSError('internal_error', message, { code: 'ERR_TLS_INVALID_OPTION' });
  const tooLong = (v: string | Uint8Array | undefined) => (typeof v === 'string' ? utf8.encode(v) : (v ?? new Uint8Array(0))).length > 0xffff;
  const psk = o.psk;
  const imported = psk?.imported;
  if (psk && imported) {
    const hashes = imported.hashes ?? IMPORT_HASHES;
    if (hashes.length === 0 || hashes.some((h) => !IMPORT_HASHES.includes(h))) throw invalid(`psk.imported.hashes must name ${IMPORT_HASHES.join(' and/or ')}`);
    if (psk.identity.length === 0 || tooLong(psk.identity)) throw invalid('an imported PSK identity takes 1 to 65535 bytes');
    if (tooLong(imported.context)) throw invalid('psk.imported.context takes at most 65535 bytes');
    if (imported.epskHash !== undefined && !IMPORT_HASHES.includes(imported.epskHash)) throw invalid(`psk.imported.epskHash must be ${IMPORT_HASHES.join(' or ')}`);
  }
  if (o.importedPsk) {
    if (!o.pskCallback) throw invalid('importedPsk needs a pskCallback for the external identities');
    if (tooLong(o.importedPsk.context)) throw invalid('importedPsk.context takes at most 65535 bytes');
    if (o.importedPsk.epskHash !== undefined && !IMPORT_HASHES.includes(o.importedPsk.epskHash)) throw invalid(`importedPsk.epskHash must be ${IMPORT_HASHES.join(' or ')}`);
  }
}
