/**
 * Handshake messages (RFC 8446 section 4, RFC 5246 section 7.4): one declared structure
 * per message type, a framing codec (msg_type, uint24 length, body) and the two entry
 * points the engine uses, `decodeHandshake` and `encodeHandshake`.
 */
import { TLSError, unexpectedMessage } from '../errors.js';
import { Reader, Writer, equal } from '../util/bytes.js';
import { type Codec, type Infer, fixed, list, oneOf, opaque, optional, rest, struct, u16, u24, u32, u8 } from './codec.js';
import { ExtensionType, HandshakeType, HRR_RANDOM, type HandshakeTypeName, type MessageKind, handshakeTypeByCode } from './constants.js';
import { Extensions, checkPskLast, extensionsCodec, type ExtensionContext } from './extensions.js';

/** Which protocol's structure to use where TLS 1.2 and 1.3 differ (Certificate, NewSessionTicket). */
export type WireVersion = 'tls13' | 'tls12' | 'dtls12' | 'dtls13';

/** TLS 1.2's message structures (DTLS 1.2's too); DTLS 1.3 has TLS 1.3's but for the ClientHello's cookie field. */
function tls12Structures(version: WireVersion): boolean {
  return version === 'tls12' || version === 'dtls12';
}

const Random = fixed(32);
const SessionId = opaque(1, 0, 32);
const noExtensions = (context: ExtensionContext) => new Extensions(context);

/** TLS 1.2 hellos may end before the extensions block; treat that as an empty one. */
function helloExtensions(context: ExtensionContext, min: number): Codec<Extensions> {
  const inner = optional(extensionsCodec(context, min));
  return {
    read: (r) => inner.read(r) ?? noExtensions(context),
    write: (w, v) => inner.write(w, v),
  };
}

const ClientHello = struct({
  legacy_version: u16,
  random: Random,
  legacy_session_id: SessionId,
  cipher_suites: list(2, u16, 2, 2 ** 16 - 2),
  legacy_compression_methods: opaque(1, 1),
  extensions: helloExtensions('client_hello', 0),
});
/** The ClientHello fields; DTLS adds the HelloVerifyRequest cookie (RFC 6347 4.2.1). */
export type ClientHello = Infer<typeof ClientHello> & { cookie?: Uint8Array };

const DtlsClientHello = struct({
  legacy_version: u16,
  random: Random,
  legacy_session_id: SessionId,
  cookie: opaque(1),
  cipher_suites: list(2, u16, 2, 2 ** 16 - 2),
  legacy_compression_methods: opaque(1, 1),
  extensions: helloExtensions('client_hello', 0),
});

/** ServerHello and HelloRetryRequest share one structure; the random and extensions decide which it is. */
interface ServerHelloFields {
  legacy_version: number;
  random: Uint8Array;
  legacy_session_id_echo: Uint8Array;
  cipher_suite: number;
  legacy_compression_method: number;
  extensions: Extensions;
}

const ServerHelloCodec: Codec<ServerHelloFields> = {
  read(r) {
    const legacy_version = r.u16();
    const random = r.bytes(32);
    const legacy_session_id_echo = SessionId.read(r);
    const cipher_suite = r.u16();
    const legacy_compression_method = r.u8();
    let context: ExtensionContext = 'server_hello_tls12';
    if (equal(random, HRR_RANDOM)) context = 'hello_retry_request';
    else if (r.remaining > 0 && blockHasType(r, ExtensionType.supported_versions)) context = 'server_hello';
    const extensions = helloExtensions(context, 0).read(r);
    return { legacy_version, random, legacy_session_id_echo, cipher_suite, legacy_compression_method, extensions };
  },
  write(w, v) {
    w.u16(v.legacy_version).bytes(v.random);
    SessionId.write(w, v.legacy_session_id_echo);
    w.u16(v.cipher_suite).u8(v.legacy_compression_method);
    extensionsCodec(v.extensions.context).write(w, v.extensions);
  },
};
export type ServerHello = ServerHelloFields;

/** Look ahead (without consuming) for an extension type in the block at the reader's position. */
function blockHasType(r: Reader, type: number): boolean {
  const peek = new Reader(r.buf.subarray(r.offset), 'extensions');
  const block = peek.sub(2, 'extensions');
  while (block.remaining > 0) {
    if (block.u16() === type) return true;
    block.vec(2);
  }
  return false;
}

const CertificateEntry = struct({ cert_data: opaque(3, 1), extensions: extensionsCodec('certificate') });
export type CertificateEntry = Infer<typeof CertificateEntry>;

const Certificate13 = struct({ certificate_request_context: opaque(1), certificate_list: list(3, CertificateEntry) });
type Certificate13 = Infer<typeof Certificate13>;

/** TLS 1.2's Certificate is a bare list; it is read into the TLS 1.3 shape so one check serves both. */
const Certificate12: Codec<Certificate13> = {
  read: (r) => ({
    certificate_request_context: new Uint8Array(0),
    certificate_list: list(3, opaque(3, 1))
      .read(r)
      .map((cert_data) => ({ cert_data, extensions: new Extensions('certificate') })),
  }),
  write: (w, v) => list(3, opaque(3, 1)).write(w, v.certificate_list.map((e) => e.cert_data)),
};

/** ECDHE ServerKeyExchange (RFC 8422 5.4): ServerECDHParams then a digitally-signed struct. */
const ServerKeyExchange = struct({
  curve_type: oneOf(u8, [3], 'ECCurveType'), // named_curve; explicit curves are long gone
  named_curve: u16,
  public: opaque(1, 1),
  algorithm: u16,
  signature: opaque(2),
});

/**
 * Every message kind: its wire type and structure. Kinds are wire types, except where one
 * wire type means different things (HelloRetryRequest, the TLS 1.2 forms), which get a
 * kind of their own so the state table can tell them apart.
 */
const MESSAGES = {
  client_hello: { wire: 'client_hello', codec: ClientHello as Codec<ClientHello> },
  hello_verify_request: { wire: 'hello_verify_request', codec: struct({ server_version: u16, cookie: opaque(1) }) },
  server_hello: { wire: 'server_hello', codec: ServerHelloCodec },
  hello_retry_request: { wire: 'server_hello', codec: ServerHelloCodec },
  server_hello_tls12: { wire: 'server_hello', codec: ServerHelloCodec },
  new_session_ticket: {
    wire: 'new_session_ticket',
    codec: struct({
      ticket_lifetime: u32,
      ticket_age_add: u32,
      ticket_nonce: opaque(1),
      ticket: opaque(2, 1),
      extensions: extensionsCodec('new_session_ticket'),
    }),
  },
  new_session_ticket_tls12: { wire: 'new_session_ticket', codec: struct({ ticket_lifetime_hint: u32, ticket: opaque(2) }) },
  end_of_early_data: { wire: 'end_of_early_data', codec: struct({}) },
  encrypted_extensions: { wire: 'encrypted_extensions', codec: struct({ extensions: extensionsCodec('encrypted_extensions') }) },
  certificate: { wire: 'certificate', codec: Certificate13 },
  // RFC 8879 section 4: a TLS 1.3 Certificate, compressed; the statem decompresses it before use.
  compressed_certificate: {
    wire: 'compressed_certificate',
    codec: struct({ algorithm: u16, uncompressed_length: u24, compressed_certificate_message: opaque(3, 1) }),
  },
  certificate_request: {
    wire: 'certificate_request',
    codec: struct({ certificate_request_context: opaque(1), extensions: extensionsCodec('certificate_request', 2) }),
  },
  certificate_request_tls12: {
    wire: 'certificate_request',
    codec: struct({
      certificate_types: opaque(1, 1),
      supported_signature_algorithms: list(2, u16, 2),
      certificate_authorities: list(2, opaque(2, 1)),
    }),
  },
  certificate_verify: { wire: 'certificate_verify', codec: struct({ algorithm: u16, signature: opaque(2) }) },
  finished: { wire: 'finished', codec: struct({ verify_data: rest }) },
  key_update: { wire: 'key_update', codec: struct({ request_update: oneOf(u8, [0, 1], 'KeyUpdateRequest') }) },
  hello_request: { wire: 'hello_request', codec: struct({}) },
  server_key_exchange: { wire: 'server_key_exchange', codec: ServerKeyExchange },
  server_hello_done: { wire: 'server_hello_done', codec: struct({}) },
  client_key_exchange: { wire: 'client_key_exchange', codec: struct({ public: opaque(1, 1) }) },
  // Pre-shared key exchanges (RFC 4279 2, RFC 5489 2): the hint and identity travel in the key exchange messages.
  server_key_exchange_psk: { wire: 'server_key_exchange', codec: struct({ psk_identity_hint: opaque(2) }) },
  server_key_exchange_ecdhe_psk: {
    wire: 'server_key_exchange',
    codec: struct({ psk_identity_hint: opaque(2), curve_type: oneOf(u8, [3], 'ECCurveType'), named_curve: u16, public: opaque(1, 1) }),
  },
  client_key_exchange_psk: { wire: 'client_key_exchange', codec: struct({ psk_identity: opaque(2) }) },
  client_key_exchange_ecdhe_psk: { wire: 'client_key_exchange', codec: struct({ psk_identity: opaque(2), public: opaque(1, 1) }) },
} as const satisfies Record<string, { wire: HandshakeTypeName; codec: Codec<any> }>;

type Messages = typeof MESSAGES;
export type HandshakeKind = keyof Messages;

export type HandshakeMessage = { [K in HandshakeKind]: { type: K } & Infer<Messages[K]['codec']> }[HandshakeKind];
export type MessageOf<K extends MessageKind> = Extract<HandshakeMessage, { type: K }>;

/** The kinds a wire type can turn out to be (the read sub-machine checks these against the table). */
export const KINDS_OF_WIRE: ReadonlyMap<string, readonly HandshakeKind[]> = (() => {
  const m = new Map<string, HandshakeKind[]>();
  for (const [kind, spec] of Object.entries(MESSAGES)) m.set(spec.wire, [...(m.get(spec.wire) ?? []), kind as HandshakeKind]);
  return m;
})();

/** A TLS 1.2 suite's key exchange decides the structure of the key exchange messages. */
export type KeyExchange = 'ECDHE' | 'PSK' | 'ECDHE_PSK';

/**
 * The kinds a wire type may turn out to be on a connection that negotiated `kx`: the
 * read sub-machine checks these against the table as soon as the header is in.
 */
export function possibleKinds(wire: HandshakeTypeName, kx: KeyExchange = 'ECDHE'): readonly HandshakeKind[] {
  if (wire === 'server_key_exchange' || wire === 'client_key_exchange') return [kindOf(wire, 'tls12', undefined, kx)!];
  return KINDS_OF_WIRE.get(wire) ?? [];
}

/** Which kind a wire type is, for a version; ServerHello's own bytes decide between its forms. */
function kindOf(wire: HandshakeTypeName, version: WireVersion, fields: unknown, kx: KeyExchange = 'ECDHE'): HandshakeKind | undefined {
  switch (wire) {
    case 'server_key_exchange':
    case 'client_key_exchange':
      return kx === 'ECDHE' ? wire : kx === 'PSK' ? `${wire}_psk` : `${wire}_ecdhe_psk`;
    case 'server_hello': {
      const context = (fields as ServerHelloFields).extensions.context;
      return context === 'hello_retry_request' ? 'hello_retry_request' : context === 'server_hello_tls12' ? 'server_hello_tls12' : 'server_hello';
    }
    case 'certificate_request':
      return tls12Structures(version) ? 'certificate_request_tls12' : 'certificate_request';
    case 'new_session_ticket':
      return tls12Structures(version) ? 'new_session_ticket_tls12' : 'new_session_ticket';
    default:
      return wire in MESSAGES ? (wire as HandshakeKind) : undefined;
  }
}

function codecOf(kind: HandshakeKind, version: WireVersion): Codec<any> {
  if (kind === 'certificate' && tls12Structures(version)) return Certificate12;
  if (kind === 'client_hello' && (version === 'dtls12' || version === 'dtls13')) return DtlsClientHello;
  return MESSAGES[kind].codec;
}

/**
 * The largest ClientHello body its vectors allow: version, random, session ID (32),
 * DTLS cookie (255), cipher suites (2^16 - 2), compression methods (255), extensions
 * (2^16 - 1). About 128.6 KiB (OpenSSL's limit, 131,396, is this without the DTLS cookie).
 * A declared length above it cannot be a ClientHello at all.
 */
export const MAX_CLIENT_HELLO = 2 + 32 + (1 + 32) + (1 + 255) + (2 + 65534) + (1 + 255) + (2 + 65535);

/** Bound on a handshake message body before it is buffered (RFC 8446 leaves it to us). */
export interface HandshakeLimits {
  maxMessage: number;
  maxCertificate: number;
  /** ClientHello may legally be twice as large as other messages (padding, many extensions). */
  maxClientHello: number;
}
export const defaultLimits: HandshakeLimits = { maxMessage: 64 * 1024, maxCertificate: 256 * 1024, maxClientHello: MAX_CLIENT_HELLO };

export function limitFor(type: number, limits: HandshakeLimits): number {
  if (type === HandshakeType.client_hello) return limits.maxClientHello;
  return type === HandshakeType.certificate || type === HandshakeType.compressed_certificate ? limits.maxCertificate : limits.maxMessage;
}

/**
 * READ_HEADER's bound, checked before a body is buffered: a declared length no message of
 * this type can have is decode_error (RFC 8446 6.2); one that could be legal but is over
 * what we accept is illegal_parameter (as OpenSSL answers an excessive message).
 */
export function checkHandshakeLength(type: number, length: number, limits: HandshakeLimits): void {
  const limit = limitFor(type, limits);
  if (length <= limit) return;
  const code = 'ERR_TLS_HANDSHAKE_MESSAGE_TOO_LARGE';
  if (type === HandshakeType.client_hello && length > MAX_CLIENT_HELLO) {
    throw new TLSError('decode_error', `ClientHello of ${length} bytes cannot be (at most ${MAX_CLIENT_HELLO})`, { code });
  }
  throw new TLSError('illegal_parameter', `handshake message of ${length} bytes exceeds the limit of ${limit}`, { code });
}

/** Parse one handshake message body. Unknown types are unexpected_message; bad structure decode_error. */
export function decodeHandshake(typeCode: number, body: Uint8Array, version: WireVersion = 'tls13', kx?: KeyExchange): HandshakeMessage {
  const wire = handshakeTypeByCode.get(typeCode);
  // The state table turns unknown types away before they get here; this guards direct callers.
  if (!wire || !KINDS_OF_WIRE.has(wire)) throw unexpectedMessage(`unknown handshake message type ${typeCode}`);
  // The structure may depend on the version (Certificate) but not on the kind within a wire type.
  const provisional = wire === 'server_hello' ? 'server_hello' : kindOf(wire, version, undefined, kx)!;
  const r = new Reader(body, wire);
  const fields = codecOf(provisional, version).read(r);
  r.end();
  const kind = kindOf(wire, version, fields, kx)!;
  if (wire === 'client_hello') checkPskLast((fields as ClientHello).extensions);
  return { type: kind, ...fields } as HandshakeMessage;
}

/** Serialise a handshake message with its 4-byte header: these are the bytes the transcript hashes. */
export function encodeHandshake(msg: HandshakeMessage, version: WireVersion = 'tls13'): Uint8Array {
  const spec = MESSAGES[msg.type];
  const w = new Writer();
  w.u8(HandshakeType[spec.wire]);
  w.vec(3, (inner) => codecOf(msg.type, version).write(inner, msg));
  return w.finish();
}

export { Extensions };
