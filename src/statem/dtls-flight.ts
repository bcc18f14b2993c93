/**
 * DTLS 1.2 handshake transport (RFC 6347 section 4.2): the pieces that sit between the
 * record layer and the statem core when the transport is datagrams.
 *
 *   - `fragmentMessage` / `transcriptBytes`: the 12-byte DTLS handshake header, splitting a
 *     message into fragments that fit the path MTU, and the bytes the handshake hash covers
 *     (RFC 6347 4.2.6: the message as if it had been sent as one fragment).
 *   - `HandshakeReassembler`: fragments in (any order, duplicated, overlapping, lost and
 *     retransmitted), whole messages out in message_seq order, ready for the core's read
 *     sub-machine. Memory is bounded: per-type message limits (as the TLS path), a window of
 *     message_seq values ahead of the next expected one, and an overall byte budget.
 *   - `RetransmitTimer` (RFC 6347 4.2.4.1): 1 s initial, doubling to 60 s, giving up after a
 *     configurable number of retransmissions.
 *   - `Flight`: the last flight we sent, kept as records that can be re-protected (with new
 *     record sequence numbers) and packed into datagrams no larger than the MTU.
 *
 * Everything here is sans-IO: time is passed in as `now` (ms), bytes in and out as arrays.
 *
 * Invalid fragments are dropped, not fatal (RFC 6347 4.1.2.7: "invalid records SHOULD be
 * silently discarded"): epoch-0 handshake records are unauthenticated, so a spoofed
 * datagram must not be able to kill a handshake, and tampering that survives reassembly is
 * caught by Finished, which covers the transcript. The one exception, matching the TLS
 * path, is a message whose declared length exceeds the per-type limit: TLSError
 * illegal_parameter, code ERR_TLS_HANDSHAKE_MESSAGE_TOO_LARGE, before anything is buffered.
 */
import { TLSError, internalError } from '../errors.js';
import { ContentType } from '../messages/constants.js';
import { checkHandshakeLength, defaultLimits, type HandshakeLimits } from '../messages/handshake.js';

/** msg_type(1) length(3) message_seq(2) fragment_offset(3) fragment_length(3). */
export const DTLS_HANDSHAKE_HEADER_LENGTH = 12;
/** type(1) version(2) epoch(2) sequence_number(6) length(2). */
export const DTLS_RECORD_HEADER_LENGTH = 13;
/** The largest AEAD expansion among tsls's TLS 1.2 suites: 8-byte explicit nonce + 16-byte tag (GCM, CCM). */
export const DTLS_MAX_AEAD_EXPANSION = 24;
/** Default per-record overhead: record header plus the largest AEAD expansion. */
export const DTLS_DEFAULT_RECORD_OVERHEAD = DTLS_RECORD_HEADER_LENGTH + DTLS_MAX_AEAD_EXPANSION;
/** Default path MTU, as bytes of UDP payload (RFC 6347 4.1.1.1 leaves it to the application). */
export const DTLS_DEFAULT_MTU = 1200;

const MAX_U24 = 0xffffff;
const MAX_U16 = 0xffff;

// ---- framing ------------------------------------------------------------------------------

function header(out: Uint8Array, at: number, msgType: number, length: number, seq: number, offset: number, fragLength: number): void {
  out[at] = msgType;
  out[at + 1] = (length >>> 16) & 0xff;
  out[at + 2] = (length >>> 8) & 0xff;
  out[at + 3] = length & 0xff;
  out[at + 4] = (seq >>> 8) & 0xff;
  out[at + 5] = seq & 0xff;
  out[at + 6] = (offset >>> 16) & 0xff;
  out[at + 7] = (offset >>> 8) & 0xff;
  out[at + 8] = offset & 0xff;
  out[at + 9] = (fragLength >>> 16) & 0xff;
  out[at + 10] = (fragLength >>> 8) & 0xff;
  out[at + 11] = fragLength & 0xff;
}

function checkMessage(msgType: number, messageSeq: number, body: Uint8Array): void {
  if (!Number.isInteger(msgType) || msgType < 0 || msgType > 0xff) throw internalError(`bad handshake type ${msgType}`);
  if (!Number.isInteger(messageSeq) || messageSeq < 0 || messageSeq > MAX_U16) throw internalError(`bad message_seq ${messageSeq}`);
  if (body.length > MAX_U24) throw internalError(`handshake message of ${body.length} bytes does not fit a uint24 length`);
}

/**
 * Split one handshake message into DTLS fragments (header + fragment), each carrying at
 * most `maxFragmentBody` bytes of body. A message with an empty body is one fragment.
 */
export function fragmentMessage(msgType: number, messageSeq: number, body: Uint8Array, maxFragmentBody: number): Uint8Array[] {
  checkMessage(msgType, messageSeq, body);
  if (!Number.isInteger(maxFragmentBody) || maxFragmentBody < 1) throw internalError(`bad maximum fragment size ${maxFragmentBody}`);
  const out: Uint8Array[] = [];
  let offset = 0;
  do {
    const n = Math.min(maxFragmentBody, body.length - offset);
    const frag = new Uint8Array(DTLS_HANDSHAKE_HEADER_LENGTH + n);
    header(frag, 0, msgType, body.length, messageSeq, offset, n);
    frag.set(body.subarray(offset, offset + n), DTLS_HANDSHAKE_HEADER_LENGTH);
    out.push(frag);
    offset += n;
  } while (offset < body.length);
  return out;
}

/**
 * The bytes the handshake hash covers for a DTLS message (RFC 6347 4.2.6): the 12-byte
 * header with fragment_offset 0 and fragment_length = length, then the body.
 * (The initial ClientHello and HelloVerifyRequest of a cookie exchange are not hashed: 4.2.1.)
 */
export function transcriptBytes(msgType: number, messageSeq: number, body: Uint8Array): Uint8Array {
  checkMessage(msgType, messageSeq, body);
  const out = new Uint8Array(DTLS_HANDSHAKE_HEADER_LENGTH + body.length);
  header(out, 0, msgType, body.length, messageSeq, 0, body.length);
  out.set(body, DTLS_HANDSHAKE_HEADER_LENGTH);
  return out;
}

/**
 * A message in the DTLS 1.2 transcript framing (`transcriptBytes`) as TLS frames it: the
 * header without message_seq, fragment_offset and fragment_length. DTLS 1.3 hashes this
 * form (RFC 9147 5.2).
 */
export function dtlsToTlsFraming(message: Uint8Array): Uint8Array {
  if (message.length < DTLS_HANDSHAKE_HEADER_LENGTH) throw internalError('not a DTLS handshake message');
  const out = new Uint8Array(message.length - DTLS_HANDSHAKE_HEADER_LENGTH + 4);
  out.set(message.subarray(0, 4));
  out.set(message.subarray(DTLS_HANDSHAKE_HEADER_LENGTH), 4);
  return out;
}

/** The TLS form of a message (type, uint24 length, body): what the statem core's `receive` reads. */
export function tlsHandshakeBytes(msgType: number, body: Uint8Array): Uint8Array {
  checkMessage(msgType, 0, body);
  const out = new Uint8Array(4 + body.length);
  out[0] = msgType;
  out[1] = (body.length >>> 16) & 0xff;
  out[2] = (body.length >>> 8) & 0xff;
  out[3] = body.length & 0xff;
  out.set(body, 4);
  return out;
}

/** One parsed handshake fragment; `fragment` is a view into the record payload. */
export interface HandshakeFragment {
  msgType: number;
  length: number;
  messageSeq: number;
  fragmentOffset: number;
  fragmentLength: number;
  fragment: Uint8Array;
}

/**
 * Parse the handshake fragments packed back to back in one record payload. Parsing stops
 * at the first header or fragment that does not fit what is left; `trailing` is the
 * number of bytes left unparsed (0 for a well-formed payload). Header fields are not
 * validated against each other here.
 */
export function splitFragments(payload: Uint8Array): { fragments: HandshakeFragment[]; trailing: number } {
  const fragments: HandshakeFragment[] = [];
  let at = 0;
  while (payload.length - at >= DTLS_HANDSHAKE_HEADER_LENGTH) {
    const p = payload;
    const fragmentLength = (p[at + 9] << 16) | (p[at + 10] << 8) | p[at + 11];
    const end = at + DTLS_HANDSHAKE_HEADER_LENGTH + fragmentLength;
    if (end > payload.length) break;
    fragments.push({
      msgType: p[at],
      length: (p[at + 1] << 16) | (p[at + 2] << 8) | p[at + 3],
      messageSeq: (p[at + 4] << 8) | p[at + 5],
      fragmentOffset: (p[at + 6] << 16) | (p[at + 7] << 8) | p[at + 8],
      fragmentLength,
      fragment: payload.subarray(at + DTLS_HANDSHAKE_HEADER_LENGTH, end),
    });
    at = end;
  }
  return { fragments, trailing: payload.length - at };
}

// ---- reassembly ---------------------------------------------------------------------------

export interface ReassemblerLimits extends HandshakeLimits {
  /**
   * Bound on the memory held for incomplete and not-yet-deliverable messages: each message
   * being reassembled costs its declared length plus a bitmap of length/8 bytes, reserved
   * at its first fragment. Default 512 KiB (or more, if the per-type limits need it).
   */
  maxBufferedBytes: number;
  /**
   * How many message_seq values are buffered, counting the next expected one: fragments
   * for seq >= nextSeq + maxMessagesAhead are dropped. Default 8.
   */
  maxMessagesAhead: number;
}

export const defaultReassemblerLimits: ReassemblerLimits = {
  ...defaultLimits,
  maxBufferedBytes: 512 * 1024,
  maxMessagesAhead: 8,
};

/** Bytes reserved for a message of `length` bytes: the body plus its received-bytes bitmap. */
export function reassemblyCost(length: number): number {
  return length + Math.ceil(length / 8);
}

/** A complete handshake message, delivered in message_seq order. */
export interface DtlsHandshakeMessage {
  type: number;
  seq: number;
  body: Uint8Array;
}

/** Why fragments were dropped (counters, cumulative over the reassembler's life). */
export interface ReassemblerStats {
  /** Header or fragment did not fit the record payload (the rest of the record is dropped, counted once). */
  malformed: number;
  /** fragment_offset + fragment_length > length. */
  lying: number;
  /** msg_type or length disagrees with the first fragment seen for that message_seq. */
  mismatch: number;
  /** message_seq at or beyond nextSeq + maxMessagesAhead. */
  outOfWindow: number;
  /** The byte budget could not take a new message. */
  overBudget: number;
  /** Zero-length fragment of a non-empty message (ignored, not an error). */
  empty: number;
  /** Fragments for seq < nextSeq (already delivered: the peer is retransmitting). */
  retransmitted: number;
  /** Pending future messages thrown out to make room for an earlier one. */
  evicted: number;
}

export interface ReassemblyResult {
  /** Messages that became complete, in message_seq order, starting at the old nextSeq. */
  messages: DtlsHandshakeMessage[];
  /**
   * Some fragment was of a message already delivered (seq < nextSeq): the peer did not
   * get our last flight and is retransmitting its own; RFC 6347 4.2.4 says retransmit ours.
   * (Rate-limit that: once per received flight or per timer period, not per fragment.)
   */
  retransmission: boolean;
  /** Fragments dropped as invalid, out of window or over budget (zero-length ones not counted). */
  dropped: number;
}

interface Pending {
  type: number;
  length: number;
  body: Uint8Array;
  /** One bit per body byte: received yet? */
  bitmap: Uint8Array;
  received: number;
  cost: number;
}

/**
 * Reassembles DTLS handshake fragments into messages, delivered exactly once each, in
 * message_seq order. Choices:
 *  - the first fragment seen for a message_seq fixes its msg_type and length; later
 *    fragments that disagree are dropped (not fatal: see the module comment);
 *  - overlapping bytes: the first copy received wins (a genuine retransmission carries the
 *    same bytes; any disagreement is caught by Finished over the transcript);
 *  - byte ranges are tracked with a bitmap, so memory per message is fixed at its first
 *    fragment whatever the fragmentation pattern (no interval list to grow);
 *  - when the byte budget cannot take a new message, pending messages with a higher
 *    message_seq are evicted (furthest first) to make room; if that is not enough, the
 *    fragment is dropped. So the next expected message can always be buffered;
 *  - message_seq does not wrap (a handshake uses a handful of values).
 */
export class HandshakeReassembler {
  readonly limits: Readonly<ReassemblerLimits>;
  private next: number;
  private readonly pending = new Map<number, Pending>();
  private buffered = 0;
  readonly stats: ReassemblerStats = { malformed: 0, lying: 0, mismatch: 0, outOfWindow: 0, overBudget: 0, empty: 0, retransmitted: 0, evicted: 0 };

  constructor(limits: Partial<ReassemblerLimits> = {}, nextSeq = 0) {
    const base = { ...defaultLimits, maxMessagesAhead: defaultReassemblerLimits.maxMessagesAhead, ...stripUndefined(limits) };
    const need = reassemblyCost(Math.max(base.maxMessage, base.maxCertificate, base.maxClientHello));
    const maxBufferedBytes = limits.maxBufferedBytes ?? Math.max(defaultReassemblerLimits.maxBufferedBytes, need);
    const l: ReassemblerLimits = { ...base, maxBufferedBytes };
    for (const [k, v] of Object.entries(l)) {
      if (!Number.isInteger(v) || v < 0) throw invalidOption(`reassembler limit ${k} must be a non-negative integer (got ${v})`);
    }
    if (l.maxMessagesAhead < 1) throw invalidOption('maxMessagesAhead must be at least 1');
    if (l.maxBufferedBytes < need) {
      throw invalidOption(`maxBufferedBytes ${l.maxBufferedBytes} cannot hold a message at the per-type limit (needs ${need})`);
    }
    this.limits = Object.freeze(l);
    this.next = checkSeq(nextSeq);
  }

  /** The message_seq of the next message to be delivered. */
  get nextSeq(): number {
    return this.next;
  }

  /** Bytes reserved for messages being reassembled (always <= limits.maxBufferedBytes). */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** How many message_seq values have fragments buffered. */
  get pendingMessages(): number {
    return this.pending.size;
  }

  /**
   * Forget everything buffered and expect `nextSeq` next. For the cookie exchange (RFC 6347
   * 4.2.1, 4.2.2): message_seq is not reset by HelloVerifyRequest. The client sends
   * ClientHello seq 0, gets HVR seq 0, sends ClientHello seq 1 and expects ServerHello seq 1
   * (its reassembler already expects 1 after delivering HVR: no reset needed). A stateless
   * server that verified the cookie of a ClientHello with seq n creates its connection with
   * `reset(n + 1)` (or `new HandshakeReassembler(limits, n + 1)`) and numbers its own first
   * message (ServerHello) n as well. A server that kept state through HVR needs no reset.
   */
  reset(nextSeq: number): void {
    this.pending.clear();
    this.buffered = 0;
    this.next = checkSeq(nextSeq);
  }

  /** One handshake fragment (header + fragment, nothing after it). */
  add(fragmentBytes: Uint8Array): ReassemblyResult {
    const result: ReassemblyResult = { messages: [], retransmission: false, dropped: 0 };
    const { fragments, trailing } = splitFragments(fragmentBytes);
    if (fragments.length !== 1 || trailing !== 0) {
      this.stats.malformed++;
      result.dropped++;
      return result;
    }
    this.accept(fragments[0], result);
    return result;
  }

  /** Whether every fragment of a handshake record's payload belongs to a message already delivered (a retransmission, nothing new). */
  onlyDelivered(recordPayload: Uint8Array): boolean {
    const { fragments, trailing } = splitFragments(recordPayload);
    return trailing === 0 && fragments.every((f) => f.messageSeq < this.next);
  }

  /** One fragment already parsed (splitFragments'). */
  addFragment(fragment: HandshakeFragment): ReassemblyResult {
    const result: ReassemblyResult = { messages: [], retransmission: false, dropped: 0 };
    this.accept(fragment, result);
    return result;
  }

  /** The payload of one handshake record: any number of fragments back to back. */
  addRecord(recordPayload: Uint8Array): ReassemblyResult {
    const result: ReassemblyResult = { messages: [], retransmission: false, dropped: 0 };
    const { fragments, trailing } = splitFragments(recordPayload);
    for (const f of fragments) this.accept(f, result);
    if (trailing !== 0) {
      this.stats.malformed++;
      result.dropped++;
    }
    return result;
  }

  private accept(f: HandshakeFragment, result: ReassemblyResult): void {
    const { msgType: type, length, messageSeq: seq, fragmentOffset: offset, fragmentLength: n } = f;
    if (offset + n > length) {
      this.stats.lying++;
      result.dropped++;
      return;
    }
    if (n === 0 && length > 0) {
      this.stats.empty++;
      return;
    }
    if (seq < this.next) {
      this.stats.retransmitted++;
      result.retransmission = true;
      return;
    }
    if (seq - this.next >= this.limits.maxMessagesAhead) {
      this.stats.outOfWindow++;
      result.dropped++;
      return;
    }
    // As READ_HEADER on the TLS path: the length is bounded before anything is buffered.
    checkHandshakeLength(type, length, this.limits);
    let msg = this.pending.get(seq);
    if (msg === undefined) {
      const cost = reassemblyCost(length);
      if (!this.makeRoom(seq, cost)) {
        this.stats.overBudget++;
        result.dropped++;
        return;
      }
      msg = { type, length, body: new Uint8Array(length), bitmap: new Uint8Array(Math.ceil(length / 8)), received: 0, cost };
      this.pending.set(seq, msg);
      this.buffered += cost;
    } else if (msg.type !== type || msg.length !== length) {
      this.stats.mismatch++;
      result.dropped++;
      return;
    }
    if (msg.received < msg.length) copyNew(msg, offset, f.fragment);
    if (seq === this.next && msg.received === msg.length) this.deliver(result);
  }

  /** Free `cost` bytes of budget for `seq`, evicting pending messages further ahead if needed. */
  private makeRoom(seq: number, cost: number): boolean {
    if (this.buffered + cost <= this.limits.maxBufferedBytes) return true;
    let freeable = 0;
    for (const [s, m] of this.pending) if (s > seq) freeable += m.cost;
    if (this.buffered - freeable + cost > this.limits.maxBufferedBytes) return false;
    const ahead = [...this.pending].filter(([s]) => s > seq).sort(([a], [b]) => b - a);
    for (const [s, m] of ahead) {
      if (this.buffered + cost <= this.limits.maxBufferedBytes) break;
      this.buffered -= m.cost;
      this.pending.delete(s);
      this.stats.evicted++;
    }
    return true;
  }

  private deliver(result: ReassemblyResult): void {
    for (;;) {
      const msg = this.pending.get(this.next);
      if (msg === undefined || msg.received !== msg.length) return;
      this.pending.delete(this.next);
      this.buffered -= msg.cost;
      result.messages.push({ type: msg.type, seq: this.next, body: msg.body });
      this.next++;
    }
  }
}

/** Copy the bytes of `fragment` (at `offset`) that were not received yet; first copy wins. */
function copyNew(msg: Pending, offset: number, fragment: Uint8Array): void {
  const { bitmap, body } = msg;
  const end = offset + fragment.length;
  let i = offset;
  while (i < end) {
    // Skip whole received bytes of the bitmap quickly.
    if ((i & 7) === 0 && end - i >= 8 && bitmap[i >>> 3] === 0xff) {
      i += 8;
      continue;
    }
    if (bitmap[i >>> 3] & (1 << (i & 7))) {
      i++;
      continue;
    }
    // A run of missing bytes: [i, j).
    let j = i;
    while (j < end && !(bitmap[j >>> 3] & (1 << (j & 7)))) {
      if ((j & 7) === 0 && end - j >= 8 && bitmap[j >>> 3] === 0) {
        bitmap[j >>> 3] = 0xff;
        j += 8;
      } else {
        bitmap[j >>> 3] |= 1 << (j & 7);
        j++;
      }
    }
    body.set(fragment.subarray(i - offset, j - offset), i);
    msg.received += j - i;
    i = j;
  }
}

function checkSeq(seq: number): number {
  if (!Number.isInteger(seq) || seq < 0 || seq > MAX_U16 + 1) throw internalError(`bad message_seq ${seq}`);
  return seq;
}

function invalidOption(message: string): TLSError {
  return new TLSError('internal_error', message, { code: 'ERR_TLS_INVALID_OPTION' });
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

// ---- retransmission timer -----------------------------------------------------------------

export interface RetransmitTimerOptions {
  /** First timeout, ms. Default 1000 (RFC 6347 4.2.4.1). */
  initialMs?: number;
  /** Ceiling of the doubling, ms. Default 60 000. */
  maxMs?: number;
  /** Retransmissions of one flight before giving up. Default 6 (about two minutes with the defaults). */
  maxRetransmissions?: number;
}

/**
 * The flight timer of RFC 6347 4.2.4.1, sans-IO. Use:
 *   send a flight → `start(now)`; on every tick/wakeup, `if (timer.expired(now)) { timer.backoff(now); resend }`;
 *   the peer's next flight arrives (ours is complete) → `stop()`.
 * `backoff` throws TLSError (ERR_TLS_HANDSHAKE_TIMEOUT) once the flight has been
 * retransmitted `maxRetransmissions` times and has timed out again: the peer is gone.
 */
export class RetransmitTimer {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly maxRetransmissions: number;
  private current: number;
  private deadline: number | undefined;
  private count = 0;

  constructor(options: RetransmitTimerOptions = {}) {
    this.initialMs = options.initialMs ?? 1000;
    this.maxMs = options.maxMs ?? 60_000;
    this.maxRetransmissions = options.maxRetransmissions ?? 6;
    if (!(this.initialMs > 0) || !(this.maxMs >= this.initialMs)) throw invalidOption(`bad retransmission timer bounds ${this.initialMs}..${this.maxMs}`);
    if (!Number.isInteger(this.maxRetransmissions) || this.maxRetransmissions < 0) throw invalidOption(`bad maxRetransmissions ${this.maxRetransmissions}`);
    this.current = this.initialMs;
  }

  /** A new flight was sent: arm at now + the current timeout; the retransmission count starts over. */
  start(now: number): void {
    this.count = 0;
    this.deadline = now + this.current;
  }

  /** The flight is complete (the peer's answer arrived): disarm, back to the initial timeout. */
  stop(): void {
    this.deadline = undefined;
    this.count = 0;
    this.current = this.initialMs;
  }

  /** When to wake up (absolute ms), or undefined when not armed. */
  nextTimeout(): number | undefined {
    return this.deadline;
  }

  expired(now: number): boolean {
    return this.deadline !== undefined && now >= this.deadline;
  }

  /**
   * The timer fired and the caller is about to retransmit: double the timeout (up to
   * maxMs) and re-arm from `now`. Returns the new deadline. Throws (and disarms) when the
   * retransmissions are used up.
   */
  backoff(now: number): number {
    if (this.count >= this.maxRetransmissions) {
      this.deadline = undefined;
      // Giving up is no fault of ours to report as internal_error: user_canceled (a warning), then silence.
      throw new TLSError('user_canceled', `DTLS handshake timed out: no answer after ${this.count} retransmissions`, {
        code: 'ERR_TLS_HANDSHAKE_TIMEOUT',
      });
    }
    this.count++;
    this.current = Math.min(this.current * 2, this.maxMs);
    this.deadline = now + this.current;
    return this.deadline;
  }

  get armed(): boolean {
    return this.deadline !== undefined;
  }
  /** The timeout that applies to the current wait, ms. */
  get timeoutMs(): number {
    return this.current;
  }
  /** Retransmissions of the current flight so far. */
  get retransmissions(): number {
    return this.count;
  }
}

// ---- flights ------------------------------------------------------------------------------

/** One record of a flight, before protection. */
export interface FlightRecord {
  epoch: number;
  contentType: number;
  payload: Uint8Array;
}

export interface FlightOptions {
  /** Path MTU, bytes of UDP payload. Default 1200. */
  mtu?: number;
  /**
   * Bytes a record adds around its payload (13-byte header + AEAD expansion), per epoch or
   * one number for all. Default 37 (header + 8-byte explicit nonce + 16-byte tag), which is
   * enough for every suite tsls offers and over-estimates epoch 0 by 24 bytes.
   */
  overhead?: number | ((epoch: number) => number);
}

type FlightItem =
  | { kind: 'handshake'; epoch: number; msgType: number; messageSeq: number; body: Uint8Array }
  | { kind: 'record'; epoch: number; contentType: number; payload: Uint8Array };

/**
 * The last flight we sent, so it can be retransmitted: handshake messages are kept whole
 * and fragmented for the current MTU (`records`); `setMtu` re-fragments (RFC 6347 4.1.1.1:
 * back off the PMTU after repeated retransmissions). Each retransmission goes through
 * `datagrams(protect)` again, so the record layer gives every record a new record sequence
 * number while message_seq stays the same.
 */
export class Flight {
  private items: FlightItem[] = [];
  private cache: FlightRecord[] | undefined;
  private mtuValue: number;
  private readonly overheadOf: (epoch: number) => number;

  constructor(options: FlightOptions = {}) {
    this.mtuValue = checkMtu(options.mtu ?? DTLS_DEFAULT_MTU);
    const o = options.overhead ?? DTLS_DEFAULT_RECORD_OVERHEAD;
    this.overheadOf = typeof o === 'number' ? () => o : o;
  }

  get mtu(): number {
    return this.mtuValue;
  }

  /** Change the path MTU; handshake messages are re-fragmented for it. */
  setMtu(mtu: number): void {
    this.mtuValue = checkMtu(mtu);
    this.cache = undefined;
  }

  /** Largest fragment body that fits one record in one datagram at `epoch`. */
  maxFragmentBody(epoch: number): number {
    const n = this.mtuValue - this.overhead(epoch) - DTLS_HANDSHAKE_HEADER_LENGTH;
    if (n < 1) throw internalError(`MTU ${this.mtuValue} leaves no room for a handshake fragment at epoch ${epoch}`);
    return n;
  }

  addHandshake(epoch: number, msgType: number, messageSeq: number, body: Uint8Array): this {
    checkMessage(msgType, messageSeq, body);
    this.items.push({ kind: 'handshake', epoch, msgType, messageSeq, body });
    this.cache = undefined;
    return this;
  }

  addChangeCipherSpec(epoch: number): this {
    return this.addRecord(epoch, ContentType.change_cipher_spec, new Uint8Array([1]));
  }

  /** A record sent as it is (not fragmented): it must fit the MTU with its overhead. */
  addRecord(epoch: number, contentType: number, payload: Uint8Array): this {
    if (payload.length + this.overhead(epoch) > this.mtuValue) throw internalError(`a record of ${payload.length} bytes does not fit MTU ${this.mtuValue}`);
    this.items.push({ kind: 'record', epoch, contentType, payload });
    this.cache = undefined;
    return this;
  }

  /** Forget the flight (a new one is about to be built). */
  clear(): void {
    this.items = [];
    this.cache = undefined;
  }

  get empty(): boolean {
    return this.items.length === 0;
  }

  /** The flight as records, fragmented for the current MTU, in sending order. */
  get records(): readonly FlightRecord[] {
    if (this.cache === undefined) {
      const out: FlightRecord[] = [];
      for (const item of this.items) {
        if (item.kind === 'record') {
          out.push({ epoch: item.epoch, contentType: item.contentType, payload: item.payload });
          continue;
        }
        for (const payload of fragmentMessage(item.msgType, item.messageSeq, item.body, this.maxFragmentBody(item.epoch))) {
          out.push({ epoch: item.epoch, contentType: ContentType.handshake, payload });
        }
      }
      this.cache = out;
    }
    return this.cache;
  }

  /**
   * Protect every record (the callback seals it and returns the wire record, header
   * included, with a fresh record sequence number) and pack the results into datagrams of
   * at most `mtu` bytes. Call again to retransmit.
   */
  datagrams(protect: (record: FlightRecord) => Uint8Array): Uint8Array[] {
    return packDatagrams(this.records.map(protect), this.mtuValue);
  }

  /** `datagrams` for the records `keep` selects by index (DTLS 1.3 resends only what was not acknowledged, RFC 9147 7). */
  datagramsWhere(keep: (index: number) => boolean, protect: (record: FlightRecord, index: number) => Uint8Array): Uint8Array[] {
    const sealed: Uint8Array[] = [];
    this.records.forEach((record, index) => {
      if (keep(index)) sealed.push(protect(record, index));
    });
    return packDatagrams(sealed, this.mtuValue);
  }

  /** The largest record payload one datagram carries at `epoch`. */
  payloadRoom(epoch: number): number {
    return this.mtuValue - this.overhead(epoch);
  }

  private overhead(epoch: number): number {
    const o = this.overheadOf(epoch);
    if (!Number.isInteger(o) || o < 0) throw internalError(`bad record overhead ${o} for epoch ${epoch}`);
    return o;
  }
}

/**
 * Pack wire records into datagrams of at most `mtu` bytes, in order, several to a datagram
 * when they fit (records are never split: a DTLS record must sit in one datagram). A record
 * larger than the MTU is a sizing bug upstream (overhead too small) and throws internal_error.
 */
export function packDatagrams(records: readonly Uint8Array[], mtu: number): Uint8Array[] {
  checkMtu(mtu);
  const out: Uint8Array[] = [];
  let group: Uint8Array[] = [];
  let size = 0;
  const flush = () => {
    if (group.length === 0) return;
    const d = new Uint8Array(size);
    let at = 0;
    for (const r of group) {
      d.set(r, at);
      at += r.length;
    }
    out.push(d);
    group = [];
    size = 0;
  };
  for (const r of records) {
    if (r.length > mtu) throw new TLSError('internal_error', `a DTLS record of ${r.length} bytes exceeds the MTU of ${mtu}`, { code: 'ERR_TLS_RECORD_EXCEEDS_MTU' });
    if (size + r.length > mtu) flush();
    group.push(r);
    size += r.length;
  }
  flush();
  return out;
}

function checkMtu(mtu: number): number {
  // 1 byte of fragment body must fit: header 13 + 12 + 1 at the very least.
  if (!Number.isInteger(mtu) || mtu < DTLS_RECORD_HEADER_LENGTH + DTLS_HANDSHAKE_HEADER_LENGTH + 1 || mtu > 65535) {
    throw internalError(`bad MTU ${mtu}`);
  }
  return mtu;
}
