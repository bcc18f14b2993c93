/**
 * The handshake state tables, one per side and protocol variant, joined from the parts
 * declared per protocol (client-tls13.ts, client-tls12.ts, client-dtls12.ts,
 * server-tls13.ts, server-tls12.ts, post-handshake.ts).
 *
 * A state names the message being worked on (as OpenSSL's TLS_ST_* do): `C.ServerHello`
 * is "the client has received ServerHello", `S.ServerHello` is "the server writes
 * ServerHello". Each state's row says what may come next:
 *   - `read`: the message kinds that may arrive next, and the state each one leads to;
 *     any other kind is `unexpected_message` (checked after the message is received);
 *   - `write`: the states the side may write next (the state's `writeTransition` picks one).
 * A state with `read` hands the core over to its read sub-machine; one with only
 * `write` to its write sub-machine. `Established` has both: it reads post-handshake
 * messages, and an application event (KeyUpdate) can make it write.
 *
 * The rows alone (`CLIENT_STATES`, …) are plain data: the state-table tests walk them,
 * `--trace` prints paths through them and `toMermaid` draws them.
 */
import type { MessageKind } from '../messages/constants.js';
import type { Transport } from '../protocol-variant.js';
import { clientHelloDtls12 } from './client-dtls12.js';
import { clientTls12 } from './client-tls12.js';
import { clientHello, clientStart, clientTls13 } from './client-tls13.js';
import type { ClientHandshake, ServerHandshake } from './context.js';
import { joinStates, rowsOf, type Side, type StateSet, type StateTable } from './declare.js';
import { clientPostHandshake, serverPostHandshake } from './post-handshake.js';
import { serverTls12 } from './server-tls12.js';
import { serverTls13 } from './server-tls13.js';

export { ESTABLISHED, ESTABLISHED_TLS12, type Side, type StateSpec, type StateTable } from './declare.js';

const joinClient = joinStates<ClientHandshake>();
const joinServer = joinStates<ServerHandshake>();

export const CLIENT = joinClient([clientStart, clientHello, clientTls13, clientTls12, clientPostHandshake]);
export const SERVER = joinServer([serverTls13, serverTls12, serverPostHandshake]);
/** DTLS runs the TLS states (RFC 6347, RFC 9147); what it adds is the client's detour through HelloVerifyRequest. */
export const CLIENT_DTLS12 = joinClient([clientStart, clientHelloDtls12, clientTls13, clientTls12, clientPostHandshake]);
export const SERVER_DTLS12 = SERVER;

export const CLIENT_STATES: StateTable = rowsOf(CLIENT);
export const SERVER_STATES: StateTable = rowsOf(SERVER);
export const CLIENT_DTLS_STATES: StateTable = rowsOf(CLIENT_DTLS12);
export const SERVER_DTLS_STATES: StateTable = SERVER_STATES;

export const START_STATE: Record<Side, string> = { client: 'C.Start', server: 'S.Start' };

export function clientStates(transport: Transport): StateSet<ClientHandshake> {
  return transport === 'datagram' ? CLIENT_DTLS12 : CLIENT;
}

export function serverStates(transport: Transport): StateSet<ServerHandshake> {
  return transport === 'datagram' ? SERVER_DTLS12 : SERVER;
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
    for (const [kind, to] of Object.entries(spec.read ?? {})) lines.push(`  ${id(name)} --> ${id(to)}: recv ${kind}`);
    for (const to of spec.write ?? []) lines.push(`  ${id(name)} --> ${id(to)}: send`);
  }
  return lines.join('\n');
}
