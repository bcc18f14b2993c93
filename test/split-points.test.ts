/**
 * The cut points of the byte-boundary tests (test/helpers/boundaries.ts): every record edge ±2
 * always, a seeded sample of the rest, every boundary when asked.
 */
import { describe, expect, it } from 'vitest';
import { splitPoints } from './helpers/boundaries.js';

/** Records of the given body lengths, back to back (type 23, version 0x0303). */
function records(...lengths: number[]): Uint8Array {
  const parts = lengths.map((n) => Uint8Array.from([23, 3, 3, n >> 8, n & 0xff, ...new Uint8Array(n)]));
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

describe('splitPoints', () => {
  const flight = records(100, 300, 40); // records start at 0, 105, 410; the flight ends at 455

  it('always cuts at each record start and header end ±2, inside the flight', () => {
    const cuts = splitPoints(flight, 1, 0);
    const edges = [0, 5, 105, 110, 410, 415, 455];
    const expected = edges.flatMap((e) => [e - 2, e - 1, e, e + 1, e + 2]).filter((at) => at >= 1 && at < flight.length);
    expect(cuts).toEqual([...new Set(expected)].sort((a, b) => a - b));
  });

  it('adds exactly the requested number of other boundaries, the same ones for the same seed', () => {
    const edgesOnly = splitPoints(flight, 1, 0).length;
    const a = splitPoints(flight, 7, 20);
    expect(a).toHaveLength(edgesOnly + 20);
    expect(splitPoints(flight, 7, 20)).toEqual(a);
    expect(splitPoints(flight, 8, 20)).not.toEqual(a);
  });

  it('takes every boundary when the sample covers the rest', () => {
    const all = Array.from({ length: flight.length - 1 }, (_, i) => i + 1);
    expect(splitPoints(flight, 1, Infinity)).toEqual(all);
    expect(splitPoints(flight, 1, flight.length)).toEqual(all);
  });
});
