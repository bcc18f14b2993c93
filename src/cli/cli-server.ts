/**
 * `tsls server`: an echo server (or, with --www, an HTTP/1.1 status page) over TLS, or an
 * echo server over DTLS, with one line per connection on stderr. Without --cert it makes a
 * throwaway self-signed certificate and saves it to a temporary file, so the next command
 * the user types (`tsls client localhost:4433 --ca FILE`) verifies it.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cidLine, describeError, dtlsVersionOptions, mtuOption, pskOptions, say, str, UsageError, type Values } from './cli-common.js';
import { summary } from './cli-report.js';
import { nodeProvider } from '../crypto/node.js';
import type { DTLSSocket } from '../node/dtls-socket.js';
import type { TlsServerOptions } from '../node/options.js';
import { createServer, type Server } from '../node/server.js';
import type { TLSSocket } from '../node/socket.js';
import { OID } from '../x509/certificate.js';
import { Tag, contextTag, encodeDer, encodeOid, encodeSequence, encodeUnsigned } from '../util/der.js';
import { pemEncode } from '../x509/parse-chain.js';
import { selfSignedCertificate } from '../x509/selfsigned.js';

/** The 0-RTT limit `--early-data` puts in tickets (OpenSSL's default max_early_data, one record). */
const EARLY_DATA_SIZE = 16384;

/** The only protocol `--www` speaks. */
const HTTP1 = 'http/1.1';

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

/** A throwaway certificate for localhost, saved to a temporary file that goes away with the process. */
function throwawayCertificate(): { cert: string; key: string; file: string } {
  const made = selfSignedCertificate(nodeProvider);
  const cert = pemEncode('CERTIFICATE', made.chain[0]!.der);
  const dir = mkdtempSync(join(tmpdir(), 'tsls-server-'));
  const file = join(dir, 'localhost.crt');
  writeFileSync(file, cert);
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  // Ctrl-C and kill end the process without 'exit' unless they are handled.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => process.exit(130));
  return { cert, key: privateKeyPem(made.key), file };
}

/** --www speaks HTTP/1.1 only: of an --alpn list it selects http/1.1 and nothing else. */
function wwwAlpn(list: TlsServerOptions['ALPNProtocols']): string[] | undefined {
  if (list === undefined) return undefined;
  const names = [...(list as string[])];
  if (!names.includes(HTTP1)) throw new UsageError(`--www speaks ${HTTP1}: --alpn must include it`);
  const dropped = names.filter((n) => n !== HTTP1);
  if (dropped.length) say(`tsls: warning: --www speaks ${HTTP1} only: not selecting ${dropped.join(', ')}`);
  return [HTTP1];
}

/** The line a peer's failed handshake gets. */
function handshakeFailed(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }, err: Error): string {
  return `tsls: ${socket.remoteAddress}:${socket.remotePort}: handshake failed: ${describeError(err)}`;
}

export async function runServer(values: Values, tls: TlsServerOptions): Promise<void> {
  if (values.www && values.echo) throw new UsageError('--www and --echo exclude each other');
  if (values.www && values.dtls) throw new UsageError('--www is HTTP over TLS: it does not go with --dtls (a DTLS server echoes)');
  if (values.mtu !== undefined && !values.dtls) throw new UsageError('--mtu goes with --dtls');
  if (values.cid && !values.dtls) throw new UsageError('--cid goes with --dtls');
  if (values['early-data'] && values.dtls) throw new UsageError('--early-data is TLS 1.3 0-RTT: it does not go with --dtls');
  if (!!values.cert !== !!values.key) throw new UsageError('--cert and --key go together');
  if (values.verify && !values.ca) throw new UsageError('--verify needs --ca');
  const versions = dtlsVersionOptions(values, !!values.dtls);
  const portText = str(values, 'port') ?? '4433';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new UsageError(`bad port ${portText}`);
  const host = str(values, 'host') ?? 'localhost';

  let throwaway: string | undefined;
  const psk = pskOptions(values);
  // With --psk and no --cert the server is certificate-free: it authenticates by the PSK only.
  if (!tls.cert && !psk) {
    const made = throwawayCertificate();
    tls = { ...tls, cert: made.cert, key: made.key };
    throwaway = made.file;
    say(`tsls: no --cert given: using a throwaway self-signed certificate for localhost, 127.0.0.1 and ::1, saved in ${throwaway}`);
  }
  const options: TlsServerOptions = {
    ...tls,
    ...(values.www ? { ALPNProtocols: wwwAlpn(tls.ALPNProtocols) } : {}),
    // One key for every listener, so a session from 127.0.0.1 resumes on ::1 too.
    ticketKeys: randomBytes(48),
    ...(values.verify ? { requestCert: true, rejectUnauthorized: true } : {}),
    ...(psk ? { pskCallback: (_s: null, id: string) => (id === psk.identity ? psk.key : null) } : {}),
    ...(psk?.imported ? { importedPsk: { context: psk.imported.context ?? '', ...(psk.imported.epskHash ? { epskHash: psk.imported.epskHash } : {}) } } : {}),
    ...(values['early-data'] ? { maxEarlyData: EARLY_DATA_SIZE } : {}),
  };
  const hosts = host === 'localhost' ? ['127.0.0.1', '::1'] : [host];
  const ready = (boundPort: number, what: string) => {
    if (throwaway) {
      // Run through a project's node_modules/.bin (as `npx tsls` does), `tsls` may not be on PATH.
      const npx = /node_modules[\\/]\.bin[\\/]/.test(process.argv[1] ?? '') ? 'npx ' : '';
      say(`tsls: try: ${npx}tsls client ${host.includes(':') ? `[${host}]` : host}:${boundPort}${values.dtls ? ' --dtls' : ''} --ca ${throwaway}`);
    }
    say(`tsls: ${what} listening on ${host}:${boundPort}${values.dtls ? ' (UDP)' : ''}`);
  };
  if (values.dtls) return runDtlsServer(values, options, versions, hosts, port, ready);
  const mode = values.www ? 'www' : 'echo';
  const www = values.www ? (await import('./cli-www.js')).serveHttp : undefined;

  const onSecure = (socket: TLSSocket) => {
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    const client = socket.connection.peerCertificates[0];
    say(`tsls: ${peer}: ${summary(socket)}${socket.servername ? `, SNI ${socket.servername}` : ''}${client ? `, client ${client.subject.text}` : ''}`);
    // Echoed like the rest, but said: early data could have been replayed.
    if (socket.earlyDataReceived > 0) say(`tsls: ${peer}: ${socket.earlyDataReceived} bytes arrived as early data (0-RTT)`);
    socket.on('error', (err) => say(`tsls: ${peer}: ${describeError(err)}`));
    if (www) www(socket);
    else socket.pipe(socket);
  };

  let listening = 0;
  for (const h of hosts) {
    const server: Server = createServer(options, onSecure);
    keylogTo(server, str(values, 'keylog'));
    server.on('tlsClientError', (err: Error, socket: TLSSocket) => say(handshakeFailed(socket, err)));
    server.on('error', (err: NodeJS.ErrnoException) => listenError(hosts, h, port, err));
    server.listen(port, h, () => {
      if (listening++ === 0) ready((server.address() as net.AddressInfo).port, `${mode} server`);
    });
  }
}

function keylogTo(server: { on(event: 'keylog', f: (line: Buffer) => void): unknown }, file: string | undefined): void {
  if (file) server.on('keylog', (line: Buffer) => appendFileSync(file, line));
}

function listenError(hosts: string[], host: string, port: number, err: NodeJS.ErrnoException): void {
  // ::1 may not exist on this machine; 127.0.0.1 is enough for `localhost`.
  if (hosts.length > 1 && host === '::1' && (err.code === 'EADDRNOTAVAIL' || err.code === 'EAFNOSUPPORT')) return;
  say(`tsls: cannot listen on ${host}:${port}: ${describeError(err)}`);
  process.exit(1);
}

async function runDtlsServer(
  values: Values,
  options: TlsServerOptions,
  versions: ReturnType<typeof dtlsVersionOptions>,
  hosts: string[],
  port: number,
  ready: (port: number, what: string) => void,
): Promise<void> {
  const { createDtlsServer } = await import('../node/dtls-socket.js');
  // (With --dtls the TLS version names were refused: the versions are the DTLS ones.)
  const { ticketKeys: _t, minVersion: _min, maxVersion: _max, ...tls } = options;
  const onSecure = (socket: DTLSSocket) => {
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    const client = socket.connection.peerCertificates[0];
    say(`tsls: ${peer}: ${summary(socket)}${client ? `, client ${client.subject.text}` : ''}${values.cid ? `; ${cidLine(socket.connection.connectionIds)}` : ''}`);
    socket.on('message', (m: Buffer) => {
      if (socket.established) socket.send(m);
    });
    socket.on('error', (err) => say(`tsls: ${peer}: ${describeError(err)}`));
    socket.on('close', () => say(`tsls: ${peer}: closed`));
  };
  let listening = 0;
  for (const h of hosts) {
    const server = createDtlsServer({ ...tls, ...versions, ...mtuOption(str(values, 'mtu')), ...(values.cid ? { connectionIds: true } : {}) }, onSecure);
    keylogTo(server, str(values, 'keylog'));
    server.on('tlsClientError', (err: Error, socket: DTLSSocket) => say(handshakeFailed(socket, err)));
    server.on('error', (err: NodeJS.ErrnoException) => listenError(hosts, h, port, err));
    server.listen(port, h, () => {
      if (listening++ === 0) ready(server.address().port, 'dtls echo server');
    });
  }
}
