/**
 * ECH key files (RFC 9934, the format `openssl ech` writes and `s_server -ech_key` reads):
 * a PKCS#8 `PRIVATE KEY` block followed by an `ECHCONFIG` block holding the base64 of an
 * ECHConfigList whose configs carry that key's public half. Making a key pair with its config,
 * and reading either our files or OpenSSL's, both in the core (browser-safe) code.
 */
import { HpkeAead, HpkeKdf, HpkeKem, hpkeGenerateKeyPair, hpkeSupports } from '../crypto/hpke.js';
import type { CryptoProvider, GroupName } from '../crypto/provider.js';
import { TLSError } from '../errors.js';
import { encodeEchConfig, encodeEchConfigList, parseEchConfigList, type ECHConfig } from '../messages/ech.js';
import { concat, equal, fromHex } from '../util/bytes.js';
import { base64Decode, base64Encode, parsePrivateKey, pemDecode, pemEncode } from '../x509/parse-chain.js';

/** A server's ECH key: the config it publishes and the private key that opens hellos sent to it. */
export interface EchKey {
  config: ECHConfig;
  privateKey: Uint8Array;
  publicKey: Uint8Array;
  /** Whether the config goes into retry_configs when a client's ECH fails (default true). */
  retry?: boolean;
}

/** PKCS#8 of an X25519 private key is this fixed prefix and the 32 key bytes (RFC 8410 section 7). */
const X25519_PKCS8_PREFIX = fromHex('302e020100300506032b656e04220420');

const groupOfKem: Record<number, GroupName> = { [HpkeKem['DHKEM(X25519, HKDF-SHA256)']]: 'x25519', [HpkeKem['DHKEM(P-256, HKDF-SHA256)']]: 'secp256r1' };

function configError(message: string): TLSError {
  return new TLSError('internal_error', `ECH key file: ${message}`, { code: 'ERR_TLS_ECH_KEY_FILE' });
}

/** The private key of a key file and the KEM it belongs to. */
function readPrivateKey(der: Uint8Array): { kem: number; privateKey: Uint8Array } {
  if (der.length === X25519_PKCS8_PREFIX.length + 32 && equal(der.subarray(0, X25519_PKCS8_PREFIX.length), X25519_PKCS8_PREFIX)) {
    return { kem: HpkeKem['DHKEM(X25519, HKDF-SHA256)'], privateKey: der.slice(X25519_PKCS8_PREFIX.length) };
  }
  const key = parsePrivateKey(der);
  if (key.kind === 'ec' && key.curve === 'P-256') return { kem: HpkeKem['DHKEM(P-256, HKDF-SHA256)'], privateKey: key.d.slice() };
  throw configError('the private key is neither X25519 nor P-256');
}

/**
 * The ECH keys of a PEM key file: each config in its ECHCONFIG block that carries the public
 * half of its private key (another config there could never be opened, so it is an error).
 */
export function parseEchKeyFile(provider: CryptoProvider, pem: string): EchKey[] {
  const blocks = pemDecode(pem);
  const keyBlock = blocks.find((b) => b.label === 'PRIVATE KEY');
  const configBlock = /-----BEGIN ECHCONFIG-----([\s\S]*?)-----END ECHCONFIG-----/.exec(pem);
  if (!keyBlock) throw configError('no PRIVATE KEY block');
  if (!configBlock) throw configError('no ECHCONFIG block');
  const { kem, privateKey } = readPrivateKey(keyBlock.der);
  const publicKey = provider.generateKeyPair(groupOfKem[kem]!, privateKey).publicKey;
  const configs = parseEchConfigList(base64Decode(configBlock[1]!));
  if (!configs.length) throw configError('no ECHConfig of a version we know');
  return configs.map((config) => {
    const k = config.contents.key_config;
    if (k.kem_id !== kem || !equal(k.public_key, publicKey)) throw configError(`config ${k.config_id} is not for this private key`);
    if (!k.cipher_suites.some((s) => hpkeSupports({ kem, kdf: s.kdf_id, aead: s.aead_id }))) throw configError(`config ${k.config_id} offers no HPKE suite we support`);
    return { config, privateKey, publicKey };
  });
}

export interface EchKeyOptions {
  publicName: string;
  /** One byte; random when not given. */
  configId?: number;
  /** RFC 9849 maximum_name_length; 0 lets the client pad by its own rule. */
  maximumNameLength?: number;
}

/** A new X25519 ECH key with its config (HKDF-SHA256 with AES-128-GCM or ChaCha20Poly1305). */
export function generateEchKey(provider: CryptoProvider, o: EchKeyOptions): EchKey {
  const kem = HpkeKem['DHKEM(X25519, HKDF-SHA256)'];
  const pair = hpkeGenerateKeyPair(provider, kem);
  const config = encodeEchConfig({
    key_config: {
      config_id: o.configId ?? provider.random(1)[0]!,
      kem_id: kem,
      public_key: pair.publicKey,
      cipher_suites: [
        { kdf_id: HpkeKdf['HKDF-SHA256'], aead_id: HpkeAead['AES-128-GCM'] },
        { kdf_id: HpkeKdf['HKDF-SHA256'], aead_id: HpkeAead.ChaCha20Poly1305 },
      ],
    },
    maximum_name_length: o.maximumNameLength ?? 0,
    public_name: o.publicName,
    extensions: [],
  });
  return { config, privateKey: pair.privateKey, publicKey: pair.publicKey };
}

/** The key file for `key` (RFC 9934): PKCS#8 private key, then the ECHConfigList. */
export function echKeyFile(key: EchKey): string {
  if (key.config.contents.key_config.kem_id !== HpkeKem['DHKEM(X25519, HKDF-SHA256)']) throw configError('only X25519 keys are written');
  return pemEncode('PRIVATE KEY', concat(X25519_PKCS8_PREFIX, key.privateKey)) + pemEncode('ECHCONFIG', encodeEchConfigList([key.config]));
}

/** An ECHConfigList given as bytes or as base64 (how DNS HTTPS records and `openssl ech` show it). */
export function echConfigListBytes(configList: Uint8Array | string): Uint8Array {
  if (typeof configList !== 'string') return configList;
  try {
    return base64Decode(configList.trim());
  } catch (err) {
    throw new TLSError('internal_error', 'ECH config list: not valid base64', { cause: err, code: 'ERR_TLS_ECH_CONFIG_LIST' });
  }
}

/** The base64 form of the ECHConfigList of `keys` (what clients are given). */
export function echConfigListBase64(keys: EchKey[]): string {
  return base64Encode(encodeEchConfigList(keys.map((k) => k.config)));
}
