/**
 * TLS 1.3 external pre-shared keys (RFC 8446 4.2.11, RFC 9257): an identity and key the
 * application provisioned out of band (the client's `psk`, the server's `pskCallback`, the
 * same options TLS 1.2's PSK suites use), offered and accepted in pre_shared_key like a
 * ticket, with binders under the "ext binder" label. The key's hash is SHA-256, the default
 * RFC 8446 4.2.11 sets for a PSK provisioned without one (and what OpenSSL's -psk uses), so
 * it fits the TLS_AES_128_GCM_SHA256 and TLS_CHACHA20_POLY1305_SHA256 suites.
 * An imported PSK (RFC 9258, `psk.imported` / `importedPsk`) is the same key turned into one
 * PSK per suite hash, under its ImportedIdentity and the "imp binder" label.
 */
import type { HashName } from '../crypto/provider.js';
import type { ServerOptions } from '../config.js';
import type { ClientHello } from '../messages/handshake.js';
import { utf8 } from '../util/bytes.js';
import type { ClientHandshake, ServerHandshake } from './context.js';
import { contextMatches, encodeImportedIdentity, IMPORT_HASHES, importedPskSecret, parseImportedIdentity } from './imported-psk.js';
import type { Phase } from './declare.js';

export const EXTERNAL_PSK_HASH: HashName = 'sha256';

/** The label of a PSK's binder key (RFC 8446 7.1, RFC 9258 5.2): which kind of PSK it is. */
export type BinderLabel = 'res binder' | 'ext binder' | 'imp binder';

/** What a client offers in pre_shared_key: a ticket's PSK or an external one. */
export interface PskOffer {
  identity: Uint8Array;
  obfuscatedAge: number;
  secret: Uint8Array;
  hash: HashName;
  label: BinderLabel;
}

function bytesOf(v: string | Uint8Array | undefined): Uint8Array {
  return typeof v === 'string' ? utf8.encode(v) : (v ?? new Uint8Array(0));
}

/**
 * The client's external PSK, when it has one and speaks TLS 1.3: one offer, or one per
 * target hash when imported; each only for a hash that one of our TLS 1.3 suites has (and,
 * after a HelloRetryRequest, that the chosen suite has). An external PSK's ticket age is 0
 * (RFC 8446 4.2.11).
 */
export function externalPskOffers(hs: Phase<ClientHandshake, 'transcript'>): PskOffer[] {
  const psk = hs.options.psk;
  if (!psk || !hs.common.versions.includes('TLSv1.3')) return [];
  const usable = (hash: HashName) =>
    hs.common.cipherSuites.some((s) => s.version === 'TLSv1.3' && s.hash === hash) && (!hs.transcript.hashName || hs.transcript.hashName === hash);
  const identity = bytesOf(psk.identity);
  if (!psk.imported) return usable(EXTERNAL_PSK_HASH) ? [{ identity, obfuscatedAge: 0, secret: psk.key, hash: EXTERNAL_PSK_HASH, label: 'ext binder' }] : [];
  const { context: ctx, hashes, epskHash } = psk.imported;
  const context = bytesOf(ctx);
  return (hashes ?? IMPORT_HASHES).filter(usable).map((hash) => {
    const imported = encodeImportedIdentity(identity, context, hs.datagram, hash);
    return { identity: imported, obfuscatedAge: 0, secret: importedPskSecret(hs.provider, psk.key, imported, hash, epskHash), hash, label: 'imp binder' };
  });
}

/** The server's PSK for an offered identity that is not one of our tickets. */
export interface ServerExternalPsk {
  /** A copy (the handshake wipes its PSK), or the derived ipskx. */
  key: Uint8Array;
  label: BinderLabel;
  /** The external identity, as the application named it. */
  name: Uint8Array;
}

/**
 * The application's key for an identity that is not one of our tickets, when it fits the
 * chosen suite's hash: an ImportedIdentity (with `importedPsk`) for that hash and our
 * context, whose external_identity pskCallback knows; or else a plain external identity,
 * with the external PSK hash.
 */
export function externalPskFor(hs: ServerHandshake, identity: Uint8Array, suiteHash: HashName): ServerExternalPsk | undefined {
  const callback = hs.options.pskCallback;
  if (!callback) return undefined;
  const importing = hs.options.importedPsk;
  const imported = importing && parseImportedIdentity(identity, hs.datagram);
  if (imported) {
    if (imported.hash !== suiteHash || !contextMatches(imported.identity, bytesOf(importing.context))) return undefined;
    const epsk = callback(imported.identity.external_identity);
    if (!epsk) return undefined;
    return { key: importedPskSecret(hs.provider, epsk, identity, imported.hash, importing.epskHash), label: 'imp binder', name: imported.identity.external_identity };
  }
  if (suiteHash !== EXTERNAL_PSK_HASH) return undefined;
  const key = callback(identity);
  // new Uint8Array(key) copies; a Buffer's slice() would be a view of the application's key.
  return key && { key: new Uint8Array(key), label: 'ext binder', name: identity };
}

/**
 * The hashes of the imported PSKs the client offers for our protocol and context: a server's
 * suite must have one of them to use one (RFC 9258 leaves the choice to the server). Empty
 * when there are none; the keys themselves are looked up once the suite is chosen. Options
 * alone, so that a stateless DTLS 1.3 cookie guard names the suite the association will take.
 */
export function importedPskHashes(options: Pick<ServerOptions, 'importedPsk' | 'pskCallback'>, ch: ClientHello, datagram: boolean): Set<HashName> {
  const hashes = new Set<HashName>();
  const importing = options.importedPsk;
  const offered = ch.extensions.get('pre_shared_key', 'client_hello');
  if (!importing || !options.pskCallback || !offered) return hashes;
  const context = bytesOf(importing.context);
  for (const offer of offered.identities) {
    const imported = parseImportedIdentity(offer.identity, datagram);
    if (imported && contextMatches(imported.identity, context)) hashes.add(imported.hash);
  }
  return hashes;
}
