/**
 * The verifier where the handshake calls it: a hostile certificate costs the peer that
 * receives it milliseconds, the `crl` option refuses a revoked server certificate, and the
 * Web PKI profile is on unless `webPkiProfile: false`.
 */
import { describe, expect, it } from 'vitest';
import type { CertifiedKey } from '../src/config.js';
import { meterFeed } from './helpers/cpu-time.js';
import { nodeProvider } from '../src/crypto/node.js';
import type { TLSError } from '../src/errors.js';
import { parsePrivateKey } from '../src/x509/parse-chain.js';
import { encodeDer, encodeSequence, Tag } from '../src/util/der.js';
import { OID } from '../src/x509/certificate.js';
import { makePair } from './helpers/pair.js';
import { cn, crl, issue, issueDer, makeKey, profiles, rootAndLeaf, serialBytes, type Issued } from './helpers/x509-builder.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');

function certified(issued: Issued, der = issued.der): CertifiedKey {
  const pem = issued.key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  // The server sends `der` as its certificate: a hostile one the parser would never have built.
  return { chain: [{ ...issued.cert, der }], key: parsePrivateKey(pem) };
}

/** Runs a handshake against a server presenting `server`; returns the client's error and the CPU time the client spent. */
function handshake(server: CertifiedKey, clientExtra: Record<string, unknown> = {}): { error: TLSError | undefined; clientMs: number } {
  const { root } = rootAndLeaf();
  // node:crypto on both sides: the 200 KB flight is decrypted natively, so the time measured is the engine's own.
  const p = makePair({ ca: [root.cert], servername: 'www.example.com', now: () => NOW, provider: nodeProvider, ...clientExtra }, { certificates: [server], now: () => NOW, provider: nodeProvider });
  const clientMs = meterFeed(p.client);
  p.pump();
  return { error: p.clientErrors[0], clientMs: clientMs() };
}

describe('a hostile certificate in the handshake', () => {
  const { root, leaf } = rootAndLeaf();

  it('a server certificate holding a 200 KB OID is refused by the client with bad_certificate in under 10 ms', () => {
    const oid = encodeDer(Tag.OID, Uint8Array.from({ length: 200_000 }, (_, i) => (i === 199_999 ? 1 : 0x81)));
    const subject = encodeSequence(encodeDer(Tag.SET, encodeSequence(oid, encodeDer(Tag.UTF8String, Uint8Array.of(0x61)))));
    const der = issueDer({ subject, key: leaf.key, issuer: root, extensions: profiles.leaf(root) });
    const results = [0, 1, 2].map(() => handshake(certified(leaf, der)));
    for (const r of results) expect(r.error?.alert).toBe('bad_certificate');
    expect(results[0]!.error?.message).toMatch(/OID of 200000 octets/);
    // The whole client side of the handshake, the 200 KB Certificate message included; best of three runs.
    expect(Math.min(...results.map((r) => r.clientMs))).toBeLessThan(10);
  });

  it('a server certificate holding a 200 KB serial is refused by the client with bad_certificate in under 10 ms', () => {
    const der = issueDer({ subject: cn('www.example.com'), key: leaf.key, issuer: root, serialContents: new Uint8Array(200_000).fill(0x11), extensions: profiles.leaf(root) });
    const results = [0, 1, 2].map(() => handshake(certified(leaf, der)));
    for (const r of results) expect(r.error?.alert).toBe('bad_certificate');
    expect(results[0]!.error?.message).toMatch(/serialNumber of 200000 octets/);
    expect(Math.min(...results.map((r) => r.clientMs))).toBeLessThan(10);
  });

  it('a client certificate holding a 200 KB serial is refused by a requestCert server with bad_certificate in under 10 ms', () => {
    const der = issueDer({ subject: cn('client'), key: leaf.key, issuer: root, serialContents: new Uint8Array(200_000).fill(0x11), extensions: profiles.leaf(root) });
    const runs = [0, 1, 2].map(() => {
      const p = makePair(
        { ca: [root.cert], servername: 'www.example.com', now: () => NOW, provider: nodeProvider, certificate: certified(leaf, der) },
        { certificates: [certified(leaf)], requestCert: true, ca: [root.cert], now: () => NOW, provider: nodeProvider },
      );
      const serverMs = meterFeed(p.server);
      p.pump();
      return { error: p.serverErrors[0], serverMs: serverMs() };
    });
    for (const r of runs) expect(r.error?.alert).toBe('bad_certificate');
    expect(runs[0]!.error?.message).toMatch(/serialNumber of 200000 octets/);
    expect(Math.min(...runs.map((r) => r.serverMs))).toBeLessThan(10);
  });

  it('the same handshake with a well-formed certificate succeeds (the harness can pass)', () => {
    const r = handshake(certified(leaf));
    expect(r.error).toBeUndefined();
  });
});

describe('the crl option in the handshake', () => {
  const { root, leaf } = rootAndLeaf();
  const revoked = issue({ subject: cn('www.example.com'), key: makeKey('leaf'), issuer: root, extensions: profiles.leaf(root) });

  it('a client with a CRL listing the server certificate refuses it with CERT_REVOKED and certificate_revoked', () => {
    const list = crl(root, [serialBytes(revoked.cert)]);
    const r = handshake(certified(revoked), { crl: list });
    expect(r.error?.code).toBe('CERT_REVOKED');
    expect(r.error?.alert).toBe('certificate_revoked');
  });

  it('a client with a CRL that does not list the server certificate connects', () => {
    const r = handshake(certified(leaf), { crl: [crl(root, [serialBytes(revoked.cert)])] });
    expect(r.error).toBeUndefined();
  });

  it('a client with CRLs but none from the server certificate\'s issuer refuses it with UNABLE_TO_GET_CRL', () => {
    const otherKey = makeKey('other-root');
    const other = issue({ subject: cn('Other Root'), key: otherKey, extensions: profiles.root(otherKey) });
    const r = handshake(certified(leaf), { crl: crl(other, []) });
    expect(r.error?.code).toBe('UNABLE_TO_GET_CRL');
  });

  it('a requestCert server with a CRL listing the client certificate refuses it with CERT_REVOKED', () => {
    const client = issue({ subject: cn('client'), key: makeKey('leaf'), issuer: root, extensions: profiles.leaf(root) });
    const run = (list: Uint8Array) => {
      const p = makePair(
        { ca: [root.cert], servername: 'www.example.com', now: () => NOW, certificate: certified(client) },
        { certificates: [certified(leaf)], requestCert: true, ca: [root.cert], crl: list, now: () => NOW },
      );
      p.pump();
      return p.serverErrors[0];
    };
    expect(run(crl(root, [serialBytes(client.cert)]))?.code).toBe('CERT_REVOKED');
    expect(run(crl(root, []))).toBeUndefined();
  });
});

describe('the webPkiProfile option in the handshake', () => {
  const { root } = rootAndLeaf();
  // A private PKI's server certificate: valid under RFC 5280, without extKeyUsage.
  const noEku = issue({ subject: cn('www.example.com'), key: makeKey('leaf'), issuer: root, extensions: profiles.leaf(root).filter((e) => e.oid !== OID.extKeyUsage) });

  it('a client refuses a server certificate without extKeyUsage serverAuth by default, with INVALID_PURPOSE and unsupported_certificate', () => {
    const r = handshake(certified(noEku));
    expect(r.error?.code).toBe('INVALID_PURPOSE');
    expect(r.error?.alert).toBe('unsupported_certificate');
  });

  it('a client with webPkiProfile: false connects to it', () => {
    expect(handshake(certified(noEku), { webPkiProfile: false }).error).toBeUndefined();
  });
});
