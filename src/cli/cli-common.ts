/**
 * What the `tsls` subcommands share: the usage error, the one-line stderr reports, reading
 * files named on the command line. Kept free of the engine so `tsls --help` loads nothing
 * else (start-up time).
 */
import { readFileSync } from 'node:fs';

/** A mistake on the command line: reported in one line, with a pointer to `--help`. */
export class UsageError extends Error {}

/** Everything about the connection goes to stderr; stdout carries application data only. */
export function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function readFile(path: string, what: string): string;
export function readFile(path: string, what: string, binary: true): Uint8Array;
/** A file's text, or its bytes (`binary`: a CRL may be DER). */
export function readFile(path: string, what: string, binary = false): string | Uint8Array {
  try {
    return binary ? readFileSync(path) : readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

/** Parsed flag values, as node:util parseArgs gives them. */
export type Values = Record<string, string | boolean | undefined>;

export const str = (values: Values, name: string): string | undefined => {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
};

/** An error as one line: the message, then the code and the alert unless the message already names them. */
export function describeError(err: unknown): string {
  const e = err as Partial<NodeJS.ErrnoException> & { alert?: string; remote?: boolean };
  const message = e?.message ?? String(err);
  const extra: string[] = [];
  if (e?.code && !message.includes(e.code)) extra.push(e.code);
  // TLSErrors: say which side sent the alert, once: not when the message or code names it.
  const alert = e?.alert;
  if (alert && alert !== 'internal_error' && !message.includes(alert) && !(e.code ?? '').includes(alert.toUpperCase())) {
    extra.push(`${e.remote ? 'peer sent' : 'sent'} alert ${alert}`);
  }
  return extra.length ? `${message} (${extra.join(', ')})` : message;
}

/**
 * --psk/--psk-identity: the key and identity for node's pskCallback (a TLS 1.3 external PSK,
 * or the TLS 1.2 / DTLS PSK suites); with --psk-import (--psk-context, --psk-hash), how TLS
 * 1.3 imports it (RFC 9258).
 */
export function pskOptions(
  values: Values,
): { key: Buffer; identity: string; imported?: { context?: string; hashes?: ('sha256' | 'sha384')[]; epskHash?: 'sha256' | 'sha384' } } | undefined {
  const hex = str(values, 'psk');
  const identity = str(values, 'psk-identity');
  const context = str(values, 'psk-context');
  const hash = str(values, 'psk-hash');
  if ((context !== undefined || hash !== undefined) && !values['psk-import']) throw new UsageError('--psk-context and --psk-hash go with --psk-import');
  if (hex === undefined && identity === undefined) {
    if (values['psk-import']) throw new UsageError('--psk-import needs --psk and --psk-identity');
    return undefined;
  }
  if (hex === undefined || identity === undefined) throw new UsageError('--psk and --psk-identity go together');
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) throw new UsageError('--psk takes the key in hex');
  if (hash !== undefined && hash !== 'sha256' && hash !== 'sha384') throw new UsageError(`bad --psk-hash ${hash} (sha256 or sha384)`);
  const h = hash as 'sha256' | 'sha384' | undefined;
  const imported = values['psk-import'] ? { ...(context !== undefined ? { context } : {}), ...(h ? { hashes: [h], epskHash: h } : {}) } : undefined;
  return { key: Buffer.from(hex, 'hex'), identity, ...(imported ? { imported } : {}) };
}

/** --cid with --dtls: the connection_id extension (RFC 9146). */
export function cidLine(ids: { send: Uint8Array; receive: Uint8Array } | undefined): string {
  const hex = (b: Uint8Array) => (b.length ? Buffer.from(b).toString('hex') : 'none');
  return ids ? `connection IDs: ours ${hex(ids.receive)}, the peer's ${hex(ids.send)}` : 'no connection IDs (the peer did not agree)';
}

export function mtuOption(v: string | undefined): { mtu?: number } {
  if (v === undefined) return {};
  const mtu = Number(v);
  if (!Number.isInteger(mtu) || mtu < 200 || mtu > 65507) throw new UsageError(`bad --mtu ${v} (200 to 65507 bytes of UDP payload)`);
  return { mtu };
}

export type DtlsVersionName = 'DTLSv1.2' | 'DTLSv1.3';

/**
 * --min-version/--max-version, checked against --dtls: with it, DTLSv1.2 or DTLSv1.3 (the
 * options connectDtls and createDtlsServer take); without it, the TLS names (node:tls's own,
 * already in the TLS options), and a DTLS name is a mistake.
 */
export function dtlsVersionOptions(values: Values, dtls: boolean): { minVersion?: DtlsVersionName; maxVersion?: DtlsVersionName } {
  const out: { minVersion?: DtlsVersionName; maxVersion?: DtlsVersionName } = {};
  for (const [flag, name] of [['min-version', 'minVersion'], ['max-version', 'maxVersion']] as const) {
    const v = str(values, flag);
    if (v === undefined) continue;
    const isDtls = v === 'DTLSv1.2' || v === 'DTLSv1.3';
    if (dtls && !isDtls) throw new UsageError(`--${flag} ${v}: with --dtls the versions are DTLSv1.2 and DTLSv1.3`);
    if (!dtls && isDtls) throw new UsageError(`--${flag} ${v} goes with --dtls`);
    if (isDtls) out[name] = v;
  }
  return out;
}
