/**
 * DtlsConnection: the sans-IO face of DTLS 1.2 (RFC 6347) and DTLS 1.3 (RFC 9147). The same
 * statem core and the same TLS 1.2 / TLS 1.3 transitions as `Connection`; what differs is the
 * transport around them: datagrams in and out, handshake messages cut into fragments and
 * reassembled, flights retransmitted on a timer, epochs instead of a key switch on a byte
 * stream. DTLS 1.3 adds ACKs (RFC 9147 7): a flight is complete once acknowledged (or
 * answered), a retransmission resends only what was not acknowledged, and a KeyUpdate's
 * new keys are used only once it is acknowledged (RFC 9147 8).
 *
 *   feedDatagram(d)  → takeDatagrams()          (what to send now)
 *   nextTimeout()    → handleTimeout(now)       (retransmission, sans-IO: the caller keeps time)
 *   send(data)       → one record of application data (datagram semantics)
 *
 * Lifecycle, alerts, failing into DEAD and the negotiated-parameter getters are
 * ConnectionBase's, shared with Connection; this file is the datagram side.
 */
import { resolveCommon, type ClientOptions, type ServerOptions } from './config.js';
import { nobleProvider } from './crypto/noble.js';
import { ConnectionBase, type EarlyDataMark, type Endpoint, type EndpointEvents } from './connection-base.js';
import { VARIANTS } from './protocol-variant.js';
import { ACK_CONTENT_TYPE, ackCapacity, decodeAck, encodeAck } from './record/dtls13-ack.js';
import { Dtls13Protection, Dtls13RecordLayer, EARLY_DATA_EPOCH, type RecordNumber } from './record/dtls13-record-layer.js';
import { FlightAcks } from './statem/dtls13-flight-acks.js';
import { resumeStatelessRetry, type StatelessRetry } from './dtls13-stateless-retry.js';
import { ESTABLISHED } from './statem/states.js';
import { AlertDescription, AlertLevel, TLSError, unexpectedMessage } from './errors.js';
import { ContentType, HandshakeType, ProtocolVersion, type CipherSuiteInfo } from './messages/constants.js';
import { decodeSession } from './statem/session.js';
import { ServerHandshake } from './statem/context.js';
import type { HandshakeMessage } from './messages/handshake.js';
import { DtlsAeadProtection, DtlsRecordLayer, type DtlsOpened } from './record/dtls-record-layer.js';
import { aeadLimits } from './record/aead-limits.js';
import { cidOverhead, type ConnectionIds } from './record/dtls-cid.js';
import { PostHandshakeBudget } from './post-handshake-budget.js';
import { Flight, HandshakeReassembler, RetransmitTimer, tlsHandshakeBytes, transcriptBytes } from './statem/dtls-flight.js';

export interface DtlsOptions {
  /** Path MTU in bytes of UDP payload (default 1200). */
  mtu?: number;
  /** First retransmission timeout in ms (default 1000; doubles up to 60 s). */
  retransmitMs?: number;
  /** Retransmissions before giving up on a silent peer (default 6). */
  maxRetransmissions?: number;
}

export type DtlsClientOptions = ClientOptions & DtlsOptions;
export type DtlsServerOptions = ServerOptions & DtlsOptions;

/**
 * Where a server association picks up after the stateless cookie exchange (what
 * DtlsCookieGuard's accept verdict carries): the ClientHello's message_seq, which our
 * ServerHello repeats (RFC 6347 4.2.2), and its record sequence number, from which our
 * epoch-0 records continue so they never repeat the HelloVerifyRequest's (a peer would
 * take them for replays).
 */
export interface DtlsServerStart {
  clientHelloSeq: number;
  recordSeq: number;
  /** The CID this association asks the client to use (RFC 9146), when the server hands out one per association. */
  connectionId?: Uint8Array;
  /** DTLS 1.3: the stateless HelloRetryRequest this association's transcript starts with (RFC 9147 5.1). */
  helloRetry?: StatelessRetry;
  /** The ClientHello's body, when it came in fragments the cookie guard put together (the association never saw the first ones). */
  clientHello?: Uint8Array;
}

/** A record as `--trace` shows it: content type, record number, and what DTLS 1.3 adds (retransmission, the records an ACK names). */
export interface DtlsRecordEvent {
  contentType: number;
  epoch: number;
  seq: number;
  /** Bytes of the record's content. */
  length: number;
  /** Sent again: the same handshake fragment under a new record number. */
  retransmission?: boolean;
  /** An ACK's record numbers (RFC 9147 7). */
  acknowledges?: RecordNumber[];
}

export interface DtlsConnectionEvents extends EndpointEvents {
  /** One record of application data; a server marks DTLS 1.3 0-RTT early data (it may be a replay). */
  data: [Uint8Array, EarlyDataMark?];
  /** A record sent or received (only built when someone listens): the CLI's --trace. */
  record: ['recv' | 'send', DtlsRecordEvent];
}

/** The first DTLS 1.3 epoch keyed by a traffic secret is 2, the handshake's (1 is 0-RTT's, RFC 9147 6.1). */
function nextEpoch13(epoch: number): number {
  return epoch === 0 ? 2 : epoch + 1;
}

/** The protocol version of a session given as an option, if it can be read (a bad one fails later, in the handshake). */
function sessionVersion(session: ClientOptions['session']): number | undefined {
  try {
    return (session instanceof Uint8Array ? decodeSession(session) : session)?.state.version;
  } catch {
    return undefined;
  }
}

/** ACKs name at most this many records (the newest received). */
const MAX_ACKED_RECORDS = 64;

export class DtlsConnection extends ConnectionBase<DtlsConnectionEvents> {
  /** DTLS 1.2's record layer, or, when DTLS 1.3 may be spoken, the layer that reads both. */
  private readonly records: DtlsRecordLayer | Dtls13RecordLayer;
  private readonly reassembler: HandshakeReassembler;
  private readonly timer: RetransmitTimer;
  private readonly flight: Flight;
  private readonly now: () => number;
  private out: Uint8Array[] = [];
  /** message_seq of our next handshake message, and of the message being processed. */
  private sendSeq = 0;
  private recvSeq = 0;
  /** The datagram being processed carried a retransmission of an earlier peer message. */
  private peerResent = false;
  /** Our flight was answered: the next message we write starts a new flight. */
  private flightAnswered = false;
  private flightUnsent = false;
  /** Made when the first post-handshake message (a renegotiation attempt) arrives. */
  private postHandshake: PostHandshakeBudget | undefined = undefined;
  /** DTLS 1.3: which records of our flight the peer acknowledged. */
  private readonly acks = new FlightAcks();
  /** DTLS 1.3: handshake records received that our next ACK names. */
  private toAck: RecordNumber[] = [];
  /** When our flight last went out in answer to the peer (DTLS 1.3 rate-limits answers to resent flights). */
  private flightSentAt = -Infinity;
  /** Our flight is of post-handshake messages (tickets, KeyUpdate), which answer no flight of the peer's. */
  private postHandshakeFlight = false;
  /** DTLS 1.3: when to acknowledge a partial flight whose rest has not come. */
  private ackDeadline: number | undefined = undefined;
  /** A flight of ours started while the current datagram was processed. */
  private newFlight = false;
  /** A ClientHello the cookie guard reassembled, processed before the first datagram. */
  private guardedHello: Uint8Array | undefined;
  /** DTLS 1.3: the sending keys of our KeyUpdate, used once it is acknowledged (RFC 9147 8). */
  private pendingWrite: { epoch: number; protection: Dtls13Protection } | undefined = undefined;
  /** DTLS 1.3 0-RTT (epoch 1): bytes of early data still allowed, the client's to send, the server's to take. */
  private earlyRoom = 0;
  /**
   * DTLS 1.3: a keyUpdate() asked for while ours was still unacknowledged, sent once the ACK
   * comes (true: it asks the peer to update too). Later calls in the meantime join it.
   */
  private queuedUpdate: boolean | undefined = undefined;

  constructor(side: 'client', options: DtlsClientOptions);
  constructor(side: 'server', options: DtlsServerOptions, start?: DtlsServerStart);
  constructor(...[side, options, start]: [side: 'client', options: DtlsClientOptions, start?: undefined] | [side: 'server', options: DtlsServerOptions, start?: DtlsServerStart]) {
    const endpoint: Endpoint = side === 'client' ? { side, options } : { side, options };
    // DTLS 1.3, and DTLS 1.2 with a peer that has only that, unless minVersion/maxVersion narrow it
    // (the defaults of every connection, config.ts); nothing below 1.2. A DTLS 1.2 session resumes
    // only over DTLS 1.2: a client offering one offers no more (a DTLS 1.3 server would answer with a full handshake).
    const tls12Session = endpoint.side === 'client' && options.minVersion !== 'TLSv1.3' && sessionVersion(endpoint.options.session) === ProtocolVersion.TLS1_2;
    const common = resolveCommon(tls12Session ? { ...options, maxVersion: 'TLSv1.2' } : options, nobleProvider);
    super(endpoint, common, 'datagram');
    this.records = common.versions.includes('TLSv1.3') ? new Dtls13RecordLayer() : new DtlsRecordLayer();
    this.now = common.now;
    this.records.plaintextVersion = VARIANTS.dtls12.wire;
    if (start?.connectionId) this.hs.connectionId = start.connectionId;
    // Only a server is given a start (the constructor's signature).
    if (start?.helloRetry && this.hs instanceof ServerHandshake) resumeStatelessRetry(this.hs, start.helloRetry);
    this.guardedHello = start?.clientHello;
    const firstSeq = start?.clientHelloSeq ?? 0;
    if (start) this.records.advanceWriteSequence(start.recordSeq);
    // After a stateless HelloVerifyRequest the server answers ClientHello n with ServerHello n (RFC 6347 4.2.2).
    this.sendSeq = firstSeq;
    this.reassembler = new HandshakeReassembler(common.limits, firstSeq);
    this.timer = new RetransmitTimer({ initialMs: options.retransmitMs ?? 1000, maxRetransmissions: options.maxRetransmissions ?? 6 });
    this.flight = new Flight({ mtu: options.mtu ?? 1200, overhead: (epoch) => (epoch === 0 ? 13 : 37 + cidOverhead(this.hs.negotiated.connectionIds)) });
  }

  static client(options: DtlsClientOptions = {}): DtlsConnection {
    return new DtlsConnection('client', options);
  }
  static server(options: DtlsServerOptions, start?: DtlsServerStart): DtlsConnection {
    return new DtlsConnection('server', options, start);
  }

  // ---- external events ------------------------------------------------------------------

  /** One datagram from the peer. Bad records are dropped silently (RFC 6347 4.1.2.7); protocol errors end in DEAD. */
  feedDatagram(datagram: Uint8Array): void {
    this.start();
    if (this.lifecycle === 'DEAD' || this.lifecycle === 'CLOSED') return;
    this.guard(() => {
      const hello = this.guardedHello;
      if (hello) {
        this.guardedHello = undefined;
        this.recvSeq = this.reassembler.nextSeq;
        this.reassembler.reset(this.recvSeq + 1);
        this.statem.deliver(tlsHandshakeBytes(HandshakeType.client_hello, hello));
      }
      // From the hellos on the parser must know our CID's length: the peer's first tls12_cid record
      // (its Finished) may arrive with its ChangeCipherSpec, before our read keys are installed.
      this.syncReceiveCid();
      const queue = this.records.open(datagram);
      if (this.records.integrityLimitReached) {
        throw new TLSError('bad_record_mac', 'too many forged records under one key (AEAD integrity limit, RFC 9147 4.5.3)', { code: 'ERR_TLS_AEAD_LIMIT' });
      }
      this.peerResent = false;
      this.newFlight = false;
      while (queue.length > 0) {
        const epoch = this.records.readEpoch;
        this.dispatch(queue.shift()!);
        // A Finished that overtook its ChangeCipherSpec (DTLS 1.3: the flight that came with ServerHello) waited for the new epoch.
        if (this.records.readEpoch !== epoch) {
          this.syncReceiveCid();
          queue.unshift(...this.records.drainBuffered());
        }
      }
      // The peer resent a flight we already answered: our answer was lost, send it once more.
      // (Not when our answer is still to go out: the flush below sends it; and a DTLS 1.3
      // ticket or KeyUpdate answers nothing: what the peer resent gets its ACK instead.)
      if (this.peerResent && !this.flightAnswered && !this.flightUnsent && this.resendOnPeerResend()) this.retransmit();
      this.ackReceived();
    });
  }

  /**
   * Tell the record layer our CID: its length to parse records (before the hellos agree on it,
   * a DTLS 1.3 record may carry the one we offered), and, once agreed, the CID DTLS 1.3 records must carry.
   */
  private syncReceiveCid(): void {
    const receive = this.hs.negotiated.connectionIds?.receive;
    if (!(this.records instanceof Dtls13RecordLayer)) {
      this.records.receiveCidLength = receive?.length ?? 0;
      return;
    }
    this.records.receiveCidLength = receive?.length ?? this.ownConnectionId?.length ?? 0;
    this.records.receiveCid = receive?.length ? receive : undefined;
  }

  /** Datagrams to send now. */
  takeDatagrams(): Uint8Array[] {
    this.start();
    this.guard(() => this.flushFlight());
    const out = this.out;
    this.out = [];
    return out;
  }

  /** When handleTimeout should next be called (ms since the epoch), if at all. */
  nextTimeout(): number | undefined {
    const flight = this.timer.nextTimeout();
    const ack = this.ackDeadline;
    return flight === undefined ? ack : ack === undefined ? flight : Math.min(flight, ack);
  }

  /** The clock moved: acknowledge a partial flight whose rest did not come (DTLS 1.3), retransmit the last flight if its timer ran out. */
  handleTimeout(now = this.now()): void {
    if (this.ackDeadline !== undefined && now >= this.ackDeadline && this.lifecycle !== 'DEAD') this.guard(() => this.sendAck());
    if (!this.timer.expired(now) || this.lifecycle === 'DEAD') return;
    // A DTLS 1.3 post-handshake flight (tickets, KeyUpdate) nobody acknowledges is given up, not the association.
    if (this.dtls13 && this.statem.established && this.timer.retransmissions >= this.timer.maxRetransmissions) {
      this.timer.stop();
      return;
    }
    this.guard(() => {
      this.timer.backoff(now); // throws ERR_TLS_HANDSHAKE_TIMEOUT after the last try
      this.flightSentAt = now;
      this.retransmit();
    });
  }

  /** Send one record of application data. */
  send(data: Uint8Array): void {
    this.assertAlive();
    if (!this.statem.established) return this.sendEarly(data);
    if (this.sentCloseNotify) throw new TLSError('internal_error', 'send after close()', { code: 'ERR_TLS_WRITE_AFTER_END' });
    if (data.length > 2 ** 14) throw new TLSError('internal_error', 'a DTLS record holds at most 16384 bytes', { code: 'ERR_TLS_RECORD_TOO_LARGE' });
    const limit = aeadLimits(this.suite.aead, this.hs.common.aeadLimits).confidentiality - 1;
    // DTLS 1.3 moves to new keys well before the AEAD's limit (RFC 9147 4.5.3); they are used once the KeyUpdate is acknowledged.
    if (this.dtls13 && this.records.nextWriteSeq >= limit - Math.max(1, Math.floor(limit / 4)) && !this.pendingWrite && this.statem.state === ESTABLISHED) {
      this.keyUpdate(false);
    }
    // DTLS 1.2 has no KeyUpdate (and a DTLS 1.3 one may still wait for its ACK): at the limit the association ends (one record kept for the alert).
    if (this.records.nextWriteSeq >= limit) {
      const error = new TLSError('internal_error', 'AEAD usage limit of the DTLS write key reached', { code: 'ERR_TLS_AEAD_LIMIT' });
      this.fail(error);
      throw error;
    }
    this.out.push(this.sealRecord(ContentType.application_data, data));
  }

  /** Client, DTLS 1.3 0-RTT (`datagramEarlyData`): early data goes out now, as epoch 1. */
  get sendingEarlyData(): boolean {
    return this.side === 'client' && this.earlyRoom > 0 && this.hs.negotiated.earlyData !== 'rejected' && this.records13.dtls13WriteEpoch < 2;
  }

  /** Before the handshake completes only 0-RTT is sent: a datagram within the ticket's max_early_data_size. */
  private sendEarly(data: Uint8Array): void {
    // The ClientHello first: it decides whether there is an epoch 1.
    this.start();
    if (!this.sendingEarlyData) throw new TLSError('internal_error', 'DTLS data can only be sent after the handshake (or as 0-RTT early data)', { code: 'ERR_TLS_INVALID_STATE' });
    if (data.length > this.earlyRoom) {
      throw new TLSError('internal_error', `${data.length} bytes of early data are beyond the ${this.earlyRoom} the ticket still allows`, { code: 'ERR_TLS_EARLY_DATA_LIMIT' });
    }
    this.earlyRoom -= data.length;
    this.out.push(this.sealRecord(ContentType.application_data, data, EARLY_DATA_EPOCH));
  }

  /**
   * DTLS 1.3 0-RTT begins: the client writes epoch 1 beside epoch 0 (a second ClientHello
   * still goes in epoch 0); the server reads it beside the handshake epoch, as DTLS 1.3 has
   * no EndOfEarlyData (RFC 9147 5.6).
   */
  protected override startEarlyData(secret: Uint8Array, maxEarlyDataSize: number, suite: CipherSuiteInfo): void {
    const protection = new Dtls13Protection(this.hs.provider, suite.hash, suite.aead, secret);
    this.earlyRoom = maxEarlyDataSize;
    if (this.side === 'client') this.records13.setEarlyWriteEpoch13(protection);
    else this.records13.setReadEpoch13(EARLY_DATA_EPOCH, protection);
  }

  /** Server: a record of accepted early data, marked as such (it may be a replay); beyond max_early_data_size is unexpected_message (RFC 8446 4.2.10). */
  private receiveEarlyData(data: Uint8Array): void {
    if (this.side !== 'server' || this.hs.negotiated.earlyData !== 'accepted') return;
    if (data.length > this.earlyRoom) throw unexpectedMessage(`early data beyond max_early_data_size (${this.earlyRoom} bytes were left)`);
    this.earlyRoom -= data.length;
    if (data.length) this.emit('data', data, { early: true });
  }

  /**
   * DTLS 1.3: update our sending keys (used once the peer acknowledges), and ask the peer to
   * update theirs when `requestPeer`. Only one KeyUpdate may wait for its ACK (RFC 9147 8):
   * called while one does, the update is queued and sent when that ACK comes; calls in the
   * meantime make one update between them, which asks the peer to update if any of them did.
   */
  keyUpdate(requestPeer = true): void {
    this.assertAlive();
    if (!this.dtls13 || this.statem.state !== ESTABLISHED) {
      throw new TLSError('internal_error', 'KeyUpdate needs an established DTLS 1.3 association', { code: 'ERR_TLS_INVALID_STATE' });
    }
    if (this.pendingWrite) {
      this.queuedUpdate = (this.queuedUpdate ?? false) || requestPeer;
      return;
    }
    this.hs.requestPeerUpdate = requestPeer;
    this.guard(() => this.statem.writeFrom('SendKeyUpdate'));
  }

  /** The KeyUpdate queued behind an unacknowledged one, once ours is acknowledged (called inside guard). */
  private sendQueuedUpdate(): void {
    const requestPeer = this.queuedUpdate;
    if (requestPeer === undefined || this.pendingWrite || this.statem.state !== ESTABLISHED || this.sentCloseNotify) return;
    this.queuedUpdate = undefined;
    this.hs.requestPeerUpdate = requestPeer;
    this.statem.writeFrom('SendKeyUpdate');
  }

  close(): void {
    if (this.sentCloseNotify || this.lifecycle === 'DEAD' || this.lifecycle === 'CLOSED') return;
    this.sendAlert(AlertDescription.close_notify);
    this.timer.stop();
    this.closeNotifySent();
  }

  // ---- what the application may ask (the rest is in ConnectionBase) ---------------------------

  get protocol(): string | undefined {
    const variant = this.hs.variant;
    return variant && VARIANTS[variant].name;
  }
  get cipher(): { name: string; standardName: string; version: string } | undefined {
    const s = this.hs.negotiated.suite;
    const variant = this.hs.variant;
    return s && variant && { name: s.openssl, standardName: s.name, version: VARIANTS[variant].name };
  }
  /** The DTLS-SRTP protection profile agreed on (RFC 5764), if any; its keys come from exportKeyingMaterial. */
  get srtpProfile(): string | undefined {
    return this.hs.negotiated.srtpProfile;
  }
  /** The connection IDs in use (RFC 9146): `send` goes in our records, `receive` in the peer's; undefined when not negotiated. */
  get connectionIds(): ConnectionIds | undefined {
    return this.hs.negotiated.connectionIds;
  }
  /** Authenticated records that were the newest received so far (see DtlsRecordLayer.newestRecords). */
  get newestRecords(): number {
    return this.records.newestRecords;
  }
  /** The CID we ask the peer to use, whether or not the peer agreed. */
  get ownConnectionId(): Uint8Array | undefined {
    return this.hs.connectionId ?? this.hs.options.connectionId;
  }
  /** Counters of the record layer (dropped records by reason). */
  get recordStats() {
    return this.records.stats;
  }

  // ---- inside ---------------------------------------------------------------------------

  // ---- what the core asks of the datagrams (ConnectionBase's CoreLink calls these) ----------

  protected override sendHandshake(raw: Uint8Array): void {
    if (this.flightAnswered || this.flight.empty) this.postHandshakeFlight = raw[0] === HandshakeType.new_session_ticket || raw[0] === HandshakeType.key_update;
    this.startFlightIfAnswered();
    this.flight.addHandshake(this.records.writeEpoch, raw[0], this.sendSeq++, raw.subarray(4));
    this.flightUnsent = true;
  }

  protected override sendChangeCipherSpec(): void {
    this.startFlightIfAnswered();
    this.flight.addChangeCipherSpec(this.records.writeEpoch);
    this.flightUnsent = true;
  }

  /**
   * DTLS 1.3 keys its epochs from traffic secrets: 2 for the handshake, 3 for the first
   * application keys, one more per KeyUpdate (RFC 9147 6.1). Our KeyUpdate's keys wait for
   * its ACK.
   */
  protected override installSecret(direction: 'read' | 'write', secret: Uint8Array): void {
    const records = this.records13;
    const suite = this.suite;
    if (direction === 'read') {
      records.integrityLimit = aeadLimits(suite.aead, this.hs.common.aeadLimits).integrity;
      records.setReadEpoch13(nextEpoch13(records.dtls13ReadEpoch), new Dtls13Protection(this.hs.provider, suite.hash, suite.aead, secret));
      return;
    }
    const pending = this.pendingWrite;
    const epoch = nextEpoch13(pending?.epoch ?? records.dtls13WriteEpoch);
    const protection = new Dtls13Protection(this.hs.provider, suite.hash, suite.aead, secret, this.peerCid13());
    if (!this.statem.established) {
      records.setWriteEpoch13(epoch, protection);
      return;
    }
    // A second update (the peer asked for one) before the first was acknowledged: the first takes effect now.
    if (pending) records.setWriteEpoch13(pending.epoch, pending.protection);
    this.pendingWrite = { epoch, protection };
  }

  /** The CID our DTLS 1.3 records carry: the one the peer asked for, if any (RFC 9147 9). */
  private peerCid13(): Uint8Array | undefined {
    const send = this.hs.negotiated.connectionIds?.send;
    return send && send.length > 0 ? send : undefined;
  }

  private get dtls13(): boolean {
    return this.hs.variant === 'dtls13';
  }

  private get records13(): Dtls13RecordLayer {
    if (!(this.records instanceof Dtls13RecordLayer)) throw new TLSError('internal_error', 'DTLS 1.3 keys in a DTLS 1.2 connection');
    return this.records;
  }

  protected override installKeys12(direction: 'read' | 'write', key: Uint8Array, iv: Uint8Array): void {
    const cids = this.hs.negotiated.connectionIds;
    const protection = new DtlsAeadProtection(this.hs.provider, this.suite.aead, key, iv, undefined, cids);
    if (direction === 'write') {
      this.records.setWriteEpoch(this.records.writeEpoch + 1, protection);
      return;
    }
    this.records.integrityLimit = aeadLimits(this.suite.aead, this.hs.common.aeadLimits).integrity;
    this.records.setReadEpoch(this.records.readEpoch + 1, protection);
  }

  /** A post-handshake message (a renegotiation attempt) counts against the flood budget. */
  protected override received(_msg: HandshakeMessage): void {
    if (this.statem.established) (this.postHandshake ??= new PostHandshakeBudget()).take(this.now());
  }

  protected override sealAlert(level: number, description: number): void {
    this.out.push(this.sealRecord(ContentType.alert, new Uint8Array([level, description])));
  }

  /**
   * RFC 6347 4.2.6: the transcript hashes each message as if sent in one fragment, with its
   * message_seq; DTLS 1.3 hashes the messages as TLS 1.3 frames them (RFC 9147 5.2).
   */
  protected override transcriptBytes(raw: Uint8Array, direction: 'recv' | 'send'): Uint8Array {
    if (this.hs.negotiated.version === 'TLSv1.3') return raw;
    return transcriptBytes(raw[0], direction === 'recv' ? this.recvSeq : this.sendSeq, raw.subarray(4));
  }

  private startFlightIfAnswered(): void {
    if (!this.flightAnswered) return;
    this.flight.clear();
    this.acks.reset();
    this.flightAnswered = false;
    this.newFlight = true;
    // A new handshake flight acknowledges what the peer sent before it (RFC 9147 7); tickets and KeyUpdates do not.
    if (this.postHandshakeFlight) return;
    this.toAck = [];
    this.ackDeadline = undefined;
  }

  /** Send what the write sub-machine produced as one flight, and arm the timer unless it ends the handshake. */
  private flushFlight(): void {
    if (!this.flightUnsent) return;
    this.flightUnsent = false;
    this.flightSentAt = this.now();
    this.out.push(...this.flightDatagrams());
    // The last flight of a DTLS 1.2 handshake gets no answer: it is only resent when the peer resends (RFC 6347 4.2.4).
    // DTLS 1.3 resends every flight until it is acknowledged (RFC 9147 5.8.1).
    if (this.statem.established && !this.dtls13) this.timer.stop();
    else this.timer.start(this.now());
  }

  private retransmit(): void {
    if (this.flight.empty) return;
    this.out.push(...this.flightDatagrams(true));
  }

  /**
   * DTLS 1.3 answers a peer's resent flight with ours once per quarter of the retransmission
   * timeout, not once per datagram of it (RFC 9147 5.8.1), and a ticket or KeyUpdate answers no
   * flight at all: what the peer resent gets its ACK instead.
   */
  private resendOnPeerResend(): boolean {
    if (!this.dtls13) return true;
    if (this.postHandshakeFlight) return false;
    const now = this.now();
    if (now - this.flightSentAt < this.timer.timeoutMs / 4) return false;
    this.flightSentAt = now;
    return true;
  }

  /**
   * The flight as datagrams: all of it, or under DTLS 1.3 what the peer has not acknowledged,
   * each record numbered anew. `resend`: DTLS 1.2 sends it again (DTLS 1.3's ACK bookkeeping knows by itself).
   */
  private flightDatagrams(resend = false): Uint8Array[] {
    const records = this.records;
    if (!(records instanceof Dtls13RecordLayer)) return this.flight.datagrams((r) => this.sealRecord(r.contentType, r.payload, r.epoch, resend));
    return this.flight.datagramsWhere(
      (index) => !this.acks.isAcked(index),
      (r, index) => {
        const retransmission = this.acks.transmitted(index, { epoch: r.epoch, seq: records.nextSeqOf(r.epoch) });
        return this.sealRecord(r.contentType, r.payload, r.epoch, retransmission);
      },
    );
  }

  /**
   * Every record we send is sealed here: handshake, ACK, alert and application data alike show
   * on the `record` event (`--trace`) with the epoch and sequence number they go out under.
   */
  private sealRecord(contentType: number, data: Uint8Array, epoch = this.records.writeEpoch, retransmission = false): Uint8Array {
    if (this.listenerCount('record') > 0) this.traceRecord('send', contentType, epoch, this.records.nextSeqOf(epoch), data, retransmission);
    return this.records.seal(contentType, data, epoch);
  }

  private traceRecord(dir: 'recv' | 'send', contentType: number, epoch: number, seq: number, data: Uint8Array, retransmission = false): void {
    let acknowledges: RecordNumber[] | undefined;
    if (contentType === ACK_CONTENT_TYPE) {
      try {
        acknowledges = decodeAck(data);
      } catch {
        acknowledges = [];
      }
    }
    this.emit('record', dir, { contentType, epoch, seq, length: data.length, ...(retransmission ? { retransmission } : {}), ...(acknowledges ? { acknowledges } : {}) });
  }

  /** An ACK arrived (RFC 9147 7): progress resets the timer; a wholly acknowledged flight is complete. */
  private receiveAck(numbers: RecordNumber[]): void {
    if (!this.acks.acknowledge(numbers)) return;
    this.timer.stop();
    if (!this.acks.complete(this.flight.records.length)) {
      this.timer.start(this.now());
      return;
    }
    this.flightAnswered = true;
    const pending = this.pendingWrite;
    if (pending) {
      this.pendingWrite = undefined;
      this.records13.setWriteEpoch13(pending.epoch, pending.protection);
    }
    this.sendQueuedUpdate();
  }

  /**
   * DTLS 1.3: acknowledge the handshake records received unless a new flight of ours in the
   * middle of the handshake does (RFC 9147 7.1). The client's last flight, post-handshake
   * messages and retransmissions of what we already have are acknowledged at once; part of a
   * flight a quarter of the retransmission timeout later, if the rest has not come by then
   * (so the peer resends only the rest). Nothing is acknowledged before we have keys.
   */
  private ackReceived(): void {
    if (this.toAck.length === 0 || !this.dtls13 || this.records13.dtls13WriteEpoch === 0) return;
    if (this.newFlight && !this.statem.established) return;
    if (!this.statem.established && !this.peerResent) {
      this.ackDeadline ??= this.now() + Math.max(1, Math.floor(this.timer.initialMs / 4));
      return;
    }
    this.sendAck();
  }

  private sendAck(): void {
    this.ackDeadline = undefined;
    if (this.toAck.length === 0) return;
    // The newest, as many as one datagram holds: an ACK is never fragmented, and one that
    // outgrew the MTU (many small records of a flight resent under loss) would be lost.
    const fit = Math.min(MAX_ACKED_RECORDS, ackCapacity(this.flight.payloadRoom(this.records.writeEpoch)));
    const numbers = this.toAck.sort((a, b) => a.epoch - b.epoch || a.seq - b.seq).slice(-fit);
    this.toAck = [];
    this.out.push(this.sealRecord(ACK_CONTENT_TYPE, encodeAck(numbers)));
  }

  private dispatch(record: DtlsOpened): void {
    if (this.lifecycle === 'DEAD' || this.receivedCloseNotify) return;
    if (this.listenerCount('record') > 0) this.traceRecord('recv', record.type, record.epoch, record.seq, record.data);
    // Epoch 1 carries 0-RTT data and nothing else: DTLS 1.3 has no EndOfEarlyData (RFC 9147 5.6).
    if (this.dtls13 && record.epoch === EARLY_DATA_EPOCH && record.type !== ContentType.application_data) {
      throw unexpectedMessage(`content type ${record.type} in epoch 1, which carries only early data`);
    }
    switch (record.type) {
      case ContentType.handshake:
        return this.receiveHandshake(record);
      case ACK_CONTENT_TYPE:
        // ACKs are DTLS 1.3's, and always protected (RFC 9147 7); a malformed one is the peer's bug: decode_error.
        if (!this.dtls13 || record.epoch === 0) return;
        return this.receiveAck(decodeAck(record.data));
      case ContentType.change_cipher_spec:
        // DTLS 1.3 has no ChangeCipherSpec (RFC 9147 5): dropped as any invalid record.
        if (this.dtls13) return;
        // A ChangeCipherSpec resent in the epoch we already left is a retransmission, not a step.
        if (record.epoch < this.records.readEpoch) return;
        // An unauthenticated epoch-0 CCS the flow does not expect (late, stray or spoofed) is dropped,
        // as DTLS drops invalid records (RFC 6347 4.1.2.7), rather than killing the handshake.
        if (record.epoch === 0 && !this.statem.expectsChangeCipherSpec) return;
        if (record.data.length !== 1 || record.data[0] !== 1) throw unexpectedMessage('malformed change_cipher_spec');
        this.peerFlightStarted();
        this.statem.receiveChangeCipherSpec();
        return;
      case ContentType.alert:
        if (record.data.length !== 2) return; // malformed datagram content is dropped
        // Once a DTLS 1.3 handshake is over only protected alerts count: one in the clear could be anyone's.
        if (this.dtls13 && this.statem.established && record.epoch === 0) return;
        return this.receiveAlert(record.data[0]!, record.data[1]!, 'association');
      case ContentType.application_data:
        if (this.dtls13 && record.epoch === EARLY_DATA_EPOCH) return this.receiveEarlyData(record.data);
        // Stray data is dropped, as DTLS drops. DTLS 1.3 data may still come in the epoch before a KeyUpdate.
        if (!this.statem.established || (this.dtls13 ? record.epoch < 3 : record.epoch !== this.records.readEpoch)) return;
        if (record.data.length) this.emit('data', record.data);
        return;
    }
  }

  private receiveHandshake(record: DtlsOpened): void {
    if (this.records instanceof Dtls13RecordLayer) {
      // A DTLS 1.3 handshake message comes under the keys of its stage (RFC 9147 6.1, RFC 8446 5.1):
      // the hellos in epoch 0, the rest of the handshake in 2, post-handshake messages from 3 on.
      // A handshake epoch we have left may only bring back what we have (the peer resends: our
      // answer was lost); a new message in it, be it one anybody can write in the clear, is dropped.
      if (record.epoch < 3 && record.epoch < this.records.dtls13ReadEpoch && !this.reassembler.onlyDelivered(record.data)) return;
    }
    const result = this.reassembler.addRecord(record.data);
    // An ACK names only records whose fragments were all kept (RFC 9147 7): one the reassembler
    // dropped (too far ahead, over its budget, malformed) must come again.
    if (this.records instanceof Dtls13RecordLayer && result.dropped === 0) {
      // Bounded: epoch-0 records are anyone's, and ACKs name only the newest anyway.
      if (this.toAck.length >= MAX_ACKED_RECORDS) this.toAck.shift();
      this.toAck.push({ epoch: record.epoch, seq: record.seq });
    }
    if (result.retransmission) this.peerResent = true;
    for (const m of result.messages) {
      this.peerFlightStarted();
      this.recvSeq = m.seq;
      this.statem.deliver(tlsHandshakeBytes(m.type, m.body));
    }
  }

  /** The first message of the peer's next flight acknowledges ours (after a DTLS 1.3 handshake only an ACK does). */
  private peerFlightStarted(): void {
    if (this.flightUnsent || (this.dtls13 && this.statem.established)) return;
    this.timer.stop();
    this.flightAnswered = true;
  }

  /** Every warning is let pass (DTLS 1.2 is TLS 1.2's alert rules). */
  protected override ignoresWarning(): boolean {
    return true;
  }

  protected override sendAlert(description: number): void {
    this.sealAlert(description === AlertDescription.close_notify || description === AlertDescription.user_canceled ? AlertLevel.warning : AlertLevel.fatal, description);
  }

  /** Every guarded step ends by sending the flight it made, if any. */
  protected override flush(): void {
    this.flushFlight();
  }

  protected override teardown(): void {
    this.timer.stop();
    this.records.destroy();
    this.pendingWrite?.protection.destroy();
    this.pendingWrite = undefined;
    this.queuedUpdate = undefined;
  }
}
