/**
 * The engine's side of KEM-shaped key exchange, for TLS 1.3 key shares and TLS 1.2 ECDHE
 * alike: when the application injected `random`, seeds drawn from it (so a handshake replays
 * exactly, RFC 8448 included) and a seed that is no usable private key redrawn; otherwise the
 * provider draws from its own source, the same one, which lets it use what cannot take a
 * seed (node:crypto's ML-KEM). A malformed peer share becomes illegal_parameter.
 */
import { isEcdhGroup, isPostQuantumGroup, seedLength } from '../crypto/groups.js';
import { NamedGroup } from '../messages/constants.js';
import { UnusableSeedError, type Encapsulation, type GroupName, type KeyPair } from '../crypto/provider.js';
import { TLSError } from '../errors.js';
import type { HandshakeContext } from './context.js';

/** A NIST scalar out of range is about 2^-32 likely per draw: eight redraws is never reached honestly. */
const SEED_DRAWS = 8;

function withSeed<T>(hs: HandshakeContext, group: GroupName, op: 'keyPair' | 'encapsulate', use: (seed?: Uint8Array) => T): T {
  if (hs.options.random === undefined) return use();
  for (let attempt = 1; ; attempt++) {
    try {
      return use(hs.common.random(seedLength(group, op)));
    } catch (err) {
      if (!(err instanceof UnusableSeedError) || attempt >= SEED_DRAWS) throw err;
    }
  }
}

/** The side that speaks first: a key pair whose public key goes on the wire. */
export function ephemeralKeyPair(hs: HandshakeContext, group: GroupName): KeyPair {
  return withSeed(hs, group, 'keyPair', (seed) => hs.provider.generateKeyPair(group, seed));
}

/** The side that answers: its share and the secret, from the peer's share (`what` names it in errors). */
export function encapsulateTo(hs: HandshakeContext, group: GroupName, peerShare: Uint8Array, what: string): Encapsulation {
  return withSeed(hs, group, 'encapsulate', (seed) => {
    try {
      return hs.provider.encapsulate(group, peerShare, seed);
    } catch (err) {
      if (err instanceof UnusableSeedError) throw err;
      throw invalidShare(what, err);
    }
  });
}

/** The side that spoke first, on receiving the answer to its key pair. */
export function decapsulateFrom(hs: HandshakeContext, group: GroupName, pair: KeyPair, share: Uint8Array, what: string): Uint8Array {
  try {
    return hs.provider.decapsulate(group, pair.privateKey, share);
  } catch (err) {
    throw invalidShare(what, err);
  }
}

function invalidShare(what: string, err: unknown): TLSError {
  return new TLSError('illegal_parameter', `${what} is invalid: ${(err as Error).message}`, { cause: err });
}

/** The groups a TLS 1.2 ServerKeyExchange can name: (EC)DH only, never a KEM. */
export function tls12Group(hs: HandshakeContext, group: GroupName | undefined): group is GroupName {
  return group !== undefined && isEcdhGroup(group) && hs.common.groups.includes(group);
}

/**
 * Key shares for the first ClientHello when the application names none: the first group, and
 * when that is a hybrid, the first plain (EC)DH group as well, as browsers send
 * X25519MLKEM768 and X25519, so a server without the hybrid needs no HelloRetryRequest.
 */
export function defaultKeyShareGroups(groups: readonly GroupName[], datagram = false): GroupName[] {
  const first = groups[0];
  if (first === undefined) return [];
  const classic = isEcdhGroup(first) ? undefined : groups.find(isEcdhGroup);
  // Over datagrams a KEM share would fragment the ClientHello, which stateless cookie servers
  // drop (they judge a ClientHello from one datagram, RFC 9147 5.1): the classic share alone,
  // and a server that prefers the hybrid group asks for it with its HelloRetryRequest.
  if (datagram && classic) return [classic];
  return classic ? [first, classic] : [first];
}

/** A TLS 1.3 server's group: with the client's share for it, or without one (ask by HelloRetryRequest). */
export interface GroupChoice {
  group: GroupName;
  share?: Uint8Array;
}

/**
 * The group a TLS 1.3 server takes, from its own preference `ours`, the groups the client
 * lists and the shares it sent; undefined when none is in common. One rule for the stateful
 * server and the DTLS 1.3 cookie guard, so the group a stateless HelloRetryRequest named is
 * the one the association then finds in the second ClientHello.
 *
 * A share the client already sent wins: it saves a round trip. Over datagrams, though, a
 * client sends only a classic share (see defaultKeyShareGroups), so that rule alone would
 * never reach a post-quantum group: there the server's favourite group the client lists wins
 * when it is post-quantum, asked for by HelloRetryRequest when its share is missing
 * (`askForPostQuantum`: over datagrams, unless that would refuse 0-RTT). A DTLS
 * 1.3 server sends that HelloRetryRequest for its cookie anyway (RFC 9147 5.1), so naming the
 * group in it costs no round trip, and the second ClientHello, fragmented by the larger share,
 * comes from an address the cookie proved.
 */
export function chooseGroup13(
  ours: readonly GroupName[],
  listed: readonly number[],
  shares: readonly { group: number; key_exchange: Uint8Array }[],
  askForPostQuantum: boolean,
): GroupChoice | undefined {
  // A set: a list of thousands of groups must not make this quadratic.
  const both = new Set(listed);
  const shareFor = (group: GroupName) => shares.find((s) => s.group === NamedGroup[group])?.key_exchange;
  const favourite = ours.find((g) => both.has(NamedGroup[g]));
  if (askForPostQuantum && favourite && isPostQuantumGroup(favourite)) return { group: favourite, share: shareFor(favourite) };
  for (const group of ours) {
    const share = shareFor(group);
    if (share) return { group, share };
  }
  return favourite && { group: favourite };
}
