/**
 * RSA signatures (RFC 8017) on plain bigints: RSASSA-PSS and RSASSA-PKCS1-v1_5.
 *
 * The hash comes in as a parameter so this module stays independent of any provider.
 *
 * The private-key operation is constant-time in structure (`modPowSecret`): a fixed
 * number of 4-bit windows set by the public size of the modulus, the same squarings and
 * one multiplication per window whatever the digit, table entries chosen by a full scan
 * under masks (no secret table index, no secret branch), exponent blinding (d + k(p-1)
 * with a fresh 64-bit k each time) and base blinding (m * r^e). What JavaScript cannot
 * promise: BigInt arithmetic is variable-time underneath (V8 multiplies, divides and
 * allocates according to the operands' lengths in 64-bit digits, and the GC runs when it
 * likes), and a bigint cannot be wiped. The blinding is what keeps that residue from
 * being tied to the key or the message: every exponentiation sees a different exponent
 * and base. The node provider signs with OpenSSL and does not come here.
 *
 * Every signature is checked with the public key before it leaves, so a faulty CRT
 * computation cannot leak a factor of n.
 */
import { constantTimeEqual } from '../util/bytes.js';
import type { HashName } from './provider.js';

export interface RsaHash {
  readonly name: HashName;
  /** Output length in bytes. */
  readonly length: number;
  digest(data: Uint8Array): Uint8Array;
}

export interface RsaPublicKey {
  n: bigint;
  e: bigint;
}

export interface RsaPrivateKey extends RsaPublicKey {
  d: bigint;
  p: bigint;
  q: bigint;
  dp: bigint;
  dq: bigint;
  qi: bigint;
}

/** Smaller moduli are rejected in verification (and refused for signing). */
export const MIN_RSA_BITS = 1024;

export function bitLength(n: bigint): number {
  return n <= 0n ? 0 : n.toString(2).length;
}

export function bytesToBigInt(b: Uint8Array): bigint {
  let n = 0n;
  for (const x of b) n = (n << 8n) | BigInt(x);
  return n;
}

/** I2OSP: big-endian, left-padded to `length`; throws if `n` does not fit. */
export function bigIntToBytes(n: bigint, length: number): Uint8Array {
  if (n < 0n) throw new RangeError('negative integer');
  const out = new Uint8Array(length);
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  if (n !== 0n) throw new RangeError(`integer too large for ${length} bytes`);
  return out;
}

/** The window table base^0 .. base^15 mod m. */
function windowTable(base: bigint, m: bigint): bigint[] {
  base %= m;
  if (base < 0n) base += m;
  const table: bigint[] = [1n, base];
  for (let i = 2; i < 16; i++) table.push((table[i - 1]! * base) % m);
  return table;
}

function checkModPowArguments(exp: bigint, m: bigint): void {
  if (m <= 0n) throw new RangeError('modulus must be positive');
  if (exp < 0n) throw new RangeError('negative exponent');
}

/**
 * base^exp mod m for a public exponent (verification), with a fixed 4-bit window: a
 * quarter of the multiplications of plain square-and-multiply, zero digits skipped.
 */
export function modPow(base: bigint, exp: bigint, m: bigint): bigint {
  checkModPowArguments(exp, m);
  if (m === 1n) return 0n;
  const table = windowTable(base, m);
  let result = 1n;
  for (let shift = Math.ceil(bitLength(exp) / 4) * 4 - 4; shift >= 0; shift -= 4) {
    for (let i = 0; i < 4; i++) result = (result * result) % m;
    const d = Number((exp >> BigInt(shift)) & 15n);
    if (d) result = (result * table[d]!) % m;
  }
  return result;
}

/**
 * table[index] by reading every entry: each is ANDed with a mask that is all ones for
 * the wanted index and zero otherwise, so which entry was wanted decides no branch and
 * no memory address.
 */
export function selectInConstantStructure(table: readonly bigint[], index: number): bigint {
  let out = 0n;
  for (let i = 0; i < table.length; i++) {
    // 1 when i === index: (x - 1) >>> 31 is 1 only for x = 0 (x = i ^ index is below 2^31).
    const same = ((i ^ index) - 1) >>> 31;
    out |= table[i]! & BigInt(-same);
  }
  return out;
}

/**
 * base^exp mod m for a secret exponent, constant-time in structure: `bits` (public: from
 * the modulus and the blinding size, never from `exp`) fixes the number of windows; every
 * window does four squarings and one multiplication by an entry selected with masks, even
 * for a zero digit (entry 0 is 1). The digits come out by shifts and masks, never through
 * a string. See the module comment for what BigInt itself still leaks.
 */
export function modPowSecret(base: bigint, exp: bigint, m: bigint, bits: number): bigint {
  checkModPowArguments(exp, m);
  if (exp >> BigInt(bits) !== 0n) throw new RangeError('exponent longer than the stated bit length');
  const table = windowTable(base, m);
  let result = 1n;
  for (let shift = Math.ceil(bits / 4) * 4 - 4; shift >= 0; shift -= 4) {
    for (let i = 0; i < 4; i++) result = (result * result) % m;
    result = (result * selectInConstantStructure(table, Number((exp >> BigInt(shift)) & 15n))) % m;
  }
  return result % m;
}

/** a^-1 mod m; throws when gcd(a, m) != 1. */
export function modInverse(a: bigint, m: bigint): bigint {
  let [r0, r1] = [((a % m) + m) % m, m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) throw new RangeError('not invertible');
  return ((s0 % m) + m) % m;
}

// DER of DigestInfo up to the digest itself: SEQUENCE { AlgorithmIdentifier { OID, NULL }, OCTET STRING (len) }.
// These are the fixed prefixes listed in RFC 8017 section 9.2, note 1.
const digestInfoPrefix: Record<HashName, Uint8Array> = {
  sha256: Uint8Array.of(0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20),
  sha384: Uint8Array.of(0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30),
  sha512: Uint8Array.of(0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40),
};

function mgf1(hash: RsaHash, seed: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const block = new Uint8Array(seed.length + 4);
  block.set(seed);
  for (let counter = 0, at = 0; at < length; counter++, at += hash.length) {
    new DataView(block.buffer).setUint32(seed.length, counter);
    out.set(hash.digest(block).subarray(0, length - at), at);
  }
  return out;
}

function pssHash(hash: RsaHash, mHash: Uint8Array, salt: Uint8Array): Uint8Array {
  const mPrime = new Uint8Array(8 + mHash.length + salt.length);
  mPrime.set(mHash, 8);
  mPrime.set(salt, 8 + mHash.length);
  return hash.digest(mPrime);
}

/** EMSA-PSS-ENCODE (RFC 8017 section 9.1.1) with emBits = modBits - 1. */
function pssEncode(hash: RsaHash, message: Uint8Array, salt: Uint8Array, emBits: number): Uint8Array {
  const emLen = Math.ceil(emBits / 8);
  const hLen = hash.length;
  if (emLen < hLen + salt.length + 2) throw new RangeError('RSA key too small for this hash and salt length');
  const h = pssHash(hash, hash.digest(message), salt);
  const db = new Uint8Array(emLen - hLen - 1);
  db[db.length - salt.length - 1] = 0x01;
  db.set(salt, db.length - salt.length);
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!;
  db[0]! &= 0xff >> (8 * emLen - emBits);
  const em = new Uint8Array(emLen);
  em.set(db);
  em.set(h, db.length);
  em[emLen - 1] = 0xbc;
  return em;
}

/** EMSA-PSS-VERIFY (RFC 8017 section 9.1.2). */
function pssVerify(hash: RsaHash, message: Uint8Array, em: Uint8Array, emBits: number, sLen: number): boolean {
  const emLen = em.length;
  const hLen = hash.length;
  if (emLen < hLen + sLen + 2 || em[emLen - 1] !== 0xbc) return false;
  const topMask = 0xff >> (8 * emLen - emBits);
  const db = em.slice(0, emLen - hLen - 1);
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  if (db[0]! & ~topMask) return false;
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!;
  db[0]! &= topMask;
  const psLen = emLen - hLen - sLen - 2;
  for (let i = 0; i < psLen; i++) if (db[i] !== 0) return false;
  if (db[psLen] !== 0x01) return false;
  const salt = db.subarray(db.length - sLen);
  return constantTimeEqual(pssHash(hash, hash.digest(message), salt), h);
}

/** EMSA-PKCS1-v1_5-ENCODE: 00 01 FF..FF 00 || DigestInfo. */
function pkcs1Encode(hash: RsaHash, message: Uint8Array, k: number): Uint8Array {
  const prefix = digestInfoPrefix[hash.name];
  const digest = hash.digest(message);
  const tLen = prefix.length + digest.length;
  if (k < tLen + 11) throw new RangeError('RSA key too small for this hash');
  const em = new Uint8Array(k).fill(0xff, 2, k - tLen - 1);
  em[1] = 0x01;
  em[k - tLen - 1] = 0x00;
  em.set(prefix, k - tLen);
  em.set(digest, k - digest.length);
  return em;
}

/**
 * The checks every RSA verification makes before the public-key operation (modulus size,
 * exponent, signature length and range); null when the signature is unusable. The node
 * provider makes them too, so both providers refuse the same keys and signatures.
 */
export function rsaSignatureRepresentative(key: RsaPublicKey, signature: Uint8Array): { s: bigint; k: number; bits: number } | null {
  const bits = bitLength(key.n);
  const k = Math.ceil(bits / 8);
  if (bits < MIN_RSA_BITS || key.e < 3n || (key.e & 1n) === 0n || key.e >= key.n) return null;
  if (signature.length !== k) return null;
  const s = bytesToBigInt(signature);
  if (s >= key.n) return null;
  return { s, k, bits };
}

/** RSAVP1 with the checks every verification shares; null when the signature is unusable. */
function publicOp(key: RsaPublicKey, signature: Uint8Array): { m: bigint; k: number; bits: number } | null {
  const r = rsaSignatureRepresentative(key, signature);
  return r && { m: modPow(r.s, key.e, key.n), k: r.k, bits: r.bits };
}

export function rsaVerifyPss(key: RsaPublicKey, hash: RsaHash, message: Uint8Array, signature: Uint8Array, saltLength = hash.length): boolean {
  const r = publicOp(key, signature);
  if (!r) return false;
  const emBits = r.bits - 1;
  const emLen = Math.ceil(emBits / 8);
  // When modBits - 1 is a multiple of 8 the encoded message is one byte shorter than k.
  if (r.m >> BigInt(8 * emLen) !== 0n) return false;
  return pssVerify(hash, message, bigIntToBytes(r.m, emLen), emBits, saltLength);
}

/** Compares the whole re-encoded block: no DigestInfo parsing, so no parser leniency to exploit. */
export function rsaVerifyPkcs1(key: RsaPublicKey, hash: RsaHash, message: Uint8Array, signature: Uint8Array): boolean {
  const r = publicOp(key, signature);
  if (!r) return false;
  let expected: Uint8Array;
  try {
    expected = pkcs1Encode(hash, message, r.k);
  } catch {
    return false;
  }
  return constantTimeEqual(bigIntToBytes(r.m, r.k), expected);
}

function randomBelow(n: bigint, random: (length: number) => Uint8Array): bigint {
  // 64 extra bits make the bias of the reduction negligible.
  const bytes = random(Math.ceil(bitLength(n) / 8) + 8);
  return bytesToBigInt(bytes) % n;
}

/** Bits of the random multiple of the group order added to each CRT exponent. */
const EXPONENT_BLINDING_BITS = 64;

/**
 * c^d mod prime with the exponent blinded: d + k(prime - 1) gives the same result (Fermat)
 * but a different digit string on every call, so no two exponentiations (and no two
 * traces a side channel could average) share the secret exponent's digits.
 */
function blindedExponentiation(c: bigint, d: bigint, prime: bigint, primeBits: number, random: (length: number) => Uint8Array): bigint {
  const k = bytesToBigInt(random(EXPONENT_BLINDING_BITS / 8)) | 1n;
  return modPowSecret(c, d + k * (prime - 1n), prime, primeBits + EXPONENT_BLINDING_BITS + 1);
}

/**
 * The bit length the CRT exponentiations are run at, from the public modulus: half of it
 * for the usual balanced primes, all of it for a key whose primes are not (the size of a
 * prime is no secret worth a branch, its bits are: so no toString of p or q).
 */
function primeBits(key: RsaPrivateKey): number {
  const half = Math.ceil(bitLength(key.n) / 2);
  const h = BigInt(half);
  return key.p >> h === 0n && key.q >> h === 0n ? half : bitLength(key.n);
}

/** RSASP1 with CRT, exponent and base blinding, checked against the public key before returning. */
function privateOp(key: RsaPrivateKey, m: bigint, random: (length: number) => Uint8Array): bigint {
  const { n, e, p, q, dp, dq, qi } = key;
  if (p * q !== n) throw new Error('RSA private key: p * q != n');
  if (m >= n) throw new RangeError('RSA message representative out of range');
  let r = 0n;
  let rInv = 0n;
  for (let tries = 0; ; tries++) {
    if (tries > 16) throw new Error('RSA blinding: random source keeps failing');
    r = randomBelow(n, random);
    if (r < 2n) continue;
    try {
      rInv = modInverse(r, n);
      break;
    } catch {
      // r shares a factor with n: astronomically unlikely with a real random source; pick another.
    }
  }
  const blinded = (m * modPow(r, e, n)) % n;
  const bits = primeBits(key);
  const m1 = blindedExponentiation(blinded % p, dp, p, bits, random);
  const m2 = blindedExponentiation(blinded % q, dq, q, bits, random);
  const h = (qi * (((m1 - m2) % p) + p)) % p;
  const s = ((m2 + h * q) * rInv) % n;
  if (modPow(s, e, n) !== m) throw new Error('RSA signature self-check failed');
  return s;
}

/** The size check before any RSA signature (the node provider makes it too). */
export function checkSigningKey(key: RsaPublicKey): { bits: number; k: number } {
  const bits = bitLength(key.n);
  if (bits < MIN_RSA_BITS) throw new RangeError(`RSA key of ${bits} bits is too small`);
  return { bits, k: Math.ceil(bits / 8) };
}

/** RSASSA-PSS-SIGN with MGF1 over the same hash; the salt comes from `random`. */
export function rsaSignPss(
  key: RsaPrivateKey,
  hash: RsaHash,
  message: Uint8Array,
  random: (length: number) => Uint8Array,
  saltLength = hash.length,
): Uint8Array {
  const { bits, k } = checkSigningKey(key);
  const salt = random(saltLength);
  if (salt.length !== saltLength) throw new Error('random source returned the wrong length');
  const em = pssEncode(hash, message, salt, bits - 1);
  return bigIntToBytes(privateOp(key, bytesToBigInt(em), random), k);
}

/** RSASSA-PKCS1-v1_5-SIGN (deterministic; `random` only feeds the blinding). */
export function rsaSignPkcs1(key: RsaPrivateKey, hash: RsaHash, message: Uint8Array, random: (length: number) => Uint8Array): Uint8Array {
  const { k } = checkSigningKey(key);
  const em = pkcs1Encode(hash, message, k);
  return bigIntToBytes(privateOp(key, bytesToBigInt(em), random), k);
}
