/**
 * Every parser bounds its work. Each handshake message type is decoded at its largest
 * accepted size and with absurd declared lengths inside; then whole ClientHellos built to
 * make the server's hello processing do the most work (the most key shares against the
 * most groups, the most extensions, PSK identities) go through a server. The worst case is
 * reported; the bound is generous (50 ms of CPU a message) so that a loaded machine does not
 * flake, while quadratic work on these sizes takes far longer.
 */
import { describe, expect, it } from 'vitest';
import { Connection } from '../../src/connection.js';
import { ContentType, HandshakeType, NamedGroup } from '../../src/messages/constants.js';
import { Extensions } from '../../src/messages/extensions.js';
import { MAX_CLIENT_HELLO, decodeHandshake, defaultLimits, encodeHandshake, limitFor, type WireVersion } from '../../src/messages/handshake.js';
import { nodeProvider } from '../../src/crypto/node.js';
import { defaultServerOptions } from '../helpers/pair.js';
import { handshakeRecords, takeClientHello } from './probes.js';
import { cpuMsSince } from '../helpers/cpu-time.js';

const BOUND_MS = 50;

interface Sample {
  what: string;
  ms: number;
}

/**
 * The best of `runs` timings of `work` (fresh state from `setup` each time), in CPU time of
 * this process (user + system), not wall time: other processes on a loaded machine do not
 * count, and a garbage collection landing in one run is not parser work.
 */
function timed<T>(what: string, setup: () => T, work: (state: T) => void, samples: Sample[], runs = 3): T[] {
  let best = Infinity;
  const states: T[] = [];
  for (let run = 0; run < runs; run++) {
    const state = setup();
    states.push(state);
    const start = process.cpuUsage();
    try {
      work(state);
    } catch {
      // Refusals are expected; only the time to reach them counts.
    }
    best = Math.min(best, cpuMsSince(start));
  }
  samples.push({ what, ms: best });
  return states;
}

function report(samples: Sample[]): Sample {
  const worst = samples.reduce((a, b) => (b.ms > a.ms ? b : a));
  console.log(`parser work: ${samples.length} inputs, worst ${worst.ms.toFixed(2)} ms of CPU (${worst.what})`);
  return worst;
}

/** A body whose every length prefix, wherever the parser looks for one, claims the most. */
const allOnes = (n: number) => new Uint8Array(n).fill(0xff);
/** A body that is structurally plausible at every offset: long runs of small lengths. */
const pattern = (n: number) => new Uint8Array(n).map((_, i) => (i % 3 === 0 ? 0 : i % 3 === 1 ? 2 : 1));

describe('parser work per handshake message', () => {
  it('every message type, at its limit and with absurd inner lengths, is decoded (or refused) within the bound', () => {
    const samples: Sample[] = [];
    const versions: WireVersion[] = ['tls13', 'tls12', 'dtls12'];
    for (const [name, type] of Object.entries(HandshakeType)) {
      const max = limitFor(type, defaultLimits);
      for (const version of versions) {
        for (const [shape, body] of [
          ['zeros', new Uint8Array(max)],
          ['0xff', allOnes(max)],
          ['pattern', pattern(max)],
          ['tiny 0xff', allOnes(7)],
        ] as const) {
          timed(`${name} ${version} ${shape} ${body.length} bytes`, () => body, (b) => decodeHandshake(type, b, version, 'ECDHE'), samples);
        }
      }
    }
    const worst = report(samples);
    expect(worst.ms).toBeLessThan(BOUND_MS);
  });
});

describe('server work per ClientHello', () => {
  /** A ClientHello from a real client, reshaped. */
  function hello(change: (m: any) => void): Uint8Array {
    const m = takeClientHello(Connection.client({ servername: 'localhost' })) as any;
    change(m);
    const raw = encodeHandshake(m);
    expect(raw.length - 4).toBeLessThanOrEqual(MAX_CLIENT_HELLO);
    return handshakeRecords(raw);
  }
  // OpenSSL's crypto, so that what is measured is the parsing and checking, not a noble signature.
  const serverOptions = defaultServerOptions({ provider: nodeProvider });

  it('the most expensive ClientHellos we could build are handled within the bound', () => {
    const samples: Sample[] = [];
    const cases: [string, Uint8Array][] = [
      [
        // Every key share is checked against supported_groups: the most of both that fit.
        'many key shares against many groups',
        hello((m) => {
          const groups = Array.from({ length: 16000 }, (_, i) => 0x1000 + i);
          const list = m.extensions.list as { name?: string; value: any }[];
          list.find((e) => e.name === 'supported_groups')!.value = { named_group_list: [...groups, NamedGroup.x25519] };
          const shares = groups.slice(0, 6000).map((group) => ({ group, key_exchange: new Uint8Array(1) }));
          const ks = list.find((e) => e.name === 'key_share')!;
          ks.value = { client_shares: [...shares, ...ks.value.client_shares] };
        }),
      ],
      [
        'the most cipher suites and the most (tiny, unknown) extensions',
        hello((m) => {
          for (let i = 0; i < 32000; i++) m.cipher_suites.push(0x0a00 + (i % 0x5000));
          const ext = m.extensions as Extensions;
          // Unknown types, none of them GREASE (0x?a?a): all must be read, none refused early as a duplicate.
          const types = Array.from({ length: 14000 }, (_, i) => 0x8000 + i).filter((t) => (t & 0x0f0f) !== 0x0a0a);
          ext.list.unshift(...types.slice(0, 12000).map((type) => ({ type, value: new Uint8Array(0) })));
        }),
      ],
      [
        'the longest signature_algorithms and ALPN lists',
        hello((m) => {
          const list = m.extensions.list as { name?: string; value: any }[];
          list.find((e) => e.name === 'signature_algorithms')!.value = { supported_signature_algorithms: Array.from({ length: 15000 }, (_, i) => 0x0a00 + i) };
          list.splice(0, 0, { name: 'application_layer_protocol_negotiation', type: 16, value: { protocol_name_list: Array.from({ length: 3000 }, (_, i) => `proto-${i}`) } } as any);
        }),
      ],
      [
        'many PSK identities (none of them ours)',
        hello((m) => {
          const ext = m.extensions as Extensions;
          const identities = Array.from({ length: 800 }, (_, i) => ({ identity: new Uint8Array(32).fill(i & 0xff), obfuscated_ticket_age: i }));
          ext.add('pre_shared_key', { identities, binders: identities.map(() => new Uint8Array(32)) });
        }),
      ],
    ];
    // A plain ClientHello first: the cost of a normal answer, and the engine warmed up.
    cases.unshift(['a plain ClientHello', hello(() => {})], ['a plain ClientHello again', hello(() => {})]);
    for (const [what, records] of cases) {
      const servers = timed(what, () => Connection.server(serverOptions), (server) => server.feed(records), samples, 5);
      for (const server of servers) {
        // Each was answered (a ServerHello or HelloRetryRequest) or refused with an alert: never left hanging.
        const out = server.takeOutput();
        expect(out.length, what).toBeGreaterThan(0);
        expect([ContentType.handshake, ContentType.alert], what).toContain(out[0]);
      }
    }
    const worst = report(samples);
    expect(worst.ms).toBeLessThan(BOUND_MS);
  });
});
