/**
 * How deep the randomized and exhaustive tests go. The defaults keep `npm test` quick and still
 * catch what these tests have caught so far; a longer local run raises them:
 *
 *   TSLS_FUZZ_ITERATIONS=5000 npx vitest run --project slow    mutation fuzzing (fuzz, x509-fuzz)
 *   TSLS_SPLIT_SAMPLES=all npx vitest run --project slow       split flights at every byte boundary
 */

/** A non-negative integer from `name`, "all" meaning Infinity where `allowAll`, or `fallback` when unset. */
function count(name: string, fallback: number, allowAll = false): number {
  const env = process.env[name];
  if (env === undefined || env === '') return fallback;
  if (allowAll && env === 'all') return Infinity;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a count${allowAll ? ' or "all"' : ''}, not ${JSON.stringify(env)}`);
  return n;
}

/** Mutations per fuzz table (TSLS_FUZZ_ITERATIONS, default 300). */
export function fuzzIterations(): number {
  return count('TSLS_FUZZ_ITERATIONS', 300);
}

/** Byte boundaries sampled beyond the record edges when a flight is split (TSLS_SPLIT_SAMPLES, default 64, "all"). */
export function splitSamples(): number {
  return count('TSLS_SPLIT_SAMPLES', 64, true);
}
