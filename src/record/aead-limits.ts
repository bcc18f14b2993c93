/**
 * AEAD usage limits (RFC 8446 5.5, RFC 9147 4.5.3): how many records one key may protect
 * before confidentiality is at risk, and how many forged records a receiver may try to
 * open under one key before an attacker's chance of a forgery is too high. TLS 1.3 sends a
 * KeyUpdate before the first; DTLS 1.2, which drops forgeries instead of dying on them
 * and has no KeyUpdate, ends the connection at either.
 */
import type { AeadName } from '../crypto/provider.js';

export interface AeadLimits {
  /** Records protected under one key. */
  confidentiality: number;
  /** Records that failed to authenticate under one key (DTLS, where they are dropped). */
  integrity: number;
}

/** RFC 9147 4.5.3's table (the TLS 1.3 figures of RFC 8446 5.5 for GCM and ChaCha20). */
const LIMITS: Record<AeadName, AeadLimits> = {
  'AES-128-GCM': { confidentiality: Math.floor(2 ** 24.5), integrity: 2 ** 36 },
  'AES-256-GCM': { confidentiality: Math.floor(2 ** 24.5), integrity: 2 ** 36 },
  // 2^62 in the RFC: beyond what a 53-bit count reaches, so in effect the sequence number space.
  'CHACHA20-POLY1305': { confidentiality: Number.MAX_SAFE_INTEGER, integrity: 2 ** 36 },
  'AES-128-CCM': { confidentiality: Math.floor(2 ** 23.5), integrity: Math.floor(2 ** 23.5) },
  'AES-128-CCM-8': { confidentiality: Math.floor(2 ** 23.5), integrity: 2 ** 7 },
};

/** The limits for `aead`, lowered (never raised) by what the application configured. */
export function aeadLimits(aead: AeadName, lower: Partial<AeadLimits> = {}): AeadLimits {
  const own = LIMITS[aead];
  return {
    confidentiality: Math.max(2, Math.min(own.confidentiality, lower.confidentiality ?? Infinity)),
    integrity: Math.max(1, Math.min(own.integrity, lower.integrity ?? Infinity)),
  };
}
