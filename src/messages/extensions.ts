/**
 * Hello and handshake extensions (RFC 8446 section 4.2 and the RFCs that define each one),
 * declared as one table: for every extension, the messages it may appear in and the wire
 * structure it has in each. Parsing checks the table, so an extension in the wrong message
 * is `illegal_parameter`, a duplicate is `illegal_parameter`, and a body that does not
 * match its structure is `decode_error`.
 */
import { illegalParameter } from '../errors.js';
import { Reader, Writer } from '../util/bytes.js';
import { type Codec, type Infer, decode, list, opaque, rest, struct, text, u16, u32, u8 } from './codec.js';
import { ExtensionType, extensionByCode, type ExtensionName } from './constants.js';

/** The messages an extension can appear in (the "TLS 1.3" column of the IANA registry, plus TLS 1.2 hellos). */
export type ExtensionContext =
  | 'client_hello'
  | 'server_hello' // TLS 1.3 ServerHello
  | 'hello_retry_request'
  | 'encrypted_extensions'
  | 'certificate' // CertificateEntry extensions
  | 'certificate_request'
  | 'new_session_ticket'
  | 'server_hello_tls12';

const empty: Codec<true> = {
  read: () => true,
  write: () => {},
};

// RFC 6066 section 3: ServerNameList. Only host_name (0) is defined.
const ServerName = struct({ name_type: u8, host_name: text(2, 1) });
const ServerNameList = struct({ server_name_list: list(2, ServerName, 1) });

const KeyShareEntry = struct({ group: u16, key_exchange: opaque(2, 1) });
export type KeyShareEntry = Infer<typeof KeyShareEntry>;

const PskIdentity = struct({ identity: opaque(2, 1), obfuscated_ticket_age: u32 });
export type PskIdentity = Infer<typeof PskIdentity>;
const OfferedPsks = struct({ identities: list(2, PskIdentity, 7), binders: list(2, opaque(1, 32), 33) });
export type OfferedPsks = Infer<typeof OfferedPsks>;

const ProtocolNameList = struct({ protocol_name_list: list(2, text(1, 1), 2) });

// RFC 5764 4.1.1: DTLS-SRTP. The server answers with exactly one of the client's profiles.
const UseSrtpData = struct({ protection_profiles: list(2, u16, 2), srtp_mki: opaque(1) });

const CertificateCompressionAlgorithms = struct({ algorithms: list(1, u16, 2, 254) });

/** Every extension tsls understands: context → structure. */
const table = {
  server_name: { client_hello: ServerNameList, encrypted_extensions: empty, server_hello_tls12: empty },
  status_request: { client_hello: rest, certificate_request: rest, certificate: rest },
  supported_groups: { client_hello: struct({ named_group_list: list(2, u16, 2) }), encrypted_extensions: struct({ named_group_list: list(2, u16, 2) }) },
  ec_point_formats: { client_hello: struct({ ec_point_format_list: list(1, u8, 1) }), server_hello_tls12: struct({ ec_point_format_list: list(1, u8, 1) }) },
  signature_algorithms: {
    client_hello: struct({ supported_signature_algorithms: list(2, u16, 2) }),
    certificate_request: struct({ supported_signature_algorithms: list(2, u16, 2) }),
  },
  signature_algorithms_cert: {
    client_hello: struct({ supported_signature_algorithms: list(2, u16, 2) }),
    certificate_request: struct({ supported_signature_algorithms: list(2, u16, 2) }),
  },
  application_layer_protocol_negotiation: { client_hello: ProtocolNameList, encrypted_extensions: ProtocolNameList, server_hello_tls12: ProtocolNameList },
  signed_certificate_timestamp: { client_hello: rest, certificate_request: rest, certificate: rest },
  padding: { client_hello: rest },
  extended_master_secret: { client_hello: empty, server_hello_tls12: empty },
  record_size_limit: { client_hello: u16, encrypted_extensions: u16, server_hello_tls12: u16 },
  session_ticket: { client_hello: rest, server_hello_tls12: rest },
  pre_shared_key: { client_hello: OfferedPsks, server_hello: struct({ selected_identity: u16 }) },
  early_data: { client_hello: empty, encrypted_extensions: empty, new_session_ticket: struct({ max_early_data_size: u32 }) },
  supported_versions: {
    client_hello: struct({ versions: list(1, u16, 2, 254) }),
    server_hello: struct({ selected_version: u16 }),
    hello_retry_request: struct({ selected_version: u16 }),
  },
  cookie: { client_hello: struct({ cookie: opaque(2, 1) }), hello_retry_request: struct({ cookie: opaque(2, 1) }) },
  psk_key_exchange_modes: { client_hello: struct({ ke_modes: list(1, u8, 1) }) },
  certificate_authorities: { client_hello: rest, certificate_request: rest },
  oid_filters: { certificate_request: rest },
  post_handshake_auth: { client_hello: empty },
  key_share: {
    client_hello: struct({ client_shares: list(2, KeyShareEntry) }),
    server_hello: struct({ server_share: KeyShareEntry }),
    hello_retry_request: struct({ selected_group: u16 }),
  },
  renegotiation_info: { client_hello: opaque(1), server_hello_tls12: opaque(1) },
  // RFC 9849: structures in ./ech.ts, read where they are used (the outer hello's bytes are the AAD).
  encrypted_client_hello: { client_hello: rest, encrypted_extensions: rest, hello_retry_request: rest },
  ech_outer_extensions: { client_hello: rest },
  // RFC 8879 section 3: the algorithms the sender can decompress.
  compress_certificate: { client_hello: CertificateCompressionAlgorithms, certificate_request: CertificateCompressionAlgorithms },
  use_srtp: { client_hello: UseSrtpData, server_hello_tls12: UseSrtpData, encrypted_extensions: UseSrtpData },
  // RFC 9146 3: the CID the sender wants to receive, possibly empty; DTLS 1.3 carries it in the same hellos (RFC 9147 9).
  connection_id: { client_hello: opaque(1), server_hello_tls12: opaque(1), server_hello: opaque(1) },
} satisfies Partial<Record<ExtensionName, Partial<Record<ExtensionContext, Codec<any>>>>>;

type Table = typeof table;
export type KnownExtension = keyof Table;
/** The value of extension K in context C, e.g. ExtValue<'key_share', 'client_hello'>. */
export type ExtValue<K extends KnownExtension, C extends keyof Table[K]> = Infer<Table[K][C]>;

/** One extension as it stands in a message, in wire order (order matters for the PSK rule and for exact re-encoding). */
export interface Extension {
  type: number;
  name?: KnownExtension;
  value: unknown;
}

/** An ordered extension block, parsed for one context. */
export class Extensions {
  constructor(
    readonly context: ExtensionContext,
    readonly list: Extension[] = [],
  ) {}

  has(name: KnownExtension): boolean {
    return this.list.some((e) => e.name === name);
  }

  get<K extends KnownExtension, C extends keyof Table[K] & ExtensionContext>(name: K, _context?: C): ExtValue<K, C> | undefined {
    return this.list.find((e) => e.name === name)?.value as ExtValue<K, C> | undefined;
  }

  /** Append an extension; the caller gives it in the structure of this block's context. */
  add<K extends KnownExtension>(name: K, value: unknown): this {
    this.list.push({ type: ExtensionType[name], name, value });
    return this;
  }

  /** Append an extension tsls does not interpret (GREASE, test input). */
  addRaw(type: number, data: Uint8Array): this {
    this.list.push({ type, value: data });
    return this;
  }

  /** Types of extensions we do not understand, in order. */
  unknownTypes(): number[] {
    return this.list.filter((e) => e.name === undefined).map((e) => e.type);
  }

  get types(): number[] {
    return this.list.map((e) => e.type);
  }
}

function codecFor(name: KnownExtension, context: ExtensionContext): Codec<unknown> | undefined {
  return (table[name] as Partial<Record<ExtensionContext, Codec<unknown>>>)[context];
}

function parseBlock(r: Reader, context: ExtensionContext): Extensions {
  const out = new Extensions(context);
  const seen = new Set<number>();
  let echOuter = false;
  while (r.remaining > 0) {
    const type = r.u16();
    const data = r.vec(2);
    if (seen.has(type)) throw illegalParameter(`duplicate extension ${type} in ${context}`);
    seen.add(type);
    // ECHClientHello.type 0 is outer (RFC 9849 section 5).
    if (context === 'client_hello' && type === ExtensionType.encrypted_client_hello && data[0] === 0) echOuter = true;
    if (echOuter && type === ExtensionType.pre_shared_key) {
      // A ClientHelloOuter's pre_shared_key is GREASE (RFC 9849 section 10.12.3): random identities
      // that open nothing, never read once the inner hello is taken. OpenSSL 4.0.3 sends it with an
      // empty binder; kept unread, as an extension we do not know, it is ignored like any other.
      out.list.push(readGreasePsk(data) ?? { type, value: data });
      continue;
    }
    const name = extensionByCode.get(type) as KnownExtension | undefined;
    const known = name !== undefined && name in table ? name : undefined;
    if (known === undefined) {
      out.list.push({ type, value: data });
      continue;
    }
    const codec = codecFor(known, context);
    if (!codec) throw illegalParameter(`extension ${known} is not allowed in ${context}`);
    out.list.push({ type, name: known, value: decode(codec, data, `extension ${known}`) });
  }
  return out;
}

/** An outer hello's pre_shared_key, or undefined when it does not parse. */
function readGreasePsk(data: Uint8Array): Extension | undefined {
  try {
    return { type: ExtensionType.pre_shared_key, name: 'pre_shared_key', value: decode(table.pre_shared_key.client_hello, data, 'extension pre_shared_key') };
  } catch {
    return undefined;
  }
}

function writeBlock(w: Writer, ext: Extensions): void {
  for (const e of ext.list) {
    w.u16(e.type);
    if (e.name === undefined) {
      w.vecBytes(2, e.value as Uint8Array);
      continue;
    }
    const codec = codecFor(e.name, ext.context);
    if (!codec) throw new Error(`extension ${e.name} cannot be sent in ${ext.context}`);
    // Written in place: a Writer of its own per extension cost an allocation and a copy each.
    w.vec(2, (body) => codec.write(body, e.value));
  }
}

/** Extension block with a 2-byte length prefix, for one context. */
export function extensionsCodec(context: ExtensionContext, min = 0): Codec<Extensions> {
  return {
    read: (r) => parseBlock(r.sub(2, `${context} extensions`, min), context),
    write: (w, v) => void w.vec(2, (inner) => writeBlock(inner, v)),
  };
}

/** The pre_shared_key extension must be the last one in a ClientHello (RFC 8446 4.2.11). */
export function checkPskLast(ext: Extensions): void {
  const i = ext.list.findIndex((e) => e.type === ExtensionType.pre_shared_key);
  if (i >= 0 && i !== ext.list.length - 1) throw illegalParameter('pre_shared_key is not the last extension');
}

/** The raw bytes of the extensions block are sometimes needed before parsing decides a context. */
export function peekExtensionTypes(block: Uint8Array): number[] {
  const r = new Reader(block, 'extensions');
  const types: number[] = [];
  while (r.remaining > 0) {
    types.push(r.u16());
    r.vec(2);
  }
  return types;
}

