/**
 * Access to the RFC 8448 traces in vectors/rfc8448/ (see its README.md): steps are found
 * by who did them and the RFC's step line, items by their label, values come out as bytes.
 */
import { readFileSync } from 'node:fs';

export type Who = 'client' | 'server';

export interface Step {
  who: Who;
  action: string;
  items: Record<string, string>;
  octets: Record<string, number>;
}

export interface TraceFile {
  source: string;
  title: string;
  steps: Step[];
  serverRsaKey: { source: string; items: Record<string, string> };
}

/** The only non-hex item value in sections 3 and 5: the early-secret salt, HashLen zero octets (RFC 5869 2.2). */
const ZERO_SALT_TEXT = '0 (all zero octets)';

export function hexToBytes(hex: string): Uint8Array {
  if (!/^(?:[0-9a-f]{2})*$/.test(hex)) throw new Error(`not lowercase even-length hex: ${hex.slice(0, 40)}`);
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

export function bytesToHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export class Trace {
  readonly source: string;
  readonly steps: Step[];
  readonly serverRsaKey: Record<string, string>;

  constructor(file: TraceFile) {
    this.source = file.source;
    this.steps = file.steps;
    this.serverRsaKey = file.serverRsaKey.items;
  }

  static load(name: string): Trace {
    return new Trace(JSON.parse(readFileSync(new URL(`../../vectors/rfc8448/${name}`, import.meta.url), 'utf8')) as TraceFile);
  }

  /** The nth (0-based) step of `who` whose step line is exactly `action`. */
  step(who: Who, action: string, nth = 0): Step {
    const found = this.steps.filter((s) => s.who === who && s.action === action);
    if (found.length <= nth) throw new Error(`${this.source}: no step #${nth} {${who}} ${action}`);
    return found[nth]!;
  }

  /** The bytes of item `label` of the nth `{who} action` step. */
  item(who: Who, action: string, label: string, nth = 0): Uint8Array {
    return itemOf(this.step(who, action, nth), label);
  }
}

/** The bytes of one item of a step (the zero salt's text form becomes 32 zero octets: every hash here is SHA-256). */
export function itemOf(step: Step, label: string): Uint8Array {
  const v = step.items[label];
  if (v === undefined) throw new Error(`step {${step.who}} ${step.action} has no item "${label}"`);
  if (v === ZERO_SALT_TEXT) return new Uint8Array(32);
  return hexToBytes(v);
}

/**
 * Compares items of one step and remembers which labels were compared, so a test can
 * insist that none of the step's items went unchecked.
 */
export class StepCheck {
  private readonly seen = new Set<string>();
  constructor(readonly step: Step) {}

  /** The item's bytes, marked as compared by the caller. */
  get(label: string): Uint8Array {
    this.seen.add(label);
    return itemOf(this.step, label);
  }

  get unchecked(): string[] {
    return Object.keys(this.step.items).filter((l) => !this.seen.has(l));
  }
}
