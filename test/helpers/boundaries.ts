/**
 * Where a "split the stream at every byte boundary" test cuts. Cutting at all of them costs one
 * handshake per byte (a thousand or more per flight); the cuts that matter are at and around the
 * record edges (in the header, at its end, in the first body bytes), so those are always taken,
 * plus a seeded sample of the rest. TSLS_SPLIT_SAMPLES sets the sample size ("all" takes every
 * boundary); a failing cut is reported by offset, and the seed makes the run replay.
 */
import { splitSamples } from './depth.js';
import { xorshift32 } from './random.js';
import { splitRecords } from './records.js';

const HEADER = 5;
/** How far either side of a record edge (its start, and its header's end) every cut is taken. */
const AROUND = 2;

/**
 * The offsets in [1, flight.length) to cut a flight of whole TLS records at, ascending: each
 * record's start and header end ±2, and `samples` more chosen with `seed` (all of them when
 * `samples` covers the rest).
 */
export function splitPoints(flight: Uint8Array, seed: number, samples = splitSamples()): number[] {
  const points = new Set<number>();
  const take = (at: number) => {
    if (at >= 1 && at < flight.length) points.add(at);
  };
  let start = 0;
  for (const record of [...splitRecords(flight), new Uint8Array(0)]) {
    for (const edge of [start, start + HEADER]) for (let d = -AROUND; d <= AROUND; d++) take(edge + d);
    start += record.length;
  }
  const rest: number[] = [];
  for (let at = 1; at < flight.length; at++) if (!points.has(at)) rest.push(at);
  if (samples >= rest.length) {
    for (const at of rest) points.add(at);
  } else {
    // A partial Fisher–Yates: the first `samples` of a seeded shuffle of the rest.
    const next = xorshift32(seed);
    for (let i = 0; i < samples; i++) {
      const j = i + (next() % (rest.length - i));
      [rest[i], rest[j]] = [rest[j]!, rest[i]!];
      points.add(rest[i]!);
    }
  }
  return [...points].sort((a, b) => a - b);
}
