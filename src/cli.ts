#!/usr/bin/env node
/**
 * `tsls`: the project's own s_client / s_server.
 *
 *   tsls server [--port 4433] [--host localhost] [--cert F --key F] [--ca F --verify]
 *               [--alpn h2,http/1.1] [--www | --echo] [--trace] [--keylog F]
 *   tsls client HOST:PORT [--servername N] [--ca F] [--insecure] [--alpn ...]
 *               [--cert F --key F] [--session FILE] [--trace] [--keylog F]
 *   --dtls (both): DTLS 1.2 over UDP. The server echoes each message back; the client sends
 *               each stdin line as one message and writes each message received to stdout.
 *
 * Application data goes to stdout and nothing else does; everything about the connection
 * (summary, trace, errors) goes to stderr. Expected failures are one line and exit 1.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { parseArgs } from 'node:util';
import { nodeProvider } from './crypto/node.js';
import { TLSError } from './errors.js';
import { decodeSession } from './statem/session.js';
import { pemEncode } from './x509/pem.js';
import { selfSignedCertificate } from './x509/selfsigned.js';
import { OID } from './x509/certificate.js';
import { Tag, contextTag, encodeDer, encodeOid, encodeSequence, encodeUnsigned } from './x509/der.js';
import { connect } from './node/connect.js';
import type { ConnectionOptions, TlsServerOptions } from './node/options.js';
import { createServer, type Server } from './node/server.js';
import { randomBytes } from 'node:crypto';
import type { TLSVersionName } from './config.js';
import type { TLSSocket } from './node/socket.js';
import { connectDtls, createDtlsServer, type DTLSSocket } from './node/dtls.js';
import { createInterface } from 'node:readline';
import { serveHttp } from './cli-www.js';

const USAGE = `usage:
  tsls server [--port 4433] [--host localhost] [--cert FILE --key FILE] [--ca FILE --verify]
              [--alpn h2,http/1.1] [--www | --echo] [--trace] [--keylog FILE]
              [--min-version TLSv1.2] [--max-version TLSv1.3] [--groups LIST]
  tsls client HOST:PORT [--servername NAME] [--ca FILE] [--insecure] [--alpn LIST]
              [--cert FILE --key FILE] [--session FILE] [--trace] [--keylog FILE]
              [--min-version TLSv1.2] [--max-version TLSv1.3] [--groups LIST]
  --psk HEX [--psk-identity ID] (both): an external pre-shared key (TLS 1.3 pre_shared_key, TLS 1.2
              and DTLS PSK suites); the identity defaults to Client_identity as in openssl. A server
              with --psk and no --cert has no certificate at all
  --groups X25519MLKEM768:X25519 (both): key exchange groups in order of preference, node:tls
              (ecdhCurve) names; the client sends key shares for the first (and X25519 with a hybrid)
  tsls server --dtls [--mtu N] ...  DTLS 1.2 over UDP, echoing each message (no --www)
  tsls client --dtls HOST:PORT [--mtu N] ...  each stdin line is one DTLS message
  tsls states [client|server]     print the handshake state table as a Mermaid diagram`;

const common = {
  alpn: { type: 'string' },
  trace: { type: 'boolean' },
  keylog: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  ca: { type: 'string' },
  'min-version': { type: 'string' },
  'max-version': { type: 'string' },
  groups: { type: 'string' },
  psk: { type: 'string' },
  'psk-identity': { type: 'string' },
  dtls: { type: 'boolean' },
  mtu: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

function fail(what: string, err: unknown): never {
  if (err instanceof TLSError) {
    const alert = err.remote ? `peer sent ${err.alert}` : `alert ${err.alert}`;
    say(`tsls: ${what}: ${err.message} (${err.code}, ${alert})`);
  } else if (err instanceof UsageError) {
    say(`tsls: ${err.message}\n${USAGE}`);
  } else {
    const e = err as NodeJS.ErrnoException;
    say(`tsls: ${what}: ${e?.message ?? String(err)}${e?.code ? ` (${e.code})` : ''}`);
  }
  process.exit(1);
}

function readFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

function versions(values: Record<string, unknown>) {
  const pick = (v: unknown): TLSVersionName | undefined => {
    if (v === undefined) return undefined;
    if (v !== 'TLSv1.2' && v !== 'TLSv1.3') throw new UsageError(`unknown version ${String(v)} (TLSv1.2 or TLSv1.3)`);
    return v;
  };
  return { minVersion: pick(values['min-version']), maxVersion: pick(values['max-version']) };
}

/** --groups as node:tls's ecdhCurve: colon-separated names (X25519MLKEM768:X25519:P-256). */
function groups(values: Record<string, unknown>): { ecdhCurve?: string } {
  return typeof values.groups === 'string' ? { ecdhCurve: values.groups } : {};
}

/** --psk HEX and --psk-identity ID (default Client_identity, as openssl's), checked. */
function externalPsk(values: Record<string, unknown>): { key: Buffer; identity: string } | undefined {
  const hex = values.psk;
  const identity = typeof values['psk-identity'] === 'string' ? values['psk-identity'] : 'Client_identity';
  if (hex === undefined) {
    if (values['psk-identity'] !== undefined) throw new UsageError('--psk-identity goes with --psk');
    return undefined;
  }
  if (typeof hex !== 'string' || !/^([0-9a-fA-F]{2})+$/.test(hex)) throw new UsageError('--psk takes the key in hex (an even number of hex digits)');
  return { key: Buffer.from(hex, 'hex'), identity };
}

/** The client's node:tls pskCallback for --psk. */
function clientPsk(values: Record<string, unknown>) {
  const psk = externalPsk(values);
  return psk ? { pskCallback: () => ({ psk: psk.key, identity: psk.identity }) } : {};
}

function keylogTo(emitter: TLSSocket | Server, file: string | undefined): void {
  if (file) emitter.on('keylog', (line: Buffer) => appendFileSync(file, line));
}

function summary(socket: TLSSocket): string {
  const conn = socket.connection;
  const parts = [socket.getProtocol() ?? '?', socket.getCipher()?.standardName ?? '?', conn.group ?? 'no (EC)DHE'];
  if (socket.alpnProtocol) parts.push(`ALPN ${socket.alpnProtocol}`);
  if (conn.sessionReused) parts.push('resumed');
  return parts.join(', ');
}

/**
 * The session kept in FILE, if there is one this version can resume; one it cannot read
 * (another tsls version's format, a damaged file) only costs a full handshake, with a warning.
 */
function storedSession(file: string | undefined): Buffer | undefined {
  if (!file || !existsSync(file)) return undefined;
  const bytes = readFileSync(file);
  try {
    decodeSession(bytes);
    return bytes;
  } catch (err) {
    say(`tsls: warning: ignoring the session in ${file} (${(err as Error).message}); doing a full handshake`);
    return undefined;
  }
}

function splitHostPort(target: string | undefined): { host: string; port: number } {
  const m = target && /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(target);
  if (!m) throw new UsageError('client needs HOST:PORT');
  return { host: (m[1] ?? m[2])!, port: Number(m[3]) };
}

// ---- client ------------------------------------------------------------------------------

function runClient(argv: string[]): void {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...common, servername: { type: 'string' }, insecure: { type: 'boolean' }, session: { type: 'string' } },
  });
  const { host, port } = splitHostPort(positionals[0]);
  if (values.insecure) say('tsls: warning: --insecure: the server certificate is NOT verified');
  if (!!values.cert !== !!values.key) throw new UsageError('--cert and --key go together');
  if (values.dtls) return runDtlsClient(values, host, port);
  if (values.mtu !== undefined) throw new UsageError('--mtu goes with --dtls');
  const sessionFile = values.session;
  const socket = connect({
    host,
    port,
    // Without --servername no SNI is sent and the certificate is checked against HOST itself.
    servername: values.servername ?? '',
    ca: values.ca ? readFile(values.ca, 'CA file') : undefined,
    rejectUnauthorized: !values.insecure,
    ALPNProtocols: values.alpn?.split(','),
    cert: values.cert ? readFile(values.cert, 'certificate') : undefined,
    key: values.key ? readFile(values.key, 'key') : undefined,
    session: storedSession(sessionFile),
    enableTrace: values.trace === true,
    ...versions(values),
    ...groups(values),
    ...clientPsk(values),
  } satisfies ConnectionOptions);
  keylogTo(socket, values.keylog);
  if (sessionFile) socket.on('session', (s: Buffer) => writeFileSync(sessionFile, s));
  socket.on('secureConnect', () => {
    say(`tsls: connected to ${host}:${port}: ${summary(socket)}`);
    process.stdin.pipe(socket);
  });
  socket.on('data', (d: Buffer) => process.stdout.write(d));
  socket.on('end', () => say('tsls: server closed the connection (close_notify)'));
  socket.on('error', (err) => fail(`connection to ${host}:${port} failed`, err));
  socket.on('close', (hadError: boolean) => process.exit(hadError ? 1 : 0));
}

// ---- server ------------------------------------------------------------------------------

function runServer(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...common,
      port: { type: 'string', default: '4433' },
      host: { type: 'string', default: 'localhost' },
      verify: { type: 'boolean' },
      www: { type: 'boolean' },
      echo: { type: 'boolean' },
    },
  });
  if (values.www && values.echo) throw new UsageError('--www and --echo exclude each other');
  if (values.www && values.dtls) throw new UsageError('--www is HTTP over TLS: it does not go with --dtls (a DTLS server echoes)');
  if (values.mtu !== undefined && !values.dtls) throw new UsageError('--mtu goes with --dtls');
  if (!!values.cert !== !!values.key) throw new UsageError('--cert and --key go together');
  if (values.verify && !values.ca) throw new UsageError('--verify needs --ca');
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`bad port ${values.port}`);

  let cert = values.cert ? readFile(values.cert, 'certificate') : undefined;
  let key = values.key ? readFile(values.key, 'key') : undefined;
  const psk = externalPsk(values);
  // With --psk alone the server is certificate-free: it authenticates by the PSK only.
  if (!cert && !psk) {
    const made = selfSignedCertificate(nodeProvider);
    cert = pemEncode('CERTIFICATE', made.chain[0]!.der);
    key = privateKeyPem(made.key);
    say('tsls: no --cert given: using a throwaway self-signed certificate for localhost, 127.0.0.1 and ::1');
  }
  const options: TlsServerOptions = {
    cert,
    key,
    ALPNProtocols: values.alpn?.split(','),
    enableTrace: values.trace === true,
    // One key for every listener, so a session from 127.0.0.1 resumes on ::1 too.
    ticketKeys: randomBytes(48),
    ...(values.ca ? { ca: readFile(values.ca, 'CA file') } : {}),
    ...(values.verify ? { requestCert: true, rejectUnauthorized: true } : {}),
    ...versions(values),
    ...groups(values),
    ...(psk ? { pskCallback: (_socket: null, identity: string) => (identity === psk.identity ? psk.key : null) } : {}),
  };
  if (values.dtls) return runDtlsServer(values, options, port);
  const mode = values.www ? 'www' : 'echo';

  const onSecure = (socket: TLSSocket) => {
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    const client = socket.connection.peerCertificates[0];
    say(`tsls: ${peer}: ${summary(socket)}${socket.servername ? `, SNI ${socket.servername}` : ''}${client ? `, client ${client.subject.text}` : ''}`);
    socket.on('error', (err) => say(`tsls: ${peer}: ${err instanceof TLSError ? `${err.message} (${err.code})` : err.message}`));
    if (mode === 'www') serveHttp(socket);
    else socket.pipe(socket);
  };

  const hosts = values.host === 'localhost' ? ['127.0.0.1', '::1'] : [values.host];
  let listening = 0;
  for (const host of hosts) {
    const server = createServer(options, onSecure);
    keylogTo(server, values.keylog);
    server.on('tlsClientError', (err: Error, socket: TLSSocket) => say(`tsls: ${socket.remoteAddress}:${socket.remotePort}: handshake failed: ${err.message}${err instanceof TLSError ? ` (${err.code})` : ''}`));
    server.on('error', (err: NodeJS.ErrnoException) => {
      // ::1 may not exist on this machine; 127.0.0.1 is enough for `localhost`.
      if (hosts.length > 1 && host === '::1' && (err.code === 'EADDRNOTAVAIL' || err.code === 'EAFNOSUPPORT')) return;
      fail(`cannot listen on ${host}:${port}`, err);
    });
    server.listen(port, host, () => {
      const address = server.address() as net.AddressInfo;
      if (listening++ === 0) say(`tsls: ${mode} server listening on ${values.host}:${address.port}`);
    });
  }
}

// ---- DTLS ----------------------------------------------------------------------------------

function mtuOption(v: string | undefined): { mtu?: number } {
  if (v === undefined) return {};
  const mtu = Number(v);
  if (!Number.isInteger(mtu) || mtu < 200 || mtu > 65507) throw new UsageError(`bad --mtu ${v} (200 to 65507 bytes of UDP payload)`);
  return { mtu };
}

/** DTLS takes 'DTLSv1.2' only: --min/max-version TLSv1.3 is refused, TLSv1.2 means DTLS 1.2. */
function dtlsVersions(values: Record<string, unknown>): void {
  const v = versions(values);
  if (v.minVersion === 'TLSv1.3' || v.maxVersion === 'TLSv1.3') throw new UsageError('--dtls speaks DTLS 1.2 (TLS 1.2 based) only');
}

function dtlsSummary(socket: DTLSSocket): string {
  const parts = [socket.getProtocol() ?? '?', socket.getCipher()?.standardName ?? '?', socket.connection.group ?? 'no (EC)DHE'];
  if (socket.alpnProtocol) parts.push(`ALPN ${socket.alpnProtocol}`);
  return parts.join(', ');
}

function runDtlsClient(values: Record<string, string | boolean | undefined>, host: string, port: number): void {
  if (values.session) throw new UsageError('--session does not go with --dtls');
  dtlsVersions(values);
  const str = (k: string) => values[k] as string | undefined;
  const socket = connectDtls({
    host,
    port,
    servername: str('servername') ?? '',
    ca: str('ca') ? readFile(str('ca')!, 'CA file') : undefined,
    rejectUnauthorized: !values.insecure,
    ALPNProtocols: str('alpn')?.split(','),
    cert: str('cert') ? readFile(str('cert')!, 'certificate') : undefined,
    key: str('key') ? readFile(str('key')!, 'key') : undefined,
    enableTrace: values.trace === true,
    ...mtuOption(str('mtu')),
    ...clientPsk(values),
  });
  if (str('keylog')) socket.on('keylog', (line: Buffer) => appendFileSync(str('keylog')!, line));
  socket.on('secureConnect', () => {
    say(`tsls: connected to ${host}:${port} over UDP: ${dtlsSummary(socket)}`);
    // One message per line, newline included (as s_client sends it); EOF closes (close_notify).
    const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
    lines.on('line', (line) => socket.send(`${line}\n`));
    lines.on('close', () => socket.close());
  });
  socket.on('message', (m: Buffer) => process.stdout.write(m));
  socket.on('end', () => say('tsls: server closed the association (close_notify)'));
  socket.on('error', (err) => fail(`DTLS association with ${host}:${port} failed`, err));
  socket.on('close', (hadError: boolean) => process.exit(hadError ? 1 : 0));
}

function runDtlsServer(values: Record<string, string | boolean | undefined>, options: TlsServerOptions, port: number): void {
  dtlsVersions(values);
  const { ticketKeys: _t, minVersion: _min, maxVersion: _max, ...tls } = options;
  const host = values.host as string;
  const onSecure = (socket: DTLSSocket) => {
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    const client = socket.connection.peerCertificates[0];
    say(`tsls: ${peer}: ${dtlsSummary(socket)}${client ? `, client ${client.subject.text}` : ''}`);
    socket.on('message', (m: Buffer) => {
      if (socket.established) socket.send(m);
    });
    socket.on('error', (err) => say(`tsls: ${peer}: ${err instanceof TLSError ? `${err.message} (${err.code})` : err.message}`));
    socket.on('close', () => say(`tsls: ${peer}: closed`));
  };
  const hosts = host === 'localhost' ? ['127.0.0.1', '::1'] : [host];
  let listening = 0;
  for (const h of hosts) {
    const server = createDtlsServer({ ...tls, ...mtuOption(values.mtu as string | undefined) }, onSecure);
    if (values.keylog) server.on('keylog', (line: Buffer) => appendFileSync(values.keylog as string, line));
    server.on('tlsClientError', (err: Error, socket: DTLSSocket) => say(`tsls: ${socket.remoteAddress}:${socket.remotePort}: handshake failed: ${err.message}${err instanceof TLSError ? ` (${err.code})` : ''}`));
    server.on('error', (err: NodeJS.ErrnoException) => {
      if (hosts.length > 1 && h === '::1' && (err.code === 'EADDRNOTAVAIL' || err.code === 'EAFNOSUPPORT')) return;
      fail(`cannot listen on ${h}:${port} (UDP)`, err);
    });
    server.listen(port, h, () => {
      if (listening++ === 0) say(`tsls: dtls echo server listening on ${host}:${server.address().port} (UDP)`);
    });
  }
}

function privateKeyPem(key: ReturnType<typeof selfSignedCertificate>['key']): string {
  if (key.kind !== 'ec') throw new Error('unexpected key kind');
  const der = encodeSequence(
    encodeUnsigned(1n),
    encodeDer(Tag.OCTET_STRING, key.d),
    encodeDer(contextTag(0, true), encodeOid(OID.prime256v1)),
    encodeDer(contextTag(1, true), encodeDer(Tag.BIT_STRING, Uint8Array.of(0, ...key.point))),
  );
  return pemEncode('EC PRIVATE KEY', der);
}

async function runStates(argv: string[]): Promise<void> {
  const { CLIENT_STATES, SERVER_STATES, toMermaid } = await import('./statem/states.js');
  const side = argv[0] ?? 'client';
  if (side !== 'client' && side !== 'server') throw new UsageError('states takes client or server');
  process.stdout.write(`${toMermaid(side === 'client' ? CLIENT_STATES : SERVER_STATES)}\n`);
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  try {
    if (command === 'server') runServer(rest);
    else if (command === 'client') runClient(rest);
    else if (command === 'states') await runStates(rest);
    else if (command === undefined || command === '--help' || command === '-h' || command === 'help') process.stdout.write(`${USAGE}\n`);
    else throw new UsageError(`unknown command ${command}`);
  } catch (err) {
    if (err instanceof Error && 'code' in err && String((err as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS')) fail('bad arguments', new UsageError(err.message));
    fail(command ?? 'tsls', err);
  }
}

void main();
