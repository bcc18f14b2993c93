/**
 * ML-KEM (FIPS 203) on @noble/post-quantum: pure JavaScript, so it runs wherever the engine
 * does, and it takes the seeds FIPS 203's internal algorithms take (d || z for key
 * generation, m for encapsulation), so injected randomness replays exactly. The node
 * provider swaps in node:crypto's ML-KEM where the running Node has it (see ./node.ts).
 *
 * A private key is the 64-byte seed d || z, the form FIPS 203 (3.3) allows keeping instead
 * of the expanded decapsulation key and the only one node:crypto imports; decapsulate also
 * takes an expanded key (FIPS 203's dk), which is what NIST's test vectors give.
 *
 * The checks FIPS 203 7.2 and 7.3 require of untrusted input are noble's: the encapsulation
 * key's length and modulus check (ByteEncode12(ByteDecode12(ek)) = ek) in encapsulate, the
 * ciphertext's length and the decapsulation key's hash check in decapsulate. A failed check
 * throws; a wrong ciphertext of the right length yields the implicit-rejection secret.
 */
import { ml_kem1024, ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { constantTimeEqual } from '../util/bytes.js';
import type { Encapsulation, KeyPair } from './provider.js';

export type MlKemParameterSet = 'ML-KEM-768' | 'ML-KEM-1024';

/** FIPS 203 table 3 (bytes). */
export const mlKemSizes: Record<MlKemParameterSet, { encapsulationKey: number; decapsulationKey: number; ciphertext: number }> = {
  'ML-KEM-768': { encapsulationKey: 1184, decapsulationKey: 2400, ciphertext: 1088 },
  'ML-KEM-1024': { encapsulationKey: 1568, decapsulationKey: 3168, ciphertext: 1568 },
};
/** d || z: the seed of ML-KEM.KeyGen_internal, and our private key. */
export const ML_KEM_SEED = 64;
/** m: the randomness of ML-KEM.Encaps_internal. */
export const ML_KEM_ENCAPS_SEED = 32;
export const ML_KEM_SECRET = 32;

/** The three ML-KEM operations a provider brings. Without a seed (or m) each draws its own. */
export interface MlKem {
  keyPair(set: MlKemParameterSet, seed?: Uint8Array): KeyPair;
  /** `share` is the ciphertext. */
  encapsulate(set: MlKemParameterSet, encapsulationKey: Uint8Array, m?: Uint8Array): Encapsulation;
  /** `privateKey`: the seed d || z, or an expanded decapsulation key. */
  decapsulate(set: MlKemParameterSet, privateKey: Uint8Array, ciphertext: Uint8Array): Uint8Array;
}

const noble = { 'ML-KEM-768': ml_kem768, 'ML-KEM-1024': ml_kem1024 } as const;

export function exactly(what: string, bytes: Uint8Array, length: number): void {
  if (bytes.length !== length) throw new Error(`${what} must be ${length} bytes, got ${bytes.length}`);
}

export function nobleMlKem(random: (length: number) => Uint8Array): MlKem {
  // The expanded key of each seed we made, so decapsulation does not run key generation
  // again; the seed's bytes are kept too, so a seed changed since is expanded afresh. Used
  // once and wiped: a key share is decapsulated once (a second call expands again).
  const expanded = new WeakMap<Uint8Array, { seed: Uint8Array; dk: Uint8Array }>();

  /** The expanded key for `privateKey` (taken out of the cache), and whether it is ours to wipe. */
  function takeDecapsulationKey(set: MlKemParameterSet, privateKey: Uint8Array): { dk: Uint8Array; ours: boolean } {
    if (privateKey.length === mlKemSizes[set].decapsulationKey) return { dk: privateKey, ours: false };
    exactly(`${set} private key`, privateKey, ML_KEM_SEED);
    const known = expanded.get(privateKey);
    if (known) {
      expanded.delete(privateKey);
      const same = constantTimeEqual(known.seed, privateKey);
      known.seed.fill(0);
      if (same) return { dk: known.dk, ours: true };
      known.dk.fill(0);
    }
    return { dk: noble[set].keygen(privateKey).secretKey, ours: true };
  }

  return {
    keyPair(set, seed) {
      const d = seed ? seed.slice() : random(ML_KEM_SEED);
      exactly(`${set} seed`, d, ML_KEM_SEED);
      const { publicKey, secretKey } = noble[set].keygen(d);
      expanded.set(d, { seed: d.slice(), dk: secretKey });
      return { privateKey: d, publicKey };
    },
    encapsulate(set, encapsulationKey, m) {
      exactly(`${set} encapsulation key`, encapsulationKey, mlKemSizes[set].encapsulationKey);
      const randomness = m ?? random(ML_KEM_ENCAPS_SEED);
      exactly(`${set} randomness`, randomness, ML_KEM_ENCAPS_SEED);
      const { cipherText, sharedSecret } = noble[set].encapsulate(encapsulationKey, randomness);
      return { share: cipherText, secret: sharedSecret };
    },
    decapsulate(set, privateKey, ciphertext) {
      exactly(`${set} ciphertext`, ciphertext, mlKemSizes[set].ciphertext);
      const { dk, ours } = takeDecapsulationKey(set, privateKey);
      try {
        return noble[set].decapsulate(ciphertext, dk);
      } finally {
        if (ours) dk.fill(0);
      }
    },
  };
}
