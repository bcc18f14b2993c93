/** The `tsls` command as a test peer: `node dist/cli.js ARGS`, run in vectors/pki like the other peers. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { freePort, Peer } from './peers.js';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** `tsls server` arguments for the test PKI's localhost certificate (chain) and key. */
export const SERVER_PKI = ['--cert', 'leaf-ecdsa-p256.chain.pem', '--key', 'leaf-ecdsa-p256.key'];

/** The CLI tests run dist/: a missing build fails them with the way to make it. */
export function expectCliBuilt(): void {
  expect(existsSync(CLI), `${CLI} is missing: run \`npx tsc -p .\` (npm test does) first`).toBe(true);
}

/** `node dist/cli.js ARGS` in vectors/pki (so PKI file names are relative). */
export function tsls(...args: string[]): Peer {
  return new Peer('node', [CLI, ...args]);
}

/** `tsls server --port P ARGS` on a free port; resolves once it says it listens. */
export function startTslsServer(...args: string[]): Promise<{ server: Peer; port: number }> {
  return startTslsServerAs(tsls, ...args);
}

/** The same, with the command run by `run` (under another Node, say). */
export async function startTslsServerAs(run: (...args: string[]) => Peer, ...args: string[]): Promise<{ server: Peer; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const server = run('server', '--port', String(port), ...args);
    try {
      await server.waitOutput(/server listening on \S+:\d+/);
      return { server, port };
    } catch (err) {
      await server.kill();
      if (attempt < 2 && /EADDRINUSE/.test(server.output)) continue;
      throw err;
    }
  }
}
