/**
 * ML-KEM (FIPS 203) on @noble/post-quantum, for both providers: it is pure JavaScript, so it
 * runs wherever the engine does, and it takes the seeds FIPS 203's internal algorithms take
 * (d || z for key generation, m for encapsulation), so injected randomness replays exactly.
 *
 * The checks FIPS 203 7.2 and 7.3 require of untrusted input are noble's: the encapsulation
 * key's length and modulus check (ByteEncode12(ByteDecode12(ek)) = ek) in encapsulate, the
 * ciphertext's length and the decapsulation key's hash check in decapsulate. A failed check
 * throws; a wrong ciphertext of the right length yields the implicit-rejection secret.
 */
import { ml_kem1024, ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import type { KeyPair } from './provider.js';

export type MlKemParameterSet = 'ML-KEM-768' | 'ML-KEM-1024';

/** FIPS 203 table 3 (bytes), plus the seed lengths of ML-KEM.KeyGen_internal and Encaps_internal. */
export const mlKemSizes: Record<MlKemParameterSet, { encapsulationKey: number; decapsulationKey: number; ciphertext: number }> = {
  'ML-KEM-768': { encapsulationKey: 1184, decapsulationKey: 2400, ciphertext: 1088 },
  'ML-KEM-1024': { encapsulationKey: 1568, decapsulationKey: 3168, ciphertext: 1568 },
};
export const ML_KEM_KEYGEN_SEED = 64;
export const ML_KEM_ENCAPS_SEED = 32;
export const ML_KEM_SECRET = 32;

/** The three ML-KEM operations a provider brings (noble's by default). */
export interface MlKem {
  /** `seed` is d || z (64 bytes). The private key is the expanded decapsulation key. */
  keyPair(set: MlKemParameterSet, seed: Uint8Array): KeyPair;
  /** `m` is the 32-byte encapsulation randomness; `share` is the ciphertext. */
  encapsulate(set: MlKemParameterSet, encapsulationKey: Uint8Array, m: Uint8Array): { share: Uint8Array; secret: Uint8Array };
  decapsulate(set: MlKemParameterSet, decapsulationKey: Uint8Array, ciphertext: Uint8Array): Uint8Array;
}

const noble = { 'ML-KEM-768': ml_kem768, 'ML-KEM-1024': ml_kem1024 } as const;

function exactly(what: string, bytes: Uint8Array, length: number): void {
  if (bytes.length !== length) throw new Error(`${what} must be ${length} bytes, got ${bytes.length}`);
}

export const nobleMlKem: MlKem = {
  keyPair(set, seed) {
    exactly(`${set} seed`, seed, ML_KEM_KEYGEN_SEED);
    const { publicKey, secretKey } = noble[set].keygen(seed);
    return { privateKey: secretKey, publicKey };
  },
  encapsulate(set, encapsulationKey, m) {
    exactly(`${set} encapsulation key`, encapsulationKey, mlKemSizes[set].encapsulationKey);
    exactly(`${set} randomness`, m, ML_KEM_ENCAPS_SEED);
    const { cipherText, sharedSecret } = noble[set].encapsulate(encapsulationKey, m);
    return { share: cipherText, secret: sharedSecret };
  },
  decapsulate(set, decapsulationKey, ciphertext) {
    exactly(`${set} ciphertext`, ciphertext, mlKemSizes[set].ciphertext);
    exactly(`${set} decapsulation key`, decapsulationKey, mlKemSizes[set].decapsulationKey);
    return noble[set].decapsulate(ciphertext, decapsulationKey);
  },
};
