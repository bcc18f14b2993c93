/**
 * HPKE (RFC 9180), synchronous, on the provider's primitives: the KEM is the provider's
 * KEM-shaped key exchange (an ephemeral DH against the recipient's key), the KDF its HKDF,
 * the AEAD its AEADs. Only what ECH (RFC 9849) needs and the vectors prove: base and PSK
 * modes, single-shot and multi-message contexts, and the secret exporter.
 *
 * No WebCrypto: everything returns at once, so the handshake can run HPKE in the middle of
 * building or reading a ClientHello, in browsers and workers alike.
 */
import { concat, utf8, wipe } from '../util/bytes.js';
import { UnusableSeedError, hashLength, type AeadName, type CryptoProvider, type GroupName, type HashName } from './provider.js';

/** HPKE KEM identifiers (RFC 9180 section 7.1) and what each needs. */
export const HpkeKem = { 'DHKEM(P-256, HKDF-SHA256)': 0x0010, 'DHKEM(X25519, HKDF-SHA256)': 0x0020 } as const;
export const HpkeKdf = { 'HKDF-SHA256': 0x0001, 'HKDF-SHA384': 0x0002, 'HKDF-SHA512': 0x0003 } as const;
export const HpkeAead = { 'AES-128-GCM': 0x0001, 'AES-256-GCM': 0x0002, 'ChaCha20Poly1305': 0x0003, 'Export-only': 0xffff } as const;

interface KemInfo {
  group: GroupName;
  /** Nsecret, Nenc, Npk, Nsk. */
  nSecret: number;
  nEnc: number;
  nSk: number;
  /** DeriveKeyPair (section 7.1.3): X25519 takes the expanded bytes; NIST curves draw candidates. */
  candidates: boolean;
}

const kems: Record<number, KemInfo> = {
  0x0010: { group: 'secp256r1', nSecret: 32, nEnc: 65, nSk: 32, candidates: true },
  0x0020: { group: 'x25519', nSecret: 32, nEnc: 32, nSk: 32, candidates: false },
};
const kdfs: Record<number, HashName> = { 0x0001: 'sha256', 0x0002: 'sha384', 0x0003: 'sha512' };
const aeads: Record<number, { name: AeadName; nK: number } | null> = {
  0x0001: { name: 'AES-128-GCM', nK: 16 },
  0x0002: { name: 'AES-256-GCM', nK: 32 },
  0x0003: { name: 'CHACHA20-POLY1305', nK: 32 },
  0xffff: null,
};
const N_NONCE = 12;
/** Both DHKEMs here use HKDF-SHA256 inside the KEM, whatever the suite's KDF. */
const KEM_HASH: HashName = 'sha256';

export const HpkeMode = { base: 0x00, psk: 0x01 } as const;

export interface HpkeSuite {
  kem: number;
  kdf: number;
  aead: number;
}

/** Whether this HPKE supports the suite (an ECHConfig may offer ones it does not). */
export function hpkeSupports(s: HpkeSuite): boolean {
  return s.kem in kems && s.kdf in kdfs && s.aead in aeads;
}

function i2osp(n: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = length - 1, v = n; i >= 0; i--, v = Math.floor(v / 256)) out[i] = v & 0xff;
  return out;
}

const VERSION_LABEL = utf8.encode('HPKE-v1');

/** LabeledExtract / LabeledExpand (section 4) bound to one suite_id and hash. */
function labeled(p: CryptoProvider, hash: HashName, suiteId: Uint8Array) {
  return {
    extract: (salt: Uint8Array, label: string, ikm: Uint8Array) =>
      p.hkdfExtract(hash, salt, concat(VERSION_LABEL, suiteId, utf8.encode(label), ikm)),
    expand: (prk: Uint8Array, label: string, info: Uint8Array, length: number) =>
      p.hkdfExpand(hash, prk, concat(i2osp(length, 2), VERSION_LABEL, suiteId, utf8.encode(label), info), length),
  };
}

const EMPTY = new Uint8Array(0);

function kemOf(id: number): KemInfo {
  const k = kems[id];
  if (!k) throw new Error(`HPKE: unsupported KEM 0x${id.toString(16)}`);
  return k;
}

function kemLabels(p: CryptoProvider, id: number) {
  return labeled(p, KEM_HASH, concat(utf8.encode('KEM'), i2osp(id, 2)));
}

export interface HpkeKeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

/** DeriveKeyPair(ikm) (section 7.1.3): the same key pair from the same input keying material. */
export function hpkeDeriveKeyPair(p: CryptoProvider, kemId: number, ikm: Uint8Array): HpkeKeyPair {
  const kem = kemOf(kemId);
  const l = kemLabels(p, kemId);
  const prk = l.extract(EMPTY, 'dkp_prk', ikm);
  if (!kem.candidates) return p.generateKeyPair(kem.group, l.expand(prk, 'sk', EMPTY, kem.nSk));
  // P-256's bitmask is 0xff, so a candidate is used as drawn; the provider refuses 0 and >= n.
  for (let counter = 0; counter < 256; counter++) {
    try {
      return p.generateKeyPair(kem.group, l.expand(prk, 'candidate', i2osp(counter, 1), kem.nSk));
    } catch (err) {
      if (!(err instanceof UnusableSeedError)) throw err;
    }
  }
  throw new Error('HPKE: DeriveKeyPair found no key');
}

/** A fresh recipient key pair (what `tsls ech` puts in a key file). */
export function hpkeGenerateKeyPair(p: CryptoProvider, kemId: number): HpkeKeyPair {
  return hpkeDeriveKeyPair(p, kemId, p.random(kemOf(kemId).nSk));
}

function extractAndExpand(p: CryptoProvider, kemId: number, dh: Uint8Array, kemContext: Uint8Array): Uint8Array {
  const l = kemLabels(p, kemId);
  return l.expand(l.extract(EMPTY, 'eae_prk', dh), 'shared_secret', kemContext, kemOf(kemId).nSecret);
}

/** Encap(pkR); `ikmE` makes the ephemeral key deterministic (the test vectors' ikmE). */
function encap(p: CryptoProvider, kemId: number, pkR: Uint8Array, ikmE?: Uint8Array): { sharedSecret: Uint8Array; enc: Uint8Array } {
  const kem = kemOf(kemId);
  const skE = ikmE ? hpkeDeriveKeyPair(p, kemId, ikmE).privateKey : undefined;
  const { share: enc, secret: dh } = p.encapsulate(kem.group, pkR, skE);
  wipe(skE);
  const sharedSecret = extractAndExpand(p, kemId, dh, concat(enc, pkR));
  wipe(dh);
  return { sharedSecret, enc };
}

/** Decap(enc, skR); throws on a malformed `enc` (the caller's decrypt_error / illegal_parameter). */
function decap(p: CryptoProvider, kemId: number, enc: Uint8Array, skR: Uint8Array, pkR: Uint8Array): Uint8Array {
  const kem = kemOf(kemId);
  if (enc.length !== kem.nEnc) throw new Error(`HPKE: enc must be ${kem.nEnc} bytes, got ${enc.length}`);
  const dh = p.decapsulate(kem.group, skR, enc);
  const sharedSecret = extractAndExpand(p, kemId, dh, concat(enc, pkR));
  wipe(dh);
  return sharedSecret;
}

/** An HPKE context (section 5.2): one direction, sequence numbers counted here. */
export class HpkeContext {
  #seq = 0;
  constructor(
    private readonly p: CryptoProvider,
    private readonly suite: HpkeSuite,
    private readonly key: Uint8Array,
    private readonly baseNonce: Uint8Array,
    private readonly exporterSecret: Uint8Array,
  ) {}

  #nonce(): Uint8Array {
    const seq = i2osp(this.#seq, N_NONCE);
    return this.baseNonce.map((b, i) => b ^ seq[i]!);
  }

  #aead() {
    const a = aeads[this.suite.aead];
    if (!a) throw new Error('HPKE: the export-only AEAD cannot seal or open');
    return this.p.aead(a.name, this.key);
  }

  seal(aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const ct = this.#aead().seal(this.#nonce(), plaintext, aad);
    this.#seq++;
    return ct;
  }

  /** null when authentication fails; the sequence number moves on only on success. */
  open(aad: Uint8Array, ciphertext: Uint8Array): Uint8Array | null {
    const pt = this.#aead().open(this.#nonce(), ciphertext, aad);
    if (pt) this.#seq++;
    return pt;
  }

  export(exporterContext: Uint8Array, length: number): Uint8Array {
    return labeled(this.p, kdfs[this.suite.kdf]!, hpkeSuiteId(this.suite)).expand(this.exporterSecret, 'sec', exporterContext, length);
  }
}

function hpkeSuiteId(s: HpkeSuite): Uint8Array {
  return concat(utf8.encode('HPKE'), i2osp(s.kem, 2), i2osp(s.kdf, 2), i2osp(s.aead, 2));
}

export interface HpkePsk {
  psk: Uint8Array;
  pskId: Uint8Array;
}

/** KeySchedule (section 5.1); `psk` present selects mode_psk. */
function keySchedule(p: CryptoProvider, suite: HpkeSuite, sharedSecret: Uint8Array, info: Uint8Array, psk?: HpkePsk): HpkeContext {
  if (!hpkeSupports(suite)) throw new Error(`HPKE: unsupported suite ${suite.kem}/${suite.kdf}/${suite.aead}`);
  const hash = kdfs[suite.kdf]!;
  const l = labeled(p, hash, hpkeSuiteId(suite));
  const mode = psk ? HpkeMode.psk : HpkeMode.base;
  const context = concat(Uint8Array.of(mode), l.extract(EMPTY, 'psk_id_hash', psk?.pskId ?? EMPTY), l.extract(EMPTY, 'info_hash', info));
  const secret = l.extract(sharedSecret, 'secret', psk?.psk ?? EMPTY);
  const aead = aeads[suite.aead];
  const key = aead ? l.expand(secret, 'key', context, aead.nK) : EMPTY;
  const baseNonce = aead ? l.expand(secret, 'base_nonce', context, N_NONCE) : EMPTY;
  const exporterSecret = l.expand(secret, 'exp', context, hashLength[hash]);
  wipe(secret);
  return new HpkeContext(p, suite, key, baseNonce, exporterSecret);
}

export interface HpkeSetupOptions {
  psk?: HpkePsk;
  /** Deterministic ephemeral key (test vectors, replays); random otherwise. */
  ikmE?: Uint8Array;
}

/** SetupBaseS / SetupPSKS: the sender's context and the `enc` to send. */
export function hpkeSetupSender(
  p: CryptoProvider,
  suite: HpkeSuite,
  pkR: Uint8Array,
  info: Uint8Array,
  o: HpkeSetupOptions = {},
): { enc: Uint8Array; context: HpkeContext } {
  if (!hpkeSupports(suite)) throw new Error(`HPKE: unsupported suite ${suite.kem}/${suite.kdf}/${suite.aead}`);
  const { sharedSecret, enc } = encap(p, suite.kem, pkR, o.ikmE);
  const context = keySchedule(p, suite, sharedSecret, info, o.psk);
  wipe(sharedSecret);
  return { enc, context };
}

/** SetupBaseR / SetupPSKR: the recipient's context; throws on a malformed `enc`. */
export function hpkeSetupRecipient(
  p: CryptoProvider,
  suite: HpkeSuite,
  enc: Uint8Array,
  recipient: HpkeKeyPair,
  info: Uint8Array,
  o: Pick<HpkeSetupOptions, 'psk'> = {},
): HpkeContext {
  if (!hpkeSupports(suite)) throw new Error(`HPKE: unsupported suite ${suite.kem}/${suite.kdf}/${suite.aead}`);
  const sharedSecret = decap(p, suite.kem, enc, recipient.privateKey, recipient.publicKey);
  const context = keySchedule(p, suite, sharedSecret, info, o.psk);
  wipe(sharedSecret);
  return context;
}
