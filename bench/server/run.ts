/**
 * Server-side benchmark: the server under test alone in its own process (./target.ts:
 * tsls on node:crypto, tsls on noble, node:tls; `openssl s_server -www` as the native
 * ceiling), load from other processes (a pool of node:tls clients in ./load.ts processes,
 * and `openssl s_time` where installed), the way an operator would measure a server.
 *
 *   npm run bench:server                 full run (a few minutes on 2 cores)
 *   BENCH_QUICK=1 npm run bench:server   smoke run (one short round)
 *   BENCH_SERVERS=tsls-node,node-tls     only these servers; BENCH_ONLY=handshakes,cluster,idle
 *
 * Per cell: connections per second (each one handshake, `GET /`, the answer, close) and
 * the server's CPU time per connection, read from /proc/PID/stat of the server process
 * (and its cluster workers), so the client side's cost is not counted. Each cell runs
 * once per round, the servers taking turns (reversed every other round); the value is the
 * median of the rounds, with min and max. Writes bench/server-results.json.
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { ServerImpl } from './target.js';

type Server = ServerImpl | 'openssl';
type Version = 'TLSv1.3' | 'TLSv1.2';

const QUICK = process.env.BENCH_QUICK === '1';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 3));
/** One measured stretch of one cell. */
const CELL_MS = Number(process.env.BENCH_CELL_MS ?? (QUICK ? 700 : 1500));
const WARMUP_MS = QUICK ? 300 : 700;
/**
 * Connections a fresh server process serves before it is measured: a JavaScript server's
 * first second runs unoptimized code (4.7 ms of CPU per TLS 1.3 handshake where it settles
 * at 2.4 ms, on this machine under load), and a server runs for longer than that.
 */
const WARMUP_CONNECTIONS = Number(process.env.BENCH_WARMUP ?? (QUICK ? 50 : 400));
/** The "N concurrent clients" column: this many load processes, one connection at a time each. */
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 4);
const IDLE = Number(process.env.BENCH_IDLE ?? (QUICK ? 1000 : 10_000));
const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PKI = `${ROOT}vectors/pki/`;

const has = (cmd: string) => {
  try {
    execFileSync(cmd, ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const OPENSSL = has('openssl');
const SERVERS = (['tsls-node', 'tsls-noble', 'node-tls', ...(OPENSSL ? ['openssl' as const] : [])] as Server[]).filter(
  (s) => !process.env.BENCH_SERVERS || process.env.BENCH_SERVERS.split(',').includes(s),
);
const wanted = (part: string) => !process.env.BENCH_ONLY || process.env.BENCH_ONLY.split(',').includes(part);
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** User + system CPU of these processes so far, in ms (clock ticks, 10 ms each on Linux). */
function cpuMs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(rest[11]) + Number(rest[12]);
    } catch {
      // Gone already: counted as nothing more.
    }
  }
  return (ticks * 1000) / CLK_TCK;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on ${port}`);
}

interface Running {
  port: number;
  pids: number[];
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Ends a child and waits for it. */
function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  return gone;
}

/** One server process (a cluster when `workers` is given), listening. */
async function startServer(server: Server, version: Version, workers?: number): Promise<Running> {
  if (server === 'openssl') {
    const port = await freePort();
    const args = ['s_server', '-accept', `127.0.0.1:${port}`, '-cert', `${PKI}leaf-ecdsa-p256.crt`, '-cert_chain', `${PKI}intermediate.crt`];
    args.push('-key', `${PKI}leaf-ecdsa-p256.key`, '-www', '-quiet', '-groups', 'X25519:P-256');
    args.push(...(version === 'TLSv1.3' ? ['-tls1_3', '-ciphersuites', 'TLS_AES_128_GCM_SHA256'] : ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256']));
    // stdin stays open (s_server reads commands from it); closing it would stop the server.
    const child = spawn('openssl', args, { stdio: ['pipe', 'ignore', 'inherit'] });
    await waitForPort(port, child);
    return { port, pids: [child.pid!], child, stop: () => stopChild(child) };
  }
  const env = {
    ...process.env,
    BENCH_IMPL: server,
    BENCH_VERSION: version,
    ...(workers ? { BENCH_CLUSTER: '1', BENCH_WORKERS: String(workers), BENCH_TICKET_KEYS: randomBytes(48).toString('hex') } : {}),
  };
  const child = fork(`${HERE}target.js`, [], { env, execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = await new Promise<{ port: number; pids: number[] }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { port: number; pids: number[] }));
    child.once('exit', (code) => reject(new Error(`${server} server exited with ${code}`)));
  });
  return { ...ready, child, stop: () => stopChild(child) };
}

/** Sends one job and waits for its answer. */
function ask<T>(child: ChildProcess, job: object): Promise<T> {
  return new Promise((resolve, reject) => {
    child.once('message', (m) => ((m as { error?: string }).error ? reject(new Error((m as { error: string }).error)) : resolve(m as T)));
    child.send(job);
  });
}

interface LoopResult {
  count: number;
  reused: number;
  errors: number;
  firstError?: string;
}

interface Measurement {
  count?: number;
  rate: number;
  cpuPerConnection: number | null;
  note?: string;
}

/** `clients` load processes, one connection at a time each, for CELL_MS. */
async function nodePool(pool: ChildProcess[], clients: number, s: Running, version: Version, resumed: boolean, ms = CELL_MS): Promise<Measurement> {
  const cpu0 = cpuMs(s.pids);
  const t0 = performance.now();
  const results = await Promise.all(pool.slice(0, clients).map((c) => ask<LoopResult>(c, { cmd: 'loop', port: s.port, version, resumed, ms })));
  const wall = performance.now() - t0;
  const cpu = cpuMs(s.pids) - cpu0;
  const count = results.reduce((a, r) => a + r.count, 0);
  const reused = results.reduce((a, r) => a + r.reused, 0);
  const errors = results.reduce((a, r) => a + r.errors, 0);
  const firstError = results.find((r) => r.firstError)?.firstError;
  if (count === 0) throw new Error(`no connection completed: ${firstError ?? 'no error'}`);
  if (resumed && reused !== count) throw new Error(`only ${reused} of ${count} connections resumed`);
  return {
    count,
    rate: (count / wall) * 1000,
    cpuPerConnection: cpu / count,
    ...(errors ? { note: `${errors} failed connections (${firstError})` } : {}),
  };
}

/** Full and resumed connections until the server has served WARMUP_CONNECTIONS of each (or 10 tries). */
async function warmUp(pool: ChildProcess[], s: Running, version: Version): Promise<void> {
  for (const resumed of [false, true]) {
    let served = 0;
    for (let i = 0; i < 10 && served < WARMUP_CONNECTIONS; i++) {
      const m = await nodePool(pool, CLIENTS, s, version, resumed, WARMUP_MS).catch(() => undefined);
      served += m?.count ?? 0;
    }
  }
}

/** `openssl s_time` against the server: a C client, one connection at a time. */
function sTime(s: Running, version: Version, resumed: boolean): Promise<Measurement> {
  const seconds = Math.max(1, Math.round(CELL_MS / 1000));
  const args = ['s_time', '-connect', `127.0.0.1:${s.port}`, '-www', '/', resumed ? '-reuse' : '-new', '-time', String(seconds)];
  args.push(...(version === 'TLSv1.3' ? ['-tls1_3', '-ciphersuites', 'TLS_AES_128_GCM_SHA256'] : ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256']));
  const cpu0 = cpuMs(s.pids);
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d));
    child.stderr!.on('data', (d: Buffer) => (out += d));
    child.on('exit', () => {
      const cpu = cpuMs(s.pids) - cpu0;
      // "N connections in T real seconds, B bytes read per connection"
      const m = /(\d+) connections in (\d+) real seconds/.exec(out);
      if (!m || Number(m[1]) === 0) return reject(new Error(`s_time: ${out.trim().split('\n').slice(-3).join(' / ')}`));
      const count = Number(m[1]);
      // s_time counts whole seconds of wall time; CPU is per connection it made (the first, full one included).
      resolve({ rate: count / Number(m[2]), cpuPerConnection: cpu / count });
    });
  });
}

interface Row {
  section: string;
  metric: string;
  load: string;
  server: string;
  rate: number | null;
  rateRounds: number[];
  rateMin?: number;
  rateMax?: number;
  ratioToNodeTls?: number;
  serverCpuMsPerConnection?: number | null;
  /** node:tls's server CPU per connection over this one's: above 1, this server spends less. Steadier than rates on a loaded machine. */
  cpuRatioToNodeTls?: number;
  cpuRounds?: (number | null)[];
  note?: string;
}

function machine(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores, Node ${process.version} (OpenSSL ${process.versions.openssl}), ${os.platform()} ${os.arch()}`;
}

async function main(): Promise<void> {
  const loadAt: number[][] = [os.loadavg().map((x) => round(x))];
  console.error(`tsls server bench: ${machine()}; ${ROUNDS} rounds of ${CELL_MS} ms cells; load average ${loadAt[0]!.join(' ')}`);
  const pool = Array.from({ length: Math.max(CLIENTS, 1) }, () => fork(`${HERE}load.js`, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const samples = new Map<string, { section: string; metric: string; load: string; server: string; rates: number[]; cpus: (number | null)[]; notes: string[] }>();
  const record = (section: string, metric: string, load: string, server: string, m: Measurement | Error) => {
    const key = `${section}|${metric}|${load}|${server}`;
    let s = samples.get(key);
    if (!s) samples.set(key, (s = { section, metric, load, server, rates: [], cpus: [], notes: [] }));
    if (m instanceof Error) s.notes.push(m.message);
    else {
      s.rates.push(m.rate);
      s.cpus.push(m.cpuPerConnection);
      if (m.note) s.notes.push(m.note);
    }
    console.error(`  ${metric} ${load} ${server}: ${m instanceof Error ? `failed: ${m.message}` : `${round(m.rate)}/s, server CPU ${m.cpuPerConnection === null ? '?' : round(m.cpuPerConnection, 3)} ms/conn`}`);
  };
  const attempt = async (f: () => Promise<Measurement>) => f().catch((e: Error) => e);

  try {
    if (wanted('handshakes')) {
      for (let r = 0; r < ROUNDS; r++) {
        const order = r % 2 ? [...SERVERS].reverse() : SERVERS;
        for (const version of ['TLSv1.3', 'TLSv1.2'] as Version[]) {
          const v = version === 'TLSv1.3' ? 'tls13' : 'tls12';
          for (const server of order) {
            const s = await startServer(server, version);
            try {
              await warmUp(pool, s, version);
              for (const resumed of [false, true]) {
                const metric = `${v}-${resumed ? 'resumed' : 'full'}`;
                record('handshakes', metric, 'node:tls x1', server, await attempt(() => nodePool(pool, 1, s, version, resumed)));
                record('handshakes', metric, `node:tls x${CLIENTS}`, server, await attempt(() => nodePool(pool, CLIENTS, s, version, resumed)));
                if (OPENSSL) record('handshakes', metric, 's_time x1', server, await attempt(() => sTime(s, version, resumed)));
              }
            } finally {
              await s.stop();
            }
          }
          loadAt.push(os.loadavg().map((x) => round(x)));
        }
      }
    }

    if (wanted('cluster')) {
      // node:cluster, 1 and 2 workers sharing ticket keys (and the primary handing out connections).
      const servers = SERVERS.filter((s): s is ServerImpl => s === 'tsls-node' || s === 'node-tls');
      for (let r = 0; r < ROUNDS; r++) {
        for (const workers of r % 2 ? [2, 1] : [1, 2]) {
          for (const server of r % 2 ? [...servers].reverse() : servers) {
            const s = await startServer(server, 'TLSv1.3', workers);
            try {
              await warmUp(pool, s, 'TLSv1.3');
              for (const resumed of [false, true]) {
                record('cluster', `tls13-${resumed ? 'resumed' : 'full'}`, `node:tls x${CLIENTS}, ${workers} worker${workers > 1 ? 's' : ''}`, server, await attempt(() => nodePool(pool, CLIENTS, s, 'TLSv1.3', resumed)));
              }
            } finally {
              await s.stop();
            }
          }
        }
      }
      loadAt.push(os.loadavg().map((x) => round(x)));
    }

    const idleRows: Row[] = [];
    if (wanted('idle')) {
      // Memory of a server holding IDLE open, idle TLS 1.3 connections (one load process holds them).
      // tsls on noble holds connections the same way (the provider keeps nothing per connection
      // but its keys) and would take a minute more to open them: not measured here.
      for (const server of SERVERS.filter((s): s is ServerImpl => s === 'tsls-node' || s === 'node-tls')) {
        const s = await startServer(server, 'TLSv1.3');
        const holder = pool[0]!;
        try {
          // Warm-up: as many connections opened and closed first, so compiled code and pools are not counted.
          await ask(holder, { cmd: 'hold', port: s.port, count: Math.min(IDLE, 2000) });
          await ask(holder, { cmd: 'release' });
          await sleep(300);
          const before = await ask<{ memory: NodeJS.MemoryUsage; open: number }>(s.child, { cmd: 'memory' });
          const t0 = performance.now();
          await ask(holder, { cmd: 'hold', port: s.port, count: IDLE });
          const openMs = performance.now() - t0;
          await sleep(500);
          const after = await ask<{ memory: NodeJS.MemoryUsage; open: number }>(s.child, { cmd: 'memory' });
          const n = after.open - before.open;
          const per = (k: 'rss' | 'heapUsed' | 'external') => Math.round((after.memory[k] - before.memory[k]) / n);
          for (const [metric, value] of [
            ['idle-heap+external-bytes', per('heapUsed') + per('external')],
            ['idle-rss-bytes', per('rss')],
          ] as const) {
            idleRows.push({
              section: 'idle',
              metric,
              load: `${n} connections`,
              server,
              rate: value,
              rateRounds: [value],
              note: `per connection held by the server process: heapUsed ${per('heapUsed')}, external ${per('external')}, rss ${per('rss')} (rss counts OpenSSL's native memory); ${IDLE} opened in ${round(openMs / 1000, 1)} s`,
            });
          }
          console.error(`  idle ${server}: ${idleRows.at(-1)!.note}`);
        } finally {
          await ask(holder, { cmd: 'release' }).catch(() => {});
          await s.stop();
        }
      }
      loadAt.push(os.loadavg().map((x) => round(x)));
    }

    const rows: Row[] = [...samples.values()].map((s) => {
      const cpus = s.cpus.filter((c): c is number => c !== null);
      const ok = s.rates.length === ROUNDS;
      return {
        section: s.section,
        metric: s.metric,
        load: s.load,
        server: s.server,
        rate: ok ? round(median(s.rates)) : null,
        rateRounds: s.rates.map((x) => round(x)),
        ...(ok ? { rateMin: round(Math.min(...s.rates)), rateMax: round(Math.max(...s.rates)) } : {}),
        serverCpuMsPerConnection: ok && cpus.length ? round(median(cpus), 3) : null,
        cpuRounds: s.cpus.map((c) => (c === null ? null : round(c, 3))),
        ...(s.notes.length ? { note: [...new Set(s.notes)].join('; ') } : {}),
      };
    });
    rows.push(...idleRows);
    for (const r of rows) {
      const base = rows.find((b) => b.section === r.section && b.metric === r.metric && b.load === r.load && b.server === 'node-tls');
      if (r.rate !== null && base?.rate) r.ratioToNodeTls = round(r.rate / base.rate, 3);
      if (r.serverCpuMsPerConnection && base?.serverCpuMsPerConnection) r.cpuRatioToNodeTls = round(base.serverCpuMsPerConnection / r.serverCpuMsPerConnection, 3);
    }

    const header = ['metric', 'load', 'server', 'value (median)', 'min..max', 'vs node:tls', 'server CPU ms/conn', 'CPU vs node:tls'];
    const table = rows.map((r) => [
      r.metric,
      r.load,
      r.server,
      r.rate === null ? 'n/a' : String(r.rate),
      r.rateMin === undefined ? '' : `${r.rateMin}..${r.rateMax}`,
      r.ratioToNodeTls === undefined ? '' : `${r.ratioToNodeTls}x`,
      r.serverCpuMsPerConnection == null ? '' : String(r.serverCpuMsPerConnection),
      r.cpuRatioToNodeTls === undefined ? '' : `${r.cpuRatioToNodeTls}x`,
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i]!.length)));
    const line = (cells: string[]) => cells.map((c, i) => (i >= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
    console.log(line(header));
    console.log(widths.map((w) => '-'.repeat(w)).join('  '));
    for (const t of table) console.log(line(t));
    for (const r of rows.filter((x) => x.rate === null)) console.log(`${r.metric} ${r.load} ${r.server}: ${r.note}`);
    loadAt.push(os.loadavg().map((x) => round(x)));
    const out = { machine: machine(), loadAverages: loadAt, rounds: ROUNDS, cellMs: CELL_MS, clients: CLIENTS, idleConnections: IDLE, results: rows };
    writeFileSync(`${ROOT}bench/server-results.json`, JSON.stringify(out, null, 2) + '\n');
    console.log(`\nload averages (1, 5, 15 min) along the run: ${loadAt.map((l) => l.join(' ')).join(' | ')}\nwrote ${ROOT}bench/server-results.json`);
  } finally {
    for (const c of pool) c.disconnect();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
