/**
 * A seeded mutation fuzzer over real flights. Both sides draw their randomness from a
 * seeded generator, so every fresh client sends the same ClientHello and one recorded
 * server flight answers them all; each iteration flips, inserts and deletes bytes of a
 * recorded flight and feeds it to a fresh connection.
 *
 * Whatever the input, `feed` must not throw, and the connection must end either still
 * waiting (HANDSHAKE, or ESTABLISHED when the mutation was harmless, e.g. a record's minor
 * version byte; CLOSING when it forged a close_notify) with no error, or DEAD with exactly
 * one TLSError carrying a known alert — never internal_error, which would mean input
 * reached a check nobody wrote. (An alert forged "from the peer" may carry any number.)
 *
 * Everything is deterministic (xorshift32, no Math.random): a failure names its target and
 * iteration, and prints the input in hex.
 */
import { describe, expect, it } from 'vitest';
import type { ClientOptions, ServerOptions } from '../src/config.js';
import { Connection } from '../src/connection.js';
import { trafficKeys } from '../src/crypto/keyschedule.js';
import { nobleProvider } from '../src/crypto/noble.js';
import { AlertDescription, TLSError } from '../src/errors.js';
import { ContentType, cipherSuiteByName } from '../src/messages/constants.js';
import { Tls13Protection } from '../src/record/protection.js';
import { concat, fromHex, toHex } from '../src/util/bytes.js';
import { defaultClientOptions, defaultServerOptions } from './helpers/pair.js';
import { certifiedKey, rootCa } from './helpers/pki.js';
import { fuzzIterations } from './helpers/depth.js';
import { seededBytes, xorshift32 } from './helpers/random.js';
import { splitRecords } from './helpers/records.js';

const ITERATIONS = fuzzIterations();
const KNOWN_ALERTS = new Set(Object.keys(AlertDescription));

/** xorshift32 as integers below n and as bytes, from one stream. */
function prng(seed: number) {
  const next = xorshift32(seed);
  return {
    int: (n: number) => next() % n,
    bytes: (n: number) => Uint8Array.from({ length: n }, () => next() & 0xff),
  };
}


/**
 * Per-input time budget: generous (a loaded machine, noble signatures in a server's answer),
 * but an input that makes a parser do superlinear work blows it by orders of magnitude.
 */
const BUDGET_MS = 500;

/** 1 to 4 random flips (xor with a non-zero byte), inserts, deletes and size-amplifying repeats. */
function mutate(input: Uint8Array, g: ReturnType<typeof prng>): { bytes: Uint8Array; ops: string[] } {
  let b: Uint8Array = input.slice();
  const ops: string[] = [];
  const count = 1 + g.int(4);
  for (let k = 0; k < count; k++) {
    const op = g.int(4);
    if (op === 0 && b.length > 0) {
      const at = g.int(b.length);
      const x = 1 + g.int(255);
      b[at]! ^= x;
      ops.push(`flip@${at}^${x}`);
    } else if (op === 1) {
      const at = g.int(b.length + 1);
      const v = g.int(256);
      b = concat(b.subarray(0, at), new Uint8Array([v]), b.subarray(at));
      ops.push(`insert@${at}=${v}`);
    } else if (op === 2 && b.length > 0) {
      const at = g.int(b.length);
      b = concat(b.subarray(0, at), b.subarray(at + 1));
      ops.push(`delete@${at}`);
    } else if (b.length > 0) {
      // Amplify: a slice of up to 64 bytes repeated up to 512 times in place (lists, extensions, records grow).
      const at = g.int(b.length);
      const slice = b.subarray(at, Math.min(b.length, at + 1 + g.int(64)));
      const times = 2 + g.int(511);
      b = concat(b.subarray(0, at), ...Array.from({ length: times }, () => slice), b.subarray(at + slice.length));
      ops.push(`repeat@${at}+${slice.length}x${times}`);
    }
  }
  return { bytes: b, ops };
}

// ---- recorded flights ---------------------------------------------------------------------

interface Recorded {
  client: () => Connection;
  server: () => Connection;
  /** ClientHello. */
  clientFlight: Uint8Array;
  /** The server's answer to it. */
  serverFlight: Uint8Array;
  /** The client's second flight (TLS 1.3: CCS + Finished; TLS 1.2: ClientKeyExchange, CCS, Finished). */
  clientFlight2: Uint8Array;
  serverSecrets: Map<string, Uint8Array>;
  suite: string;
}

/** One clock for every connection: ticket ages (and so resuming ClientHellos) replay exactly. */
const NOW = Date.now();
const now = () => NOW;

function record(clientExtra: ClientOptions = {}, serverExtra: Partial<ServerOptions> = {}): Recorded {
  const client = () => Connection.client(defaultClientOptions({ random: seededBytes(11), now, ...clientExtra }));
  const server = () => Connection.server(defaultServerOptions({ random: seededBytes(12), now, ...serverExtra }));
  const c = client();
  const s = server();
  const serverSecrets = new Map<string, Uint8Array>();
  s.on('keylog', (line) => {
    const [label, , secret] = line.split(' ');
    serverSecrets.set(label!, fromHex(secret!));
  });
  const clientFlight = c.takeOutput();
  s.feed(clientFlight);
  const serverFlight = s.takeOutput();
  c.feed(serverFlight);
  const clientFlight2 = c.takeOutput();
  s.feed(clientFlight2);
  expect(c.error).toBeUndefined();
  expect(s.state).toBe('ESTABLISHED');
  // The recording replays: a fresh client sends the same ClientHello.
  expect(toHex(client().takeOutput())).toBe(toHex(clientFlight));
  return { client, server, clientFlight, serverFlight, clientFlight2, serverSecrets, suite: c.cipher!.standardName };
}

/**
 * A TLS 1.3 flight opened with the sender's handshake traffic secret: its handshake stream
 * in the clear, and how to seal a (mutated) stream again behind the flight's clear records.
 */
function behindTheAead(flight: Uint8Array, secret: Uint8Array, suiteName: string) {
  const records = splitRecords(flight);
  const clear = records.filter((r) => r[0] !== ContentType.application_data);
  const suite = cipherSuiteByName(suiteName)!;
  const { key, iv } = trafficKeys(nobleProvider, suite.hash, suite.aead, secret);
  const opener = new Tls13Protection(nobleProvider, suite.aead, key, iv);
  const stream = concat(...records.filter((r) => r[0] === ContentType.application_data).map((r) => opener.open(r.subarray(0, 5), r.subarray(5)).data));
  const wrap = (mutated: Uint8Array) => {
    const sealer = new Tls13Protection(nobleProvider, suite.aead, key, iv);
    const out = [...clear];
    for (let at = 0; at < mutated.length; at += 2 ** 14) out.push(sealer.seal(ContentType.handshake, mutated.subarray(at, at + 2 ** 14)));
    if (mutated.length === 0) out.push(sealer.seal(ContentType.handshake, mutated));
    return concat(...out);
  };
  return { stream, wrap };
}

// ---- the oracle -------------------------------------------------------------------------------

interface Finding {
  target: string;
  iteration: number;
  ops: string[];
  problem: string;
  input: string;
}

/** Feed `input` to `conn` (already in the state the flight is meant for) and judge the outcome. */
function judge(conn: Connection, input: Uint8Array): string | undefined {
  const errors: unknown[] = [];
  conn.on('error', (e) => errors.push(e));
  try {
    conn.feed(input);
    conn.takeOutput();
  } catch (err) {
    return `feed threw ${err instanceof Error ? err.stack : String(err)}`;
  }
  for (const e of errors) {
    if (!(e instanceof TLSError)) return `error event with a non-TLSError: ${String(e)}`;
    // A mutation can turn bytes into an alert record "from the peer", whatever its number.
    if (e.remote) {
      if (!KNOWN_ALERTS.has(e.alert) && !/^unknown_alert_\d+$/.test(e.alert)) return `bad remote alert name ${e.alert}`;
      continue;
    }
    if (!KNOWN_ALERTS.has(e.alert)) return `unknown alert ${e.alert}: ${e.message}`;
    if (e.alert === 'internal_error') return `internal_error: ${e.message}${e.cause instanceof Error ? ` (cause: ${e.cause.stack})` : ''}`;
  }
  if (conn.state === 'DEAD') {
    if (errors.length !== 1) return `DEAD with ${errors.length} error events`;
  } else {
    if (errors.length !== 0) return `${conn.state} after ${errors.length} error events`;
    // CLOSING: the mutation made a close_notify "from the peer" (reported by the `end` event).
    const closedByPeer = conn.state === 'CLOSING' && conn.peerClosed;
    if (conn.state !== 'HANDSHAKE' && conn.state !== 'ESTABLISHED' && !closedByPeer) return `ended in ${conn.state}`;
  }
  return undefined;
}

interface Target {
  name: string;
  seed: number;
  /** The bytes to mutate. */
  input: () => Uint8Array;
  /** A fresh connection ready for them. */
  receiver: () => Connection;
  /** Optional: turn the mutated bytes into what is fed (e.g. seal them). */
  wrap?: (mutated: Uint8Array) => Uint8Array;
}

function fuzz(target: Target): { findings: Finding[]; outcomes: Record<string, number> } {
  const g = prng(target.seed);
  const findings: Finding[] = [];
  const outcomes: Record<string, number> = {};
  const original = target.input();
  for (let iteration = 0; iteration < ITERATIONS; iteration++) {
    const { bytes, ops } = mutate(original, g);
    const fed = target.wrap ? target.wrap(bytes) : bytes;
    const conn = target.receiver();
    const start = performance.now();
    const verdict = judge(conn, fed);
    const ms = performance.now() - start;
    const problem = verdict ?? (ms > BUDGET_MS ? `took ${ms.toFixed(0)} ms (budget ${BUDGET_MS} ms) for ${fed.length} bytes` : undefined);
    const key = conn.state === 'DEAD' ? conn.error?.alert ?? 'DEAD?' : conn.state;
    outcomes[key] = (outcomes[key] ?? 0) + 1;
    if (problem) findings.push({ target: target.name, iteration, ops, problem, input: toHex(fed) });
  }
  return { findings, outcomes };
}

function expectNoFindings(result: { findings: Finding[]; outcomes: Record<string, number> }): void {
  if (process.env.TSLS_FUZZ_VERBOSE) console.log(JSON.stringify(result.outcomes));
  if (result.findings.length) console.error(JSON.stringify(result.findings.slice(0, 5), null, 2));
  expect(result.findings.map((f) => `${f.target} #${f.iteration} [${f.ops.join(' ')}]: ${f.problem.split('\n')[0]}`)).toEqual([]);
  // The fuzzer did reach past the first check: more than one distinct outcome.
  expect(Object.keys(result.outcomes).length).toBeGreaterThan(1);
}

/** A client that has sent the recorded ClientHello and waits for the server's flight. */
const clientAwaitingServerFlight = (rec: Recorded) => () => {
  const c = rec.client();
  c.takeOutput();
  return c;
};

/** A server that has answered the recorded ClientHello and waits for the client's second flight. */
const serverAwaitingSecondFlight = (rec: Recorded) => () => {
  const s = rec.server();
  s.feed(rec.clientFlight);
  s.takeOutput();
  return s;
};

// ---- targets ----------------------------------------------------------------------------------

describe('mutation fuzzing of real flights (TLS 1.3)', () => {
  const rec = record();

  it('ClientHello → a fresh server', () => {
    expectNoFindings(fuzz({ name: 'tls13 ClientHello', seed: 0x1001, input: () => rec.clientFlight, receiver: rec.server }));
  }, 120_000);

  it('the server flight → a client that sent the recorded ClientHello', () => {
    expectNoFindings(
      fuzz({
        name: 'tls13 server flight',
        seed: 0x1002,
        input: () => rec.serverFlight,
        receiver: clientAwaitingServerFlight(rec),
      }),
    );
  }, 120_000);

  it('the encrypted server messages, mutated in the clear and sealed again → the client', () => {
    // Decrypt the server's handshake records once; every iteration mutates the plaintext
    // handshake stream (EncryptedExtensions, Certificate, CertificateVerify, Finished) and
    // seals it afresh, so the mutations reach the message decoders behind the AEAD.
    const { stream, wrap } = behindTheAead(rec.serverFlight, rec.serverSecrets.get('SERVER_HANDSHAKE_TRAFFIC_SECRET')!, rec.suite);
    expectNoFindings(
      fuzz({
        name: 'tls13 encrypted server messages',
        seed: 0x1003,
        input: () => stream,
        wrap,
        receiver: clientAwaitingServerFlight(rec),
      }),
    );
  }, 120_000);

  it("the client's second flight → a server waiting for it", () => {
    expectNoFindings(
      fuzz({
        name: 'tls13 client second flight',
        seed: 0x1004,
        input: () => rec.clientFlight2,
        receiver: serverAwaitingSecondFlight(rec),
      }),
    );
  }, 120_000);
});

describe('mutation fuzzing of real flights (TLS 1.3 with HelloRetryRequest)', () => {
  const client = () => Connection.client(defaultClientOptions({ random: seededBytes(21), groups: ['x25519', 'secp256r1'], keyShareGroups: ['x25519'] }));
  const server = () => Connection.server(defaultServerOptions({ random: seededBytes(22), groups: ['secp256r1'] }));
  const c = client();
  const s = server();
  const hello1 = c.takeOutput();
  s.feed(hello1);
  const retry = s.takeOutput();
  c.feed(retry);
  const hello2 = c.takeOutput();
  s.feed(hello2);
  c.feed(s.takeOutput());
  s.feed(c.takeOutput());

  it('recorded a HelloRetryRequest handshake', () => {
    expect(c.helloRetried).toBe(true);
    expect(s.state).toBe('ESTABLISHED');
  });

  it('HelloRetryRequest → a client that sent the recorded ClientHello', () => {
    expectNoFindings(
      fuzz({
        name: 'tls13 HelloRetryRequest',
        seed: 0x1101,
        input: () => retry,
        receiver: () => {
          const fresh = client();
          fresh.takeOutput();
          return fresh;
        },
      }),
    );
  }, 120_000);

  it('the second ClientHello → a server that asked for it', () => {
    expectNoFindings(
      fuzz({
        name: 'tls13 second ClientHello',
        seed: 0x1102,
        input: () => hello2,
        receiver: () => {
          const fresh = server();
          fresh.feed(hello1);
          fresh.takeOutput();
          return fresh;
        },
      }),
    );
  }, 120_000);
});

/** A session to resume, from a first handshake with a server using `ticketKeys`. */
function sessionFrom(clientExtra: ClientOptions, ticketKeys: Uint8Array): ClientOptions['session'] {
  const c = Connection.client(defaultClientOptions({ now, ...clientExtra }));
  const s = Connection.server(defaultServerOptions({ now, ticketKeys }));
  let session: ClientOptions['session'];
  c.on('session', (x) => (session ??= x));
  for (let i = 0; i < 10; i++) {
    const a = c.takeOutput();
    const b = s.takeOutput();
    if (a.length === 0 && b.length === 0) break;
    s.feed(a);
    c.feed(b);
  }
  expect(session).toBeDefined();
  return session;
}

describe('mutation fuzzing of real flights (client certificates, resumption)', () => {
  const ticketKeys = new Uint8Array(48).fill(5);

  it("TLS 1.3: the client's Certificate, CertificateVerify and Finished, mutated behind the AEAD → a server that asked for them", () => {
    const rec = record({ certificate: certifiedKey('client-ecdsa-p256') }, { requestCert: true, ca: rootCa() });
    const { stream, wrap } = behindTheAead(rec.clientFlight2, rec.serverSecrets.get('CLIENT_HANDSHAKE_TRAFFIC_SECRET')!, rec.suite);
    expectNoFindings(
      fuzz({
        name: 'tls13 client certificate messages',
        seed: 0x3001,
        input: () => stream,
        wrap,
        receiver: serverAwaitingSecondFlight(rec),
      }),
    );
  }, 120_000);

  it('TLS 1.3: a resuming ClientHello (pre_shared_key, binders) → a server holding the ticket key', () => {
    const rec = record({ session: sessionFrom({}, ticketKeys) }, { ticketKeys });
    expectNoFindings(fuzz({ name: 'tls13 resumption ClientHello', seed: 0x3002, input: () => rec.clientFlight, receiver: rec.server }));
  }, 120_000);

  it('TLS 1.2: a resuming ClientHello (session ticket) → a server holding the ticket key', () => {
    const rec = record({ maxVersion: 'TLSv1.2', session: sessionFrom({ maxVersion: 'TLSv1.2' }, ticketKeys) }, { ticketKeys });
    expectNoFindings(fuzz({ name: 'tls12 resumption ClientHello', seed: 0x3003, input: () => rec.clientFlight, receiver: rec.server }));
  }, 120_000);
});

describe('mutation fuzzing of real flights (TLS 1.2)', () => {
  const rec = record({ maxVersion: 'TLSv1.2' });

  it('ClientHello → a fresh server', () => {
    expectNoFindings(fuzz({ name: 'tls12 ClientHello', seed: 0x2001, input: () => rec.clientFlight, receiver: rec.server }));
  }, 120_000);

  it('the server flight → a client that sent the recorded ClientHello', () => {
    expectNoFindings(
      fuzz({
        name: 'tls12 server flight',
        seed: 0x2002,
        input: () => rec.serverFlight,
        receiver: clientAwaitingServerFlight(rec),
      }),
    );
  }, 120_000);

  it("the client's second flight → a server waiting for it", () => {
    expectNoFindings(
      fuzz({
        name: 'tls12 client second flight',
        seed: 0x2003,
        input: () => rec.clientFlight2,
        receiver: serverAwaitingSecondFlight(rec),
      }),
    );
  }, 120_000);
});
