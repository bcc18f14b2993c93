/**
 * A CryptoProvider wrapped so that the time spent inside each of its methods (and inside
 * the AEAD and Hash objects it hands out) is summed per method. Provider methods do not
 * call each other through the wrapper, so nothing is counted twice.
 */
import { performance } from 'node:perf_hooks';
import type { Aead, CryptoProvider, Hash } from '../src/crypto/provider.js';

export interface CryptoTimes {
  /** Milliseconds per method name ('aead.seal', 'hash.update', 'sign', ...). */
  byMethod: Map<string, number>;
  total(): number;
  reset(): void;
}

export function timedProvider(inner: CryptoProvider): { provider: CryptoProvider; times: CryptoTimes } {
  const byMethod = new Map<string, number>();
  const add = (name: string, ms: number) => byMethod.set(name, (byMethod.get(name) ?? 0) + ms);
  function wrap<A extends unknown[], R>(name: string, fn: (...args: A) => R): (...args: A) => R {
    return (...args: A) => {
      const t0 = performance.now();
      try {
        return fn(...args);
      } finally {
        add(name, performance.now() - t0);
      }
    };
  }
  const wrapHash = (h: Hash): Hash => {
    const w: Hash = {
      update: wrap('hash.update', (data: Uint8Array) => {
        h.update(data);
        return w;
      }),
      digest: wrap('hash.digest', () => h.digest()),
      clone: () => wrapHash(wrap('hash.clone', () => h.clone())()),
    };
    return w;
  };
  const wrapAead = (a: Aead): Aead => ({
    tagLength: a.tagLength,
    seal: wrap('aead.seal', a.seal.bind(a)),
    open: wrap('aead.open', a.open.bind(a)),
  });
  const provider: CryptoProvider = {
    name: `${inner.name}+timing`,
    random: wrap('random', inner.random.bind(inner)),
    hash: wrap('hash', inner.hash.bind(inner)),
    createHash: (name) => wrapHash(wrap('createHash', inner.createHash.bind(inner))(name)),
    hmac: wrap('hmac', inner.hmac.bind(inner)),
    hkdfExtract: wrap('hkdfExtract', inner.hkdfExtract.bind(inner)),
    hkdfExpand: wrap('hkdfExpand', inner.hkdfExpand.bind(inner)),
    aead: (name, key) => wrapAead(wrap('aead', inner.aead.bind(inner))(name, key)),
    generateKeyPair: wrap('generateKeyPair', inner.generateKeyPair.bind(inner)),
    encapsulate: wrap('encapsulate', inner.encapsulate.bind(inner)),
    decapsulate: wrap('decapsulate', inner.decapsulate.bind(inner)),
    verify: wrap('verify', inner.verify.bind(inner)),
    sign: wrap('sign', inner.sign.bind(inner)),
  };
  return {
    provider,
    times: {
      byMethod,
      total: () => [...byMethod.values()].reduce((a, b) => a + b, 0),
      reset: () => byMethod.clear(),
    },
  };
}
