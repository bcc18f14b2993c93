/**
 * tsls for Node: node:tls's names over the tsls engine, so code can switch with little
 * change. `connect`, `createServer`, `TLSSocket`, `Server`, `createSecureContext`, the
 * module-level members (`rootCertificates`, `getCiphers()`, `DEFAULT_*`, `checkServerIdentity`),
 * an https `Agent` whose connections go through tsls, and `createHttpsServer` (node's
 * https.createServer).
 */
export { TLSSocket, asNodeTLSSocket, type TLSSocketOptions } from './socket.js';
export { connect, type SecureConnectListener } from './connect.js';
export { Server, createServer, type SecureConnectionListener } from './server.js';
export { Agent, type AgentOptions } from './agent.js';
export { createHttpsServer, createHttp2SecureServer, type HttpsServer, type HttpsServerOptions, type Http2SecureServer, type Http2SecureServerOptions } from './https.js';
export { rootCertificates, getCiphers, DEFAULT_MIN_VERSION, DEFAULT_MAX_VERSION, DEFAULT_CIPHERS, DEFAULT_ECDH_CURVE } from './defaults.js';
export {
  createSecureContext,
  SecureContext,
  type SecureContextOptions,
  type ConnectionOptions,
  type TlsServerOptions,
  type CommonTLSOptions,
  type SNICallback,
  type PemInput,
} from './options.js';
export { checkServerIdentity, certificateObject, detailedCertificateObject } from './peer-certificate.js';
export { TLSError } from '../errors.js';
export { nodeProvider, createNodeProvider } from '../crypto/node.js';
export {
  connectDtls,
  createDtlsServer,
  DTLSSocket,
  DTLSServer,
  type DTLSConnectOptions,
  type DTLSServerOptions,
  type DtlsTransportOptions,
  type DTLSServerStats,
} from './dtls-socket.js';
export * as dtls from './dtls-namespace.js';
