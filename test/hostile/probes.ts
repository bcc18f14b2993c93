/**
 * What the hostile-peer tests share: tlsfuzzer-style probes made from a real ClientHello
 * (decoded, changed, re-encoded), the alert a connection put on the wire, and records
 * sealed with a connection's own write keys (so a test can send what our API never would).
 */
import { expect } from 'vitest';
import type { Connection } from '../../src/connection.js';
import { ContentType, HandshakeType } from '../../src/messages/constants.js';
import { decodeHandshake, encodeHandshake, type HandshakeMessage } from '../../src/messages/handshake.js';
import { concat } from '../../src/util/bytes.js';
import { splitRecords } from '../helpers/records.js';

export function plainRecord(type: number, data: Uint8Array): Uint8Array {
  return concat(new Uint8Array([type, 3, 3, data.length >>> 8, data.length & 0xff]), data);
}

/** A handshake message cut into plaintext records of at most 2^14 bytes. */
export function handshakeRecords(msg: Uint8Array): Uint8Array {
  const out: Uint8Array[] = [];
  for (let at = 0; at < msg.length; at += 2 ** 14) out.push(plainRecord(ContentType.handshake, msg.subarray(at, at + 2 ** 14)));
  return concat(...out);
}

/** The client's first flight (the ClientHello record), decoded. */
export function takeClientHello(client: Connection): HandshakeMessage & { type: 'client_hello' } {
  const record = splitRecords(client.takeOutput())[0]!;
  expect(record[0]).toBe(ContentType.handshake);
  return decodeHandshake(HandshakeType.client_hello, record.subarray(9)) as HandshakeMessage & { type: 'client_hello' };
}

/** A ClientHello re-encoded after `change`, as plaintext records. */
export function clientHelloRecords(hello: HandshakeMessage, change: (m: any) => void = () => {}): Uint8Array {
  const m = structuredClone(hello) as any;
  m.extensions = (hello as any).extensions;
  change(m);
  return handshakeRecords(encodeHandshake(m as HandshakeMessage));
}

/** The alerts in a chunk of plaintext output, as [level, description] pairs. */
export function plaintextAlerts(out: Uint8Array): [number, number][] {
  return splitRecords(out)
    .filter((r) => r[0] === ContentType.alert)
    .map((r) => [r[5]!, r[6]!]);
}

/** The types of the plaintext handshake messages in a chunk of output (first message of each record). */
export function plaintextHandshakeTypes(out: Uint8Array): number[] {
  return splitRecords(out)
    .filter((r) => r[0] === ContentType.handshake)
    .map((r) => r[5]!);
}

/** Seal `data` as a record of `type` with the connection's own current write keys and sequence number. */
export function sealAs(conn: Connection, type: number, data: Uint8Array): Uint8Array {
  const out: Uint8Array[] = [];
  (conn as any).records.seal(type, data, out);
  return concat(...out);
}

/**
 * Run `burst` (which resolves once the burst has been handled) while a 1 ms timer measures
 * the longest the event loop went without turning; returns that gap and the burst's time.
 */
export async function loopGapDuring(burst: () => Promise<void>): Promise<{ worstGap: number; total: number }> {
  let worstGap = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    worstGap = Math.max(worstGap, now - last);
    last = now;
  }, 1);
  const start = performance.now();
  try {
    await burst();
  } finally {
    clearInterval(ticker);
  }
  return { worstGap, total: performance.now() - start };
}
