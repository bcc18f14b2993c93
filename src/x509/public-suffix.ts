/**
 * Is a DNS name a public suffix (`com`, `co.uk`, `kawasaki.jp`'s children)? The Public
 * Suffix List's algorithm over its ICANN section (./public-suffix-list.ts, generated): a name
 * is a public suffix when a rule names it, or a wildcard rule covers it and no exception
 * rule takes it back; any single label is one (the list's implicit `*` rule).
 *
 * The private section (`s3.amazonaws.com`, `github.io`) is left out on purpose: those
 * suffixes belong to one company, which may hold a wildcard certificate for its own suffix.
 */
import { ICANN_PUBLIC_SUFFIXES } from './public-suffix-list.js';

interface Rules {
  exact: Set<string>;
  /** `*.parent` rules, by parent. */
  wildcard: Set<string>;
  exception: Set<string>;
}

let rules: Rules | undefined;

/** Decoded on first use: most processes never check a wildcard. */
function load(): Rules {
  if (rules) return rules;
  const r: Rules = { exact: new Set(), wildcard: new Set(), exception: new Set() };
  for (const group of ICANN_PUBLIC_SUFFIXES.split(';')) {
    const colon = group.indexOf(':');
    const parent = group.slice(0, colon);
    const under = (label: string) => (parent ? `${label}.${parent}` : label);
    for (const label of group.slice(colon + 1).split(',')) {
      if (label === '*') r.wildcard.add(parent);
      else if (label.startsWith('!')) r.exception.add(under(label.slice(1)));
      else r.exact.add(under(label));
    }
  }
  return (rules = r);
}

/** `name`: lower-case A-labels, no trailing dot (as normalizeDnsName gives). */
export function isPublicSuffix(name: string): boolean {
  if (name === '') return false;
  const dot = name.indexOf('.');
  if (dot < 0) return true;
  const { exact, wildcard, exception } = load();
  if (exception.has(name)) return false;
  return exact.has(name) || wildcard.has(name.slice(dot + 1));
}
