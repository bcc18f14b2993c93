/**
 * A ClientHello that does not fit the path MTU arrives in fragments (a DTLS 1.3 hello with a
 * post-quantum share or a cookie, any hello under a small MTU), and a cookie guard cannot
 * judge a part of one. This keeps the fragments of the hellos being reassembled, per
 * address, with hard bounds so that it costs an attacker as much as it costs us: at most
 * `maxHellos` hellos at once (the oldest goes first), each at most `maxHelloBytes` long,
 * each forgotten `expireMs` after its first fragment. Reassembly is the handshake
 * reassembler's (dtls-flight.ts): overlaps, duplicates and lies are handled there.
 */
import { HandshakeType } from './messages/constants.js';
import { HandshakeReassembler, type HandshakeFragment } from './statem/dtls-flight.js';

export interface HelloFragmentsOptions {
  maxHellos?: number;
  maxHelloBytes?: number;
  expireMs?: number;
}

/** A ClientHello whole again: its body, message_seq, the highest record sequence number and the bytes of the datagrams it came in. */
export interface WholeHello {
  body: Uint8Array;
  messageSeq: number;
  recordSeq: number;
  datagramBytes: number;
}

interface Partial {
  reassembler: HandshakeReassembler;
  since: number;
  recordSeq: number;
  datagramBytes: number;
}

export class HelloFragments {
  private readonly partial = new Map<string, Partial>();
  private readonly maxHellos: number;
  private readonly maxHelloBytes: number;
  private readonly expireMs: number;

  constructor(options: HelloFragmentsOptions = {}) {
    this.maxHellos = options.maxHellos ?? 64;
    this.maxHelloBytes = options.maxHelloBytes ?? 8192;
    this.expireMs = options.expireMs ?? 10_000;
  }

  /** Hellos being reassembled. */
  get size(): number {
    return this.partial.size;
  }

  /**
   * One fragment of a ClientHello from `address`, out of a datagram of `datagramBytes`; the
   * whole hello once its last byte is in, else undefined.
   */
  add(address: string, fragment: HandshakeFragment, recordSeq: number, datagramBytes: number, now: number): WholeHello | undefined {
    if (fragment.msgType !== HandshakeType.client_hello || fragment.length > this.maxHelloBytes) return undefined;
    this.expire(now);
    let p = this.partial.get(address);
    if (!p || p.reassembler.nextSeq !== fragment.messageSeq) {
      if (p) this.partial.delete(address);
      if (this.partial.size >= this.maxHellos) this.partial.delete(this.partial.keys().next().value!);
      const limit = this.maxHelloBytes;
      const reassembler = new HandshakeReassembler({ maxMessage: limit, maxCertificate: limit, maxClientHello: limit, maxMessagesAhead: 1 }, fragment.messageSeq);
      p = { reassembler, since: now, recordSeq, datagramBytes: 0 };
      this.partial.set(address, p);
    }
    p.recordSeq = Math.max(p.recordSeq, recordSeq);
    p.datagramBytes += datagramBytes;
    const [message] = p.reassembler.addFragment(fragment).messages;
    if (!message) return undefined;
    this.partial.delete(address);
    return { body: message.body, messageSeq: message.seq, recordSeq: p.recordSeq, datagramBytes: p.datagramBytes };
  }

  private expire(now: number): void {
    // Insertion order is age order: the oldest are first.
    for (const [address, p] of this.partial) {
      if (now - p.since < this.expireMs) return;
      this.partial.delete(address);
    }
  }
}
