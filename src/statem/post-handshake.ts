/**
 * After the handshake (RFC 8446 4.6, RFC 5746): the states an established connection
 * moves through, for each side. TLS 1.3 reads KeyUpdate (and, on a client,
 * NewSessionTicket) and writes KeyUpdate; TLS 1.2 accepts no post-handshake message and
 * refuses renegotiation.
 */
import type { ClientHandshake, HandshakeContext, ServerHandshake } from './context.js';
import { ESTABLISHED, ESTABLISHED_TLS12, defineStates, type Phase } from './declare.js';
import { sessionFromTicket } from './psk.js';

const POST = 'POST_HANDSHAKE';

/** Established is written to when a handshake ends, from the parts of the table that run it. */
type Entry = { readonly [ESTABLISHED]: 'written'; readonly [ESTABLISHED_TLS12]: 'written' };

/** The next generation of one direction's application traffic secret (RFC 8446 7.2), installed at once. */
function updateTrafficSecret(hs: Phase<HandshakeContext, 'trafficKeys'>, direction: 'read' | 'write'): void {
  const sender = (hs.side === 'client') === (direction === 'write') ? 'client' : 'server';
  const next = hs.trafficKeys.update(sender);
  if (direction === 'read') hs.records.setReadSecret(next);
  else hs.records.setWriteSecret(next);
}

function refuseRenegotiation(hs: HandshakeContext): void {
  hs.records.sendWarning('no_renegotiation');
}

/** TLS 1.3 KeyUpdate, the same on both sides: a received one, and one we write. */
const keyUpdate = {
  KeyUpdate: {
    row: { group: POST, write: ['SendKeyUpdate', ESTABLISHED], needs: ['trafficKeys'] },
    process: (hs: Phase<HandshakeContext, 'trafficKeys'>, msg: { request_update: number }) => {
      hs.peerRequestedUpdate = msg.request_update === 1;
      updateTrafficSecret(hs, 'read');
    },
    // Answer update_requested with a KeyUpdate of our own before any more application data.
    writeTransition: (hs: HandshakeContext) => (hs.peerRequestedUpdate ? 'SendKeyUpdate' : ESTABLISHED),
  },
  SendKeyUpdate: {
    row: { group: POST, write: [ESTABLISHED], needs: ['trafficKeys'] },
    construct: (hs: HandshakeContext) => {
      const request = hs.requestPeerUpdate && !hs.peerRequestedUpdate ? 1 : 0;
      hs.peerRequestedUpdate = false;
      hs.requestPeerUpdate = false;
      return { type: 'key_update', request_update: request } as const;
    },
    postWork: (hs: Phase<HandshakeContext, 'trafficKeys'>) => updateTrafficSecret(hs, 'write'),
  },
} as const;

export const clientPostHandshake = defineStates<ClientHandshake, Entry>()({
  [ESTABLISHED]: {
    row: { group: POST, idle: true, read: { new_session_ticket: 'NewSessionTicket', key_update: 'KeyUpdate' }, write: ['SendKeyUpdate'] },
  },
  NewSessionTicket: {
    row: { group: POST, write: [ESTABLISHED], needs: ['suite', 'trafficKeys', 'resumptionSecret'] },
    process: (hs, msg) => {
      hs.sessionSink.ticket(msg);
      hs.sessionSink.session(sessionFromTicket(hs, msg));
    },
  },
  ...keyUpdate,
  // TLS 1.2 has no post-handshake messages we accept: renegotiation is refused with a
  // warning no_renegotiation and the connection carries on (RFC 5246 7.2.2, RFC 5746 4.2 / 4.4), whichever side asked.
  [ESTABLISHED_TLS12]: { row: { group: POST, idle: true, read: { hello_request: 'HelloRequest' } } },
  HelloRequest: { row: { group: POST, write: [ESTABLISHED_TLS12] }, process: refuseRenegotiation },
});

export const serverPostHandshake = defineStates<ServerHandshake, Entry>()({
  [ESTABLISHED]: { row: { group: POST, idle: true, read: { key_update: 'KeyUpdate' }, write: ['SendKeyUpdate'] } },
  ...keyUpdate,
  [ESTABLISHED_TLS12]: { row: { group: POST, idle: true, read: { client_hello: 'Renegotiation' } } },
  Renegotiation: { row: { group: POST, write: [ESTABLISHED_TLS12] }, process: refuseRenegotiation },
});
