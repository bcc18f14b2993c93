/**
 * Everything one handshake knows: configuration, what has been negotiated, the transcript
 * and the key schedule's secrets. The states read and write it; they reach the record
 * layer only through `RecordPort` (key changes, the compatibility CCS).
 *
 * It is typed per side (`ClientHandshake`, `ServerHandshake`: each with its own options
 * and hello state) and per phase: what exists only from some point of the handshake on
 * (the hello state, the suite, TLS 1.2's state, the key schedule's stages, the transcript
 * until the end) is optional data here. A state row says which of it its work `needs`
 * and `creates`: the work is typed with that data present (declare.ts), and the core
 * checks it when it enters the state (`holds`), so asking too early is internal_error,
 * never a TypeError. `need()` is left for data optional within a phase (a PSK, ECH's
 * inner hello, the group of an (EC)DHE exchange). `release()` drops what only the
 * handshake needed, once it is over.
 */
import type { EchServerState } from './ech-server.js';
import type { EchClientState, EchGreaseState } from './ech-client.js';
import type { CertificateCompressionName } from '../cert-compression-codecs.js';
import type { ConnectionIds } from '../record/dtls-cid.js';
import type { GroupName, KeyPair, SignatureSchemeName } from '../crypto/provider.js';
import type { LabelPrefix } from '../crypto/keyschedule.js';
import type { PskOffer } from './external-psk.js';
import type { OfferedTicket } from './early-data.js';
import type { TLSSession } from './session.js';
import type { CertifiedKey, ClientOptions, ResolvedCommon, ServerOptions } from '../config.js';
import type { CipherSuiteInfo, SrtpProfileName } from '../messages/constants.js';
import type { AlertName } from '../errors.js';
import type { MessageOf } from '../messages/handshake.js';
import type { Certificate } from '../x509/certificate.js';
import { TLSError } from '../errors.js';
import { variantOf, type ProtocolVariant, type Transport } from '../protocol-variant.js';
import { wipe } from '../util/bytes.js';
import { internCertificate } from '../x509/intern.js';
import { Transcript } from './transcript.js';
import type { Side } from './declare.js';
import type { HandshakeStage, TrafficStage } from './key-stages.js';
import type { Tls12KeyStage } from './key-stage12.js';

/** A state asked for what its phase does not have yet (or any more): our bug, not the peer's. */
export function missing(what: string): never {
  throw new TLSError('internal_error', `${what} is not available in this phase of the handshake`, { code: 'ERR_TLS_INVALID_STATE' });
}

/** `value`, which this phase must have. */
export function need<T>(value: T | undefined, what: string): T {
  return value === undefined ? missing(what) : value;
}

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
  /**
   * TLS 1.3 0-RTT under client_early_traffic_secret, up to `maxEarlyDataSize` bytes: a
   * client starts sending its early data; a server starts reading it (until EndOfEarlyData).
   * `suite` is the ticket's (a client has not heard the server's choice yet).
   */
  earlyData(secret: Uint8Array, maxEarlyDataSize: number, suite: CipherSuiteInfo): void;
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
  /** Encrypted Client Hello (RFC 9849): whether it was accepted, when it was offered. */
  ech?: 'accepted' | 'rejected';
  /** Whether the peer authenticated with a certificate we checked (false when verification was skipped). */
  peerVerified: boolean;
  /** DTLS-SRTP protection profile agreed on (RFC 5764), if any. */
  srtpProfile?: SrtpProfileName;
  /** DTLS 1.2 connection IDs (RFC 9146), when both sides sent the extension. */
  connectionIds?: ConnectionIds;
  /** Server: the PSK identity the client authenticated with (TLS 1.2 PSK suites). */
  pskIdentity?: string;
  /** Why the peer's certificate was not trusted, when rejectUnauthorized: false let it through. */
  authorizationError?: TLSError;
  /** TLS 1.3 0-RTT, when the client offered it: whether the server took it. */
  earlyData?: 'accepted' | 'rejected';
}

/** TLS 1.2 state between the hellos and Finished. */
export interface Tls12State {
  clientRandom: Uint8Array;
  serverRandom: Uint8Array;
  /** The (EC)DHE shared secret: TLS 1.2's pre-master secret. */
  preMaster?: Uint8Array;
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

export interface ClientHelloState {
  random: Uint8Array;
  /** Encrypted Client Hello, when the options give a config (RFC 9849). */
  ech?: EchClientState;
  /** GREASE ECH instead, when asked for and no config is given. */
  echGrease?: EchGreaseState;
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
  /** The PSKs we put in pre_shared_key (the session's, or external ones), in order. */
  pskOffers: PskOffer[];
  /** The one the server selected (before its answer: the first offered), if any. */
  pskOffer?: PskOffer;
  /** The PSK modes we offer. */
  pskModes: number[];
  /** We offered early data: at most this many bytes of it (the ticket's max_early_data_size). */
  earlyDataLimit?: number;
}

/** What a server's HelloRetryRequest named: its suite, and the group it asked a share of. */
export interface RetryRequest {
  suite: CipherSuiteInfo;
  /** None when the HRR only carried a DTLS 1.3 cookie. */
  group?: GroupName;
  /** When it named no group: the group of the client's share the server took as it was, which ClientHello2 keeps. */
  taken?: GroupName;
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
  psk?: { secret: Uint8Array; identity: number; dhe: boolean; ticket?: OfferedTicket };
  /** TLS 1.2: the client sent renegotiation_info or its SCSV (so we answer with ours, RFC 5746 3.6). */
  clientSecureRenegotiation?: boolean;
  /** TLS 1.2: the client sent ec_point_formats (so we may answer it). */
  clientPointFormats?: boolean;
  /** TLS 1.2: our ECDHE key pair from ServerKeyExchange. */
  ephemeral?: KeyPair;
}

/** A client's receiver of tickets (TLS 1.3 NewSessionTicket as received) and resumable sessions. */
export interface SessionSink {
  ticket(ticket: MessageOf<'new_session_ticket'>): void;
  session(session: TLSSession): void;
}

export abstract class HandshakeContext {
  abstract readonly side: Side;
  abstract readonly options: ClientOptions | ServerOptions;
  /** The handshake's messages and running hash, until the handshake is over (release). */
  transcript?: Transcript;
  readonly negotiated: Negotiated = { peerCertificates: [], helloRetried: false, peerVerified: false };
  /** TLS 1.3: the key schedule's Handshake stage, from ServerHello until the handshake is over. */
  handshakeKeys?: HandshakeStage = undefined;
  /** TLS 1.3: its Traffic stage, from the server's Finished on, kept for the connection's life. */
  trafficKeys?: TrafficStage = undefined;
  /** TLS 1.2's state, from the hello that chose TLS 1.2 on. */
  tls12?: Tls12State = undefined;
  /** TLS 1.2's key stage: master secret and key block, from the key exchange (or the hello that resumed) on. */
  tls12Keys?: Tls12KeyStage = undefined;
  /** Our random and the peer's, for keylog lines. */
  clientRandom?: Uint8Array;
  /** Server: the client's Certificate arrived / its CertificateVerify checked out. */
  clientCertificateSeen = false;
  clientCertificateVerified = false;
  /** DTLS: the CID we ask the peer to use (RFC 9146), from the options or, on a server, per association. */
  connectionId?: Uint8Array;
  /** This handshake resumed a session (no certificates were exchanged). */
  resumed = false;
  /** Server: tickets sent so far on this connection. */
  ticketsSent = 0;
  /** The peer's last KeyUpdate asked for one back. */
  peerRequestedUpdate = false;
  /** The application asked us to request a KeyUpdate from the peer. */
  requestPeerUpdate = false;
  /** (EC)DHE result between processing ServerHello and deriving secrets from it. */
  pendingSharedSecret?: Uint8Array;
  /** Peer's record_size_limit (RFC 8449), if it sent one. */
  peerRecordSizeLimit?: number;
  /** ECH: where the ClientHelloInner behind the outer hello just sent or received is shown (the `message` event). */
  showInnerHello?: (direction: 'recv' | 'send', hello: MessageOf<'client_hello'>, length: number) => void;

  constructor(
    readonly common: ResolvedCommon,
    readonly records: RecordPort,
    /** A byte stream (TLS) or datagrams (DTLS): with the negotiated version, the protocol variant. */
    readonly transport: Transport,
  ) {
    this.transcript = new Transcript(common.provider);
  }

  get provider() {
    return this.common.provider;
  }

  // ---- handshake data of some phases only ----------------------------------------------
  // A state names those it reads in its row's `needs`: its work sees them as present, and
  // the core checks them once, when it enters the state (declare.ts, statem.ts).

  /** The cipher suite, once a hello chose it. */
  get suite(): CipherSuiteInfo | undefined {
    return this.negotiated.suite;
  }

  /** The key exchange group, once chosen. */
  get group(): GroupName | undefined {
    return this.negotiated.group;
  }

  /** The signature scheme we sign with, once chosen. */
  get signatureScheme(): SignatureSchemeName | undefined {
    return this.negotiated.signatureScheme;
  }

  /** The peer's end-entity certificate, which authenticated it. */
  get peerLeaf(): Certificate | undefined {
    return this.negotiated.peerCertificates.at(0);
  }

  /** TLS 1.3: the resumption master secret, from the client's Finished on (a server's goes once its tickets are sent). */
  get resumptionSecret(): Uint8Array | undefined {
    return this.trafficKeys?.resumption;
  }

  /** Whether the handshake data `name` is there now (the core's check of a state's `needs`). */
  holds(name: string): boolean {
    return name in this && Reflect.get(this, name) !== undefined;
  }

  /** The variant this handshake runs, once the version is negotiated. */
  get variant(): ProtocolVariant | undefined {
    const version = this.negotiated.version;
    return version && variantOf(this.transport, version);
  }

  get datagram(): boolean {
    return this.transport === 'datagram';
  }

  /**
   * HKDF-Expand-Label's prefix: DTLS only ever runs TLS 1.3's key schedule as DTLS 1.3
   * (RFC 9147 5.9). It goes into the key schedule once, at its Early stage; the later
   * stages, and what derives from them, carry it on.
   */
  get labelPrefix(): LabelPrefix {
    return this.transport === 'datagram' ? 'dtls13' : 'tls13 ';
  }

  /**
   * What only the handshake needed goes once it is over: an idle connection keeps its
   * traffic keys and what the API reports, little else.
   *  - The transcript (kept messages and the running hash): nothing after the handshake
   *    hashes it (DTLS resends recorded flights).
   *  - The TLS 1.3 Handshake stage (handshake secret and handshake traffic secrets): wiped.
   *    KeyUpdate, the exporter and tickets use the Traffic stage; a server sends its
   *    tickets before the handshake ends, so it wipes the resumption secret too (a client
   *    keeps it for tickets still to come).
   *  - Our ephemeral (EC)DHE private keys: wiped (forward secrecy does not wait for GC).
   *  - The hello state (offered extensions, key shares, the peer's lists) and the client
   *    random (only keylog lines used it, and the handshake wrote the last of them).
   *    TLS 1.2 keeps its randoms and master secret for the exporter, not its key block.
   *  - The peer's certificates: replaced by the same certificates parsed earlier, when
   *    this process already holds them (identical DER), so that many connections to one
   *    server keep one parsed chain between them, not one each.
   */
  release(): void {
    this.transcript = undefined;
    this.handshakeKeys?.wipe();
    this.handshakeKeys = undefined;
    if (this.side === 'server') this.trafficKeys?.dropResumption();
    this.releaseHello();
    this.clientRandom = undefined;
    this.pendingSharedSecret = undefined;
    const t = this.tls12;
    if (t) {
      wipe(t.preMaster);
      t.preMaster = t.peerPublic = t.ourPublic = t.pskHint = t.certificateRequested = t.newTicket = undefined;
    }
    this.tls12Keys?.dropKeyBlock();
    const certs = this.negotiated.peerCertificates;
    if (certs.length > 0) this.negotiated.peerCertificates = certs.map(internCertificate);
  }

  /** Wipe the side's private keys in its hello state and drop the state. */
  protected abstract releaseHello(): void;
}

/** What each side adds: its own options, and the state of its hello from the first one until the handshake is over. */
abstract class SideHandshake<Options extends ClientOptions | ServerOptions, Hello> extends HandshakeContext {
  /** The state of our hello and the peer's, from the first hello until the handshake is over. */
  hello?: Hello = undefined;

  constructor(
    common: ResolvedCommon,
    readonly options: Options,
    records: RecordPort,
    transport: Transport,
  ) {
    super(common, records, transport);
  }
}

export class ClientHandshake extends SideHandshake<ClientOptions, ClientHelloState> {
  readonly side = 'client';

  constructor(
    common: ResolvedCommon,
    options: ClientOptions,
    records: RecordPort,
    transport: Transport,
    /** Where received NewSessionTickets and the sessions made of them go. */
    readonly sessionSink: SessionSink,
  ) {
    super(common, options, records, transport);
  }

  protected releaseHello(): void {
    const shares = this.hello?.keyShares;
    if (shares) {
      for (const pair of shares.values()) wipe(pair.privateKey);
      shares.clear();
    }
    this.hello = undefined;
  }
}

export class ServerHandshake extends SideHandshake<ServerOptions, ServerHelloState> {
  /** Encrypted Client Hello: what became of the client's offer (kept across a HelloRetryRequest, dropped with the hello state). */
  echState?: EchServerState;
  /**
   * What our HelloRetryRequest named, once it was sent. The second ClientHello is held to it
   * (RFC 8446 4.1.2, 4.1.4), whether this handshake sent it or a stateless cookie exchange did
   * before it began (RFC 9147 5.1, with only the cookie to say what it named).
   */
  retryRequest?: RetryRequest;
  readonly side = 'server';

  /** Our certificate and key, chosen while processing the ClientHello (none when resuming or with a PSK suite). */
  get certified(): CertifiedKey | undefined {
    return this.hello?.certified;
  }
  /** Whether a ClientHello was processed already (the one before a HelloRetryRequest). */
  get helloSeen(): boolean {
    return this.hello !== undefined;
  }
  /** The cookie our HelloRetryRequest sent, if any. */
  get helloCookie(): Uint8Array | undefined {
    return this.hello?.cookie;
  }

  protected releaseHello(): void {
    const s = this.hello;
    if (s?.ephemeral) wipe(s.ephemeral.privateKey);
    if (s?.psk) wipe(s.psk.secret);
    this.hello = undefined;
    this.retryRequest = undefined;
    // The HPKE context that opened the inner hello, and the inner hello itself: the handshake's alone (negotiated.ech keeps the outcome).
    this.echState = undefined;
  }
}

export type AnyHandshake = ClientHandshake | ServerHandshake;
