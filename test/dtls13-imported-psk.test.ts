/**
 * RFC 9258 imported PSKs over DTLS 1.3, in memory: the ImportedIdentity names DTLS 1.3
 * (0xfefc) as its target protocol, so a key imported for TLS 1.3 never serves DTLS 1.3 or the
 * other way round; the handshake with a certificate-free importing server, through the
 * stateless cookie exchange, at a small MTU, under loss; the refusals (another context, a
 * wrong key) as alerts that leave both ends dead.
 */
import { describe, expect, it } from 'vitest';
import type { DtlsClientOptions, DtlsServerOptions } from '../src/dtls-connection.js';
import { decode } from '../src/messages/codec.js';
import type { MessageOf } from '../src/messages/handshake.js';
import { encodeImportedIdentity, ImportedIdentityCodec, parseImportedIdentity } from '../src/statem/imported-psk.js';
import { dtlsPair } from './helpers/dtls-pair.js';
import { seededFloats } from './helpers/random.js';

const V13 = { maxVersion: 'TLSv1.3' } as const;
const key = new Uint8Array(32).fill(0x5a);
const text = (s: string) => new TextEncoder().encode(s);
const pskCallback = (identity: Uint8Array) => (new TextDecoder().decode(identity) === 'meter-4' ? key : undefined);
const importingServer: Partial<DtlsServerOptions> = { certificates: [], pskCallback, importedPsk: { context: 'grid-7' } };
const importing = (extra: { hashes?: ('sha256' | 'sha384')[]; context?: string } = {}, k = key): DtlsClientOptions => ({
  psk: { identity: 'meter-4', key: k, imported: { context: 'grid-7', ...extra } },
});

function pair13(client: DtlsClientOptions, server: Partial<DtlsServerOptions>, options: { cookie?: boolean } = {}) {
  const p = dtlsPair({ ...V13, ...client }, { ...V13, ...server }, options);
  const hellos: MessageOf<'client_hello'>[] = [];
  p.client.on('message', (dir, m) => dir === 'send' && m.type === 'client_hello' && hellos.push(m as MessageOf<'client_hello'>));
  return Object.assign(p, { hellos });
}

/** Both ends ESTABLISHED on DTLS 1.3 with the PSK (no certificate), data both ways. */
function expectImported(p: ReturnType<typeof pair13>) {
  expect(p.errors).toEqual({ client: [], server: [] });
  expect(p.client.protocol).toBe('DTLSv1.3');
  expect(p.client.sessionReused).toBe(true);
  expect(p.server.sessionReused).toBe(true);
  expect(p.client.peerCertificates).toEqual([]);
  p.client.send(text('reading 42'));
  p.server.send(text('ack 42'));
  p.run();
  expect(p.received.server.map((d) => new TextDecoder().decode(d))).toEqual(['reading 42']);
  expect(p.received.client.map((d) => new TextDecoder().decode(d))).toEqual(['ack 42']);
}

const identities = (ch: MessageOf<'client_hello'>) => ch.extensions.get('pre_shared_key', 'client_hello')!.identities.map((i) => decode(ImportedIdentityCodec, i.identity, 'id'));

describe('imported PSKs over DTLS 1.3', () => {
  it('the client offers ImportedIdentities with target_protocol DTLS 1.3 (0xfefc), one per hash', () => {
    const p = pair13(importing(), importingServer);
    p.run();
    const ids = identities(p.hellos[0]!);
    expect(ids.map((i) => [i.target_protocol, i.target_kdf])).toEqual([
      [0xfefc, 1],
      [0xfefc, 2],
    ]);
    expect(new TextDecoder().decode(ids[0]!.context)).toBe('grid-7');
  });

  it('an identity imported for TLS 1.3 is not one for DTLS 1.3, nor the other way round', () => {
    const id = text('meter-4');
    const ctx = text('grid-7');
    expect(parseImportedIdentity(encodeImportedIdentity(id, ctx, false, 'sha256'), true)).toBeUndefined();
    expect(parseImportedIdentity(encodeImportedIdentity(id, ctx, true, 'sha256'), false)).toBeUndefined();
    expect(parseImportedIdentity(encodeImportedIdentity(id, ctx, true, 'sha384'), true)?.hash).toBe('sha384');
  });

  it('a certificate-free importing server accepts it: SHA-256 suite, data both ways', () => {
    const p = pair13(importing(), importingServer);
    p.run();
    expectImported(p);
    expect(p.server.cipher?.standardName).toBe('TLS_AES_128_GCM_SHA256');
  });

  it('imported for SHA-384 only: the server picks the SHA-384 suite', () => {
    const p = pair13(importing({ hashes: ['sha384'] }), importingServer);
    p.run();
    expectImported(p);
    expect(p.client.cipher?.standardName).toBe('TLS_AES_256_GCM_SHA384');
  });

  it('through the stateless cookie exchange: the second ClientHello offers the import again and its binder verifies', () => {
    const p = pair13(importing(), importingServer, { cookie: true });
    p.run();
    expect(p.client.helloRetried).toBe(true);
    expect(p.hellos.length).toBe(2);
    // After the HelloRetryRequest named the suite, only the import for its hash.
    expect(identities(p.hellos[1]!).map((i) => i.target_kdf)).toEqual([1]);
    expectImported(p);
  });

  it('at MTU 500 with 30% of datagrams lost, through the cookie exchange', () => {
    const rnd = seededFloats(9258);
    const net = { mtu: 500, maxRetransmissions: 16 };
    const p = pair13({ ...importing(), ...net }, { ...importingServer, ...net }, { cookie: true });
    p.run({ deliver: (d) => (rnd() < 0.3 ? [] : [d]) }, 4000);
    expectImported(p);
  });

  it('another context: the certificate-free server answers unknown_psk_identity, both ends dead', () => {
    const p = pair13(importing({ context: 'grid-8' }), importingServer);
    p.run();
    expect(p.server.error?.alert).toBe('unknown_psk_identity');
    expect(p.client.error?.alert).toBe('unknown_psk_identity');
    expect(p.server.state).toBe('DEAD');
    expect(p.client.state).toBe('DEAD');
  });

  it('a wrong key fails the binder: decrypt_error, both ends dead', () => {
    const p = pair13(importing({}, new Uint8Array(32)), importingServer, { cookie: true });
    p.run();
    expect(p.server.error?.alert).toBe('decrypt_error');
    expect(p.client.error?.alert).toBe('decrypt_error');
    expect(p.server.state).toBe('DEAD');
    expect(p.client.state).toBe('DEAD');
  });
});
