import { describe, expect, it } from 'vitest';
import { makePair } from './helpers/pair.js';

const text = (s: string) => new TextEncoder().encode(s);
const str = (chunks: Uint8Array[]) => new TextDecoder().decode(Buffer.concat(chunks));

describe('Connection lifecycle and the bytes the application hands over', () => {
  it("an 'end' listener that answers close_notify with end() gets one 'close' and ends CLOSED", () => {
    const p = makePair();
    p.pump();
    let closes = 0;
    p.server.on('close', () => closes++);
    p.server.on('end', () => p.server.end());
    p.client.end();
    p.pump();
    expect(p.server.state).toBe('CLOSED');
    expect(p.client.state).toBe('CLOSED');
    expect(closes).toBe(1);
  });

  it('data written before the handshake is copied: changing the Buffer afterwards does not change what is sent', () => {
    const p = makePair();
    const data = Buffer.from('written early');
    p.client.write(data);
    data.fill(0x78);
    p.pump();
    expect(p.clientErrors).toEqual([]);
    expect(str(p.serverData)).toBe('written early');
  });

  it('data written after the handshake is sealed at once: changing the array afterwards does not change it', () => {
    const p = makePair();
    p.pump();
    const data = text('written late');
    p.client.write(data);
    data.fill(0x78);
    p.pump();
    expect(str(p.serverData)).toBe('written late');
  });
});
