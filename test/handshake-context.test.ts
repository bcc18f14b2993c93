/**
 * The handshake context per side and phase (src/statem/context.ts): data a phase does not
 * have yet is absent, and a state that needs it is refused by the core when it is entered,
 * with an internal_error TLSError (never a TypeError from a missing object); release()
 * drops what only the handshake needed: private keys wiped, hello state and early secrets
 * gone, what the connection still uses kept.
 */
import { describe, expect, it } from 'vitest';
import { resolveCommon } from '../src/config.js';
import { nobleProvider } from '../src/crypto/noble.js';
import { TLSError } from '../src/errors.js';
import { ProtocolVersion } from '../src/messages/constants.js';
import { Extensions, defaultLimits, encodeHandshake } from '../src/messages/handshake.js';
import { buildClientHello, startClientHello } from '../src/statem/client-tls13.js';
import { ClientHandshake, ServerHandshake, type HandshakeContext, type RecordPort, type SessionSink } from '../src/statem/context.js';
import type { Phase } from '../src/statem/declare.js';
import { CLIENT, SERVER } from '../src/statem/states.js';
import { StateMachine, type StatemHost } from '../src/statem/statem.js';
import { EarlyStage } from '../src/statem/key-stages.js';
import { deriveHandshakeSecrets } from '../src/statem/both.js';
import { cipherSuiteByName } from '../src/messages/constants.js';
import { echConfigListBase64, generateEchKey } from '../src/ech/keys.js';
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

/** A new client as the C.ClientHello state sees it: the transcript is made with the context. */
function clientAtHello(): Phase<ClientHandshake, 'transcript'> {
  const hs = client();
  expect(hs.holds('transcript')).toBe(true);
  return hs as Phase<ClientHandshake, 'transcript'>;
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

/** What the core needs around it, doing nothing: these tests look at what happens on entering a state. */
const host: StatemHost = {
  limits: defaultLimits,
  wireVersion: () => 'tls13',
  keyExchange: () => undefined,
  addToTranscript: () => {},
  sendHandshake: () => {},
  sendChangeCipherSpec: () => {},
  onTransition: () => {},
  onMessage: () => {},
  onEstablished: () => {},
};

/** A TLS 1.3 ServerHello, well-formed as far as decoding goes. */
function serverHelloBytes(): Uint8Array {
  const extensions = new Extensions('server_hello');
  extensions.add('supported_versions', { selected_version: ProtocolVersion.TLS1_3 });
  return encodeHandshake({
    type: 'server_hello',
    legacy_version: ProtocolVersion.TLS1_2,
    random: bytes(32, 1),
    legacy_session_id_echo: new Uint8Array(0),
    cipher_suite: 0x1301,
    legacy_compression_method: 0,
    extensions,
  });
}

describe('a state entered without the handshake data it needs gets internal_error, not a TypeError', () => {
  it.each([
    ['the client hello state', () => client(), 'hello'],
    ['the TLS 1.2 state', () => client(), 'tls12'],
    ['the cipher suite', () => client(), 'suite'],
    ['the key exchange group', () => server(), 'group'],
    ['the signature scheme', () => server(), 'signatureScheme'],
    ["the peer's certificate", () => client(), 'peerLeaf'],
    ['the server hello state', () => server(), 'hello'],
    ['our certificate before the ClientHello chose it', () => server(), 'certified'],
  ] as const)('%s is absent before the phase that creates it', (_what, make, name) => {
    const hs = make();
    expect(hs.holds(name)).toBe(false);
    expect(hs[name as keyof typeof hs]).toBeUndefined();
  });

  it('data a state created is there for the states that need it', () => {
    const hs = startClientHello(clientAtHello());
    expect(hs.holds('hello')).toBe(true);
    hs.negotiated.suite = undefined;
    expect(hs.holds('suite')).toBe(false);
  });

  it.each(['handshakeKeys', 'trafficKeys'] as const)('the key schedule stage %s is absent before ServerHello', (stage) => {
    const hs = client();
    expect(hs.holds(stage)).toBe(false);
    expect(hs[stage]).toBeUndefined();
  });

  it('a client whose ClientHello state is missing is refused on entering C.ServerHello', () => {
    const hs = client();
    const statem = new StateMachine(CLIENT, hs, host, 'C.ClientHello');
    expectInvalidState(() => statem.receive(serverHelloBytes()));
    expect(statem.state).toBe('C.ServerHello');
    expect(hs.negotiated.suite).toBeUndefined();
  });

  it('a server without the first ClientHello is refused on entering S.ClientHello2', () => {
    const raw = encodeHandshake(buildClientHello(startClientHello(clientAtHello())));
    const hs = server();
    const statem = new StateMachine(SERVER, hs, host, 'S.HelloRetryRequest');
    expectInvalidState(() => statem.receive(raw));
    expect(statem.state).toBe('S.ClientHello2');
    expect(hs.helloSeen).toBe(false);
  });

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

describe('the key exchange result', () => {
  it('is wiped once the Handshake stage is made from it, and the stage keeps none of it', () => {
    const hs = client();
    hs.negotiated.suite = cipherSuiteByName('TLS_AES_128_GCM_SHA256');
    hs.transcript?.setHash('sha256');
    const shared = bytes(32, 42);
    // The suite and the transcript's hash are set above: the phase deriveHandshakeSecrets runs in.
    deriveHandshakeSecrets(hs as Parameters<typeof deriveHandshakeSecrets>[0], shared);
    expect(shared.every((b) => b === 0)).toBe(true);
    expect(hs.handshakeKeys?.clientTraffic.some((b) => b !== 0)).toBe(true);
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
    const handshakeKeys = new EarlyStage(nobleProvider, 'sha256', undefined, 'tls13 ').handshake(bytes(32, 3), bytes(32, 4));
    const clientHandshakeTraffic = handshakeKeys.clientTraffic;
    const trafficKeys = handshakeKeys.master(bytes(32, 5));
    const clientApplication = trafficKeys.clientApplication.slice();
    const resumption = trafficKeys.deriveResumption(bytes(32, 6)).slice();
    hs.handshakeKeys = handshakeKeys;
    hs.trafficKeys = trafficKeys;
    hs.release();
    expect(privateKey.every((b) => b === 0)).toBe(true);
    expect(clientHandshakeTraffic.every((b) => b === 0)).toBe(true);
    expect(hs.hello).toBeUndefined();
    expect(hs.holds('hello')).toBe(false);
    expect(hs.handshakeKeys).toBeUndefined();
    expect(hs.clientRandom).toBeUndefined();
    expect(hs.trafficKeys?.clientApplication).toEqual(clientApplication);
    expect(hs.trafficKeys?.resumption).toEqual(resumption);
    // Nothing hashes the transcript after the handshake.
    expect(hs.transcript).toBeUndefined();
    expect(hs.holds('transcript')).toBe(false);
  });

  it('on a server: the ECDHE private key and the PSK wiped, the resumption secret gone (its tickets were sent)', () => {
    const hs = server();
    const ephemeral = { privateKey: bytes(32, 8), publicKey: bytes(32, 9) };
    const psk = { secret: bytes(32, 10), identity: 0, dhe: true };
    hs.hello = { sessionId: new Uint8Array(0), clientSchemes: [], clientOfferedSni: false, ephemeral, psk };
    const trafficKeys = new EarlyStage(nobleProvider, 'sha256', undefined, 'tls13 ').handshake(bytes(32, 11), bytes(32, 12)).master(bytes(32, 13));
    const serverApplication = trafficKeys.serverApplication.slice();
    const resumption = trafficKeys.deriveResumption(bytes(32, 14));
    hs.trafficKeys = trafficKeys;
    hs.release();
    expect(ephemeral.privateKey.every((b) => b === 0)).toBe(true);
    expect(psk.secret.every((b) => b === 0)).toBe(true);
    expect(hs.helloSeen).toBe(false);
    expect(hs.trafficKeys?.resumption).toBeUndefined();
    expect(resumption.every((b) => b === 0)).toBe(true);
    expect(hs.trafficKeys?.serverApplication).toEqual(serverApplication);
  });
});

/** The context inside a connection (ConnectionBase keeps it protected; this test looks, it does not touch). */
const contextOf = (conn: object): HandshakeContext => (conn as { hs: HandshakeContext }).hs;

function expectReleased(hs: HandshakeContext): void {
  expect(hs.transcript).toBeUndefined();
  expect(hs.clientRandom).toBeUndefined();
  expect(hs.handshakeKeys).toBeUndefined();
  expect((hs as ClientHandshake | ServerHandshake).hello).toBeUndefined();
  expect(hs.holds('hello')).toBe(false);
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

  it('a server that accepted ECH drops the HPKE context and inner hello, and still reports the outcome', () => {
    const key = generateEchKey(nobleProvider, { publicName: 'localhost', configId: 1 });
    const p = makePair({ servername: 'inner.example', ech: { configList: echConfigListBase64([key]) }, verifyPeer: () => {} }, { ech: { keys: [key] } });
    p.pump();
    expect(p.server.state).toBe('ESTABLISHED');
    const hs = contextOf(p.server) as ServerHandshake;
    expect(hs.echState).toBeUndefined();
    expect(p.server.echStatus).toBe('accepted');
    expectReleased(hs);
  });

  it('a handshake that dies half way releases it too: the client destroyed after its ClientHello', () => {
    const p = makePair();
    p.server.feed(p.client.takeOutput());
    const hs = contextOf(p.client) as ClientHandshake;
    const shares = [...(hs.hello?.keyShares.values() ?? [])].map((pair) => pair.privateKey);
    expect(shares.length).toBeGreaterThan(0);
    p.client.destroy();
    expect(p.client.state).toBe('DEAD');
    expect(shares.every((key) => key.every((b) => b === 0))).toBe(true);
    expectReleased(hs);
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
