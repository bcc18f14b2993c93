/**
 * Connection: the sans-IO face of tsls. Feed it the bytes that arrived, take the bytes
 * it wants sent, write application data, close. Nothing here does I/O or keeps time of
 * its own; randomness and the clock come from the options.
 *
 * Lifecycle (libnbd / lighttpd style): START → HANDSHAKE → ESTABLISHED → CLOSING → CLOSED,
 * and DEAD from anywhere on a fatal error. DEAD sends the alert, wipes the keys and
 * reports the error exactly once. That part, alerts and the negotiated-parameter getters
 * live in ConnectionBase, shared with DtlsConnection; this file is the byte-stream side.
 */
import { resolveCommon, type ClientOptions, type ResolvedCommon, type ServerOptions } from './config.js';
import { nobleProvider } from './crypto/noble.js';
import { trafficKeys } from './crypto/keyschedule.js';
import { ConnectionBase, type EarlyDataMark, type Endpoint, type EndpointEvents } from './connection-base.js';
import { AlertDescription, AlertLevel, TLSError, unexpectedMessage } from './errors.js';
import { ContentType, type CipherSuiteInfo } from './messages/constants.js';
import type { HandshakeMessage } from './messages/handshake.js';
import { RecordLayer } from './record/record-layer.js';
import { aeadLimits } from './record/aead-limits.js';
import { PostHandshakeBudget } from './post-handshake-budget.js';
import { MAX_FRAGMENT, Tls12AeadProtection, Tls13Protection } from './record/protection.js';
import { ESTABLISHED, START_STATE } from './statem/states.js';
import { checkImportOptions } from './statem/imported-psk.js';
import { concat, wipe } from './util/bytes.js';

export type { Lifecycle, TransitionEvent } from './connection-base.js';

export type ConnectionEvents = EndpointEvents;

const CCS_PAYLOAD = new Uint8Array([1]);
/**
 * Records TLS 1.3 lets arrive in the clear while reading is already encrypted: the
 * compatibility CCS, and an alert from a peer that failed before it had keys (a client
 * refusing our ServerHello), so its reason is not lost (OpenSSL reads those too).
 */
const HANDSHAKE_PLAINTEXT: ReadonlySet<number> = new Set([ContentType.change_cipher_spec, ContentType.alert]);

export class Connection extends ConnectionBase<ConnectionEvents> {
  private readonly records = new RecordLayer();
  private output: Uint8Array[] = [];
  /** Application data written before the handshake finished; sent, never dropped, once it does. */
  private early: Uint8Array[] | undefined = undefined;
  private sentCCS = false;
  private processing = false;
  /** Made when the first post-handshake message arrives: most connections never see one. */
  private postHandshake: PostHandshakeBudget | undefined = undefined;
  /** Client: the client_early_traffic_secret's protection while we may send 0-RTT (until EndOfEarlyData or refusal). */
  private earlyWrite: Tls13Protection | undefined = undefined;
  /** Early data bytes still allowed: client, to send; server, to receive. */
  private earlyRoom = 0;
  /** Client: the early data sent, kept until the server's answer (resent or reported when refused). */
  private earlySent: Uint8Array[] | undefined = undefined;
  /** Server: accepted early data is being read (until EndOfEarlyData). */
  private readingEarly = false;

  constructor(side: 'client', options: ClientOptions);
  constructor(side: 'server', options: ServerOptions);
  constructor(...[side, options]: [side: 'client', options: ClientOptions] | [side: 'server', options: ServerOptions]) {
    const endpoint: Endpoint = side === 'client' ? { side, options } : { side, options };
    // A certificate-free server authenticates with external PSKs only.
    if (endpoint.side === 'server' && endpoint.options.certificates?.length === 0 && !endpoint.options.pskCallback) {
      throw new TLSError('internal_error', 'a server needs at least one certificate, or a pskCallback', { code: 'ERR_TLS_INVALID_OPTION' });
    }
    checkImportOptions(endpoint.options);
    super(endpoint, endpoint.side === 'server' ? serverCommon(endpoint.options) : resolveCommon(endpoint.options, nobleProvider), 'stream');
    // A client's earlyData goes first: as 0-RTT if the session allows it, else once the handshake completes.
    const earlyData = endpoint.side === 'client' ? endpoint.options.earlyData : undefined;
    if (earlyData?.length) this.early = [new Uint8Array(earlyData)];
  }

  static client(options: ClientOptions = {}): Connection {
    return new Connection('client', options);
  }
  static server(options: ServerOptions): Connection {
    return new Connection('server', options);
  }

  // ---- external events ----------------------------------------------------------------

  /** Bytes received from the peer. Errors do not throw: they end in DEAD and an `error` event. */
  feed(data: Uint8Array): void {
    this.start();
    if (this.lifecycle === 'DEAD' || this.lifecycle === 'CLOSED' || this.receivedCloseNotify) return;
    this.guard(() => {
      try {
        this.records.feed(data);
        this.processRecords();
      } finally {
        // The record layer reads `data` in place; keep only what is left of it (a partial record).
        this.records.settle();
      }
    });
  }

  /** Everything that should be sent to the peer now (empty when nothing is due). */
  takeOutput(): Uint8Array {
    this.start();
    if (this.output.length === 0) return new Uint8Array(0);
    const out = this.output.length === 1 ? this.output[0]! : concat(...this.output);
    this.output = [];
    return out;
  }

  /** Bytes waiting in `takeOutput`. */
  get pendingOutput(): number {
    let n = 0;
    for (const b of this.output) n += b.length;
    return n;
  }

  /** Send application data (queued until the handshake completes). */
  write(data: Uint8Array): void {
    this.start();
    this.assertAlive();
    if (this.sentCloseNotify) throw new TLSError('internal_error', 'write after end()', { code: 'ERR_TLS_WRITE_AFTER_END' });
    if (data.length === 0) return;
    if (!this.statem.established) {
      // A copy (new Uint8Array: on a Buffer, slice() would be a view of the caller's bytes).
      (this.early ??= []).push(new Uint8Array(data));
      if (this.earlyWrite) this.guard(() => this.sendEarlyData());
      return;
    }
    this.guard(() => this.sealApplicationData(data));
  }

  /** Send close_notify: we will write no more (reading goes on until the peer closes too). */
  end(): void {
    if (this.sentCloseNotify || this.lifecycle === 'DEAD' || this.lifecycle === 'CLOSED') return;
    this.guard(() => {
      this.flushEarly();
      this.sendAlert(AlertDescription.close_notify);
      this.closeNotifySent();
    });
  }

  /** Update our sending keys, and ask the peer to update theirs when `requestPeer` (RFC 8446 4.6.3). */
  keyUpdate(requestPeer = true): void {
    if (this.statem.state !== ESTABLISHED) {
      throw new TLSError('internal_error', 'KeyUpdate needs an established TLS 1.3 connection', { code: 'ERR_TLS_INVALID_STATE' });
    }
    this.hs.requestPeerUpdate = requestPeer;
    this.guard(() => this.statem.writeFrom('SendKeyUpdate'));
  }

  // ---- what the application may ask (the rest is in ConnectionBase) -------------------------

  get handshakeState(): string {
    return this.statem.state;
  }
  get peerClosed(): boolean {
    return this.receivedCloseNotify;
  }
  /** 'TLSv1.3' once negotiated. */
  get protocol(): string | undefined {
    return this.hs.negotiated.version;
  }
  get cipher(): { name: string; standardName: string; version: string } | undefined {
    const s = this.hs.negotiated.suite;
    return s && { name: s.openssl, standardName: s.name, version: s.version };
  }
  get servername(): string | undefined {
    return this.hs.negotiated.servername;
  }
  /** Encrypted Client Hello: 'accepted' or 'rejected' when it was offered (RFC 9849); undefined otherwise. */
  get echStatus(): 'accepted' | 'rejected' | undefined {
    return this.hs.negotiated.ech;
  }
  /** Client: writes now go out as 0-RTT early data (offered, not refused, room left under the ticket's limit). */
  get sendingEarlyData(): boolean {
    return this.earlyWrite !== undefined && this.earlyRoom > 0 && this.hs.negotiated.earlyData !== 'rejected';
  }

  // ---- inside -------------------------------------------------------------------------------

  private get tls12(): boolean {
    return this.hs.variant === 'tls12';
  }

  private protection(secret: Uint8Array, suite = this.suite): Tls13Protection {
    const { key, iv } = trafficKeys(this.hs.provider, suite.hash, suite.aead, secret);
    const protection = new Tls13Protection(this.hs.provider, suite.aead, key, iv);
    // The protection keeps its own copy.
    wipe(key, iv);
    return protection;
  }

  private processRecords(): void {
    if (this.processing) return;
    this.processing = true;
    try {
      for (;;) {
        if (this.lifecycle === 'DEAD' || this.receivedCloseNotify) return;
        // TLS 1.3's compatibility CCS (and an early peer's alert) arrive in the clear even after keys change; TLS 1.2's never do.
        const record = this.records.next(this.statem.established || this.tls12 ? NO_TYPES : HANDSHAKE_PLAINTEXT);
        if (!record) return;
        this.dispatch(record.type, record.data);
      }
    } finally {
      this.processing = false;
    }
  }

  private dispatch(type: number, data: Uint8Array): void {
    switch (type) {
      case ContentType.handshake:
        this.statem.receive(data);
        return;
      case ContentType.application_data:
        if (this.readingEarly) {
          this.receiveEarlyData(data);
          return;
        }
        if (!this.statem.established) throw unexpectedMessage('application data before the handshake completed');
        if (this.statem.bufferedHandshakeBytes > 0) throw unexpectedMessage('application data inside a fragmented handshake message');
        if (data.length) this.emit('data', data);
        return;
      case ContentType.alert:
        // RFC 8446 5.1 / RFC 5246 6.2.1: no other record may come between the fragments of a
        // handshake message (a close_notify there would leave the handshake waiting forever).
        if (this.statem.bufferedHandshakeBytes > 0) throw unexpectedMessage('alert inside a fragmented handshake message');
        if (data.length !== 2) throw new TLSError('decode_error', 'alert record must hold exactly one alert');
        this.receiveAlert(data[0]!, data[1]!, 'connection');
        return;
      case ContentType.change_cipher_spec:
        if (this.statem.bufferedHandshakeBytes > 0) throw unexpectedMessage('change_cipher_spec inside a fragmented handshake message');
        if (data.length !== 1 || data[0] !== 1) throw unexpectedMessage('malformed change_cipher_spec');
        if (this.tls12) {
          this.statem.receiveChangeCipherSpec();
          return;
        }
        // RFC 8446 5: a single 0x01 between the first ClientHello and the peer's Finished is dropped.
        if (this.statem.established || data.length !== 1 || data[0] !== 1) throw unexpectedMessage('unexpected change_cipher_spec');
        if (this.side === 'server' && this.statem.state === START_STATE.server) throw unexpectedMessage('change_cipher_spec before ClientHello');
        return;
    }
  }

  /** TLS 1.3: every alert but close_notify and user_canceled is fatal, whatever its level says; TLS 1.2 keeps warnings (no_renegotiation, user_canceled) as warnings. */
  protected override ignoresWarning(description: number): boolean {
    return description === AlertDescription.user_canceled || (this.tls12 && this.statem.established);
  }

  protected override sendAlert(description: number): void {
    const level = description === AlertDescription.close_notify || description === AlertDescription.user_canceled ? AlertLevel.warning : AlertLevel.fatal;
    this.sealAlert(level, description);
  }

  /** A handshake message arrived (before it is processed): bound post-handshake floods, skip refused early data. */
  protected override received(msg: HandshakeMessage): void {
    if (this.statem.established) {
      (this.postHandshake ??= new PostHandshakeBudget()).take(this.hs.common.now());
      return;
    }
    if (this.readingEarly) {
      // RFC 8446 4.5: accepted early data ends with EndOfEarlyData, and nothing else comes under its key.
      if (msg.type !== 'end_of_early_data') throw unexpectedMessage(`${msg.type} before EndOfEarlyData`);
      this.readingEarly = false;
      return;
    }
    // Early data is skipped (RFC 8446 4.2.10), never read, unless the ClientHello's processing accepts it (startEarlyData).
    if (msg.type === 'client_hello' && this.side === 'server' && msg.extensions.has('early_data')) {
      const options = this.hs.options as ServerOptions;
      this.records.skipEarlyData(Math.max(MAX_EARLY_DATA_SIZE, options.maxEarlyData ?? 0));
    }
  }

  protected override startEarlyData(secret: Uint8Array, maxEarlyDataSize: number, suite: CipherSuiteInfo): void {
    const protection = this.protection(secret, suite);
    wipe(secret);
    this.earlyRoom = maxEarlyDataSize;
    if (this.side === 'server') {
      // Accepted: these records open, and one that does not is an attack, not skipped.
      this.records.skipEarlyData(0);
      this.records.setReadProtection(protection);
      this.readingEarly = true;
      return;
    }
    this.earlyWrite = protection;
    this.earlySent = [];
    this.sendEarlyData();
  }

  /** Client: queued data as 0-RTT, while the ticket's max_early_data_size lasts and the server has not refused it. */
  private sendEarlyData(): void {
    const p = this.earlyWrite;
    if (!p || this.hs.negotiated.earlyData === 'rejected') return;
    const queued = this.early;
    while (queued && queued.length > 0 && this.earlyRoom > 0) {
      let data = queued[0]!;
      if (data.length > this.earlyRoom) {
        queued[0] = data.subarray(this.earlyRoom);
        data = data.subarray(0, this.earlyRoom);
      } else {
        queued.shift();
      }
      this.records.seal(ContentType.application_data, data, this.output, p);
      this.earlySent?.push(data);
      this.earlyRoom -= data.length;
    }
    if (queued?.length === 0) this.early = undefined;
  }

  /** Server: accepted early data goes to the application marked as early, within max_early_data_size (RFC 8446 4.2.10). */
  private receiveEarlyData(data: Uint8Array): void {
    if (data.length > this.earlyRoom) throw unexpectedMessage('early data exceeds max_early_data_size');
    this.earlyRoom -= data.length;
    if (data.length) this.emit('data', data, EARLY);
  }

  /** Client: the server's answer is in. Refused early data is sent again now, or handed back. */
  private settleEarlyData(): void {
    const sent = this.earlySent;
    this.earlyWrite?.destroy();
    this.earlyWrite = undefined;
    this.earlySent = undefined;
    if (!sent || sent.length === 0 || this.hs.negotiated.earlyData !== 'rejected') return;
    if ((this.hs.options as ClientOptions).earlyDataRejected === 'report') this.emit('earlyDataRejected', concat(...sent));
    else this.early = [...sent, ...(this.early ?? [])];
  }

  protected override beforeEstablished(): void {
    const limit = this.hs.peerRecordSizeLimit;
    // record_size_limit counts TLS 1.3's inner content type byte (RFC 8449 4), not TLS 1.2's.
    if (limit !== undefined) this.records.maxSendFragment = Math.min(MAX_FRAGMENT, this.tls12 ? limit : limit - 1);
  }

  protected override afterEstablished(): void {
    this.settleEarlyData();
    this.flushEarly();
  }

  // ---- what the core asks of the byte stream (ConnectionBase's CoreLink calls these) --------

  protected override sendHandshake(raw: Uint8Array, msg?: HandshakeMessage): void {
    if (msg?.type === 'end_of_early_data') {
      // The last record under the early key (RFC 8446 4.5).
      this.records.seal(ContentType.handshake, raw, this.output, this.earlyWrite);
      this.earlyWrite?.destroy();
      this.earlyWrite = undefined;
      return;
    }
    this.records.seal(ContentType.handshake, raw, this.output);
  }

  protected override sendChangeCipherSpec(): void {
    this.records.seal(ContentType.change_cipher_spec, CCS_PAYLOAD, this.output);
  }

  protected override installSecret(direction: 'read' | 'write', secret: Uint8Array): void {
    if (direction === 'read') this.records.setReadProtection(this.protection(secret));
    else this.records.setWriteProtection(this.protection(secret));
  }

  protected override installKeys12(direction: 'read' | 'write', key: Uint8Array, iv: Uint8Array): void {
    const protection = new Tls12AeadProtection(this.hs.provider, this.suite.aead, key, iv);
    if (direction === 'read') this.records.setReadProtection(protection);
    else this.records.setWriteProtection(protection);
  }

  protected override sealAlert(level: number, description: number): void {
    this.records.seal(ContentType.alert, new Uint8Array([level, description]), this.output);
  }

  protected override sendCompatibilityCCS(): void {
    if (this.sentCCS) return;
    this.sentCCS = true;
    this.records.sealPlaintext(ContentType.change_cipher_spec, CCS_PAYLOAD, this.output);
  }

  private flushEarly(): void {
    if (!this.statem.established) return;
    const queued = this.early;
    if (!queued) return;
    this.early = undefined;
    for (const data of queued) this.sealApplicationData(data);
  }

  /**
   * Application data into records, within the AEAD's confidentiality limit (RFC 8446 5.5):
   * before the records for `data` would take the write key past it, TLS 1.3 moves to the
   * next key with a KeyUpdate; TLS 1.2, which cannot, ends the connection. One record of
   * the limit is kept back for the KeyUpdate or alert that follows.
   */
  private sealApplicationData(data: Uint8Array): void {
    const max = this.records.maxSendFragment;
    const limit = aeadLimits(this.suite.aead, this.hs.common.aeadLimits).confidentiality - 1;
    for (let from = 0; from < data.length; ) {
      let room = limit - this.records.sealedRecords;
      if (room <= 0) {
        if (this.tls12) throw new TLSError('internal_error', 'AEAD usage limit of the TLS 1.2 write key reached', { code: 'ERR_TLS_AEAD_LIMIT' });
        this.hs.requestPeerUpdate = false;
        this.statem.writeFrom('SendKeyUpdate');
        room = limit - this.records.sealedRecords;
      }
      const to = Math.min(data.length, from + room * max);
      this.records.seal(ContentType.application_data, from === 0 && to === data.length ? data : data.subarray(from, to), this.output);
      from = to;
    }
  }

  protected override teardown(): void {
    this.records.destroy();
    this.earlyWrite?.destroy();
    this.earlyWrite = undefined;
    this.early = this.earlySent = undefined;
  }
}

const NO_TYPES: ReadonlySet<number> = new Set();
const EARLY: EarlyDataMark = Object.freeze({ early: true });
/** The early data a server skips (OpenSSL's default max_early_data, one record's worth). */
const MAX_EARLY_DATA_SIZE = 2 ** 14;

/**
 * A server's resolved common options, shared by every connection made from one options
 * object (a server makes all of its connections from one), so that each connection does
 * not carry its own copy of the same suite list, versions and closures. Reused only while
 * every option it was resolved from is still the same; a change to any of them resolves
 * afresh, so connections made after the change see it, as without the cache. (Clients
 * mostly make an options object per connection, where this would only add to it.)
 */
interface ResolvedFrom {
  common: ResolvedCommon;
  inputs: unknown[];
  suites: string[] | undefined;
  limits: [string, unknown][] | undefined;
}
const resolvedCommon = new WeakMap<object, ResolvedFrom>();

function commonInputs(o: ClientOptions | ServerOptions): unknown[] {
  return [
    o.provider,
    o.random,
    o.now,
    o.cipherSuites,
    o.groups,
    o.signatureSchemes,
    o.ALPNProtocols,
    o.minVersion,
    o.maxVersion,
    o.limits,
    o.aeadLimits,
    (o as ClientOptions).psk,
    (o as ServerOptions).pskCallback,
  ];
}

function serverCommon(options: ServerOptions): ResolvedCommon {
  const inputs = commonInputs(options);
  const known = resolvedCommon.get(options);
  if (
    known &&
    known.inputs.every((v, i) => v === inputs[i]) &&
    sameItems(known.suites, options.cipherSuites) &&
    sameItems(known.limits, options.limits && Object.entries(options.limits), (a, b) => a[0] === b[0] && a[1] === b[1])
  ) {
    return known.common;
  }
  const common = resolveCommon(options, nobleProvider);
  resolvedCommon.set(options, {
    common,
    inputs,
    suites: options.cipherSuites?.slice(),
    limits: options.limits && Object.entries(options.limits),
  });
  return common;
}

function sameItems<T>(a: T[] | undefined, b: T[] | undefined, eq: (x: T, y: T) => boolean = (x, y) => x === y): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((x, i) => eq(x, b[i]!));
}
