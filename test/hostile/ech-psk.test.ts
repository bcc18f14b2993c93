/**
 * Hostile PSKs around Encrypted Client Hello (RFC 9849 sections 6.1.2, 10.12.3, 10.12.4): a
 * real ticket spliced into the outer hello is not resumed (the outer hello no longer opens, and
 * its name is the public one); a wrong inner binder is decrypt_error; a server that rejects ECH
 * yet selects a PSK is illegal_parameter. Each ends the connection with its alert. An outer
 * hello's pre_shared_key that does not parse (OpenSSL 4.0.3 sends its GREASE with an empty
 * binder) is GREASE left unread; anywhere else it stays decode_error.
 */
import { describe, expect, it } from 'vitest';
import { nobleProvider as p } from '../../src/crypto/noble.js';
import type { ServerOptions } from '../../src/config.js';
import { echConfigListBase64, generateEchKey } from '../../src/ech/keys.js';
import type { TLSError } from '../../src/errors.js';
import { decodeHandshake, encodeHandshake, type MessageOf } from '../../src/messages/handshake.js';
import type { TLSSession } from '../../src/statem/session.js';
import { concat } from '../../src/util/bytes.js';
import { Connection } from '../../src/connection.js';
import { ExtensionType } from '../../src/messages/constants.js';
import { defaultServerOptions, makePair } from '../helpers/pair.js';
import { splitRecords } from '../helpers/records.js';

const key = generateEchKey(p, { publicName: 'localhost', configId: 1 });
const configList = echConfigListBase64([key]);
const staleConfig = echConfigListBase64([generateEchKey(p, { publicName: 'localhost', configId: 9 })]);

function echClient(session: TLSSession | undefined, list = configList) {
  return { servername: 'inner.example', ech: { configList: list }, verifyPeer: () => {}, ...(session ? { session } : {}) };
}

/** A ticket for inner.example, issued inside an accepted ECH connection, and the server options that issued it. */
function ticket(): { serverOptions: ServerOptions; session: TLSSession } {
  const serverOptions = defaultServerOptions({ ech: { keys: [key] } });
  const first = makePair(echClient(undefined), serverOptions);
  const sessions: TLSSession[] = [];
  first.client.on('session', (s) => sessions.push(s));
  first.pump();
  expect(first.client.echStatus).toBe('accepted');
  return { serverOptions, session: sessions[0]! };
}

/** Where `needle` starts in `haystack`, or -1. */
function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  return Buffer.from(haystack).indexOf(Buffer.from(needle));
}

describe('hostile PSKs around ECH', () => {
  it('the real ticket spliced over the outer hello\'s GREASE identity is not resumed: ECH no longer opens, the outer name is not the ticket\'s', () => {
    const { serverOptions, session } = ticket();
    const pair = makePair(echClient(session), serverOptions);
    let spliced = false;
    pair.pump((bytes, from) => {
      if (from !== 'client' || spliced || bytes[0] !== 0x16) return [bytes];
      const hello = decodeHandshake(1, bytes.subarray(9)) as MessageOf<'client_hello'>;
      const grease = hello.extensions.get('pre_shared_key', 'client_hello')!.identities[0]!.identity;
      // The GREASE identity is as long as the ticket: the ticket fits in its place, lengths unchanged.
      expect(grease.length).toBe(session.ticket.length);
      const at = indexOf(bytes, grease);
      expect(at).toBeGreaterThan(0);
      const out = bytes.slice();
      out.set(session.ticket, at);
      spliced = true;
      return [out];
    });
    expect(spliced).toBe(true);
    expect(pair.server.echStatus).toBe('rejected');
    expect(pair.server.sessionReused).toBe(false);
    expect(pair.server.servername).toBe('localhost');
    // The client's transcript is not the server's: the handshake dies, nothing was resumed.
    expect(pair.client.state).toBe('DEAD');
    expect(pair.client.sessionReused).toBe(false);
  });

  it('a wrong binder in the inner hello is decrypt_error, and both ends are DEAD', () => {
    const { serverOptions, session } = ticket();
    // The same ticket with another secret: the inner binder cannot verify.
    const forged: TLSSession = { ...session, state: { ...session.state, secret: new Uint8Array(32).fill(7) } };
    const pair = makePair(echClient(forged), serverOptions);
    pair.pump();
    expect(pair.server.echStatus).toBe('accepted');
    expect((pair.serverErrors[0] as TLSError).alert).toBe('decrypt_error');
    expect((pair.clientErrors[0] as TLSError).code).toBe('ERR_TLS_ALERT_DECRYPT_ERROR');
    expect(pair.server.state).toBe('DEAD');
    expect(pair.client.state).toBe('DEAD');
  });

  it('a server that rejects ECH yet selects a PSK in ServerHello is illegal_parameter at the client', () => {
    const { serverOptions, session } = ticket();
    const pair = makePair(echClient(session, staleConfig), serverOptions);
    let tampered = false;
    pair.pump((bytes, from) => {
      if (from !== 'server' || tampered || bytes[0] !== 0x16) return [bytes];
      const [first, ...rest] = splitRecords(bytes);
      const hello = decodeHandshake(2, first!.subarray(9)) as MessageOf<'server_hello'>;
      expect(hello.extensions.has('pre_shared_key')).toBe(false);
      hello.extensions.add('pre_shared_key', { selected_identity: 0 });
      const body = encodeHandshake(hello);
      tampered = true;
      return [concat(Uint8Array.of(0x16, 0x03, 0x03, body.length >> 8, body.length & 0xff), body, ...rest)];
    });
    expect(tampered).toBe(true);
    const err = pair.clientErrors[0] as TLSError;
    expect(err.alert).toBe('illegal_parameter');
    expect(err.message).toMatch(/ECH rejected/);
    expect(pair.client.state).toBe('DEAD');
    expect(pair.client.sessionReused).toBe(false);
  });
});

/** The ClientHello record `record` with its last extension's body replaced by `body` (all lengths fixed up). */
function withLastExtension(record: Uint8Array, body: Uint8Array): Uint8Array {
  const hs = Buffer.from(record.subarray(5));
  let at = 4 + 2 + 32;
  at += 1 + hs[at]!;
  at += 2 + hs.readUInt16BE(at);
  at += 1 + hs[at]!;
  const blockStart = at + 2;
  const blockEnd = blockStart + hs.readUInt16BE(at);
  let last = blockStart;
  for (let e = blockStart; e < blockEnd; e += 4 + hs.readUInt16BE(e + 2)) last = e;
  const ext = Buffer.concat([hs.subarray(last, last + 2), Buffer.from([body.length >> 8, body.length & 0xff]), body]);
  const out = Buffer.concat([hs.subarray(0, last), ext]);
  out.writeUInt16BE(out.length - blockStart, blockStart - 2);
  out.writeUIntBE(out.length - 4, 1, 3);
  return concat(Uint8Array.of(0x16, 0x03, 0x01, out.length >> 8, out.length & 0xff), out);
}

/** OfferedPsks with one identity of `n` bytes and a binders list holding one empty binder, as OpenSSL 4.0.3's outer hello has it. */
function emptyBinderPsk(n: number): Uint8Array {
  const identities = concat(Uint8Array.of(n >> 8, n & 0xff), new Uint8Array(n).fill(0x5a), new Uint8Array(4));
  return concat(Uint8Array.of(identities.length >> 8, identities.length & 0xff), identities, Uint8Array.of(0, 1, 0));
}

describe('an outer hello\'s pre_shared_key that does not parse', () => {
  it('is left unread in a ClientHelloOuter: the hello parses, the extension is one we do not know', () => {
    const { session } = ticket();
    const flight = Connection.client(echClient(session)).takeOutput();
    const tampered = withLastExtension(flight, emptyBinderPsk(session.ticket.length));
    const hello = decodeHandshake(1, tampered.subarray(9)) as MessageOf<'client_hello'>;
    expect(hello.extensions.has('pre_shared_key')).toBe(false);
    expect(hello.extensions.list.at(-1)!.type).toBe(ExtensionType.pre_shared_key);
  });

  it('a server that rejects ECH (the outer hello changed, so it no longer opens) ignores it and does a full handshake', () => {
    const { serverOptions, session } = ticket();
    const pair = makePair(echClient(session), serverOptions);
    const sent: string[] = [];
    pair.server.on('message', (dir: string, msg: { type: string }) => {
      if (dir === 'send') sent.push(msg.type);
    });
    let tampered = false;
    pair.pump((bytes, from) => {
      if (from !== 'client' || tampered || bytes[0] !== 0x16) return [bytes];
      tampered = true;
      return [withLastExtension(bytes, emptyBinderPsk(session.ticket.length))];
    });
    expect(tampered).toBe(true);
    expect(pair.server.echStatus).toBe('rejected');
    expect(pair.server.sessionReused).toBe(false);
    expect(sent).toContain('certificate');
    expect(pair.serverErrors.map((e: TLSError) => e.alert)).not.toContain('decode_error');
  });

  it('without an outer encrypted_client_hello the same extension is decode_error', () => {
    const { serverOptions, session } = ticket();
    const plain = { servername: 'inner.example', session, verifyPeer: () => {}, echGrease: false };
    const flight = Connection.client(plain).takeOutput();
    expect(decodeHandshake(1, flight.subarray(9)).type).toBe('client_hello');
    const server = Connection.server(serverOptions);
    const errors: TLSError[] = [];
    server.on('error', (e) => errors.push(e));
    server.feed(withLastExtension(flight, emptyBinderPsk(session.ticket.length)));
    expect(errors[0]?.alert).toBe('decode_error');
    expect(server.state).toBe('DEAD');
  });
});
