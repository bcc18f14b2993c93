/**
 * The handshake context per side and phase (src/statem/context.ts): what a phase does not
 * have yet is an internal_error TLSError when a state asks for it (never a TypeError from
 * a missing object), and release() drops what only the handshake needed: private keys
 * wiped, hello state and early secrets gone, what the connection still uses kept.
 */
import { describe, expect, it } from 'vitest';
import { resolveCommon } from '../src/config.js';
import { nobleProvider } from '../src/crypto/noble.js';
import { TLSError } from '../src/errors.js';
import { ClientHandshake, ServerHandshake, type HandshakeContext, type RecordPort, type SessionSink } from '../src/statem/context.js';
import { RELEASED_TRANSCRIPT } from '../src/statem/transcript.js';
import { dtlsPair } from './helpers/dtls-pair.js';
import { makePair } from './helpers/pair.js';
import { certifiedKey } from './helpers/pki.js';

const records: RecordPort = {
  setReadSecret: () => {},
  setWriteSecret: () => {},
  setReadKeys12: () => {},
  setWriteKeys12: () => {},
  sendCompatibilityCCS: () => {},
  keylog: () => {},
  sendWarning: () => {},
  earlyData: () => {},
};
const sink: SessionSink = { ticket: () => {}, session: () => {} };

function client(): ClientHandshake {
  return new ClientHandshake(resolveCommon({}, nobleProvider), {}, records, 'stream', sink);
}

function server(): ServerHandshake {
  return new ServerHandshake(resolveCommon({}, nobleProvider), { certificates: [certifiedKey('leaf-ecdsa-p256')] }, records, 'stream');
}

function expectInvalidState(read: () => unknown): void {
  let thrown: unknown;
  try {
    read();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(TLSError);
  expect((thrown as TLSError).alert).toBe('internal_error');
  expect((thrown as TLSError).code).toBe('ERR_TLS_INVALID_STATE');
}

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

describe('a state that asks for what its phase does not have gets internal_error, not a TypeError', () => {
  it.each([
    ['the client hello state', () => client().hello],
    ['the TLS 1.2 state', () => client().tls12],
    ['the cipher suite', () => client().suite],
    ['the key exchange group', () => server().group],
    ['the signature scheme', () => server().signatureScheme],
    ["the peer's certificate", () => client().peerLeaf],
    ['a key schedule secret', () => client().secrets.need('serverHandshake')],
    ['the server hello state', () => server().hello],
    ['our certificate before the ClientHello chose it', () => server().certified],
  ])('%s', (_what, read) => expectInvalidState(read));

  it('the variant is unknown until a version is negotiated, then follows the transport', () => {
    const hs = client();
    expect(hs.variant).toBeUndefined();
    hs.negotiated.version = 'TLSv1.2';
    expect(hs.variant).toBe('tls12');
    const datagram = new ClientHandshake(resolveCommon({}, nobleProvider), {}, records, 'datagram', sink);
    datagram.negotiated.version = 'TLSv1.2';
    expect(datagram.variant).toBe('dtls12');
  });
});

describe('release() keeps what the established connection uses and drops the rest', () => {
  it('on a client: key shares wiped, hello state gone, handshake secrets gone, traffic and resumption secrets kept', () => {
    const hs = client();
    const privateKey = bytes(32, 7);
    hs.hello = {
      random: bytes(32, 1),
      sessionId: new Uint8Array(0),
      keyShares: new Map([['x25519', { privateKey, publicKey: bytes(32, 2) }]]),
      offeredExtensions: new Set(),
      pskOffers: [],
      pskModes: [1],
    };
    hs.clientRandom = bytes(32, 1);
    const handshakeSecret = bytes(32, 3);
    hs.secrets.handshake = handshakeSecret;
    hs.secrets.clientHandshake = bytes(32, 4);
    hs.secrets.clientApplication = bytes(32, 5);
    hs.secrets.resumption = bytes(32, 6);
    hs.release();
    expect(privateKey.every((b) => b === 0)).toBe(true);
    expect(handshakeSecret.every((b) => b === 0)).toBe(true);
    expectInvalidState(() => hs.hello);
    expect(hs.secrets.handshake).toBeUndefined();
    expect(hs.secrets.clientHandshake).toBeUndefined();
    expect(hs.clientRandom).toBeUndefined();
    expect(hs.secrets.need('clientApplication')).toEqual(bytes(32, 5));
    expect(hs.secrets.need('resumption')).toEqual(bytes(32, 6));
    // Nothing hashes the transcript after the handshake.
    expect(() => hs.transcript.hash()).toThrow();
  });

  it('on a server: the ECDHE private key and the PSK wiped, the resumption secret gone (its tickets were sent)', () => {
    const hs = server();
    const ephemeral = { privateKey: bytes(32, 8), publicKey: bytes(32, 9) };
    const psk = { secret: bytes(32, 10), identity: 0, dhe: true };
    hs.hello = { sessionId: new Uint8Array(0), clientSchemes: [], clientOfferedSni: false, ephemeral, psk };
    hs.secrets.serverApplication = bytes(32, 11);
    hs.secrets.resumption = bytes(32, 12);
    hs.release();
    expect(ephemeral.privateKey.every((b) => b === 0)).toBe(true);
    expect(psk.secret.every((b) => b === 0)).toBe(true);
    expect(hs.helloSeen).toBe(false);
    expect(hs.secrets.resumption).toBeUndefined();
    expect(hs.secrets.need('serverApplication')).toEqual(bytes(32, 11));
  });
});

/** The context inside a connection (ConnectionBase keeps it protected; this test looks, it does not touch). */
const contextOf = (conn: object): HandshakeContext => (conn as { hs: HandshakeContext }).hs;

function expectReleased(hs: HandshakeContext): void {
  expect(hs.transcript).toBe(RELEASED_TRANSCRIPT);
  expect(hs.clientRandom).toBeUndefined();
  expect(hs.secrets.handshake).toBeUndefined();
  expectInvalidState(() => (hs as ClientHandshake | ServerHandshake).hello);
}

describe('both connection kinds release the handshake state once established', () => {
  it.each(['TLSv1.3', 'TLSv1.2'] as const)('Connection (%s), both sides', (version) => {
    const p = makePair({ maxVersion: version }, { maxVersion: version });
    p.pump();
    expect(p.client.state).toBe('ESTABLISHED');
    expect(p.server.state).toBe('ESTABLISHED');
    expectReleased(contextOf(p.client));
    expectReleased(contextOf(p.server));
  });

  it('DtlsConnection, both sides, and the exporter still works from what is kept', () => {
    const p = dtlsPair();
    p.run();
    expect(p.client.state).toBe('ESTABLISHED');
    expect(p.server.state).toBe('ESTABLISHED');
    expectReleased(contextOf(p.client));
    expectReleased(contextOf(p.server));
    expect(p.client.exportKeyingMaterial(16, 'EXTRACTOR-dtls_srtp')).toEqual(p.server.exportKeyingMaterial(16, 'EXTRACTOR-dtls_srtp'));
  });
});
