/**
 * Two small readers of the TLS byte stream that the socket adapter needs before (or
 * beside) the engine: where record boundaries fall (to tell a clean TCP close from one
 * in the middle of a record), and the SNI of the first ClientHello (so node's
 * asynchronous SNICallback can run before the engine sees the ClientHello).
 */

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

const MAX_HELLO_BYTES = 64 * 1024;

export type SniffResult = { done: false } | { done: true; servername: string | undefined };

/**
 * Collects the bytes of the first flight until the ClientHello is complete and reads its
 * server_name. Anything unexpected (not a handshake record, not a ClientHello, malformed)
 * ends the sniffing with no name: the engine will then judge the bytes itself.
 */
export class ClientHelloSniffer {
  private chunks: Uint8Array[] = [];
  private total = 0;

  push(chunk: Uint8Array): SniffResult {
    this.chunks.push(chunk);
    this.total += chunk.length;
    const all = this.bytes();
    const hs: number[] = [];
    let at = 0;
    while (at + 5 <= all.length) {
      if (all[at] !== 22) return { done: true, servername: undefined };
      const len = (all[at + 3]! << 8) | all[at + 4]!;
      if (at + 5 + len > all.length) break;
      for (let i = at + 5; i < at + 5 + len; i++) hs.push(all[i]!);
      at += 5 + len;
      if (hs.length >= 4) {
        if (hs[0] !== 1) return { done: true, servername: undefined };
        const msgLen = (hs[1]! << 16) | (hs[2]! << 8) | hs[3]!;
        if (hs.length >= 4 + msgLen) return { done: true, servername: readServerName(Uint8Array.from(hs.slice(4, 4 + msgLen))) };
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
