/**
 * Name constraints (RFC 5280 4.2.1.10, 6.1.3 (b)/(c)) on the names of one certificate.
 *
 * Processed forms: dNSName, rfc822Name, iPAddress and directoryName. A constraint on any
 * other form (otherName, URI, ...) cannot be processed, so a certificate below it that has
 * a name of that form is refused, as the RFC requires; one without such a name is not
 * affected. A constraint whose own syntax is malformed (a dNSName with a leading period,
 * a mailbox with two '@') makes the CA that carries it invalid. Names of the constrained
 * forms must themselves be well formed: `.example.com` is not a host name and is never
 * within `example.com`.
 *
 * The work is bounded: every (name, subtree) comparison of one form costs one unit from a
 * budget shared by the whole path, and the cost of a certificate is known before any
 * comparison is made, so a chain built to be quadratic is refused at once.
 */
import { TLSError } from '../errors.js';
import { equal } from '../util/bytes.js';
import { OID, type Certificate, type GeneralSubtree, type NameConstraints } from './certificate.js';
import { isDnsNamePattern, isHostName, normalizeDnsName, parseIp } from './hostname.js';

/** Comparisons one path may cost (Go's verifier allows 250,000; this is a quarter of that). */
export const NAME_CONSTRAINT_BUDGET = 65536;

export interface ActiveConstraints extends NameConstraints {
  from: Certificate;
}

const describe = (cert: Certificate) => `'${cert.subject.text}'`;

function certError(code: string, message: string): TLSError {
  return new TLSError('bad_certificate', message, { code });
}

/** A CA's constraints, refused when one of them is malformed. */
export function activeConstraints(cert: Certificate, nc: NameConstraints): ActiveConstraints {
  for (const s of [...nc.permitted, ...nc.excluded]) {
    const bad = s.kind === 'dns' ? !(s.name === '' || isHostName(s.name)) : s.kind === 'email' ? !isEmailConstraint(s.name) : false;
    if (bad) {
      throw certError('UNSUPPORTED_CONSTRAINT_SYNTAX', `unsupported or malformed name constraint ${s.kind === 'dns' ? 'DNS' : 'email'}:${s.kind === 'dns' || s.kind === 'email' ? s.name : ''} in ${describe(cert)}`);
    }
  }
  return { from: cert, ...nc };
}

/** The names of one certificate that constraints apply to, by form. */
interface Names {
  dns: string[];
  email: string[];
  ip: string[];
  dirNames: Uint8Array[][];
  otherTags: number[];
}

function namesOf(cert: Certificate): Names {
  const san = cert.subjectAltNames;
  // The subject is a directoryName (when not empty); its emailAddress attributes are rfc822Names (RFC 5280 4.2.1.10).
  const subjectEmail = cert.subject.rdns.flatMap((rdn) => rdn.filter((a) => a.oid === OID.emailAddress).map((a) => a.value));
  return {
    dns: san.dns,
    email: [...san.email, ...subjectEmail],
    ip: san.ip,
    dirNames: [...(cert.subject.rdnDers.length ? [cert.subject.rdnDers] : []), ...san.dirNames.map((n) => n.rdnDers)],
    otherTags: san.otherTags,
  };
}

/** Comparisons checking `cert` against `nc` will make. */
function cost(names: Names, nc: ActiveConstraints): number {
  const subtrees = [...nc.permitted, ...nc.excluded];
  const count = (kind: GeneralSubtree['kind']) => subtrees.filter((s) => s.kind === kind).length;
  return (
    names.dns.length * count('dns') +
    names.email.length * count('email') +
    names.ip.length * count('ip') +
    names.dirNames.length * count('dirName') +
    names.otherTags.length * count('other')
  );
}

/**
 * Checks every name of `cert` against each set of constraints above it; returns what is
 * left of `budget`, or throws.
 */
export function checkNameConstraints(cert: Certificate, constraints: ActiveConstraints[], budget: number): number {
  if (constraints.length === 0) return budget;
  const names = namesOf(cert);
  for (const nc of constraints) {
    budget -= cost(names, nc);
    if (budget < 0) {
      throw certError('ERR_TLS_NAME_CONSTRAINTS_TOO_COMPLEX', `name constraints too complex to check: ${describe(cert)} against the constraints of ${describe(nc.from)} (more than ${NAME_CONSTRAINT_BUDGET} comparisons)`);
    }
    checkOne(cert, names, nc);
  }
  return budget;
}

function checkOne(cert: Certificate, names: Names, nc: ActiveConstraints): void {
  const violation = (excluded: boolean, name: string) =>
    certError(
      excluded ? 'EXCLUDED_SUBTREE_VIOLATION' : 'PERMITTED_SUBTREE_VIOLATION',
      `${excluded ? 'excluded' : 'permitted'} subtree violation: ${name} in ${describe(cert)} (name constraints of ${describe(nc.from)})`,
    );
  /** One form: each name must be in a permitted subtree (when there are any) and in no excluded one. */
  function check<K extends GeneralSubtree['kind'], N>(
    kind: K,
    list: N[],
    show: (n: N) => string,
    wellFormed: (n: N) => boolean,
    within: (n: N, s: Extract<GeneralSubtree, { kind: K }>) => boolean,
    excludes: (n: N, s: Extract<GeneralSubtree, { kind: K }>) => boolean = within,
  ): void {
    const of = (subtrees: GeneralSubtree[]) => subtrees.filter((s): s is Extract<GeneralSubtree, { kind: K }> => s.kind === kind);
    const permitted = of(nc.permitted);
    const excluded = of(nc.excluded);
    if (permitted.length === 0 && excluded.length === 0) return;
    for (const n of list) {
      if (!wellFormed(n)) throw violation(false, `malformed ${show(n)}`);
      if (excluded.some((s) => excludes(n, s))) throw violation(true, show(n));
      if (permitted.length > 0 && !permitted.some((s) => within(n, s))) throw violation(false, show(n));
    }
  }

  check('dns', names.dns, (n) => `DNS:${n}`, isDnsNamePattern, (n, s) => dnsWithin(normalizeDnsName(n), s.name), (n, s) => dnsMayBeWithin(normalizeDnsName(n), s.name));
  check('email', names.email, (n) => `email:${n}`, (n) => splitMailbox(n) !== undefined, (n, s) => emailWithin(n, s.name));
  check('ip', names.ip, (n) => `IP:${n}`, (n) => parseIp(n) !== undefined, (n, s) => ipWithin(parseIp(n)!, s));
  check('dirName', names.dirNames, () => 'directoryName', () => true, (rdns, s) => s.rdns.length <= rdns.length && s.rdns.every((r, i) => equal(r, rdns[i]!)));
  // Forms we do not process: a name of a constrained form refuses the chain (RFC 5280 4.2.1.10).
  const constrainedOther = [...nc.permitted, ...nc.excluded].filter((s) => s.kind === 'other').map((s) => (s as { tag: number }).tag);
  const unprocessed = names.otherTags.find((t) => constrainedOther.includes(t));
  if (unprocessed !== undefined) {
    throw certError('UNSUPPORTED_CONSTRAINT_TYPE', `unsupported name constraint type: ${describe(nc.from)} constrains GeneralName [${unprocessed & 0x1f}], which ${describe(cert)} uses`);
  }
}

// ---- DNS ----

/** Is DNS name `name` (normalised) within the subtree `base` (RFC 5280 4.2.1.10)? */
function dnsWithin(name: string, base: string): boolean {
  if (base === '') return true;
  return name === base || name.endsWith('.' + base);
}

/** Could any host name matched by `name` (possibly a wildcard) fall within `base`? */
function dnsMayBeWithin(name: string, base: string): boolean {
  if (dnsWithin(name, base)) return true;
  if (!name.startsWith('*.')) return false;
  // `*.example.com` covers `secret.example.com`, so it is excluded by that subtree too.
  const dot = base.indexOf('.');
  return dot > 0 && base.slice(dot + 1) === name.slice(2);
}

// ---- email (rfc822Name) ----

/** `local@host` with exactly one '@', a non-empty local part and a host name; undefined otherwise. */
function splitMailbox(mailbox: string): { local: string; host: string } | undefined {
  const at = mailbox.indexOf('@');
  if (at <= 0 || mailbox.indexOf('@', at + 1) >= 0) return undefined;
  const host = normalizeDnsName(mailbox.slice(at + 1));
  return isHostName(host) ? { local: mailbox.slice(0, at), host } : undefined;
}

/** A constraint is a mailbox, a host, or `.domain` (every host below it). */
function isEmailConstraint(c: string): boolean {
  if (c.includes('@')) return splitMailbox(c) !== undefined;
  return isHostName(c.startsWith('.') ? c.slice(1) : c);
}

/** RFC 5280 4.2.1.10: local parts compare exactly (an '*' is a literal), hosts case-insensitively. */
function emailWithin(mailbox: string, constraint: string): boolean {
  const m = splitMailbox(mailbox)!;
  if (constraint.includes('@')) {
    const c = splitMailbox(constraint)!;
    return m.local === c.local && m.host === c.host;
  }
  const c = normalizeDnsName(constraint);
  return c.startsWith('.') ? m.host.endsWith(c) : m.host === c;
}

// ---- IP ----

function ipWithin(address: Uint8Array, subtree: { address: Uint8Array; mask: Uint8Array }): boolean {
  if (address.length !== subtree.address.length) return false;
  return address.every((b, k) => (b & subtree.mask[k]!) === (subtree.address[k]! & subtree.mask[k]!));
}
