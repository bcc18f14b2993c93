/**
 * RFC 9147 5.8.2 / 7: the client's last flight (its Finished) is acknowledged by an ACK; the
 * server's NewSessionTicket that follows is post-handshake and acknowledges nothing. A peer
 * that waits for that ACK (wolfSSL does) would otherwise sit out a retransmission timeout.
 */
import { expect, it } from 'vitest';
import { DtlsConnection } from '../src/dtls-connection.js';
import { certifiedKey, rootCa } from './helpers/pki.js';

it('the server acknowledges the client Finished at once, though a NewSessionTicket follows it', () => {
  const start = Date.now();
  const now = () => start; // no time passes: nothing may depend on a retransmission
  const client = DtlsConnection.client({ ca: rootCa(), servername: 'localhost', maxVersion: 'TLSv1.3', now });
  const server = DtlsConnection.server({ certificates: [certifiedKey('leaf-ecdsa-p256')], maxVersion: 'TLSv1.3', now });
  client.start();
  for (let round = 0; round < 20; round++) {
    const toServer = client.takeDatagrams();
    for (const d of toServer) server.feedDatagram(d);
    const toClient = server.takeDatagrams();
    for (const d of toClient) client.feedDatagram(d);
    if (toServer.length === 0 && toClient.length === 0) break;
  }
  expect(client.protocol).toBe('DTLSv1.3');
  expect(server.state).toBe('ESTABLISHED');
  // Without the server's ACK the client would still be waiting to resend its Finished.
  expect(client.nextTimeout()).toBeUndefined();
  expect(server.nextTimeout()).toBeUndefined();
});
