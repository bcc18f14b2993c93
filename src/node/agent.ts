/**
 * An https.Agent whose connections are tsls TLSSockets:
 * `https.request({ ..., agent: new Agent({ ca }) })` speaks TLS through tsls. Sessions are
 * cached per origin (up to `maxCachedSessions`, default 100) and offered on new connections.
 */
import * as https from 'node:https';
import type { Duplex } from 'node:stream';
import { connect } from './connect.js';
import { rejectUnsupported, type ConnectionOptions } from './options.js';

/** The options of a request that concern TLS (and the TCP connection under it). */
const CONNECTION_KEYS = [
  'host',
  'port',
  'servername',
  'ca',
  'cert',
  'key',
  'ALPNProtocols',
  'rejectUnauthorized',
  'checkServerIdentity',
  'webPkiProfile',
  'minVersion',
  'maxVersion',
  'ciphersuites',
  'ciphers',
  'ecdhCurve',
  'sigalgs',
  'secureContext',
  'session',
  'localAddress',
  'localPort',
  'family',
  'lookup',
  'highWaterMark',
  'provider',
] as const;

export type AgentOptions = https.AgentOptions & ConnectionOptions;

export class Agent extends https.Agent {
  private readonly sessions = new Map<string, Buffer>();
  private readonly maxSessions: number;

  constructor(options: AgentOptions = {}) {
    rejectUnsupported(options, 'client');
    super(options);
    this.maxSessions = options.maxCachedSessions ?? 100;
  }

  override createConnection(options: https.RequestOptions, _callback?: (err: Error | null, stream: Duplex) => void): Duplex {
    const o = options as Record<string, unknown>;
    rejectUnsupported(o, 'client');
    const tls: Record<string, unknown> = {};
    for (const k of CONNECTION_KEYS) if (o[k] !== undefined && o[k] !== null) tls[k] = o[k];
    if (typeof o.socketPath === 'string') tls.path = o.socketPath;
    const key = typeof o._agentKey === 'string' ? o._agentKey : undefined;
    if (key && tls.session === undefined) {
      const session = this.sessions.get(key);
      if (session) tls.session = session;
    }
    const socket = connect(tls as ConnectionOptions);
    if (key && this.maxSessions > 0) {
      socket.on('session', (session: Buffer) => this.cacheSession(key, session));
    }
    // Returned synchronously: the http.Agent calls back with it itself.
    return socket;
  }

  private cacheSession(key: string, session: Buffer): void {
    this.sessions.delete(key);
    this.sessions.set(key, session);
    while (this.sessions.size > this.maxSessions) this.sessions.delete(this.sessions.keys().next().value!);
  }
}
