import { describe, expect, it } from 'vitest';
import type { GroupName } from '../src/crypto/provider.js';
import { CIPHER_SUITES } from '../src/messages/constants.js';
import { makePair, type Pair } from './helpers/pair.js';
import { LEAVES, certifiedKey, type LeafName } from './helpers/pki.js';
import { seededBytes } from './helpers/random.js';

const text = (s: string) => new TextEncoder().encode(s);
const str = (chunks: Uint8Array[]) => chunks.map((c) => new TextDecoder().decode(c)).join('');

function expectEstablished(p: Pair): void {
  expect(p.clientErrors).toEqual([]);
  expect(p.serverErrors).toEqual([]);
  expect(p.client.state).toBe('ESTABLISHED');
  expect(p.server.state).toBe('ESTABLISHED');
}

function exchange(p: Pair, label: string): void {
  p.client.write(text(`ping ${label}`));
  p.server.write(text(`pong ${label}`));
  p.pump();
  expect(str(p.serverData)).toContain(`ping ${label}`);
  expect(str(p.clientData)).toContain(`pong ${label}`);
}

const GROUPS: GroupName[] = ['x25519', 'secp256r1', 'secp384r1', 'x448'];
const EXPECTED_SCHEME: Record<LeafName, string> = {
  'leaf-ecdsa-p256': 'ecdsa_secp256r1_sha256',
  'leaf-ecdsa-p384': 'ecdsa_secp384r1_sha384',
  'leaf-ed25519': 'ed25519',
  'leaf-rsa2048': 'rsa_pss_rsae_sha256',
  'client-ecdsa-p256': 'ecdsa_secp256r1_sha256',
};

describe('TLS 1.3 handshake matrix (in memory)', () => {
  const cases = CIPHER_SUITES.filter((s) => s.version === 'TLSv1.3').flatMap((suite) => GROUPS.flatMap((group) => LEAVES.map((leaf) => ({ suite: suite.name, group, leaf }))));

  it.each(cases)('$suite with $group and a $leaf server key agrees on all three and carries data', ({ suite, group, leaf }) => {
    const p = makePair({ cipherSuites: [suite], groups: [group] }, { certificates: [certifiedKey(leaf)] });
    p.pump();
    expectEstablished(p);
    for (const side of [p.client, p.server]) {
      expect(side.protocol).toBe('TLSv1.3');
      expect(side.cipher?.standardName).toBe(suite);
      expect(side.group).toBe(group);
    }
    expect(p.client.signatureScheme).toBe(EXPECTED_SCHEME[leaf]);
    expect(p.client.helloRetried).toBe(false);
    exchange(p, `${suite}/${group}/${leaf}`);
  });
});

const TLS12_SCHEME: Record<LeafName, string> = {
  'leaf-ecdsa-p256': 'ecdsa_secp256r1_sha256',
  'leaf-ecdsa-p384': 'ecdsa_secp256r1_sha256', // in TLS 1.2 the ECDSA scheme names the hash only
  'leaf-ed25519': 'ed25519',
  'leaf-rsa2048': 'rsa_pss_rsae_sha256',
  'client-ecdsa-p256': 'ecdsa_secp256r1_sha256',
};

describe('TLS 1.2 handshake matrix (in memory)', () => {
  const cases = CIPHER_SUITES.filter((s) => s.version === 'TLSv1.2' && s.auth !== 'PSK').flatMap((suite) =>
    GROUPS.flatMap((group) =>
      LEAVES.filter((leaf) => (suite.auth === 'RSA') === (leaf === 'leaf-rsa2048')).map((leaf) => ({ suite: suite.name, group, leaf })),
    ),
  );

  it.each(cases)('$suite with $group and a $leaf server key agrees on all three and carries data', ({ suite, group, leaf }) => {
    // RFC 8422: in TLS 1.2 an ECDSA certificate's curve must be among the client's groups too;
    // the server prefers the first group, so the ECDHE group stays the one under test.
    const curve: Partial<Record<LeafName, GroupName>> = { 'leaf-ecdsa-p256': 'secp256r1', 'leaf-ecdsa-p384': 'secp384r1' };
    const groups = [group, ...(curve[leaf] && curve[leaf] !== group ? [curve[leaf]!] : [])];
    // CCM-8 is opt-in on both sides.
    const p = makePair({ cipherSuites: [suite], groups }, { certificates: [certifiedKey(leaf)], cipherSuites: [suite], groups });
    p.pump();
    expectEstablished(p);
    for (const side of [p.client, p.server]) {
      expect(side.protocol).toBe('TLSv1.2');
      expect(side.cipher?.standardName).toBe(suite);
      expect(side.group).toBe(group);
    }
    expect(p.client.signatureScheme).toBe(TLS12_SCHEME[leaf]);
    exchange(p, `${suite}/${group}/${leaf}`);
  });

  it('logs the master secret as a CLIENT_RANDOM line on both sides', () => {
    const p = makePair({ maxVersion: 'TLSv1.2' });
    const logs = { client: [] as string[], server: [] as string[] };
    p.client.on('keylog', (l) => logs.client.push(l));
    p.server.on('keylog', (l) => logs.server.push(l));
    p.pump();
    expectEstablished(p);
    expect(logs.client).toEqual(logs.server);
    expect(logs.client).toHaveLength(1);
    expect(logs.client[0]).toMatch(/^CLIENT_RANDOM [0-9a-f]{64} [0-9a-f]{96}$/);
  });

  it('refuses KeyUpdate, which TLS 1.2 does not have', () => {
    const p = makePair({ maxVersion: 'TLSv1.2' });
    p.pump();
    expect(() => p.client.keyUpdate()).toThrow(expect.objectContaining({ code: 'ERR_TLS_INVALID_STATE' }));
  });
});

describe('version negotiation', () => {
  const V = ['TLSv1.2', 'TLSv1.3'] as const;
  const cases = V.flatMap((cmin) => V.flatMap((cmax) => V.flatMap((smin) => V.map((smax) => ({ cmin, cmax, smin, smax }))))).filter(
    (c) => c.cmin <= c.cmax && c.smin <= c.smax,
  );

  it.each(cases)('client $cmin..$cmax, server $smin..$smax: the highest common version or protocol_version', ({ cmin, cmax, smin, smax }) => {
    const p = makePair({ minVersion: cmin, maxVersion: cmax }, { minVersion: smin, maxVersion: smax });
    p.pump();
    const common = V.filter((v) => v >= cmin && v <= cmax && v >= smin && v <= smax);
    if (common.length === 0) {
      expect(p.server.error?.alert ?? p.client.error?.alert).toBe('protocol_version');
      return;
    }
    expectEstablished(p);
    expect(p.client.protocol).toBe(common[common.length - 1]);
    expect(p.server.protocol).toBe(common[common.length - 1]);
  });

  /** Rewrite the first occurrence of `from` in the client's first flight (a plaintext ClientHello). */
  function patchClientHello(from: number[], to: number[]) {
    let done = false;
    return (bytes: Uint8Array, side: 'client' | 'server') => {
      if (side !== 'client' || done) return [bytes];
      const hex = Buffer.from(bytes).toString('hex');
      const at = hex.indexOf(Buffer.from(from).toString('hex'));
      if (at < 0 || at % 2) return [bytes];
      done = true;
      const out = Uint8Array.from(bytes);
      out.set(to, at / 2);
      return [out];
    };
  }

  it('a TLS 1.3 client detects the downgrade sentinel when its 1.3 offer was stripped', () => {
    const p = makePair({ grease: false });
    // supported_versions [1.3, 1.2] becomes [1.2, 1.2]: what an attacker stripping 1.3 would leave.
    p.pump(patchClientHello([0x00, 0x2b, 0x00, 0x05, 0x04, 0x03, 0x04, 0x03, 0x03], [0x00, 0x2b, 0x00, 0x05, 0x04, 0x03, 0x03, 0x03, 0x03]));
    expect(p.client.error?.alert).toBe('illegal_parameter');
    expect(p.client.error?.message).toMatch(/downgrade/);
  });

  it('a client limited to TLS 1.2 accepts the sentinel of a 1.3-capable server', () => {
    const p = makePair({ maxVersion: 'TLSv1.2' });
    p.pump();
    expectEstablished(p);
  });

  it('the server refuses a TLS 1.2 ClientHello without the extended master secret', () => {
    const p = makePair({ maxVersion: 'TLSv1.2', grease: false });
    // extended_master_secret (0x0017, empty) renamed to an unknown extension type.
    p.pump(patchClientHello([0x00, 0x17, 0x00, 0x00], [0x0f, 0x17, 0x00, 0x00]));
    expect(p.server.error?.alert).toBe('handshake_failure');
    expect(p.server.error?.message).toMatch(/extended master secret/);
  });

  it('the server accepts a TLS 1.2 ClientHello without secure renegotiation signalling and answers without renegotiation_info; our client insists on it', () => {
    const p = makePair({ maxVersion: 'TLSv1.2', grease: false });
    p.pump(patchClientHello([0xff, 0x01, 0x00, 0x01, 0x00], [0x0f, 0x01, 0x00, 0x01, 0x00]));
    // The server went on to its flight (RFC 5746 3.6 lets it); the client, which did send the extension, refuses the answer.
    expect(p.client.error?.alert).toBe('handshake_failure');
    expect(p.client.error?.message).toMatch(/secure renegotiation/);
    expect(p.server.error?.remote).toBe(true);
  });
});

describe('HelloRetryRequest', () => {
  it('is sent when the client has no share for a group the server accepts, and the retry completes', () => {
    const p = makePair({ groups: ['x25519', 'secp384r1'], keyShareGroups: ['x25519'] }, { groups: ['secp384r1'] });
    const serverStates: string[] = [];
    p.server.on('transition', (t) => serverStates.push(t.to));
    p.pump();
    expectEstablished(p);
    expect(p.client.helloRetried).toBe(true);
    expect(p.server.helloRetried).toBe(true);
    expect(p.client.group).toBe('secp384r1');
    expect(serverStates).toContain('S.HelloRetryRequest');
    expect(serverStates).toContain('S.ClientHello2');
    exchange(p, 'after HRR');
  });

  it('works without a cookie and without compatibility mode', () => {
    const p = makePair({ groups: ['x25519', 'secp256r1'], keyShareGroups: ['x25519'], compatibilityMode: false }, { groups: ['secp256r1'], helloRetryCookie: false });
    p.pump();
    expectEstablished(p);
    expect(p.client.helloRetried).toBe(true);
  });

  it('fails with handshake_failure when no group is shared', () => {
    const p = makePair({ groups: ['x25519'] }, { groups: ['secp384r1'] });
    p.pump();
    expect(p.server.error?.alert).toBe('handshake_failure');
    expect(p.client.error?.code).toBe('ERR_TLS_ALERT_HANDSHAKE_FAILURE');
    expect(p.client.error?.remote).toBe(true);
  });
});

describe('middlebox compatibility mode', () => {
  it('sends a 32-byte legacy_session_id and one dummy ChangeCipherSpec each way', () => {
    const p = makePair();
    const ccs = { client: 0, server: 0 };
    p.pump((bytes, from) => {
      // Count plaintext CCS records (type 20) in the stream.
      for (let i = 0; i + 5 <= bytes.length; ) {
        const len = (bytes[i + 3]! << 8) | bytes[i + 4]!;
        if (bytes[i] === 20) ccs[from]++;
        i += 5 + len;
      }
      return [bytes];
    });
    expectEstablished(p);
    expect(ccs).toEqual({ client: 1, server: 1 });
  });

  it('sends no ChangeCipherSpec when turned off', () => {
    const p = makePair({ compatibilityMode: false });
    let sawCcs = false;
    p.pump((bytes) => {
      if (bytes[0] === 20) sawCcs = true;
      return [bytes];
    });
    expectEstablished(p);
    expect(sawCcs).toBe(false);
  });
});

describe('ALPN and SNI', () => {
  it('agree on the server’s preferred protocol among the client’s', () => {
    const p = makePair({ ALPNProtocols: ['http/1.1', 'h2'] }, { ALPNProtocols: ['h2', 'http/1.1'] });
    p.pump();
    expectEstablished(p);
    expect(p.client.alpnProtocol).toBe('h2');
    expect(p.server.alpnProtocol).toBe('h2');
  });

  it('refuse with no_application_protocol when nothing overlaps', () => {
    const p = makePair({ ALPNProtocols: ['spdy/3'] }, { ALPNProtocols: ['h2'] });
    p.pump();
    expect(p.server.error?.alert).toBe('no_application_protocol');
    expect(p.client.error?.code).toBe('ERR_TLS_ALERT_NO_APPLICATION_PROTOCOL');
  });

  it('lets the server pick a certificate by SNI name', () => {
    const seen: string[] = [];
    const p = makePair({ servername: 'test.tsls.example' }, {
      SNICallback: (name) => {
        seen.push(name);
        return [certifiedKey('leaf-ed25519')];
      },
    });
    p.pump();
    expectEstablished(p);
    expect(seen).toEqual(['test.tsls.example']);
    expect(p.server.servername).toBe('test.tsls.example');
    expect(p.client.signatureScheme).toBe('ed25519');
  });
});

describe('KeyUpdate', () => {
  it('from the client with update_requested: the server answers and data flows both ways after', () => {
    const p = makePair();
    p.pump();
    const sent: string[] = [];
    p.server.on('message', (dir, msg) => dir === 'send' && sent.push(msg.type));
    p.client.keyUpdate(true);
    p.pump();
    expect(sent).toEqual(['key_update']);
    exchange(p, 'after client KeyUpdate');
  });

  it('from the server without update_requested: no answer, data still flows', () => {
    const p = makePair();
    p.pump();
    const sent: string[] = [];
    p.client.on('message', (dir, msg) => dir === 'send' && sent.push(msg.type));
    p.server.keyUpdate(false);
    p.pump();
    expect(sent).toEqual([]);
    exchange(p, 'after server KeyUpdate');
  });

  it('many times in a row keeps both directions in step', () => {
    const p = makePair();
    p.pump();
    for (let i = 0; i < 5; i++) {
      (i % 2 ? p.server : p.client).keyUpdate(i % 3 === 0);
      exchange(p, `round ${i}`);
    }
    expectEstablished(p);
  });
});

describe('close_notify', () => {
  it('client closes first: server sees end, answers, both reach CLOSED', () => {
    const p = makePair();
    p.pump();
    const events: string[] = [];
    p.server.on('end', () => events.push('server end'));
    p.client.on('end', () => events.push('client end'));
    p.client.write(text('last words'));
    p.client.end();
    p.pump();
    expect(str(p.serverData)).toBe('last words');
    expect(p.server.state).toBe('CLOSING');
    expect(p.client.state).toBe('CLOSING');
    p.server.write(text('half-open reply'));
    p.server.end();
    p.pump();
    expect(str(p.clientData)).toBe('half-open reply');
    expect(events).toEqual(['server end', 'client end']);
    expect(p.client.state).toBe('CLOSED');
    expect(p.server.state).toBe('CLOSED');
  });

  it('server closes first', () => {
    const p = makePair();
    p.pump();
    p.server.end();
    p.pump();
    expect(p.client.peerClosed).toBe(true);
    p.client.end();
    p.pump();
    expect(p.client.state).toBe('CLOSED');
    expect(p.server.state).toBe('CLOSED');
  });

  it('writing after end() is refused with a clear error', () => {
    const p = makePair();
    p.pump();
    p.client.end();
    expect(() => p.client.write(text('too late'))).toThrow(expect.objectContaining({ code: 'ERR_TLS_WRITE_AFTER_END' }));
  });
});

describe('data written before the handshake completes', () => {
  it('is queued and delivered in order, never dropped', () => {
    const p = makePair();
    p.client.write(text('one '));
    p.client.write(text('two'));
    p.pump();
    expectEstablished(p);
    expect(str(p.serverData)).toBe('one two');
  });
});

describe('keying material', () => {
  it('both sides export the same keying material and keylog the same secrets', () => {
    const p = makePair();
    const logs = { client: [] as string[], server: [] as string[] };
    p.client.on('keylog', (l) => logs.client.push(l));
    p.server.on('keylog', (l) => logs.server.push(l));
    p.pump();
    expectEstablished(p);
    expect(logs.client.sort()).toEqual(logs.server.sort());
    expect(logs.client.map((l) => l.split(' ')[0])).toEqual([
      'CLIENT_HANDSHAKE_TRAFFIC_SECRET',
      'CLIENT_TRAFFIC_SECRET_0',
      'EXPORTER_SECRET',
      'SERVER_HANDSHAKE_TRAFFIC_SECRET',
      'SERVER_TRAFFIC_SECRET_0',
    ]);
    const a = p.client.exportKeyingMaterial(32, 'EXPERIMENTAL test', text('ctx'));
    const b = p.server.exportKeyingMaterial(32, 'EXPERIMENTAL test', text('ctx'));
    expect(a).toEqual(b);
    expect(p.client.exportKeyingMaterial(32, 'EXPERIMENTAL other')).not.toEqual(a);
  });
});

describe('certificate verification by default', () => {
  it('refuses a server whose chain does not lead to the configured ca', () => {
    const p = makePair({ ca: [] });
    p.pump();
    expect(p.client.error?.code).toBe('UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
    expect(p.client.error?.alert).toBe('unknown_ca');
    expect(p.server.error?.code).toBe('ERR_TLS_ALERT_UNKNOWN_CA');
  });

  it('refuses a certificate for another name', () => {
    const p = makePair({ servername: 'other.example' });
    p.pump();
    expect(p.client.error?.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('checks IP addresses against IP SANs when no servername is set', () => {
    const ok = makePair({ servername: undefined, host: '127.0.0.1' });
    ok.pump();
    expectEstablished(ok);
    const bad = makePair({ servername: undefined, host: '10.1.2.3' });
    bad.pump();
    expect(bad.client.error?.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('is skipped only when rejectUnauthorized is false, explicitly', () => {
    const p = makePair({ ca: [], rejectUnauthorized: false });
    p.pump();
    expectEstablished(p);
  });

  it('refuses an expired certificate at an injected time', () => {
    const p = makePair({ now: () => Date.UTC(2200, 0, 1) });
    p.pump();
    expect(p.client.error?.code).toBe('CERT_HAS_EXPIRED');
    expect(p.client.error?.alert).toBe('certificate_expired');
  });
});

describe('injected randomness', () => {
  it('replays a handshake byte for byte with the same seeds', () => {
    const run = () => {
      const now = () => Date.UTC(2026, 0, 1);
      const p = makePair({ random: seededBytes(7), now }, { random: seededBytes(11), now });
      const wire: number[][] = [];
      p.pump((bytes) => {
        wire.push([...bytes]);
        return [bytes];
      });
      expectEstablished(p);
      return wire;
    };
    expect(run()).toEqual(run());
  });

  it.each(Array.from({ length: 40 }, (_, i) => i + 1))('GREASE values from seed %i are ignored by the server', (seed) => {
    const p = makePair({ random: seededBytes(seed), grease: true });
    p.pump();
    expectEstablished(p);
  });
});

describe('close_notify during the handshake', () => {
  it('is a failure the application hears about, not a quiet end', () => {
    const p = makePair();
    // Deliver the ClientHello, then have the client give up before the server's flight arrives.
    p.server.feed(p.client.takeOutput());
    p.client.end();
    p.server.feed(p.client.takeOutput());
    expect(p.server.state).toBe('DEAD');
    expect(p.server.error?.code).toBe('ERR_TLS_CLOSED_DURING_HANDSHAKE');
    expect(p.server.error?.remote).toBe(true);
  });
});
