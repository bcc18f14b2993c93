/**
 * Time spent by this process on the CPU (user + system), not wall time: on a loaded
 * machine other processes' turns do not count against a bound on our own work.
 */
import type { Connection } from '../../src/connection.js';

export function cpuMsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

/** Wraps `conn.feed` so every call's CPU time is added up; read the total with the returned function. */
export function meterFeed(conn: Connection): () => number {
  const feed = conn.feed.bind(conn);
  let ms = 0;
  conn.feed = ((bytes: Uint8Array) => {
    const start = process.cpuUsage();
    try {
      return feed(bytes);
    } finally {
      ms += cpuMsSince(start);
    }
  }) as Connection['feed'];
  return () => ms;
}
