/**
 * The handshake state table, declared once as data.
 *
 * A state names the message being worked on (as OpenSSL's TLS_ST_* do): `C.ServerHello`
 * is "the client has received ServerHello", `S.ServerHello` is "the server writes
 * ServerHello". Each state says what may come next:
 *   - `read`: the message kinds that may arrive next, and the state each one leads to;
 *     any other kind is `unexpected_message` (checked after the message is received);
 *   - `write`: the states the side may write next (the protocol module picks one).
 * A state with `read` hands the core over to its read sub-machine; one with only
 * `write` to its write sub-machine. `Established` has both: it reads post-handshake
 * messages, and an application event (KeyUpdate) can make it write.
 */
import type { MessageKind } from '../messages/constants.js';

export type Side = 'client' | 'server';

export interface StateSpec {
  /** Hierarchical group, for traces and diagrams: HANDSHAKE.TLS13, POST_HANDSHAKE. */
  group: string;
  /** An established connection at rest: application data flows; reaching it ends the handshake. */
  idle?: true;
  read?: Partial<Record<MessageKind, string>>;
  write?: readonly string[];
}

export type StateTable = Readonly<Record<string, StateSpec>>;

export const ESTABLISHED = 'Established';
export const ESTABLISHED_TLS12 = 'Established.TLS12';

const TLS13 = 'HANDSHAKE.TLS13';
const TLS12 = 'HANDSHAKE.TLS12';
const POST = 'POST_HANDSHAKE';

/** Post-handshake states both sides share (RFC 8446 4.6). */
function postHandshake(side: Side): StateTable {
  return {
    [ESTABLISHED]: {
      group: POST,
      idle: true,
      read: side === 'client' ? { new_session_ticket: 'NewSessionTicket', key_update: 'KeyUpdate' } : { key_update: 'KeyUpdate' },
      write: ['SendKeyUpdate'],
    },
    KeyUpdate: { group: POST, write: ['SendKeyUpdate', ESTABLISHED] },
    SendKeyUpdate: { group: POST, write: [ESTABLISHED] },
    ...(side === 'client' ? { NewSessionTicket: { group: POST, write: [ESTABLISHED] } } : {}),
    // TLS 1.2 has no post-handshake messages we accept: renegotiation is refused (RFC 5746).
    [ESTABLISHED_TLS12]: {
      group: POST,
      idle: true,
      read: side === 'client' ? { hello_request: 'HelloRequest' } : { client_hello: 'Renegotiation' },
    },
    ...(side === 'client' ? { HelloRequest: { group: POST, write: [ESTABLISHED_TLS12] } } : { Renegotiation: { group: POST, write: [ESTABLISHED_TLS12] } }),
  };
}

export const CLIENT_STATES: StateTable = {
  'C.Start': { group: 'START', write: ['C.ClientHello'] },
  'C.ClientHello': {
    group: 'HANDSHAKE',
    read: { server_hello: 'C.ServerHello', hello_retry_request: 'C.HelloRetryRequest', server_hello_tls12: 'C12.ServerHello' },
  },
  'C.HelloRetryRequest': { group: TLS13, write: ['C.ClientHello2'] },
  // A second HelloRetryRequest is not in this row: RFC 8446 4.1.4 makes it unexpected_message.
  'C.ClientHello2': { group: TLS13, read: { server_hello: 'C.ServerHello' } },
  'C.ServerHello': { group: TLS13, read: { encrypted_extensions: 'C.EncryptedExtensions' } },
  'C.EncryptedExtensions': {
    group: TLS13,
    read: { certificate_request: 'C.CertificateRequest', certificate: 'C.Certificate', compressed_certificate: 'C.Certificate', finished: 'C.Finished' },
  },
  'C.CertificateRequest': { group: TLS13, read: { certificate: 'C.Certificate', compressed_certificate: 'C.Certificate' } },
  'C.Certificate': { group: TLS13, read: { certificate_verify: 'C.CertificateVerify' } },
  'C.CertificateVerify': { group: TLS13, read: { finished: 'C.Finished' } },
  'C.Finished': { group: TLS13, write: ['C.ClientCertificate', 'C.ClientFinished'] },
  'C.ClientCertificate': { group: TLS13, write: ['C.ClientCertificateVerify', 'C.ClientFinished'] },
  'C.ClientCertificateVerify': { group: TLS13, write: ['C.ClientFinished'] },
  'C.ClientFinished': { group: TLS13, write: [ESTABLISHED] },
  // TLS 1.2 full handshake (RFC 5246 7.3), ECDHE key exchange.
  'C12.ServerHello': {
    group: TLS12,
    read: {
      certificate: 'C12.Certificate',
      // PSK suites: no certificate; a ServerKeyExchange with the hint (and, for ECDHE_PSK, the key share), or straight to ServerHelloDone.
      server_key_exchange_psk: 'C12.ServerKeyExchange',
      server_key_exchange_ecdhe_psk: 'C12.ServerKeyExchange',
      server_hello_done: 'C12.ServerHelloDone',
      new_session_ticket_tls12: 'C12.ResumeNewSessionTicket',
      change_cipher_spec: 'C12.ResumeServerChangeCipherSpec',
    },
  },
  'C12.Certificate': { group: TLS12, read: { server_key_exchange: 'C12.ServerKeyExchange' } },
  'C12.ServerKeyExchange': { group: TLS12, read: { certificate_request_tls12: 'C12.CertificateRequest', server_hello_done: 'C12.ServerHelloDone' } },
  'C12.CertificateRequest': { group: TLS12, read: { server_hello_done: 'C12.ServerHelloDone' } },
  'C12.ServerHelloDone': { group: TLS12, write: ['C12.ClientCertificate', 'C12.ClientKeyExchange'] },
  'C12.ClientCertificate': { group: TLS12, write: ['C12.ClientKeyExchange'] },
  'C12.ClientKeyExchange': { group: TLS12, write: ['C12.ClientCertificateVerify', 'C12.ChangeCipherSpec'] },
  'C12.ClientCertificateVerify': { group: TLS12, write: ['C12.ChangeCipherSpec'] },
  'C12.ChangeCipherSpec': { group: TLS12, write: ['C12.ClientFinished'] },
  'C12.ClientFinished': { group: TLS12, read: { new_session_ticket_tls12: 'C12.NewSessionTicket', change_cipher_spec: 'C12.ServerChangeCipherSpec' } },
  'C12.NewSessionTicket': { group: TLS12, read: { change_cipher_spec: 'C12.ServerChangeCipherSpec' } },
  'C12.ServerChangeCipherSpec': { group: TLS12, read: { finished: 'C12.Finished' } },
  'C12.Finished': { group: TLS12, write: [ESTABLISHED_TLS12] },
  // TLS 1.2 abbreviated handshake (RFC 5246 7.3, RFC 5077 3.1): the server finishes first.
  'C12.ResumeNewSessionTicket': { group: TLS12, read: { change_cipher_spec: 'C12.ResumeServerChangeCipherSpec' } },
  'C12.ResumeServerChangeCipherSpec': { group: TLS12, read: { finished: 'C12.ResumeFinished' } },
  'C12.ResumeFinished': { group: TLS12, write: ['C12.ResumeChangeCipherSpec'] },
  'C12.ResumeChangeCipherSpec': { group: TLS12, write: ['C12.ResumeClientFinished'] },
  'C12.ResumeClientFinished': { group: TLS12, write: [ESTABLISHED_TLS12] },
  ...postHandshake('client'),
};

export const SERVER_STATES: StateTable = {
  'S.Start': { group: 'START', read: { client_hello: 'S.ClientHello' } },
  'S.ClientHello': { group: 'HANDSHAKE', write: ['S.HelloRetryRequest', 'S.ServerHello', 'S12.ServerHello'] },
  'S.HelloRetryRequest': { group: TLS13, read: { client_hello: 'S.ClientHello2' } },
  'S.ClientHello2': { group: TLS13, write: ['S.ServerHello'] },
  'S.ServerHello': { group: TLS13, write: ['S.EncryptedExtensions'] },
  'S.EncryptedExtensions': { group: TLS13, write: ['S.CertificateRequest', 'S.Certificate', 'S.Finished'] },
  'S.CertificateRequest': { group: TLS13, write: ['S.Certificate'] },
  'S.Certificate': { group: TLS13, write: ['S.CertificateVerify'] },
  'S.CertificateVerify': { group: TLS13, write: ['S.Finished'] },
  'S.Finished': { group: TLS13, read: { certificate: 'S.ClientCertificate', finished: 'S.ClientFinished' } },
  'S.ClientCertificate': { group: TLS13, read: { certificate_verify: 'S.ClientCertificateVerify', finished: 'S.ClientFinished' } },
  'S.ClientCertificateVerify': { group: TLS13, read: { finished: 'S.ClientFinished' } },
  'S.ClientFinished': { group: TLS13, write: ['S.NewSessionTicket', ESTABLISHED] },
  // Tickets follow the handshake but are not part of its transcript (RFC 8446 4.6.1).
  'S.NewSessionTicket': { group: POST, write: ['S.NewSessionTicket', ESTABLISHED] },
  // TLS 1.2 full handshake (RFC 5246 7.3), ECDHE key exchange.
  'S12.ServerHello': {
    group: TLS12,
    write: ['S12.Certificate', 'S12.ServerKeyExchange', 'S12.ServerHelloDone', 'S12.ResumeNewSessionTicket', 'S12.ResumeChangeCipherSpec'],
  },
  'S12.Certificate': { group: TLS12, write: ['S12.ServerKeyExchange'] },
  'S12.ServerKeyExchange': { group: TLS12, write: ['S12.CertificateRequest', 'S12.ServerHelloDone'] },
  'S12.CertificateRequest': { group: TLS12, write: ['S12.ServerHelloDone'] },
  'S12.ServerHelloDone': {
    group: TLS12,
    read: {
      certificate: 'S12.ClientCertificate',
      client_key_exchange: 'S12.ClientKeyExchange',
      client_key_exchange_psk: 'S12.ClientKeyExchange',
      client_key_exchange_ecdhe_psk: 'S12.ClientKeyExchange',
    },
  },
  'S12.ClientCertificate': { group: TLS12, read: { client_key_exchange: 'S12.ClientKeyExchange' } },
  'S12.ClientKeyExchange': { group: TLS12, read: { certificate_verify: 'S12.ClientCertificateVerify', change_cipher_spec: 'S12.ClientChangeCipherSpec' } },
  'S12.ClientCertificateVerify': { group: TLS12, read: { change_cipher_spec: 'S12.ClientChangeCipherSpec' } },
  'S12.ClientChangeCipherSpec': { group: TLS12, read: { finished: 'S12.ClientFinished' } },
  'S12.ClientFinished': { group: TLS12, write: ['S12.NewSessionTicket', 'S12.ChangeCipherSpec'] },
  'S12.NewSessionTicket': { group: TLS12, write: ['S12.ChangeCipherSpec'] },
  'S12.ChangeCipherSpec': { group: TLS12, write: ['S12.Finished'] },
  'S12.Finished': { group: TLS12, write: [ESTABLISHED_TLS12] },
  // TLS 1.2 abbreviated handshake.
  'S12.ResumeNewSessionTicket': { group: TLS12, write: ['S12.ResumeChangeCipherSpec'] },
  'S12.ResumeChangeCipherSpec': { group: TLS12, write: ['S12.ResumeFinished'] },
  'S12.ResumeFinished': { group: TLS12, read: { change_cipher_spec: 'S12.ResumeClientChangeCipherSpec' } },
  'S12.ResumeClientChangeCipherSpec': { group: TLS12, read: { finished: 'S12.ResumeClientFinished' } },
  'S12.ResumeClientFinished': { group: TLS12, write: [ESTABLISHED_TLS12] },
  ...postHandshake('server'),
};

/**
 * DTLS 1.2 (RFC 6347) runs the TLS 1.2 transitions; what it adds is the client's detour
 * through HelloVerifyRequest (the server's side of the cookie exchange is stateless and
 * happens before a connection exists).
 */
export const CLIENT_DTLS_STATES: StateTable = {
  ...CLIENT_STATES,
  'C.ClientHello': {
    group: 'HANDSHAKE',
    read: { hello_verify_request: 'C.HelloVerifyRequest', server_hello_tls12: 'C12.ServerHello' },
  },
  // The first ClientHello and HelloVerifyRequest are not part of the transcript (RFC 6347 4.2.6).
  'C.HelloVerifyRequest': { group: 'DTLS', write: ['C.ClientHelloCookie'] },
  'C.ClientHelloCookie': { group: 'HANDSHAKE.DTLS', read: { server_hello_tls12: 'C12.ServerHello' } },
};

export const SERVER_DTLS_STATES: StateTable = SERVER_STATES;

export const START_STATE: Record<Side, string> = { client: 'C.Start', server: 'S.Start' };

export function tableFor(side: Side, dtls = false): StateTable {
  if (dtls) return side === 'client' ? CLIENT_DTLS_STATES : SERVER_DTLS_STATES;
  return side === 'client' ? CLIENT_STATES : SERVER_STATES;
}

/** The state a received message leads to, or undefined when the table does not allow it. */
export function readTransition(table: StateTable, state: string, kind: MessageKind): string | undefined {
  return table[state]?.read?.[kind];
}

/** Render the table as a Mermaid state diagram (for docs and `tsls states`). */
export function toMermaid(table: StateTable): string {
  const lines = ['stateDiagram-v2'];
  const id = (s: string) => s.replace(/\./g, '_');
  for (const [name, spec] of Object.entries(table)) {
    for (const [kind, to] of Object.entries(spec.read ?? {})) lines.push(`  ${id(name)} --> ${id(to!)}: recv ${kind}`);
    for (const to of spec.write ?? []) lines.push(`  ${id(name)} --> ${id(to)}: send`);
  }
  return lines.join('\n');
}
