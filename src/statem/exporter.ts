/**
 * Keying material exporters: RFC 8446 7.5 for TLS 1.3, RFC 5705 for TLS 1.2 and DTLS 1.2
 * (DTLS-SRTP and WebRTC take their keys from here). TLS 1.2 sessions always use the
 * extended master secret, which RFC 7627 5.4 makes safe to export from.
 */
import { exportKeyingMaterial as export13 } from '../crypto/keyschedule.js';
import { prf } from '../crypto/prf.js';
import { TLSError } from '../errors.js';
import { concat } from '../util/bytes.js';
import type { HandshakeContext } from './context.js';

/** `context` undefined means "no context", which RFC 5705 keeps apart from an empty one. */
export function exportKeyingMaterial(hs: HandshakeContext, length: number, label: string, context?: Uint8Array): Uint8Array {
  const notYet = () => new TLSError('internal_error', 'keying material is available after the handshake', { code: 'ERR_TLS_INVALID_STATE' });
  const suite = hs.suite;
  if (!suite) throw notYet();
  if (hs.negotiated.version === 'TLSv1.3') {
    const keys = hs.trafficKeys;
    if (!keys) throw notYet();
    return export13(hs.provider, keys.hash, keys.exporter, label, context ?? new Uint8Array(0), length, keys.prefix);
  }
  const t = hs.tls12;
  const keys = hs.tls12Keys;
  if (!t || !keys) throw notYet();
  // RFC 5705 4: labels must not collide with the ones TLS itself uses.
  if (/^(client finished|server finished|master secret|key expansion|extended master secret)$/.test(label)) {
    throw new TLSError('internal_error', `exporter label "${label}" is reserved`, { code: 'ERR_TLS_INVALID_OPTION' });
  }
  let seed = concat(t.clientRandom, t.serverRandom);
  if (context !== undefined) {
    if (context.length > 0xffff) throw new TLSError('internal_error', 'exporter context too long', { code: 'ERR_TLS_INVALID_OPTION' });
    seed = concat(seed, new Uint8Array([context.length >> 8, context.length & 0xff]), context);
  }
  return prf(hs.provider, suite.hash, keys.master, label, seed, length);
}
