/**
 * vitest global setup: makes the interop peers available before any test file runs, so
 * `npm test` needs no other step. test/peers/setup.sh is a quick no-op once its stamp is there.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  execFileSync('bash', [fileURLToPath(new URL('./setup.sh', import.meta.url))], { stdio: 'inherit' });
}
