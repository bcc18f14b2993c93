/**
 * PEM (RFC 7468) and strict base64: the text form of DER, shared by certificates, CRLs and
 * private keys. No Buffer and no node:* imports: this runs in browsers too.
 */
import { DerError, readNode } from './der.js';

export interface PemBlock {
  label: string;
  der: Uint8Array;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const b64Value = new Map([...B64].map((c, i) => [c, i]));

/** Strict base64: the standard alphabet, correct padding, whitespace ignored. */
export function base64Decode(text: string): Uint8Array {
  const s = text.replace(/\s+/g, '');
  if (s.length % 4 !== 0) throw new DerError('base64: length is not a multiple of 4');
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let at = 0;
  for (let i = 0; i < s.length; i += 4) {
    let acc = 0;
    for (let j = 0; j < 4; j++) {
      const c = s[i + j]!;
      const last = i + 4 === s.length;
      let v: number | undefined;
      if (c === '=' && last && j >= 4 - pad) v = 0;
      else v = b64Value.get(c);
      if (v === undefined) throw new DerError(`base64: unexpected character '${c}'`);
      acc = (acc << 6) | v;
    }
    const bytes = [(acc >> 16) & 0xff, (acc >> 8) & 0xff, acc & 0xff];
    for (const b of bytes) if (at < out.length) out[at++] = b;
  }
  return out;
}

export function base64Encode(der: Uint8Array): string {
  let s = '';
  for (let i = 0; i < der.length; i += 3) {
    const n = (der[i]! << 16) | ((der[i + 1] ?? 0) << 8) | (der[i + 2] ?? 0);
    s += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]!;
    s += i + 1 < der.length ? B64[(n >> 6) & 63]! : '=';
    s += i + 2 < der.length ? B64[n & 63]! : '=';
  }
  return s;
}

/** Every BEGIN/END block in `text`, in order; text between blocks is ignored (RFC 7468 allows it). */
export function pemDecode(text: string): PemBlock[] {
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(re)) {
    const [, label, body, endLabel] = m as unknown as [string, string, string, string];
    if (label !== endLabel) throw new DerError(`PEM: BEGIN ${label} closed by END ${endLabel}`);
    if (body.includes(':')) throw new DerError(`PEM: ${label} has headers (legacy encrypted PEM is not supported)`);
    blocks.push({ label, der: base64Decode(body) });
  }
  return blocks;
}

export function pemEncode(label: string, der: Uint8Array): string {
  const lines = base64Encode(der).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** `input` as text when it is PEM, undefined when it is DER (which never starts with '-'). */
export function asText(input: Uint8Array): string | undefined {
  let i = 0;
  while (i < input.length && (input[i] === 0x20 || input[i] === 0x0a || input[i] === 0x0d || input[i] === 0x09)) i++;
  // DER starts with a tag octet, never with '-'.
  if (input[i] !== 0x2d) return undefined;
  return new TextDecoder().decode(input);
}

/** The DER of every `label` block of PEM text, or of each value in concatenated DER. */
export function derBlocks(input: string | Uint8Array, label: string): Uint8Array[] {
  const text = typeof input === 'string' ? input : asText(input);
  if (text !== undefined) return pemDecode(text).flatMap((b) => (b.label === label ? [b.der] : []));
  const bytes = input as Uint8Array;
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; ) {
    const { node, next } = readNode(bytes, at, label);
    out.push(node.raw);
    at = next;
  }
  return out;
}
