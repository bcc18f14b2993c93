/**
 * The handshake data each state row `needs` is there on every path that reaches the
 * state: made by a row on the way (`creates`, or `mayCreate` for what only some runs
 * make), or had by the context from the start, and not dropped when the handshake ended
 * (release, at the first idle state). The rows are plain data: this walks them as a
 * data-flow problem (what every path into a state has made, to a fixed point), for every
 * table of every side and transport, and a row that needs what some path never made is
 * named. What a row only `mayCreate` counts as made on the paths after it: which runs
 * make it is the work's business, and the core checks each state's needs when it is
 * entered (statem.ts).
 */
import { describe, expect, it } from 'vitest';
import { CLIENT_DTLS_STATES, CLIENT_STATES, SERVER_DTLS_STATES, SERVER_STATES, START_STATE, type StateSpec, type StateTable } from '../src/statem/states.js';

/** What a context has from its construction on. */
const INITIAL = ['transcript'];

/** What release() drops once the handshake is over (src/statem/context.ts): a server its resumption secret too (its tickets are sent). */
const RELEASED = ['transcript', 'handshakeKeys', 'hello', 'certified', 'clientRandom'];
const RELEASED_BY_SERVER = [...RELEASED, 'resumptionSecret'];

const names = (row: StateSpec, field: 'needs' | 'creates' | 'mayCreate'): readonly string[] => row[field] ?? [];

/** For each state, the data every path from `start` has when it enters the state. */
function available(table: StateTable, start: string, released: readonly string[]): Map<string, Set<string>> {
  const universe = new Set(INITIAL);
  for (const row of Object.values(table)) for (const field of ['needs', 'creates', 'mayCreate'] as const) for (const n of names(row, field)) universe.add(n);
  const into = new Map<string, string[]>();
  for (const [from, row] of Object.entries(table)) {
    for (const to of [...Object.values(row.read ?? {}), ...(row.write ?? [])]) into.set(to, [...(into.get(to) ?? []), from]);
  }
  const has = new Map<string, Set<string>>(Object.keys(table).map((s) => [s, new Set(s === start ? INITIAL : universe)]));
  const leaving = (state: string): Set<string> => {
    const row = table[state]!;
    const out = new Set([...has.get(state)!, ...names(row, 'creates'), ...names(row, 'mayCreate')]);
    if (row.idle) for (const n of released) out.delete(n);
    return out;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (const state of Object.keys(table)) {
      if (state === start) continue;
      const from = into.get(state) ?? [];
      const now = from.map(leaving).reduce((a, b) => new Set([...a].filter((n) => b.has(n))), universe);
      if (now.size !== has.get(state)!.size) {
        has.set(state, now);
        changed = true;
      }
    }
  }
  return has;
}

/** Each state that needs data some path into it did not make, with what is missing. */
function unmetNeeds(table: StateTable, start: string): string[] {
  const has = available(table, start, start === START_STATE.server ? RELEASED_BY_SERVER : RELEASED);
  return Object.entries(table).flatMap(([state, row]) => {
    const missing = names(row, 'needs').filter((n) => !has.get(state)!.has(n));
    return missing.length ? [`${state} needs ${missing.join(', ')}`] : [];
  });
}

const TABLES: [string, StateTable, string][] = [
  ['client, TLS', CLIENT_STATES, START_STATE.client],
  ['server, TLS', SERVER_STATES, START_STATE.server],
  ['client, DTLS 1.2 and 1.3', CLIENT_DTLS_STATES, START_STATE.client],
  ['server, DTLS 1.2 and 1.3', SERVER_DTLS_STATES, START_STATE.server],
];

describe('every state finds the handshake data it needs on every path into it', () => {
  it.each(TABLES)('%s', (_name, table, start) => {
    expect(unmetNeeds(table, start)).toEqual([]);
  });

  it('a row that stops creating what later rows need is found (the walk can fail)', () => {
    const broken: StateTable = { ...CLIENT_STATES, 'C.ServerHello': { ...CLIENT_STATES['C.ServerHello']!, creates: ['suite'] } };
    const unmet = unmetNeeds(broken, START_STATE.client);
    expect(unmet).toContain('C.Finished needs handshakeKeys');
    expect(unmet.every((line) => line.includes('handshakeKeys'))).toBe(true);
  });

  it('the DTLS client walk reaches the TLS 1.3 states from both of its ClientHellos (DTLS 1.3), and a need unmet on that path is found', () => {
    for (const hello of ['C.ClientHello', 'C.ClientHelloCookie']) {
      expect(CLIENT_DTLS_STATES[hello]!.read).toMatchObject({ server_hello: 'C.ServerHello', hello_retry_request: 'C.HelloRetryRequest' });
    }
    const broken: StateTable = { ...CLIENT_DTLS_STATES, 'C.ClientHello': { ...CLIENT_DTLS_STATES['C.ClientHello']!, creates: ['clientRandom'] } };
    const unmet = unmetNeeds(broken, START_STATE.client);
    expect(unmet).toContain('C.ClientHelloCookie needs hello');
    expect(unmet.some((line) => line.startsWith('C.ServerHello needs') && line.includes('hello'))).toBe(true);
  });

  it('data the handshake released is not there for the states after it', () => {
    const broken: StateTable = { ...CLIENT_STATES, KeyUpdate: { ...CLIENT_STATES['KeyUpdate']!, needs: ['trafficKeys', 'transcript'] } };
    expect(unmetNeeds(broken, START_STATE.client)).toEqual(['KeyUpdate needs transcript']);
  });

  it('data only some runs make counts as made after the row that may make it; with no row making it, who needs it is named', () => {
    // A resumed TLS 1.2 handshake makes its keys at the ServerHello; a full one at ClientKeyExchange.
    expect(CLIENT_STATES['C12.ServerHello']!.mayCreate).toContain('tls12Keys');
    expect(CLIENT_STATES['C12.ClientKeyExchange']!.creates).toContain('tls12Keys');
    const broken: StateTable = {
      ...CLIENT_STATES,
      'C12.ServerHello': { ...CLIENT_STATES['C12.ServerHello']!, mayCreate: [] },
      'C12.ClientKeyExchange': { ...CLIENT_STATES['C12.ClientKeyExchange']!, creates: [] },
    };
    const unmet = unmetNeeds(broken, START_STATE.client);
    expect(unmet).toContain('C12.ChangeCipherSpec needs tls12Keys');
    expect(unmet).toContain('C12.ResumeServerChangeCipherSpec needs tls12Keys');
  });
});
