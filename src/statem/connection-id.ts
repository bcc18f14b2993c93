/**
 * The connection_id extension of DTLS 1.2 (RFC 9146 section 3) and DTLS 1.3 (RFC 9147 9):
 * each side names the CID it wants to find in the records it receives (possibly empty:
 * "send me none, but I will use yours"). Only when both hellos carry it are CIDs in use; the
 * record layer applies them from the next epoch on (DTLS 1.2: after ChangeCipherSpec; DTLS
 * 1.3: every protected record).
 */
import { TLSError } from '../errors.js';
import type { Extensions } from '../messages/extensions.js';
import type { HandshakeContext } from './context.js';

function ownCid(hs: HandshakeContext): Uint8Array | undefined {
  const cid = hs.datagram ? (hs.connectionId ?? hs.options.connectionId) : undefined;
  if (cid && cid.length > 255) throw new TLSError('internal_error', 'a connection ID is at most 255 bytes', { code: 'ERR_TLS_INVALID_OPTION' });
  return cid;
}

/** Client: offer our CID in the ClientHello. */
export function offerConnectionId(hs: HandshakeContext, ext: Extensions): void {
  const own = ownCid(hs);
  if (own) ext.add('connection_id', own);
}

/** Server: the client offered a CID and we use them: agree, and answer with ours. */
export function acceptConnectionId(hs: HandshakeContext, clientHello: Extensions): void {
  const own = ownCid(hs);
  const theirs = own ? clientHello.get('connection_id', 'client_hello') : undefined;
  hs.negotiated.connectionIds = own && theirs ? { send: theirs, receive: own } : undefined;
}

export function answerConnectionId(hs: HandshakeContext, serverHello: Extensions): void {
  if (hs.negotiated.connectionIds) serverHello.add('connection_id', hs.negotiated.connectionIds.receive);
}

/** Client: the server's answer (only an offered extension gets this far: ServerHello is checked against the offer). */
export function takeConnectionId(hs: HandshakeContext, serverHello: Extensions, context: 'server_hello_tls12' | 'server_hello' = 'server_hello_tls12'): void {
  const theirs = serverHello.get('connection_id', context);
  const own = ownCid(hs);
  hs.negotiated.connectionIds = theirs && own ? { send: theirs, receive: own } : undefined;
}
