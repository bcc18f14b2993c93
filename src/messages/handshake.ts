/**
 * Handshake messages (RFC 8446 section 4, RFC 5246 section 7.4): one declared structure
 * per message type, a framing codec (msg_type, uint24 length, body) and the two entry
 * points the engine uses, `decodeHandshake` and `encodeHandshake`.
 */
import { unexpectedMessage } from '../errors.js';
import { Reader, Writer, equal } from '../util/bytes.js';
import { type Codec, type Infer, fixed, list, oneOf, opaque, optional, rest, struct, u16, u32, u8 } from './codec.js';
import { ExtensionType, HandshakeType, HRR_RANDOM, type HandshakeTypeName, type MessageKind, handshakeTypeByCode } from './constants.js';
import { Extensions, checkPskLast, extensionsCodec, type ExtensionContext } from './extensions.js';

/** Which protocol's structure to use where TLS 1.2 and 1.3 differ (Certificate, NewSessionTicket). */
export type WireVersion = 'tls13' | 'tls12';

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
export type ClientHello = Infer<typeof ClientHello>;

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

/** The structure of every message, per protocol version. */
const tls13 = {
  client_hello: ClientHello,
  server_hello: ServerHelloCodec,
  new_session_ticket: struct({
    ticket_lifetime: u32,
    ticket_age_add: u32,
    ticket_nonce: opaque(1),
    ticket: opaque(2, 1),
    extensions: extensionsCodec('new_session_ticket'),
  }),
  end_of_early_data: struct({}),
  encrypted_extensions: struct({ extensions: extensionsCodec('encrypted_extensions') }),
  certificate: struct({ certificate_request_context: opaque(1), certificate_list: list(3, CertificateEntry) }),
  certificate_request: struct({ certificate_request_context: opaque(1), extensions: extensionsCodec('certificate_request', 2) }),
  certificate_verify: struct({ algorithm: u16, signature: opaque(2) }),
  finished: struct({ verify_data: rest }),
  key_update: struct({ request_update: oneOf(u8, [0, 1], 'KeyUpdateRequest') }),
  message_hash: struct({ hash: rest }),
};

type Tls13 = typeof tls13;
type BodyOf<K extends keyof Tls13> = Infer<Tls13[K]>;

export type HandshakeMessage =
  | { [K in Exclude<keyof Tls13, 'server_hello'>]: { type: K } & BodyOf<K> }[Exclude<keyof Tls13, 'server_hello'>]
  | ({ type: 'server_hello' } & ServerHelloFields)
  | ({ type: 'hello_retry_request' } & ServerHelloFields);

export type MessageOf<K extends MessageKind> = Extract<HandshakeMessage, { type: K }>;

/** Bound on a handshake message body before it is buffered (RFC 8446 leaves it to us). */
export interface HandshakeLimits {
  maxMessage: number;
  maxCertificate: number;
}
export const defaultLimits: HandshakeLimits = { maxMessage: 64 * 1024, maxCertificate: 256 * 1024 };

export function limitFor(type: number, limits: HandshakeLimits): number {
  return type === HandshakeType.certificate ? limits.maxCertificate : limits.maxMessage;
}

function codecFor(type: HandshakeTypeName): Codec<any> | undefined {
  return (tls13 as Partial<Record<HandshakeTypeName, Codec<any>>>)[type];
}

/** Parse one handshake message body. Unknown types are unexpected_message; bad structure decode_error. */
export function decodeHandshake(typeCode: number, body: Uint8Array, _version: WireVersion = 'tls13'): HandshakeMessage {
  const type = handshakeTypeByCode.get(typeCode);
  const codec = type && type !== 'message_hash' ? codecFor(type) : undefined;
  // The state table turns unknown types away before they get here; this guards direct callers.
  if (!type || !codec) throw unexpectedMessage(`unknown handshake message type ${typeCode}`);
  const r = new Reader(body, type);
  const fields = codec.read(r);
  r.end();
  let kind: MessageKind = type;
  if (type === 'server_hello' && (fields as ServerHelloFields).extensions.context === 'hello_retry_request') kind = 'hello_retry_request';
  if (type === 'client_hello') checkPskLast((fields as ClientHello).extensions);
  return { type: kind, ...fields } as HandshakeMessage;
}

/** Serialise a handshake message with its 4-byte header: these are the bytes the transcript hashes. */
export function encodeHandshake(msg: HandshakeMessage): Uint8Array {
  const wireType = msg.type === 'hello_retry_request' ? 'server_hello' : msg.type;
  const codec = codecFor(wireType)!;
  const w = new Writer();
  w.u8(HandshakeType[wireType]);
  w.vec(3, (inner) => codec.write(inner, msg));
  return w.finish();
}

export { Extensions };
