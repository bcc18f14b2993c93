/**
 * Private keys in the three formats OpenSSL writes: PKCS#8 (`PRIVATE KEY`), SEC1 (`EC
 * PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`), as PEM or DER. A key is checked as it is read
 * (the scalar in range, the public half derived and compared with any embedded copy), which
 * takes curve arithmetic: that is why this lives with the crypto code, below X.509.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256, p384 } from '@noble/curves/nist.js';
import { TLSError } from '../errors.js';
import { contextTag, DerError, DerReader, Tag } from '../util/der.js';
import { asText, pemDecode } from '../util/pem.js';
import type { PrivateKey, PublicKey } from './provider.js';
import { bitLength } from './rsa.js';

/** Algorithm OIDs of the keys tsls reads (RFC 5480, RFC 8410, RFC 8017); X.509 names them from here. */
export const KEY_OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  prime256v1: '1.2.840.10045.3.1.7',
  secp384r1: '1.3.132.0.34',
  ed25519: '1.3.101.112',
  rsaEncryption: '1.2.840.113549.1.1.1',
} as const;

export type EcCurveName = 'P-256' | 'P-384';
export const curveByOid: Record<string, EcCurveName> = { [KEY_OID.prime256v1]: 'P-256', [KEY_OID.secp384r1]: 'P-384' };
const ecCurves = { 'P-256': p256, 'P-384': p384 } as const;


function ecKey(curve: EcCurveName, dBytes: Uint8Array, publicBits: Uint8Array | undefined): PrivateKey {
  const c = ecCurves[curve];
  const size = c.lengths.secretKey!;
  if (dBytes.length > size) throw new DerError(`${curve} private key: scalar too long`);
  // Some encoders drop leading zero octets of the scalar.
  const d = new Uint8Array(size);
  d.set(dBytes, size - dBytes.length);
  if (!c.utils.isValidSecretKey(d)) throw new DerError(`${curve} private key: scalar out of range`);
  const point = c.getPublicKey(d, false);
  if (publicBits) {
    let given: Uint8Array;
    try {
      given = c.Point.fromBytes(publicBits).toBytes(false);
    } catch {
      throw new DerError(`${curve} private key: embedded public key is not a point`);
    }
    if (!sameBytes(given, point)) throw new DerError(`${curve} private key: embedded public key does not match`);
  }
  return { kind: 'ec', curve, d, point };
}

function namedCurve(oid: string): EcCurveName {
  const curve = curveByOid[oid];
  if (!curve) throw new TLSError('internal_error', `EC private key: curve ${oid} not supported`);
  return curve;
}

/** SEC1 ECPrivateKey (RFC 5915); `curve` comes from the PKCS#8 wrapper when there is one. */
function parseSec1(der: Uint8Array, curve?: EcCurveName): PrivateKey {
  const outer = new DerReader(der, 'ECPrivateKey');
  const seq = outer.sequence();
  outer.end();
  if (seq.smallInteger() !== 1) throw new DerError('ECPrivateKey: version must be 1');
  const d = seq.octetString();
  const params = seq.explicit(0);
  if (params) {
    const named = namedCurve(params.oid());
    params.end();
    if (curve && curve !== named) throw new DerError('ECPrivateKey: curve differs from the PKCS#8 algorithm');
    curve = named;
  }
  const pub = seq.explicit(1);
  const point = pub?.bitStringBytes();
  pub?.end();
  seq.end();
  if (!curve) throw new DerError('ECPrivateKey: no curve given');
  return ecKey(curve, d, point);
}

/** PKCS#1 RSAPrivateKey (RFC 8017 appendix A.1.2), two primes only. */
function parsePkcs1(der: Uint8Array): PrivateKey {
  const outer = new DerReader(der, 'RSAPrivateKey');
  const seq = outer.sequence();
  outer.end();
  if (seq.smallInteger() !== 0) throw new TLSError('internal_error', 'RSAPrivateKey: multi-prime keys are not supported');
  const [n, e, d, p, q, dp, dq, qi] = Array.from({ length: 8 }, () => seq.integer()) as [bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint];
  seq.end();
  if (n <= 0n || p * q !== n) throw new DerError('RSAPrivateKey: p * q != n');
  return { kind: 'rsa', n, e, d, p, q, dp, dq, qi, bits: bitLength(n) };
}

/** PKCS#8 PrivateKeyInfo / OneAsymmetricKey (RFC 5208, RFC 5958). */
function parsePkcs8(der: Uint8Array): PrivateKey {
  const outer = new DerReader(der, 'PrivateKeyInfo');
  const seq = outer.sequence();
  outer.end();
  const version = seq.smallInteger();
  if (version !== 0 && version !== 1) throw new DerError(`PrivateKeyInfo: unknown version ${version}`);
  const alg = seq.sequence('PrivateKeyInfo algorithm');
  const oid = alg.oid();
  const params = alg.done ? undefined : alg.any();
  alg.end();
  const inner = seq.octetString();
  seq.optional(contextTag(0, true)); // attributes
  const publicKey = version === 1 ? seq.optional(contextTag(1, false)) : undefined;
  seq.end();

  switch (oid) {
    case KEY_OID.ecPublicKey: {
      if (!params || params.tag !== Tag.OID) throw new TLSError('internal_error', 'EC private key without a named curve');
      return parseSec1(inner, namedCurve(new DerReader(params.raw).oid()));
    }
    case KEY_OID.ed25519: {
      if (params) throw new DerError('Ed25519 private key: unexpected parameters');
      const r = new DerReader(inner, 'CurvePrivateKey');
      const seed = r.octetString();
      r.end();
      if (seed.length !== 32) throw new DerError('Ed25519 private key must be 32 bytes');
      const key = ed25519.getPublicKey(seed);
      if (publicKey) {
        const bits = new DerReader(publicKey.raw).bitStringBytes(contextTag(1, false));
        if (!sameBytes(bits, key)) throw new DerError('Ed25519 private key: embedded public key does not match');
      }
      return { kind: 'ed25519', seed: seed.slice(), key };
    }
    case KEY_OID.rsaEncryption:
      if (params && (params.tag !== Tag.NULL || params.value.length)) throw new DerError('RSA private key: parameters must be NULL');
      return parsePkcs1(inner);
    default:
      throw new TLSError('internal_error', `private key algorithm ${oid} not supported`);
  }
}

/** Which of the three structures a DER key is, from the type of its second field. */
function parseKeyDer(der: Uint8Array): PrivateKey {
  const seq = new DerReader(der, 'private key').sequence();
  seq.integer();
  const second = seq.peek();
  if (second?.tag === Tag.SEQUENCE) return parsePkcs8(der);
  if (second?.tag === Tag.OCTET_STRING) return parseSec1(der);
  if (second?.tag === Tag.INTEGER) return parsePkcs1(der);
  throw new DerError('private key: not PKCS#8, SEC1 or PKCS#1');
}

const keyParsers: Record<string, (der: Uint8Array) => PrivateKey> = {
  'PRIVATE KEY': parsePkcs8,
  'EC PRIVATE KEY': (der) => parseSec1(der),
  'RSA PRIVATE KEY': parsePkcs1,
};

/**
 * The first private key in PEM text, or a DER key. Throws TLSError with alert internal_error
 * (a bad local key is our configuration problem, not the peer's).
 */
export function parsePrivateKey(pem: string | Uint8Array): PrivateKey {
  try {
    const text = typeof pem === 'string' ? pem : asText(pem);
    if (text === undefined) return parseKeyDer(pem as Uint8Array);
    for (const block of pemDecode(text)) {
      if (block.label === 'ENCRYPTED PRIVATE KEY') throw new TLSError('internal_error', 'encrypted private keys are not supported');
      const parse = keyParsers[block.label];
      if (parse) return parse(block.der);
    }
    throw new TLSError('internal_error', 'no private key found');
  } catch (err) {
    if (err instanceof TLSError && err.alert === 'internal_error') throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new TLSError('internal_error', `invalid private key: ${message}`, { cause: err });
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Whether `pub` (say, from a certificate) is the public half of `priv`. */
export function publicKeyMatches(priv: PrivateKey, pub: PublicKey): boolean {
  switch (priv.kind) {
    case 'ec':
      return pub.kind === 'ec' && pub.curve === priv.curve && sameBytes(pub.point, priv.point);
    case 'ed25519':
      return pub.kind === 'ed25519' && sameBytes(pub.key, priv.key);
    case 'rsa':
      return pub.kind === 'rsa' && pub.n === priv.n && pub.e === priv.e;
  }
}
