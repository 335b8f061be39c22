/**
 * The `&period=` part of a unique key: an instant truncated to the period the way Go's
 * `time.Time.Truncate` does, written as Go's `time.RFC3339` in UTC (no fraction).
 *
 * Instants may be RFC 3339 text with up to nanosecond digits: the text is read exactly. A `Date`
 * holds milliseconds, which loses nothing here — periods are whole milliseconds (≥ 1 s) and Go's
 * zero time is a whole second, so every bucket boundary falls on a millisecond and flooring to
 * the millisecond never crosses one (V8 also floors sub-millisecond digits when parsing).
 */

import { invalid } from '../errors.js';

/** An instant as a `Date` or RFC 3339 text; text keeps sub-millisecond digits exactly. */
export type Instant = Date | string;

const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;
// Go truncates durations from its zero time, 0001-01-01T00:00:00Z, not from the Unix epoch;
// the two differ for periods that do not divide it (a week, 7 hours, …).
const GO_ZERO_TIME_NS = 62_135_596_800n * NS_PER_S;
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** Nanoseconds since the Unix epoch. */
export function instantNs(value: Instant, at: string): bigint {
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isNaN(ms)) invalid(at, 'is an invalid Date');
    return BigInt(ms) * NS_PER_MS;
  }
  const m = typeof value === 'string' ? RFC3339.exec(value) : null;
  if (!m) invalid(at, `must be a Date or RFC 3339 text like '2026-01-02T03:04:05.6789Z'`);
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as number[] as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  if (
    date.getUTCMonth() !== month - 1 ||
    date.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    invalid(at, `('${value}') is not a real date and time`);
  }
  let offsetMinutes = 0;
  if (m[9] !== undefined) {
    const [h, min] = [Number(m[10]), Number(m[11])];
    if (h > 23 || min > 59) invalid(at, `('${value}') has an impossible UTC offset`);
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (h * 60 + min);
  }
  const fraction = BigInt((m[7] ?? '').padEnd(9, '0'));
  return BigInt(date.getTime() - offsetMinutes * 60_000) * NS_PER_MS + fraction;
}

/**
 * `instant` (ns since the Unix epoch) truncated to the period as Go does, formatted like Go's
 * `time.RFC3339` in UTC.
 *
 * @example
 * ```ts
 * periodStart(instantNs('2026-01-02T03:04:05Z', 'now'), 604_800_000, 'now'); // '2025-12-29T00:00:00Z' (a Monday)
 * ```
 */
export function periodStart(instant: bigint, periodMs: number, at: string): string {
  const period = BigInt(periodMs) * NS_PER_MS;
  const sinceZero = instant + GO_ZERO_TIME_NS;
  if (sinceZero < 0n) invalid(at, 'is before year 1, which River cannot bucket');
  const start = sinceZero - (sinceZero % period) - GO_ZERO_TIME_NS;
  const seconds = start / NS_PER_S - (start < 0n && start % NS_PER_S !== 0n ? 1n : 0n);
  const date = new Date(Number(seconds) * 1000);
  const year = date.getUTCFullYear();
  if (year < 1 || year > 9999)
    invalid(at, `gives a period in year ${year}; River formats only years 0001–9999`);
  return date.toISOString().replace('.000Z', 'Z');
}
