/**
 * What `tsls client` and `tsls server` say about a connection on stderr: the one-line
 * summary (version, suite, group, ALPN, resumed) and, for the client, the details a person
 * debugging a peer asks for next — the certificate chain, whether and why not it was
 * trusted, the signature scheme, ALPN offered but not selected.
 */
import type { Certificate } from '../x509/certificate.js';
import { formatTime, subjectAltNameString } from '../node/peer-certificate.js';

/** What both TLSSocket and DTLSSocket tell about their connection. */
export interface Reportable {
  getProtocol(): string | null;
  getCipher(): { standardName: string } | undefined;
  alpnProtocol: string | false | null;
  authorized: boolean;
  authorizationError: string | null | Error;
  connection: {
    group: string | undefined;
    sessionReused: boolean;
    signatureScheme?: string | undefined;
    peerCertificates: Certificate[];
    echStatus?: 'accepted' | 'rejected' | undefined;
    earlyDataAccepted?: boolean | undefined;
  };
}

/** `TLSv1.3, TLS_AES_128_GCM_SHA256, x25519[, ALPN h2][, resumed][, ECH accepted][, early data accepted]`. */
export function summary(socket: Reportable): string {
  const conn = socket.connection;
  const parts = [socket.getProtocol() ?? '?', socket.getCipher()?.standardName ?? '?', conn.group ?? 'no (EC)DHE'];
  if (socket.alpnProtocol) parts.push(`ALPN ${socket.alpnProtocol}`);
  if (conn.sessionReused) parts.push('resumed');
  if (conn.echStatus) parts.push(`ECH ${conn.echStatus}`);
  if (conn.earlyDataAccepted !== undefined) parts.push(`early data ${conn.earlyDataAccepted ? 'accepted' : 'rejected'}`);
  return parts.join(', ');
}

function keyText(cert: Certificate): string {
  const k = cert.publicKey;
  if (k.kind === 'ec') return `ECDSA ${k.curve}`;
  if (k.kind === 'rsa') return `RSA ${k.bits} bits`;
  return 'Ed25519';
}

/** One certificate in two lines: subject and issuer, then validity, key and names. */
export function certificateLines(cert: Certificate, depth: number): string[] {
  const names = subjectAltNameString(cert);
  return [
    `  ${depth} s: ${cert.subject.text || '(empty subject)'}`,
    `    i: ${cert.issuer.text || '(empty issuer)'}`,
    `    valid ${formatTime(cert.notBefore)} to ${formatTime(cert.notAfter)}; ${keyText(cert)}${names ? `; ${names}` : ''}`,
  ];
}

/**
 * The client's detail lines after the summary. `offeredAlpn` tells "none selected" apart
 * from "none offered"; `insecure` says the verdict was not enforced.
 */
export function clientDetails(socket: Reportable, offeredAlpn: readonly string[] | undefined, insecure: boolean): string[] {
  const conn = socket.connection;
  const out: string[] = [];
  const chain = conn.peerCertificates;
  out.push(conn.sessionReused ? `certificate chain (${chain.length}, from the resumed session):` : `certificate chain (${chain.length}):`);
  chain.forEach((c, i) => out.push(...certificateLines(c, i)));
  const error = socket.authorizationError;
  const why = error instanceof Error ? error.message : error;
  let verdict: string;
  if (socket.authorized) verdict = conn.sessionReused ? 'OK (resumed a session of a verified server)' : 'OK';
  else if (why) verdict = `FAILED: ${why}${insecure ? ' (ignored: --insecure)' : ''}`;
  else verdict = insecure ? 'not checked (--insecure)' : 'not checked';
  out.push(`verification: ${verdict}`);
  const facts = [`signature scheme ${conn.signatureScheme ?? (conn.sessionReused ? 'none (resumed)' : 'none')}`];
  if (socket.alpnProtocol) facts.push(`ALPN ${socket.alpnProtocol}`);
  else if (offeredAlpn?.length) facts.push(`ALPN offered (${offeredAlpn.join(',')}) but none selected`);
  else facts.push('ALPN not offered');
  facts.push(conn.sessionReused ? 'session resumed' : 'new session');
  out.push(facts.join('; '));
  return out.map((l) => `tsls:   ${l}`);
}
