/**
 * Drive a sans-IO `Connection` over a real `node:net` socket, for the interop tests.
 *
 * Socket bytes go into `feed`, and whatever the connection wants sent goes out after every
 * feed / write / end / keyUpdate. Every `wait*` resolves when its condition holds and
 * rejects with a message that says what it waited for when the connection fails, the
 * socket closes first, or the timeout passes: a test never hangs. Deliberately small
 * (no Duplex): the Node adapter will replace it.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach } from 'vitest';
import type { ClientOptions } from '../../src/config.js';
import { Connection } from '../../src/connection.js';
import type { TLSError } from '../../src/errors.js';

export const DEFAULT_WAIT_MS = 10_000;

export interface DriverOptions {
  /** Default timeout of every wait, in ms. */
  timeoutMs?: number;
  /** Extra text for failure messages (a peer's output, say). */
  context?: () => string;
}

const live = new Set<SocketDriver>();

/** Destroy every driver's socket that is still open (call it in afterEach). */
export function destroyAllDrivers(): void {
  for (const d of live) d.destroy();
  live.clear();
}

export class SocketDriver {
  /** Everything the peer sent, decoded as UTF-8 (the interop tests exchange text). */
  text = '';
  /** Bytes of application data received. */
  bytesReceived = 0;
  /** The connection's keylog lines, in order. */
  readonly keylog: string[] = [];
  /** Handshake messages, as "send key_update" / "recv finished", in order. */
  readonly messages: string[] = [];
  error: TLSError | undefined;
  /** The peer's close_notify arrived. */
  peerEnded = false;
  /** The TCP connection is closed. */
  socketClosed = false;
  /** The peer closed its side of the TCP connection (FIN). */
  socketEnded = false;
  private readonly waiters = new Set<() => void>();
  private readonly decoder = new TextDecoder();
  private readonly timeoutMs: number;

  constructor(
    readonly conn: Connection,
    readonly socket: Socket,
    private readonly options: DriverOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS;
    live.add(this);
    conn.on('data', (d) => {
      this.bytesReceived += d.length;
      this.text += this.decoder.decode(d, { stream: true });
      this.wake();
    });
    conn.on('keylog', (line) => this.keylog.push(line));
    conn.on('message', (dir, msg) => {
      this.messages.push(`${dir} ${msg.type}`);
      this.wake();
    });
    conn.on('handshake', () => this.wake());
    conn.on('end', () => {
      this.peerEnded = true;
      this.wake();
    });
    conn.on('close', () => {
      this.flush();
      this.closeSocket();
    });
    conn.on('error', (err) => {
      this.error = err;
      this.flush(); // the alert
      this.closeSocket();
      this.wake();
    });
    socket.on('data', (chunk: Buffer) => {
      this.conn.feed(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      this.flush();
    });
    socket.on('end', () => {
      this.socketEnded = true;
      this.wake();
    });
    socket.on('error', () => {
      // ECONNRESET and the like: 'close' follows, and the waits report it.
    });
    socket.on('close', () => {
      this.socketClosed = true;
      live.delete(this);
      this.wake();
    });
    // A client's ClientHello (a server has nothing to say yet).
    this.flush();
  }

  /** Connect to host:port and start the handshake on `conn`. */
  static async connect(conn: Connection, port: number, host = '127.0.0.1', options: DriverOptions = {}): Promise<SocketDriver> {
    const socket = connect({ port, host });
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      }),
      options.timeoutMs ?? DEFAULT_WAIT_MS,
      () => `connecting to ${host}:${port}`,
    ).catch((err) => {
      socket.destroy();
      throw err;
    });
    return new SocketDriver(conn, socket, options);
  }

  /** Send application data (queued by the connection until the handshake is done). */
  write(data: string | Uint8Array): void {
    this.conn.write(typeof data === 'string' ? new TextEncoder().encode(data) : data);
    this.flush();
  }

  /** Send close_notify. */
  end(): void {
    this.conn.end();
    this.flush();
  }

  keyUpdate(requestPeer: boolean): void {
    this.conn.keyUpdate(requestPeer);
    this.flush();
  }

  destroy(): void {
    this.socket.destroy();
    live.delete(this);
  }

  waitHandshake(timeoutMs?: number): Promise<true> {
    return this.wait('the handshake to complete', () => (this.conn.handshakeComplete ? true : undefined), timeoutMs);
  }

  /** Wait until the text received so far contains `needle` (or satisfies the predicate); returns that text. */
  waitText(needle: string | ((text: string) => boolean), timeoutMs?: number): Promise<string> {
    const ok = typeof needle === 'string' ? (t: string) => t.includes(needle) : needle;
    const what = typeof needle === 'string' ? `data containing ${JSON.stringify(needle)}` : 'data matching a predicate';
    return this.wait(what, () => (ok(this.text) ? this.text : undefined), timeoutMs);
  }

  /** Wait until a handshake message was sent or received, e.g. "recv key_update". */
  waitMessage(entry: string, timeoutMs?: number): Promise<true> {
    return this.wait(`handshake message "${entry}"`, () => (this.messages.includes(entry) ? true : undefined), timeoutMs);
  }

  /** Wait for the peer's close_notify. */
  waitPeerEnd(timeoutMs?: number): Promise<true> {
    return this.wait("the peer's close_notify", () => (this.peerEnded ? true : undefined), timeoutMs);
  }

  /** Wait for the connection to fail; resolves with the error. */
  waitError(timeoutMs?: number): Promise<TLSError> {
    return this.wait('a TLS error', () => this.error, timeoutMs, { failOnError: false });
  }

  /** Wait for the TCP connection to close. */
  waitSocketClosed(timeoutMs?: number): Promise<true> {
    return this.wait('the socket to close', () => (this.socketClosed ? true : undefined), timeoutMs, { failOnError: false, failOnClose: false });
  }

  private wait<T>(
    what: string,
    check: () => T | undefined,
    timeoutMs = this.timeoutMs,
    { failOnError = true, failOnClose = true } = {},
  ): Promise<Awaited<T>> {
    return new Promise<Awaited<T>>((resolve, reject) => {
      const finish = (fn: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(poll);
        fn();
      };
      const poll = () => {
        const value = check();
        if (value !== undefined) return finish(() => resolve(value as Awaited<T>));
        if (failOnError && this.error) {
          const err = this.error;
          return finish(() => reject(new Error(`${this.describe(what)}: the connection failed: ${err.code}: ${err.message}`, { cause: err })));
        }
        if (failOnClose && (this.socketClosed || this.socketEnded)) {
          return finish(() => reject(new Error(`${this.describe(what)}: the peer closed the TCP connection first`)));
        }
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`${this.describe(what)}: timed out after ${timeoutMs} ms`))), timeoutMs);
      this.waiters.add(poll);
      poll();
    });
  }

  private describe(what: string): string {
    const tail = this.text.length > 200 ? `…${this.text.slice(-200)}` : this.text;
    const extra = this.options.context?.();
    return (
      `waiting for ${what} (${this.conn.side}, ${this.conn.state}/${this.conn.handshakeState}, ` +
      `received ${this.bytesReceived} bytes${tail ? `: ${JSON.stringify(tail)}` : ''}; ` +
      `handshake messages: ${this.messages.join(', ') || 'none'})` +
      (extra ? `\n${extra}\n` : '')
    );
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private flush(): void {
    const out = this.conn.takeOutput();
    if (out.length > 0 && this.socket.writable) this.socket.write(out);
  }

  /** Let what is queued (an alert, a close_notify) go out, then close. */
  private closeSocket(): void {
    if (this.socket.destroyed) return;
    this.socket.end(() => this.socket.destroy());
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }
}

/** A listening server on 127.0.0.1 with a free port; `accept` hands out incoming sockets in order. */
export interface Listener {
  server: Server;
  port: number;
  /** The next incoming connection, driven with `conn`. */
  accept(conn: Connection, options?: DriverOptions): Promise<SocketDriver>;
  close(): Promise<void>;
}

export async function listen(timeoutMs = DEFAULT_WAIT_MS): Promise<Listener> {
  const pending: Socket[] = [];
  const waiting: ((s: Socket) => void)[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const next = waiting.shift();
    if (next) next(socket);
    else pending.push(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('listen: no TCP address');
  return {
    server,
    port: address.port,
    async accept(conn, options = {}) {
      let resolver: ((s: Socket) => void) | undefined;
      const socket =
        pending.shift() ??
        (await withTimeout(
          new Promise<Socket>((resolve) => waiting.push((resolver = resolve))),
          options.timeoutMs ?? timeoutMs,
          () => `waiting for a connection on 127.0.0.1:${address.port}${options.context ? `\n${options.context()}` : ''}`,
        ).finally(() => {
          // A connection that comes after a timeout must not go to this abandoned wait.
          const i = resolver ? waiting.indexOf(resolver) : -1;
          if (i >= 0) waiting.splice(i, 1);
        }));
      return new SocketDriver(conn, socket, options);
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Reject with `what(): timed out` unless `promise` settles within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what()}: timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** `s` backwards, as `openssl s_server -rev` answers a line. */
export const reverse = (s: string) => [...s].reverse().join('');

/** A client Connection made from `options`, driven over TCP to a peer process listening on `port`. */
export function connectTo(peer: { describe(): string }, port: number, options: ClientOptions): Promise<SocketDriver> {
  return SocketDriver.connect(Connection.client(options), port, '127.0.0.1', { context: () => peer.describe() });
}

/** Send a line to `s_server -rev` and wait for it to come back reversed. */
export async function echoReversed(d: SocketDriver, line: string): Promise<void> {
  d.write(`${line}\n`);
  await d.waitText(reverse(line));
}

/**
 * A fresh listener for every test of the enclosing describe (closed after it), so that a
 * connection left over from a failed test cannot reach the next one. Call the returned
 * function inside a test to get the current listener.
 */
export function listenerPerTest(): () => Listener {
  let current: Listener | undefined;
  beforeEach(async () => {
    current = await listen();
  });
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  return () => {
    if (!current) throw new Error('listenerPerTest(): no listener outside a test');
    return current;
  };
}
