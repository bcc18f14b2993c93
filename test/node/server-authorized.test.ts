/**
 * A server socket's `authorized` / `authorizationError`: apps that use mutual TLS decide
 * access on them, so a tsls server sets them exactly as a node:tls server does for the
 * same node:tls client — trusted, untrusted and missing client certificates, with and
 * without requestCert, TLS 1.3 and 1.2.
 */
import * as tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer } from '../../src/node/entry.js';
import { readPki } from '../helpers/pki.js';
import { close, ECDSA, listen, ROOT } from './util.js';

const CLIENT = { cert: readPki('client-ecdsa-p256.chain.pem'), key: readPki('client-ecdsa-p256.key') };
/** A CA that did not issue the client's certificate. */
const OTHER_CA = readPki('leaf-rsa2048.crt');

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

type Verdict = { authorized: boolean; authorizationError: string | null | Error | undefined };

/** Serve one connection from a node:tls client with `client` options; what the server socket says. */
async function verdict(make: 'tsls' | 'node', serverOptions: tls.TlsOptions, client: tls.ConnectionOptions): Promise<Verdict> {
  const factory = make === 'tsls' ? (createServer as unknown as typeof tls.createServer) : tls.createServer;
  const got = new Promise<Verdict>((resolve, reject) => {
    const server = factory({ ...ECDSA, ...serverOptions }, (s) => {
      resolve({ authorized: s.authorized, authorizationError: s.authorizationError });
      s.end();
    });
    server.on('tlsClientError', reject);
    void listen(server).then((port) => {
      cleanups.push(() => close(server));
      const c = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: ROOT, ...client });
      c.on('error', () => {});
      c.resume();
      cleanups.push(() => void c.destroy());
    });
  });
  return got;
}

const CASES = [
  ['a trusted client certificate', CLIENT, ROOT],
  ['no client certificate', {}, ROOT],
  ['an untrusted client certificate', CLIENT, OTHER_CA],
] as const;

describe.each(['TLSv1.3', 'TLSv1.2'] as const)('%s', (maxVersion) => {
  it.each(CASES)('requestCert, rejectUnauthorized: false, %s: authorized and authorizationError as node:tls', async (_what, client, ca) => {
    const options = { ca, requestCert: true, rejectUnauthorized: false, maxVersion };
    const ours = await verdict('tsls', options, client);
    const node = await verdict('node', options, client);
    expect(ours).toEqual(node);
  });

  it.each(CASES)('no requestCert, %s: authorized false and authorizationError null, as node:tls', async (_what, client, ca) => {
    const options = { ca, maxVersion };
    const ours = await verdict('tsls', options, client);
    expect(ours).toEqual(await verdict('node', options, client));
    expect(ours).toEqual({ authorized: false, authorizationError: null });
  });
});

it('requestCert with the default rejectUnauthorized: a trusted client is authorized, as on node:tls', async () => {
  const options = { ca: ROOT, requestCert: true };
  const ours = await verdict('tsls', options, CLIENT);
  expect(ours).toEqual({ authorized: true, authorizationError: null });
  expect(ours).toEqual(await verdict('node', options, CLIENT));
});
