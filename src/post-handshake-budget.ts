/**
 * A bound on the post-handshake messages a peer may send (KeyUpdate, NewSessionTicket,
 * refused renegotiation attempts): each costs us key derivations and often an answer, so
 * a peer sending them without end (100,000 KeyUpdate(update_requested) in a row) would
 * keep us busy and make us write without end. A token bucket: a burst of BURST messages,
 * refilled at RATE per second of the injected clock; a message beyond it is refused with
 * unexpected_message and the connection dies. A legitimate peer sends a few per hour.
 */
import { TLSError } from './errors.js';

export const POST_HANDSHAKE_BURST = 64;
export const POST_HANDSHAKE_RATE = 16;

export class PostHandshakeBudget {
  private tokens = POST_HANDSHAKE_BURST;
  private last: number | undefined;

  /** Charge one received post-handshake message; throws once the peer is over its budget. */
  take(now: number): void {
    if (this.last !== undefined && now > this.last) {
      this.tokens = Math.min(POST_HANDSHAKE_BURST, this.tokens + ((now - this.last) * POST_HANDSHAKE_RATE) / 1000);
    }
    this.last = now;
    if (this.tokens < 1) {
      throw new TLSError('unexpected_message', `more than ${POST_HANDSHAKE_BURST} post-handshake messages at over ${POST_HANDSHAKE_RATE} a second`, {
        code: 'ERR_TLS_POST_HANDSHAKE_FLOOD',
      });
    }
    this.tokens -= 1;
  }
}
