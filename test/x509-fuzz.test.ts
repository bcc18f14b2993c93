/**
 * A seeded mutation fuzzer over DER certificates: byte-level mutations (flip, insert,
 * delete, truncate) and structure-aware ones (re-encoded DER trees with a node replaced,
 * dropped, duplicated, re-tagged...). Whatever comes out, parsing and verification may only
 * fail with a TLSError, and never by way of the catch-all that wraps unexpected exceptions.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nobleProvider } from '../src/crypto/noble.js';
import { TLSError } from '../src/errors.js';
import { parseCertificate, type Certificate } from '../src/x509/certificate.js';
import { encodeDer, readNode, Tag } from '../src/util/der.js';
import { certificateMatchesHost } from '../src/x509/hostname.js';
import { parseCertificateChain, pemDecode } from '../src/x509/parse-chain.js';
import { verifyCertificateChain } from '../src/x509/verify.js';
import { fuzzIterations } from './helpers/depth.js';
import { mulberry32, type Mulberry32 } from './helpers/random.js';

// TSLS_FUZZ_SEED / TSLS_FUZZ_ITERATIONS override the fixed defaults for longer local runs.
const SEED = Number(process.env.TSLS_FUZZ_SEED ?? 0x5eed_1234);
const BYTE_MUTATIONS = fuzzIterations();
const TREE_MUTATIONS = BYTE_MUTATIONS;


const dirs = ['../vectors/x509/', '../vectors/pki/'].map((d) => new URL(d, import.meta.url));
const corpus: Uint8Array[] = dirs.flatMap((dir) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.crt') || f.endsWith('.pem'))
    .flatMap((f) => pemDecode(readFileSync(new URL(f, dir), 'utf8')))
    .filter((b) => b.label === 'CERTIFICATE')
    .map((b) => b.der),
);
const x509 = (f: string) => parseCertificateChain(readFileSync(new URL(f, dirs[0]), 'utf8'))[0]!;
const rootEc = x509('root-ec.crt');
const intEc = x509('int-ec.crt');
const leafEc = x509('leaf-ec.crt');
const intNc = x509('int-nc-dns.crt');
const now = Date.parse('2026-01-01T00:00:00Z');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const signedParts = new Set(corpus.map((der) => hex(parseCertificate(der).tbs)));

// ---- mutations ----

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function mutateBytes(r: Mulberry32, der: Uint8Array): Uint8Array {
  let d: Uint8Array = der.slice();
  const rounds = 1 + r.int(3);
  for (let i = 0; i < rounds && d.length > 0; i++) {
    // Mostly inside the TBSCertificate, where the parser has decisions to make.
    const limit = r.next() < 0.8 ? Math.min(d.length, Math.max(8, Math.floor(d.length * 0.75))) : d.length;
    const at = r.int(limit);
    switch (r.int(6)) {
      case 0:
        d[at]! ^= 1 << r.int(8);
        break;
      case 1:
        d[at] = r.pick([0x00, 0x01, 0x7f, 0x80, 0x81, 0x82, 0xff, r.int(256)]);
        break;
      case 2:
        d = concat(d.subarray(0, at), r.bytes(1 + r.int(4)), d.subarray(at));
        break;
      case 3:
        d = concat(d.subarray(0, at), d.subarray(Math.min(d.length, at + 1 + r.int(8))));
        break;
      case 4:
        d = d.slice(0, at);
        break;
      default:
        // Swap two bytes.
        {
          const b = r.int(d.length);
          [d[at], d[b]] = [d[b]!, d[at]!];
        }
    }
  }
  return d;
}

/** A DER tree; OCTET STRINGs that hold DER (extension values) are opened too. */
interface TreeNode {
  tag: number;
  value: Uint8Array;
  children?: TreeNode[];
}

function decodeAll(buf: Uint8Array): TreeNode[] | undefined {
  const out: TreeNode[] = [];
  let at = 0;
  try {
    while (at < buf.length) {
      const { node, next } = readNode(buf, at);
      if (node.number >= 31) return undefined;
      at = next;
      const t: TreeNode = { tag: node.tag, value: node.value };
      if (node.constructed || node.tag === Tag.OCTET_STRING) {
        const kids = node.value.length > 0 ? decodeAll(node.value) : undefined;
        if (kids) t.children = kids;
        else if (node.constructed) return undefined;
      }
      out.push(t);
    }
  } catch {
    return undefined;
  }
  return out;
}

function encodeTree(n: TreeNode): Uint8Array {
  return encodeDer(n.tag, n.children ? concat(...n.children.map(encodeTree)) : n.value);
}

function allNodes(n: TreeNode, out: TreeNode[] = []): TreeNode[] {
  out.push(n);
  for (const c of n.children ?? []) allNodes(c, out);
  return out;
}

const interestingValues = [
  new Uint8Array(0),
  Uint8Array.of(0),
  Uint8Array.of(0xff),
  Uint8Array.of(0x80),
  Uint8Array.of(0x00, 0x80),
  Uint8Array.of(0x07, 0xff),
  Uint8Array.of(0x7f, 0xff, 0xff, 0xff, 0xff),
  Uint8Array.of(0x2a, 0x86, 0x48),
];

function mutateTree(r: Mulberry32, der: Uint8Array): Uint8Array {
  const root = decodeAll(der)![0]!;
  const nodes = allNodes(root);
  const rounds = 1 + r.int(2);
  for (let i = 0; i < rounds; i++) {
    const n = r.pick(nodes);
    const parentOf = nodes.find((p) => p.children?.includes(n));
    switch (r.int(7)) {
      case 0: // new random contents
        delete n.children;
        n.value = r.bytes(r.int(12));
        break;
      case 1: // an edge-case value
        delete n.children;
        n.value = r.pick(interestingValues);
        break;
      case 2: // another tag
        n.tag = r.pick([Tag.BOOLEAN, Tag.INTEGER, Tag.BIT_STRING, Tag.OCTET_STRING, Tag.NULL, Tag.OID, Tag.UTF8String, Tag.PrintableString, Tag.IA5String, Tag.UTCTime, Tag.GeneralizedTime, Tag.SEQUENCE, Tag.SET, 0x80, 0x81, 0x82, 0x87, 0xa0, 0xa1, 0xa3, 0xa4]);
        break;
      case 3: // drop it
        if (parentOf) parentOf.children!.splice(parentOf.children!.indexOf(n), 1);
        break;
      case 4: // duplicate it
        if (parentOf) parentOf.children!.splice(parentOf.children!.indexOf(n), 0, { ...n });
        break;
      case 5: // swap with a sibling
        if (parentOf && parentOf.children!.length > 1) {
          const kids = parentOf.children!;
          const a = kids.indexOf(n);
          const b = r.int(kids.length);
          [kids[a], kids[b]] = [kids[b]!, kids[a]!];
        }
        break;
      default: // flip one bit of a primitive value
        if (!n.children && n.value.length > 0) {
          n.value = n.value.slice();
          n.value[r.int(n.value.length)]! ^= 1 << r.int(8);
        }
    }
  }
  return encodeTree(root);
}

// ---- the property ----

/** Only TLSErrors, and none that merely wraps a TypeError/RangeError from inside the parser. */
function expectCleanFailure(err: unknown, what: string): void {
  if (!(err instanceof TLSError)) throw new Error(`${what}: threw ${String(err)}`, { cause: err });
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error && !(cause instanceof TLSError)) throw new Error(`${what}: ${err.message}`, { cause: err });
}

const stats = { parsed: 0, rejected: 0, verified: 0 };

function exercise(der: Uint8Array, label: string): void {
  let cert: Certificate;
  try {
    cert = parseCertificate(der);
  } catch (err) {
    expectCleanFailure(err, `parse ${label}`);
    stats.rejected++;
    return;
  }
  stats.parsed++;
  certificateMatchesHost(cert, 'www.example.com');
  certificateMatchesHost(cert, '192.0.2.10');
  const attempts: [Certificate[], Certificate[]][] = [
    [[cert, intEc], [rootEc]], // as the leaf
    [[leafEc, cert], [rootEc]], // as the intermediate
    [[leafEc, intEc], [cert]], // as the anchor
    [[cert, intNc, cert, intEc], [rootEc, cert]], // everywhere, with name constraints around
  ];
  for (const [index, [chain, anchors]] of attempts.entries()) {
    try {
      verifyCertificateChain(nobleProvider, chain, { anchors, host: 'www.example.com', now, purpose: 'serverAuth' });
      stats.verified++;
      // Accepted as a leaf or intermediate: its signed part must be one a CA really signed.
      if (index < 2) expect(signedParts.has(hex(cert.tbs)), `${label} verified with a forged TBSCertificate`).toBe(true);
    } catch (err) {
      expectCleanFailure(err, `verify ${label}`);
    }
  }
}

describe('x509 fuzzing', () => {
  it(`has a corpus`, () => {
    expect(corpus.length).toBeGreaterThan(50);
    for (const der of corpus) expect(() => parseCertificate(der)).not.toThrow();
  });

  it(`survives ${BYTE_MUTATIONS} byte-level mutations`, () => {
    const r = mulberry32(SEED);
    for (let i = 0; i < BYTE_MUTATIONS; i++) exercise(mutateBytes(r, r.pick(corpus)), `byte mutation #${i}`);
  });

  it(`survives ${TREE_MUTATIONS} structure-aware mutations`, () => {
    const r = mulberry32(SEED ^ 0xffff);
    for (let i = 0; i < TREE_MUTATIONS; i++) exercise(mutateTree(r, r.pick(corpus)), `tree mutation #${i}`);
    // The mutations must reach the verifier, not just the parser's first checks.
    expect(stats.parsed).toBeGreaterThan(50);
    expect(stats.rejected).toBeGreaterThan(50);
    if (process.env.TSLS_FUZZ_ITERATIONS) console.log(stats);
  });
});
