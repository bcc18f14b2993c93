/**
 * `tsls server --www`: a small HTTP/1.1 server on a TLS socket, like `openssl s_server
 * -www`: every request gets a status page of the connection (protocol, cipher, group,
 * ALPN, SNI, resumption, client certificate). Keep-alive and pipelined requests work:
 * requests are answered in order as they complete in the buffer. Each answer is one write
 * (head and body in one record, as s_server sends it) and bare `\n` line ends are accepted,
 * so test tools written against `s_server -www` work unchanged.
 */
import type { TLSSocket } from '../node/socket.js';

const MAX_HEAD = 16 * 1024;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

function statusPage(socket: TLSSocket, path: string): string {
  const conn = socket.connection;
  const peer = conn.peerCertificates[0];
  const rows: [string, string][] = [
    ['Protocol', socket.getProtocol() ?? '-'],
    ['Cipher', socket.getCipher()?.standardName ?? '-'],
    ['Group', conn.group ?? 'none (PSK only)'],
    ['Signature scheme', conn.signatureScheme ?? '-'],
    ['ALPN', socket.alpnProtocol || 'none'],
    ['SNI', socket.servername || 'none'],
    ['Session resumed', conn.sessionReused ? 'yes' : 'no'],
    ['HelloRetryRequest', conn.helloRetried ? 'yes' : 'no'],
    ['Client certificate', peer ? `${peer.subject.text}${socket.authorized ? ' (verified)' : ''}` : 'none'],
    ['Path', path],
  ];
  const body = rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('\n');
  return `<!doctype html>\n<html><head><title>tsls</title></head><body>\n<h1>tsls server</h1>\n<table>\n${body}\n</table>\n</body></html>\n`;
}

interface Request {
  method: string;
  path: string;
  version: string;
  headers: Map<string, string>;
}

/** Where the head ends (the blank line, CRLF or bare LF) and the body starts, or undefined while incomplete. */
function headEnd(buffer: Buffer): { head: number; body: number } | undefined {
  const m = /\r?\n\r?\n/.exec(buffer.toString('latin1'));
  return m ? { head: m.index, body: m.index + m[0].length } : undefined;
}

function parseHead(head: string): Request | undefined {
  const [requestLine, ...lines] = head.split(/\r?\n/);
  const m = /^([A-Z]+) (\S+) (HTTP\/1\.[01])$/.exec(requestLine ?? '');
  if (!m) return undefined;
  const headers = new Map<string, string>();
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i <= 0) return undefined;
    headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  return { method: m[1]!, path: m[2]!, version: m[3]!, headers };
}

export function serveHttp(socket: TLSSocket): void {
  let buffer = Buffer.alloc(0);
  let closing = false;

  const respond = (status: string, body: string, keepAlive: boolean) => {
    const payload = Buffer.from(body);
    const head =
      `HTTP/1.1 ${status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: ${payload.length}\r\n` +
      `Connection: ${keepAlive ? 'keep-alive' : 'close'}\r\n\r\n`;
    socket.write(Buffer.concat([Buffer.from(head, 'latin1'), payload]));
    if (!keepAlive) {
      closing = true;
      socket.end();
    }
  };

  socket.on('data', (chunk: Buffer) => {
    if (closing) return;
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      const end = headEnd(buffer.length > MAX_HEAD ? buffer.subarray(0, MAX_HEAD) : buffer);
      if (!end) {
        if (buffer.length > MAX_HEAD) respond('431 Request Header Fields Too Large', 'request head too large\n', false);
        return;
      }
      const request = parseHead(buffer.subarray(0, end.head).toString('latin1'));
      if (!request) return respond('400 Bad Request', 'bad request\n', false);
      const length = Number(request.headers.get('content-length') ?? '0');
      if (!Number.isSafeInteger(length) || length < 0 || length > 1 << 20) return respond('400 Bad Request', 'bad content-length\n', false);
      if (buffer.length < end.body + length) return; // the body is still on its way
      buffer = buffer.subarray(end.body + length);
      const connection = request.headers.get('connection')?.toLowerCase();
      const keepAlive = request.version === 'HTTP/1.1' ? connection !== 'close' : connection === 'keep-alive';
      respond('200 OK', statusPage(socket, request.path), keepAlive);
      if (closing) return;
    }
  });
  socket.on('end', () => {
    if (!closing) socket.end();
  });
}
