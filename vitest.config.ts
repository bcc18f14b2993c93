import { defineConfig } from 'vitest/config';

/**
 * The suite in projects, so a part can be run alone (`npx vitest run --project unit`) and each
 * part gets the settings it needs. Every test file belongs to exactly one project: `engine` takes
 * whatever the others do not name, so a new file is never left out of `npm test`.
 */
const UNIT = [
  'test/ccm.test.ts',
  'test/crypto-conformance.test.ts',
  'test/crypto-noble.test.ts',
  'test/dtls-record.test.ts',
  'test/rfc8448-vectors.test.ts',
  'test/rfc8448.test.ts',
  'test/rsa.test.ts',
  'test/selfsigned.test.ts',
  'test/smoke.test.ts',
  'test/split-points.test.ts',
  'test/verify-cache.test.ts',
  'test/x509-validation.test.ts',
  'test/x509.test.ts',
];
/** Fuzz and bad-input tables: their depth is TSLS_FUZZ_ITERATIONS / TSLS_SPLIT_SAMPLES (see README). */
const SLOW = ['test/bad-input.test.ts', 'test/fuzz.test.ts', 'test/x509-fuzz.test.ts'];
const HOSTILE = ['test/hostile/**/*.test.ts'];
/** Real peer processes: they need test/peers/setup.sh to have run. */
const INTEROP = ['test/interop/**/*.test.ts', 'test/cli.test.ts'];

export default defineConfig({
  test: {
    // Interop tests start real openssl/gnutls/wolfSSL processes; give them room on a 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // The in-process tests are CPU-bound and independent: use both cores of a 2-core machine
    // (vitest's default would leave one idle).
    maxWorkers: 2,
    // Fetches and builds the peers (OpenSSL 4, wolfSSL, GnuTLS or OpenSSL 3 where the system has
    // none) once, a quick no-op after, and puts the fetched ones on PATH after the system's.
    globalSetup: ['test/peers/global-setup.ts'],
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT } },
      { extends: true, test: { name: 'engine', include: ['test/**/*.test.ts'], exclude: [...UNIT, ...SLOW, ...HOSTILE, ...INTEROP] } },
      { extends: true, test: { name: 'slow', include: SLOW } },
      { extends: true, test: { name: 'hostile', include: HOSTILE } },
      {
        extends: true,
        test: {
          name: 'interop',
          include: INTEROP,
          // After the CPU-bound projects, so peer processes are not starved into timeouts.
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
