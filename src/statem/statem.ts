/**
 * The statem core: the only code that changes handshake state.
 *
 * Like OpenSSL's statem.c it runs two message-flow sub-machines and leaves the protocol
 * to the states' declarations (each state's row and work, declare.ts):
 *
 *   read:  READ_HEADER (bound the length before buffering) → READ_BODY → transition
 *          check on the received type (table) → decode → PROCESS → add to transcript →
 *          POST_PROCESS → next flow from the new state's row
 *   write: TRANSITION (the state picks, its row checks) → PRE_WORK → CONSTRUCT + send → add to
 *          transcript → POST_WORK → again, until the row says read
 *
 * It never blocks: when a message is incomplete it returns and is re-entered when more
 * bytes arrive (libnbd's "re-enter the same state on the next external event").
 */
import { TLSError, internalError, unexpectedMessage } from '../errors.js';
import { handshakeTypeByCode, type MessageKind } from '../messages/constants.js';
import { checkHandshakeLength, decodeHandshake, encodeHandshake, possibleKinds, type KeyExchange, type HandshakeLimits, type HandshakeMessage, type WireVersion } from '../messages/handshake.js';
import type { ChangeCipherSpec, HandshakeData, Received, StateDecl, StateSet } from './declare.js';

export type { ChangeCipherSpec } from './declare.js';

/** What the core needs from the connection around it. */
export interface StatemHost {
  readonly limits: HandshakeLimits;
  wireVersion(): WireVersion;
  /** The negotiated TLS 1.2 key exchange, which decides the key exchange messages' structure. */
  keyExchange(): KeyExchange | undefined;
  /** Hash a message into the transcript; DTLS frames it with the message_seq of that direction. */
  addToTranscript(raw: Uint8Array, direction: 'recv' | 'send'): void;
  sendHandshake(raw: Uint8Array, msg: HandshakeMessage): void;
  sendChangeCipherSpec(): void;
  onTransition(from: string, to: string, how: 'recv' | 'send', kind?: MessageKind): void;
  onMessage(direction: 'recv' | 'send', msg: HandshakeMessage, length: number): void;
  onEstablished(): void;
}

export class StateMachine<H extends HandshakeData> {
  state: string;
  /** Bytes of handshake messages received and not yet processed (READ_HEADER / READ_BODY). */
  /** None while nothing is buffered (the common case between flights and once established). */
  private pending: Uint8Array[] | undefined = undefined;
  private pendingBytes = 0;
  private writing = false;
  private done = false;

  constructor(
    private readonly states: StateSet<H>,
    /** What the states work on: the handshake's context. */
    private readonly hs: H,
    private readonly host: StatemHost,
    start: string,
  ) {
    this.state = start;
  }

  /** The declaration of `name`; the tables are checked when they are joined, so a miss is our bug. */
  private decl(name: string): StateDecl<H> {
    const decl = this.states[name];
    if (!decl) throw internalError(`no state ${name}`);
    return decl;
  }

  /** The state a received message of `kind` leads to from here, if the row allows it. */
  private readTransition(kind: MessageKind): string | undefined {
    return this.decl(this.state).row.read?.[kind];
  }

  get bufferedHandshakeBytes(): number {
    return this.pendingBytes;
  }

  /** The handshake has completed (application data may flow). */
  get established(): boolean {
    return this.done;
  }

  /** External event: begin. A side whose start state writes (the client) sends its first flight. */
  start(): void {
    if (this.decl(this.state).row.write) this.runWrite();
  }

  // ---- read sub-machine -------------------------------------------------------------

  /** External event: the payload of a handshake record arrived. */
  receive(fragment: Uint8Array): void {
    (this.pending ??= []).push(fragment);
    this.pendingBytes += fragment.length;
    for (;;) {
      // READ_HEADER: the type and length are checked before the body is buffered.
      if (this.pendingBytes < 4) return;
      const head = this.peek(4);
      const type = head[0];
      const length = (head[1] << 16) | (head[2] << 8) | head[3];
      this.checkTransitionByType(type);
      checkHandshakeLength(type, length, this.host.limits);
      // READ_BODY: wait for the whole message.
      if (this.pendingBytes < 4 + length) return;
      const raw = this.take(4 + length);
      this.processMessage(type, raw);
    }
  }

  /** Types are checked against the table as soon as the header is in, so nothing is buffered for a message we would refuse. */
  private checkTransitionByType(type: number): void {
    const name = handshakeTypeByCode.get(type);
    const row = this.decl(this.state).row.read ?? {};
    const kinds = name === undefined ? undefined : possibleKinds(name, this.host.keyExchange());
    if (!kinds?.some((kind) => kind in row)) {
      throw unexpectedMessage(`unexpected ${name ?? `handshake type ${type}`} in state ${this.state}`);
    }
  }

  /**
   * External event: a TLS 1.2 ChangeCipherSpec arrived. It is not a handshake message, but
   * it is a step of the flow, so the table decides whether it may come now.
   */
  receiveChangeCipherSpec(): void {
    if (this.pendingBytes > 0) throw unexpectedMessage('ChangeCipherSpec inside a fragmented handshake message');
    const next = this.readTransition('change_cipher_spec');
    if (next === undefined) throw unexpectedMessage(`unexpected change_cipher_spec in state ${this.state}`);
    this.enter(next, 'recv', 'change_cipher_spec');
    const decl = this.decl(next);
    this.processIn(decl, next, CHANGE_CIPHER_SPEC, NO_BYTES);
    this.checkData(next, 'creates');
    if (!decl.row.read) this.runWrite();
  }

  /** Does the current state accept a TLS 1.2 ChangeCipherSpec? (TLS 1.3's dummy one is the connection's business.) */
  get expectsChangeCipherSpec(): boolean {
    return this.decl(this.state).row.read?.change_cipher_spec !== undefined;
  }

  private enter(next: string, how: 'recv' | 'send', kind?: MessageKind): void {
    const from = this.state;
    this.state = next;
    this.host.onTransition(from, next, how, kind);
    this.checkData(next, 'needs');
  }

  /**
   * The handshake data a state `needs` must be there when it is entered, and what it
   * `creates` once its work is done: the work is typed as if it were, so a miss is our
   * bug (internal_error), caught here once per state rather than at each use.
   */
  private checkData(name: string, which: 'needs' | 'creates'): void {
    for (const data of this.decl(name).row[which] ?? []) {
      if (!this.hs.holds(data)) {
        throw new TLSError('internal_error', `state ${name} ${which === 'needs' ? 'needs' : 'did not create'} ${data}`, { code: 'ERR_TLS_INVALID_STATE' });
      }
    }
  }

  /**
   * External event (DTLS): a whole handshake message, reassembled from fragments by the
   * DTLS layer, in TLS framing (type, uint24 length, body). Same checks, same pipeline.
   */
  deliver(raw: Uint8Array): void {
    this.checkTransitionByType(raw[0]);
    this.processMessage(raw[0], raw);
  }

  private processMessage(type: number, raw: Uint8Array): void {
    const msg = decodeHandshake(type, raw.subarray(4), this.host.wireVersion(), this.host.keyExchange());
    // The transition is decided by what the message turned out to be (ServerHello vs HelloRetryRequest).
    const next = this.readTransition(msg.type);
    if (next === undefined) throw unexpectedMessage(`unexpected ${msg.type} in state ${this.state}`);
    this.host.onMessage('recv', msg, raw.length);
    this.enter(next, 'recv', msg.type);
    const decl = this.decl(next);
    this.processIn(decl, next, msg, raw);
    if (inTranscript(decl)) this.host.addToTranscript(raw, 'recv');
    if (decl.postProcess) decl.postProcess(this.hs, msg);
    this.checkData(next, 'creates');
    if (!decl.row.read) this.runWrite();
  }

  /** PROCESS: every state a message leads into has its check (joinStates and the compiler see to it). */
  private processIn(decl: StateDecl<H>, name: string, msg: Received, raw: Uint8Array): void {
    if (!decl.process) throw internalError(`state ${name} has no process step`);
    decl.process(this.hs, msg, raw);
  }

  private peek(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let at = 0;
    for (const chunk of this.pending ?? []) {
      const part = chunk.subarray(0, n - at);
      out.set(part, at);
      at += part.length;
      if (at === n) break;
    }
    return out;
  }

  private take(n: number): Uint8Array {
    const out = this.peek(n);
    const pending = this.pending;
    if (!pending || this.pendingBytes < n) throw internalError('handshake buffer read past its end');
    let left = n;
    while (left > 0) {
      const head = pending[0];
      if (head.length <= left) {
        pending.shift();
        left -= head.length;
      } else {
        pending[0] = head.subarray(left);
        left = 0;
      }
    }
    // Drained: no array kept, not even an empty one with the capacity it grew to.
    if (pending.length === 0) this.pending = undefined;
    this.pendingBytes -= n;
    return out;
  }

  // ---- write sub-machine ------------------------------------------------------------

  /**
   * External event from the application in an idle state (e.g. KeyUpdate from
   * Established): write `next`, if the table allows it from here.
   */
  writeFrom(next: string): void {
    if (!this.decl(this.state).row.write?.includes(next)) {
      throw internalError(`cannot write ${next} in state ${this.state}`);
    }
    this.runWrite(next);
  }

  private runWrite(forced?: string): void {
    if (this.writing) throw internalError('write sub-machine re-entered');
    this.writing = true;
    try {
      let chosen = forced;
      for (;;) {
        const current = this.decl(this.state);
        const spec = current.row;
        if (!spec.write || (chosen === undefined && spec.idle)) return;
        // TRANSITION: the state chooses, its row must agree.
        const next = chosen ?? this.writeTransition(current, spec.write);
        chosen = undefined;
        if (!spec.write.includes(next)) throw internalError(`no valid write transition from ${this.state} (got ${next})`);
        const from = this.state;
        this.state = next;
        const decl = this.decl(next);
        this.checkData(next, 'needs');
        if (decl.row.idle) {
          this.host.onTransition(from, next, 'send');
          if (!this.done) {
            this.done = true;
            this.host.onEstablished();
          }
          return;
        }
        // PRE_WORK, CONSTRUCT + send, POST_WORK.
        if (decl.preWork) decl.preWork(this.hs);
        if (!decl.construct) throw internalError(`no message to construct in state ${next}`);
        const msg = decl.construct(this.hs);
        if (msg.type === 'change_cipher_spec') {
          this.host.onTransition(from, next, 'send', msg.type);
          this.host.sendChangeCipherSpec();
        } else {
          const raw = encodeHandshake(msg, this.host.wireVersion());
          this.host.onTransition(from, next, 'send', msg.type);
          this.host.onMessage('send', msg, raw.length);
          if (inTranscript(decl)) this.host.addToTranscript(raw, 'send');
          this.host.sendHandshake(raw, msg);
        }
        if (decl.postWork) decl.postWork(this.hs);
        this.checkData(next, 'creates');
        if (decl.row.read) return; // hand over to the read sub-machine
      }
    } finally {
      this.writing = false;
    }
  }

  /** The one write successor, or the one the state picks. */
  private writeTransition(decl: StateDecl<H>, successors: readonly string[]): string {
    const [only, ...more] = successors;
    if (only !== undefined && more.length === 0) return only;
    if (!decl.writeTransition) throw internalError(`state ${this.state} has several write successors and no writeTransition`);
    return decl.writeTransition(this.hs);
  }
}

/** Messages of the handshake proper are hashed; post-handshake ones (tickets, KeyUpdate) and DTLS's cookie detour are not. */
function inTranscript(decl: StateDecl<unknown>): boolean {
  return decl.row.group.startsWith('HANDSHAKE');
}

const CHANGE_CIPHER_SPEC: ChangeCipherSpec = Object.freeze({ type: 'change_cipher_spec' });
const NO_BYTES = new Uint8Array(0);
