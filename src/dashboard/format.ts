/**
 * How the dashboard writes values: times in UTC, durations, counts that may be estimates, and
 * JSON with River's int8 values (bigints) as the digits they are.
 */

import type { JobCount } from '../admin/counts.js';

const number = new Intl.NumberFormat('en-US');

/** `2026-01-02 03:04:05Z`, or an em dash for none. */
export function formatTime(time: Date | null | undefined): string {
  if (!time) return '—';
  return `${time.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** A duration in the largest two units that fit: `45 s`, `3 min 20 s`, `2 h 5 min`, `3 d 4 h`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** `in 5 min` or `5 min ago`, from `now`. */
export function formatRelative(time: Date, now: Date): string {
  const ms = time.getTime() - now.getTime();
  if (Math.abs(ms) < 1000) return 'now';
  return ms > 0 ? `in ${formatDuration(ms)}` : `${formatDuration(-ms)} ago`;
}

export function formatNumber(n: number): string {
  return number.format(n);
}

/** A count, marked `≈` when it is an estimate. */
export function formatCount(count: JobCount): string {
  return count.exact ? number.format(count.count) : `≈${number.format(count.count)}`;
}

/** A share as a percentage with one decimal, or an em dash when there is nothing to divide. */
export function formatRate(part: number, whole: number): string {
  if (whole <= 0) return '—';
  return `${((part * 100) / whole).toFixed(1)} %`;
}

const BIG = '\u0000eddy-big:';

/** Indented JSON; a bigint (an integer beyond 2^53 read exactly) as its digits. */
export function prettyJson(value: unknown): string {
  const text = JSON.stringify(
    value,
    (_key, inner) => (typeof inner === 'bigint' ? `${BIG}${inner}` : inner),
    2,
  );
  return (text ?? 'null').replace(/"\\u0000eddy-big:(-?\d+)"/g, '$1');
}

/** Compact JSON cut to `max` characters, for a table cell. */
export function shortJson(value: unknown, max = 80): string {
  const text = prettyJson(value).replace(/\s*\n\s*/g, ' ');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
