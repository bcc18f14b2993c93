// Self-consistency checks for the RFC 8448 traces extracted into vectors/rfc8448/.
// These use only node:crypto, so they validate the extracted bytes, not tsls itself:
// a single wrong or missing byte anywhere in a record, key or secret makes one of them fail.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import {
  createDecipheriv,
  createECDH,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  verify as verifySignature,
  constants,
} from "node:crypto";

interface Step {
  who: "client" | "server";
  action: string;
  items: Record<string, string>;
  octets: Record<string, number>;
}
interface Trace {
  source: string;
  title: string;
  steps: Step[];
  serverRsaKey: { source: string; items: Record<string, string> };
}

const load = (name: string): Trace =>
  JSON.parse(readFileSync(new URL(`../vectors/rfc8448/${name}`, import.meta.url), "utf8")) as Trace;

const simple = load("simple-1rtt.json");
const hrr = load("hello-retry-request.json");

const HEX = /^(?:[0-9a-f]{2})*$/;
// The only non-hex value in sections 3 and 5: the early-secret salt.
const TEXT_VALUES: Record<string, string> = { salt: "0 (all zero octets)" };

const hex = (s: string): Buffer => {
  if (!HEX.test(s)) throw new Error(`not lowercase even-length hex: ${s.slice(0, 40)}`);
  return Buffer.from(s, "hex");
};
const sha256 = (...parts: Buffer[]) => createHash("sha256").update(Buffer.concat(parts)).digest();
const hmac = (key: Buffer, ...parts: Buffer[]) => createHmac("sha256", key).update(Buffer.concat(parts)).digest();
// HKDF-Expand with L <= 32 (one block), which covers every expansion in these traces.
const hkdfExpand = (prk: Buffer, info: Buffer, len: number) => hmac(prk, info, Buffer.from([1])).subarray(0, len);

/** The nth (0-based) step whose who/action match exactly. */
function step(t: Trace, who: Step["who"], action: string, nth = 0): Step {
  const found = t.steps.filter((s) => s.who === who && s.action === action);
  if (found.length <= nth) throw new Error(`${t.source}: no step #${nth} {${who}} ${action}`);
  return found[nth]!;
}
function item(s: Step, label: string): Buffer {
  const v = s.items[label];
  if (v === undefined) throw new Error(`step {${s.who}} ${s.action} has no item "${label}"`);
  return hex(v);
}
const get = (t: Trace, who: Step["who"], action: string, label: string, nth = 0) => item(step(t, who, action, nth), label);

function x25519Public(priv: Buffer): Buffer {
  const key = createPrivateKey({
    key: Buffer.concat([Buffer.from("302e020100300506032b656e04220420", "hex"), priv]),
    format: "der",
    type: "pkcs8",
  });
  return createPublicKey(key).export({ format: "der", type: "spki" }).subarray(-32);
}
function x25519Shared(priv: Buffer, peerPub: Buffer): Buffer {
  const privateKey = createPrivateKey({
    key: Buffer.concat([Buffer.from("302e020100300506032b656e04220420", "hex"), priv]),
    format: "der",
    type: "pkcs8",
  });
  const publicKey = createPublicKey({
    key: Buffer.concat([Buffer.from("302a300506032b656e032100", "hex"), peerPub]),
    format: "der",
    type: "spki",
  });
  return diffieHellman({ privateKey, publicKey });
}

/** Open a TLS 1.3 AES-128-GCM record; returns the inner plaintext (content || type). */
function openRecord(record: Buffer, key: Buffer, iv: Buffer, seq: number): Buffer {
  const nonce = Buffer.from(iv);
  nonce.writeUInt32BE((nonce.readUInt32BE(8) ^ seq) >>> 0, 8);
  const header = record.subarray(0, 5);
  const body = record.subarray(5);
  const d = createDecipheriv("aes-128-gcm", key, nonce);
  d.setAAD(header);
  d.setAuthTag(body.subarray(body.length - 16));
  return Buffer.concat([d.update(body.subarray(0, body.length - 16)), d.final()]);
}

const HANDSHAKE_TYPES: Record<string, number> = {
  ClientHello: 1,
  ServerHello: 2,
  NewSessionTicket: 4,
  EncryptedExtensions: 8,
  Certificate: 11,
  CertificateVerify: 15,
  Finished: 20,
};

describe.each([
  ["simple-1rtt.json", simple, "RFC 8448 section 3"],
  ["hello-retry-request.json", hrr, "RFC 8448 section 5"],
] as const)("%s: extraction is well-formed", (_name, t, source) => {
  it("has its source and well-formed steps", () => {
    expect(t.source).toBe(source);
    expect(t.steps.length).toBeGreaterThan(40);
    for (const s of t.steps) {
      expect(["client", "server"]).toContain(s.who);
      expect(s.action).toMatch(/^[a-z][^:]*[^:\s]$/);
      for (const label of Object.keys(s.octets)) expect(s.items).toHaveProperty([label]);
    }
  });

  it("every value is even-length lowercase hex of the stated size, or a known text value", () => {
    let counted = 0;
    for (const s of t.steps)
      for (const [label, value] of Object.entries(s.items)) {
        const n = s.octets[label];
        if (n === undefined) {
          expect(TEXT_VALUES[label], `${s.action} / ${label}`).toBe(value);
          continue;
        }
        expect(value, `${s.action} / ${label}`).toMatch(HEX);
        expect(value.length / 2, `${s.action} / ${label}`).toBe(n);
        counted++;
      }
    expect(counted).toBeGreaterThan(100);
    for (const [label, value] of Object.entries(t.serverRsaKey.items)) expect(value, label).toMatch(HEX);
  });

  it("every complete record has a valid header and matches its payload", () => {
    const records = t.steps.filter((s) => "complete record" in s.items);
    expect(records.length).toBeGreaterThanOrEqual(6);
    for (const s of records) {
      const rec = item(s, "complete record");
      const payload = item(s, "payload");
      expect([0x16, 0x17], s.action).toContain(rec[0]);
      expect(["0301", "0303"]).toContain(rec.subarray(1, 3).toString("hex"));
      expect(rec.readUInt16BE(3), s.action).toBe(rec.length - 5);
      if (rec[0] === 0x16) expect(rec.subarray(5).equals(payload), s.action).toBe(true);
      // AES-128-GCM: inner content-type octet plus a 16-octet tag
      else expect(rec.length - 5, s.action).toBe(payload.length + 1 + 16);
    }
  });

  it("every handshake message has the right type and 24-bit length", () => {
    let seen = 0;
    for (const s of t.steps)
      for (const [label, type] of Object.entries(HANDSHAKE_TYPES)) {
        if (!(label in s.items)) continue;
        const msg = item(s, label);
        expect(msg[0], label).toBe(type);
        expect(msg.readUIntBE(1, 3), label).toBe(msg.length - 4);
        seen++;
      }
    expect(seen).toBeGreaterThanOrEqual(8);
  });

  it("every HKDF-Extract and HKDF-Expand-Label step recomputes", () => {
    let checked = 0;
    for (const s of t.steps) {
      const its = s.items;
      if ("IKM" in its && "secret" in its) {
        const salt = its.salt === TEXT_VALUES.salt ? Buffer.alloc(32) : item(s, "salt");
        expect(hmac(salt, item(s, "IKM")).equals(item(s, "secret")), s.action).toBe(true);
        checked++;
      }
      if ("PRK" in its && "info" in its) {
        const expanded = item(s, "expanded");
        expect(hkdfExpand(item(s, "PRK"), item(s, "info"), expanded.length).equals(expanded), s.action).toBe(true);
        // info = HkdfLabel(length, "tls13 " + label, hash)
        const info = item(s, "info");
        const hash = item(s, "hash");
        expect(info.readUInt16BE(0)).toBe(expanded.length);
        const label = info.subarray(3, 3 + info[2]!).toString("latin1");
        expect(label).toMatch(/^tls13 /);
        expect(s.action).toContain(`"${label}"`);
        expect(info.subarray(4 + info[2]!).equals(hash), s.action).toBe(true);
        expect(info[3 + info[2]!]).toBe(hash.length);
        checked++;
      }
      if ("key info" in its) {
        const prk = item(s, "PRK");
        expect(hkdfExpand(prk, item(s, "key info"), 16).equals(item(s, "key expanded")), s.action).toBe(true);
        expect(hkdfExpand(prk, item(s, "iv info"), 12).equals(item(s, "iv expanded")), s.action).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(15);
  });
});

describe("simple-1rtt.json (RFC 8448 section 3)", () => {
  const t = simple;
  const CH = get(t, "client", "construct a ClientHello handshake message", "ClientHello");
  const SH = get(t, "server", "construct a ServerHello handshake message", "ServerHello");
  const EE = get(t, "server", "construct an EncryptedExtensions handshake message", "EncryptedExtensions");
  const CERT = get(t, "server", "construct a Certificate handshake message", "Certificate");
  const CV = get(t, "server", "construct a CertificateVerify handshake message", "CertificateVerify");
  const SFIN = get(t, "server", "construct a Finished handshake message", "Finished");
  const CFIN = get(t, "client", "construct a Finished handshake message", "Finished");

  it("has the ClientHello (196 octets, as the RFC states) and ServerHello (90 octets)", () => {
    expect(CH.length).toBe(196);
    expect(step(t, "client", "construct a ClientHello handshake message").octets.ClientHello).toBe(196);
    expect(SH.length).toBe(90);
    expect(get(t, "client", "send handshake record", "payload").equals(CH)).toBe(true);
    expect(get(t, "server", "send handshake record", "payload", 0).equals(SH)).toBe(true);
  });

  it("has the server's encrypted flight record and the client Finished record", () => {
    const flight = step(t, "server", "send handshake record", 1);
    expect(flight.octets["complete record"]).toBe(679);
    expect(item(flight, "complete record")[0]).toBe(0x17);
    expect(item(flight, "payload").equals(Buffer.concat([EE, CERT, CV, SFIN]))).toBe(true);
    const cfin = step(t, "client", "send handshake record", 1);
    expect(cfin.octets["complete record"]).toBe(58);
    expect(item(cfin, "payload").equals(CFIN)).toBe(true);
  });

  it("x25519 keys and the shared secret agree", () => {
    const c = step(t, "client", "create an ephemeral x25519 key pair");
    const s = step(t, "server", "create an ephemeral x25519 key pair");
    expect(x25519Public(item(c, "private key")).equals(item(c, "public key"))).toBe(true);
    expect(x25519Public(item(s, "private key")).equals(item(s, "public key"))).toBe(true);
    const ikm = get(t, "server", 'extract secret "handshake"', "IKM");
    expect(x25519Shared(item(c, "private key"), item(s, "public key")).equals(ikm)).toBe(true);
    expect(x25519Shared(item(s, "private key"), item(c, "public key")).equals(ikm)).toBe(true);
  });

  it("transcript hashes: sha256(ClientHello||ServerHello) and later ones", () => {
    expect(sha256(CH, SH).equals(get(t, "server", 'derive secret "tls13 c hs traffic"', "hash"))).toBe(true);
    expect(sha256(CH, SH).equals(get(t, "server", 'derive secret "tls13 s hs traffic"', "hash"))).toBe(true);
    const th = sha256(CH, SH, EE, CERT, CV, SFIN);
    expect(th.equals(get(t, "server", 'derive secret "tls13 c ap traffic"', "hash"))).toBe(true);
    expect(th.equals(get(t, "server", 'derive secret "tls13 exp master"', "hash"))).toBe(true);
    expect(sha256(CH, SH, EE, CERT, CV, SFIN, CFIN).equals(get(t, "client", 'derive secret "tls13 res master"', "hash"))).toBe(true);
  });

  it("Finished values are HMACs over the transcript", () => {
    const sf = step(t, "server", 'calculate finished "tls13 finished"');
    expect(hmac(item(sf, "expanded"), sha256(CH, SH, EE, CERT, CV)).equals(item(sf, "finished"))).toBe(true);
    expect(SFIN.subarray(4).equals(item(sf, "finished"))).toBe(true);
    const cf = step(t, "client", 'calculate finished "tls13 finished"');
    expect(hmac(item(cf, "expanded"), sha256(CH, SH, EE, CERT, CV, SFIN)).equals(item(cf, "finished"))).toBe(true);
    expect(CFIN.subarray(4).equals(item(cf, "finished"))).toBe(true);
  });

  it("every encrypted record opens with the trace's keys", () => {
    const keys = (action: string) => {
      const s = step(t, "server", action);
      return [item(s, "key expanded"), item(s, "iv expanded")] as const;
    };
    const sHs = keys("derive write traffic keys for handshake data");
    const cHs = keys("derive read traffic keys for handshake data");
    const sAp = keys("derive write traffic keys for application data");
    const c = step(t, "client", "derive write traffic keys for application data");
    const cAp = [item(c, "key expanded"), item(c, "iv expanded")] as const;
    const cases: [Step, readonly [Buffer, Buffer], number, number][] = [
      [step(t, "server", "send handshake record", 1), sHs, 0, 0x16],
      [step(t, "client", "send handshake record", 1), cHs, 0, 0x16],
      [step(t, "server", "send handshake record", 2), sAp, 0, 0x16],
      [step(t, "client", "send application_data record"), cAp, 0, 0x17],
      [step(t, "server", "send application_data record"), sAp, 1, 0x17],
      [step(t, "client", "send alert record"), cAp, 1, 0x15],
      [step(t, "server", "send alert record"), sAp, 2, 0x15],
    ];
    for (const [s, [key, iv], seq, type] of cases) {
      const inner = openRecord(item(s, "complete record"), key, iv, seq);
      expect(inner.equals(Buffer.concat([item(s, "payload"), Buffer.from([type])])), s.action).toBe(true);
    }
    expect(get(t, "server", "send handshake record", "payload", 2).equals(
      get(t, "server", "construct a NewSessionTicket handshake message", "NewSessionTicket"))).toBe(true);
  });

  it("the server RSA key is consistent, is in the Certificate, and signs CertificateVerify", () => {
    const k = t.serverRsaKey.items;
    const big = (label: string) => BigInt("0x" + k[label]!);
    const [n, e, d, p, q] = ["modulus (public)", "public exponent", "private exponent", "prime1", "prime2"].map(big) as [bigint, bigint, bigint, bigint, bigint];
    expect(k["modulus (public)"]!.length / 2).toBe(128);
    expect(p * q).toBe(n);
    expect(big("exponent1")).toBe(d % (p - 1n));
    expect(big("exponent2")).toBe(d % (q - 1n));
    expect((big("coefficient") * q) % p).toBe(1n);
    const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b));
    const lambda = ((p - 1n) * (q - 1n)) / gcd(p - 1n, q - 1n); // Carmichael function of n
    expect((d * e) % lambda).toBe(1n);
    expect(CERT.includes(Buffer.from("028181" + "00" + k["modulus (public)"]!, "hex"))).toBe(true);
    expect(hex(hrr.serverRsaKey.items["modulus (public)"]!).equals(hex(k["modulus (public)"]!))).toBe(true);

    const pub = createPublicKey({
      key: { kty: "RSA", n: hex(k["modulus (public)"]!).toString("base64url"), e: hex(k["public exponent"]!).toString("base64url") },
      format: "jwk",
    });
    const checkCv = (tr: Trace, cv: Buffer, transcript: Buffer) => {
      expect(cv.subarray(4, 6).toString("hex")).toBe("0804"); // rsa_pss_rsae_sha256
      const sig = cv.subarray(8, 8 + cv.readUInt16BE(6));
      const content = Buffer.concat([Buffer.alloc(64, 0x20), Buffer.from("TLS 1.3, server CertificateVerify\0", "latin1"), transcript]);
      const ok = verifySignature("sha256", content, { key: pub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig);
      expect(ok, tr.source).toBe(true);
    };
    checkCv(t, CV, sha256(CH, SH, EE, CERT));
    const h = hrrMessages();
    checkCv(hrr, h.CV, sha256(h.messageHash, h.HRR, h.CH2, h.SH, h.EE, h.CERT));
  });
});

function hrrMessages() {
  const t = hrr;
  const CH1 = get(t, "client", "construct a ClientHello handshake message", "ClientHello", 0);
  const HRR = get(t, "server", "construct a ServerHello handshake message", "ServerHello", 0);
  const CH2 = get(t, "client", "construct a ClientHello handshake message", "ClientHello", 1);
  const SH = get(t, "server", "construct a ServerHello handshake message", "ServerHello", 1);
  const EE = get(t, "server", "construct an EncryptedExtensions handshake message", "EncryptedExtensions");
  const CERT = get(t, "server", "construct a Certificate handshake message", "Certificate");
  const CV = get(t, "server", "construct a CertificateVerify handshake message", "CertificateVerify");
  const SFIN = get(t, "server", "construct a Finished handshake message", "Finished");
  const CFIN = get(t, "client", "construct a Finished handshake message", "Finished");
  // RFC 8446 4.4.1: ClientHello1 is replaced by message_hash(Hash(ClientHello1))
  const messageHash = Buffer.concat([Buffer.from([0xfe, 0, 0, 32]), sha256(CH1)]);
  return { CH1, HRR, CH2, SH, EE, CERT, CV, SFIN, CFIN, messageHash };
}

describe("hello-retry-request.json (RFC 8448 section 5)", () => {
  const t = hrr;
  const m = hrrMessages();

  it("has both ClientHellos, the HelloRetryRequest and the ServerHello", () => {
    expect([m.CH1.length, m.HRR.length, m.CH2.length, m.SH.length]).toEqual([180, 176, 512, 123]);
    // HelloRetryRequest is a ServerHello whose random is SHA-256("HelloRetryRequest")
    expect(m.HRR.subarray(6, 38).equals(sha256(Buffer.from("HelloRetryRequest")))).toBe(true);
    expect(m.SH.subarray(6, 38).equals(sha256(Buffer.from("HelloRetryRequest")))).toBe(false);
    expect(get(t, "client", "send handshake record", "payload", 0).equals(m.CH1)).toBe(true);
    expect(get(t, "server", "send handshake record", "payload", 0).equals(m.HRR)).toBe(true);
    expect(get(t, "client", "send handshake record", "payload", 1).equals(m.CH2)).toBe(true);
    expect(get(t, "server", "send handshake record", "payload", 1).equals(m.SH)).toBe(true);
    const flight = step(t, "server", "send handshake record", 2);
    expect(item(flight, "complete record")[0]).toBe(0x17);
    expect(item(flight, "payload").equals(Buffer.concat([m.EE, m.CERT, m.CV, m.SFIN]))).toBe(true);
    expect(item(step(t, "client", "send handshake record", 2), "payload").equals(m.CFIN)).toBe(true);
  });

  it("x25519 and P-256 keys agree, and the P-256 shared secret is the handshake IKM", () => {
    const x = step(t, "client", "create an ephemeral x25519 key pair");
    expect(x25519Public(item(x, "private key")).equals(item(x, "public key"))).toBe(true);
    const c = step(t, "client", "create an ephemeral P-256 key pair");
    const s = step(t, "server", "create an ephemeral P-256 key pair");
    const ce = createECDH("prime256v1");
    ce.setPrivateKey(item(c, "private key"));
    expect(ce.getPublicKey().equals(item(c, "public key"))).toBe(true);
    const se = createECDH("prime256v1");
    se.setPrivateKey(item(s, "private key"));
    expect(se.getPublicKey().equals(item(s, "public key"))).toBe(true);
    const ikm = get(t, "server", 'extract secret "handshake"', "IKM");
    expect(ce.computeSecret(item(s, "public key")).equals(ikm)).toBe(true);
    expect(se.computeSecret(item(c, "public key")).equals(ikm)).toBe(true);
  });

  it("transcript hashes include message_hash(ClientHello1) and the HelloRetryRequest", () => {
    const { messageHash, HRR, CH2, SH, EE, CERT, CV, SFIN, CFIN } = m;
    expect(sha256(messageHash, HRR, CH2, SH).equals(get(t, "server", 'derive secret "tls13 c hs traffic"', "hash"))).toBe(true);
    const th = sha256(messageHash, HRR, CH2, SH, EE, CERT, CV, SFIN);
    expect(th.equals(get(t, "server", 'derive secret "tls13 c ap traffic"', "hash"))).toBe(true);
    const sf = step(t, "server", 'calculate finished "tls13 finished"');
    expect(hmac(item(sf, "expanded"), sha256(messageHash, HRR, CH2, SH, EE, CERT, CV)).equals(item(sf, "finished"))).toBe(true);
    const cf = step(t, "client", 'calculate finished "tls13 finished"');
    expect(hmac(item(cf, "expanded"), th).equals(item(cf, "finished"))).toBe(true);
    expect(sha256(messageHash, HRR, CH2, SH, EE, CERT, CV, SFIN, CFIN).equals(get(t, "client", 'derive secret "tls13 res master"', "hash"))).toBe(true);
  });

  it("every encrypted record opens with the trace's keys", () => {
    const keys = (who: Step["who"], action: string) => {
      const s = step(t, who, action);
      return [item(s, "key expanded"), item(s, "iv expanded")] as const;
    };
    const sHs = keys("server", "derive write traffic keys for handshake data");
    const cHs = keys("server", "derive read traffic keys for handshake data");
    const sAp = keys("server", "derive write traffic keys for application data");
    const cAp = keys("client", "derive write traffic keys for application data");
    const cases: [Step, readonly [Buffer, Buffer], number, number][] = [
      [step(t, "server", "send handshake record", 2), sHs, 0, 0x16],
      [step(t, "client", "send handshake record", 2), cHs, 0, 0x16],
      [step(t, "client", "send alert record"), cAp, 0, 0x15],
      [step(t, "server", "send alert record"), sAp, 0, 0x15],
    ];
    for (const [s, [key, iv], seq, type] of cases) {
      const inner = openRecord(item(s, "complete record"), key, iv, seq);
      expect(inner.equals(Buffer.concat([item(s, "payload"), Buffer.from([type])])), s.action).toBe(true);
    }
  });
});
