/**
 * Hybrid post-quantum key exchange in the engine: browser-like defaults (X25519MLKEM768 and
 * X25519 key shares), the server's preference for a hybrid, HelloRetryRequest, each hybrid
 * group with either provider on either side, TLS 1.2 kept to (EC)DH, and the node socket's
 * getEphemeralKeyInfo().
 */
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClientOptions } from '../src/config.js';
import { Connection } from '../src/connection.js';
import { nobleProvider } from '../src/crypto/noble.js';
import { nodeProvider } from '../src/crypto/node.js';
import type { GroupName } from '../src/crypto/provider.js';
import { NamedGroup } from '../src/messages/constants.js';
import { decodeHandshake, type MessageOf } from '../src/messages/handshake.js';
import { connect, createServer } from '../src/node/entry.js';
import { makePair, type Pair } from './helpers/pair.js';
import { close, ECDSA, listen, readAll, ROOT } from './node/util.js';

const text = (s: string) => new TextEncoder().encode(s);

function established(p: Pair): void {
  p.pump();
  expect(p.clientErrors).toEqual([]);
  expect(p.serverErrors).toEqual([]);
  expect(p.client.state).toBe('ESTABLISHED');
  expect(p.server.state).toBe('ESTABLISHED');
  p.client.write(text('ping'));
  p.pump();
  expect(new TextDecoder().decode(p.serverData[0])).toBe('ping');
}

/** The ClientHello a client would send first, decoded. */
function firstClientHello(options: ClientOptions = {}): MessageOf<'client_hello'> {
  const out = Connection.client({ servername: 'localhost', ...options }).takeOutput();
  const msg = out.subarray(5);
  return decodeHandshake(msg[0]!, msg.subarray(4)) as MessageOf<'client_hello'>;
}

describe('hybrid key exchange defaults', () => {
  it('a default client sends X25519MLKEM768 and X25519 key shares, hybrid first, and lists the hybrids first', () => {
    const ch = firstClientHello();
    expect(ch.extensions.get('key_share', 'client_hello')!.client_shares.map((s) => [s.group, s.key_exchange.length])).toEqual([
      [NamedGroup.X25519MLKEM768, 1216],
      [NamedGroup.x25519, 32],
    ]);
    const listed = ch.extensions.get('supported_groups', 'client_hello')!.named_group_list.filter((g) => (g & 0x0f0f) !== 0x0a0a);
    expect(listed.slice(0, 3)).toEqual([NamedGroup.X25519MLKEM768, NamedGroup.SecP256r1MLKEM768, NamedGroup.SecP384r1MLKEM1024]);
  });

  it('a TLS 1.2-only client lists no KEM group (they exist only in TLS 1.3)', () => {
    const ch = firstClientHello({ maxVersion: 'TLSv1.2' });
    const listed = ch.extensions.get('supported_groups', 'client_hello')!.named_group_list;
    for (const g of ['X25519MLKEM768', 'SecP256r1MLKEM768', 'SecP384r1MLKEM1024'] as GroupName[]) expect(listed).not.toContain(NamedGroup[g]);
    expect(listed).toContain(NamedGroup.x25519);
  });

  it('default client and server agree on X25519MLKEM768 without a HelloRetryRequest', () => {
    const p = makePair();
    established(p);
    expect(p.client.group).toBe('X25519MLKEM768');
    expect(p.server.group).toBe('X25519MLKEM768');
    expect(p.client.helloRetried).toBe(false);
  });

  it('a server without the hybrid takes the X25519 share the default client also sent: no HelloRetryRequest', () => {
    const p = makePair({}, { groups: ['x25519', 'secp256r1'] });
    established(p);
    expect(p.server.group).toBe('x25519');
    expect(p.client.helloRetried).toBe(false);
  });

  it('the server prefers the hybrid when the client sent shares for it and for X25519, whatever their order', () => {
    const p = makePair({ groups: ['x25519', 'X25519MLKEM768'], keyShareGroups: ['x25519', 'X25519MLKEM768'] });
    established(p);
    expect(p.server.group).toBe('X25519MLKEM768');
  });

  it('a server that wants the hybrid asks for it with HelloRetryRequest when the client sent only an X25519 share', () => {
    const p = makePair({ groups: ['x25519', 'X25519MLKEM768'], keyShareGroups: ['x25519'] }, { groups: ['X25519MLKEM768'] });
    established(p);
    expect(p.client.helloRetried).toBe(true);
    expect(p.client.group).toBe('X25519MLKEM768');
  });

  it('a TLS 1.2 handshake between default peers uses X25519, never a KEM group', () => {
    const p = makePair({ maxVersion: 'TLSv1.2' });
    established(p);
    expect(p.client.protocol).toBe('TLSv1.2');
    expect(p.server.group).toBe('x25519');
    const server12 = makePair({}, { maxVersion: 'TLSv1.2' });
    established(server12);
    expect(server12.server.group).toBe('x25519');
  });
});

describe('each hybrid group, either provider on either side', () => {
  const groups: GroupName[] = ['X25519MLKEM768', 'SecP256r1MLKEM768', 'SecP384r1MLKEM1024', 'MLKEM768', 'MLKEM1024'];
  for (const group of groups) {
    for (const [c, s] of [
      [nobleProvider, nodeProvider],
      [nodeProvider, nobleProvider],
    ] as const) {
      it(`${group}: a ${c.name} client and a ${s.name} server agree on it and carry data`, () => {
        const p = makePair({ groups: [group], provider: c }, { groups: [group], provider: s });
        established(p);
        expect(p.client.group).toBe(group);
        expect(p.server.group).toBe(group);
      });
    }
  }
});

describe('getEphemeralKeyInfo', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  it("reports a hybrid as node:tls does: { type: 'TLSGroup', name: 'X25519MLKEM768' }", async () => {
    const server = createServer({ ...ECDSA }, (s) => s.end('hi'));
    const port = await listen(server);
    cleanups.push(() => close(server));
    const s = connect({ port, host: 'localhost', ca: ROOT, ecdhCurve: 'X25519MLKEM768:X25519' });
    await once(s, 'secureConnect');
    expect(s.getEphemeralKeyInfo()).toEqual({ type: 'TLSGroup', name: 'X25519MLKEM768' });
    await readAll(s);
  });
});
