/**
 * ConnectionBase: what `Connection` (TLS over a byte stream) and `DtlsConnection` (DTLS
 * over datagrams) share, kept in one place so that the two cannot drift apart: the
 * lifecycle (START → HANDSHAKE → ESTABLISHED → CLOSING → CLOSED, DEAD from anywhere),
 * turning any throw into DEAD with the right alert (`guard`, `fail`), what a received
 * alert means, the close_notify bookkeeping, and the getters that report what the
 * handshake negotiated. The subclasses keep only what their transport makes different:
 * how records are read and sealed, flights and retransmission (DTLS), queued early data
 * and key updates (TLS), and the version strings each reports.
 *
 * Both wire the core the same way (the constructor here): one handshake context for the
 * side, one state machine over the side's table for the transport, and one `CoreLink`
 * that is the core's host, record port and session sink. The link's methods live on its
 * prototype, so a connection pays for one small object rather than a closure per
 * callback; it reaches the connection's protected parts because it is declared inside
 * this class, and the transport's own work through the protected hooks below.
 *
 * Everything here lives on the prototype; the only per-connection state is the fields
 * both classes had anyway.
 */
import type { ClientOptions, ResolvedCommon, ServerOptions } from './config.js';
import { AlertDescription, AlertLevel, TLSError, alertName, asTLSError, unexpectedMessage, type AlertName } from './errors.js';
import { keyExchangeOf, type CipherSuiteInfo, type MessageKind } from './messages/constants.js';
import type { HandshakeLimits, HandshakeMessage, KeyExchange, MessageOf, WireVersion } from './messages/handshake.js';
import { messageVersion, type Transport } from './protocol-variant.js';
import { ClientHandshake, ServerHandshake, need, type HandshakeContext, type RecordPort, type SessionSink } from './statem/context.js';
import { exportKeyingMaterial } from './statem/exporter.js';
import { compactSession, type TLSSession } from './statem/session.js';
import { START_STATE, clientStates, serverStates, type Side } from './statem/states.js';
import { StateMachine, type StatemHost } from './statem/statem.js';
import { toHex } from './util/bytes.js';
import { Emitter } from './util/emitter.js';
import type { Certificate } from './x509/certificate.js';

export type Lifecycle = 'START' | 'HANDSHAKE' | 'ESTABLISHED' | 'CLOSING' | 'CLOSED' | 'DEAD';

/** Which hello of Encrypted Client Hello a `message` event shows: only the inner one is marked. */
export type EchHelloRole = 'inner';

export interface TransitionEvent {
  from: string;
  to: string;
  how: 'recv' | 'send';
  message?: MessageKind;
}

/** The events both connection kinds emit. */
export interface EndpointEvents {
  /** A handshake state change (the CLI's --trace). */
  transition: [TransitionEvent];
  /**
   * A handshake message sent or received, decoded, and its length. With ECH the ClientHelloInner
   * follows the outer hello that carried it, marked 'inner' (it never crossed the wire as such).
   */
  message: ['recv' | 'send', HandshakeMessage, number, EchHelloRole?];
  /** Lifecycle change. */
  state: [Lifecycle, Lifecycle];
  /** The handshake completed. */
  handshake: [];
  /** One NSS key log line (SSLKEYLOGFILE format), without newline. */
  keylog: [string];
  /** Application data from the peer; a server marks TLS 1.3 0-RTT early data (it may be a replay). */
  data: [Uint8Array, EarlyDataMark?];
  /** Client, `earlyDataRejected: 'report'`: the early data the server refused, not sent again. */
  earlyDataRejected: [Uint8Array];
  /** The peer sent close_notify: it will send no more. */
  end: [];
  /** Both directions are closed. */
  close: [];
  /** A fatal error; emitted once, the connection is DEAD. */
  error: [TLSError];
  /** A session to resume later came in (client): pass it back as the `session` option. */
  session: [TLSSession];
  /** A TLS 1.3 NewSessionTicket arrived (client). */
  ticket: [MessageOf<'new_session_ticket'>];
}

/** The `data` event's mark on 0-RTT data: it came before the handshake, and could have been replayed. */
export interface EarlyDataMark {
  early: true;
}

/** Which side a connection is, with that side's options (narrowed from the constructor's arguments, never cast). */
export type Endpoint = { side: 'client'; options: ClientOptions } | { side: 'server'; options: ServerOptions };

export abstract class ConnectionBase<E extends EndpointEvents & { [K in keyof E]: unknown[] } = EndpointEvents> extends Emitter<E> {
  readonly side: Side;
  protected lifecycle: Lifecycle = 'START';
  protected readonly hs: HandshakeContext;
  protected readonly statem: StateMachine<HandshakeContext>;
  protected sentCloseNotify = false;
  protected receivedCloseNotify = false;
  protected failure: TLSError | undefined;

  constructor(endpoint: Endpoint, common: ResolvedCommon, transport: Transport) {
    super();
    this.side = endpoint.side;
    const link = new ConnectionBase.CoreLink(this);
    if (endpoint.side === 'client') {
      const hs = new ClientHandshake(common, endpoint.options, link, transport, link);
      this.hs = hs;
      this.statem = new StateMachine(clientStates(transport), hs, link, START_STATE.client);
    } else {
      const hs = new ServerHandshake(common, endpoint.options, link, transport);
      this.hs = hs;
      this.statem = new StateMachine(serverStates(transport), hs, link, START_STATE.server);
    }
    this.hs.showInnerHello = (dir, hello, length) => {
      if (this.listens('message')) this.emitBase('message', dir, hello, length, 'inner');
    };
  }

  /** The cipher suite records are protected with: the handshake chose it before any key was installed. */
  protected get suite(): CipherSuiteInfo {
    return need(this.hs.suite, 'the cipher suite');
  }

  // ---- what the transport supplies ----------------------------------------------------------

  /** Queue a handshake message (TLS framing: type, uint24 length, body) for sending. */
  protected abstract sendHandshake(raw: Uint8Array, msg?: HandshakeMessage): void;
  /** Queue TLS 1.2's ChangeCipherSpec. */
  protected abstract sendChangeCipherSpec(): void;
  /** Switch one direction to a TLS 1.3 traffic secret. */
  protected abstract installSecret(direction: 'read' | 'write', secret: Uint8Array): void;
  /** Switch one direction to TLS 1.2 keys (after ChangeCipherSpec). */
  protected abstract installKeys12(direction: 'read' | 'write', key: Uint8Array, iv: Uint8Array): void;
  /** Seal an alert of the given level and queue it. */
  protected abstract sealAlert(level: number, description: number): void;
  /** TLS 1.3's middlebox compatibility CCS (RFC 8446 D.4); nothing where there is none. */
  protected sendCompatibilityCCS(): void {}
  /** The bytes the transcript hashes for a message (DTLS frames it with its message_seq). */
  protected transcriptBytes(raw: Uint8Array, _direction: 'recv' | 'send'): Uint8Array {
    return raw;
  }
  /** A handshake message arrived and decoded, before it is processed. */
  protected received(_msg: HandshakeMessage): void {}
  /** TLS 1.3 0-RTT begins (RecordPort.earlyData); only the byte stream has it. */
  protected startEarlyData(_secret: Uint8Array, _maxEarlyDataSize: number, _suite: CipherSuiteInfo): void {
    throw new TLSError('internal_error', 'early data on a connection that has none', { code: 'ERR_TLS_INVALID_STATE' });
  }
  /** Just before the connection reports the handshake done, and just after. */
  protected beforeEstablished(): void {}
  protected afterEstablished(): void {}

  /** Seal an alert record and queue it for sending. */
  protected abstract sendAlert(description: number): void;
  /** On the way to DEAD: forget the record keys and whatever else was waiting to be sent. */
  protected abstract teardown(): void;
  /** After work done under `guard` (DTLS sends the flight the work made). */
  protected flush(): void {}
  /** Whether a warning-level alert other than close_notify is let pass. */
  protected abstract ignoresWarning(description: number): boolean;

  // ---- external events ----------------------------------------------------------------------

  /** Begin the handshake (the client writes its ClientHello). Called for you by the other entry points. */
  start(): void {
    if (this.lifecycle !== 'START') return;
    this.setLifecycle('HANDSHAKE');
    this.guard(() => this.statem.start());
  }

  /** Abort: send `alert` (default user_canceled→ internal use) and go to DEAD. */
  destroy(error?: TLSError): void {
    if (this.lifecycle === 'DEAD' || this.lifecycle === 'CLOSED') return;
    this.fail(error ?? new TLSError('user_canceled', 'connection destroyed', { code: 'ERR_TLS_DESTROYED' }));
  }

  // ---- what the application may ask ---------------------------------------------------------

  get state(): Lifecycle {
    return this.lifecycle;
  }
  get error(): TLSError | undefined {
    return this.failure;
  }
  get handshakeComplete(): boolean {
    return this.statem.established;
  }
  get group(): string | undefined {
    return this.hs.negotiated.group;
  }
  /** The server answered the first ClientHello with a HelloRetryRequest (a group to share, or a DTLS 1.3 cookie to return). */
  get helloRetried(): boolean {
    return this.hs.negotiated.helloRetried;
  }
  get alpnProtocol(): string | false {
    return this.hs.negotiated.alpnProtocol ?? false;
  }
  get peerCertificates(): Certificate[] {
    return this.hs.negotiated.peerCertificates;
  }
  /** The signature scheme the peer's CertificateVerify (or ServerKeyExchange) used. */
  get signatureScheme(): string | undefined {
    return this.hs.negotiated.signatureScheme;
  }
  /** Whether the peer's certificate was verified (node:tls's `authorized`). */
  get authorized(): boolean {
    return this.hs.negotiated.peerVerified;
  }
  /** Why the peer's certificate was not trusted, when verification was not enforced. */
  get authorizationError(): TLSError | undefined {
    return this.hs.negotiated.authorizationError;
  }
  /** Whether this handshake resumed an earlier session (node:tls's isSessionReused()). */
  get sessionReused(): boolean {
    return this.hs.resumed;
  }
  /** 0-RTT: true when the server took our early data (or we took the client's), false when refused, undefined when none was offered or it is not known yet. */
  get earlyDataAccepted(): boolean | undefined {
    const early = this.hs.negotiated.earlyData;
    return early === undefined ? undefined : early === 'accepted';
  }
  /** Keying material exporter (RFC 8446 7.5 / RFC 5705; DTLS-SRTP keys come from here); `context` undefined is "no context". */
  exportKeyingMaterial(length: number, label: string, context?: Uint8Array): Uint8Array {
    return exportKeyingMaterial(this.hs, length, label, context);
  }

  // ---- inside -------------------------------------------------------------------------------

  /** Application data may not be sent on a dead connection: its error is thrown again. */
  protected assertAlive(): void {
    if (this.lifecycle === 'DEAD') throw this.failure ?? new TLSError('internal_error', 'connection is dead');
  }

  /** An alert record arrived; `noun` names the connection in the close-during-handshake error. */
  protected receiveAlert(level: number, description: number, noun: string): void {
    if (description === AlertDescription.close_notify) {
      // A handshake the peer walked away from can never finish: that is a failure, not an end.
      if (!this.statem.established) {
        this.fail(new TLSError('close_notify', `peer closed the ${noun} during the handshake`, { remote: true, code: 'ERR_TLS_CLOSED_DURING_HANDSHAKE' }));
        return;
      }
      this.receivedCloseNotify = true;
      this.emitBase('end');
      // An 'end' listener may have answered with end()/close() (now CLOSED, 'close' emitted) or destroy().
      if (this.lifecycle === 'CLOSED' || this.lifecycle === 'DEAD') return;
      if (this.sentCloseNotify) {
        this.setLifecycle('CLOSED');
        this.emitBase('close');
      } else {
        this.setLifecycle('CLOSING');
      }
      return;
    }
    if (level === AlertLevel.warning && this.ignoresWarning(description)) return;
    const name = alertName(description);
    this.fail(new TLSError(name, `peer sent alert ${name}`, { remote: true }));
  }

  /** Our close_notify is queued: CLOSING, or CLOSED when the peer's came first. */
  protected closeNotifySent(): void {
    this.sentCloseNotify = true;
    this.setLifecycle(this.receivedCloseNotify ? 'CLOSED' : 'CLOSING');
    if (this.receivedCloseNotify) this.emitBase('close');
  }

  /** Run engine work; any throw becomes DEAD with the right alert. */
  protected guard(work: () => void): void {
    try {
      work();
      this.flush();
    } catch (err) {
      this.fail(asTLSError(err));
    }
  }

  protected fail(error: TLSError): void {
    if (this.lifecycle === 'DEAD') return;
    this.failure = error;
    if (!error.remote) {
      try {
        this.sendAlert(error.description === AlertDescription.close_notify ? AlertDescription.internal_error : error.description);
      } catch {
        // Sending the alert is best effort; the connection is dead either way.
      }
    }
    this.teardown();
    // A handshake that dies half way drops what it held too (our key shares, its secrets).
    this.hs.release();
    this.setLifecycle('DEAD');
    this.emitBase('error', error);
  }

  protected setLifecycle(next: Lifecycle): void {
    if (next === this.lifecycle) return;
    const prev = this.lifecycle;
    this.lifecycle = next;
    this.emitBase('state', prev, next);
  }

  /** The handshake is over: what only it needed goes, then the application hears of it. */
  private established(): void {
    this.beforeEstablished();
    this.hs.release();
    this.setLifecycle('ESTABLISHED');
    this.emitBase('handshake');
    this.afterEstablished();
  }

  /** Whether anyone listens to `event` (lines for keylog, traces, sessions are only built for a listener). */
  private listens(event: keyof EndpointEvents): boolean {
    return (this as unknown as ConnectionBase).listenerCount(event) > 0;
  }

  /**
   * What the core sees of its connection, one per connection: the state machine's host,
   * the handshake's record port and a client's session sink.
   */
  private static readonly CoreLink = class CoreLink implements StatemHost, RecordPort, SessionSink {
    constructor(private readonly c: ConnectionBase) {}

    // ---- StatemHost ----

    get limits(): HandshakeLimits {
      return this.c.hs.common.limits;
    }
    wireVersion(): WireVersion {
      return messageVersion(this.c.hs.transport, this.c.hs.negotiated.version);
    }
    keyExchange(): KeyExchange | undefined {
      const suite = this.c.hs.negotiated.suite;
      return suite ? keyExchangeOf(suite) : undefined;
    }
    addToTranscript(raw: Uint8Array, direction: 'recv' | 'send'): void {
      // Only the handshake's own states hash their messages, and the transcript lasts as long as the handshake.
      need(this.c.hs.transcript, 'the transcript').add(this.c.transcriptBytes(raw, direction));
    }
    sendHandshake(raw: Uint8Array, msg: HandshakeMessage): void {
      this.c.sendHandshake(raw, msg);
    }
    sendChangeCipherSpec(): void {
      this.c.sendChangeCipherSpec();
    }
    onTransition(from: string, to: string, how: 'recv' | 'send', message?: MessageKind): void {
      if (this.c.listens('transition')) this.c.emitBase('transition', { from, to, how, message });
    }
    onMessage(dir: 'recv' | 'send', msg: HandshakeMessage, length: number): void {
      if (dir === 'recv') this.c.received(msg);
      if (this.c.listens('message')) this.c.emitBase('message', dir, msg, length);
    }
    onEstablished(): void {
      this.c.established();
    }

    // ---- SessionSink (clients) ----

    ticket(ticket: MessageOf<'new_session_ticket'>): void {
      this.c.emitBase('ticket', ticket);
    }
    session(session: TLSSession): void {
      if (this.c.listens('session')) this.c.emitBase('session', compactSession(session));
    }

    // ---- RecordPort ----

    setReadSecret(secret: Uint8Array): void {
      // RFC 8446 5.1: handshake messages must not span a key change.
      if (this.c.statem.bufferedHandshakeBytes > 0) throw unexpectedMessage('handshake message spans a key change');
      this.c.installSecret('read', secret);
    }
    setWriteSecret(secret: Uint8Array): void {
      this.c.installSecret('write', secret);
    }
    setReadKeys12(key: Uint8Array, iv: Uint8Array): void {
      if (this.c.statem.bufferedHandshakeBytes > 0) throw unexpectedMessage('handshake message spans ChangeCipherSpec');
      this.c.installKeys12('read', key, iv);
    }
    setWriteKeys12(key: Uint8Array, iv: Uint8Array): void {
      this.c.installKeys12('write', key, iv);
    }
    sendWarning(alert: AlertName): void {
      this.c.sealAlert(AlertLevel.warning, AlertDescription[alert]);
    }
    sendCompatibilityCCS(): void {
      this.c.sendCompatibilityCCS();
    }
    earlyData(secret: Uint8Array, maxEarlyDataSize: number, suite: CipherSuiteInfo): void {
      this.c.startEarlyData(secret, maxEarlyDataSize, suite);
    }
    keylog(label: string, secret: Uint8Array): void {
      // The line is only built for someone listening.
      const random = this.c.hs.clientRandom;
      if (random && this.c.listens('keylog')) this.c.emitBase('keylog', `${label} ${toHex(random)} ${toHex(secret)}`);
    }
  };

  /** `emit` for the events every connection has (TypeScript cannot see them in the open type E). */
  private emitBase<K extends keyof EndpointEvents>(event: K, ...args: EndpointEvents[K]): void {
    (this as unknown as ConnectionBase).emit(event, ...args);
  }
}
