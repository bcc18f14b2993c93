/**
 * vitest global setup: makes the peers available before any test file runs, so `npm test` needs
 * no other step. test/peers/setup.sh is a quick no-op once its stamps are there. When it fails
 * (no apt, no network) the reason is printed and the run goes on: each test that needs a missing
 * peer then fails on its own with the peer's name, and the rest still run.
 *
 * The fetched programs go on PATH after the system's (the test workers inherit it), so a test
 * that runs `openssl` finds the fetched OpenSSL 3 where the system has none.
 */
import { spawnSync } from 'node:child_process';
import { delimiter } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PEERS_BIN } from '../helpers/peers.js';

export default function setup(): void {
  if (!(process.env.PATH ?? '').split(delimiter).includes(PEERS_BIN)) process.env.PATH = `${process.env.PATH ?? ''}${delimiter}${PEERS_BIN}`;
  const script = fileURLToPath(new URL('./setup.sh', import.meta.url));
  const result = spawnSync('bash', [script], { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(
      `\n*** test/peers/setup.sh failed (${result.error?.message ?? `exit status ${result.status}`}): ` +
        `the tests that need a fetched peer (OpenSSL 4, wolfSSL; GnuTLS and OpenSSL 3 where not installed) will fail.\n`,
    );
  }
}
