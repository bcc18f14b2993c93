/**
 * `tsls client HOST:PORT`: stdin to the server, the server's data to stdout, and on stderr
 * a report of the connection (cli-report.ts). Over TLS, stdin's end sends close_notify and
 * the client exits when the server closes; over DTLS (no half-close), it closes after a
 * short quiet period once stdin ended, so a reply to the last line still arrives.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { cidLine, describeError, dtlsVersionOptions, mtuOption, pskOptions, readFile, say, str, UsageError, type Values } from './cli-common.js';
import { clientDetails, summary } from './cli-report.js';
import { connect } from '../node/connect.js';
import type { ConnectionOptions } from '../node/options.js';
import type { TLSSocket } from '../node/socket.js';
import { decodeSession } from '../statem/session.js';

/** How long a DTLS client waits for more replies after stdin ended (reset by each reply). */
const DTLS_QUIET_MS = 1000;

function splitHostPort(target: string | undefined): { host: string; port: number } {
  const m = target && /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(target);
  if (!m) throw new UsageError('client needs HOST:PORT');
  return { host: (m[1] ?? m[2])!, port: Number(m[3]) };
}

/**
 * The session kept in FILE, if there is one this version can resume; one it cannot read
 * (another tsls version's format, a damaged file) only costs a full handshake, with a warning.
 */
/** A session the server gave: said on stderr and, with --session FILE, kept for the next run. */
function keepSession(s: Buffer, sessionFile: string | undefined): void {
  if (sessionFile) writeFileSync(sessionFile, s);
  const { ticket, state } = decodeSession(s);
  say(`tsls:   session ${ticket.length ? 'ticket' : 'session ID'} received, lifetime ${state.lifetime_s} s${sessionFile ? `, kept in ${sessionFile}` : ''}`);
}

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

export async function runClient(values: Values, positionals: string[], tls: ConnectionOptions): Promise<void> {
  const { host, port } = splitHostPort(positionals[0]);
  if (positionals.length > 1) throw new UsageError(`unexpected ${positionals[1]}`);
  if (values.insecure) say('tsls: warning: --insecure: the server certificate is NOT verified');
  if (!!values.cert !== !!values.key) throw new UsageError('--cert and --key go together');
  const psk = pskOptions(values);
  const options: ConnectionOptions = {
    ...tls,
    host,
    port,
    // SNI: HOST when it is a name (connect()'s default), none for an IP literal; the certificate is checked against it.
    ...(values.servername !== undefined ? { servername: str(values, 'servername') } : {}),
    rejectUnauthorized: !values.insecure,
    ...(psk ? { pskCallback: () => ({ psk: psk.key, identity: psk.identity }) } : {}),
    ...(psk?.imported ? { pskImport: psk.imported } : {}),
  };
  if (values.dtls && values['early-data'] !== undefined) throw new UsageError('--early-data is TLS 1.3 0-RTT: it does not go with --dtls');
  const versions = dtlsVersionOptions(values, !!values.dtls);
  if (values.dtls) return runDtlsClient(values, options, versions);
  if (values.mtu !== undefined) throw new UsageError('--mtu goes with --dtls');
  if (values.cid) throw new UsageError('--cid goes with --dtls');
  const sessionFile = str(values, 'session');
  const earlyFile = str(values, 'early-data');
  if (earlyFile && !sessionFile) say('tsls: warning: --early-data without --session: no session allows 0-RTT, so the file is sent after the handshake');
  const earlyData = earlyFile ? readFile(earlyFile, 'early data file', true) : undefined;
  const socket = connect({ ...options, session: storedSession(sessionFile), ...(earlyData ? { earlyData } : {}) });
  const keylog = str(values, 'keylog');
  if (keylog) socket.on('keylog', (line: Buffer) => appendFileSync(keylog, line));
  socket.on('session', (s: Buffer) => keepSession(s, sessionFile));
  socket.on('secureConnect', () => {
    report(socket, `${host}:${port}`, options, !!values.insecure);
    process.stdin.pipe(socket);
  });
  socket.on('data', (d: Buffer) => process.stdout.write(d));
  socket.on('end', () => say('tsls: server closed the connection (close_notify)'));
  socket.on('error', (err) => fail(`connection to ${host}:${port} failed`, err));
  socket.on('close', (hadError: boolean) => process.exit(hadError ? 1 : 0));
}

function report(socket: TLSSocket | import('../node/dtls-socket.js').DTLSSocket, peer: string, options: ConnectionOptions, insecure: boolean): void {
  say(`tsls: connected to ${peer}: ${summary(socket)}`);
  for (const line of clientDetails(socket, options.ALPNProtocols as string[] | undefined, insecure)) say(line);
}

function fail(what: string, err: unknown): never {
  say(`tsls: ${what}: ${describeError(err)}`);
  // ECH rejected: the server's configs to retry with, in the form --ech-config takes.
  const retry = (err as { retryConfigs?: Uint8Array }).retryConfigs;
  if (retry) say(`tsls: the server's retry configs: --ech-config ${Buffer.from(retry).toString('base64')}`);
  process.exit(1);
}

async function runDtlsClient(values: Values, options: ConnectionOptions, versions: ReturnType<typeof dtlsVersionOptions>): Promise<void> {
  const { connectDtls } = await import('../node/dtls-socket.js');
  const { minVersion: _min, maxVersion: _max, socket: _socket, session: _session, ...rest } = options;
  const mtu = str(values, 'mtu');
  const sessionFile = str(values, 'session');
  const session = storedSession(sessionFile);
  const socket = connectDtls({
    ...rest,
    host: options.host!,
    port: options.port!,
    ...versions,
    ...mtuOption(mtu),
    ...(session ? { session } : {}),
    // A client rarely needs a CID of its own: its address is the one that changes.
    ...(values.cid ? { connectionId: new Uint8Array(0) } : {}),
  });
  const keylog = str(values, 'keylog');
  if (keylog) socket.on('keylog', (line: Buffer) => appendFileSync(keylog, line));
  socket.on('session', (s: Buffer) => keepSession(s, sessionFile));
  let quiet: NodeJS.Timeout | undefined;
  let stdinEnded = false;
  const closeWhenQuiet = () => {
    if (quiet) clearTimeout(quiet);
    quiet = setTimeout(() => socket.close(), DTLS_QUIET_MS);
  };
  socket.on('secureConnect', () => {
    report(socket, `${options.host}:${options.port} over UDP`, options, !!values.insecure);
    if (values.cid) say(`tsls:   ${cidLine(socket.connection.connectionIds)}`);
    // One message per line, newline included (as s_client sends it).
    const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
    lines.on('line', (line) => socket.send(`${line}\n`));
    lines.on('close', () => {
      stdinEnded = true;
      closeWhenQuiet();
    });
  });
  socket.on('message', (m: Buffer) => {
    process.stdout.write(m);
    if (stdinEnded) closeWhenQuiet();
  });
  socket.on('end', () => say('tsls: server closed the association (close_notify)'));
  socket.on('error', (err) => fail(`DTLS association with ${options.host}:${options.port} failed`, err));
  socket.on('close', (hadError: boolean) => {
    if (quiet) clearTimeout(quiet);
    process.exit(hadError ? 1 : 0);
  });
}
