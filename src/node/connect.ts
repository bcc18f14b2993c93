/** connect(): node:tls's client entry point, over TCP or a given socket. */
import * as net from 'node:net';
import { resolveClientOptions, type ConnectionOptions } from './options.js';
import { kResolved, TLSSocket } from './socket.js';

export type SecureConnectListener = () => void;

type ConnectArgs =
  | [options: ConnectionOptions, listener?: SecureConnectListener]
  | [port: number, host?: string, options?: ConnectionOptions, listener?: SecureConnectListener]
  | [port: number, options?: ConnectionOptions, listener?: SecureConnectListener];

function normalize(args: unknown[]): [ConnectionOptions, SecureConnectListener | undefined] {
  let listener: SecureConnectListener | undefined;
  if (typeof args[args.length - 1] === 'function') listener = args.pop() as SecureConnectListener;
  if (typeof args[0] === 'object' && args[0] !== null) return [args[0] as ConnectionOptions, listener];
  const options: ConnectionOptions = {};
  if (typeof args[0] === 'number' || typeof args[0] === 'string') options.port = Number(args[0]);
  let rest = args.slice(1);
  if (typeof rest[0] === 'string') {
    options.host = rest[0];
    rest = rest.slice(1);
  }
  return [{ ...(rest[0] as ConnectionOptions | undefined), ...options }, listener];
}

/**
 * Open a TLS connection, as node:tls's connect(): (options, cb) or (port, host?, options?, cb).
 * Option errors (unsupported options, unreadable certificates) throw at once; connection
 * and handshake errors arrive as 'error' events. `cb` listens for 'secureConnect'.
 */
export function connect(options: ConnectionOptions, listener?: SecureConnectListener): TLSSocket;
export function connect(port: number, host?: string, options?: ConnectionOptions, listener?: SecureConnectListener): TLSSocket;
export function connect(port: number, options?: ConnectionOptions, listener?: SecureConnectListener): TLSSocket;
export function connect(...args: ConnectArgs): TLSSocket {
  const [options, listener] = normalize(args);
  const resolved = resolveClientOptions(options);
  let transport = options.socket;
  if (!transport) {
    const host = options.host ?? 'localhost';
    const tcp: net.NetConnectOpts = options.path !== undefined
      ? { path: options.path, allowHalfOpen: true }
      : {
          host,
          port: options.port ?? 443,
          // TCP stays half-open: the TLS layer decides (allowHalfOpen) when our side ends.
          allowHalfOpen: true,
          ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}),
          ...(options.localPort !== undefined ? { localPort: options.localPort } : {}),
          ...(options.family !== undefined ? { family: options.family } : {}),
          ...(options.lookup !== undefined ? { lookup: options.lookup } : {}),
        };
    transport = net.connect(tcp);
  }
  const socket = new TLSSocket(transport, {
    [kResolved]: {
      isServer: false,
      ...resolved,
      ...(options.highWaterMark !== undefined ? { highWaterMark: options.highWaterMark } : {}),
    },
  });
  if (listener) socket.once('secureConnect', listener);
  if (options.timeout !== undefined) socket.setTimeout(options.timeout);
  return socket;
}
