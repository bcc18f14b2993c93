/**
 * What each key exchange group is made of. A classic group is one ECDH component; a hybrid
 * (draft-ietf-tls-ecdhe-mlkem) is an ECDH and an ML-KEM component whose shares, private keys
 * and secrets are concatenated in the order the draft gives for that group: ML-KEM first for
 * X25519MLKEM768, the NIST curve first for SecP256r1MLKEM768 and SecP384r1MLKEM1024.
 */
import { ML_KEM_ENCAPS_SEED, ML_KEM_SECRET, ML_KEM_SEED, mlKemSizes, type MlKemParameterSet } from './mlkem.js';
import type { GroupName } from './provider.js';

export type EcdhGroup = 'x25519' | 'x448' | 'secp256r1' | 'secp384r1';

export type Component = { kind: 'ecdh'; group: EcdhGroup } | { kind: 'mlkem'; set: MlKemParameterSet };

/** Byte lengths of one component's inputs and outputs. */
export interface ComponentSizes {
  keyPairSeed: number;
  encapsulationSeed: number;
  privateKey: number;
  /** The key share of the side that generates (the TLS 1.3 client). */
  publicShare: number;
  /** The key share of the side that encapsulates (the TLS 1.3 server). */
  encapsulatedShare: number;
  secret: number;
}

/** Private key and field element sizes; NIST shares are uncompressed points (04 || x || y). */
const ecdhScalar: Record<EcdhGroup, number> = { x25519: 32, x448: 56, secp256r1: 32, secp384r1: 48 };

export function componentSizes(c: Component): ComponentSizes {
  if (c.kind === 'mlkem') {
    const s = mlKemSizes[c.set];
    return {
      keyPairSeed: ML_KEM_SEED,
      encapsulationSeed: ML_KEM_ENCAPS_SEED,
      // The seed d || z (see ./mlkem.ts).
      privateKey: ML_KEM_SEED,
      publicShare: s.encapsulationKey,
      encapsulatedShare: s.ciphertext,
      secret: ML_KEM_SECRET,
    };
  }
  const n = ecdhScalar[c.group];
  const share = c.group === 'x25519' || c.group === 'x448' ? n : 1 + 2 * n;
  return { keyPairSeed: n, encapsulationSeed: n, privateKey: n, publicShare: share, encapsulatedShare: share, secret: n };
}

const ecdh = (group: EcdhGroup): Component => ({ kind: 'ecdh', group });
const mlkem = (set: MlKemParameterSet): Component => ({ kind: 'mlkem', set });

export const groupComponents: Record<GroupName, readonly Component[]> = {
  x25519: [ecdh('x25519')],
  x448: [ecdh('x448')],
  secp256r1: [ecdh('secp256r1')],
  secp384r1: [ecdh('secp384r1')],
  MLKEM768: [mlkem('ML-KEM-768')],
  MLKEM1024: [mlkem('ML-KEM-1024')],
  X25519MLKEM768: [mlkem('ML-KEM-768'), ecdh('x25519')],
  SecP256r1MLKEM768: [ecdh('secp256r1'), mlkem('ML-KEM-768')],
  SecP384r1MLKEM1024: [ecdh('secp384r1'), mlkem('ML-KEM-1024')],
};

/** Groups that are plain (EC)DH, the only ones TLS 1.2's ServerKeyExchange can carry. */
export function isEcdhGroup(group: GroupName): group is EcdhGroup {
  const parts = groupComponents[group];
  return parts.length === 1 && parts[0]!.kind === 'ecdh';
}

/** Groups with an ML-KEM part (the hybrids, ML-KEM alone): post-quantum key exchange. */
export function isPostQuantumGroup(group: GroupName): boolean {
  return groupComponents[group].some((c) => c.kind === 'mlkem');
}

/** How many random bytes generateKeyPair (`keyPair`) or encapsulate (`encapsulate`) takes as its seed. */
export function seedLength(group: GroupName, op: 'keyPair' | 'encapsulate'): number {
  let n = 0;
  for (const c of groupComponents[group]) n += op === 'keyPair' ? componentSizes(c).keyPairSeed : componentSizes(c).encapsulationSeed;
  return n;
}
