/**
 * Every compare of a MAC, tag, Finished, binder, cookie or ticket is constant-time, and
 * stays so: this scans the sources for byte compares whose operands name one of those and
 * fails on any that is not `constantTimeEqual`, and checks that the places that verify
 * them still call it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { constantTimeEqual } from '../../src/util/bytes.js';

const root = new URL('../../src/', import.meta.url).pathname;

function sources(dir = root): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Names of values that must never be compared with an early exit. */
const SECRET_OPERAND = /(mac|tag|binder|cookie|verify_?data|finished|ticket|expected|secret|psk|key\.name)/i;

/** Byte compares that stop at the first difference: equal(a, b), a.equals(b), Buffer.compare(a, b). */
const VARIABLE_TIME = /(?<![\w.])equal\(([^()]*(?:\([^()]*\))?[^()]*)\)|\.equals\(([^()]*)\)|Buffer\.compare\(([^()]*)\)/g;

describe('constant-time compares', () => {
  it('no MAC, tag, Finished, binder, cookie or ticket is compared with a variable-time compare anywhere in src/', () => {
    const offenders: string[] = [];
    for (const file of sources()) {
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        for (const m of line.matchAll(VARIABLE_TIME)) {
          const operands = m[1] ?? m[2] ?? m[3] ?? '';
          // A.equals(B): the receiver is an operand too.
          const receiver = m[0].startsWith('.') ? line.slice(0, m.index).match(/[\w.[\]()!]+$/)?.[0] ?? '' : '';
          if (SECRET_OPERAND.test(operands) || SECRET_OPERAND.test(receiver)) offenders.push(`${relative(root, file)}:${i + 1}: ${line.trim()}`);
        }
      });
    }
    expect(offenders).toEqual([]);
  });

  it('the scan would catch one (it is not vacuous)', () => {
    const line = "if (s.cookie && (!cookie || !equal(cookie, s.cookie))) throw illegalParameter('x');";
    const m = [...line.matchAll(VARIABLE_TIME)][0]!;
    expect(SECRET_OPERAND.test(m[1]!)).toBe(true);
  });

  it('each verification site still goes through constantTimeEqual', () => {
    const sites: [string, RegExp][] = [
      ['statem/both.ts', /constantTimeEqual\(msg\.verify_data, expected\)/], // TLS 1.3 Finished
      ['statem/both12.ts', /constantTimeEqual\(msg\.verify_data, expected\)/], // TLS 1.2 Finished
      ['statem/psk.ts', /constantTimeEqual\(binder, expected\)/], // PSK binders
      ['statem/server-tls13.ts', /constantTimeEqual\(cookie, first\.cookie\)/], // HelloRetryRequest cookie
      ['dtls-cookie.ts', /constantTimeEqual\(offered, this\.cookieFor/], // DTLS HelloVerifyRequest cookie
      ['statem/session.ts', /constantTimeEqual\(k\.key\.name, name\)/], // ticket key name (the AEAD checks the rest)
      ['crypto/ccm.ts', /constantTimeEqual\(expected, tag\)/], // CCM tag (GCM and ChaCha20 tags are checked by noble / OpenSSL)
      ['crypto/rsa.ts', /constantTimeEqual\(bigIntToBytes\(r\.m, r\.k\), expected\)/], // PKCS#1 v1.5 block
    ];
    for (const [file, pattern] of sites) expect(readFileSync(join(root, file), 'utf8'), file).toMatch(pattern);
  });

  it('constantTimeEqual reads every byte: no early exit but on length', () => {
    const source = readFileSync(join(root, 'util/bytes.ts'), 'utf8');
    const body = source.slice(source.indexOf('export function constantTimeEqual'), source.indexOf('\n}\n', source.indexOf('export function constantTimeEqual')));
    expect(body.match(/return/g)).toHaveLength(2);
    expect(body).toMatch(/diff \|= a\[i\]! \^ b\[i\]!/);
    expect(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3]))).toBe(true);
    expect(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4]))).toBe(false);
    expect(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3]))).toBe(false);
  });
});
