import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nobleProvider } from '../src/crypto/noble.js';
import { emptySubjectAltNames, verifyCertificateSignature } from '../src/x509/certificate.js';
import { pemEncode } from '../src/x509/parse-chain.js';
import { selfSignedCertificate } from '../src/x509/selfsigned.js';
import { makePair } from './helpers/pair.js';

describe('throwaway self-signed certificate', () => {
  const { chain, key } = selfSignedCertificate(nobleProvider);
  const cert = chain[0]!;

  it('names localhost and the loopback addresses and signs itself', () => {
    expect(cert.subject.text).toBe('CN=localhost');
    expect(cert.subjectAltNames).toEqual({ ...emptySubjectAltNames(), dns: ['localhost'], ip: ['127.0.0.1', '::1'] });
    expect(cert.isCA).toBe(false);
    expect(verifyCertificateSignature(nobleProvider, cert, cert.publicKey)).toBe(true);
    expect(key.kind).toBe('ec');
  });

  it('is accepted by openssl as a well-formed self-signed certificate', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsls-selfsigned-'));
    const file = join(dir, 'cert.pem');
    writeFileSync(file, pemEncode('CERTIFICATE', cert.der));
    const out = execFileSync('openssl', ['verify', '-CAfile', file, '-purpose', 'sslserver', file], { encoding: 'utf8' });
    expect(out.trim()).toBe(`${file}: OK`);
  });

  it('serves a handshake to a client that trusts it', () => {
    const p = makePair({ ca: chain, servername: 'localhost' }, { certificates: [{ chain, key }] });
    p.pump();
    expect(p.client.state).toBe('ESTABLISHED');
  });
});
