/**
 * How a handshake state is declared: one object per state that carries its `row` (the
 * plain data the core, the tests, `--trace` and the diagrams read) and its work (process,
 * construct, pre/post work), checked by the compiler against the rows of the whole table:
 *
 *   - the message a `process` handler gets is the union of the message kinds that lead
 *     into its state (inferred, never written out), so a handler cannot expect less;
 *   - a state some row reads into must have `process`; a state no row reads into may not;
 *   - a state some row writes to (and that is not idle) must have `construct`;
 *   - a state with more than one write successor must have `writeTransition`, which can
 *     only name one of them;
 *   - a row may only lead to a state the table declares, and no state is declared twice
 *     (`joinStates`);
 *   - the context the work gets is narrowed to the handshake data its row `needs` (the
 *     hello state, the suite, a key schedule stage, …): reading data the row does not
 *     declare is a type error (possibly undefined), and the core checks the needs once,
 *     when it enters the state (statem.ts).
 *
 * A part of a table (one protocol, one side) lives in its own file; the messages and
 * writes that lead into it from another part are its `Entry` (`defineStates<H, Entry>`),
 * and `joinStates` checks that every such edge of the joined table was declared.
 */
import { internalError } from '../errors.js';
import type { MessageKind } from '../messages/constants.js';
import type { HandshakeMessage, MessageOf } from '../messages/handshake.js';

export type Side = 'client' | 'server';

export const ESTABLISHED = 'Established';
export const ESTABLISHED_TLS12 = 'Established.TLS12';

/** TLS 1.2's ChangeCipherSpec, as a step the read and write sub-machines take. */
export interface ChangeCipherSpec {
  type: 'change_cipher_spec';
}

/** What a state receives for a message kind: the decoded message (or TLS 1.2's ChangeCipherSpec). */
export type Received<K extends MessageKind = MessageKind> = K extends 'change_cipher_spec' ? ChangeCipherSpec : MessageOf<K>;

/** A state's place in the table: plain data. */
export interface StateSpec<Name extends string = string> {
  /** Hierarchical group, for traces and diagrams: HANDSHAKE.TLS13, POST_HANDSHAKE. */
  group: string;
  /** An established connection at rest: application data flows; reaching it ends the handshake. */
  idle?: true;
  /** The message kinds that may arrive next, and the state each one leads to. */
  read?: { readonly [K in MessageKind]?: Name };
  /** The states this side may write next (the state's `writeTransition` picks one). */
  write?: readonly Name[];
  /**
   * The handshake data this state's work reads (the hello state, the cipher suite, a key
   * schedule stage, …): its work sees them as present (types), and the core checks they
   * are when it enters the state, so the work itself never asks.
   */
  needs?: readonly string[];
  /**
   * The handshake data this state's work brings into being: the core checks it did once
   * the work is done. Its post-work (postProcess, postWork) and writeTransition see it as
   * present: what process or construct made, and what the post-work itself makes (the key
   * schedule's next stage, over the transcript with this state's message in it).
   */
  creates?: readonly string[];
  /**
   * Handshake data the work makes on some runs only (a resumed session's keys, the group
   * when (EC)DHE is used): not checked when the work is done, and not seen by the post-work.
   * The states that need it are reached on those runs alone, and check it when entered;
   * the table tests follow it along every path.
   */
  mayCreate?: readonly string[];
}

export type StateTable = Readonly<Record<string, StateSpec>>;

/**
 * One state as the core runs it. The work's types are loose here on purpose (method
 * syntax): each declaration was checked strictly by `defineStates` and `joinStates`.
 */
export interface StateDecl<H> {
  readonly row: StateSpec;
  /** Validate and act on a received message; the transcript does not yet include it. */
  process?(hs: H, msg: Received, raw: Uint8Array): void;
  /** After the message is in the transcript (key derivations that hash it). */
  postProcess?(hs: H, msg: Received): void;
  /** For states with more than one write successor: which one now. */
  writeTransition?(hs: H): string;
  preWork?(hs: H): void;
  construct?(hs: H): HandshakeMessage | ChangeCipherSpec;
  /** After the message is sent and in the transcript (key changes). */
  postWork?(hs: H): void;
}

export type StateSet<H> = Readonly<Record<string, StateDecl<H>>>;

// ---- the compile-time checks ---------------------------------------------------------------

/** Message kinds some row of R reads into S. */
type Incoming<R, S> = { [F in keyof R]: R[F] extends { read: infer RR } ? { [K in keyof RR]: RR[K] extends S ? K : never }[keyof RR] : never }[keyof R];
/** States of R whose row writes to S. */
type WrittenBy<R, S> = { [F in keyof R]: R[F] extends { write: readonly (infer W)[] } ? (S extends W ? F : never) : never }[keyof R];
/** Every state name a row of R leads to. */
type Targets<R> = { [F in keyof R]: (R[F] extends { read: infer RR } ? RR[keyof RR] : never) | (R[F] extends { write: readonly (infer W)[] } ? W : never) }[keyof R];

/** The context `H` as a state that needs `N` sees it: that data present. */
export type Phase<H, N> = H & { [K in N & keyof H]-?: Exclude<H[K], undefined> };

type Needs<Row> = Row extends { needs: readonly (infer N)[] } ? N : never;
type Creates<Row> = Row extends { creates: readonly (infer N)[] } ? N : never;
type MayCreate<Row> = Row extends { mayCreate: readonly (infer N)[] } ? N : never;
/** The context a state's work gets: narrowed to what its row `needs`. */
type ContextOf<H, Row> = [Needs<Row>] extends [never] ? H : Phase<H, Needs<Row>>;
/** The context its post-work and writeTransition get: what it needs, and what it creates. */
type AfterContextOf<H, Row> = [Needs<Row> | Creates<Row>] extends [never] ? H : Phase<H, Needs<Row> | Creates<Row>>;

/** Every name a row needs, creates or may create must be data of the context. */
type DataCheck<H, Row> = NamesCheck<H, Needs<Row> | Creates<Row> | MayCreate<Row>>;
type NamesCheck<H, N> = [Exclude<N, keyof H>] extends [never] ? unknown : { row: { needs: `${Exclude<N, keyof H> & string} is not handshake data` } };

/** What the core asks of a context: whether a piece of handshake data is there now. */
export interface HandshakeData {
  holds(name: string): boolean;
}

/** An edge into a part from another part: a message kind read into the state, or `written` to it. */
export type EntryKind = MessageKind | 'written';

type EntryOf<Entry, S> = S extends keyof Entry ? Entry[S] : never;
type Kinds<In> = Extract<In, MessageKind>;

type ProcessWork<H, After, In> = [Kinds<In>] extends [never]
  ? { process?: never; postProcess?: never }
  : {
      process: (hs: H, msg: Received<Kinds<In>>, raw: Uint8Array) => void;
      postProcess?: (hs: After, msg: Received<Kinds<In>>) => void;
    };

type ConstructWork<H, After, Row, Written> = Row extends { idle: true }
  ? { construct?: never; preWork?: never; postWork?: never }
  : [Written] extends [never]
    ? { construct?: never; preWork?: never; postWork?: never }
    : { construct: (hs: H) => HandshakeMessage | ChangeCipherSpec; preWork?: (hs: H) => void; postWork?: (hs: After) => void };

type ChoiceWork<H, Row> = Row extends { write: readonly [unknown] } | { idle: true }
  ? { writeTransition?: never }
  : Row extends { write: readonly (infer W)[] }
    ? { writeTransition: (hs: H) => W }
    : { writeTransition?: never };

type Declaration<H, R, S extends keyof R, Entry> = { row: R[S] } & DataCheck<H, R[S]> &
  ProcessWork<ContextOf<H, R[S]>, AfterContextOf<H, R[S]>, Incoming<R, S> | EntryOf<Entry, S>> &
  ConstructWork<ContextOf<H, R[S]>, AfterContextOf<H, R[S]>, R[S], WrittenBy<R, S> | Extract<EntryOf<Entry, S>, 'written'>> &
  ChoiceWork<AfterContextOf<H, R[S]>, R[S]>;

type Declarations<H, R, Entry> = { [S in keyof R]: Declaration<H, R, S, Entry> };

declare const PART: unique symbol;

/** One part of a table, as `defineStates` returns it; the phantom field keeps its rows and entries for `joinStates`. */
export type StatePart<H, R = Record<string, StateSpec>, Entry = unknown> = { readonly [S in keyof R]: StateDecl<H> & { readonly row: R[S] } } & {
  readonly [PART]?: { rows: R; entry: Entry };
};

/**
 * Declare the states of one part of a table (one protocol, one side), in protocol order.
 * `H` is the context the work gets; `Entry` names the edges that lead into this part from
 * other parts (`{ 'C12.ServerHello': 'server_hello_tls12' }`).
 */
export function defineStates<H, Entry extends { readonly [name: string]: EntryKind } = {}>() {
  return <const R extends Record<string, StateSpec>>(declarations: Declarations<H, R, Entry>): StatePart<H, R, Entry> =>
    declarations as unknown as StatePart<H, R, Entry>;
}

type RowsOf<P> = P extends { readonly [PART]?: { rows: infer R } } ? R : never;
type EntryOfPart<P> = P extends { readonly [PART]?: { entry: infer E } } ? E : never;
type AllRows<P extends readonly unknown[]> = P extends readonly [infer First, ...infer Rest] ? RowsOf<First> & AllRows<Rest> : unknown;

/** States declared by more than one part. */
type Duplicates<P extends readonly unknown[], Seen = never> = P extends readonly [infer First, ...infer Rest]
  ? (keyof RowsOf<First> & Seen) | Duplicates<Rest, Seen | keyof RowsOf<First>>
  : never;

/** Edges of the joined table into a part that the part did not declare as entries. */
type Undeclared<P extends readonly unknown[], All> = P extends readonly [infer First, ...infer Rest]
  ?
      | {
          [S in keyof RowsOf<First>]: Exclude<Incoming<All, S>, Incoming<RowsOf<First>, S> | EntryOf<EntryOfPart<First>, S>> extends infer K
            ? [K] extends [never]
              ? [WrittenBy<All, S>] extends [never]
                ? never
                : [WrittenBy<RowsOf<First>, S> | Extract<EntryOf<EntryOfPart<First>, S>, 'written'>] extends [never]
                  ? `${S & string} is written to but declares no 'written' entry`
                  : never
              : `${S & string} is read into with ${K & string}, which it does not declare`
            : never;
        }[keyof RowsOf<First>]
      | Undeclared<Rest, All>
  : never;

type Problems<P extends readonly unknown[]> =
  | (Duplicates<P> extends infer D ? ([D] extends [never] ? never : `${D & string} is declared twice`) : never)
  | (Exclude<Targets<AllRows<P>>, keyof AllRows<P>> extends infer T ? ([T] extends [never] ? never : `no state ${T & string}`) : never)
  | Undeclared<P, AllRows<P>>;

/**
 * Join the parts of one side's table. A problem the compiler finds (a state declared
 * twice, a row leading to a state nobody declares, an edge into a part it did not
 * declare) makes the argument a type error that names the problem.
 * The same duplicate check runs when the module loads: a table is never silently merged.
 */
export function joinStates<H>() {
  return <const P extends readonly object[]>(parts: P & ([Problems<P>] extends [never] ? unknown : { problem: Problems<P> })): StateSet<H> => {
    const out: Record<string, StateDecl<H>> = {};
    for (const part of parts) {
      for (const [name, decl] of Object.entries(part as Readonly<Record<string, StateDecl<H>>>)) {
        if (name in out) throw internalError(`state ${name} is declared twice`);
        out[name] = decl;
      }
    }
    for (const [name, decl] of Object.entries(out)) {
      const targets = [...Object.values(decl.row.read ?? {}), ...(decl.row.write ?? [])];
      for (const to of targets) if (!(to in out)) throw internalError(`state ${name} leads to ${to}, which is not declared`);
    }
    return out;
  };
}

/** The table as plain data: each state's row. */
export function rowsOf<H>(states: StateSet<H>): StateTable {
  const table: Record<string, StateSpec> = {};
  for (const [name, decl] of Object.entries(states)) table[name] = decl.row;
  return table;
}
