/**
 * The smallest driver that runs a sans-IO tsls Connection over a node:net socket: bytes in
 * go to `feed`, whatever `takeOutput` holds goes out. Enough for the benchmark; the real
 * Node adapter lives in src/node/.
 *
 * With a `meter`, the time spent inside the engine's own calls (feed, takeOutput, write,
 * end, and the constructor if the caller times it) is summed, so the benchmark can tell
 * engine time from socket and event-loop time.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Connection } from '../src/connection.js';

export interface Meter {
  /** Milliseconds spent inside Connection calls. */
  ms: number;
  /** Nesting depth: event handlers call back into the engine, and only the outer call counts. */
  depth: number;
}

export const newMeter = (): Meter => ({ ms: 0, depth: 0 });

export function timed<T>(meter: Meter | undefined, work: () => T): T {
  if (!meter || meter.depth > 0) return work();
  meter.depth++;
  const t0 = performance.now();
  try {
    return work();
  } finally {
    meter.ms += performance.now() - t0;
    meter.depth--;
  }
}

export class TlsOverTcp {
  constructor(
    readonly conn: Connection,
    readonly socket: Socket,
    private readonly meter?: Meter,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      timed(meter, () => conn.feed(chunk));
      this.flush();
    });
    socket.on('end', () => {
      // TCP closed under us: the engine has nothing left to say.
      if (conn.state !== 'CLOSED' && conn.state !== 'DEAD') timed(meter, () => conn.destroy());
      // (Ending twice costs an error object, ERR_STREAM_ALREADY_FINISHED, per connection.)
      if (!socket.writableEnded) socket.end();
    });
    socket.on('error', () => {
      timed(meter, () => conn.destroy());
    });
    // One listener follows the lifecycle (rather than one each for end, close and error).
    conn.on('state', (_from, to) => {
      switch (to) {
        case 'CLOSING':
          // The peer's close_notify: answer with ours (CLOSED follows), then close TCP.
          if (conn.peerClosed) conn.end();
          return;
        case 'CLOSED':
          // Socket work is deferred out of the engine call that emitted the event, so that
          // the meter counts engine time only.
          queueMicrotask(() => {
            this.flush();
            if (!socket.writableEnded) socket.end();
          });
          return;
        case 'DEAD':
          queueMicrotask(() => {
            this.flush();
            socket.destroy();
          });
          return;
      }
    });
  }

  /** Start the handshake (a client sends its ClientHello). */
  start(): void {
    timed(this.meter, () => this.conn.start());
    this.flush();
  }

  /** Send whatever the engine has queued; false when the socket wants us to wait for 'drain'. */
  flush(): boolean {
    const out = timed(this.meter, () => this.conn.takeOutput());
    if (out.length === 0 || !this.socket.writable) return true;
    return this.socket.write(out);
  }

  write(data: Uint8Array): boolean {
    timed(this.meter, () => this.conn.write(data));
    return this.flush();
  }

  /** close_notify; TCP closes once the peer answers with its own. */
  end(): void {
    timed(this.meter, () => this.conn.end());
    this.flush();
  }
}
