/**
 * The ClientHello sniffer (node's asynchronous SNICallback runs on what it reads) is linear
 * in the bytes buffered: a ClientHello of the largest legal size, delivered one byte per
 * chunk, is read in bounded time, and its name found.
 */
import { describe, expect, it } from 'vitest';
import { ClientHelloSniffer } from '../../src/node/framing.js';
import { Connection } from '../../src/connection.js';
import { encodeHandshake } from '../../src/messages/handshake.js';
import { handshakeRecords, takeClientHello } from './probes.js';

/** A ClientHello with SNI `name`, grown to about `size` bytes with an unknown extension, in records. */
function bigHello(name: string, size: number): Uint8Array {
  const hello = takeClientHello(Connection.client({ servername: name }));
  hello.extensions.list.splice(0, 0, { type: 0xfe77, value: new Uint8Array(Math.min(size, 60000)) });
  for (let i = 0; hello.cipher_suites.length * 2 < size - 60000; i++) hello.cipher_suites.push(0x0a00 + (i % 0x5000));
  return handshakeRecords(encodeHandshake(hello));
}

describe('ClientHelloSniffer', () => {
  it('reads a ~128 KiB ClientHello delivered one byte at a time in linear time', () => {
    const bytes = bigHello('sniff.example', 125_000);
    expect(bytes.length).toBeGreaterThan(120_000);
    const sniffer = new ClientHelloSniffer();
    const start = performance.now();
    let result = sniffer.push(bytes.subarray(0, 1));
    for (let i = 1; i < bytes.length && !result.done; i++) result = sniffer.push(bytes.subarray(i, i + 1));
    const ms = performance.now() - start;
    expect(result).toEqual({ done: true, servername: 'sniff.example' });
    expect(Buffer.from(sniffer.bytes()).equals(Buffer.from(bytes))).toBe(true);
    // Quadratic re-scanning took minutes here; linear work is milliseconds. Generous for a loaded machine.
    expect(ms).toBeLessThan(3000);
  });

  it('finds the name whatever the cut, and gives up on what is not a ClientHello', () => {
    const bytes = bigHello('cut.example', 70_000);
    for (const size of [7, 1000, 16389, 50_000]) {
      const sniffer = new ClientHelloSniffer();
      let result = { done: false } as ReturnType<ClientHelloSniffer['push']>;
      for (let at = 0; at < bytes.length && !result.done; at += size) result = sniffer.push(bytes.subarray(at, at + size));
      expect(result).toEqual({ done: true, servername: 'cut.example' });
    }
    expect(new ClientHelloSniffer().push(new Uint8Array([23, 3, 3, 0, 1, 0]))).toEqual({ done: true, servername: undefined });
    expect(new ClientHelloSniffer().push(new Uint8Array([22, 3, 3, 0, 4, 2, 0, 0, 0]))).toEqual({ done: true, servername: undefined });
  });
});
