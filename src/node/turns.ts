/**
 * A budget of engine work per turn of the event loop, shared by every socket of the
 * process. When a burst arrives (thousands of ClientHellos in one poll phase, each costing a
 * key exchange and a signature) the sockets past the budget wait for the next turn instead
 * of running back to back, so timers, other I/O and established connections get the loop in
 * between: the lag one burst causes is about the budget, not the burst.
 *
 * A turn ends at the next check phase (setImmediate): the budget is refilled there and the
 * waiting sockets run, oldest first, until it is spent again; the rest wait for the turn
 * after (a setImmediate scheduled from a check phase runs in the next loop iteration).
 */

/** Milliseconds of engine work per turn before sockets start waiting. */
export const TURN_BUDGET_MS = 15;

let spent = 0;
let turnOpen = false;
const waiting: (() => void)[] = [];

function openTurn(): void {
  if (turnOpen) return;
  turnOpen = true;
  setImmediate(nextTurn);
}

function nextTurn(): void {
  turnOpen = false;
  spent = 0;
  while (waiting.length > 0 && mayWork()) waiting.shift()!();
}

/** Whether engine work may run now, in this turn. */
export function mayWork(): boolean {
  openTurn();
  return spent < TURN_BUDGET_MS;
}

/** Count `ms` of engine work against this turn. */
export function charge(ms: number): void {
  spent += ms;
}

/** Run `task` in a later turn, after those already waiting. */
export function waitForTurn(task: () => void): void {
  waiting.push(task);
  openTurn();
}
