/**
 * What one 16 KiB record costs on node:crypto, piece by piece: the per-record cipher
 * context (createCipheriv + setAAD + final + getAuthTag on no data), the whole record as
 * the node provider seals it (a context per record, the output copied into the record),
 * and the cipher alone (update on one long-lived context: what a native TLS stack with one
 * context per connection pays). Run with any Node to compare versions:
 *
 *   npx tsc -p bench/tsconfig.json && node dist-bench/bench/record-cost.js
 *
 * Each figure is the fastest of 15 rounds of 400 records, the variants interleaved: on a
 * shared machine the minimum is the steadiest estimate of what the work itself costs.
 */
import { createCipheriv, randomBytes, type CipherGCM, type CipherGCMTypes } from 'node:crypto';

const RECORD = 16384;
const ROUNDS = 15;
const PER_ROUND = 400;

const nonce = randomBytes(12);
const aad = randomBytes(5);
const data = randomBytes(RECORD);
const out = Buffer.allocUnsafe(5 + RECORD + 16);

function variants(cipher: CipherGCMTypes, key: Buffer): Record<string, () => void> {
  const open = (): CipherGCM => createCipheriv(cipher, key, nonce, { authTagLength: 16 });
  const longLived = open();
  longLived.setAAD(aad);
  return {
    'context only (create, setAAD, final, tag)': () => {
      const c = open();
      c.setAAD(aad);
      c.final();
      c.getAuthTag();
    },
    'record as sealed (context + update + copy)': () => {
      const c = open();
      c.setAAD(aad);
      out.set(c.update(data), 5);
      c.final();
      out.set(c.getAuthTag(), 5 + RECORD);
    },
    'cipher alone (update, one context)': () => {
      longLived.update(data);
    },
  };
}

for (const [cipher, keyLength] of [
  ['aes-128-gcm', 16],
  ['chacha20-poly1305', 32],
] as const) {
  const vs = variants(cipher as CipherGCMTypes, randomBytes(keyLength));
  const best = new Map<string, number>();
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, f] of Object.entries(vs)) {
      const t0 = performance.now();
      for (let i = 0; i < PER_ROUND; i++) f();
      const us = ((performance.now() - t0) / PER_ROUND) * 1000;
      best.set(name, Math.min(best.get(name) ?? Infinity, us));
    }
  }
  for (const [name, us] of best) {
    console.log(`${process.version} (OpenSSL ${process.versions.openssl}) ${cipher} ${name}: ${us.toFixed(2)} us per 16 KiB record, ${(RECORD / us).toFixed(0)} MB/s`);
  }
}
