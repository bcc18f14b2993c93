/**
 * The crypto provider: every primitive the engine uses, behind one interface, so the
 * same engine runs on @noble (anywhere JavaScript runs) or on node:crypto (fast on Node).
 *
 * Names follow the TLS registries: hash names as in cipher suites, group and signature
 * scheme names as in RFC 8446 section 4.2.
 */

export type HashName = 'sha256' | 'sha384' | 'sha512';
export type AeadName = 'AES-128-GCM' | 'AES-256-GCM' | 'CHACHA20-POLY1305' | 'AES-128-CCM' | 'AES-128-CCM-8';
/** (EC)DH groups, ML-KEM alone, and the hybrids of draft-ietf-tls-ecdhe-mlkem (IANA's names). */
export type GroupName =
  | 'x25519'
  | 'secp256r1'
  | 'secp384r1'
  | 'x448'
  | 'MLKEM768'
  | 'MLKEM1024'
  | 'X25519MLKEM768'
  | 'SecP256r1MLKEM768'
  | 'SecP384r1MLKEM1024';
export type SignatureSchemeName =
  | 'ecdsa_secp256r1_sha256'
  | 'ecdsa_secp384r1_sha384'
  | 'ed25519'
  | 'rsa_pss_rsae_sha256'
  | 'rsa_pss_rsae_sha384'
  | 'rsa_pss_rsae_sha512'
  | 'rsa_pkcs1_sha256'
  | 'rsa_pkcs1_sha384'
  | 'rsa_pkcs1_sha512';

export const hashLength: Record<HashName, number> = { sha256: 32, sha384: 48, sha512: 64 };

/** A public key as it comes out of a certificate's SubjectPublicKeyInfo. */
export type PublicKey =
  | { kind: 'ec'; curve: 'P-256' | 'P-384'; point: Uint8Array /* uncompressed SEC1 */ }
  | { kind: 'ed25519'; key: Uint8Array }
  | { kind: 'rsa'; n: bigint; e: bigint; bits: number };

/** A private key as it comes out of a PEM file (PKCS#8, SEC1 or PKCS#1). */
export type PrivateKey =
  | { kind: 'ec'; curve: 'P-256' | 'P-384'; d: Uint8Array; point: Uint8Array }
  | { kind: 'ed25519'; seed: Uint8Array; key: Uint8Array /* public */ }
  | { kind: 'rsa'; n: bigint; e: bigint; d: bigint; p: bigint; q: bigint; dp: bigint; dq: bigint; qi: bigint; bits: number };

/** Incremental hash (the transcript hash needs snapshots, hence `clone`). */
export interface Hash {
  update(data: Uint8Array): Hash;
  digest(): Uint8Array;
  clone(): Hash;
}

/** An AEAD bound to one key. `open` returns null when authentication fails; it never throws for that. */
export interface Aead {
  readonly tagLength: number;
  seal(nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
  open(nonce: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Uint8Array | null;
}

export interface KeyPair {
  privateKey: Uint8Array;
  /** What goes on the wire in key_share / ServerKeyExchange (uncompressed point for NIST curves). */
  publicKey: Uint8Array;
}

/** The encapsulating side's result: the share it sends back and the secret both sides now hold. */
export interface Encapsulation {
  share: Uint8Array;
  secret: Uint8Array;
}

/**
 * A seed given to generateKeyPair or encapsulate that is not a usable private key (a NIST
 * scalar of zero or beyond the group order): the caller draws another, nothing is wrong
 * with the peer.
 */
export class UnusableSeedError extends Error {}

export interface CryptoProvider {
  readonly name: string;
  random(length: number): Uint8Array;

  hash(name: HashName, data: Uint8Array): Uint8Array;
  createHash(name: HashName): Hash;
  hmac(name: HashName, key: Uint8Array, data: Uint8Array): Uint8Array;
  hkdfExtract(name: HashName, salt: Uint8Array, ikm: Uint8Array): Uint8Array;
  hkdfExpand(name: HashName, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array;

  aead(name: AeadName, key: Uint8Array): Aead;
  /**
   * The 16-byte mask of DTLS 1.3 record number encryption (RFC 9147 4.2.3) for the
   * AEAD's cipher: AES-ECB of the 16-byte `sample` under `key` for the AES AEADs;
   * for ChaCha20-Poly1305, ChaCha20's keystream under `key` with sample[0..3] as the
   * little-endian block counter and sample[4..15] as the nonce (the same construction
   * as QUIC's header protection, RFC 9001 5.4).
   */
  recordNumberMask?(name: AeadName, key: Uint8Array, sample: Uint8Array): Uint8Array;

  /*
   * Key exchange as a KEM: the side that speaks first generates a key pair and sends its
   * public key; the other side encapsulates against it, sending back a share; the first
   * side decapsulates that share. For (EC)DH the share is an ephemeral public key and the
   * secret the DH output; for ML-KEM they are the ciphertext and the shared key; hybrids
   * concatenate both. Each throws on a malformed peer share (the engine maps that to
   * illegal_parameter). Seeds (lengths from seedLength in ./groups.ts) make both
   * deterministic for test replays; for (EC)DH the seed is the private key itself.
   */
  generateKeyPair(group: GroupName, seed?: Uint8Array): KeyPair;
  encapsulate(group: GroupName, peerShare: Uint8Array, seed?: Uint8Array): Encapsulation;
  decapsulate(group: GroupName, privateKey: Uint8Array, share: Uint8Array): Uint8Array;

  /** Verify a TLS signature (`message` is the signed content, not its hash). ECDSA signatures are DER. */
  verify(scheme: SignatureSchemeName, key: PublicKey, message: Uint8Array, signature: Uint8Array): boolean;
  /**
   * Optional: RSASSA-PSS with MGF1 over `hash` and a salt of `saltLength` bytes (certificates
   * may use salts other than the hash length, which no TLS scheme names). Never throws.
   */
  verifyRsaPss?(key: Extract<PublicKey, { kind: 'rsa' }>, hash: HashName, message: Uint8Array, signature: Uint8Array, saltLength: number): boolean;
  /** Produce a TLS signature; ECDSA output is DER. */
  sign(scheme: SignatureSchemeName, key: PrivateKey, message: Uint8Array): Uint8Array;
}
