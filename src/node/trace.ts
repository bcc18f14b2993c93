/**
 * enableTrace: the state machine's walk and each handshake message, one readable line
 * each, on stderr (what `tsls client/server --trace` shows); with ECH both ClientHellos.
 */
import type { Connection } from '../connection.js';
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
}
