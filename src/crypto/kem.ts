/**
 * Key exchange shaped as a KEM (generateKeyPair / encapsulate / decapsulate), built once for
 * both providers from each provider's ECDH and ML-KEM. Classic ECDH is the one-component
 * case: encapsulating is making an ephemeral key pair and agreeing with the peer's share.
 * Hybrids split and concatenate their components' bytes as ./groups.ts lays them out.
 */
import { concat, constantTimeEqual, wipe } from '../util/bytes.js';
import { componentSizes, groupComponents, type Component, type ComponentSizes, type EcdhGroup } from './groups.js';
import { nobleMlKem, type MlKem } from './mlkem.js';
import { UnusableSeedError, type CryptoProvider, type Encapsulation, type GroupName, type KeyPair } from './provider.js';

/** What a provider supplies; the rest of key exchange is the same for all providers. */
export interface KeyExchangePrimitives {
  random(length: number): Uint8Array;
  /** `privateKey` (optional) makes it deterministic; throws if it is not a valid private key. */
  ecdhKeyPair(group: EcdhGroup, privateKey?: Uint8Array): KeyPair;
  /** Throws on a malformed or low-order peer key. */
  ecdh(group: EcdhGroup, privateKey: Uint8Array, peerPublic: Uint8Array): Uint8Array;
  /** Default: noble's, drawing from `random`. */
  mlkem?: MlKem;
}

type KeyExchange = Pick<CryptoProvider, 'generateKeyPair' | 'encapsulate' | 'decapsulate'>;

function componentsOf(group: GroupName): readonly Component[] {
  const parts = groupComponents[group];
  if (!parts) throw new Error(`unsupported group ${String(group)}`);
  return parts;
}

/**
 * `bytes` cut into the components' pieces; an input of the wrong total length is refused
 * (which is how a malformed hybrid share fails). A single component gets `bytes` itself and
 * checks it: that keeps a provider's per-buffer caches working, and lets ML-KEM alone take
 * an expanded private key as well as a seed.
 */
function split(group: GroupName, what: string, bytes: Uint8Array, parts: readonly Component[], size: keyof ComponentSizes): Uint8Array[] {
  if (parts.length === 1) return [bytes];
  const lengths = parts.map((c) => componentSizes(c)[size]);
  const total = lengths.reduce((a, b) => a + b, 0);
  if (bytes.length !== total) throw new Error(`${group}: ${what} must be ${total} bytes, got ${bytes.length}`);
  let at = 0;
  return lengths.map((n) => bytes.subarray(at, (at += n)));
}

function joined(pieces: Uint8Array[]): Uint8Array {
  return pieces.length === 1 ? pieces[0]! : concat(...pieces);
}

export function kemKeyExchange(p: KeyExchangePrimitives): KeyExchange {
  const mlkem = p.mlkem ?? nobleMlKem(p.random);
  // A hybrid private key's component keys as generated, so that decapsulation hands each
  // component the very buffer it made (and cached work for); checked against the bytes, and
  // wiped once used: a key share is decapsulated once (a second call just splits afresh).
  const hybridKeys = new WeakMap<Uint8Array, { bytes: Uint8Array; keys: Uint8Array[] }>();

  /** One component's key pair; a seed that is no valid private key is the caller's to redraw. */
  function componentKeyPair(group: GroupName, c: Component, seed: Uint8Array | undefined): KeyPair {
    try {
      return c.kind === 'ecdh' ? p.ecdhKeyPair(c.group, seed) : mlkem.keyPair(c.set, seed);
    } catch (err) {
      if (seed) throw new UnusableSeedError(`${group}: the seed is not a usable private key`, { cause: err });
      throw err;
    }
  }

  function generateKeyPair(group: GroupName, seed?: Uint8Array): KeyPair {
    const parts = componentsOf(group);
    const seeds = seed ? split(group, 'key pair seed', seed, parts, 'keyPairSeed') : [];
    const pairs = parts.map((c, i) => componentKeyPair(group, c, seeds[i]));
    if (pairs.length === 1) return pairs[0]!;
    const privateKey = joined(pairs.map((k) => k.privateKey));
    hybridKeys.set(privateKey, { bytes: privateKey.slice(), keys: pairs.map((k) => k.privateKey) });
    return { privateKey, publicKey: joined(pairs.map((k) => k.publicKey)) };
  }

  function encapsulate(group: GroupName, peerShare: Uint8Array, seed?: Uint8Array): Encapsulation {
    const parts = componentsOf(group);
    const peers = split(group, 'key share', peerShare, parts, 'publicShare');
    const seeds = seed ? split(group, 'encapsulation seed', seed, parts, 'encapsulationSeed') : [];
    // Every ephemeral key first: a seed problem (redraw) must not be mistaken for a bad peer share.
    const ephemeral = parts.map((c, i) => (c.kind === 'ecdh' ? componentKeyPair(group, c, seeds[i]) : undefined));
    const results = parts.map((c, i): Encapsulation => {
      if (c.kind === 'mlkem') return mlkem.encapsulate(c.set, peers[i]!, seeds[i]);
      const pair = ephemeral[i]!;
      const secret = p.ecdh(c.group, pair.privateKey, peers[i]!);
      pair.privateKey.fill(0);
      return { share: pair.publicKey, secret };
    });
    return { share: joined(results.map((r) => r.share)), secret: joined(results.map((r) => r.secret)) };
  }

  function decapsulate(group: GroupName, privateKey: Uint8Array, share: Uint8Array): Uint8Array {
    const parts = componentsOf(group);
    const known = hybridKeys.get(privateKey);
    const keys = known && constantTimeEqual(known.bytes, privateKey) ? known.keys : split(group, 'private key', privateKey, parts, 'privateKey');
    try {
      const shares = split(group, 'key share', share, parts, 'encapsulatedShare');
      return joined(parts.map((c, i) => (c.kind === 'ecdh' ? p.ecdh(c.group, keys[i]!, shares[i]!) : mlkem.decapsulate(c.set, keys[i]!, shares[i]!))));
    } finally {
      if (known) {
        hybridKeys.delete(privateKey);
        wipe(known.bytes, ...known.keys);
      }
    }
  }

  return { generateKeyPair, encapsulate, decapsulate };
}
