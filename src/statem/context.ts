/**
 * Everything one handshake knows: configuration, what has been negotiated, the transcript
 * and the key schedule's secrets. The protocol modules read and write it; they reach the
 * record layer only through `RecordPort` (key changes, the compatibility CCS).
 */
import type { CertificateCompressionName } from '../cert-compression.js';
import type { GroupName, KeyPair, SignatureSchemeName } from '../crypto/provider.js';
import type { KeyBlock } from '../crypto/prf.js';
import type { PskOffer } from './external-psk.js';
import type { TLSSession } from './session.js';
import type { CertifiedKey, ClientOptions, ResolvedCommon, ServerOptions } from '../config.js';
import type { CipherSuiteInfo, SrtpProfileName } from '../messages/constants.js';
import type { AlertName, TLSError } from '../errors.js';
import type { MessageOf } from '../messages/handshake.js';
import type { Certificate } from '../x509/certificate.js';
import { Transcript } from './transcript.js';
import type { Side } from './states.js';

export interface RecordPort {
  /** Switch reading to `secret` (TLS 1.3 traffic secret). Fails if a handshake message straddles the change. */
  setReadSecret(secret: Uint8Array): void;
  setWriteSecret(secret: Uint8Array): void;
  /** TLS 1.2: switch to explicit keys (after ChangeCipherSpec). */
  setReadKeys12(key: Uint8Array, iv: Uint8Array): void;
  setWriteKeys12(key: Uint8Array, iv: Uint8Array): void;
  /** Send the dummy ChangeCipherSpec of middlebox compatibility mode, once. */
  sendCompatibilityCCS(): void;
  keylog(label: string, secret: Uint8Array): void;
  /** Send a warning-level alert and carry on (TLS 1.2 no_renegotiation). */
  sendWarning(alert: AlertName): void;
}

/** What has been agreed, as the API reports it (getProtocol, getCipher, alpnProtocol, …). */
export interface Negotiated {
  version?: 'TLSv1.3' | 'TLSv1.2';
  suite?: CipherSuiteInfo;
  group?: GroupName;
  signatureScheme?: SignatureSchemeName;
  alpnProtocol?: string;
  servername?: string;
  peerCertificates: Certificate[];
  helloRetried: boolean;
  /** Whether the peer authenticated with a certificate we checked (false when verification was skipped). */
  peerVerified: boolean;
  /** DTLS-SRTP protection profile agreed on (RFC 5764), if any. */
  srtpProfile?: SrtpProfileName;
  /** Server: the PSK identity the client authenticated with (TLS 1.2 PSK suites). */
  pskIdentity?: string;
  /** Why the peer's certificate was not trusted, when rejectUnauthorized: false let it through. */
  authorizationError?: TLSError;
}

/** TLS 1.2 state between the hellos and Finished. */
export interface Tls12State {
  clientRandom: Uint8Array;
  serverRandom: Uint8Array;
  /** The (EC)DHE shared secret: TLS 1.2's pre-master secret. */
  preMaster?: Uint8Array;
  master?: Uint8Array;
  keys?: KeyBlock;
  certificateRequested?: { schemes: number[] };
  /** The peer's public value (server: from ClientKeyExchange). */
  peerPublic?: Uint8Array;
  ourPublic?: Uint8Array;
  /** The session ID the server gave (client) or assigned (server). */
  sessionId?: Uint8Array;
  /** The server's PSK identity hint (RFC 4279). */
  pskHint?: Uint8Array;
  /** The server promised a NewSessionTicket (empty session_ticket in ServerHello). */
  ticketPromised?: boolean;
  /** A ticket received in this handshake (client). */
  newTicket?: { ticket: Uint8Array; lifetime: number };
}

/**
 * The TLS 1.3 key schedule's secrets. Those only the handshake uses are plain fields (and
 * are wiped when it ends). The four a connection keeps for its lifetime — both application
 * traffic secrets (KeyUpdate), the exporter master secret and the resumption master
 * secret (tickets) — share one buffer: setting one copies it into its slot and wipes the
 * array given (the store owns the secret from then on; a KeyUpdate overwrites the old
 * generation in place); reading one gives a fresh view of its slot, to use at once.
 */
export class Secrets {
  early?: Uint8Array = undefined;
  handshake?: Uint8Array = undefined;
  master?: Uint8Array = undefined;
  clientHandshake?: Uint8Array = undefined;
  serverHandshake?: Uint8Array = undefined;
  /** Slots of `size` bytes each, in the order of LASTING; allocated by the first one set. */
  private store: Uint8Array | undefined = undefined;
  private size = 0;
  /** Which slots hold a secret (bit i: LASTING[i]). */
  private held = 0;

  get clientApplication(): Uint8Array | undefined {
    return this.read(0);
  }
  set clientApplication(v: Uint8Array | undefined) {
    this.write(0, v);
  }
  get serverApplication(): Uint8Array | undefined {
    return this.read(1);
  }
  set serverApplication(v: Uint8Array | undefined) {
    this.write(1, v);
  }
  get exporter(): Uint8Array | undefined {
    return this.read(2);
  }
  set exporter(v: Uint8Array | undefined) {
    this.write(2, v);
  }
  get resumption(): Uint8Array | undefined {
    return this.read(3);
  }
  set resumption(v: Uint8Array | undefined) {
    this.write(3, v);
  }

  private read(slot: number): Uint8Array | undefined {
    if (!(this.held & (1 << slot))) return undefined;
    return this.store!.subarray(slot * this.size, (slot + 1) * this.size);
  }

  private write(slot: number, v: Uint8Array | undefined): void {
    if (v === undefined) {
      if (this.held & (1 << slot)) this.store!.fill(0, slot * this.size, (slot + 1) * this.size);
      this.held &= ~(1 << slot);
      return;
    }
    if (!this.store) {
      this.size = v.length;
      this.store = new Uint8Array(LASTING_SLOTS * v.length);
    }
    // Every secret of one connection comes from one hash, so they all have its length.
    if (v.length !== this.size) throw new Error(`secret of ${v.length} bytes where ${this.size} were expected`);
    this.store.set(v, slot * this.size);
    v.fill(0);
    this.held |= 1 << slot;
  }

  /** Wipe and forget every secret. */
  wipeAll(): void {
    for (const v of [this.early, this.handshake, this.master, this.clientHandshake, this.serverHandshake]) v?.fill(0);
    this.early = this.handshake = this.master = this.clientHandshake = this.serverHandshake = undefined;
    this.store?.fill(0);
    this.store = undefined;
    this.held = 0;
  }
}

const LASTING_SLOTS = 4;

export interface ClientHelloState {
  random: Uint8Array;
  sessionId: Uint8Array;
  /** Our key pairs, by group, for the shares we sent. */
  keyShares: Map<GroupName, KeyPair>;
  /** Extension types we sent: a server may only answer these (RFC 8446 4.2). */
  offeredExtensions: Set<number>;
  cookie?: Uint8Array;
  /** Cipher suite named by a HelloRetryRequest; ServerHello must repeat it. */
  hrrSuite?: number;
  certificateRequested?: { context: Uint8Array; schemes: number[] };
  /** DTLS: the cookie from HelloVerifyRequest, echoed in the second ClientHello. */
  dtlsCookie?: Uint8Array;
  /** The session we offer to resume, if any. */
  session?: TLSSession;
  /** The PSK we put in pre_shared_key (the session's, or an external one), if any. */
  pskOffer?: PskOffer;
  /** The PSK modes we offered. */
  pskModes?: number[];
}

export interface ServerHelloState {
  clientRandom?: Uint8Array;
  sessionId: Uint8Array;
  peerShare?: Uint8Array;
  cookie?: Uint8Array;
  clientSchemes: number[];
  clientOfferedSni: boolean;
  clientRecordSizeLimit?: number;
  /** The algorithm to compress our Certificate with, if the client asked for one we have (RFC 8879). */
  certificateCompression?: CertificateCompressionName;
  certified?: CertifiedKey;
  /** The client sent psk_key_exchange_modes, so it can use tickets. */
  clientPskModes?: number[];
  /** Resumption accepted: the PSK, its identity index, and whether (EC)DHE is used too. */
  psk?: { secret: Uint8Array; identity: number; dhe: boolean };
  /** TLS 1.2: the client sent renegotiation_info or its SCSV (so we answer with ours, RFC 5746 3.6). */
  clientSecureRenegotiation?: boolean;
  /** TLS 1.2: the client sent ec_point_formats (so we may answer it). */
  clientPointFormats?: boolean;
  /** TLS 1.2: our ECDHE key pair from ServerKeyExchange. */
  ephemeral?: KeyPair;
}

/** A client's receiver of tickets (TLS 1.3 NewSessionTicket as received) and resumable sessions. */
export interface SessionSink {
  ticket?(ticket: MessageOf<'new_session_ticket'>): void;
  session(session: TLSSession): void;
}

export class HandshakeContext {
  /** Replaced by RELEASED_TRANSCRIPT when the handshake is over (releaseTranscript). */
  transcript: Transcript;
  readonly negotiated: Negotiated = { peerCertificates: [], helloRetried: false, peerVerified: false };
  readonly secrets = new Secrets();
  client?: ClientHelloState;
  server?: ServerHelloState;
  tls12?: Tls12State;
  /** Our random and the peer's, for keylog lines. */
  clientRandom?: Uint8Array;
  /** Server: the client's Certificate arrived / its CertificateVerify checked out. */
  clientCertificateSeen = false;
  clientCertificateVerified = false;
  /** This is a DTLS 1.2 handshake (TLS 1.2 flows, DTLS version numbers, cookie exchange). */
  dtls = false;
  /** This handshake resumed a session (no certificates were exchanged). */
  resumed = false;
  /** Server: tickets sent so far on this connection. */
  ticketsSent = 0;
  /** Client: where received NewSessionTickets and the sessions made of them go. */
  sessionSink?: SessionSink;
  /** The peer's last KeyUpdate asked for one back. */
  peerRequestedUpdate = false;
  /** The application asked us to request a KeyUpdate from the peer. */
  requestPeerUpdate = false;
  /** (EC)DHE result between processing ServerHello and deriving secrets from it. */
  pendingSharedSecret?: Uint8Array;
  /** Peer's record_size_limit (RFC 8449), if it sent one. */
  peerRecordSizeLimit?: number;

  constructor(
    readonly side: Side,
    readonly common: ResolvedCommon,
    readonly options: ClientOptions | ServerOptions,
    readonly records: RecordPort,
  ) {
    this.transcript = new Transcript(common.provider);
  }

  get provider() {
    return this.common.provider;
  }

  get clientOptions(): ClientOptions {
    return this.options as ClientOptions;
  }

  get serverOptions(): ServerOptions {
    return this.options as ServerOptions;
  }

  get suite(): CipherSuiteInfo {
    const s = this.negotiated.suite;
    if (!s) throw new Error('cipher suite not negotiated yet');
    return s;
  }
}
