/**
 * 0-RTT anti-replay (RFC 8446 8.1, single-use tickets): a ticket opens early data once.
 * A server records each ticket the first time its early data is accepted and refuses
 * early data for it afterwards (the handshake goes on without it). The record needs to
 * outlive the ticket only: after its lifetime the ticket is refused anyway.
 *
 * The store is the application's to replace, so that several processes behind one
 * address share what they have seen (a replay to another process is a replay too). The
 * core is synchronous, so a store answers at once: a shared one answers from what it
 * holds locally and fails closed (returns false) when it cannot tell.
 */
import { toHex } from '../util/bytes.js';

export interface EarlyDataReplayStore {
  /**
   * Record the first use of `id` (a hash of the ticket), to be kept until `expiresMs`.
   * True when it was not recorded before: this use may carry early data. False for a
   * replay, and whenever the store cannot record it (then early data is refused, never
   * accepted twice).
   */
  firstUse(id: Uint8Array, expiresMs: number, nowMs: number): boolean;
}

/** The in-memory store: bounded; when full of live entries it refuses early data rather than forget one. */
export class EarlyDataReplayCache implements EarlyDataReplayStore {
  private readonly seen = new Map<string, number>();

  constructor(private readonly max = 100_000) {}

  firstUse(id: Uint8Array, expiresMs: number, nowMs: number): boolean {
    const key = toHex(id);
    const known = this.seen.get(key);
    if (known !== undefined && known > nowMs) return false;
    if (known === undefined && this.seen.size >= this.max) {
      this.evictExpired(nowMs);
      if (this.seen.size >= this.max) return false;
    }
    this.seen.set(key, expiresMs);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }

  private evictExpired(nowMs: number): void {
    for (const [key, expires] of this.seen) if (expires <= nowMs) this.seen.delete(key);
  }
}
