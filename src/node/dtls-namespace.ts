/**
 * The DTLS surface under the names node:tls and node:dgram users reach for first:
 * `import { dtls } from 'tsls/node'; dtls.createServer(options, listener); dtls.connect(options)`.
 * The same functions are exported flat as createDtlsServer and connectDtls.
 */
export {
  connectDtls as connect,
  createDtlsServer as createServer,
  DTLSSocket,
  DTLSServer,
  type DTLSConnectOptions,
  type DTLSServerOptions,
} from './dtls-socket.js';
