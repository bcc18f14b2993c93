#!/usr/bin/env node
/**
 * `tsls`: the project's own s_client / s_server, and a debugging tool for TLS peers.
 *
 *   tsls client HOST:PORT [options]   connect, send stdin, print what comes back
 *   tsls server [options]             an echo (or --www status page) server
 *   tsls states [client|server]       the handshake state table as a Mermaid diagram
 *   tsls COMMAND --help               every flag of COMMAND; tsls --version
 *
 * Application data goes to stdout and nothing else does; everything about the connection
 * (summary, trace, errors) goes to stderr. Expected failures are one line and exit 1.
 *
 * Flags are declared once, in FLAGS: the parser, the per-command help and (for flags that
 * are node:tls options) the options passed to the socket all come from that table, so a
 * new flag is one line there. This file loads no engine code: each command's module is
 * imported when that command runs, so `--help` and start-up stay fast.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { describeError, readFile, say, UsageError, type Values } from './cli/cli-common.js';
import type { ConnectionOptions, TlsServerOptions } from './node/options.js';

type Command = 'client' | 'server' | 'ech';

/** The node:tls options a flag stands for (both sides take them unless the flag is one side's). */
type TlsOptions = Partial<ConnectionOptions> & Partial<TlsServerOptions>;

interface Flag {
  /** Which command takes it ('both': client and server; 'all': every command). */
  for: Command | 'both' | 'all';
  /** The value's placeholder in the help; none for a boolean flag. */
  arg?: string;
  /** The one command whose flag takes `arg`; for the others it is a boolean flag. */
  argFor?: Command;
  help: string;
  short?: string;
  /** The node:tls options it sets, from its value. */
  tls?: (value: string) => TlsOptions;
}

/** --ech-config: base64 as given, or a file holding base64 or an ECHCONFIG PEM block. */
function echConfigArg(v: string): string {
  if (!existsSync(v)) return v;
  const text = readFile(v, 'ECH config file');
  return /-----BEGIN ECHCONFIG-----([\s\S]*?)-----END ECHCONFIG-----/.exec(text)?.[1] ?? text;
}

/** A TLS version for node:tls's options; a DTLS one is left to --dtls (dtlsVersionOptions). */
function tlsVersion(name: 'minVersion' | 'maxVersion', v: string): TlsOptions {
  if (v === 'DTLSv1.2' || v === 'DTLSv1.3') return {};
  if (v !== 'TLSv1.2' && v !== 'TLSv1.3') throw new UsageError(`unknown version ${v} (TLSv1.2 or TLSv1.3; with --dtls, DTLSv1.2 or DTLSv1.3)`);
  return { [name]: v };
}

function webPkiMode(v: string): boolean | 'strict' {
  if (v === 'on' || v === 'off' || v === 'strict') return v === 'strict' ? v : v === 'on';
  throw new UsageError(`unknown --webpki-profile ${v} (on, off or strict)`);
}

const FLAGS: Record<string, Flag> = {
  port: { for: 'server', arg: 'N', help: 'port to listen on (default 4433; 0 picks a free one)' },
  host: { for: 'server', arg: 'HOST', help: 'address to listen on (default localhost: 127.0.0.1 and ::1)' },
  servername: { for: 'client', arg: 'NAME', help: 'SNI to send and name to verify (default: HOST unless it is an IP address; "" sends none)' },
  ca: { for: 'both', arg: 'FILE', help: 'trust anchors (PEM); client default: the Node root store', tls: (v) => ({ ca: readFile(v, 'CA file') }) },
  crl: { for: 'both', arg: 'FILE', help: "certificate revocation lists (PEM or DER, one or many) for every issuer in the peer's chain: a revoked certificate fails with CERT_REVOKED", tls: (v) => ({ crl: readFile(v, 'CRL file', true) }) },
  cert: { for: 'both', arg: 'FILE', help: 'our certificate chain (PEM, leaf first); with --key', tls: (v) => ({ cert: readFile(v, 'certificate') }) },
  key: { for: 'both', arg: 'FILE', help: 'our private key (PEM)', tls: (v) => ({ key: readFile(v, 'key') }) },
  insecure: { for: 'client', help: 'do not verify the server certificate (the report still says what is wrong with it)' },
  'webpki-profile': { for: 'client', arg: 'MODE', help: "the CA/Browser Forum's rules for the server certificate (extKeyUsage serverAuth, not a CA, no wildcard under a public suffix, subject CN copied from the subjectAltName): on (the default), off (RFC 5280 alone, for a private PKI) or strict (the exact CN copy)", tls: (v) => ({ webPkiProfile: webPkiMode(v) }) },
  verify: { for: 'server', help: 'require a client certificate that chains to --ca' },
  alpn: { for: 'both', arg: 'LIST', help: 'ALPN protocols, comma-separated (h2,http/1.1)', tls: (v) => ({ ALPNProtocols: v.split(',') }) },
  'min-version': { for: 'both', arg: 'V', help: 'lowest version: TLSv1.2 or TLSv1.3 (with --dtls: DTLSv1.2 or DTLSv1.3)', tls: (v) => tlsVersion('minVersion', v) },
  'max-version': { for: 'both', arg: 'V', help: 'highest version: TLSv1.2 or TLSv1.3 (with --dtls: DTLSv1.2 or DTLSv1.3)', tls: (v) => tlsVersion('maxVersion', v) },
  groups: { for: 'both', arg: 'LIST', help: 'key exchange groups in order of preference, node:tls ecdhCurve names (X25519MLKEM768:X25519:P-256); the client sends shares for the first (and X25519 with a hybrid)', tls: (v) => ({ ecdhCurve: v }) },
  ciphers: { for: 'both', arg: 'LIST', help: 'cipher suites: names or an OpenSSL cipher string (ECDHE+AESGCM:!SHA384)', tls: (v) => ({ ciphers: v }) },
  psk: { for: 'both', arg: 'HEX', help: 'pre-shared key: a TLS 1.3 external PSK, or the TLS 1.2 / DTLS PSK suites; with --psk-identity. A server with --psk and no --cert has no certificate at all' },
  'psk-identity': { for: 'both', arg: 'ID', help: 'the PSK identity the client sends (and the server expects)' },
  'psk-import': { for: 'both', help: 'with --psk: TLS 1.3 uses it as an RFC 9258 imported PSK (client: one per hash; server: accepts imported identities)' },
  'psk-context': { for: 'both', arg: 'CTX', help: 'with --psk-import: the ImportedIdentity context the client sends (and the server expects); default empty' },
  'psk-hash': { for: 'both', arg: 'H', help: "with --psk-import: the key's own hash, sha256 (default) or sha384; the client then imports it for that hash only (default: both)" },
  session: { for: 'client', arg: 'FILE', help: 'resume the session kept in FILE, and keep the new one there' },
  'early-data': { for: 'both', arg: 'FILE', argFor: 'client', help: 'client: send FILE as TLS 1.3 0-RTT when the --session allows it (resent after the handshake if refused); server: issue tickets that allow 0-RTT (16384 bytes) and say what arrived early' },
  www: { for: 'server', help: 'answer HTTP/1.1 requests with a status page of the connection (as s_server -www)' },
  echo: { for: 'server', help: 'echo what each client sends (the default)' },
  dtls: { for: 'both', help: 'DTLS over UDP (1.3, and 1.2 with a peer that speaks only that): the client sends each stdin line as one message; the server echoes' },
  mtu: { for: 'both', arg: 'N', help: 'with --dtls: the path MTU (UDP payload bytes, 200 to 65507)' },
  cid: { for: 'both', help: "with --dtls: connection IDs (RFC 9146, RFC 9147); the server gives each client an 8-byte CID and keeps its association when the client's address changes, the client uses the server's" },
  trace: { for: 'both', help: 'print every state transition and handshake message on stderr', tls: () => ({ enableTrace: true }) },
  keylog: { for: 'both', arg: 'FILE', help: 'append the secrets to FILE (SSLKEYLOGFILE format, for Wireshark)' },
  'ech-config': { for: 'client', arg: 'B64|FILE', help: 'Encrypted Client Hello with this ECHConfigList: base64, or a file (base64, or a key file\'s ECHCONFIG block)', tls: (v) => ({ ech: { configList: echConfigArg(v) } }) as TlsOptions },
  'ech-key': { for: 'server', arg: 'FILE', help: 'accept Encrypted Client Hello with this key file (tsls ech or openssl ech; repeatable as a comma list)', tls: (v) => ({ ech: { keys: v.split(',').map((f) => readFile(f, 'ECH key file')) } }) as TlsOptions },
  'public-name': { for: 'ech', arg: 'NAME', help: 'the public_name of the ECHConfig: the name the outer ClientHello shows' },
  out: { for: 'ech', arg: 'FILE', help: 'where to write the key file (private key and ECHConfigList, PEM as openssl ech writes it)' },
  help: { for: 'all', short: 'h', help: 'this help' },
};

const ABOUT: Record<Command, string> = {
  client: `usage: tsls client HOST:PORT [options]

Connect to HOST:PORT, send what comes on stdin, write what comes back to stdout.
The certificate chain, its verification, the version, suite, group, signature scheme,
ALPN and resumption are reported on stderr. Exits 0 after stdin's end and the server's reply.`,
  server: `usage: tsls server [options]

Listen on localhost:4433 and echo what clients send (or, with --www, answer HTTP/1.1
requests with a status page). Without --cert a throwaway self-signed certificate is made
and saved to a temporary file, for clients' --ca. One line per connection on stderr.`,
  ech: `usage: tsls ech --public-name NAME --out FILE

Make an Encrypted Client Hello key (X25519) and its ECHConfig, and write both to FILE in
the PEM format of RFC 9934 (what openssl ech writes and s_server -ech_key reads). The
ECHConfigList, in base64 as clients (and DNS HTTPS records) take it, goes to stdout.`,
};

const TOP = `usage:
  tsls client HOST:PORT [options]   connect, send stdin, print what comes back
  tsls server [options]             an echo server (--www: an HTTP status page; --dtls: over UDP)
  tsls states [client|server]       print the handshake state table as a Mermaid diagram
  tsls ech --public-name NAME --out FILE   make an ECH key file; the ECHConfigList to stdout
  tsls COMMAND --help               the options of COMMAND
  tsls --version`;

function flagsOf(command: Command): [string, Flag][] {
  return Object.entries(FLAGS)
    .filter(([, f]) => f.for === command || f.for === 'all' || (f.for === 'both' && command !== 'ech'))
    .map(([name, f]) => [name, f.argFor && f.argFor !== command ? { ...f, arg: undefined } : f]);
}

function helpText(command: Command): string {
  const rows = flagsOf(command).map(([name, f]) => [`${f.short ? `-${f.short}, ` : ''}--${name}${f.arg ? ` ${f.arg}` : ''}`, f.help] as const);
  const width = Math.max(...rows.map(([l]) => l.length));
  return `${ABOUT[command]}\n\noptions:\n${rows.map(([l, h]) => `  ${l.padEnd(width)}  ${h}`).join('\n')}\n`;
}

/** `argv` parsed against COMMAND's flags, and the node:tls options those flags stand for. */
function parse(command: Command, argv: string[]): { values: Values; positionals: string[]; tls: TlsOptions } {
  const options = Object.fromEntries(
    flagsOf(command).map(([name, f]) => [name, { type: f.arg ? ('string' as const) : ('boolean' as const), ...(f.short ? { short: f.short } : {}) }]),
  );
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const values = parsed.values as Values;
  let tls: TlsOptions = {};
  if (values.help) return { values, positionals: parsed.positionals, tls };
  for (const [name, f] of flagsOf(command)) {
    const v = values[name];
    if (v === undefined || !f.tls) continue;
    tls = { ...tls, ...f.tls(typeof v === 'string' ? v : '') };
  }
  return { values, positionals: parsed.positionals, tls };
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return `tsls ${pkg.version} (node ${process.versions.node})`;
}

async function run(command: string | undefined, rest: string[]): Promise<void> {
  if (command === 'client' || command === 'server') {
    const { values, positionals, tls } = parse(command, rest);
    if (values.help) return void process.stdout.write(helpText(command));
    if (command === 'client') return (await import('./cli/cli-client.js')).runClient(values, positionals, tls as ConnectionOptions);
    if (positionals.length) throw new UsageError(`server takes no ${positionals[0]} (flags only)`);
    return (await import('./cli/cli-server.js')).runServer(values, tls as TlsServerOptions);
  }
  if (command === 'ech') {
    const { values, positionals } = parse(command, rest);
    if (values.help) return void process.stdout.write(helpText(command));
    if (positionals.length) throw new UsageError(`ech takes no ${positionals[0]} (flags only)`);
    return (await import('./cli/cli-ech.js')).runEch(values);
  }
  if (command === 'states') {
    if (rest[0] === '--help' || rest[0] === '-h') return void process.stdout.write('usage: tsls states [client|server]\n');
    const { CLIENT_STATES, SERVER_STATES, toMermaid } = await import('./statem/states.js');
    const side = rest[0] ?? 'client';
    if (side !== 'client' && side !== 'server') throw new UsageError('states takes client or server');
    return void process.stdout.write(`${toMermaid(side === 'client' ? CLIENT_STATES : SERVER_STATES)}\n`);
  }
  if (command === '--version' || command === '-v' || command === 'version') return void process.stdout.write(`${version()}\n`);
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') return void process.stdout.write(`${TOP}\n`);
  throw new UsageError(`unknown command ${command}`);
}

const [command, ...rest] = process.argv.slice(2);
run(command, rest).catch((err: unknown) => {
  if (err instanceof UsageError) {
    const help = command === 'client' || command === 'server' || command === 'ech' ? `tsls ${command} --help` : 'tsls --help';
    say(`tsls: ${err.message} (see ${help})`);
  } else {
    say(`tsls: ${command ?? 'tsls'}: ${describeError(err)}`);
  }
  process.exit(1);
});
