/**
 * Two small readers of the TLS byte stream that the socket adapter needs before (or
 * beside) the engine: where record boundaries fall (to tell a clean TCP close from one
 * in the middle of a record), and the SNI of the first ClientHello (so node's
 * asynchronous SNICallback can run before the engine sees the ClientHello).
 */
import { MAX_CLIENT_HELLO } from '../messages/handshake.js';

/** Follows record framing (5-byte header, then `length` bytes) over a byte stream. */
export class RecordBoundaries {
  private header = new Uint8Array(5);
  private headerHave = 0;
  private bodyLeft = 0;

  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.bodyLeft > 0) {
        const take = Math.min(this.bodyLeft, chunk.length - i);
        this.bodyLeft -= take;
        i += take;
        continue;
      }
      this.header[this.headerHave++] = chunk[i++]!;
      if (this.headerHave === 5) {
        this.bodyLeft = (this.header[3]! << 8) | this.header[4]!;
        this.headerHave = 0;
      }
    }
  }

  /** True when the bytes so far end inside a record (or its header). */
  get midRecord(): boolean {
    return this.headerHave > 0 || this.bodyLeft > 0;
  }
}

/** A whole ClientHello of the largest legal size with its record headers (one per 2^14 bytes). */
const MAX_HELLO_BYTES = MAX_CLIENT_HELLO + 4 + 5 * Math.ceil((MAX_CLIENT_HELLO + 4) / 2 ** 14);

export type SniffResult = { done: false } | { done: true; servername: string | undefined };

/**
 * Collects the bytes of the first flight until the ClientHello is complete and reads its
 * server_name. Anything unexpected (not a handshake record, not a ClientHello, malformed)
 * ends the sniffing with no name: the engine will then judge the bytes itself.
 *
 * Linear in the bytes received, however they are cut: each byte is copied out of the
 * unparsed tail once (when its record is complete) and into the message once (when the
 * ClientHello is); a push only looks at what is new.
 */
export class ClientHelloSniffer {
  /** Everything received, for the engine. */
  private chunks: Uint8Array[] = [];
  private total = 0;
  /** Received bytes not yet cut into records. */
  private readonly tail = new ByteQueue();
  /** Payload length of the record whose header was read, waiting for its body. */
  private recordLength = -1;
  /** Handshake bytes from whole records, and the ClientHello's length once its header is in. */
  private readonly handshake = new ByteQueue();
  private messageLength = -1;

  push(chunk: Uint8Array): SniffResult {
    this.chunks.push(chunk);
    this.total += chunk.length;
    this.tail.push(chunk);
    for (;;) {
      if (this.recordLength < 0) {
        if (this.tail.length < 5) break;
        const header = this.tail.take(5);
        if (header[0] !== 22) return { done: true, servername: undefined };
        this.recordLength = (header[3]! << 8) | header[4]!;
      }
      if (this.tail.length < this.recordLength) break;
      this.handshake.push(this.tail.take(this.recordLength));
      this.recordLength = -1;
      if (this.messageLength < 0 && this.handshake.length >= 4) {
        const head = this.handshake.peek(4);
        if (head[0] !== 1) return { done: true, servername: undefined };
        this.messageLength = (head[1]! << 16) | (head[2]! << 8) | head[3]!;
      }
      if (this.messageLength >= 0 && this.handshake.length >= 4 + this.messageLength) {
        const message = this.handshake.take(4 + this.messageLength);
        return { done: true, servername: readServerName(message.subarray(4)) };
      }
    }
    if (this.total > MAX_HELLO_BYTES) return { done: true, servername: undefined };
    return { done: false };
  }

  /** Bytes held so far. */
  get size(): number {
    return this.total;
  }

  /** Everything received so far, to hand to the engine. */
  bytes(): Uint8Array {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? new Uint8Array(0);
  }
}

/** A FIFO of byte chunks: push, and take or peek from the front, copying only what is taken. */
class ByteQueue {
  private chunks: Uint8Array[] = [];
  private head = 0;
  private offset = 0;
  length = 0;

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  peek(n: number): Uint8Array {
    return this.copy(n, false);
  }

  take(n: number): Uint8Array {
    return this.copy(n, true);
  }

  private copy(n: number, consume: boolean): Uint8Array {
    const out = new Uint8Array(n);
    let at = 0;
    let i = this.head;
    let offset = this.offset;
    while (at < n) {
      const chunk = this.chunks[i]!;
      const part = Math.min(n - at, chunk.length - offset);
      out.set(chunk.subarray(offset, offset + part), at);
      at += part;
      offset += part;
      if (offset === chunk.length) {
        i++;
        offset = 0;
      }
    }
    if (consume) {
      this.length -= n;
      // Drop consumed chunks now and then, so the array does not grow with the stream.
      if (i > 64 && i * 2 > this.chunks.length) {
        this.chunks = this.chunks.slice(i);
        i = 0;
      }
      this.head = i;
      this.offset = offset;
    }
    return out;
  }
}

/** server_name (host_name) of a ClientHello body; undefined when absent or malformed. */
function readServerName(b: Uint8Array): string | undefined {
  let at = 2 + 32; // legacy_version, random
  const skip = (lenBytes: number): boolean => {
    if (at + lenBytes > b.length) return false;
    let n = 0;
    for (let i = 0; i < lenBytes; i++) n = (n << 8) | b[at + i]!;
    at += lenBytes + n;
    return at <= b.length;
  };
  if (!skip(1) || !skip(2) || !skip(1)) return undefined; // session id, cipher suites, compression
  if (at + 2 > b.length) return undefined;
  const extEnd = at + 2 + ((b[at]! << 8) | b[at + 1]!);
  at += 2;
  if (extEnd > b.length) return undefined;
  while (at + 4 <= extEnd) {
    const type = (b[at]! << 8) | b[at + 1]!;
    const len = (b[at + 2]! << 8) | b[at + 3]!;
    const body = at + 4;
    if (body + len > extEnd) return undefined;
    if (type === 0) {
      // ServerNameList: u16 length, then entries of name_type (0 = host_name) and u16-prefixed name.
      let p = body + 2;
      const end = body + len;
      while (p + 3 <= end) {
        const nameType = b[p]!;
        const n = (b[p + 1]! << 8) | b[p + 2]!;
        if (p + 3 + n > end) return undefined;
        if (nameType === 0) return new TextDecoder().decode(b.subarray(p + 3, p + 3 + n));
        p += 3 + n;
      }
      return undefined;
    }
    at = body + len;
  }
  return undefined;
}
