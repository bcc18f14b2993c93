/**
 * DTLS 1.3 (RFC 9147) in memory: TLS 1.3's handshake over datagrams, with the unified
 * record header, record number encryption, epochs and ACKs.
 */
import { describe, expect, it } from 'vitest';
import { dtlsPair } from './helpers/dtls-pair.js';

const V13 = { maxVersion: 'TLSv1.3' } as const;

describe('DTLS 1.3 handshake', () => {
  it('completes and carries data both ways', () => {
    const p = dtlsPair(V13, V13);
    p.run();
    expect(p.errors).toEqual({ client: [], server: [] });
    expect(p.client.protocol).toBe('DTLSv1.3');
    expect(p.server.protocol).toBe('DTLSv1.3');
    // The client's last flight and the server's ticket were acknowledged: no timer is left running.
    expect(p.client.nextTimeout()).toBeUndefined();
    expect(p.server.nextTimeout()).toBeUndefined();
    p.client.send(new TextEncoder().encode('ping'));
    p.server.send(new TextEncoder().encode('pong'));
    p.run();
    expect(p.received.server.map((d) => new TextDecoder().decode(d))).toEqual(['ping']);
    expect(p.received.client.map((d) => new TextDecoder().decode(d))).toEqual(['pong']);
  });
});
