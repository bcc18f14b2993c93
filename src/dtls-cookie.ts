/**
 * The server's stateless cookie exchange (RFC 6347 4.2.1): before any association exists,
 * a ClientHello without a valid cookie is answered with a HelloVerifyRequest carrying
 * HMAC(secret, client address, ClientHello), and nothing is remembered. Only a ClientHello
 * that echoes a cookie we made for that address (under the current or the previous secret)
 * gets a connection. The answer is never larger than the datagram that asked for it, so the
 * server cannot be used to amplify a spoofed flood.
 *
 * When the server speaks DTLS 1.3 (as by default), a ClientHello that offers DTLS 1.3 gets
 * DTLS 1.3's exchange instead: a HelloRetryRequest with a cookie (dtls13-stateless-retry.ts), and
 * the accept verdict carries what the association needs to rebuild its transcript. A ClientHello
 * that offers only DTLS 1.2 still gets a HelloVerifyRequest.
 */
import { resolveCommon, type ResolvedCommon, type ServerOptions } from './config.js';
import type { CryptoProvider } from './crypto/provider.js';
import { chooseRetry, helloHash, makeRetryCookie, openRetryCookie, statelessHelloRetryRequest } from './dtls13-stateless-retry.js';
import { ContentType, HandshakeType, ProtocolVersion } from './messages/constants.js';
import { Extensions, decodeHandshake, encodeHandshake, type MessageOf } from './messages/handshake.js';
import { encodeDtlsRecord, parseDatagram } from './record/dtls-record-layer.js';
import { fragmentMessage, splitFragments } from './statem/dtls-flight.js';
import type { DtlsServerStart } from './dtls-connection.js';
import { HelloFragments, type WholeHello } from './dtls-hello-fragments.js';
import { concat, constantTimeEqual, utf8 } from './util/bytes.js';

export type CookieVerdict =
  /** Start an association (`DtlsConnection.server(options, verdict)`): where the server's numbering starts. */
  | ({ kind: 'accept' } & DtlsServerStart)
  /** Send this datagram back and forget the client. */
  | { kind: 'verify'; datagram: Uint8Array }
  /** Not a ClientHello we can judge (malformed, not a handshake, a fragment of one still incomplete): ignore it. */
  | { kind: 'drop' };

export interface CookieGuardOptions {
  /** Rotate the secret after this many ms (default 5 minutes); a cookie is good for up to two periods. */
  rotateMs?: number;
  now?: () => number;
  random?: (n: number) => Uint8Array;
  /**
   * The server's options (default: the engine's defaults, DTLS 1.3 and 1.2): its versions decide
   * whether a DTLS 1.3 ClientHello gets a HelloRetryRequest (with maxVersion 'TLSv1.2' every
   * ClientHello gets a HelloVerifyRequest), its suites, groups and imported PSKs (their hashes)
   * choose the HelloRetryRequest.
   */
  server?: Pick<ServerOptions, 'cipherSuites' | 'groups' | 'minVersion' | 'maxVersion' | 'provider' | 'importedPsk' | 'pskCallback'>;
}

export class DtlsCookieGuard {
  private secrets: { key: Uint8Array; since: number }[] = [];
  private readonly rotateMs: number;
  private readonly now: () => number;
  private readonly random: (n: number) => Uint8Array;
  /** The server's DTLS 1.3 choices, when it speaks DTLS 1.3. */
  private readonly common13: ResolvedCommon | undefined;
  /** The server's imported PSKs (RFC 9258): their hashes can decide the suite. */
  private readonly psk: Pick<ServerOptions, 'importedPsk' | 'pskCallback'>;
  /** ClientHellos that came in fragments, being put together (bounded). */
  private readonly fragments = new HelloFragments();

  constructor(
    private readonly provider: CryptoProvider,
    options: CookieGuardOptions = {},
  ) {
    this.rotateMs = options.rotateMs ?? 5 * 60_000;
    this.now = options.now ?? (() => Date.now());
    this.random = options.random ?? ((n) => provider.random(n));
    const common = resolveCommon(options.server ?? {}, provider);
    this.common13 = common.versions.includes('TLSv1.3') ? common : undefined;
    this.psk = { importedPsk: options.server?.importedPsk, pskCallback: options.server?.pskCallback };
  }

  private keys(): Uint8Array[] {
    const now = this.now();
    if (this.secrets.length === 0 || now - this.secrets[0]!.since >= this.rotateMs) {
      this.secrets.unshift({ key: this.random(32), since: now });
      this.secrets.length = Math.min(this.secrets.length, 2);
    }
    return this.secrets.map((s) => s.key);
  }

  private cookieFor(key: Uint8Array, address: string, hello: MessageOf<'client_hello'>): Uint8Array {
    // Everything the client sends twice: the ClientHello with its cookie field emptied, and
    // without a DTLS 1.3 client's pre_shared_key, whose binder covers the cookie field and
    // whose ticket age moves on between the two hellos (the association checks the binder).
    const extensions = new Extensions('client_hello', hello.extensions.list.filter((e) => e.name !== 'pre_shared_key'));
    const bound = encodeHandshake({ ...hello, cookie: new Uint8Array(0), extensions }, 'dtls12');
    return this.provider.hmac('sha256', key, concat(utf8.encode(address), new Uint8Array([0]), bound));
  }

  /** Judge the first datagram from `address` (e.g. "192.0.2.1:5684") when no association exists for it. */
  check(datagram: Uint8Array, address: string): CookieVerdict {
    const whole = this.wholeHello(datagram, address);
    if (!whole) return { kind: 'drop' };
    let hello: MessageOf<'client_hello'>;
    try {
      hello = decodeHandshake(HandshakeType.client_hello, whole.body, 'dtls12') as MessageOf<'client_hello'>;
    } catch {
      return { kind: 'drop' };
    }
    const keys = this.keys();
    const versions = hello.extensions.get('supported_versions', 'client_hello')?.versions ?? [];
    if (this.common13 && versions.includes(ProtocolVersion.DTLS1_3)) return this.check13(this.common13, whole, hello, address, keys);
    const offered = hello.cookie ?? new Uint8Array(0);
    if (offered.length > 0 && keys.some((k) => constantTimeEqual(offered, this.cookieFor(k, address, hello)))) {
      return { kind: 'accept', ...this.start(whole) };
    }
    // DTLS 1.2 servers put DTLS 1.0 in HelloVerifyRequest, whatever they will negotiate (RFC 6347 4.2.1).
    const body = encodeHandshake({ type: 'hello_verify_request', server_version: ProtocolVersion.DTLS1_0, cookie: this.cookieFor(keys[0]!, address, hello) }, 'dtls12').subarray(4);
    const [handshake] = fragmentMessage(HandshakeType.hello_verify_request, whole.messageSeq, body, body.length);
    // The record sequence number repeats the ClientHello's, so retries never collide (RFC 6347 4.2.1).
    const reply = encodeDtlsRecord(ContentType.handshake, ProtocolVersion.DTLS1_0, 0, whole.recordSeq, handshake!);
    return reply.length <= whole.datagramBytes ? { kind: 'verify', datagram: reply } : { kind: 'drop' };
  }

  /**
   * The ClientHello a datagram holds, or completes: most come whole in one fragment; one cut
   * into fragments (a small MTU, a large DTLS 1.3 hello) is put together again within the
   * bounds of HelloFragments. Anything else is nothing to judge.
   */
  private wholeHello(datagram: Uint8Array, address: string): (WholeHello & { fragmented: boolean }) | undefined {
    const records = parseDatagram(datagram).filter((r) => r.type === ContentType.handshake && r.epoch === 0);
    const first = records[0] && splitFragments(records[0].fragment).fragments[0];
    if (!first || first.msgType !== HandshakeType.client_hello) return undefined;
    if (first.fragmentOffset === 0 && first.fragmentLength === first.length) {
      return { body: first.fragment, messageSeq: first.messageSeq, recordSeq: records[0]!.seq, datagramBytes: datagram.length, fragmented: false };
    }
    let bytes = datagram.length;
    for (const record of records) {
      for (const fragment of splitFragments(record.fragment).fragments) {
        const whole = this.fragments.add(address, fragment, record.seq, bytes, this.now());
        bytes = 0;
        if (whole) return { ...whole, fragmented: true };
      }
    }
    return undefined;
  }

  /** Where the association starts; a hello that came in fragments is handed over whole (the association never saw its first fragments). */
  private start(whole: WholeHello & { fragmented: boolean }): DtlsServerStart {
    return { clientHelloSeq: whole.messageSeq, recordSeq: whole.recordSeq, ...(whole.fragmented ? { clientHello: whole.body } : {}) };
  }

  /** RFC 9147 5.1: a valid cookie in a ClientHello's cookie extension starts the association; none gets a HelloRetryRequest. */
  private check13(common: ResolvedCommon, whole: WholeHello & { fragmented: boolean }, hello: MessageOf<'client_hello'>, address: string, keys: Uint8Array[]): CookieVerdict {
    const now = this.now();
    const cookie = hello.extensions.get('cookie', 'client_hello')?.cookie;
    if (cookie) {
      const retry = openRetryCookie(this.provider, keys, address, cookie, now, 2 * this.rotateMs, common);
      // A cookie that does not open is not answered with another (RFC 8446 4.2.2 leaves it to us): the client is lying or stale.
      return retry ? { kind: 'accept', ...this.start(whole), helloRetry: retry } : { kind: 'drop' };
    }
    const choice = chooseRetry(common, hello, this.psk);
    if (!choice) return { kind: 'drop' };
    const fresh = makeRetryCookie(this.provider, keys[0]!, address, now, { ...choice, helloHash: helloHash(this.provider, choice.suite, whole.body) });
    const hrr = statelessHelloRetryRequest(choice.suite, choice.group, fresh).subarray(4);
    const [handshake] = fragmentMessage(HandshakeType.server_hello, whole.messageSeq, hrr, hrr.length);
    const reply = encodeDtlsRecord(ContentType.handshake, ProtocolVersion.DTLS1_2, 0, whole.recordSeq, handshake!);
    return reply.length <= whole.datagramBytes ? { kind: 'verify', datagram: reply } : { kind: 'drop' };
  }
}
