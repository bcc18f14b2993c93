/**
 * Human-readable one-line summaries of handshake messages, for `--trace` (the readable
 * cousin of `openssl s_client -msg`).
 */
import { cipherSuiteByCode, extensionByCode, groupByCode, isGrease, schemeByCode } from '../messages/constants.js';
import type { HandshakeMessage } from '../messages/handshake.js';
import type { Extensions } from '../messages/extensions.js';
import { toHex } from '../util/bytes.js';
import { ECH_EXTENSION, parseEchClientHello } from '../messages/ech.js';

/** A code point tsls has no name for: GREASE (RFC 8701) said as such, others in hex. */
const hex16 = (v: number) => `${isGrease(v) ? 'grease:' : ''}0x${v.toString(16).padStart(4, '0')}`;
const suite = (c: number) => cipherSuiteByCode(c)?.name ?? hex16(c);
const group = (c: number) => groupByCode.get(c) ?? hex16(c);
const scheme = (c: number) => schemeByCode.get(c) ?? hex16(c);

function extensionNames(ext: Extensions): string {
  return ext.types.map((t) => extensionByCode.get(t) ?? hex16(t)).join(',');
}

/** A ClientHello's encrypted_client_hello: the outer form (config, payload size) or the inner hello's marker. */
function describeEch(ext: Extensions): string {
  const data = ext.list.find((e) => e.type === ECH_EXTENSION)?.value;
  if (!(data instanceof Uint8Array)) return '';
  try {
    const ech = parseEchClientHello(data);
    return ech.type === 'inner' ? 'ech=inner' : `ech=outer(config_id=${ech.config_id} enc=${ech.enc.length} payload=${ech.payload.length} bytes)`;
  } catch {
    return 'ech=malformed';
  }
}

export function describeMessage(msg: HandshakeMessage): string {
  switch (msg.type) {
    case 'client_hello': {
      const sni = msg.extensions.get('server_name', 'client_hello')?.server_name_list[0]?.host_name;
      const shares = msg.extensions.get('key_share', 'client_hello')?.client_shares.map((s) => group(s.group));
      const alpn = msg.extensions.get('application_layer_protocol_negotiation', 'client_hello')?.protocol_name_list;
      // What a TLS 1.2 server chooses from: the groups and signature schemes offered.
      const groups = msg.extensions.get('supported_groups', 'client_hello')?.named_group_list;
      const schemes = msg.extensions.get('signature_algorithms', 'client_hello')?.supported_signature_algorithms;
      return [
        `suites=${msg.cipher_suites.map(suite).join(',')}`,
        sni ? `sni=${sni}` : 'no-sni',
        `key_shares=${shares?.join(',') ?? 'none'}`,
        groups ? `groups=${groups.map(group).join(',')}` : '',
        schemes ? `schemes=${schemes.map(scheme).join(',')}` : '',
        alpn ? `alpn=${alpn.join(',')}` : '',
        describeEch(msg.extensions),
        `extensions=${extensionNames(msg.extensions)}`,
      ]
        .filter(Boolean)
        .join(' ');
    }
    case 'server_hello': {
      const share = msg.extensions.get('key_share', 'server_hello');
      return `suite=${suite(msg.cipher_suite)} key_share=${share ? group(share.server_share.group) : 'none'} extensions=${extensionNames(msg.extensions)}`;
    }
    case 'hello_retry_request': {
      const ks = msg.extensions.get('key_share', 'hello_retry_request');
      const cookie = msg.extensions.has('cookie') ? ' cookie' : '';
      return `suite=${suite(msg.cipher_suite)} selected_group=${ks ? group(ks.selected_group) : 'none'}${cookie}`;
    }
    case 'encrypted_extensions':
      return `extensions=${extensionNames(msg.extensions) || 'none'}`;
    case 'certificate':
      return `certificates=${msg.certificate_list.length} sizes=${msg.certificate_list.map((c) => c.cert_data.length).join(',')}`;
    case 'certificate_request':
      return `extensions=${extensionNames(msg.extensions)}`;
    case 'certificate_verify':
      return `scheme=${scheme(msg.algorithm)} signature=${msg.signature.length} bytes`;
    case 'finished':
      return `verify_data=${toHex(msg.verify_data.subarray(0, 8))}…`;
    case 'new_session_ticket':
      return `lifetime=${msg.ticket_lifetime}s ticket=${msg.ticket.length} bytes`;
    case 'key_update':
      return msg.request_update ? 'update_requested' : 'update_not_requested';
    // TLS 1.2 and DTLS: the suite, group and signature scheme travel in these.
    case 'hello_verify_request':
      return `cookie=${msg.cookie.length} bytes`;
    case 'server_hello_tls12':
      return `suite=${suite(msg.cipher_suite)} session_id=${msg.legacy_session_id_echo.length} bytes extensions=${extensionNames(msg.extensions) || 'none'}`;
    case 'server_key_exchange':
      return `group=${group(msg.named_curve)} public=${msg.public.length} bytes scheme=${scheme(msg.algorithm)} signature=${msg.signature.length} bytes`;
    case 'server_key_exchange_psk':
      return `psk_identity_hint=${msg.psk_identity_hint.length} bytes`;
    case 'server_key_exchange_ecdhe_psk':
      return `psk_identity_hint=${msg.psk_identity_hint.length} bytes group=${group(msg.named_curve)} public=${msg.public.length} bytes`;
    case 'certificate_request_tls12':
      return `schemes=${msg.supported_signature_algorithms.map(scheme).join(',')} authorities=${msg.certificate_authorities.length}`;
    case 'client_key_exchange':
      return `public=${msg.public.length} bytes`;
    case 'client_key_exchange_psk':
      return `psk_identity=${msg.psk_identity.length} bytes`;
    case 'client_key_exchange_ecdhe_psk':
      return `psk_identity=${msg.psk_identity.length} bytes public=${msg.public.length} bytes`;
    case 'new_session_ticket_tls12':
      return `lifetime=${msg.ticket_lifetime_hint}s ticket=${msg.ticket.length} bytes`;
    default:
      return '';
  }
}
