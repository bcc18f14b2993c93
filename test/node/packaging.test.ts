/**
 * The package as users get it: CommonJS `require('tsls')` / `require('tsls/node')`, a tarball
 * that ships dist/ and builds on prepack (not on install), and a fresh source checkout where
 * the README's first command, `npm install && npx tsls server`, still works.
 */
import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> };

const temps: string[] = [];
afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

it("require('tsls') and require('tsls/node') work from CommonJS, without warnings", async () => {
  const { stdout, stderr } = await run(
    process.execPath,
    ['-e', "const t = require('tsls'); const n = require('tsls/node'); console.log(typeof t.Connection, typeof n.connect, typeof n.createServer)"],
    { cwd: ROOT },
  );
  expect(stdout).toBe('function function function\n');
  expect(stderr).toBe('');
});

it('the tarball ships dist/ and the bin, builds on prepack and runs nothing on install', async () => {
  expect(pkg.scripts.prepare, 'a prepare script runs (and warns) on every install').toBeUndefined();
  expect(pkg.scripts.prepack).toMatch(/\btsc\b/);
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT });
  const files = (JSON.parse(stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  for (const f of ['dist/index.js', 'dist/node/entry.js', 'dist/node/entry.d.ts', 'dist/cli.js', pkg.bin.tsls!.replace(/^\.\//, '')]) expect(files).toContain(f);
});

it('in a fresh checkout without dist/, `npx tsls server` builds once and listens', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsls-checkout-'));
  temps.push(dir);
  for (const f of ['package.json', 'tsconfig.json', 'src', 'bin']) cpSync(join(ROOT, f), join(dir, f), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  const server = spawn('npx', ['tsls', 'server', '--port', '0', '--host', '127.0.0.1'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line within 60 s:\n${stderr}`)), 60_000);
      server.stderr!.setEncoding('utf8').on('data', (s: string) => {
        stderr += s;
        if (/echo server listening on 127\.0\.0\.1:\d+/.test(stderr)) {
          clearTimeout(timer);
          resolve();
        }
      });
      server.once('exit', (code) => reject(new Error(`npx tsls server exited (${code}):\n${stderr}`)));
    });
  } finally {
    server.kill();
  }
  expect(stderr).toMatch(/building dist\//);
  expect(stderr).toMatch(/^tsls: try: npx tsls client 127\.0\.0\.1:\d+ --ca \S+localhost\.crt$/m);
}, 90_000);
