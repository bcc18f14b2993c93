/**
 * After the handshake (RFC 8446 4.6, RFC 5746): the states an established connection
 * moves through, for each side. TLS 1.3 reads KeyUpdate (and, on a client,
 * NewSessionTicket) and writes KeyUpdate; TLS 1.2 accepts no post-handshake message and
 * refuses renegotiation.
 */
import { nextTrafficSecret } from '../crypto/keyschedule.js';
import { TLSError } from '../errors.js';
import type { ClientHandshake, HandshakeContext, ServerHandshake } from './context.js';
import { ESTABLISHED, ESTABLISHED_TLS12, defineStates } from './declare.js';
import { sessionFromTicket } from './psk.js';

const POST = 'POST_HANDSHAKE';

/** Established is written to when a handshake ends, from the parts of the table that run it. */
type Entry = { readonly [ESTABLISHED]: 'written'; readonly [ESTABLISHED_TLS12]: 'written' };

function trafficSecretName(hs: HandshakeContext, direction: 'read' | 'write'): 'clientApplication' | 'serverApplication' {
  return (hs.side === 'client') === (direction === 'write') ? 'clientApplication' : 'serverApplication';
}

/** The next generation of one direction's application traffic secret (RFC 8446 7.2), installed at once. */
function updateTrafficSecret(hs: HandshakeContext, direction: 'read' | 'write'): void {
  const name = trafficSecretName(hs, direction);
  const current = hs.secrets[name];
  if (!current) throw new TLSError('internal_error', 'KeyUpdate before the application traffic secrets');
  const next = nextTrafficSecret(hs.provider, hs.suite.hash, current, hs.labelPrefix);
  hs.secrets[name] = next;
  const installed = hs.secrets[name];
  if (!installed) throw new TLSError('internal_error', 'the traffic secret store lost a secret');
  if (direction === 'read') hs.records.setReadSecret(installed);
  else hs.records.setWriteSecret(installed);
}

function refuseRenegotiation(hs: HandshakeContext): void {
  hs.records.sendWarning('no_renegotiation');
}

/** TLS 1.3 KeyUpdate, the same on both sides: a received one, and one we write. */
const keyUpdate = {
  KeyUpdate: {
    row: { group: POST, write: ['SendKeyUpdate', ESTABLISHED] },
    process: (hs: HandshakeContext, msg: { request_update: number }) => {
      hs.peerRequestedUpdate = msg.request_update === 1;
      updateTrafficSecret(hs, 'read');
    },
    // Answer update_requested with a KeyUpdate of our own before any more application data.
    writeTransition: (hs: HandshakeContext) => (hs.peerRequestedUpdate ? 'SendKeyUpdate' : ESTABLISHED),
  },
  SendKeyUpdate: {
    row: { group: POST, write: [ESTABLISHED] },
    construct: (hs: HandshakeContext) => {
      const request = hs.requestPeerUpdate && !hs.peerRequestedUpdate ? 1 : 0;
      hs.peerRequestedUpdate = false;
      hs.requestPeerUpdate = false;
      return { type: 'key_update', request_update: request } as const;
    },
    postWork: (hs: HandshakeContext) => updateTrafficSecret(hs, 'write'),
  },
} as const;

export const clientPostHandshake = defineStates<ClientHandshake, Entry>()({
  [ESTABLISHED]: {
    row: { group: POST, idle: true, read: { new_session_ticket: 'NewSessionTicket', key_update: 'KeyUpdate' }, write: ['SendKeyUpdate'] },
  },
  NewSessionTicket: {
    row: { group: POST, write: [ESTABLISHED] },
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
