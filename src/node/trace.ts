/**
 * enableTrace: the state machine's walk and each handshake message, one readable line
 * each, on stderr (what `tsls client/server --trace` shows); with ECH both ClientHellos.
 */
import type { Connection } from '../connection.js';
import type { DtlsConnection, DtlsRecordEvent } from '../dtls-connection.js';
import { describeMessage } from '../statem/describe-message.js';

export function traceConnection(conn: Connection, who: string, write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): void {
  conn.on('transition', (t) => write(`[${who}] ${t.from} -> ${t.to}${t.message ? ` (${t.how} ${t.message})` : ''}`));
  conn.on('message', (dir, msg, length, ech) => {
    const summary = describeMessage(msg);
    // ECH: the inner hello comes right after the outer one that carried it encrypted.
    const what = ech === 'inner' ? `${msg.type} (inner, encrypted in the outer above)` : msg.type;
    write(`[${who}] ${dir === 'send' ? '>>>' : '<<<'} ${what} ${length} bytes${summary ? `: ${summary}` : ''}`);
  });
  conn.on('state', (from, to) => write(`[${who}] connection ${from} -> ${to}`));
  // DTLS: every record with its epoch and sequence number, retransmissions, and what DTLS 1.3 ACKs name.
  (conn as unknown as DtlsConnection).on('record', (dir: 'recv' | 'send', r: DtlsRecordEvent) => {
    const acks = r.acknowledges ? ` acknowledging ${r.acknowledges.map((n) => `${n.epoch}/${n.seq}`).join(' ') || 'nothing'}` : '';
    write(`[${who}] ${dir === 'send' ? '>>>' : '<<<'} record ${CONTENT_TYPES[r.contentType] ?? r.contentType} epoch ${r.epoch} seq ${r.seq} ${r.length} bytes${r.retransmission ? ' (retransmission)' : ''}${acks}`);
  });
}

const CONTENT_TYPES: Record<number, string> = { 20: 'change_cipher_spec', 21: 'alert', 22: 'handshake', 23: 'application_data', 26: 'ack' };
