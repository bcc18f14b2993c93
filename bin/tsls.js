#!/usr/bin/env node
// The `tsls` command. A published package ships dist/; a fresh git checkout has only src/
// after `npm install` (the build runs on prepack, not on install), so the first run there
// builds dist/ with the checkout's own TypeScript, once, and says so on stderr.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  let tsc;
  try {
    tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
  } catch {
    process.stderr.write('tsls: dist/ is missing and TypeScript is not installed: run `npm install` (then `npm run build`) in the tsls checkout\n');
    process.exit(1);
  }
  process.stderr.write('tsls: first run in a source checkout: building dist/ (npm run build)\n');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
}
await import(cli.href);
