/**
 * Sessions shared by two server processes through a real Redis (Debian's redis-server,
 * fetched by test/peers/setup.sh and started here): each tsls server keeps TLS 1.2
 * sessions there with newSession / resumeSession, so a node:tls client's session from one
 * resumes on the other.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import setupPeers from '../peers/global-setup.js';
import { freePort, PEERS_BIN } from '../helpers/peers.js';
import { pkiPath } from '../helpers/pki.js';
import { visit } from './util.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/redis-session-server.mjs', import.meta.url));
const DIST = fileURLToPath(new URL('../../dist/node/entry.js', import.meta.url));
const REDIS = join(PEERS_BIN, 'redis-server');

const children: ChildProcess[] = [];
let dir: string;
// The suite installs its own peers (a quick no-op once done).
beforeAll(() => {
  setupPeers();
  dir = mkdtempSync(join(tmpdir(), 'tsls-redis-'));
}, 600_000);
afterAll(() => {
  for (const c of children) c.kill();
  rmSync(dir, { recursive: true, force: true });
});

/** Start a process and wait for a line matching `ready` on its stdout. */
function start(file: string, args: string[], ready: RegExp, cwd: string): Promise<RegExpExecArray> {
  const child = spawn(file, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file} not ready:\n${output}`)), 20_000);
    const look = (d: Buffer) => {
      output += d;
      const m = ready.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout!.on('data', look);
    child.stderr!.on('data', (d: Buffer) => (output += d));
    child.once('exit', (code) => reject(new Error(`${file} exited (${code}):\n${output}`)));
  });
}

it('two tsls server processes sharing sessions in Redis resume each other\'s TLS 1.2 session IDs', async () => {
  expect(existsSync(DIST), `${DIST} is missing: run \`npx tsc -p .\` (npm test does) first`).toBe(true);
  expect(existsSync(REDIS), `${REDIS} is missing: test/peers/setup.sh fetches it`).toBe(true);
  const redisPort = await freePort();
  await start(REDIS, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], /Ready to accept connections/, dir);
  const [a, b] = await Promise.all(
    ['server-a', 'server-b'].map((name) => start(process.execPath, [FIXTURE, name, String(redisPort)], /listening (\d+)/, pkiPath('')).then((m) => Number(m[1]))),
  );
  const first = await visit(a!);
  expect(first).toMatchObject({ answer: 'server-a resumed=false', reused: false });
  expect(first.session).toBeDefined();
  const onB = await visit(b!, first.session);
  expect(onB).toMatchObject({ answer: 'server-b resumed=true', reused: true });
  const backOnA = await visit(a!, first.session);
  expect(backOnA).toMatchObject({ answer: 'server-a resumed=true', reused: true });
}, 60_000);
