/** http(s) over tsls: the Agent for https.request, and an http.Server fed by a tsls server. */
import * as http from 'node:http';
import * as https from 'node:https';
import { afterEach, expect, it } from 'vitest';
import { Agent, createServer, type TLSSocket } from '../../src/node/entry.js';
import { close, ECDSA, listen, ROOT } from './util.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function get(options: https.RequestOptions): Promise<{ status: number; body: string; socket: TLSSocket }> {
  return new Promise((resolve, reject) => {
    const req = https.get(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), socket: res.socket as unknown as TLSSocket }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

it('https.get through the tsls Agent to a node https server', async () => {
  const server = https.createServer({ ...ECDSA }, (req, res) => {
    const tlsSocket = req.socket as import('node:tls').TLSSocket;
    res.end(`hello ${req.url} over ${tlsSocket.getProtocol()} sni=${tlsSocket.servername}`);
  });
  const port = await listen(server);
  cleanups.push(() => close(server));
  const agent = new Agent({ ca: ROOT });
  cleanups.push(() => agent.destroy());

  const first = await get({ host: 'localhost', port, path: '/one', agent });
  expect(first.status).toBe(200);
  expect(first.body).toBe('hello /one over TLSv1.3 sni=localhost');
  expect(first.socket.constructor.name).toBe('TLSSocket');
  expect(first.socket.authorized).toBe(true);
  expect(first.socket.isSessionReused()).toBe(false);

  // A second connection (no keep-alive) resumes the session the Agent cached.
  await new Promise((r) => setTimeout(r, 50));
  const second = await get({ host: 'localhost', port, path: '/two', agent });
  expect(second.body).toBe('hello /two over TLSv1.3 sni=localhost');
  expect(second.socket.isSessionReused()).toBe(true);
  expect(second.socket.authorized).toBe(true);
});

it('the Agent refuses a server it cannot verify', async () => {
  const server = https.createServer({ ...ECDSA }, (_req, res) => res.end('x'));
  const port = await listen(server);
  cleanups.push(() => close(server));
  const agent = new Agent(); // bundled roots only: the test PKI is not trusted
  cleanups.push(() => agent.destroy());
  await expect(get({ host: 'localhost', port, agent })).rejects.toMatchObject({ code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' });
});

it('node https.get to a tsls server serving an http.Server', async () => {
  const app = http.createServer((req, res) => {
    const s = req.socket as unknown as TLSSocket;
    res.end(`tsls says hi to ${req.url}, alpn=${s.alpnProtocol}, encrypted=${s.encrypted}`);
  });
  const server = createServer({ ...ECDSA, ALPNProtocols: ['http/1.1'] });
  server.on('secureConnection', (s: TLSSocket) => app.emit('connection', s));
  const port = await listen(server);
  cleanups.push(() => close(server));
  cleanups.push(() => {
    app.close();
  });

  const nodeAgent = new https.Agent({ ca: ROOT, keepAlive: true });
  cleanups.unshift(() => nodeAgent.destroy());
  const res = await new Promise<{ body: string }>((resolve, reject) => {
    https
      .get({ host: 'localhost', port, path: '/page', agent: nodeAgent, ALPNProtocols: ['http/1.1'] } as https.RequestOptions, (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => resolve({ body: Buffer.concat(chunks).toString() }));
      })
      .on('error', reject);
  });
  expect(res.body).toBe('tsls says hi to /page, alpn=http/1.1, encrypted=true');
  // Keep-alive: a second request on the same TLS connection.
  const again = await new Promise<string>((resolve, reject) => {
    https
      .get({ host: 'localhost', port, path: '/again', agent: nodeAgent }, (r) => {
        let body = '';
        r.on('data', (c: Buffer) => (body += c));
        r.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
  expect(again).toMatch(/^tsls says hi to \/again/);
});
