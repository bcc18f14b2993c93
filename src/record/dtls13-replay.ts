/**
 * Replay protection per epoch for DTLS 1.3 (RFC 9147 4.5.1): each epoch has its own
 * sequence numbers, so each gets its own sliding window (dtls-record-layer.ts's
 * ReplayWindow). Only the newest `maxEpochs` epochs keep a window; a record of an older
 * epoch counts as a replay, so memory stays bounded however many KeyUpdates happen.
 * As with one window: check `isReplay` before authenticating, `accept` only after.
 */
import { DEFAULT_REPLAY_WINDOW, ReplayWindow } from './dtls-record-layer.js';

export class EpochReplayWindows {
  private readonly windows = new Map<number, ReplayWindow>();

  constructor(
    private readonly maxEpochs = 2,
    private readonly windowSize = DEFAULT_REPLAY_WINDOW,
  ) {
    if (!Number.isInteger(maxEpochs) || maxEpochs < 1 || maxEpochs > 16) throw new RangeError(`maxEpochs must be 1 to 16, not ${maxEpochs}`);
    new ReplayWindow(windowSize); // validate the size now
  }

  /** Start tracking `epoch` (newer than any tracked); the oldest beyond `maxEpochs` are forgotten. */
  open(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0) throw new RangeError(`bad epoch ${epoch}`);
    if (this.windows.has(epoch)) return;
    if (epoch < this.newest) throw new RangeError(`epoch ${epoch} is older than the newest tracked (${this.newest})`);
    this.windows.set(epoch, new ReplayWindow(this.windowSize));
    while (this.windows.size > this.maxEpochs) this.windows.delete(Math.min(...this.windows.keys()));
  }

  /** True for a duplicate, a number below the window, an invalid number, or an epoch without a window. */
  isReplay(epoch: number, seq: number): boolean {
    const w = this.windows.get(epoch);
    return !w || w.isReplay(seq);
  }

  /** Record `seq` of `epoch` as received (after it authenticated); ignored for an epoch without a window. */
  accept(epoch: number, seq: number): void {
    this.windows.get(epoch)?.accept(seq);
  }

  /** Highest accepted sequence number of `epoch` (-1 before the first, or for an untracked epoch): what reconstruction starts from. */
  highest(epoch: number): number {
    return this.windows.get(epoch)?.highest ?? -1;
  }

  get epochs(): number[] {
    return [...this.windows.keys()].sort((a, b) => a - b);
  }

  private get newest(): number {
    return this.windows.size ? Math.max(...this.windows.keys()) : -1;
  }
}
