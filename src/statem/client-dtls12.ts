/**
 * What a DTLS client does before the TLS flows: a DTLS 1.2 server may answer its
 * ClientHello with a HelloVerifyRequest, and then it sends the ClientHello again with the
 * cookie (RFC 6347 4.2.1); a DTLS 1.3 server answers with a ServerHello or a
 * HelloRetryRequest, as in TLS 1.3 (RFC 9147 5.1), and the TLS 1.3 states go on. The
 * server's side of either cookie exchange is stateless and happens before a connection
 * exists (dtls-cookie.ts).
 */
import { TLSError } from '../errors.js';
import { ProtocolVersion } from '../messages/constants.js';
import { buildClientHello, startClientHello, startEarlyData } from './client-tls13.js';
import type { ClientHandshake } from './context.js';
import { defineStates } from './declare.js';

export const clientHelloDtls12 = defineStates<ClientHandshake, { 'C.ClientHello': 'written' }>()({
  'C.ClientHello': {
    row: {
      group: 'HANDSHAKE',
      read: { hello_verify_request: 'C.HelloVerifyRequest', server_hello_tls12: 'C12.ServerHello', server_hello: 'C.ServerHello', hello_retry_request: 'C.HelloRetryRequest' },
      needs: ['transcript'],
      creates: ['hello', 'clientRandom'],
    },
    construct: (hs) => buildClientHello(startClientHello(hs)),
    // DTLS 1.3 0-RTT, when offered (datagramEarlyData): epoch 1 after the ClientHello.
    postWork: startEarlyData,
  },
  // The first ClientHello and HelloVerifyRequest are not part of the transcript (RFC 6347 4.2.6).
  'C.HelloVerifyRequest': {
    row: { group: 'DTLS', write: ['C.ClientHelloCookie'], needs: ['hello', 'transcript'] },
    process: (hs, msg) => {
      // RFC 6347 4.2.1: the server_version here is not a negotiation; accept DTLS 1.0 or 1.2.
      if (msg.server_version !== ProtocolVersion.DTLS1_2 && msg.server_version !== ProtocolVersion.DTLS1_0) {
        throw new TLSError('protocol_version', `HelloVerifyRequest for version 0x${msg.server_version.toString(16)}`);
      }
      hs.hello.dtlsCookie = msg.cookie;
      hs.transcript.reset();
    },
  },
  // A server may ask for a cookie DTLS 1.2's way and still choose DTLS 1.3 (one whose cookie guard does not speak it).
  'C.ClientHelloCookie': {
    row: {
      group: 'HANDSHAKE.DTLS',
      read: { server_hello_tls12: 'C12.ServerHello', server_hello: 'C.ServerHello', hello_retry_request: 'C.HelloRetryRequest' },
      needs: ['hello', 'transcript'],
    },
    construct: buildClientHello,
    // The same ClientHello with the cookie (so the same early_data offer), which alone is in
    // the transcript (RFC 6347 4.2.6): epoch 1 is keyed again from it. What went before is lost.
    postWork: startEarlyData,
  },
});
