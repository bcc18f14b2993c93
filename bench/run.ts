/**
 * tsls benchmark: tsls on node:crypto, tsls on noble, and node:tls, each with client and
 * server in this one process over loopback TCP.
 *
 *   npm run bench                 full run (5 s per cell in 5 rounds taken in turns, 64 MiB bulk transfers)
 *   BENCH_QUICK=1 npm run bench   smoke run (1 s per cell, 4 MiB)
 *
 * Prints a table and writes bench/results.json. Cells that cannot be measured (a feature
 * tsls does not have yet) get `value: null` and a note; no number is ever made up.
 * Needs `node --expose-gc` for the memory cell.
 */
import { writeFileSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import net from 'node:net';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { ClientOptions, ServerOptions } from '../src/config.js';
import { Connection } from '../src/connection.js';
import { createNobleProvider, nobleProvider } from '../src/crypto/noble.js';
import { createNodeProvider, nodeProvider } from '../src/crypto/node.js';
import type { CryptoProvider, GroupName } from '../src/crypto/provider.js';
import { parseCertificateChain, parsePrivateKey } from '../src/x509/parse-chain.js';
import { TlsOverTcp, newMeter, timed, type Meter } from './driver.js';
import { timedProvider } from './timing.js';

// ---- settings ----

const QUICK = process.env.BENCH_QUICK === '1';
const CELL_MS = Number(process.env.BENCH_CELL_MS ?? (QUICK ? 1000 : 5000));
const WARMUP_MS = QUICK ? 300 : 1000;
/**
 * Rate cells (handshakes, bulk) run in rounds of CELL_MS / ROUNDS, the implementations
 * taking turns (in reversed order every other round), and report each implementation's
 * median. On a shared machine node:tls alone swung from 265 to 730 MB/s between runs
 * minutes apart; measured back to back, in turns, the ratios hold.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 5));
const ROUND_MS = CELL_MS / ROUNDS;
const BULK_BYTES = (QUICK ? 4 : 64) * 2 ** 20;
const CHUNK = 64 * 1024;
const IDLE_CONNECTIONS = QUICK ? 200 : 1000;
/**
 * Connections opened (and closed) before measuring, to warm compiled code up: as many as
 * measured. With 200, optimized code compiled during the measured run still counted as
 * about 1 KB of memory per tsls connection (node:tls's engine is native and has none).
 */
const IDLE_WARMUP = Number(process.env.BENCH_IDLE_WARMUP ?? IDLE_CONNECTIONS);
/** Handshakes in flight at once (the same for every implementation). */
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const HOST = '127.0.0.1';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const pki = (f: string) => readFileSync(`${ROOT}vectors/pki/${f}`, 'utf8');
const PEM = { chain: pki('leaf-ecdsa-p256.chain.pem'), key: pki('leaf-ecdsa-p256.key'), root: pki('root.crt') };
const CERT = { chain: parseCertificateChain(PEM.chain), key: parsePrivateKey(PEM.key) };
const ROOT_CA = parseCertificateChain(PEM.root);

type Impl = 'tsls-node' | 'tsls-noble' | 'node-tls';
/** BENCH_IMPLS=tsls-node,node-tls and BENCH_ONLY=tls13-handshakes,bulk narrow a run down (for profiling). */
const IMPLS = (['tsls-node', 'tsls-noble', 'node-tls'] as Impl[]).filter((i) => !process.env.BENCH_IMPLS || process.env.BENCH_IMPLS.split(',').includes(i));
const wanted = (metric: string) => !process.env.BENCH_ONLY || process.env.BENCH_ONLY.split(',').some((m) => metric.startsWith(m));

interface Row {
  metric: string;
  impl: Impl;
  value: number | null;
  unit: string;
  ratioToNodeTls: number | null;
  note?: string;
}

/** What one cell runs: protocol version and cipher suite, by IANA and OpenSSL name. */
interface Variant {
  version: 'TLSv1.3' | 'TLSv1.2';
  suite: string;
  openssl: string;
  /** Key exchange groups when not the default X25519 (tsls names, and OpenSSL's for node:tls). */
  groups?: { tsls: GroupName[]; openssl: string };
}
const TLS13_AES128: Variant = { version: 'TLSv1.3', suite: 'TLS_AES_128_GCM_SHA256', openssl: 'TLS_AES_128_GCM_SHA256' };
/** The browsers' default key exchange: X25519MLKEM768 (node:tls has it from Node 24.5 with OpenSSL 3.5). */
const TLS13_HYBRID: Variant = { ...TLS13_AES128, groups: { tsls: ['X25519MLKEM768'], openssl: 'X25519MLKEM768' } };
const TLS13_CHACHA: Variant = { version: 'TLSv1.3', suite: 'TLS_CHACHA20_POLY1305_SHA256', openssl: 'TLS_CHACHA20_POLY1305_SHA256' };
const TLS12_AES128: Variant = {
  version: 'TLSv1.2',
  suite: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
  openssl: 'ECDHE-ECDSA-AES128-GCM-SHA256',
};

// ---- one interface over the three implementations ----

interface ClientSide {
  write(data: Uint8Array): boolean;
  drained(): Promise<void>;
  end(): void;
  closed: Promise<void>;
  protocol: string | undefined;
  reused: boolean;
  /** The next session the server hands out (TLS 1.3 tickets come after the handshake). */
  session: Promise<unknown>;
}

interface Listening {
  port: number;
  serverHandshakes: number;
  close(): Promise<void>;
}

interface Adapter {
  impl: Impl;
  listen(v: Variant, onData: (n: number) => void): Promise<Listening>;
  connect(port: number, v: Variant, session?: unknown): Promise<ClientSide>;
}

/** Resolves on the event, never rejects (events.once rejects on 'error'). */
function event(emitter: NodeJS.EventEmitter, name: string): Promise<unknown> {
  return new Promise((resolve) => emitter.once(name, resolve));
}

/** Groups offered: X25519 first (the key share); P-256 too, as OpenSSL's TLS 1.2 server wants the certificate's curve listed. */
const TSLS_GROUPS = ['x25519', 'secp256r1'] as const;
const OPENSSL_GROUPS = 'X25519:P-256';

function listenOn(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve((server.address() as net.AddressInfo).port));
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function tslsAdapter(impl: Impl, provider: CryptoProvider, meter?: Meter): Adapter {
  return {
    impl,
    async listen(v, onData) {
      // One options object for every connection: ticket keys are kept per options object.
      const options: ServerOptions = {
        certificates: [CERT],
        provider,
        cipherSuites: [v.suite],
        groups: v.groups?.tsls ?? [...TSLS_GROUPS],
        minVersion: v.version,
        maxVersion: v.version,
      };
      const state: Listening = { port: 0, serverHandshakes: 0, close: () => closeServer(server) };
      const server = net.createServer((socket) => {
        const conn = timed(meter, () => Connection.server(options));
        new TlsOverTcp(conn, socket, meter);
        conn.on('handshake', () => state.serverHandshakes++);
        conn.on('data', (d) => onData(d.length));
      });
      state.port = await listenOn(server);
      return state;
    },
    connect(port, v, session) {
      const options: ClientOptions = {
        provider,
        ca: ROOT_CA,
        servername: 'localhost',
        cipherSuites: [v.suite],
        groups: v.groups?.tsls ?? [...TSLS_GROUPS],
        minVersion: v.version,
        maxVersion: v.version,
      };
      // The resumption API is new; set it loosely so this file builds either way.
      if (session !== undefined) (options as Record<string, unknown>).session = session;
      const conn = timed(meter, () => Connection.client(options));
      const socket = net.connect(port, HOST);
      const d = new TlsOverTcp(conn, socket, meter);
      socket.once('connect', () => d.start());
      const closed = event(socket, 'close').then(() => undefined);
      const sessionEvent = new Promise<unknown>((resolve) => (conn as unknown as { on(e: string, f: (s: unknown) => void): void }).on('session', resolve));
      return new Promise((resolve, reject) => {
        conn.on('error', (e) => reject(e));
        socket.once('close', () => reject(new Error('closed before the handshake completed')));
        conn.on('handshake', () =>
          resolve({
            write: (data) => d.write(data),
            drained: () => once(socket, 'drain').then(() => undefined),
            end: () => d.end(),
            closed,
            protocol: conn.protocol,
            reused: Boolean((conn as unknown as { sessionReused?: boolean }).sessionReused),
            session: sessionEvent,
          }),
        );
      });
    },
  };
}

/** One client context per variant, made once, as an application would (tsls gets its CA parsed once too). */
const clientContexts = new Map<Variant, tls.SecureContext>();
function clientContext(v: Variant): tls.SecureContext {
  let ctx = clientContexts.get(v);
  if (!ctx) {
    ctx = tls.createSecureContext({
      ca: PEM.root,
      minVersion: v.version,
      maxVersion: v.version,
      ecdhCurve: v.groups?.openssl ?? OPENSSL_GROUPS,
      ...(v.version === 'TLSv1.3' ? { ciphersuites: v.openssl } : { ciphers: v.openssl }),
    });
    clientContexts.set(v, ctx);
  }
  return ctx;
}

const nodeTlsAdapter: Adapter = {
  impl: 'node-tls',
  async listen(v, onData) {
    const state: Listening = { port: 0, serverHandshakes: 0, close: () => closeServer(server) };
    const server = tls.createServer(
      {
        cert: PEM.chain,
        key: PEM.key,
        minVersion: v.version,
        maxVersion: v.version,
        ecdhCurve: v.groups?.openssl ?? OPENSSL_GROUPS,
        ...(v.version === 'TLSv1.3' ? { ciphersuites: v.openssl } : { ciphers: v.openssl }),
      },
      (socket) => {
        state.serverHandshakes++;
        socket.setNoDelay(true);
        socket.on('data', (d: Buffer) => onData(d.length));
        socket.on('error', () => {});
      },
    );
    server.on('tlsClientError', () => {});
    state.port = await listenOn(server);
    return state;
  },
  connect(port, v, session) {
    const socket = tls.connect({
      port,
      host: HOST,
      servername: 'localhost',
      secureContext: clientContext(v),
      ...(session ? { session: session as Buffer } : {}),
    });
    socket.setNoDelay(true);
    socket.resume();
    const closed = event(socket, 'close').then(() => undefined);
    const sessionEvent = event(socket, 'session');
    return new Promise((resolve, reject) => {
      socket.on('error', reject);
      socket.once('secureConnect', () =>
        resolve({
          write: (data) => socket.write(data),
          drained: () => once(socket, 'drain').then(() => undefined),
          end: () => socket.end(),
          closed,
          protocol: socket.getProtocol() ?? undefined,
          reused: socket.isSessionReused(),
          session: sessionEvent,
        }),
      );
    });
  },
};

/**
 * The providers with the certificate-signature cache off: every handshake verifies the
 * whole chain, as node:tls does. With it on, a client in this process that sees the same
 * server chain again skips those checks, which flatters tsls next to node:tls.
 */
const uncached = { 'tsls-node': createNodeProvider({ verifyCacheSize: 0 }), 'tsls-noble': createNobleProvider({ verifyCacheSize: 0 }) };

function adapterFor(impl: Impl, provider?: CryptoProvider, meter?: Meter): Adapter {
  if (impl === 'node-tls') return nodeTlsAdapter;
  return tslsAdapter(impl, provider ?? (impl === 'tsls-node' ? nodeProvider : nobleProvider), meter);
}

// ---- cells ----

const now = () => performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]);
}

interface Rate {
  count: number;
  ms: number;
  perSecond: number;
}

/** Full handshake, close_notify both ways, TCP closed: as many as fit in `duration`, CONCURRENCY at a time. */
async function handshakeLoop(a: Adapter, port: number, v: Variant, duration: number, session?: () => unknown): Promise<Rate & { reused: number }> {
  const deadline = now() + duration;
  const start = now();
  let count = 0;
  let reused = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (now() < deadline) {
        const c = await withTimeout(a.connect(port, v, session?.()), 30_000, `${a.impl} handshake`);
        if (c.reused) reused++;
        c.end();
        await c.closed;
        count++;
      }
    }),
  );
  const ms = now() - start;
  return { count, ms, perSecond: (count / ms) * 1000, reused };
}

async function handshakes(impl: Impl, v: Variant, verifyCache = true): Promise<{ value: number | null; note?: string }> {
  const a = adapterFor(impl, impl !== 'node-tls' && !verifyCache ? uncached[impl] : undefined);
  // node:tls before OpenSSL 3.5 refuses the hybrid group names outright.
  const server = await a.listen(v, () => {}).catch((e: Error) => e);
  if (server instanceof Error) return { value: null, note: `${impl} cannot serve this variant here: ${server.message}` };
  try {
    const probe = await withTimeout(a.connect(server.port, v), 10_000, 'probe').catch((e: Error) => e);
    if (probe instanceof Error) return { value: null, note: `${impl} cannot do a ${v.version} handshake here: ${probe.message}` };
    probe.end();
    await probe.closed;
    if (probe.protocol !== v.version) return { value: null, note: `negotiated ${probe.protocol}, not ${v.version}` };
    await handshakeLoop(a, server.port, v, WARMUP_MS);
    const before = server.serverHandshakes;
    const r = await handshakeLoop(a, server.port, v, ROUND_MS);
    const serverSide = server.serverHandshakes - before;
    return {
      value: round(r.perSecond),
      note: `${r.count} handshakes in ${round(r.ms)} ms, ${CONCURRENCY} in flight; server completed ${serverSide}`,
    };
  } finally {
    await server.close();
  }
}

async function resumedHandshakes(impl: Impl, v: Variant): Promise<{ value: number | null; note?: string }> {
  const a = adapterFor(impl);
  const server = await a.listen(v, () => {});
  try {
    // One full handshake for a ticket, then resume it over and over (psk_dhe_ke for both).
    const first = await withTimeout(a.connect(server.port, v), 10_000, 'full handshake');
    const session = await withTimeout(first.session, 2_000, 'session ticket').catch((e: Error) => e);
    first.end();
    await first.closed;
    if (session instanceof Error || session === undefined) {
      return { value: null, note: `${impl}: no session to resume (${session instanceof Error ? session.message : 'empty'}); resumption not available` };
    }
    const probe = await withTimeout(a.connect(server.port, v, session), 10_000, 'resumed handshake').catch((e: Error) => e);
    if (probe instanceof Error) return { value: null, note: `${impl}: resumed handshake failed: ${probe.message}` };
    probe.end();
    await probe.closed;
    if (!probe.reused) return { value: null, note: `${impl}: the server did not resume the session (full handshake instead)` };
    await handshakeLoop(a, server.port, v, WARMUP_MS, () => session);
    const r = await handshakeLoop(a, server.port, v, ROUND_MS, () => session);
    if (r.reused !== r.count) return { value: null, note: `${impl}: only ${r.reused} of ${r.count} handshakes resumed; not reported` };
    return { value: round(r.perSecond), note: `${r.count} resumed handshakes (one ticket reused), ${CONCURRENCY} in flight` };
  } finally {
    await server.close();
  }
}

async function bulk(impl: Impl, v: Variant, a: Adapter = adapterFor(impl)): Promise<{ value: number | null; note?: string }> {
  let received = 0;
  let target = Infinity;
  let done: () => void = () => {};
  const server = await a.listen(v, (n) => {
    received += n;
    if (received >= target) done();
  });
  const chunk = new Uint8Array(CHUNK);
  for (let i = 0; i < CHUNK; i++) chunk[i] = (i * 131) & 0xff;
  try {
    const c = await a.connect(server.port, v);
    const transfer = async (bytes: number) => {
      received = 0;
      target = bytes;
      const finished = new Promise<void>((r) => (done = r));
      for (let sent = 0; sent < bytes; ) {
        const n = Math.min(CHUNK, bytes - sent);
        const ok = c.write(n === CHUNK ? chunk : chunk.subarray(0, n));
        sent += n;
        if (!ok) await c.drained();
      }
      await finished;
    };
    await transfer(Math.min(BULK_BYTES, 8 * 2 ** 20));
    const start = now();
    let total = 0;
    let transfers = 0;
    do {
      await transfer(BULK_BYTES);
      total += BULK_BYTES;
      transfers++;
    } while (now() - start < ROUND_MS);
    const ms = now() - start;
    c.end();
    await c.closed;
    return {
      value: round(total / 1e6 / (ms / 1000)),
      note: `${transfers} x ${BULK_BYTES / 2 ** 20} MiB client to server in ${round(ms)} ms (encrypt and decrypt both in this process)`,
    };
  } finally {
    await server.close();
  }
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run node with --expose-gc');
  for (let i = 0; i < 4; i++) g();
}

interface IdleResult {
  value: number | null;
  note?: string;
  rss?: { value: number | null; note?: string };
}

/** `count` connections, 20 handshakes in flight at a time, left open. */
async function openIdle(a: Adapter, port: number, count: number): Promise<ClientSide[]> {
  const clients: ClientSide[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      while (next < count) {
        next++;
        clients.push(await withTimeout(a.connect(port, TLS13_AES128), 30_000, 'idle connect'));
      }
    }),
  );
  return clients;
}

async function idleBytes(impl: Impl): Promise<IdleResult> {
  if (!(globalThis as { gc?: unknown }).gc) return { value: null, note: 'node was not started with --expose-gc' };
  const a = adapterFor(impl);
  const server = await a.listen(TLS13_AES128, () => {});
  const clients: ClientSide[] = [];
  try {
    // Warm the code paths so that compiled code and caches are not counted as per-connection
    // memory: the same way as measured (IDLE_WARMUP at a time, held open, settled), then closed.
    // Twenty one after the other left the optimizing compiler's work to the measured run.
    const warm = await openIdle(a, server.port, IDLE_WARMUP);
    await sleep(500);
    for (const c of warm) c.end();
    await Promise.all(warm.map((c) => c.closed));
    await sleep(100);
    gc();
    const before = process.memoryUsage();
    clients.push(...(await openIdle(a, server.port, IDLE_CONNECTIONS)));
    // Let post-handshake messages (tickets) arrive and settle.
    await sleep(500);
    gc();
    const after = process.memoryUsage();
    const n = clients.length;
    const perConn = (k: 'heapUsed' | 'external' | 'arrayBuffers' | 'rss') => (after[k] - before[k]) / n;
    const value = Math.round(perConn('heapUsed') + perConn('external'));
    return {
      value,
      rss: {
        value: Math.round(perConn('rss')),
        note: `rss delta over the same ${n} idle pairs: counts native (OpenSSL) memory too, but also allocator slack; noisy`,
      },
      note:
        `${n} idle connections, client and server ends both in this process, per pair: heapUsed ${Math.round(perConn('heapUsed'))} + external ${Math.round(perConn('external'))} ` +
        `(external already includes arrayBuffers ${Math.round(perConn('arrayBuffers'))}, so it is not added twice); rss ${Math.round(perConn('rss'))}` +
        (impl === 'node-tls' ? '; OpenSSL heap is outside V8 and only shows in rss' : ''),
    };
  } finally {
    for (const c of clients) c.end();
    await Promise.all(clients.map((c) => c.closed));
    await server.close();
  }
}

/** Where a tsls handshake's time goes: inside the provider, inside the rest of the engine, outside both. */
async function cryptoShare(impl: 'tsls-node' | 'tsls-noble'): Promise<{ value: number | null; note?: string; breakdown: string }> {
  const { provider, times } = timedProvider(impl === 'tsls-node' ? nodeProvider : nobleProvider);
  const meter = newMeter();
  const a = adapterFor(impl, provider, meter);
  const server = await a.listen(TLS13_AES128, () => {});
  try {
    await handshakeLoop(a, server.port, TLS13_AES128, WARMUP_MS);
    times.reset();
    meter.ms = 0;
    const cpu0 = process.cpuUsage();
    const r = await handshakeLoop(a, server.port, TLS13_AES128, CELL_MS);
    const cpu = process.cpuUsage(cpu0);
    const crypto = times.total();
    const engine = meter.ms;
    const per = (ms: number) => round(ms / r.count, 3);
    const breakdown = [...times.byMethod.entries()]
      .sort((x, y) => y[1] - x[1])
      .slice(0, 6)
      .map(([k, ms]) => `${k} ${round((100 * ms) / crypto, 1)}%`)
      .join(', ');
    return {
      value: round((100 * crypto) / engine, 1),
      note:
        `per handshake (client + server): ${per(engine)} ms inside tsls, of which crypto ${per(crypto)} ms and engine ${per(engine - crypto)} ms; ` +
        `process CPU ${per((cpu.user + cpu.system) / 1000)} ms, wall ${per(r.ms * CONCURRENCY)} ms per connection; crypto by method: ${breakdown}`,
      breakdown,
    };
  } finally {
    await server.close();
  }
}

/**
 * Where bulk transfer time inside tsls goes: the AEAD (seal and open) against the rest of
 * the engine (framing, buffers, events). "Bulk limited by the cipher" means this is high.
 */
async function bulkCryptoShare(impl: 'tsls-node' | 'tsls-noble', v: Variant): Promise<{ value: number | null; note?: string }> {
  const { provider, times } = timedProvider(impl === 'tsls-node' ? nodeProvider : nobleProvider);
  const meter = newMeter();
  const r = await bulk(impl, v, adapterFor(impl, provider, meter));
  if (r.value === null) return r;
  // Everything here, handshake included, is measured from the start; the handshake is a rounding error next to the transfers.
  const aead = (times.byMethod.get('aead.seal') ?? 0) + (times.byMethod.get('aead.open') ?? 0);
  return {
    value: round((100 * aead) / meter.ms, 1),
    note:
      `${v.suite}: ${round(meter.ms)} ms inside tsls, of which AEAD seal/open ${round(aead)} ms and the rest ${round(meter.ms - aead)} ms ` +
      `(${r.value} MB/s with timing on; without the fast sealTo path, as timing wraps the AEAD)`,
  };
}

// ---- main ----

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function machine(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores, Node ${process.version} (OpenSSL ${process.versions.openssl}), ${os.platform()} ${os.arch()}`;
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const add = (metric: string, impl: Impl, unit: string, r: { value: number | null; note?: string }) => {
    rows.push({ metric, impl, value: r.value, unit, ratioToNodeTls: null, ...(r.note ? { note: r.note } : {}) });
    console.error(`  ${metric} ${impl}: ${r.value ?? 'n/a'} ${unit}${r.note ? `  (${r.note})` : ''}`);
  };
  const loadStart = os.loadavg().map((x) => round(x));
  console.error(`tsls bench${QUICK ? ' (quick)' : ''}: ${machine()}; ${CELL_MS} ms per cell (${ROUNDS} rounds); load average ${loadStart.join(' ')}`);

  /** A rate cell in ROUNDS rounds, the implementations taking turns; each reports its median. */
  const inTurns = async (metric: string, unit: string, cell: (impl: Impl) => Promise<{ value: number | null; note?: string }>) => {
    if (!wanted(metric)) return;
    const runs = new Map<Impl, { value: number | null; note?: string }[]>(IMPLS.map((i) => [i, []]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const impl of r % 2 ? [...IMPLS].reverse() : IMPLS) runs.get(impl)!.push(await cell(impl));
    }
    for (const impl of IMPLS) {
      const all = runs.get(impl)!;
      const values = all.map((x) => x.value).filter((v): v is number => v !== null);
      if (values.length < all.length) {
        add(metric, impl, unit, all.find((x) => x.value === null)!);
        continue;
      }
      const median = [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
      const rounds = ROUNDS > 1 ? `; median of ${ROUNDS} rounds of ${round(ROUND_MS)} ms: ${values.join(', ')}` : '';
      add(metric, impl, unit, { value: median, note: `${all[values.indexOf(median)]!.note ?? ''}${rounds}` });
    }
  };
  await inTurns('tls13-handshakes', 'handshakes/s', (impl) => handshakes(impl, TLS13_AES128));
  await inTurns('tls13-hybrid-handshakes', 'handshakes/s', (impl) => handshakes(impl, TLS13_HYBRID));
  await inTurns('tls12-handshakes', 'handshakes/s', (impl) => handshakes(impl, TLS12_AES128));
  // The same with tsls's certificate-signature cache off (node:tls has none): the fair comparison.
  await inTurns('tls13-handshakes-verify-cache-off', 'handshakes/s', (impl) => handshakes(impl, TLS13_AES128, false));
  await inTurns('tls12-handshakes-verify-cache-off', 'handshakes/s', (impl) => handshakes(impl, TLS12_AES128, false));
  await inTurns('tls13-resumed-handshakes', 'handshakes/s', (impl) => resumedHandshakes(impl, TLS13_AES128));
  await inTurns('bulk-aes128gcm', 'MB/s', (impl) => bulk(impl, TLS13_AES128));
  await inTurns('bulk-chacha20', 'MB/s', (impl) => bulk(impl, TLS13_CHACHA));
  if (wanted('idle-connection')) {
    const idle = new Map<Impl, IdleResult>();
    for (const impl of IMPLS) {
      const r = await idleBytes(impl);
      idle.set(impl, r);
      add('idle-connection-bytes', impl, 'bytes/connection', r);
    }
    for (const impl of IMPLS) add('idle-connection-rss-bytes', impl, 'bytes/connection', idle.get(impl)?.rss ?? { value: null, note: 'not measured' });
  }
  if (wanted('bulk-crypto-share')) {
    for (const impl of ['tsls-noble', 'tsls-node'] as const) {
      if (IMPLS.includes(impl)) add('bulk-crypto-share', impl, '% of time inside tsls', await bulkCryptoShare(impl, TLS13_AES128));
    }
  }
  if (wanted('tls13-handshake-crypto-share')) {
    for (const impl of ['tsls-noble', 'tsls-node'] as const) {
      if (IMPLS.includes(impl)) add('tls13-handshake-crypto-share', impl, '% of time inside tsls', await cryptoShare(impl));
    }
  }

  for (const r of rows) {
    const base = rows.find((x) => x.metric === r.metric && x.impl === 'node-tls');
    if (r.value !== null && base?.value) r.ratioToNodeTls = round(r.value / base.value, 3);
  }

  const header = ['metric', 'impl', 'value', 'unit', 'vs node-tls'];
  const table = rows.map((r) => [r.metric, r.impl, r.value === null ? 'n/a' : String(r.value), r.unit, r.ratioToNodeTls === null ? '' : `${r.ratioToNodeTls}x`]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 2 || i === 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const t of table) console.log(line(t));
  const notes = rows.filter((r) => r.value === null || r.metric.endsWith('share'));
  if (notes.length) {
    console.log('');
    for (const r of notes) console.log(`${r.metric} / ${r.impl}: ${r.note}`);
  }

  const out = { machine: machine(), loadAverage: { start: loadStart, end: os.loadavg().map((x) => round(x)) }, quick: QUICK, cellMs: CELL_MS, rounds: ROUNDS, concurrency: CONCURRENCY, results: rows };
  writeFileSync(`${ROOT}bench/results.json`, JSON.stringify(out, null, 2) + '\n');
  console.log(`\nwrote ${ROOT}bench/results.json`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
