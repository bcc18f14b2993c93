import { describe, expect, it } from 'vitest';
import { makePair } from './helpers/pair.js';
import { dtlsPair, pair12 } from './helpers/dtls-pair.js';
import { certifiedKey } from './helpers/pki.js';

const key = new Uint8Array(32).fill(0x42);
const psk = { identity: 'device-17', key };
const pskCallback = (identity: Uint8Array) => (new TextDecoder().decode(identity) === 'device-17' ? key : undefined);
const text = (s: string) => new TextEncoder().encode(s);

const PSK_SUITES = [
  'TLS_PSK_WITH_AES_128_GCM_SHA256',
  'TLS_PSK_WITH_AES_256_GCM_SHA384',
  'TLS_PSK_WITH_AES_128_CCM_8',
  'TLS_PSK_WITH_CHACHA20_POLY1305_SHA256',
  'TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256',
  'TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256',
];

describe('pre-shared key suites (RFC 4279, RFC 5489)', () => {
  it.each(PSK_SUITES)('TLS 1.2 %s completes without certificates and carries data', (suite) => {
    // CCM-8 is opt-in on both sides, so the server lists the suite too.
    const p = makePair({ maxVersion: 'TLSv1.2', cipherSuites: [suite], psk }, { pskCallback, pskIdentityHint: 'tsls', cipherSuites: [suite] });
    p.pump();
    expect(p.clientErrors).toEqual([]);
    expect(p.server.state).toBe('ESTABLISHED');
    expect(p.client.cipher?.standardName).toBe(suite);
    expect(p.client.peerCertificates).toEqual([]);
    expect(p.client.group).toBe(suite.includes('ECDHE') ? 'x25519' : undefined);
    p.client.write(text('psk data'));
    p.pump();
    expect(new TextDecoder().decode(p.serverData[0])).toBe('psk data');
  });

  it.each(PSK_SUITES)('DTLS 1.2 %s completes through the cookie exchange', (suite) => {
    const p = dtlsPair({ cipherSuites: [suite], psk }, { pskCallback, cipherSuites: [suite] }, { cookie: true });
    p.run();
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(p.client.cipher?.standardName).toBe(suite);
  });

  it('an unknown identity is refused with unknown_psk_identity', () => {
    const p = makePair({ maxVersion: 'TLSv1.2', cipherSuites: ['TLS_PSK_WITH_AES_128_GCM_SHA256'], psk: { identity: 'stranger', key } }, { pskCallback });
    p.pump();
    expect(p.server.error?.alert).toBe('unknown_psk_identity');
    expect(p.client.error?.code).toBe('ERR_TLS_ALERT_UNKNOWN_PSK_IDENTITY');
  });

  it('a wrong key fails at Finished (decrypt_error or bad_record_mac), never silently', () => {
    const p = makePair({ maxVersion: 'TLSv1.2', cipherSuites: ['TLS_PSK_WITH_AES_128_GCM_SHA256'], psk: { identity: 'device-17', key: new Uint8Array(32) } }, { pskCallback });
    p.pump();
    expect(p.server.state).toBe('DEAD');
    expect(['bad_record_mac', 'decrypt_error']).toContain(p.server.error?.alert);
  });

  it('PSK suites are not offered without a psk, and CCM-8 not by default', () => {
    const p = makePair({ maxVersion: 'TLSv1.2' });
    const offered: number[] = [];
    p.client.on('message', (dir, msg) => dir === 'send' && msg.type === 'client_hello' && offered.push(...msg.cipher_suites));
    p.pump();
    expect(offered).not.toContain(0x00a8);
    expect(offered).not.toContain(0xc0ae);
  });
});

describe('AES-CCM suites (RFC 7251)', () => {
  it.each(['TLS_ECDHE_ECDSA_WITH_AES_128_CCM', 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8'])('%s over TLS 1.2 and DTLS 1.2', (suite) => {
    const t = makePair({ maxVersion: 'TLSv1.2', cipherSuites: [suite] }, { certificates: [certifiedKey('leaf-ecdsa-p256')], cipherSuites: [suite] });
    t.pump();
    expect(t.client.cipher?.standardName).toBe(suite);
    const d = dtlsPair({ cipherSuites: [suite] }, { cipherSuites: [suite] });
    d.run();
    expect(d.client.cipher?.standardName).toBe(suite);
  });
});

describe('keying material exporter (RFC 5705) for TLS 1.2 and DTLS', () => {
  it('both sides agree, labels and contexts separate the outputs', () => {
    const p = makePair({ maxVersion: 'TLSv1.2' });
    p.pump();
    const a = p.client.exportKeyingMaterial(32, 'EXTRACTOR-dtls_srtp');
    expect(a).toEqual(p.server.exportKeyingMaterial(32, 'EXTRACTOR-dtls_srtp'));
    expect(p.client.exportKeyingMaterial(32, 'EXTRACTOR-dtls_srtp', new Uint8Array(0))).not.toEqual(a); // empty context ≠ no context
    expect(() => p.client.exportKeyingMaterial(32, 'key expansion')).toThrow(expect.objectContaining({ code: 'ERR_TLS_INVALID_OPTION' }));
    // DTLS 1.2 (maxVersion 'TLSv1.2') and DTLS 1.3, the default.
    for (const [d, protocol] of [[pair12(), 'DTLSv1.2'], [dtlsPair(), 'DTLSv1.3']] as const) {
      d.run();
      expect(d.client.protocol).toBe(protocol);
      expect(d.client.exportKeyingMaterial(60, 'EXTRACTOR-dtls_srtp')).toEqual(d.server.exportKeyingMaterial(60, 'EXTRACTOR-dtls_srtp'));
    }
  });
});
