/** A minimal typed event emitter (the core must not import node:events). */
export type Listener<A extends unknown[]> = (...args: A) => void;

/**
 * Listeners by event. An event with one listener keeps the function itself, with more an
 * array of exactly that many: every connection carries one of these, mostly with one
 * listener per event, so no Map and no growable arrays. Arrays are never changed once
 * stored (`on` and `off` store new ones), so an `emit` in progress calls exactly the
 * listeners there were when it began, as node:events does.
 */
type ListenerTable = Record<PropertyKey, Listener<any> | Listener<any>[] | undefined>;

export class Emitter<E extends { [K in keyof E]: unknown[] }> {
  private listeners: ListenerTable | undefined = undefined;

  on<K extends keyof E>(event: K, fn: Listener<E[K]>): this {
    const table = (this.listeners ??= {});
    const had = own(table, event);
    table[event] = had === undefined ? fn : typeof had === 'function' ? [had, fn] : [...had, fn];
    return this;
  }

  off<K extends keyof E>(event: K, fn: Listener<E[K]>): this {
    const table = this.listeners;
    const had = table && own(table, event);
    if (had === undefined) return this;
    if (typeof had === 'function') {
      if (had === fn) table![event] = undefined;
      return this;
    }
    const rest = had.filter((f) => f !== fn);
    table![event] = rest.length === 0 ? undefined : rest.length === 1 ? rest[0] : rest;
    return this;
  }

  protected emit<K extends keyof E>(event: K, ...args: E[K]): void {
    const had = this.listeners && own(this.listeners, event);
    if (had === undefined) return;
    if (typeof had === 'function') {
      had(...args);
      return;
    }
    for (const fn of had) fn(...args);
  }

  protected listenerCount(event: keyof E): number {
    const had = this.listeners && own(this.listeners, event);
    return had === undefined ? 0 : typeof had === 'function' ? 1 : had.length;
  }
}

/** The table's own entry only: an event named like an Object.prototype member finds nothing there. */
function own(table: ListenerTable, event: PropertyKey): Listener<any> | Listener<any>[] | undefined {
  return Object.prototype.hasOwnProperty.call(table, event) ? table[event] : undefined;
}
