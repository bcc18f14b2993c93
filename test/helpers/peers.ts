/**
 * Real TLS peers for the interop tests: openssl s_server / s_client and gnutls-serv /
 * gnutls-cli as child processes on 127.0.0.1. Output is captured; every process started
 * here is killed by `killAllPeers()` (call it in afterEach). A missing binary is a test
 * failure with a clear message, never a skip.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { pkiPath } from './pki.js';

export const PEER_WAIT_MS = 10_000;

const running = new Set<Peer>();

/** Kill every peer process still running, and wait for them to exit. */
export async function killAllPeers(): Promise<void> {
  const peers = [...running];
  running.clear();
  await Promise.all(peers.map((p) => p.kill()));
}

/** Throws unless `name` is an executable on PATH: the interop tests need the real thing. */
export function requireBinary(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // try the next directory
    }
  }
  throw new Error(
    `interop test needs '${name}', which is not on PATH (${process.env.PATH}). ` +
      `Install it (Debian/Ubuntu: apt-get install openssl gnutls-bin); these tests never skip.`,
  );
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

  constructor(
    readonly name: string,
    readonly args: string[],
    /** Extra environment variables (OPENSSL_CONF, say), on top of this process's. */
    env: Record<string, string> = {},
  ) {
    const file = requireBinary(name);
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

/** Start a server on a free port, retrying with another port when the first one got taken meanwhile. */
async function startServer(name: string, makeArgs: (port: number) => string[], ready: string | RegExp): Promise<{ peer: Peer; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const peer = new Peer(name, makeArgs(port));
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
    'openssl',
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
    'openssl',
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
    'gnutls-serv',
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
  return new Peer('gnutls-cli', [
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
