/**
 * Encrypted Client Hello (RFC 9849) between our client and our server, in memory: accepted
 * (the server sees the inner name, the outer hello shows only the public name), rejected with
 * retry configs that then work, key rotation, and the server's refusal of malformed ECH.
 */
import { describe, expect, it } from 'vitest';
import { nobleProvider as p } from '../src/crypto/noble.js';
import { echConfigListBase64, generateEchKey, type EchKey } from '../src/ech/keys.js';
import type { GroupName } from '../src/crypto/provider.js';
import type { TLSError } from '../src/errors.js';
import { encodeEchConfigList, parseEchClientHello, parseEchConfigList } from '../src/messages/ech.js';
import { decodeHandshake, type MessageOf } from '../src/messages/handshake.js';
import type { EchRequiredError } from '../src/statem/ech-client.js';
import { makePair } from './helpers/pair.js';
import { seededBytes } from './helpers/random.js';

const publicKey = generateEchKey(p, { publicName: 'localhost', configId: 1 });

/** The ClientHello in a client's first flight (one record). */
function helloOf(flight: Uint8Array): MessageOf<'client_hello'> {
  return decodeHandshake(1, flight.subarray(9, 9 + ((flight[6]! << 16) | (flight[7]! << 8) | flight[8]!))) as MessageOf<'client_hello'>;
}

/** Client options that make the server ask again: a share for P-256 only, a server that wants X25519. */
const RETRY = { client: { groups: ['secp256r1', 'x25519'] as GroupName[], keyShareGroups: ['secp256r1'] as GroupName[] }, server: { groups: ['x25519'] as GroupName[] } };

function handshake(configList: string | Uint8Array, keys: EchKey[], servername = 'inner.example', retry = false) {
  // The certificate is for localhost: the inner name is not on it, so only the public name can verify.
  const pair = makePair({ servername, ech: { configList }, verifyPeer: () => {}, ...(retry ? RETRY.client : {}) }, { ech: { keys }, ...(retry ? RETRY.server : {}) });
  const seen: string[] = [];
  pair.server.on('message', (dir: string, msg: { type: string; extensions?: { list: { type: number }[] } }) => {
    if (dir === 'recv' && msg.type === 'client_hello') seen.push('client_hello');
  });
  const wire: Uint8Array[] = [];
  pair.pump((bytes, from) => {
    if (from === 'client') wire.push(bytes);
    return [bytes];
  });
  return { pair, wire: Buffer.concat(wire).toString('latin1'), seen };
}

describe('ECH between our client and our server', () => {
  it('accepted: the server processes the inner hello (its SNI), both report accepted, the inner name never crosses the wire', () => {
    const { pair, wire } = handshake(echConfigListBase64([publicKey]), [publicKey]);
    expect(pair.clientErrors).toEqual([]);
    expect(pair.serverErrors).toEqual([]);
    expect(pair.client.echStatus).toBe('accepted');
    expect(pair.server.echStatus).toBe('accepted');
    expect(pair.server.servername).toBe('inner.example');
    expect(wire).not.toContain('inner.example');
    pair.client.write(new TextEncoder().encode('hidden'));
    pair.pump();
    expect(new TextDecoder().decode(pair.serverData[0])).toBe('hidden');
  });

  it('rejected (the client has an old config): ERR_TLS_ECH_REQUIRED with the retry configs, and those then work', () => {
    const old = generateEchKey(p, { publicName: 'localhost', configId: 9 });
    const { pair } = handshake(echConfigListBase64([old]), [publicKey]);
    expect(pair.client.echStatus).toBe('rejected');
    expect(pair.server.echStatus).toBe('rejected');
    const err = pair.clientErrors[0] as EchRequiredError;
    expect(err.code).toBe('ERR_TLS_ECH_REQUIRED');
    expect(err.alert).toBe('ech_required');
    expect(pair.serverErrors.map((e: TLSError) => e.code)).toEqual(['ERR_TLS_ALERT_ECH_REQUIRED']);
    expect(parseEchConfigList(err.retryConfigs!).map((c) => c.raw)).toEqual([publicKey.config.raw]);
    const again = handshake(err.retryConfigs!, [publicKey]);
    expect(again.pair.clientErrors).toEqual([]);
    expect(again.pair.client.echStatus).toBe('accepted');
  });

  it('rotation: a server holding the old and the new key accepts either; configs marked retry: false are not sent back', () => {
    const next = generateEchKey(p, { publicName: 'localhost', configId: 2 });
    const keys = [next, { ...publicKey, retry: false }];
    expect(handshake(echConfigListBase64([publicKey]), keys).pair.client.echStatus).toBe('accepted');
    expect(handshake(echConfigListBase64([next]), keys).pair.client.echStatus).toBe('accepted');
    const stranger = generateEchKey(p, { publicName: 'localhost', configId: 2 });
    const { pair } = handshake(echConfigListBase64([stranger]), keys);
    const retry = (pair.clientErrors[0] as EchRequiredError).retryConfigs!;
    expect(retry).toEqual(encodeEchConfigList([next.config]));
  });

  it('a server without ECH keys ignores the extension: the client sees a rejection without retry configs', () => {
    const pair = makePair({ servername: 'inner.example', ech: { configList: echConfigListBase64([publicKey]) }, verifyPeer: () => {} });
    pair.pump();
    const err = pair.clientErrors[0] as EchRequiredError;
    expect(err.code).toBe('ERR_TLS_ECH_REQUIRED');
    expect(err.retryConfigs).toBeUndefined();
  });

  it('across a HelloRetryRequest: accepted (both hellos encrypted, the HRR confirms it), and the inner name still hidden', () => {
    const { pair, wire } = handshake(echConfigListBase64([publicKey]), [publicKey], 'inner.example', true);
    expect(pair.clientErrors).toEqual([]);
    expect(pair.serverErrors).toEqual([]);
    expect(pair.client.helloRetried).toBe(true);
    expect(pair.client.echStatus).toBe('accepted');
    expect(pair.server.echStatus).toBe('accepted');
    expect(pair.server.servername).toBe('inner.example');
    expect(pair.client.group).toBe('x25519');
    expect(wire).not.toContain('inner.example');
    pair.client.write(new TextEncoder().encode('after retry'));
    pair.pump();
    expect(new TextDecoder().decode(pair.serverData[0])).toBe('after retry');
  });

  it('across a HelloRetryRequest: rejected (stale config) ends with ERR_TLS_ECH_REQUIRED and the retry configs', () => {
    const old = generateEchKey(p, { publicName: 'localhost', configId: 9 });
    const { pair } = handshake(echConfigListBase64([old]), [publicKey], 'inner.example', true);
    expect(pair.client.helloRetried).toBe(true);
    expect(pair.client.echStatus).toBe('rejected');
    const err = pair.clientErrors[0] as EchRequiredError;
    expect(err.code).toBe('ERR_TLS_ECH_REQUIRED');
    expect(parseEchConfigList(err.retryConfigs!).map((c) => c.raw)).toEqual([publicKey.config.raw]);
  });

  describe('GREASE ECH', () => {
    function greased(serverKeys: EchKey[] | undefined, retry = false) {
      const pair = makePair(
        { servername: 'localhost', echGrease: true, ...(retry ? RETRY.client : {}) },
        { ...(serverKeys ? { ech: { keys: serverKeys } } : {}), ...(retry ? RETRY.server : {}) },
      );
      const wire: Uint8Array[] = [];
      pair.pump((bytes, from) => {
        if (from === 'client') wire.push(bytes);
        return [bytes];
      });
      return { pair, wire: Buffer.concat(wire) };
    }

    it('the hello carries an outer encrypted_client_hello; a server without keys ignores it and the handshake completes', () => {
      const { pair, wire } = greased(undefined);
      expect(pair.clientErrors).toEqual([]);
      expect(pair.client.protocol).toBe('TLSv1.3');
      expect(pair.client.echStatus).toBeUndefined();
      const hello = helloOf(wire);
      const ech = parseEchClientHello(hello.extensions.list.find((e) => e.type === 0xfe0d)!.value as Uint8Array);
      expect(ech.type).toBe('outer');
      expect(ech.type === 'outer' && ech.enc.length).toBe(32);
      expect(hello.extensions.get('server_name', 'client_hello')?.server_name_list[0]?.host_name).toBe('localhost');
    });

    it('a server with keys rejects it and sends retry configs; the client ignores them and goes on', () => {
      const { pair } = greased([publicKey]);
      expect(pair.clientErrors).toEqual([]);
      expect(pair.serverErrors).toEqual([]);
      expect(pair.server.echStatus).toBe('rejected');
      expect(pair.client.echStatus).toBeUndefined();
      expect(pair.client.protocol).toBe('TLSv1.3');
    });

    it('a server with keys that asks again (HelloRetryRequest) rejects it twice, and the handshake completes', () => {
      const { pair } = greased([publicKey], true);
      expect(pair.clientErrors).toEqual([]);
      expect(pair.client.helloRetried).toBe(true);
      expect(pair.server.echStatus).toBe('rejected');
    });

    /** The encrypted_client_hello of each ClientHello a client sends. */
    function echExtensionsSent(client: { on(e: 'message', f: (dir: string, msg: { type: string; extensions?: { list: { type: number; value: unknown }[] } }) => void): unknown }): Uint8Array[] {
      const out: Uint8Array[] = [];
      client.on('message', (dir, msg) => {
        if (dir === 'send' && msg.type === 'client_hello') out.push(msg.extensions!.list.find((e) => e.type === 0xfe0d)!.value as Uint8Array);
      });
      return out;
    }

    it('the second hello after a HelloRetryRequest copies the first one\'s extension whole (RFC 9849 section 6.2)', () => {
      const pair = makePair({ servername: 'localhost', echGrease: true, ...RETRY.client }, RETRY.server);
      const sent = echExtensionsSent(pair.client);
      pair.pump();
      expect(pair.client.helloRetried).toBe(true);
      expect(sent).toHaveLength(2);
      expect(sent[1]).toEqual(sent[0]);
    });

    it('its cipher suite varies between AES-128-GCM and ChaCha20Poly1305 (RFC 9849 section 6.2.1), its config_id is random', () => {
      const suites = new Set<number>();
      const ids = new Set<number>();
      for (let seed = 1; seed <= 8; seed++) {
        const client = makePair({ servername: 'localhost', echGrease: true, random: seededBytes(seed) }).client;
        const sent = echExtensionsSent(client);
        client.takeOutput();
        const ech = parseEchClientHello(sent[0]!);
        if (ech.type !== 'outer') throw new Error('GREASE ECH is an outer extension');
        expect(ech.cipher_suite.kdf_id).toBe(1);
        suites.add(ech.cipher_suite.aead_id);
        ids.add(ech.config_id);
      }
      expect([...suites].sort()).toEqual([1, 3]);
      expect(ids.size).toBeGreaterThan(1);
    });

    it.each([
      ['X25519 and X25519MLKEM768 shares', {}],
      ['one X25519 share', { keyShareGroups: ['x25519'] as GroupName[] }],
      ['no server name', { servername: undefined, host: '127.0.0.1' }],
    ])('its payload is as long as a real one of this client would be (RFC 9849 section 6.2), with %s', (_what, options) => {
      // A config with maximum_name_length 0 pads as GREASE does, which has no config.
      const config = echConfigListBase64([generateEchKey(p, { publicName: 'localhost', configId: 4 })]);
      const payloadLength = (extension: Uint8Array) => {
        const ech = parseEchClientHello(extension);
        return ech.type === 'outer' ? ech.payload.length : -1;
      };
      const grease = makePair({ servername: 'inner.example', echGrease: true, ...options });
      const real = makePair({ servername: 'inner.example', ech: { configList: config }, ...options });
      const [g, r] = [echExtensionsSent(grease.client), echExtensionsSent(real.client)];
      grease.client.takeOutput();
      real.client.takeOutput();
      expect(payloadLength(g[0]!)).toBe(payloadLength(r[0]!));
      expect(payloadLength(g[0]!) % 32).toBe(16);
    });

    it('is on by default with GREASE, off with grease: false or echGrease: false', () => {
      expect(helloOf(makePair({ servername: 'localhost' }).client.takeOutput()).extensions.types).toContain(0xfe0d);
      expect(helloOf(makePair({ servername: 'localhost', grease: false }).client.takeOutput()).extensions.types).not.toContain(0xfe0d);
      expect(helloOf(makePair({ servername: 'localhost', echGrease: false }).client.takeOutput()).extensions.types).not.toContain(0xfe0d);
    });
  });
});
