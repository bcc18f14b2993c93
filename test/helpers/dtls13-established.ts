/** A DTLS 1.3 pair that finished its handshake cleanly, and the check that it still carries data both ways. */
import { expect } from 'vitest';
import { dtlsPair } from './dtls-pair.js';

const V13 = { maxVersion: 'TLSv1.3' } as const;
const text = (s: string) => new TextEncoder().encode(s);
const str = (ds: Uint8Array[]) => ds.map((d) => new TextDecoder().decode(d));

export function established() {
  const p = dtlsPair(V13, V13);
  p.run();
  expect(p.errors).toEqual({ client: [], server: [] });
  expect(p.server.protocol).toBe('DTLSv1.3');
  return p;
}

/** The pair still carries data both ways, once each. */
export function stillWorks(p: ReturnType<typeof established>): void {
  const before = { client: p.received.client.length, server: p.received.server.length };
  p.client.send(text('still here'));
  p.server.send(text('and here'));
  p.run();
  expect(str(p.received.server.slice(before.server))).toEqual(['still here']);
  expect(str(p.received.client.slice(before.client))).toEqual(['and here']);
  expect(p.errors).toEqual({ client: [], server: [] });
}
