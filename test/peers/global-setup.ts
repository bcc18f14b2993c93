/**
 * vitest global setup of the interop project: makes the peers available before its test files
 * run, so `npm test` needs no other step. test/peers/setup.sh is a quick no-op once its stamp is
 * there. When it fails (no apt, no network) the reason is printed and the run goes on: each test
 * that needs a missing peer then fails on its own with the peer's name, and the rest still run.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const script = fileURLToPath(new URL('./setup.sh', import.meta.url));
  const result = spawnSync('bash', [script], { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(
      `\n*** test/peers/setup.sh failed (${result.error?.message ?? `exit status ${result.status}`}): ` +
        `the interop tests that need a fetched peer (OpenSSL 4, wolfSSL, GnuTLS where not installed) will fail.\n`,
    );
  }
}
