/**
 * A throwaway self-signed ECDSA P-256 certificate, made in memory, so `tsls server` runs
 * with no files at all. Never meant for anything but local trials.
 */
import type { CertifiedKey } from '../config.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { concat } from '../util/bytes.js';
import { OID, parseCertificate } from './certificate.js';
import { Tag, contextTag, encodeDer, encodeOid, encodeSequence, encodeUnsigned } from '../util/der.js';
import { parseIp } from './hostname.js';

const COMMON_NAME = '2.5.4.3';

function utcTime(ms: number): Uint8Array {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  const text = `${two(d.getUTCFullYear() % 100)}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}Z`;
  return encodeDer(Tag.UTCTime, new TextEncoder().encode(text));
}

function name(cn: string): Uint8Array {
  const atv = encodeSequence(encodeOid(COMMON_NAME), encodeDer(Tag.UTF8String, new TextEncoder().encode(cn)));
  return encodeSequence(encodeDer(Tag.SET, atv));
}

function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  const parts = [encodeOid(oid)];
  if (critical) parts.push(encodeDer(Tag.BOOLEAN, Uint8Array.of(0xff)));
  parts.push(encodeDer(Tag.OCTET_STRING, value));
  return encodeSequence(...parts);
}

function subjectAltNames(names: string[]): Uint8Array {
  return encodeSequence(
    ...names.map((n) => {
      const ip = parseIp(n);
      return ip ? encodeDer(contextTag(7, false), ip) : encodeDer(contextTag(2, false), new TextEncoder().encode(n));
    }),
  );
}

export interface SelfSignedOptions {
  /** Names for subjectAltName (DNS names or IP addresses); the first is also the CN. */
  names?: string[];
  /** Validity from now, in days. */
  days?: number;
  now?: number;
}

export function selfSignedCertificate(provider: CryptoProvider, options: SelfSignedOptions = {}): CertifiedKey {
  const names = options.names ?? ['localhost', '127.0.0.1', '::1'];
  const now = options.now ?? Date.now();
  const d = provider.random(32);
  d[0]! &= 0x7f; // keep the scalar below the P-256 group order
  const { publicKey } = provider.generateKeyPair('secp256r1', d);
  const serial = provider.random(16);
  serial[0]! &= 0x7f;
  const ecdsaWithSha256 = encodeSequence(encodeOid(OID.ecdsaWithSHA256));
  const spki = encodeSequence(encodeSequence(encodeOid(OID.ecPublicKey), encodeOid(OID.prime256v1)), encodeDer(Tag.BIT_STRING, concat(Uint8Array.of(0), publicKey)));
  const extensions = encodeSequence(
    extension(OID.subjectAltName, false, subjectAltNames(names)),
    extension(OID.basicConstraints, true, encodeSequence()),
    extension(OID.keyUsage, true, encodeDer(Tag.BIT_STRING, Uint8Array.of(7, 0x80))),
    extension(OID.extKeyUsage, false, encodeSequence(encodeOid(OID.serverAuth))),
  );
  const tbs = encodeSequence(
    encodeDer(contextTag(0, true), encodeUnsigned(2n)),
    encodeUnsigned(serial),
    ecdsaWithSha256,
    name(names[0]!),
    encodeSequence(utcTime(now - 3600_000), utcTime(now + (options.days ?? 30) * 86400_000)),
    name(names[0]!),
    spki,
    encodeDer(contextTag(3, true), extensions),
  );
  const key = { kind: 'ec', curve: 'P-256', d, point: publicKey } as const;
  const signature = provider.sign('ecdsa_secp256r1_sha256', key, tbs);
  const der = encodeSequence(tbs, ecdsaWithSha256, encodeDer(Tag.BIT_STRING, concat(Uint8Array.of(0), signature)));
  return { chain: [parseCertificate(der)], key };
}
