/**
 * Alerts (RFC 8446 section 6, RFC 5246 section 7.2) and the one error type tsls raises.
 *
 * Every failure the engine detects carries the alert it sends to the peer; every alert the
 * peer sends us becomes a TLSError too. `code` is stable API: code that handles errors may
 * switch on it.
 */

export const AlertLevel = { warning: 1, fatal: 2 } as const;

export const AlertDescription = {
  close_notify: 0,
  unexpected_message: 10,
  bad_record_mac: 20,
  record_overflow: 22,
  handshake_failure: 40,
  bad_certificate: 42,
  unsupported_certificate: 43,
  certificate_revoked: 44,
  certificate_expired: 45,
  certificate_unknown: 46,
  illegal_parameter: 47,
  unknown_ca: 48,
  access_denied: 49,
  decode_error: 50,
  decrypt_error: 51,
  protocol_version: 70,
  insufficient_security: 71,
  internal_error: 80,
  inappropriate_fallback: 86,
  user_canceled: 90,
  no_renegotiation: 100,
  missing_extension: 109,
  unsupported_extension: 110,
  unrecognized_name: 112,
  bad_certificate_status_response: 113,
  unknown_psk_identity: 115,
  certificate_required: 116,
  no_application_protocol: 120,
  ech_required: 121,
} as const;

export type AlertName = keyof typeof AlertDescription;

const alertNames = new Map<number, AlertName>(
  Object.entries(AlertDescription).map(([name, value]) => [value, name as AlertName]),
);

/** The name of an alert description, or `unknown_alert_<n>` for values we do not know. */
export function alertName(value: number): string {
  return alertNames.get(value) ?? `unknown_alert_${value}`;
}

function upper(name: string): string {
  return name.toUpperCase();
}

/**
 * A TLS failure. `alert` is the alert this side sent (or, with `remote`, received).
 * Codes: `ERR_TLS_<ALERT>` when we detected the problem, `ERR_TLS_ALERT_<ALERT>` when the
 * peer told us, and a few named codes for failures that are not alerts (see `TLSErrorCode`).
 */
export class TLSError extends Error {
  readonly code: string;
  readonly alert: string;
  readonly remote: boolean;

  constructor(alert: AlertName | string, message: string, options: { remote?: boolean; code?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TLSError';
    this.alert = alert;
    this.remote = options.remote ?? false;
    this.code = options.code ?? (this.remote ? `ERR_TLS_ALERT_${upper(alert)}` : `ERR_TLS_${upper(alert)}`);
  }

  /** The numeric alert description to put on the wire (internal_error for unknown names). */
  get description(): number {
    return (AlertDescription as Record<string, number>)[this.alert] ?? AlertDescription.internal_error;
  }
}

/** Shorthands used throughout the engine: `throw decodeError('...')`. */
export const decodeError = (message: string) => new TLSError('decode_error', message);
export const illegalParameter = (message: string) => new TLSError('illegal_parameter', message);
export const unexpectedMessage = (message: string) => new TLSError('unexpected_message', message);
export const handshakeFailure = (message: string) => new TLSError('handshake_failure', message);
export const internalError = (message: string) => new TLSError('internal_error', message);

/** Turn anything thrown inside the engine into a TLSError; unknown throws are internal errors. */
export function asTLSError(err: unknown): TLSError {
  if (err instanceof TLSError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new TLSError('internal_error', `internal error: ${message}`, { cause: err });
}
