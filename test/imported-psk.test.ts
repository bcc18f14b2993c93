/**
 * TLS 1.3 imported PSKs (RFC 9258): the ImportedIdentity on the wire, one PSK per target hash
 * derived as the RFC says, the "imp binder" label, the server's choice of a suite that fits,
 * and what happens when the two sides do not import the same way.
 */
import { describe, expect, it } from 'vitest';
import type { ClientOptions } from '../src/config.js';
import { Connection } from '../src/connection.js';
import { earlySecret, hkdfExpandLabel } from '../src/crypto/keyschedule.js';
import { nobleProvider } from '../src/crypto/noble.js';
import { decode } from '../src/messages/codec.js';
import type { MessageOf } from '../src/messages/handshake.js';
import { ImportedIdentityCodec, encodeImportedIdentity, importedPskSecret, parseImportedIdentity } from '../src/statem/imported-psk.js';
import { makePair, type Pair } from './helpers/pair.js';

const key = new Uint8Array(32).fill(0x3c);
const text = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const pskCallback = (identity: Uint8Array) => (new TextDecoder().decode(identity) === 'sensor-9' ? key : undefined);
const importingServer = { certificates: [], pskCallback, importedPsk: { context: 'plant-1' } };
const imported = (extra: { hashes?: ('sha256' | 'sha384')[]; context?: string } = {}) => ({
  psk: { identity: 'sensor-9', key, imported: { context: 'plant-1', ...extra } },
});

function carriesData(p: Pair): void {
  expect(p.clientErrors).toEqual([]);
  expect(p.serverErrors).toEqual([]);
  p.client.write(text('imported'));
  p.server.write(text('imported back'));
  p.pump();
  expect(new TextDecoder().decode(p.serverData[0])).toBe('imported');
  expect(new TextDecoder().decode(p.clientData[0])).toBe('imported back');
}

/** The identities in the client's pre_shared_key, from its first flight. */
function offeredIdentities(clientOptions: ClientOptions): Uint8Array[] {
  const hellos: MessageOf<'client_hello'>[] = [];
  const c = Connection.client(clientOptions);
  c.on('message', (dir, msg) => dir === 'send' && msg.type === 'client_hello' && hellos.push(msg));
  c.start();
  const psk = hellos[0]?.extensions.get('pre_shared_key', 'client_hello');
  return psk?.identities.map((i) => i.identity) ?? [];
}

describe('RFC 9258 ImportedIdentity and ipskx', () => {
  it('the identity is external_identity, context, target_protocol 0x0304 and target_kdf 1 or 2, and reads back', () => {
    const encoded = encodeImportedIdentity(text('id'), text('ctx'), false, 'sha384');
    expect(hex(encoded)).toBe('0002' + hex(text('id')) + '0003' + hex(text('ctx')) + '0304' + '0002');
    const back = parseImportedIdentity(encoded, false);
    expect(back?.hash).toBe('sha384');
    expect(back?.identity.external_identity).toEqual(text('id'));
    // Another protocol's import, an unknown KDF and trailing bytes are not ours.
    expect(parseImportedIdentity(encodeImportedIdentity(text('id'), text('ctx'), true, 'sha256'), false)).toBeUndefined();
    expect(parseImportedIdentity(new Uint8Array([...encoded.subarray(0, -1), 3]), false)).toBeUndefined();
    expect(parseImportedIdentity(new Uint8Array([...encoded, 0]), false)).toBeUndefined();
    expect(parseImportedIdentity(text('sensor-9'), false)).toBeUndefined();
  });

  it('ipskx = HKDF-Expand-Label(HKDF-Extract(0, epsk), "derived psk", SHA-256(ImportedIdentity), L) with L of the target hash', () => {
    const p = nobleProvider;
    for (const [hash, length] of [['sha256', 32], ['sha384', 48]] as const) {
      const identity = encodeImportedIdentity(text('sensor-9'), new Uint8Array(0), false, hash);
      const zeros = new Uint8Array(32);
      const epskx = p.hkdfExtract('sha256', zeros, key);
      expect(epskx).toEqual(earlySecret(p, 'sha256', key));
      const expected = hkdfExpandLabel(p, 'sha256', epskx, 'derived psk', p.hash('sha256', identity), length);
      const ipskx = importedPskSecret(p, key, identity, hash);
      expect(ipskx.length).toBe(length);
      expect(hex(ipskx)).toBe(hex(expected));
      expect(hex(ipskx)).not.toBe(hex(key.subarray(0, length)));
    }
  });
});

describe('TLS 1.3 imported PSK handshakes', () => {
  it('the client offers one ImportedIdentity per hash (SHA-256, SHA-384), each with the context', () => {
    const ids = offeredIdentities({ ...imported() });
    expect(ids.map((i) => decode(ImportedIdentityCodec, i, 'id').target_kdf)).toEqual([1, 2]);
    for (const i of ids) expect(new TextDecoder().decode(decode(ImportedIdentityCodec, i, 'id').context)).toBe('plant-1');
    expect(offeredIdentities({ ...imported({ hashes: ['sha384'] }) }).length).toBe(1);
    // Without a SHA-384 suite there is nothing to import the key for SHA-384.
    expect(offeredIdentities({ ...imported(), cipherSuites: ['TLS_AES_128_GCM_SHA256'] }).length).toBe(1);
  });

  it('a certificate-free importing server accepts it: SHA-256 suite by default, data both ways, the external identity reported', () => {
    const p = makePair(imported(), importingServer);
    p.pump();
    carriesData(p);
    expect(p.client.sessionReused).toBe(true);
    expect(p.client.peerCertificates).toEqual([]);
    expect(p.server.cipher?.standardName).toBe('TLS_AES_128_GCM_SHA256');
  });

  it('a client importing for SHA-384 only: the server picks the SHA-384 suite it would not prefer', () => {
    const p = makePair(imported({ hashes: ['sha384'] }), importingServer);
    p.pump();
    carriesData(p);
    expect(p.server.cipher?.standardName).toBe('TLS_AES_256_GCM_SHA384');
    expect(p.client.cipher?.standardName).toBe('TLS_AES_256_GCM_SHA384');
  });

  it('a server preferring SHA-384 uses the SHA-384 import of the two offered', () => {
    const p = makePair(imported(), { ...importingServer, cipherSuites: ['TLS_AES_256_GCM_SHA384', 'TLS_AES_128_GCM_SHA256'] });
    p.pump();
    carriesData(p);
    expect(p.server.cipher?.standardName).toBe('TLS_AES_256_GCM_SHA384');
  });

  it('imported PSKs are offered again after a HelloRetryRequest, for the chosen hash only', () => {
    const p = makePair({ ...imported(), groups: ['x25519', 'secp256r1'], keyShareGroups: ['x25519'] }, { ...importingServer, groups: ['secp256r1'] });
    p.pump();
    carriesData(p);
    expect(p.client.helloRetried).toBe(true);
  });

  it('a key provisioned with SHA-384 (epskHash) derives its imports with SHA-384: both sides must agree on it', () => {
    const client = { psk: { identity: 'sensor-9', key, imported: { context: 'plant-1', hashes: ['sha384' as const], epskHash: 'sha384' as const } } };
    const agreed = makePair(client, { ...importingServer, importedPsk: { context: 'plant-1', epskHash: 'sha384' } });
    agreed.pump();
    carriesData(agreed);
    expect(agreed.server.cipher?.standardName).toBe('TLS_AES_256_GCM_SHA384');
    const differ = makePair(client, importingServer);
    differ.pump();
    expect(differ.server.error?.alert).toBe('decrypt_error');
  });

  it('another context is not the server\'s PSK: a certificate-free server answers unknown_psk_identity', () => {
    const p = makePair(imported({ context: 'plant-2' }), importingServer);
    p.pump();
    expect(p.server.error?.alert).toBe('unknown_psk_identity');
  });

  it('a wrong key fails the "imp binder" binder: decrypt_error', () => {
    const p = makePair({ psk: { identity: 'sensor-9', key: new Uint8Array(32), imported: { context: 'plant-1' } } }, importingServer);
    p.pump();
    expect(p.server.error?.alert).toBe('decrypt_error');
  });

  it('a server that does not import sees an unknown identity; a client that does not import is not taken for an importer', () => {
    const plainServer = makePair(imported(), { certificates: [], pskCallback });
    plainServer.pump();
    expect(plainServer.server.error?.alert).toBe('unknown_psk_identity');
    // The plain external PSK still works at an importing server (its "ext binder" path).
    const plainClient = makePair({ psk: { identity: 'sensor-9', key } }, importingServer);
    plainClient.pump();
    carriesData(plainClient);
  });

  it('settings that could never work are refused when the connection is made', () => {
    expect(() => Connection.client({ psk: { identity: 'x', key, imported: { hashes: [] } } })).toThrow(/hashes/);
    expect(() => Connection.client({ psk: { identity: 'x', key, imported: { hashes: ['sha512' as 'sha256'] } } })).toThrow(/hashes/);
    expect(() => Connection.client({ psk: { identity: '', key, imported: {} } })).toThrow(/identity/);
    expect(() => Connection.server({ certificates: [], importedPsk: {} } as never)).toThrow(/pskCallback/);
  });
});
