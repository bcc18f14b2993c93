/**
 * TLS 1.3 external PSKs (RFC 8446 4.2.11): an application-provisioned identity and key in
 * pre_shared_key, psk_dhe_ke and psk_ke, certificate-free servers, and what happens to an
 * unknown identity or a wrong key.
 */
import { describe, expect, it } from 'vitest';
import { makePair, type Pair } from './helpers/pair.js';

const key = new Uint8Array(32).fill(0x5a);
const psk = { identity: 'sensor-42', key };
const pskCallback = (identity: Uint8Array) => (new TextDecoder().decode(identity) === 'sensor-42' ? key : undefined);
/** A server with nothing but the PSK: no certificate at all. */
const pskOnlyServer = { certificates: [], pskCallback };
const text = (s: string) => new TextEncoder().encode(s);

function carriesData(p: Pair): void {
  expect(p.clientErrors).toEqual([]);
  expect(p.serverErrors).toEqual([]);
  p.client.write(text('over psk'));
  p.server.write(text('back over psk'));
  p.pump();
  expect(new TextDecoder().decode(p.serverData[0])).toBe('over psk');
  expect(new TextDecoder().decode(p.clientData[0])).toBe('back over psk');
}

describe('TLS 1.3 external PSK', () => {
  it('psk_dhe_ke with a certificate-free server: no certificate either way, a fresh (EC)DHE secret, data both ways', () => {
    const p = makePair({ psk, ca: [] }, pskOnlyServer);
    p.pump();
    carriesData(p);
    expect(p.client.protocol).toBe('TLSv1.3');
    expect(p.client.peerCertificates).toEqual([]);
    expect(p.client.group).toBe('X25519MLKEM768');
    expect(p.server.group).toBe('X25519MLKEM768');
    expect(p.client.sessionReused).toBe(true);
  });

  it('psk_ke when both sides allow it: no key exchange group at all', () => {
    const p = makePair({ psk, pskModes: ['psk_ke'] }, { ...pskOnlyServer, pskModes: ['psk_ke'] });
    p.pump();
    carriesData(p);
    expect(p.client.group).toBeUndefined();
    expect(p.server.group).toBeUndefined();
  });

  it('the PSK is offered again, with a new binder, after a HelloRetryRequest', () => {
    const p = makePair({ psk, groups: ['x25519', 'secp256r1'], keyShareGroups: ['x25519'] }, { ...pskOnlyServer, groups: ['secp256r1'] });
    p.pump();
    carriesData(p);
    expect(p.client.helloRetried).toBe(true);
    expect(p.client.group).toBe('secp256r1');
  });

  it('a wrong key fails the binder: decrypt_error from the server', () => {
    const p = makePair({ psk: { identity: 'sensor-42', key: new Uint8Array(32) } }, pskOnlyServer);
    p.pump();
    expect(p.server.error?.alert).toBe('decrypt_error');
    expect(p.client.error?.code).toBe('ERR_TLS_ALERT_DECRYPT_ERROR');
  });

  it('an unknown identity at a certificate-free server: unknown_psk_identity', () => {
    const p = makePair({ psk: { identity: 'stranger', key } }, pskOnlyServer);
    p.pump();
    expect(p.server.error?.alert).toBe('unknown_psk_identity');
    expect(p.client.error?.code).toBe('ERR_TLS_ALERT_UNKNOWN_PSK_IDENTITY');
  });

  it('an unknown identity at a server with a certificate: a full handshake, the certificate checked as usual', () => {
    const p = makePair({ psk: { identity: 'stranger', key } }, { pskCallback });
    p.pump();
    carriesData(p);
    expect(p.client.sessionReused).toBe(false);
    expect(p.client.peerCertificates.length).toBeGreaterThan(0);
  });

  it('a server with a SHA-384 suite only cannot use the (SHA-256) PSK and, certificate-free, refuses it', () => {
    const p = makePair({ psk }, { ...pskOnlyServer, cipherSuites: ['TLS_AES_256_GCM_SHA384'] });
    p.pump();
    expect(p.server.error?.alert).toBe('unknown_psk_identity');
  });

  it('the server keeps its application key intact (the handshake wipes only its own copy), even a Buffer', () => {
    const appKey = Buffer.alloc(32, 0x5a);
    const server = { certificates: [], pskCallback: () => appKey };
    for (const round of [1, 2]) {
      const p = makePair({ psk }, server);
      p.pump();
      carriesData(p);
      expect(appKey.every((b) => b === 0x5a), `after connection ${round}`).toBe(true);
    }
  });
});
