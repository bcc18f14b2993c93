/**
 * The TLS 1.3 key schedule (RFC 8446 section 7.1) as plain functions over a provider.
 *
 *              0
 *              |
 *    PSK ->  HKDF-Extract = Early Secret  --> binder_key, client_early_traffic_secret
 *              |
 *        Derive-Secret(., "derived", "")
 *              |
 * (EC)DHE -> HKDF-Extract = Handshake Secret --> {client,server}_handshake_traffic_secret
 *              |
 *        Derive-Secret(., "derived", "")
 *              |
 *     0 -> HKDF-Extract = Master Secret --> {client,server}_application_traffic_secret_0,
 *                                           exporter_master_secret, resumption_master_secret
 */
import { utf8, concat } from '../util/bytes.js';
import { hashLength, type AeadName, type CryptoProvider, type HashName } from './provider.js';

/**
 * The label prefix of HKDF-Expand-Label: "tls13 " for TLS 1.3, "dtls13" for DTLS 1.3
 * (RFC 9147 5.9), so that no key of one protocol can be a key of the other.
 */
export type LabelPrefix = 'tls13 ' | 'dtls13';

/** HKDF-Expand-Label(Secret, Label, Context, Length) with the "tls13 " (or DTLS 1.3's "dtls13") prefix. */
export function hkdfExpandLabel(
  p: CryptoProvider,
  hash: HashName,
  secret: Uint8Array,
  label: string,
  context: Uint8Array,
  length: number,
  prefix: LabelPrefix = 'tls13 ',
): Uint8Array {
  const fullLabel = utf8.encode(prefix + label);
  const info = concat(
    new Uint8Array([length >>> 8, length & 0xff, fullLabel.length]),
    fullLabel,
    new Uint8Array([context.length]),
    context,
  );
  return p.hkdfExpand(hash, secret, info, length);
}

/** Derive-Secret(Secret, Label, Messages) where the caller passes Transcript-Hash(Messages). */
export function deriveSecret(p: CryptoProvider, hash: HashName, secret: Uint8Array, label: string, transcriptHash: Uint8Array, prefix?: LabelPrefix): Uint8Array {
  return hkdfExpandLabel(p, hash, secret, label, transcriptHash, hashLength[hash], prefix);
}

function emptyHash(p: CryptoProvider, hash: HashName): Uint8Array {
  return p.hash(hash, new Uint8Array(0));
}

export function earlySecret(p: CryptoProvider, hash: HashName, psk?: Uint8Array): Uint8Array {
  const zeros = new Uint8Array(hashLength[hash]);
  return p.hkdfExtract(hash, zeros, psk ?? zeros);
}

export function handshakeSecret(p: CryptoProvider, hash: HashName, early: Uint8Array, sharedSecret: Uint8Array, prefix?: LabelPrefix): Uint8Array {
  const salt = deriveSecret(p, hash, early, 'derived', emptyHash(p, hash), prefix);
  return p.hkdfExtract(hash, salt, sharedSecret);
}

export function masterSecret(p: CryptoProvider, hash: HashName, handshake: Uint8Array, prefix?: LabelPrefix): Uint8Array {
  const salt = deriveSecret(p, hash, handshake, 'derived', emptyHash(p, hash), prefix);
  return p.hkdfExtract(hash, salt, new Uint8Array(hashLength[hash]));
}

export const aeadKeyLength: Record<AeadName, number> = {
  'AES-128-GCM': 16,
  'AES-256-GCM': 32,
  'CHACHA20-POLY1305': 32,
  'AES-128-CCM': 16,
  'AES-128-CCM-8': 16,
};

export interface TrafficKeys {
  key: Uint8Array;
  iv: Uint8Array;
}

/** [sender]_write_key and [sender]_write_iv from a traffic secret (RFC 8446 section 7.3). */
export function trafficKeys(p: CryptoProvider, hash: HashName, aead: AeadName, secret: Uint8Array, prefix?: LabelPrefix): TrafficKeys {
  return {
    key: hkdfExpandLabel(p, hash, secret, 'key', new Uint8Array(0), aeadKeyLength[aead], prefix),
    iv: hkdfExpandLabel(p, hash, secret, 'iv', new Uint8Array(0), 12, prefix),
  };
}

/** verify_data = HMAC(finished_key, Transcript-Hash(...)) (RFC 8446 section 4.4.4). */
export function finishedVerifyData(p: CryptoProvider, hash: HashName, baseKey: Uint8Array, transcriptHash: Uint8Array, prefix?: LabelPrefix): Uint8Array {
  const finishedKey = hkdfExpandLabel(p, hash, baseKey, 'finished', new Uint8Array(0), hashLength[hash], prefix);
  return p.hmac(hash, finishedKey, transcriptHash);
}

/** application_traffic_secret_N+1 (RFC 8446 section 7.2). */
export function nextTrafficSecret(p: CryptoProvider, hash: HashName, secret: Uint8Array, prefix?: LabelPrefix): Uint8Array {
  return hkdfExpandLabel(p, hash, secret, 'traffic upd', new Uint8Array(0), hashLength[hash], prefix);
}

/** The PSK a NewSessionTicket stands for (RFC 8446 section 4.6.1). */
export function resumptionPsk(p: CryptoProvider, hash: HashName, resumptionMasterSecret: Uint8Array, ticketNonce: Uint8Array, prefix?: LabelPrefix): Uint8Array {
  return hkdfExpandLabel(p, hash, resumptionMasterSecret, 'resumption', ticketNonce, hashLength[hash], prefix);
}

/** TLS-Exporter (RFC 8446 section 7.5). */
export function exportKeyingMaterial(
  p: CryptoProvider,
  hash: HashName,
  exporterMasterSecret: Uint8Array,
  label: string,
  context: Uint8Array,
  length: number,
  prefix?: LabelPrefix,
): Uint8Array {
  const secret = deriveSecret(p, hash, exporterMasterSecret, label, emptyHash(p, hash), prefix);
  return hkdfExpandLabel(p, hash, secret, 'exporter', p.hash(hash, context), length, prefix);
}
