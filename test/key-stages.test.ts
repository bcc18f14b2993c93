/**
 * The TLS 1.3 key schedule as typed stages (src/statem/key-stages.ts): Early → Handshake →
 * Traffic reproduce RFC 8448's simple 1-RTT secrets with either provider, KeyUpdate moves
 * one direction on in place, and a stage's secrets are wiped when their time is over.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nextTrafficSecret } from '../src/crypto/keyschedule.js';
import { nobleProvider } from '../src/crypto/noble.js';
import { nodeProvider } from '../src/crypto/node.js';
import { EarlyStage } from '../src/statem/key-stages.js';

interface Step {
  who: 'client' | 'server';
  action: string;
  items: Record<string, string>;
}

const trace = JSON.parse(readFileSync(new URL('../vectors/rfc8448/simple-1rtt.json', import.meta.url), 'utf8')) as { steps: Step[] };

/** One item of the first step of the RFC 8448 trace with this actor and action. */
function vector(who: Step['who'], action: string, label: string): Uint8Array {
  const value = trace.steps.find((s) => s.who === who && s.action === action)?.items[label];
  if (value === undefined) throw new Error(`no ${label} in {${who}} ${action}`);
  return Uint8Array.from(Buffer.from(value, 'hex'));
}

const shared = () => vector('server', 'extract secret "handshake"', 'IKM');
const helloHash = () => vector('server', 'derive secret "tls13 c hs traffic"', 'hash');
const serverFinishedHash = () => vector('server', 'derive secret "tls13 c ap traffic"', 'hash');
const clientFinishedHash = () => vector('client', 'derive secret "tls13 res master"', 'hash');
const expanded = (who: Step['who'], label: string) => vector(who, `derive secret "tls13 ${label}"`, 'expanded');

describe.each([
  ['noble', nobleProvider],
  ['node', nodeProvider],
] as const)('the key schedule stages with the %s provider', (_name, provider) => {
  it("reproduce RFC 8448 section 3's secrets, stage by stage", () => {
    const handshake = new EarlyStage(provider, 'sha256', undefined, 'tls13 ').handshake(shared(), helloHash());
    expect(handshake.clientTraffic).toEqual(expanded('server', 'c hs traffic'));
    expect(handshake.serverTraffic).toEqual(expanded('server', 's hs traffic'));
    expect(handshake.traffic('client')).toBe(handshake.clientTraffic);
    const traffic = handshake.master(serverFinishedHash());
    expect(traffic.clientApplication).toEqual(expanded('server', 'c ap traffic'));
    expect(traffic.serverApplication).toEqual(expanded('server', 's ap traffic'));
    expect(traffic.exporter).toEqual(expanded('server', 'exp master'));
    expect(traffic.resumption).toBeUndefined();
    expect(traffic.deriveResumption(clientFinishedHash())).toEqual(expanded('client', 'res master'));
    expect(traffic.resumption).toEqual(expanded('client', 'res master'));
  });

  it('make the resumption secret once: the Master Secret is wiped by then', () => {
    const traffic = new EarlyStage(provider, 'sha256', undefined, 'tls13 ').handshake(shared(), helloHash()).master(serverFinishedHash());
    traffic.deriveResumption(clientFinishedHash());
    expect(() => traffic.deriveResumption(clientFinishedHash())).toThrow();
  });

  it('KeyUpdate moves one direction to the next generation (RFC 8446 7.2) and leaves the other', () => {
    const traffic = new EarlyStage(provider, 'sha256', undefined, 'tls13 ').handshake(shared(), helloHash()).master(serverFinishedHash());
    const client0 = traffic.clientApplication.slice();
    const server0 = traffic.serverApplication.slice();
    const client1 = traffic.update('client');
    expect(client1).toEqual(nextTrafficSecret(provider, 'sha256', client0));
    expect(traffic.clientApplication).toEqual(client1);
    expect(traffic.serverApplication).toEqual(server0);
    expect(traffic.exporter).toEqual(expanded('server', 'exp master'));
  });

  it('a server that sent its tickets drops the resumption secret, wiped', () => {
    const traffic = new EarlyStage(provider, 'sha256', undefined, 'tls13 ').handshake(shared(), helloHash()).master(serverFinishedHash());
    const resumption = traffic.deriveResumption(clientFinishedHash());
    traffic.dropResumption();
    expect(traffic.resumption).toBeUndefined();
    expect(resumption.every((b) => b === 0)).toBe(true);
    expect(traffic.serverApplication).toEqual(expanded('server', 's ap traffic'));
  });

  it('the Handshake stage wipes its traffic secrets when the handshake is over', () => {
    const handshake = new EarlyStage(provider, 'sha256', undefined, 'tls13 ').handshake(shared(), helloHash());
    const client = handshake.clientTraffic;
    handshake.master(serverFinishedHash());
    expect(client).toEqual(expanded('server', 'c hs traffic'));
    handshake.wipe();
    expect(client.every((b) => b === 0)).toBe(true);
    expect(handshake.serverTraffic.every((b) => b === 0)).toBe(true);
  });

  it('carry their label prefix through every stage: DTLS 1.3\'s "dtls13" makes other secrets than "tls13 " from the same inputs', () => {
    const tls = new EarlyStage(provider, 'sha256', undefined, 'tls13 ').handshake(shared(), helloHash());
    const dtls = new EarlyStage(provider, 'sha256', undefined, 'dtls13').handshake(shared(), helloHash());
    expect(dtls.prefix).toBe('dtls13');
    expect(dtls.clientTraffic).not.toEqual(tls.clientTraffic);
    const traffic = dtls.master(serverFinishedHash());
    expect(traffic.prefix).toBe('dtls13');
    expect(traffic.exporter).not.toEqual(expanded('server', 'exp master'));
    const client0 = traffic.clientApplication.slice();
    expect(traffic.update('client')).toEqual(nextTrafficSecret(provider, 'sha256', client0, 'dtls13'));
  });

  it('give the PSK binder and early traffic keys from the Early stage, one binder key per kind of PSK, and the empty-PSK early secret is the zeros one', () => {
    const psk = new Uint8Array(32).fill(9);
    const withPsk = new EarlyStage(provider, 'sha256', psk, 'tls13 ');
    const zeros = new EarlyStage(provider, 'sha256', new Uint8Array(32), 'tls13 ');
    const none = new EarlyStage(provider, 'sha256', undefined, 'tls13 ');
    const binderKeys = (['res binder', 'ext binder', 'imp binder'] as const).map((label) => Buffer.from(withPsk.binderKey(label)).toString('hex'));
    expect(new Set(binderKeys).size).toBe(3);
    // DTLS 1.3's binders (an imported PSK's among them) are made under its own prefix.
    expect(new EarlyStage(provider, 'sha256', psk, 'dtls13').binderKey('imp binder')).not.toEqual(withPsk.binderKey('imp binder'));
    expect(withPsk.clientEarlyTraffic(helloHash())).not.toEqual(none.clientEarlyTraffic(helloHash()));
    expect(zeros.binderKey('res binder')).toEqual(none.binderKey('res binder'));
  });
});
