/**
 * The Web PKI profile through the node layer, against node:tls as the server: a server
 * certificate without extKeyUsage (valid under RFC 5280, which node:tls accepts) is refused
 * by a tsls client by default and accepted with `webPkiProfile: false`.
 */
import { once } from 'node:events';
import * as tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/node/entry.js';
import { OID } from '../../src/x509/certificate.js';
import { pemEncode } from '../../src/x509/parse-chain.js';
import { cn, dnsName, ipName, issue, makeKey, profiles } from '../helpers/x509-builder.js';
import { close, listen, nextError } from './util.js';

const rootKey = makeKey('root');
const root = issue({ subject: cn('Private Root'), key: rootKey, extensions: profiles.root(rootKey) });
const leafKey = makeKey('leaf');
const leaf = issue({
  subject: cn('localhost'),
  key: leafKey,
  issuer: root,
  extensions: profiles.leaf(root, [dnsName('localhost'), ipName([127, 0, 0, 1])]).filter((e) => e.oid !== OID.extKeyUsage),
});
const ROOT_PEM = pemEncode('CERTIFICATE', root.der);
const server = { cert: pemEncode('CERTIFICATE', leaf.der), key: leafKey.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function nodeServer(): Promise<number> {
  const s = tls.createServer(server, (socket) => socket.end('hello'));
  const port = await listen(s);
  cleanups.push(() => close(s));
  return port;
}

describe('webPkiProfile in tsls/node', () => {
  it('node:tls itself accepts the private PKI server certificate without extKeyUsage (the control)', async () => {
    const port = await nodeServer();
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: ROOT_PEM });
    cleanups.unshift(() => void s.destroy());
    await once(s, 'secureConnect');
    expect(s.authorized).toBe(true);
  });

  it('a tsls client refuses it by default: INVALID_PURPOSE, no extKeyUsage', async () => {
    const port = await nodeServer();
    const s = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: ROOT_PEM });
    cleanups.unshift(() => void s.destroy());
    const err = await nextError(s);
    expect(err.code).toBe('INVALID_PURPOSE');
    expect(err.message).toMatch(/no extKeyUsage.*webPkiProfile: false/);
  });

  it('a tsls client with webPkiProfile: false accepts it as authorized', async () => {
    const port = await nodeServer();
    const s = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: ROOT_PEM, webPkiProfile: false });
    cleanups.unshift(() => void s.destroy());
    await once(s, 'secureConnect');
    expect(s.authorized).toBe(true);
    expect(s.authorizationError).toBe(null);
  });

  it('with rejectUnauthorized: false the refusal is the authorizationError', async () => {
    const port = await nodeServer();
    const s = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: ROOT_PEM, rejectUnauthorized: false });
    cleanups.unshift(() => void s.destroy());
    await once(s, 'secureConnect');
    expect(s.authorized).toBe(false);
    expect(s.authorizationError).toBe('INVALID_PURPOSE');
  });
});
