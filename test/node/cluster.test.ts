/**
 * Sessions shared across processes: a node:cluster of two tsls servers behind one port,
 * keeping TLS 1.2 sessions in the primary through the newSession / resumeSession events,
 * resumes a node:tls client's session whichever worker takes the connection.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { pkiPath } from '../helpers/pki.js';
import { visit } from './util.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/cluster-server.mjs', import.meta.url));
const DIST = fileURLToPath(new URL('../../dist/node/entry.js', import.meta.url));

it('a node:cluster of tsls servers sharing sessions via newSession/resumeSession resumes on every worker', async () => {
  expect(existsSync(DIST), `${DIST} is missing: run \`npx tsc -p .\` (npm test does) first`).toBe(true);
  const primary = spawn(process.execPath, [FIXTURE], { cwd: pkiPath(''), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  primary.stderr!.on('data', (d: Buffer) => (output += d));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`cluster did not listen:\n${output}`)), 20_000);
      primary.stdout!.on('data', (d: Buffer) => {
        output += d;
        const m = /listening (\d+)/.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      primary.once('exit', (code) => reject(new Error(`cluster exited (${code}):\n${output}`)));
    });
    const first = await visit(port);
    expect(first.reused).toBe(false);
    expect(first.session).toBeDefined();
    const workers = new Set([/worker (\d+)/.exec(first.answer)?.[1]]);
    for (let i = 0; i < 4; i++) {
      const again = await visit(port, first.session);
      expect(again.reused, `visit ${i + 2}: ${again.answer}`).toBe(true);
      expect(again.answer).toMatch(/^worker \d+ resumed=true$/);
      workers.add(/worker (\d+)/.exec(again.answer)?.[1]);
    }
    expect(workers.size, 'both workers served (and resumed) the session').toBe(2);
  } finally {
    primary.kill('SIGTERM');
  }
}, 30_000);
