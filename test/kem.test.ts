/**
 * ML-KEM (FIPS 203) and the hybrid groups (draft-ietf-tls-ecdhe-mlkem) through the provider's
 * KEM-shaped key exchange: NIST's ACVP known answers on both providers, the FIPS 203 input
 * checks, both providers against each other, and the byte layout of each hybrid.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { componentSizes, groupComponents, seedLength } from '../src/crypto/groups.js';
import { nobleProvider } from '../src/crypto/noble.js';
import { nodeHasMlKem, nodeProvider } from '../src/crypto/node.js';
import type { CryptoProvider, GroupName } from '../src/crypto/provider.js';
import { concat, fromHex, toHex } from '../src/util/bytes.js';
import { seededBytes } from './helpers/random.js';

interface AcvpSet {
  keyGen: { d: string; z: string; ek: string; dk: string }[];
  encapsulation: { ek: string; m: string; c: string; k: string }[];
  decapsulation: { dk: string; c: string; k: string }[];
  encapsulationKeyCheck: { ek: string; valid: boolean }[];
}
const ACVP = JSON.parse(readFileSync(new URL('../vectors/mlkem-acvp.json', import.meta.url), 'utf8')) as { sets: Record<string, AcvpSet> };
const SETS: [string, GroupName][] = [
  ['ML-KEM-768', 'MLKEM768'],
  ['ML-KEM-1024', 'MLKEM1024'],
];
const PROVIDERS: CryptoProvider[] = [nobleProvider, nodeProvider];
const KEM_GROUPS: GroupName[] = ['MLKEM768', 'MLKEM1024', 'X25519MLKEM768', 'SecP256r1MLKEM768', 'SecP384r1MLKEM1024'];

/** An encapsulation key whose first coefficient is 4095 (not below q = 3329): FIPS 203 7.2's modulus check must refuse it. */
function outOfRange(ek: Uint8Array): Uint8Array {
  const bad = ek.slice();
  bad[0] = 0xff;
  bad[1] = bad[1]! | 0x0f;
  return bad;
}

for (const p of PROVIDERS) {
  describe(`ML-KEM on the ${p.name} provider (ACVP FIPS 203 vectors)`, () => {
    for (const [set, group] of SETS) {
      const v = ACVP.sets[set]!;
      it(`${set}: key generation from d || z gives NIST's ek, and the seed decapsulates as NIST's dk does`, () => {
        for (const t of v.keyGen) {
          const seed = concat(fromHex(t.d), fromHex(t.z));
          const pair = p.generateKeyPair(group, seed);
          expect(toHex(pair.publicKey)).toBe(t.ek.toLowerCase());
          // Our private key is the seed (FIPS 203 3.3); NIST's expanded dk must act the same.
          expect(toHex(pair.privateKey)).toBe(toHex(seed));
          const { share, secret } = p.encapsulate(group, pair.publicKey, new Uint8Array(32).fill(7));
          expect(toHex(p.decapsulate(group, fromHex(t.dk), share))).toBe(toHex(secret));
          expect(toHex(p.decapsulate(group, pair.privateKey, share))).toBe(toHex(secret));
          expect(toHex(p.decapsulate(group, seed.slice(), share))).toBe(toHex(secret));
        }
      });
      it(`${set}: encapsulation with NIST's m gives NIST's ciphertext and key`, () => {
        for (const t of v.encapsulation) {
          const { share, secret } = p.encapsulate(group, fromHex(t.ek), fromHex(t.m));
          expect(toHex(share)).toBe(t.c.toLowerCase());
          expect(toHex(secret)).toBe(t.k.toLowerCase());
        }
      });
      it(`${set}: decapsulation of NIST's dk and ciphertexts gives NIST's key, implicit rejection included`, () => {
        for (const t of v.decapsulation) expect(toHex(p.decapsulate(group, fromHex(t.dk), fromHex(t.c)))).toBe(t.k.toLowerCase());
      });
      it(`${set}: encapsulation refuses the encapsulation keys NIST's key check fails`, () => {
        expect(v.encapsulationKeyCheck.some((t) => t.valid) && v.encapsulationKeyCheck.some((t) => !t.valid)).toBe(true);
        for (const t of v.encapsulationKeyCheck) {
          const attempt = () => p.encapsulate(group, fromHex(t.ek), new Uint8Array(32));
          if (t.valid) expect(attempt().secret.length).toBe(32);
          else expect(attempt).toThrow();
        }
      });
      it(`${set}: encapsulation refuses a key with a coefficient not below q, and a ciphertext of the wrong length`, () => {
        const ek = fromHex(v.keyGen[0]!.ek);
        expect(() => p.encapsulate(group, outOfRange(ek), new Uint8Array(32))).toThrow();
        const dk = concat(fromHex(v.keyGen[0]!.d), fromHex(v.keyGen[0]!.z));
        const { share } = p.encapsulate(group, ek, new Uint8Array(32));
        expect(() => p.decapsulate(group, dk, share.subarray(1))).toThrow();
        expect(() => p.decapsulate(group, dk, concat(share, new Uint8Array(1)))).toThrow();
      });
    }
  });
}

describe(`KEM groups: the two providers against each other (node provider's ML-KEM: ${nodeHasMlKem ? 'node:crypto' : 'noble, this Node has none'})`, () => {
  for (const group of KEM_GROUPS) {
    it(`${group}: either provider decapsulates what the other encapsulated, and equal seeds give equal bytes`, () => {
      for (const [a, b] of [
        [nobleProvider, nodeProvider],
        [nodeProvider, nobleProvider],
      ] as const) {
        const pair = a.generateKeyPair(group);
        const before = toHex(pair.privateKey);
        const enc = b.encapsulate(group, pair.publicKey);
        expect(toHex(a.decapsulate(group, pair.privateKey, enc.share))).toBe(toHex(enc.secret));
        // What a provider cached for the key is used once and wiped; the key itself is the caller's.
        expect(toHex(pair.privateKey)).toBe(before);
        expect(toHex(a.decapsulate(group, pair.privateKey, enc.share))).toBe(toHex(enc.secret));
        expect(toHex(b.decapsulate(group, pair.privateKey, enc.share))).toBe(toHex(enc.secret));
      }
      const keySeed = seededBytes(1)(seedLength(group, 'keyPair'));
      const encSeed = seededBytes(2)(seedLength(group, 'encapsulate'));
      const [na, nb] = [nobleProvider.generateKeyPair(group, keySeed), nodeProvider.generateKeyPair(group, keySeed)];
      expect(toHex(nb.publicKey)).toBe(toHex(na.publicKey));
      expect(toHex(nb.privateKey)).toBe(toHex(na.privateKey));
      const [ea, eb] = [nobleProvider.encapsulate(group, na.publicKey, encSeed), nodeProvider.encapsulate(group, na.publicKey, encSeed)];
      expect(toHex(eb.share)).toBe(toHex(ea.share));
      expect(toHex(eb.secret)).toBe(toHex(ea.secret));
    });
  }
});

/** The draft's order of the components and its sizes: client share, server share, shared secret. */
const HYBRIDS: [GroupName, [GroupName, GroupName], [number, number, number]][] = [
  ['X25519MLKEM768', ['MLKEM768', 'x25519'], [1184 + 32, 1088 + 32, 64]],
  ['SecP256r1MLKEM768', ['secp256r1', 'MLKEM768'], [65 + 1184, 65 + 1088, 64]],
  ['SecP384r1MLKEM1024', ['secp384r1', 'MLKEM1024'], [97 + 1568, 97 + 1568, 80]],
];

describe('hybrid groups (draft-ietf-tls-ecdhe-mlkem)', () => {
  const p = nobleProvider;
  for (const [group, [first, second], [clientShare, serverShare, secretSize]] of HYBRIDS) {
    it(`${group}: shares and secret are ${first} then ${second}, each as that group alone makes it`, () => {
      const seed = seededBytes(3)(seedLength(group, 'keyPair'));
      const pair = p.generateKeyPair(group, seed);
      const firstSeed = seed.subarray(0, seedLength(first, 'keyPair'));
      const secondSeed = seed.subarray(firstSeed.length);
      const a = p.generateKeyPair(first, firstSeed);
      const b = p.generateKeyPair(second, secondSeed);
      expect(pair.publicKey.length).toBe(clientShare);
      expect(toHex(pair.publicKey)).toBe(toHex(concat(a.publicKey, b.publicKey)));

      const encSeed = seededBytes(4)(seedLength(group, 'encapsulate'));
      const enc = p.encapsulate(group, pair.publicKey, encSeed);
      const encA = p.encapsulate(first, a.publicKey, encSeed.subarray(0, seedLength(first, 'encapsulate')));
      const encB = p.encapsulate(second, b.publicKey, encSeed.subarray(seedLength(first, 'encapsulate')));
      expect(enc.share.length).toBe(serverShare);
      expect(enc.secret.length).toBe(secretSize);
      expect(toHex(enc.share)).toBe(toHex(concat(encA.share, encB.share)));
      expect(toHex(enc.secret)).toBe(toHex(concat(encA.secret, encB.secret)));
      expect(toHex(p.decapsulate(group, pair.privateKey, enc.share))).toBe(toHex(enc.secret));
    });

    it(`${group}: malformed shares are refused on both sides`, () => {
      const pair = p.generateKeyPair(group);
      const share = pair.publicKey;
      const parts = groupComponents[group];
      const ml = parts.findIndex((c) => c.kind === 'mlkem');
      const ec = 1 - ml;
      /** Where component i's piece of the client share starts and ends. */
      const span = (i: number) => {
        const start = i === 0 ? 0 : componentSizes(parts[0]!).publicShare;
        return [start, start + componentSizes(parts[i]!).publicShare] as const;
      };
      const replaced = (i: number, piece: Uint8Array) => {
        const out = share.slice();
        out.set(piece, span(i)[0]);
        return out;
      };
      const ecPiece = share.slice(...span(ec));
      const bad: [string, Uint8Array][] = [
        ['one byte short', share.subarray(1)],
        ['one byte long', concat(share, new Uint8Array(1))],
        ['empty', new Uint8Array(0)],
        ['ML-KEM key with a coefficient not below q', replaced(ml, outOfRange(share.slice(...span(ml))))],
      ];
      if (group === 'X25519MLKEM768') bad.push(['X25519 key of all zeros (low order)', replaced(ec, new Uint8Array(32))]);
      else {
        bad.push(['EC point not uncompressed', replaced(ec, Uint8Array.of(0x02, ...ecPiece.subarray(1)))]);
        bad.push(['EC point not on the curve', replaced(ec, Uint8Array.of(...ecPiece.subarray(0, 5), ecPiece[5]! ^ 1, ...ecPiece.subarray(6)))]);
      }
      for (const [what, s] of bad) {
        expect(() => p.encapsulate(group, s), what).toThrow();
        expect(() => nodeProvider.encapsulate(group, s), what).toThrow();
      }
      const enc = p.encapsulate(group, share);
      expect(toHex(nodeProvider.decapsulate(group, pair.privateKey, enc.share))).toBe(toHex(enc.secret));
      expect(() => p.decapsulate(group, pair.privateKey, enc.share.subarray(1))).toThrow();
      expect(() => p.decapsulate(group, pair.privateKey, concat(enc.share, new Uint8Array(1)))).toThrow();
    });
  }
});
