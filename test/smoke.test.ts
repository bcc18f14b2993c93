import { describe, expect, it } from 'vitest';
import { makePair } from './helpers/pair.js';

describe('smoke', () => {
  it('completes a TLS 1.3 handshake in memory', () => {
    const p = makePair();
    const trace: string[] = [];
    p.client.on('transition', (t) => trace.push(`C ${t.from} -> ${t.to}`));
    p.server.on('transition', (t) => trace.push(`S ${t.from} -> ${t.to}`));
    p.pump();
    console.log(trace.join('\n'), p.clientErrors, p.serverErrors);
    expect(p.client.state).toBe('ESTABLISHED');
    expect(p.server.state).toBe('ESTABLISHED');
    p.client.write(new TextEncoder().encode('hello'));
    p.pump();
    expect(new TextDecoder().decode(p.serverData[0])).toBe('hello');
  });
});
