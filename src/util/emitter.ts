/** A minimal typed event emitter (the core must not import node:events). */
export type Listener<A extends unknown[]> = (...args: A) => void;

export class Emitter<E extends { [K in keyof E]: unknown[] }> {
  private listeners = new Map<keyof E, Listener<any>[]>();

  on<K extends keyof E>(event: K, fn: Listener<E[K]>): this {
    const list = this.listeners.get(event) ?? [];
    list.push(fn);
    this.listeners.set(event, list);
    return this;
  }

  off<K extends keyof E>(event: K, fn: Listener<E[K]>): this {
    const list = this.listeners.get(event);
    if (list) this.listeners.set(event, list.filter((f) => f !== fn));
    return this;
  }

  protected emit<K extends keyof E>(event: K, ...args: E[K]): void {
    for (const fn of this.listeners.get(event) ?? []) fn(...args);
  }

  protected listenerCount(event: keyof E): number {
    return this.listeners.get(event)?.length ?? 0;
  }
}
