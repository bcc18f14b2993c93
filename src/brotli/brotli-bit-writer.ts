/** Bits out, least significant bit of each byte first (RFC 7932 section 2), as BrotliBitReader reads them. */
export class BrotliBitWriter {
  private bytes = new Uint8Array(256);
  /** Bits written so far. */
  length = 0;

  /** The low `n` bits of `value` (n at most 24). */
  write(value: number, n: number): void {
    if (((this.length + n + 7) >> 3) + 4 > this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2 + n);
      grown.set(this.bytes);
      this.bytes = grown;
    }
    for (let left = n, v = value; left > 0; ) {
      const at = this.length >> 3;
      const used = this.length & 7;
      const take = Math.min(8 - used, left);
      this.bytes[at]! |= (v & ((1 << take) - 1)) << used;
      v >>>= take;
      left -= take;
      this.length += take;
    }
  }

  /** Zero bits up to the next byte boundary. */
  alignToByte(): void {
    this.length = (this.length + 7) & ~7;
  }

  /** Whole bytes, after alignToByte. */
  writeBytes(data: Uint8Array): void {
    this.alignToByte();
    for (const b of data) this.write(b, 8);
  }

  /** Drop everything after the first `bits` bits. */
  truncate(bits: number): void {
    this.bytes.fill(0, (bits + 7) >> 3);
    if (bits & 7) this.bytes[bits >> 3]! &= (1 << (bits & 7)) - 1;
    this.length = bits;
  }

  finish(): Uint8Array {
    return this.bytes.slice(0, (this.length + 7) >> 3);
  }
}
