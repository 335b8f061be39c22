/**
 * Leases: the one owner of the claim token's format, in SQL and in JavaScript.
 *
 * A claim appends one entry to `river_job.attempted_by`, which River already writes:
 *
 *     eddy:<lease expiry, epoch ms>:<claim nonce>:<runner id>
 *
 * The expiry is computed by the database (its clock, or the injected one) so runners with skewed
 * clocks agree; the nonce makes each claim's token unique, so an outcome is fenced to the exact
 * attempt that produced it; the runner id comes last because it may itself contain `:`. Rows
 * claimed by Go River carry no such entry and are left to River's own rescuer.
 */

/** What every Eddy lease token starts with. */
export const LEASE_PREFIX = 'eddy:';

/** A parsed lease token. */
export interface Lease {
  /** When the claiming invocation is certainly dead (epoch ms). */
  readonly expiresAt: number;
  readonly nonce: string;
  readonly runnerId: string;
}

/** The longest expiry that reads back as an int8 in SQL (18 digits, as the SQL checks). */
const TOKEN = /^eddy:([0-9]{1,18}):([^:]+):(.+)$/s;

/**
 * Reads a token; `undefined` for anything that is not a well-formed Eddy lease (a Go River
 * client id, a foreign entry that merely starts with `eddy:`).
 *
 * @example
 * ```ts
 * parseLeaseToken('eddy:1767225600000:3f2a9c:eddy-worker-1');
 * // { expiresAt: 1767225600000, nonce: '3f2a9c', runnerId: 'eddy-worker-1' }
 * ```
 */
export function parseLeaseToken(token: string): Lease | undefined {
  const match = TOKEN.exec(token);
  if (!match) return undefined;
  return {
    expiresAt: Number(match[1]),
    nonce: match[2] as string,
    runnerId: match[3] as string,
  };
}

/** The lease token of a job's current attempt: the last `attempted_by` entry, if it is one. */
export function currentLease(attemptedBy: readonly string[]): Lease | undefined {
  const last = attemptedBy[attemptedBy.length - 1];
  return last === undefined ? undefined : parseLeaseToken(last);
}

/**
 * What stays the same of a token while its lease is extended: `<nonce>:<runner id>`. Outcomes
 * are fenced by it, not by the whole token, so a heartbeat can move the expiry (rewriting the
 * entry) without invalidating the attempt's right to record its result.
 */
export function leaseIdentity(token: string): string | undefined {
  const lease = parseLeaseToken(token);
  return lease && `${lease.nonce}:${lease.runnerId}`;
}

/**
 * An attempted_by entry safe to show: an Eddy lease with its nonce hidden (the nonce is the
 * fence: whoever knows it can answer for the attempt), anything else as it is.
 */
export function shownLeaseEntry(entry: string): string {
  const lease = parseLeaseToken(entry);
  return lease ? `${LEASE_PREFIX}${lease.expiresAt}:…:${lease.runnerId}` : entry;
}

/** A fresh claim nonce: 12 hex digits, never containing `:`. */
export function newNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  let hex = '';
  for (const b of bytes) hex += b.toString(16).padStart(2, '0');
  return hex;
}

/**
 * SQL that builds a token from SQL expressions: `at` the claim time (timestamptz), `leaseMs`
 * the lease length (int8), `nonce` and `runnerId` (text).
 */
export function leaseTokenSql(at: string, leaseMs: string, nonce: string, runnerId: string) {
  return `'${LEASE_PREFIX}' || ((extract(epoch FROM ${at}) * 1000)::int8 + ${leaseMs})::text || ':' || ${nonce} || ':' || ${runnerId}`;
}

/** SQL: whether `entry` (text) is a well-formed Eddy token, so `leaseExpirySql` cannot fail. */
export function isLeaseSql(entry: string): string {
  return `${entry} ~ '^${LEASE_PREFIX}[0-9]{1,18}:'`;
}

/** SQL: the expiry (epoch ms, int8) of a token that `isLeaseSql` accepted. */
export function leaseExpirySql(entry: string): string {
  return `split_part(${entry}, ':', 2)::int8`;
}

/** SQL: the runner id of a token that `isLeaseSql` accepted (everything after the third `:`). */
export function leaseRunnerSql(entry: string): string {
  return `substr(${entry}, length(split_part(${entry}, ':', 1) || split_part(${entry}, ':', 2) || split_part(${entry}, ':', 3)) + 4)`;
}

/** SQL: the identity (`<nonce>:<runner id>`, see `leaseIdentity`) of a token `isLeaseSql` accepted. */
export function leaseIdentitySql(entry: string): string {
  return `substr(${entry}, length(split_part(${entry}, ':', 2)) + 7)`;
}

/**
 * SQL: whether `entry` (the job's current attempted_by entry) is the lease whose identity is
 * `identity` (text). The fence of every outcome and lease extension.
 */
export function leaseHeldSql(entry: string, identity: string): string {
  return `(${isLeaseSql(entry)} AND ${leaseIdentitySql(entry)} = ${identity})`;
}

/** SQL: `entry`'s token with its expiry moved to `expiryMs` (int8 epoch ms), identity kept. */
export function leaseExtendedSql(entry: string, expiryMs: string): string {
  return `'${LEASE_PREFIX}' || (${expiryMs})::text || ':' || ${leaseIdentitySql(entry)}`;
}
