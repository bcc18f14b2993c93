/**
 * DtlsConnection: the sans-IO face of DTLS 1.2 (RFC 6347). The same statem core and the
 * same TLS 1.2 transitions as `Connection`; what differs is the transport around them:
 * datagrams in and out, handshake messages cut into fragments and reassembled, flights
 * retransmitted on a timer, epochs instead of a key switch on a byte stream.
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
import { ConnectionBase, type Endpoint, type EndpointEvents } from './connection-base.js';
import { VARIANTS } from './protocol-variant.js';
import { AlertDescription, AlertLevel, TLSError, unexpectedMessage } from './errors.js';
import { ContentType } from './messages/constants.js';
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
}

export interface DtlsConnectionEvents extends EndpointEvents {
  /** One record of application data. */
  data: [Uint8Array];
}

export class DtlsConnection extends ConnectionBase<DtlsConnectionEvents> {
  private readonly records = new DtlsRecordLayer();
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

  constructor(side: 'client', options: DtlsClientOptions);
  constructor(side: 'server', options: DtlsServerOptions, start?: DtlsServerStart);
  constructor(...[side, options, start]: [side: 'client', options: DtlsClientOptions, start?: undefined] | [side: 'server', options: DtlsServerOptions, start?: DtlsServerStart]) {
    const endpoint: Endpoint = side === 'client' ? { side, options } : { side, options };
    // DTLS 1.2 speaks the TLS 1.2 suites; DTLS 1.3 is not here yet.
    super(endpoint, resolveCommon({ ...options, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }, nobleProvider), 'datagram');
    const common = this.hs.common;
    this.now = common.now;
    this.records.plaintextVersion = VARIANTS.dtls12.wire;
    if (start?.connectionId) this.hs.connectionId = start.connectionId;
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
      // From the hellos on the parser must know our CID's length: the peer's first tls12_cid record
      // (its Finished) may arrive with its ChangeCipherSpec, before our read keys are installed.
      this.records.receiveCidLength = this.hs.negotiated.connectionIds?.receive.length ?? 0;
      const queue = this.records.open(datagram);
      if (this.records.integrityLimitReached) {
        throw new TLSError('bad_record_mac', 'too many forged records under one key (AEAD integrity limit, RFC 9147 4.5.3)', { code: 'ERR_TLS_AEAD_LIMIT' });
      }
      this.peerResent = false;
      while (queue.length > 0) {
        const epoch = this.records.readEpoch;
        this.dispatch(queue.shift()!);
        // A Finished that overtook its ChangeCipherSpec waited in the record layer for the new epoch.
        if (this.records.readEpoch !== epoch) queue.unshift(...this.records.drainBuffered());
      }
      // The peer resent a flight we already answered: our answer was lost, send it once more.
      if (this.peerResent && !this.flightAnswered) this.retransmit();
    });
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
    return this.timer.nextTimeout();
  }

  /** The clock moved: retransmit the last flight if its timer ran out. */
  handleTimeout(now = this.now()): void {
    if (!this.timer.expired(now) || this.lifecycle === 'DEAD') return;
    this.guard(() => {
      this.timer.backoff(now); // throws ERR_TLS_HANDSHAKE_TIMEOUT after the last try
      this.retransmit();
    });
  }

  /** Send one record of application data. */
  send(data: Uint8Array): void {
    this.assertAlive();
    if (!this.statem.established) throw new TLSError('internal_error', 'DTLS data can only be sent after the handshake', { code: 'ERR_TLS_INVALID_STATE' });
    if (this.sentCloseNotify) throw new TLSError('internal_error', 'send after close()', { code: 'ERR_TLS_WRITE_AFTER_END' });
    if (data.length > 2 ** 14) throw new TLSError('internal_error', 'a DTLS record holds at most 16384 bytes', { code: 'ERR_TLS_RECORD_TOO_LARGE' });
    // DTLS 1.2 has no KeyUpdate: at the AEAD's confidentiality limit the association ends (one record kept for the alert).
    if (this.records.nextWriteSeq >= aeadLimits(this.suite.aead, this.hs.common.aeadLimits).confidentiality - 1) {
      const error = new TLSError('internal_error', 'AEAD usage limit of the DTLS write key reached', { code: 'ERR_TLS_AEAD_LIMIT' });
      this.fail(error);
      throw error;
    }
    this.out.push(this.records.seal(ContentType.application_data, data));
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
    this.startFlightIfAnswered();
    this.flight.addHandshake(this.records.writeEpoch, raw[0], this.sendSeq++, raw.subarray(4));
    this.flightUnsent = true;
  }

  protected override sendChangeCipherSpec(): void {
    this.startFlightIfAnswered();
    this.flight.addChangeCipherSpec(this.records.writeEpoch);
    this.flightUnsent = true;
  }

  /** DTLS 1.3 (RFC 9147) will key its epochs from traffic secrets; DTLS 1.2 never gets one. */
  protected override installSecret(): void {
    throw new TLSError('internal_error', 'TLS 1.3 keys in a DTLS 1.2 connection');
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
    this.out.push(this.records.seal(ContentType.alert, new Uint8Array([level, description])));
  }

  /** RFC 6347 4.2.6: the transcript hashes each message as if sent in one fragment, with its message_seq. */
  protected override transcriptBytes(raw: Uint8Array, direction: 'recv' | 'send'): Uint8Array {
    return transcriptBytes(raw[0], direction === 'recv' ? this.recvSeq : this.sendSeq, raw.subarray(4));
  }

  private startFlightIfAnswered(): void {
    if (!this.flightAnswered) return;
    this.flight.clear();
    this.flightAnswered = false;
  }

  /** Send what the write sub-machine produced as one flight, and arm the timer unless it ends the handshake. */
  private flushFlight(): void {
    if (!this.flightUnsent) return;
    this.flightUnsent = false;
    this.out.push(...this.flight.datagrams((r) => this.records.seal(r.contentType, r.payload, r.epoch)));
    // The last flight of a handshake gets no answer: it is only resent when the peer resends (RFC 6347 4.2.4).
    if (this.statem.established) this.timer.stop();
    else this.timer.start(this.now());
  }

  private retransmit(): void {
    if (this.flight.empty) return;
    this.out.push(...this.flight.datagrams((r) => this.records.seal(r.contentType, r.payload, r.epoch)));
  }

  private dispatch(record: DtlsOpened): void {
    if (this.lifecycle === 'DEAD' || this.receivedCloseNotify) return;
    switch (record.type) {
      case ContentType.handshake:
        return this.receiveHandshake(record);
      case ContentType.change_cipher_spec:
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
        return this.receiveAlert(record.data[0]!, record.data[1]!, 'association');
      case ContentType.application_data:
        if (!this.statem.established || record.epoch !== this.records.readEpoch) return; // stray data: dropped, as DTLS drops
        if (record.data.length) this.emit('data', record.data);
        return;
    }
  }

  private receiveHandshake(record: DtlsOpened): void {
    const result = this.reassembler.addRecord(record.data);
    if (result.retransmission) this.peerResent = true;
    for (const m of result.messages) {
      this.peerFlightStarted();
      this.recvSeq = m.seq;
      this.statem.deliver(tlsHandshakeBytes(m.type, m.body));
    }
  }

  /** The first message of the peer's next flight acknowledges ours. */
  private peerFlightStarted(): void {
    if (this.flightUnsent) return;
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
  }
}
