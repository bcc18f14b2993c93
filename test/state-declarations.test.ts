/**
 * The compiler holds the state declarations to the table (src/statem/declare.ts): a
 * state that some row reads into but that has no `process`, a `process` that expects
 * another message than the ones leading into its state, work for a state nothing leads
 * to, a row leading to a state nobody declares, a state declared twice, a written state
 * without `construct`, a choice without `writeTransition`, an edge into a part that
 * the part did not declare, work that reads handshake data its row does not say it
 * `needs` (or a construct that reads what its row only `creates`), and a row that needs
 * something the context does not have are each a type error.
 *
 * Each case is a small state file written to a temporary project that imports the real
 * declare.ts; one `tsc --noEmit` run type-checks them all, and each file must get the
 * error it was written for (and the well-formed one none, so the harness itself can fail).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const TSC = join(ROOT, 'node_modules', '.bin', 'tsc');
const DECLARE = join(ROOT, 'src', 'statem', 'declare.js');

const PRELUDE = `import { defineStates, joinStates } from ${JSON.stringify(DECLARE)};
interface Ctx { seen: string[]; hello?: { random: number } }
const join = joinStates<Ctx>();
`;

/** A small well-formed table: a client-like side reading ServerHello, then writing Finished. */
const GOOD = `${PRELUDE}
const part = defineStates<Ctx>()({
  Start: { row: { group: 'START', write: ['Hello'] }, },
  Hello: {
    row: { group: 'HANDSHAKE', read: { server_hello: 'ServerHello', hello_retry_request: 'ServerHello' }, creates: ['hello'] },
    construct: (hs) => {
      hs.hello = { random: 7 };
      return { type: 'hello_request' };
    },
    // What the row creates, its post-work sees as present.
    postWork: (hs) => { hs.seen.push(String(hs.hello.random)); },
  },
  // The message is the union of what leads here: ServerHello or HelloRetryRequest.
  ServerHello: {
    row: { group: 'HANDSHAKE', write: ['Finished', 'Done'], needs: ['hello'] },
    process: (hs, msg) => { hs.seen.push(msg.type === 'server_hello' ? msg.cipher_suite.toString() : 'hrr'); },
    // The row needs the hello state: the work sees it as present.
    postProcess: (hs) => { hs.seen.push(String(hs.hello.random)); },
    writeTransition: (hs) => (hs.seen.length > 1 ? 'Finished' : 'Done'),
  },
  Finished: { row: { group: 'HANDSHAKE', write: ['Done'] }, construct: () => ({ type: 'finished', verify_data: new Uint8Array(12) }) },
  Done: { row: { group: 'POST', idle: true } },
});
export const table = join([part]);
`;

interface Case {
  name: string;
  source: string;
  /** A fragment of the diagnostic the case must produce. */
  expect: RegExp;
}

const CASES: Case[] = [
  {
    name: 'a state some row reads into has no process',
    source: GOOD.replace("process: (hs, msg) => { hs.seen.push(msg.type === 'server_hello' ? msg.cipher_suite.toString() : 'hrr'); },", ''),
    expect: /Property 'process' is missing/,
  },
  {
    name: 'a process expects less than the messages leading into its state',
    source: GOOD.replace("process: (hs, msg) => { hs.seen.push(msg.type === 'server_hello' ? msg.cipher_suite.toString() : 'hrr'); },", "process: (hs: Ctx, msg: { type: 'server_hello'; cipher_suite: number }) => { hs.seen.push(String(msg.cipher_suite)); },"),
    expect: /Type '"hello_retry_request"' is not assignable to type '"server_hello"'/,
  },
  {
    name: 'a state nothing reads into has a process',
    source: GOOD.replace("Finished: { row: { group: 'HANDSHAKE', write: ['Done'] },", "Finished: { row: { group: 'HANDSHAKE', write: ['Done'] }, process: () => {},"),
    expect: /'\(\) => void' is not assignable to type 'undefined'/,
  },
  {
    name: 'a row leads to a state nobody declares',
    source: GOOD.replace("read: { server_hello: 'ServerHello', hello_retry_request: 'ServerHello' }", "read: { server_hello: 'ServerHello', hello_retry_request: 'HelloRetryRequest' }"),
    expect: /no state HelloRetryRequest/,
  },
  {
    name: 'two parts declare the same state',
    source: GOOD.replace('export const table = join([part]);', "const again = defineStates<Ctx, { Done: 'written' }>()({ Done: { row: { group: 'POST', idle: true } } });\nexport const table = join([part, again]);"),
    expect: /Done is declared twice/,
  },
  {
    name: 'a state some row writes to has no construct',
    source: GOOD.replace("construct: () => ({ type: 'finished', verify_data: new Uint8Array(12) }) },", '},'),
    expect: /Property 'construct' is missing/,
  },
  {
    name: 'a state with two write successors has no writeTransition',
    source: GOOD.replace("writeTransition: (hs) => (hs.seen.length > 1 ? 'Finished' : 'Done'),", ''),
    expect: /Property 'writeTransition' is missing/,
  },
  {
    name: 'a writeTransition names a state its row does not write to',
    source: GOOD.replace("writeTransition: (hs) => (hs.seen.length > 1 ? 'Finished' : 'Done'),", "writeTransition: () => 'Hello',"),
    expect: /not assignable to type '"Done" \| "Finished"'/,
  },
  {
    name: 'a message leads into another part, which does not declare it as an entry',
    source: `${PRELUDE}
const first = defineStates<Ctx, { Hello: 'written' }>()({
  Start: { row: { group: 'START', write: ['Hello'] } },
  Hello: { row: { group: 'HANDSHAKE', read: { server_hello: 'ServerHello', hello_retry_request: 'ServerHello' } }, construct: () => ({ type: 'hello_request' }) },
});
const later = defineStates<Ctx, { ServerHello: 'server_hello' }>()({
  ServerHello: { row: { group: 'HANDSHAKE', write: ['Done'] }, process: () => {} },
  Done: { row: { group: 'POST', idle: true } },
});
export const table = join([first, later]);
`,
    expect: /ServerHello is read into with hello_retry_request, which it does not declare/,
  },
  {
    name: 'a handler reads handshake data its row does not say it needs',
    source: GOOD.replace("write: ['Finished', 'Done'], needs: ['hello'] }", "write: ['Finished', 'Done'] }"),
    expect: /'hs\.hello' is possibly 'undefined'/,
  },
  {
    name: 'a construct reads handshake data its row only creates',
    source: GOOD.replace("hs.hello = { random: 7 };", "hs.seen.push(String(hs.hello.random));"),
    expect: /'hs\.hello' is possibly 'undefined'/,
  },
  {
    name: 'a row needs something that is not handshake data',
    source: GOOD.replace("needs: ['hello']", "needs: ['hello', 'helo']"),
    expect: /helo is not handshake data/,
  },
];

let dir = '';
let output = '';

/** The diagnostics tsc gave for one file of the project, each with its indented elaboration. */
function diagnosticsFor(file: string): string[] {
  const found: string[] = [];
  let mine = false;
  for (const line of output.split('\n')) {
    if (/^\S/.test(line)) {
      mine = line.startsWith(`${file}(`);
      if (mine) found.push(line);
    } else if (mine && found.length > 0) {
      found[found.length - 1] += `\n${line}`;
    }
  }
  return found;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsls-states-'));
  const files = ['good.ts', ...CASES.map((_, i) => `case${i}.ts`)];
  writeFileSync(join(dir, 'good.ts'), GOOD);
  CASES.forEach((c, i) => writeFileSync(join(dir, `case${i}.ts`), c.source));
  const tsconfig = {
    compilerOptions: { strict: true, noEmit: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022'], types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')], skipLibCheck: true },
    files,
  };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
  const run = spawnSync(TSC, ['-p', dir, '--pretty', 'false'], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
  if (run.error) throw run.error;
  output = `${run.stdout}${run.stderr}`;
}, 150_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('state declarations are checked by the compiler', () => {
  it('accepts a well-formed table, and tsc saw no other problem', () => {
    expect(diagnosticsFor('good.ts')).toEqual([]);
    // Only the case files may have errors (not declare.ts, not what it imports).
    expect(output.split('\n').filter((line) => /^\S/.test(line) && !/^case\d+\.ts\(/.test(line))).toEqual([]);
  });

  it.each(CASES.map((c, i) => ({ ...c, file: `case${i}.ts` })))('rejects a table where $name', ({ file, expect: pattern }) => {
    const found = diagnosticsFor(file);
    expect(found.length, output).toBeGreaterThan(0);
    expect(found.join('\n')).toMatch(pattern);
  });
});
