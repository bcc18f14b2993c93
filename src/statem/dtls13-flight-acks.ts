/**
 * Which records of our current flight the peer has acknowledged (RFC 9147 7): every
 * transmission of a flight record gets a new record number, any of which an ACK may name;
 * once all of a flight's records are acknowledged the flight is complete, and a
 * retransmission sends only the records not acknowledged yet.
 */
import type { RecordNumber } from '../record/dtls13-record-layer.js';

/** Record numbers remembered per flight: far more than a flight's transmissions. */
const MAX_TRACKED = 1024;

export class FlightAcks {
  /** "epoch:seq" of each transmission → the index of the flight record it carried. */
  private readonly sent = new Map<string, number>();
  private readonly acked = new Set<number>();
  private readonly transmittedIndexes = new Set<number>();

  /** A new flight: nothing sent, nothing acknowledged. */
  reset(): void {
    this.sent.clear();
    this.transmittedIndexes.clear();
    this.acked.clear();
  }

  /** Record `index` of the flight went out as `number`; true when it had gone out before (a retransmission). */
  transmitted(index: number, number: RecordNumber): boolean {
    const again = this.transmittedIndexes.has(index);
    this.transmittedIndexes.add(index);
    if (this.sent.size < MAX_TRACKED) this.sent.set(`${number.epoch}:${number.seq}`, index);
    return again;
  }

  isAcked(index: number): boolean {
    return this.acked.has(index);
  }

  /** Mark the records an ACK names; true when it acknowledged something new. */
  acknowledge(numbers: readonly RecordNumber[]): boolean {
    let progress = false;
    for (const n of numbers) {
      const index = this.sent.get(`${n.epoch}:${n.seq}`);
      if (index === undefined || this.acked.has(index)) continue;
      this.acked.add(index);
      progress = true;
    }
    return progress;
  }

  /** Every one of the flight's `count` records is acknowledged. */
  complete(count: number): boolean {
    return count > 0 && this.acked.size >= count;
  }
}
