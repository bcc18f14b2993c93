import { describe, expect, it } from 'vitest';
import { makePair } from './helpers/pair.js';
import { certifiedKey, rootCa } from './helpers/pki.js';
import { selfSignedCertificate } from '../src/x509/selfsigned.js';
import { nobleProvider } from '../src/crypto/noble.js';

const VERSIONS = ['TLSv1.3', 'TLSv1.2'] as const;

describe.each(VERSIONS)('client certificates over %s', (version) => {
  const server = { requestCert: true, ca: rootCa() };

  it('a client with a certificate from the trusted CA is authenticated', () => {
    const p = makePair({ maxVersion: version, certificate: certifiedKey('client-ecdsa-p256') }, server);
    const sent: string[] = [];
    p.server.on('message', (dir, msg) => dir === 'send' && sent.push(msg.type));
    p.pump();
    expect(p.serverErrors).toEqual([]);
    expect(p.server.state).toBe('ESTABLISHED');
    expect(p.server.protocol).toBe(version);
    expect(sent.some((t) => t.startsWith('certificate_request'))).toBe(true);
    expect(p.server.authorized).toBe(true);
    expect(p.server.peerCertificates[0]!.subject.text).toContain('tsls test client');
  });

  it('a client without a certificate is refused when one is required', () => {
    const p = makePair({ maxVersion: version }, server);
    p.pump();
    expect(p.server.error?.code).toBe('ERR_TLS_CLIENT_CERTIFICATE_REQUIRED');
    expect(p.server.error?.alert).toBe(version === 'TLSv1.3' ? 'certificate_required' : 'handshake_failure');
    expect(p.client.error?.remote).toBe(true);
  });

  it('a client with an untrusted certificate is refused with unknown_ca', () => {
    const own = selfSignedCertificate(nobleProvider, { names: ['client.example'] });
    const p = makePair({ maxVersion: version, certificate: own }, server);
    p.pump();
    expect(p.server.error?.alert).toBe('unknown_ca');
    expect(p.client.error?.code).toBe('ERR_TLS_ALERT_UNKNOWN_CA');
  });

  it('with rejectUnauthorized: false the handshake goes on and says why it is not authorized', () => {
    const p = makePair({ maxVersion: version }, { ...server, rejectUnauthorized: false });
    p.pump();
    expect(p.server.state).toBe('ESTABLISHED');
    expect(p.server.authorized).toBe(false);
    expect(p.server.authorizationError?.code).toBe('ERR_TLS_CLIENT_CERTIFICATE_REQUIRED');
  });

  it('an RSA client key signs its CertificateVerify too', () => {
    // leaf-rsa2048 is a serverAuth+clientAuth leaf under the same root.
    const p = makePair({ maxVersion: version, certificate: certifiedKey('leaf-rsa2048') }, server);
    p.pump();
    expect(p.server.state).toBe('ESTABLISHED');
    expect(p.server.authorized).toBe(true);
    expect(p.server.peerCertificates).toHaveLength(2);
  });
});
