/**
 * Real TLS peers for the interop tests, as child processes on 127.0.0.1, and the `peers` they
 * are started from: `peers.openssl3` (the system's openssl, or OpenSSL 3 from Debian sid where the
 * system has none), `peers.openssl4` (OpenSSL 4.0 from Debian experimental), `peers.gnutls` (the
 * system's gnutls-cli/gnutls-serv, or GnuTLS from sid where the system has none) and
 * `peers.wolfssl` (test/peers/wolfssl-peer.c on wolfSSL from sid), `peers.gnutlsPsk`
 * (test/peers/gnutls-psk-peer.c on GnuTLS from sid: imported PSKs) and `peers.node24` (Node.js 24).
 * The fetched ones live in .cache/peers/bin, put there by test/peers/setup.sh, which vitest's
 * global setup runs. Output is captured; every process started here is killed by
 * `killAllPeers()` (call it in afterEach). A missing peer is a test failure with a clear
 * message, never a skip.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { basename, delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pkiPath } from './pki.js';

export const PEER_WAIT_MS = 10_000;

/** Where test/peers/setup.sh puts its wrappers (TSLS_PEERS_CACHE moves the whole cache). */
export const PEERS_BIN = join(process.env.TSLS_PEERS_CACHE ?? fileURLToPath(new URL('../../.cache/peers/', import.meta.url)), 'bin');

const running = new Set<Peer>();

/** Kill every peer process still running, and wait for them to exit. */
export async function killAllPeers(): Promise<void> {
  const peers = [...running];
  running.clear();
  await Promise.all(peers.map((p) => p.kill()));
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The system's `name` from PATH, or undefined. */
function onPath(name: string): string | undefined {
  return (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, name)).find(executable);
}

/**
 * The executable for `name` (a path, a program on PATH, or one test/peers/setup.sh fetched), or a
 * thrown error that says what is missing: the interop tests need the real thing.
 */
export function requireBinary(name: string): string {
  const file = name.includes('/') ? (executable(name) ? name : undefined) : (onPath(name) ?? [join(PEERS_BIN, name)].find(executable));
  if (file) return file;
  const where = name.includes('/') ? 'which is not there' : `which is neither on PATH (${process.env.PATH}) nor in ${PEERS_BIN}`;
  throw new Error(`interop test needs '${name}', ${where}. Run test/peers/setup.sh (npm test does), or install it; these tests never skip.`);
}

// ---- the peers -------------------------------------------------------------------------------

/** One peer implementation: what to run, and its version for test titles. */
export interface TlsPeer {
  /** "OpenSSL", "wolfSSL", … */
  readonly name: string;
  /** The program to run; throws when the peer is missing. */
  readonly bin: string;
  /** Its version as it reports it ("4.0.3"), or "missing" (the test then fails when it starts it). */
  readonly version: string;
  /** "OpenSSL 4.0.3": what a test title names. */
  readonly title: string;
}

export interface GnutlsPeer extends TlsPeer {
  /** gnutls-cli (same as `bin`). */
  readonly cli: string;
  readonly serv: string;
}

/** A peer whose program and version are looked up on first use, once. */
function tlsPeer(name: string, find: () => string, versionOf: (bin: string) => string): TlsPeer {
  let version: string | undefined;
  return {
    name,
    get bin() {
      return find();
    },
    get version() {
      if (version === undefined) {
        try {
          version = versionOf(find());
        } catch {
          version = 'missing';
        }
      }
      return version;
    },
    get title() {
      return `${name} ${this.version}`;
    },
  };
}

const run = (bin: string, args: string[]) => execFileSync(bin, args, { encoding: 'utf8', timeout: 10_000 });
const opensslVersion = (bin: string) => /OpenSSL (\S+)/.exec(run(bin, ['version']))![1]!;

/** A fetched peer's wrapper from .cache/peers/bin. */
const fetched = (name: string) => () => requireBinary(join(PEERS_BIN, name));

const gnutlsBase = tlsPeer('GnuTLS', () => requireBinary('gnutls-cli'), (bin) => /gnutls-cli (\S+)/.exec(run(bin, ['--version']))![1]!);

export const peers: { openssl3: TlsPeer; openssl4: TlsPeer; gnutls: GnutlsPeer; wolfssl: TlsPeer; gnutlsPsk: TlsPeer; node24: TlsPeer } = {
  /** The system's openssl (3.0 on Debian 12), or OpenSSL 3 from sid where the system has none. */
  openssl3: tlsPeer('OpenSSL', () => requireBinary('openssl'), opensslVersion),
  /** OpenSSL 4.0 from Debian experimental: ECH, X25519MLKEM768 first, certificate compression. */
  openssl4: tlsPeer('OpenSSL', fetched('openssl4'), opensslVersion),
  /** The system's GnuTLS where installed, otherwise the one fetched from sid (same choice for cli and serv). */
  gnutls: Object.defineProperties(gnutlsBase, {
    cli: { get: () => gnutlsBase.bin },
    serv: { get: () => join(gnutlsBase.bin, '..', 'gnutls-serv') },
  }) as GnutlsPeer,
  /** test/peers/wolfssl-peer.c on wolfSSL from sid: TLS 1.3/1.2, DTLS 1.3/1.2, PSK, connection IDs. */
  wolfssl: tlsPeer('wolfSSL', fetched('wolfssl-peer'), (bin) => /wolfSSL (\S+)/.exec(run(bin, ['--version']))![1]!),
  /** test/peers/gnutls-psk-peer.c on GnuTLS from sid: TLS 1.3 with an external PSK, imported (RFC 9258) or not. */
  gnutlsPsk: tlsPeer('GnuTLS', fetched('gnutls-psk-peer'), (bin) => /GnuTLS (\S+)/.exec(run(bin, ['--version']))![1]!),
  /** Node.js 24 (node:crypto has ML-KEM there: crypto.encapsulate), for running dist/ under it. */
  node24: tlsPeer('Node.js', fetched('node24'), (bin) => run(bin, ['--version']).trim()),
};

/** Poll `ok` every 10 ms until it holds; on timeout throw, naming `what` with `context()` (a peer's output, say). */
export async function until(what: string, ok: () => boolean, context: () => string = () => '', ms = PEER_WAIT_MS): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${context()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A port nothing listens on right now (listen on 0, note the port, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('freePort: no port'))));
    });
  });
}

/** A UDP port nothing is bound to right now. */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class Peer {
  stdout = '';
  stderr = '';
  exit: Exit | undefined;
  readonly exited: Promise<Exit>;
  private readonly proc: ChildProcess;
  private readonly waiters = new Set<() => void>();

  readonly name: string;

  constructor(
    /** A program on PATH or in .cache/peers/bin, or a path (a peer's `bin`). */
    program: string,
    readonly args: string[],
    /** Extra environment variables (OPENSSL_CONF, say), on top of this process's. */
    env: Record<string, string> = {},
  ) {
    this.name = basename(program);
    const file = requireBinary(program);
    // Unbuffered stdio: openssl prints some things (the session s_client shows when a ticket
    // arrives) with stdio and does not flush, which would sit in a pipe's buffer forever.
    this.proc = spawn(requireBinary('stdbuf'), ['-o0', '-e0', file, ...args], {
      cwd: pkiPath(''),
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    running.add(this);
    this.proc.stdout!.setEncoding('latin1').on('data', (s: string) => {
      this.stdout += s;
      this.wake();
    });
    this.proc.stderr!.setEncoding('latin1').on('data', (s: string) => {
      this.stderr += s;
      this.wake();
    });
    this.proc.stdin!.on('error', () => {
      // EPIPE when the process is gone; its exit is what the tests look at.
    });
    this.exited = new Promise((resolve) => {
      this.proc.once('error', (err) => {
        this.stderr += `\n[spawn error: ${err.message}]`;
        this.exit = { code: -1, signal: null };
        running.delete(this);
        this.wake();
        resolve(this.exit);
      });
      this.proc.once('close', (code, signal) => {
        this.exit = { code, signal };
        running.delete(this);
        this.wake();
        resolve(this.exit);
      });
    });
  }

  get output(): string {
    return this.stdout + this.stderr;
  }

  /** The command line and everything it printed, for failure messages. */
  describe(): string {
    const cut = (s: string) => (s.length > 4000 ? `…${s.slice(-4000)}` : s);
    const status = this.exit ? `exited (code ${this.exit.code}, signal ${this.exit.signal})` : 'running';
    return `--- ${this.name} ${this.args.join(' ')} [${status}]\n--- stdout:\n${cut(this.stdout)}\n--- stderr:\n${cut(this.stderr)}`;
  }

  /** Wait until stdout+stderr contains `needle` (or matches it); rejects when the process exits first or on timeout. */
  waitOutput(needle: string | RegExp, timeoutMs = PEER_WAIT_MS): Promise<string> {
    const found = () => (typeof needle === 'string' ? this.output.includes(needle) : needle.test(this.output));
    return this.waitFor(`${this.name} to print ${String(needle)}`, found, true, timeoutMs).then(() => this.output);
  }

  /** Wait for the process to exit by itself. */
  waitExit(timeoutMs = PEER_WAIT_MS): Promise<Exit> {
    return this.waitFor(`${this.name} to exit`, () => this.exit !== undefined, false, timeoutMs).then(() => this.exit!);
  }

  /** Send text to the process's stdin. */
  send(text: string): void {
    if (this.proc.stdin!.writable) this.proc.stdin!.write(text);
  }

  closeStdin(): void {
    this.proc.stdin!.end();
  }

  /** SIGTERM, then SIGKILL if it does not go; resolves once it is gone. */
  async kill(): Promise<void> {
    running.delete(this);
    if (this.exit) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 2000);
    await this.exited;
    clearTimeout(timer);
  }

  private waitFor(what: string, ok: () => boolean, failOnExit: boolean, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const finish = (fn: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(poll);
        fn();
      };
      const poll = () => {
        if (ok()) return finish(resolve);
        if (failOnExit && this.exit) finish(() => reject(new Error(`waiting for ${what}: the process exited first\n${this.describe()}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`waiting for ${what}: timed out after ${timeoutMs} ms\n${this.describe()}`))), timeoutMs);
      this.waiters.add(poll);
      poll();
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** Start a server on a free (TCP, or UDP with `udp`) port, retrying with another port when the first one got taken meanwhile. */
export async function startServer(
  program: string,
  makeArgs: (port: number) => string[],
  ready: string | RegExp,
  { udp = false }: { udp?: boolean } = {},
): Promise<{ peer: Peer; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const port = await (udp ? freeUdpPort() : freePort());
    const peer = new Peer(program, makeArgs(port));
    try {
      await peer.waitOutput(ready);
      return { peer, port };
    } catch (err) {
      await peer.kill();
      if (attempt < 2 && /address already in use|bind/i.test(peer.output)) continue;
      throw err;
    }
  }
}

// ---- openssl -----------------------------------------------------------------------------

export interface OpensslServerOptions {
  /** Which OpenSSL (default peers.openssl3, the system's). */
  peer?: TlsPeer;
  /** Leaf name in vectors/pki (default leaf-ecdsa-p256). */
  leaf?: string;
  ciphersuites?: string;
  groups?: string;
  alpn?: string;
  /** Reverse each received line and send it back (s_server -rev); otherwise stdin/stdout mode. */
  rev?: boolean;
  /** Protocol version to allow (default TLSv1.3 only); 'any' passes no version flag. */
  version?: OpensslVersion;
  /** TLS 1.2 cipher list (-cipher), e.g. ECDHE-RSA-AES256-GCM-SHA384. */
  cipher?: string;
  /** Connections to accept before exiting (-naccept, default 1). */
  naccept?: number;
  extra?: string[];
}

export type OpensslVersion = 'TLSv1.3' | 'TLSv1.2' | 'any';
const VERSION_FLAG: Record<OpensslVersion, string[]> = { 'TLSv1.3': ['-tls1_3'], 'TLSv1.2': ['-tls1_2'], any: [] };

/** `openssl s_server -tls1_3` (or `version`) for one connection (or `naccept`); resolves once it prints ACCEPT. */
export async function startOpensslServer(o: OpensslServerOptions = {}): Promise<{ peer: Peer; port: number }> {
  const leaf = o.leaf ?? 'leaf-ecdsa-p256';
  return startServer(
    (o.peer ?? peers.openssl3).bin,
    (port) => [
      's_server',
      '-accept',
      `127.0.0.1:${port}`,
      '-cert',
      `${leaf}.crt`,
      '-key',
      `${leaf}.key`,
      '-cert_chain',
      'intermediate.crt',
      ...VERSION_FLAG[o.version ?? 'TLSv1.3'],
      '-naccept',
      String(o.naccept ?? 1),
      ...(o.ciphersuites ? ['-ciphersuites', o.ciphersuites] : []),
      ...(o.cipher ? ['-cipher', o.cipher] : []),
      ...(o.groups ? ['-groups', o.groups] : []),
      ...(o.alpn ? ['-alpn', o.alpn] : []),
      ...(o.rev ? ['-rev'] : []),
      ...(o.extra ?? []),
    ],
    'ACCEPT',
  );
}

export interface OpensslClientOptions {
  /** Which OpenSSL (default peers.openssl3, the system's). */
  peer?: TlsPeer;
  ciphersuites?: string;
  groups?: string;
  alpn?: string;
  servername?: string;
  keylogfile?: string;
  /** Protocol version to offer (default TLSv1.3 only); 'any' passes no version flag. */
  version?: OpensslVersion;
  /** TLS 1.2 cipher list (-cipher). */
  cipher?: string;
  /** Extra environment variables for the process (OPENSSL_CONF, say). */
  env?: Record<string, string>;
  extra?: string[];
}

/**
 * `openssl s_client -tls1_3` (or `version`) verifying against root.crt for `localhost` (verification errors
 * abort the handshake). Interactive: stdin lines are sent as data; a line "k"/"K" sends a
 * KeyUpdate (K: update_requested), "Q" closes.
 */
export function startOpensslClient(port: number, o: OpensslClientOptions = {}): Peer {
  return new Peer(
    (o.peer ?? peers.openssl3).bin,
    [
      's_client',
      '-connect',
      `127.0.0.1:${port}`,
      ...VERSION_FLAG[o.version ?? 'TLSv1.3'],
      '-CAfile',
      'root.crt',
      '-verify',
      '4',
      '-verify_return_error',
      '-verify_hostname',
      'localhost',
      '-servername',
      o.servername ?? 'localhost',
      ...(o.ciphersuites ? ['-ciphersuites', o.ciphersuites] : []),
      ...(o.groups ? ['-groups', o.groups] : []),
      ...(o.alpn ? ['-alpn', o.alpn] : []),
      ...(o.keylogfile ? ['-keylogfile', o.keylogfile] : []),
      ...(o.cipher ? ['-cipher', o.cipher] : []),
      ...(o.extra ?? []),
    ],
    o.env,
  );
}

/**
 * An ECH key pair made by OpenSSL 4 (`openssl ech`) in `dir`: the PEM file `s_server -ech_key`
 * takes, and the base64 ECHConfigList `s_client -ech_config_list` (or a client under test) takes.
 */
export function opensslEchKeys(dir: string, publicName = 'public.example'): { keyFile: string; configList: string } {
  const keyFile = join(dir, `ech-${publicName}.pem`);
  execFileSync(peers.openssl4.bin, ['ech', '-public_name', publicName, '-out', keyFile], { stdio: 'pipe' });
  const pem = readFileSync(keyFile, 'utf8');
  const body = /-----BEGIN ECHCONFIG-----([\s\S]*?)-----END ECHCONFIG-----/.exec(pem);
  if (!body) throw new Error(`openssl ech wrote no ECHCONFIG block to ${keyFile}:\n${pem}`);
  return { keyFile, configList: body[1]!.replace(/\s/g, '') };
}

// ---- gnutls ------------------------------------------------------------------------------

export const GNUTLS_TLS13 = 'NORMAL:-VERS-ALL:+VERS-TLS1.3';

export interface GnutlsServerOptions {
  leaf?: string;
  priority?: string;
  extra?: string[];
}

/** `gnutls-serv --echo`: echoes every line it receives. */
export async function startGnutlsServer(o: GnutlsServerOptions = {}): Promise<{ peer: Peer; port: number }> {
  const leaf = o.leaf ?? 'leaf-ecdsa-p256';
  return startServer(
    peers.gnutls.serv,
    (port) => [
      '--port',
      String(port),
      '--x509certfile',
      `${leaf}.chain.pem`,
      '--x509keyfile',
      `${leaf}.key`,
      '--priority',
      o.priority ?? GNUTLS_TLS13,
      '--echo',
      ...(o.extra ?? []),
    ],
    /listening on IPv4 .*done/,
  );
}

export interface GnutlsClientOptions {
  priority?: string;
  extra?: string[];
}

/** `gnutls-cli` verifying against root.crt for `localhost` (SNI localhost); stdin is sent as data. */
export function startGnutlsClient(port: number, o: GnutlsClientOptions = {}): Peer {
  return new Peer(peers.gnutls.cli, [
    '-p',
    String(port),
    '--x509cafile',
    'root.crt',
    '--sni-hostname',
    'localhost',
    '--verify-hostname',
    'localhost',
    '--priority',
    o.priority ?? GNUTLS_TLS13,
    ...(o.extra ?? []),
    '127.0.0.1',
  ]);
}

// ---- wolfSSL -------------------------------------------------------------------------------

/** What test/peers/wolfssl-peer.c speaks (its --proto; 'dtls' is the highest DTLS version both sides speak). */
export type WolfsslProto = 'tls1.3' | 'tls1.2' | 'dtls1.3' | 'dtls1.2' | 'dtls';

export interface WolfsslOptions {
  proto?: WolfsslProto;
  /** Server: leaf name in vectors/pki (default leaf-ecdsa-p256; null for none, PSK only). */
  leaf?: string | null;
  /** Hex key and identity of an external PSK. */
  psk?: { key: string; identity: string };
  /** Hex DTLS connection ID this side wants to receive ('' asks for the extension with an empty one). */
  cid?: string;
  /** Group names in order (OpenSSL's spelling); a client sends a key share for the first. */
  groups?: string[];
  ciphers?: string;
  mtu?: number;
  /** Server: require a client certificate, verified against root.crt. */
  verifyClient?: boolean;
  /** Client: the leaf in vectors/pki it answers a CertificateRequest with (client-ecdsa-p256, say). */
  clientLeaf?: string;
  /** DTLS 1.3 server: a HelloRetryRequest with a cookie for every ClientHello without one (wolfSSL's default when unset). */
  hrrCookie?: boolean;
  /** TLS/DTLS 1.3 server: no NewSessionTicket. */
  noTicket?: boolean;
  /** Server: a KeyUpdate before each echoed record (prints "KEYUPDATE sent"). */
  keyUpdate?: boolean;
  /** Server: connections to take before exiting (default 1). */
  naccept?: number;
  extra?: string[];
}

function wolfsslArgs(o: WolfsslOptions): string[] {
  return [
    ...(o.hrrCookie !== undefined ? ['--hrr-cookie', o.hrrCookie ? 'on' : 'off'] : []),
    ...(o.noTicket ? ['--no-ticket'] : []),
    ...(o.keyUpdate ? ['--key-update'] : []),
    ...(o.naccept ? ['--naccept', String(o.naccept)] : []),
    '--proto',
    o.proto ?? 'tls1.3',
    ...(o.psk ? ['--psk', o.psk.key, '--psk-identity', o.psk.identity] : []),
    ...(o.cid !== undefined ? ['--cid', o.cid] : []),
    ...(o.groups ? ['--groups', o.groups.join(':')] : []),
    ...(o.ciphers ? ['--ciphers', o.ciphers] : []),
    ...(o.mtu ? ['--mtu', String(o.mtu)] : []),
    ...(o.extra ?? []),
  ];
}

/** The wolfSSL echo server (every record is sent back); resolves once it prints ACCEPT. */
export function startWolfsslServer(o: WolfsslOptions = {}): Promise<{ peer: Peer; port: number }> {
  const leaf = o.leaf === undefined ? 'leaf-ecdsa-p256' : o.leaf;
  return startServer(
    peers.wolfssl.bin,
    (port) => [
      'server',
      '--port',
      String(port),
      ...(leaf ? ['--cert', `${leaf}.chain.pem`, '--key', `${leaf}.key`] : []),
      ...(o.verifyClient ? ['--ca', 'root.crt'] : []),
      ...wolfsslArgs(o),
    ],
    'ACCEPT',
    { udp: (o.proto ?? 'tls1.3').startsWith('dtls') },
  );
}

/**
 * The wolfSSL client: verifies the server against root.crt as `localhost` (SNI localhost), unless
 * it has a `psk` (then it offers only that); sends each stdin line as a record and prints what comes back; prints
 * "HANDSHAKE version=… cipher=… group=… resumed=0|1" once connected. The stdin lines "KEYUPDATE" and
 * "RECONNECT" are commands (WOLFSSL_KEY_UPDATE, WOLFSSL_RECONNECT).
 */
export function startWolfsslClient(port: number, o: WolfsslOptions = {}): Peer {
  const verify = o.psk ? [] : ['--ca', 'root.crt', '--verify-name', 'localhost'];
  const cert = o.clientLeaf ? ['--cert', `${o.clientLeaf}.chain.pem`, '--key', `${o.clientLeaf}.key`] : [];
  return new Peer(peers.wolfssl.bin, ['client', '--port', String(port), ...verify, ...cert, ...wolfsslArgs(o)]);
}

/** A stdin line the wolfSSL client takes as "send a KeyUpdate" (it prints "KEYUPDATE sent"). */
export const WOLFSSL_KEY_UPDATE = 'KEYUPDATE\n';
/** A stdin line the wolfSSL client takes as "close, and connect again from a new port with the session" (a new HANDSHAKE line follows). */
export const WOLFSSL_RECONNECT = 'RECONNECT\n';

// ---- GnuTLS with imported PSKs ---------------------------------------------------------------

export interface GnutlsPskOptions {
  /** Hex key and identity of the external PSK. */
  psk: { key: string; identity: string };
  /** Use it as an RFC 9258 imported PSK, with this context (default empty). */
  imported?: { context?: string };
  /** The PSK's hash: the GnuTLS credential's, and the import's target (default sha256). */
  hash?: 'sha256' | 'sha384';
  /** A GnuTLS priority string instead of the peer's TLS 1.3 PSK default. */
  priority?: string;
}

function gnutlsPskArgs(o: GnutlsPskOptions): string[] {
  return [
    '--psk',
    o.psk.key,
    '--psk-identity',
    o.psk.identity,
    ...(o.imported ? ['--import', '--context', o.imported.context ?? ''] : []),
    ...(o.hash ? ['--hash', o.hash] : []),
    ...(o.priority ? ['--priority', o.priority] : []),
  ];
}

/** The GnuTLS PSK echo server (every record is sent back); resolves once it prints ACCEPT. */
export function startGnutlsPskServer(o: GnutlsPskOptions): Promise<{ peer: Peer; port: number }> {
  return startServer(peers.gnutlsPsk.bin, (port) => ['server', '--port', String(port), ...gnutlsPskArgs(o)], 'ACCEPT');
}

/** The GnuTLS PSK client: sends each stdin line as a record and prints what comes back, after "HANDSHAKE version=… cipher=… prf=…". */
export function startGnutlsPskClient(port: number, o: GnutlsPskOptions): Peer {
  return new Peer(peers.gnutlsPsk.bin, ['client', '--port', String(port), ...gnutlsPskArgs(o)]);
}
