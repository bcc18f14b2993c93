/**
 * `tsls ech`: make an ECH key pair and its ECHConfig, written as the PEM key file (RFC 9934)
 * that `tsls server --ech-key` and OpenSSL 4's `s_server -ech_key` both read; the base64
 * ECHConfigList that clients take goes to stdout, as `openssl ech` shows it.
 */
import { writeFileSync } from 'node:fs';
import { UsageError, str, type Values } from './cli-common.js';
import { nodeProvider } from '../crypto/node.js';
import { echConfigListBase64, echKeyFile, generateEchKey } from '../ech/keys.js';

export function runEch(values: Values): void {
  const publicName = str(values, 'public-name');
  const out = str(values, 'out');
  if (!publicName) throw new UsageError('ech needs --public-name NAME');
  if (!out) throw new UsageError('ech needs --out FILE');
  // RFC 9849 section 6.1.7: a public_name is a DNS name (an IP address is no name to verify).
  if (!/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?$/.test(publicName) || /^[0-9.]+$/.test(publicName)) {
    throw new UsageError(`--public-name ${publicName} is not a DNS name`);
  }
  const key = generateEchKey(nodeProvider, { publicName });
  writeFileSync(out, echKeyFile(key), { mode: 0o600 });
  process.stdout.write(`${echConfigListBase64([key])}\n`);
}
