/**
 * The job row's fields River constrains, checked before anything reaches the database: kind,
 * queue, tags, priority and attempts, and the schedule.
 */

import { invalid } from '../errors.js';
import { checkStorableText } from './json-args.js';

/**
 * River's rule for queue names, so that a job Eddy inserts is one Go River would insert and
 * work: riverqueue/river client.go, `validateQueueName` (at insert and for each configured
 * queue): not empty, at most 64 bytes, and matching `^(?:[a-z0-9])+(?:[_|\-]?[a-z0-9]+)*$`, i.e.
 * runs of lowercase ASCII letters and digits joined by single `_`, `|` or `-` (read at
 * riverqueue/river fdf6cdf).
 */
export const MAX_QUEUE_NAME_LENGTH = 64;
// River's pattern without its nested optional quantifier, which backtracks exponentially in a
// JavaScript engine (Go's RE2 does not): the same language, each run separated by one joiner.
const QUEUE_NAME = /^[a-z0-9]+(?:[_|-][a-z0-9]+)*$/;

const MAX_KIND_LENGTH = 127; // River: char_length(kind) < 128
const MAX_TAG_LENGTH = 255;
// The years Postgres reads from toISOString() (it refuses `+010000-…` and year 0) and Go's
// RFC 3339 time JSON can write.
const EARLIEST = Date.parse('0001-01-01T00:00:00.000Z');
const LATEST = Date.parse('9999-12-31T23:59:59.999Z');

function fail(where: string, path: string, message: string): never {
  return invalid(path, message, where);
}

/** What is wrong with `name` as a queue name, or undefined when River accepts it. */
export function queueNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'must be a non-empty string';
  if (name.length > MAX_QUEUE_NAME_LENGTH) {
    return `is ${name.length} characters long; River allows at most ${MAX_QUEUE_NAME_LENGTH}`;
  }
  if (!QUEUE_NAME.test(name)) {
    return `(${JSON.stringify(name)}) is not a queue name River accepts: lowercase letters and digits, in runs joined by single '_', '-' or '|' (like 'email' or 'high-priority')`;
  }
  return undefined;
}

export function checkKind(where: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0)
    fail(where, 'kind', 'must be a non-empty string');
  // Code points never outnumber UTF-16 units: count them only for a long string.
  if (value.length > MAX_KIND_LENGTH && [...value].length > MAX_KIND_LENGTH) {
    fail(
      where,
      'kind',
      `is ${[...value].length} characters long; River allows at most ${MAX_KIND_LENGTH}`,
    );
  }
  checkStorableText(value, 'kind', where);
  return value;
}

export function checkQueue(where: string, value: unknown): string {
  const problem = queueNameProblem(value);
  if (problem) fail(where, 'queue', problem);
  return value as string;
}

export function checkInteger(
  where: string,
  field: string,
  value: number,
  min: number,
  max: number,
): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    fail(where, field, `must be an integer from ${min} to ${max} (got ${String(value)})`);
  }
  return value;
}

export function checkTags(where: string, tags: readonly unknown[]): string[] {
  if (!Array.isArray(tags)) fail(where, 'tags', 'must be an array of strings');
  return tags.map((tag, i) => {
    if (typeof tag !== 'string' || tag.length === 0)
      fail(where, `tags[${i}]`, 'must be a non-empty string');
    if (tag.includes(',')) fail(where, `tags[${i}]`, `('${tag}') must not contain a comma`);
    checkStorableText(tag, `tags[${i}]`, where);
    if ([...tag].length > MAX_TAG_LENGTH)
      fail(where, `tags[${i}]`, `is longer than ${MAX_TAG_LENGTH} characters`);
    return tag;
  });
}

export function checkDate(where: string, field: string, value: unknown): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime()))
    fail(where, field, 'must be a valid Date');
  return checkDateRange(where, field, value);
}

export function checkDateRange(where: string, field: string, date: Date): Date {
  const time = date.getTime();
  if (!(time >= EARLIEST && time <= LATEST)) {
    const at = Number.isNaN(time)
      ? 'outside any time a Date holds'
      : `in year ${date.getUTCFullYear()}`;
    fail(where, field, `falls ${at}; River and Postgres take years 0001–9999 (UTC)`);
  }
  return date;
}
