import { describe, expect, it } from 'vitest';
import type { PublicKey, SignatureSchemeName } from '../src/crypto/provider.js';
import { cachedVerify, type VerifyFn } from '../src/crypto/verify-cache.js';

const SCHEME: SignatureSchemeName = 'ecdsa_secp256r1_sha256';
const KEY: PublicKey = { kind: 'ec', curve: 'P-256', point: new Uint8Array(65).fill(4) };
const OTHER_KEY: PublicKey = { kind: 'ec', curve: 'P-256', point: new Uint8Array(65).fill(5) };
/** A DER SEQUENCE, the shape of a tbsCertificate. */
const TBS = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x07]);
const SIG = new Uint8Array([1, 2, 3, 4]);

/** A verifier that says yes only to (KEY, TBS, SIG) and counts its calls. */
function counting(): { verify: VerifyFn; calls: () => number } {
  let calls = 0;
  const verify: VerifyFn = (scheme, key, message, signature) => {
    calls++;
    return (
      scheme === SCHEME &&
      key === KEY &&
      message.length === TBS.length &&
      message.every((b, i) => b === TBS[i]) &&
      signature.every((b, i) => b === SIG[i])
    );
  };
  return { verify, calls: () => calls };
}

describe('cachedVerify', () => {
  it('answers a repeated successful certificate signature check without verifying again', () => {
    const inner = counting();
    const verify = cachedVerify(inner.verify);
    expect(verify(SCHEME, KEY, TBS, SIG)).toBe(true);
    expect(verify(SCHEME, KEY, TBS.slice(), SIG.slice())).toBe(true);
    expect(inner.calls()).toBe(1);
  });

  it('never remembers a failure', () => {
    const inner = counting();
    const verify = cachedVerify(inner.verify);
    const bad = new Uint8Array([9, 9, 9, 9]);
    expect(verify(SCHEME, KEY, TBS, bad)).toBe(false);
    expect(verify(SCHEME, KEY, TBS, bad)).toBe(false);
    expect(inner.calls()).toBe(2);
  });

  it('does not let a success for one message, key or scheme stand for another', () => {
    const inner = counting();
    const verify = cachedVerify(inner.verify);
    expect(verify(SCHEME, KEY, TBS, SIG)).toBe(true);
    const tampered = TBS.slice();
    tampered[4] = 8;
    expect(verify(SCHEME, KEY, tampered, SIG)).toBe(false);
    expect(verify(SCHEME, OTHER_KEY, TBS, SIG)).toBe(false);
    expect(verify('ecdsa_secp384r1_sha384', KEY, TBS, SIG)).toBe(false);
    expect(inner.calls()).toBe(4);
  });

  it('is not fooled when the caller changes the message it passed after a success', () => {
    const inner = counting();
    const verify = cachedVerify(inner.verify);
    const message = TBS.slice();
    expect(verify(SCHEME, KEY, message, SIG)).toBe(true);
    message[4] = 8;
    expect(verify(SCHEME, KEY, message, SIG)).toBe(false);
  });

  it('verifies handshake signatures (not DER) every time', () => {
    const inner = counting();
    const verify = cachedVerify(inner.verify);
    const handshake = new Uint8Array(64).fill(0x20);
    verify(SCHEME, KEY, handshake, SIG);
    verify(SCHEME, KEY, handshake, SIG);
    expect(inner.calls()).toBe(2);
  });

  it('with size 0 (a provider made with verifyCacheSize: 0) verifies every certificate signature every time', () => {
    const inner = counting();
    const verify = cachedVerify(inner.verify, 0);
    expect(verify(SCHEME, KEY, TBS, SIG)).toBe(true);
    expect(verify(SCHEME, KEY, TBS, SIG)).toBe(true);
    expect(inner.calls()).toBe(2);
  });

  it('keeps at most `size` entries, dropping the least recently used', () => {
    let calls = 0;
    const always: VerifyFn = () => (calls++, true);
    const verify = cachedVerify(always, 2);
    // Certificate n: its own tbsCertificate and its own signature.
    const check = (n: number) => verify(SCHEME, KEY, new Uint8Array([0x30, 0x01, n]), new Uint8Array([n]));
    check(1);
    check(2);
    check(1); // hit: 1 is now the most recent
    check(3); // evicts 2
    expect(calls).toBe(3);
    check(1);
    expect(calls).toBe(3);
    check(2);
    expect(calls).toBe(4);
  });
});
