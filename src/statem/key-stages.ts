/**
 * The TLS 1.3 key schedule (RFC 8446 7.1) as typed stages, one class per stage (as rustls's
 * KeySchedule types): a stage holds the secret it derives from and can only be turned
 * into the next one, so nothing of a later stage exists before its input does, and each
 * stage's secret is wiped once the next is made from it.
 *
 *   EarlyStage      PSK (or zeros)  → binder_key, client_early_traffic_secret
 *   HandshakeStage  + (EC)DHE       → {client,server}_handshake_traffic_secret
 *   TrafficStage    + 0             → {client,server}_application_traffic_secret_N,
 *                                     exporter_master_secret, resumption_master_secret
 *
 * The handshake keeps the Handshake and Traffic stages as its data (`handshakeKeys`,
 * `trafficKeys`): a state that uses one says so in its row's `needs`. The Traffic stage
 * stays with the connection for KeyUpdate, the exporter and tickets. Each stage carries
 * the HKDF-Expand-Label prefix its secrets are made with ("tls13 "; DTLS 1.3's "dtls13").
 */
import { deriveSecret, earlySecret, handshakeSecret, masterSecret, nextTrafficSecret, type LabelPrefix } from '../crypto/keyschedule.js';
import { hashLength, type CryptoProvider, type HashName } from '../crypto/provider.js';
import { wipe } from '../util/bytes.js';
import type { Side } from './declare.js';
import type { BinderLabel } from './external-psk.js';

/**
 * Early Secret = HKDF-Extract(0, PSK), or of zeros without a PSK. The label prefix has no
 * default: each key schedule says whether it is TLS 1.3's or DTLS 1.3's where it starts,
 * and every later stage carries it on.
 */
export class EarlyStage {
  private readonly secret: Uint8Array;

  constructor(
    private readonly provider: CryptoProvider,
    readonly hash: HashName,
    psk: Uint8Array | undefined,
    readonly prefix: LabelPrefix,
  ) {
    this.secret = earlySecret(provider, hash, psk);
  }

  /** binder_key: "res binder" for a ticket's PSK, "ext binder" for an external one, "imp binder" for an imported one (RFC 9258 5.2). */
  binderKey(label: BinderLabel): Uint8Array {
    const p = this.provider;
    return deriveSecret(p, this.hash, this.secret, label, p.hash(this.hash, new Uint8Array(0)), this.prefix);
  }

  /** client_early_traffic_secret over the ClientHello. */
  clientEarlyTraffic(helloHash: Uint8Array): Uint8Array {
    return deriveSecret(this.provider, this.hash, this.secret, 'c e traffic', helloHash, this.prefix);
  }

  /** The Handshake stage, from the (EC)DHE shared secret (zeros for psk_ke); this stage is spent. */
  handshake(sharedSecret: Uint8Array | undefined, transcriptHash: Uint8Array): HandshakeStage {
    const secret = handshakeSecret(this.provider, this.hash, this.secret, sharedSecret ?? new Uint8Array(hashLength[this.hash]), this.prefix);
    this.wipe();
    return new HandshakeStage(this.provider, this.hash, secret, transcriptHash, this.prefix);
  }

  wipe(): void {
    this.secret.fill(0);
  }
}

/** Handshake Secret and both handshake traffic secrets, over ClientHello..ServerHello. */
export class HandshakeStage {
  readonly clientTraffic: Uint8Array;
  readonly serverTraffic: Uint8Array;

  constructor(
    private readonly provider: CryptoProvider,
    readonly hash: HashName,
    private readonly secret: Uint8Array,
    transcriptHash: Uint8Array,
    readonly prefix: LabelPrefix,
  ) {
    this.clientTraffic = deriveSecret(provider, hash, secret, 'c hs traffic', transcriptHash, prefix);
    this.serverTraffic = deriveSecret(provider, hash, secret, 's hs traffic', transcriptHash, prefix);
  }

  /** The handshake traffic secret `sender` protects its flight with (its Finished key comes from it). */
  traffic(sender: Side): Uint8Array {
    return sender === 'client' ? this.clientTraffic : this.serverTraffic;
  }

  /**
   * The Traffic stage, over ClientHello..server Finished. The Handshake Secret is wiped; the
   * handshake traffic secrets stay for the client's flight, until the handshake ends.
   */
  master(transcriptHash: Uint8Array): TrafficStage {
    const master = masterSecret(this.provider, this.hash, this.secret, this.prefix);
    this.secret.fill(0);
    return new TrafficStage(this.provider, this.hash, master, transcriptHash, this.prefix);
  }

  wipe(): void {
    wipe(this.secret, this.clientTraffic, this.serverTraffic);
  }
}

/**
 * Master Secret and what a connection keeps for its lifetime: the application traffic
 * secrets (the current generation; KeyUpdate moves each direction on), the exporter master
 * secret and, once the client's Finished is in the transcript, the resumption master
 * secret. The Master Secret itself is wiped as soon as the resumption secret is made.
 *
 * The four lasting secrets sit side by side in one buffer, each in its slot: one
 * ArrayBuffer rather than four is about 620 bytes less per idle side (bench/idle-bytes-ab.ts:
 * 360 B against 984 B as four arrays), some 13% of an idle connection pair. A getter gives
 * a view of its slot, to use at once: a KeyUpdate overwrites the slot in place.
 */
export class TrafficStage {
  private readonly store: Uint8Array;
  private readonly size: number;
  private master: Uint8Array | undefined;
  private resumed = false;

  constructor(
    private readonly provider: CryptoProvider,
    readonly hash: HashName,
    master: Uint8Array,
    transcriptHash: Uint8Array,
    readonly prefix: LabelPrefix,
  ) {
    this.master = master;
    this.size = hashLength[hash];
    this.store = new Uint8Array(SLOTS * this.size);
    this.put(CLIENT_APPLICATION, deriveSecret(provider, hash, master, 'c ap traffic', transcriptHash, prefix));
    this.put(SERVER_APPLICATION, deriveSecret(provider, hash, master, 's ap traffic', transcriptHash, prefix));
    this.put(EXPORTER, deriveSecret(provider, hash, master, 'exp master', transcriptHash, prefix));
  }

  get clientApplication(): Uint8Array {
    return this.slot(CLIENT_APPLICATION);
  }

  get serverApplication(): Uint8Array {
    return this.slot(SERVER_APPLICATION);
  }

  get exporter(): Uint8Array {
    return this.slot(EXPORTER);
  }

  /** Made by the client's Finished; a server drops it once its tickets are sent. */
  get resumption(): Uint8Array | undefined {
    return this.resumed ? this.slot(RESUMPTION) : undefined;
  }

  /** The next generation of `sender`'s application traffic secret (RFC 8446 7.2), in place of the one it replaces. */
  update(sender: Side): Uint8Array {
    const slot = sender === 'client' ? CLIENT_APPLICATION : SERVER_APPLICATION;
    this.put(slot, nextTrafficSecret(this.provider, this.hash, this.slot(slot), this.prefix));
    return this.slot(slot);
  }

  /** resumption_master_secret over ClientHello..client Finished; the Master Secret is wiped. */
  deriveResumption(transcriptHash: Uint8Array): Uint8Array {
    if (!this.master) throw new Error('the resumption master secret is derived once');
    this.put(RESUMPTION, deriveSecret(this.provider, this.hash, this.master, 'res master', transcriptHash, this.prefix));
    this.resumed = true;
    this.master.fill(0);
    this.master = undefined;
    return this.slot(RESUMPTION);
  }

  /** A server sends its tickets before the handshake ends: it keeps no resumption secret after. */
  dropResumption(): void {
    this.master?.fill(0);
    this.master = undefined;
    this.slot(RESUMPTION).fill(0);
    this.resumed = false;
  }

  private slot(slot: number): Uint8Array {
    return this.store.subarray(slot * this.size, (slot + 1) * this.size);
  }

  /** Copy `secret` into its slot and wipe the array it came in: the stage owns it from here. */
  private put(slot: number, secret: Uint8Array): void {
    this.store.set(secret, slot * this.size);
    secret.fill(0);
  }
}

const CLIENT_APPLICATION = 0;
const SERVER_APPLICATION = 1;
const EXPORTER = 2;
const RESUMPTION = 3;
const SLOTS = 4;
