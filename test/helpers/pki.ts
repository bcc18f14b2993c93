/** The fixed test PKI in vectors/pki, loaded for tests. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CertifiedKey } from '../../src/config.js';
import { parseCertificateChain, parsePrivateKey } from '../../src/x509/parse-chain.js';

export const PKI_DIR = fileURLToPath(new URL('../../vectors/pki/', import.meta.url));

export type LeafName = 'leaf-ecdsa-p256' | 'leaf-ecdsa-p384' | 'leaf-ed25519' | 'leaf-rsa2048' | 'client-ecdsa-p256';
export const LEAVES: LeafName[] = ['leaf-ecdsa-p256', 'leaf-ecdsa-p384', 'leaf-ed25519', 'leaf-rsa2048'];

export function pkiPath(file: string): string {
  return PKI_DIR + file;
}

export function readPki(file: string): string {
  return readFileSync(pkiPath(file), 'utf8');
}

export function certifiedKey(name: LeafName): CertifiedKey {
  return { chain: parseCertificateChain(readPki(`${name}.chain.pem`)), key: parsePrivateKey(readPki(`${name}.key`)) };
}

export const rootCa = () => parseCertificateChain(readPki('root.crt'));
