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
 * Everything here lives on the prototype; the only per-connection state is the fields
 * both classes had anyway.
 */
import { AlertDescription, AlertLevel, TLSError, alertName, asTLSError } from './errors.js';
import type { MessageKind } from './messages/constants.js';
import type { HandshakeMessage } from './messages/handshake.js';
import type { HandshakeContext } from './statem/context.js';
import { exportKeyingMaterial } from './statem/exporter.js';
import type { TLSSession } from './statem/session.js';
import type { Side } from './statem/states.js';
import type { StateMachine } from './statem/statem.js';
import { Emitter } from './util/emitter.js';
import type { Certificate } from './x509/certificate.js';

export type Lifecycle = 'START' | 'HANDSHAKE' | 'ESTABLISHED' | 'CLOSING' | 'CLOSED' | 'DEAD';

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
  /** A handshake message sent or received, decoded. */
  message: ['recv' | 'send', HandshakeMessage, number];
  /** Lifecycle change. */
  state: [Lifecycle, Lifecycle];
  /** The handshake completed. */
  handshake: [];
  /** One NSS key log line (SSLKEYLOGFILE format), without newline. */
  keylog: [string];
  /** Application data from the peer. */
  data: [Uint8Array];
  /** The peer sent close_notify: it will send no more. */
  end: [];
  /** Both directions are closed. */
  close: [];
  /** A fatal error; emitted once, the connection is DEAD. */
  error: [TLSError];
  /** A session to resume later came in (client): pass it back as the `session` option. */
  session: [TLSSession];
}

export abstract class ConnectionBase<E extends EndpointEvents & { [K in keyof E]: unknown[] } = EndpointEvents> extends Emitter<E> {
  readonly side: Side;
  protected lifecycle: Lifecycle = 'START';
  /** Set once by the subclass constructor (it builds them around its own record layer). */
  protected hs!: HandshakeContext;
  protected statem!: StateMachine<HandshakeContext>;
  protected sentCloseNotify = false;
  protected receivedCloseNotify = false;
  protected failure: TLSError | undefined;

  constructor(side: Side) {
    super();
    this.side = side;
  }

  // ---- what the transport supplies ----------------------------------------------------------

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
    this.setLifecycle('DEAD');
    this.emitBase('error', error);
  }

  protected setLifecycle(next: Lifecycle): void {
    if (next === this.lifecycle) return;
    const prev = this.lifecycle;
    this.lifecycle = next;
    this.emitBase('state', prev, next);
  }

  /** `emit` for the events every connection has (TypeScript cannot see them in the open type E). */
  private emitBase<K extends keyof EndpointEvents>(event: K, ...args: EndpointEvents[K]): void {
    (this as unknown as ConnectionBase).emit(event, ...args);
  }
}
