/**
 * The management API's input, checked before anything reaches the database: ids, filters and
 * limits. A `ValidationError` names the field (`filter.state[1]`, `limit`, `ids[3]`).
 */

import { invalid, isValidationError, refuseUnknownKeys, ValidationError } from '../errors.js';
import { checkDate } from '../insert/job-fields.js';
import {
  byteLength,
  checkStorableText,
  isRawJson,
  type RawJson,
  toJsonText,
} from '../insert/json-args.js';
import { JOB_STATES, type JobState } from '../job.js';
import type { JobFilterValues } from '../ops/job-list.js';

/** A job id: River's ids are int8, so a `bigint`; a safe integer or its decimal digits also do. */
export type JobId = bigint | number | string;

/** A time range: `from` inclusive, `to` exclusive; either may be left out. */
export interface TimeRange {
  from?: Date;
  to?: Date;
}

type OneOrMany<T> = T | readonly T[];

/**
 * Which jobs: every filter given must hold. A filter that takes one value also takes a list
 * (any of them).
 */
export interface JobFilter {
  id?: OneOrMany<JobId>;
  state?: OneOrMany<JobState>;
  kind?: OneOrMany<string>;
  queue?: OneOrMany<string>;
  /** 1 (first) to 4. */
  priority?: OneOrMany<number>;
  /** The job has this tag (a list: every one of them). */
  tag?: OneOrMany<string>;
  /** A JSON fragment the args contain, as Postgres' `@>` reads it: `{ user_id: 42 }`. */
  args?: Record<string, unknown> | readonly unknown[] | RawJson;
  /** A JSON fragment the metadata contains (`@>`). */
  metadata?: Record<string, unknown> | readonly unknown[] | RawJson;
  createdAt?: TimeRange;
  scheduledAt?: TimeRange;
  finalizedAt?: TimeRange;
}

export const FILTER_KEYS = {
  id: 1,
  state: 1,
  kind: 1,
  queue: 1,
  priority: 1,
  tag: 1,
  args: 1,
  metadata: 1,
  createdAt: 1,
  scheduledAt: 1,
  finalizedAt: 1,
} satisfies Record<keyof JobFilter, 1>;

/** Most ids one call takes, and most values one filter lists. */
export const MAX_IDS = 1000;
/** Largest JSON fragment a filter takes. */
const MAX_FRAGMENT_BYTES = 64 * 1024;
// River's row constraints: char_length(kind) and char_length(queue) < 128, tags varchar(255).
const MAX_NAME_LENGTH = 127;
const MAX_TAG_LENGTH = 255;
const MAX_ID = 2n ** 63n - 1n;

/** A positive int8 id from a bigint, a safe integer or decimal digits. */
export function checkId(value: unknown, path: string, where: string): bigint {
  let id: bigint | undefined;
  if (typeof value === 'bigint') id = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) id = BigInt(value);
  else if (typeof value === 'string' && /^-?\d{1,19}$/.test(value)) id = BigInt(value);
  if (id === undefined)
    invalid(
      path,
      `must be a job id: a bigint, a safe integer or its digits (got ${describe(value)})`,
      where,
    );
  if (id < 1n || id > MAX_ID)
    invalid(path, `must be a positive job id of at most 2^63 - 1 (got ${id})`, where);
  return id;
}

/** The ids, each checked, without repeats, in the order given. */
export function checkIds(value: unknown, path: string, where: string): bigint[] {
  if (!Array.isArray(value)) invalid(path, 'must be an array of job ids', where);
  if (value.length > MAX_IDS)
    invalid(path, `lists ${value.length} ids; at most ${MAX_IDS} per call`, where);
  const ids = new Set<bigint>();
  value.forEach((id, i) => void ids.add(checkId(id, `${path}[${i}]`, where)));
  return [...ids];
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return value === null ? 'null' : typeof value;
}

/** One value or a list of them, each checked; `path[i]` names a bad one in a list. */
function list<T>(value: unknown, path: string, check: (v: unknown, path: string) => T): T[] {
  if (!Array.isArray(value)) return [check(value, path)];
  if (value.length === 0) invalid(path, 'is an empty list; leave the filter out instead', '');
  if (value.length > MAX_IDS) invalid(path, `lists ${value.length} values; at most ${MAX_IDS}`, '');
  return value.map((v, i) => check(v, `${path}[${i}]`));
}

function name(max: number, what: string) {
  return (value: unknown, path: string): string => {
    if (typeof value !== 'string' || value.length === 0)
      invalid(path, `must be a non-empty string (a ${what})`, '');
    if ([...value].length > max) invalid(path, `is longer than ${max} characters`, '');
    // Postgres refuses NUL in text: no job has it, and the statement would fail.
    checkStorableText(value, path, '');
    return value;
  };
}

function state(value: unknown, path: string): JobState {
  if (!JOB_STATES.includes(value as JobState))
    invalid(path, `must be a job state: ${JOB_STATES.join(', ')} (got ${describe(value)})`, '');
  return value as JobState;
}

function priority(value: unknown, path: string): number {
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 4)
    invalid(path, `must be a priority from 1 to 4 (got ${describe(value)})`, '');
  return value as number;
}

function fragment(value: unknown, path: string): string {
  const raw = isRawJson(value);
  if (!raw && (typeof value !== 'object' || value === null))
    invalid(path, 'must be a JSON object (or array) fragment, like { user_id: 42 }', '');
  const text = toJsonText(value, path);
  if (byteLength(text) > MAX_FRAGMENT_BYTES)
    invalid(path, `is more than ${MAX_FRAGMENT_BYTES} bytes of JSON`, '');
  return text;
}

function range(value: unknown, path: string): { from?: Date; to?: Date } {
  if (typeof value !== 'object' || value === null)
    invalid(path, 'must be a range { from?: Date, to?: Date }', '');
  refuseUnknownKeys(value, { from: 1, to: 1 }, path, '');
  const { from, to } = value as TimeRange;
  const checked = {
    ...(from === undefined ? {} : { from: checkDate('', `${path}.from`, from) }),
    ...(to === undefined ? {} : { to: checkDate('', `${path}.to`, to) }),
  };
  if (checked.from && checked.to && checked.from > checked.to)
    invalid(path, 'has its from after its to', '');
  return checked;
}

/**
 * Checks a filter and turns it into the values the statements take. `where` names the call
 * (`jobs.list`); `path` the filter's place in its arguments (`filter`, or '' when its keys sit
 * beside others).
 */
export function checkFilter(
  value: unknown,
  where: string,
  path: string,
  extraKeys: Readonly<Record<string, unknown>> = {},
): JobFilterValues {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    invalid(path || 'options', 'must be an object', where);
  refuseUnknownKeys(value, { ...FILTER_KEYS, ...extraKeys }, path, where);
  const f = value as JobFilter;
  const at = (key: string) => (path ? `${path}.${key}` : key);
  try {
    const out: JobFilterValues = {};
    if (f.id !== undefined) out.ids = list(f.id, at('id'), (v, p) => checkId(v, p, ''));
    if (f.state !== undefined) out.states = list(f.state, at('state'), state);
    if (f.kind !== undefined) out.kinds = list(f.kind, at('kind'), name(MAX_NAME_LENGTH, 'kind'));
    if (f.queue !== undefined)
      out.queues = list(f.queue, at('queue'), name(MAX_NAME_LENGTH, 'queue name'));
    if (f.priority !== undefined) out.priorities = list(f.priority, at('priority'), priority);
    if (f.tag !== undefined) out.tags = list(f.tag, at('tag'), name(MAX_TAG_LENGTH, 'tag'));
    if (f.args !== undefined) out.args = fragment(f.args, at('args'));
    if (f.metadata !== undefined) out.metadata = fragment(f.metadata, at('metadata'));
    for (const [key, from, to] of [
      ['createdAt', 'createdFrom', 'createdTo'],
      ['scheduledAt', 'scheduledFrom', 'scheduledTo'],
      ['finalizedAt', 'finalizedFrom', 'finalizedTo'],
    ] as const) {
      const given = f[key];
      if (given === undefined) continue;
      const r = range(given, at(key));
      if (r.from) out[from] = r.from;
      if (r.to) out[to] = r.to;
    }
    return out;
  } catch (error) {
    // The checks above name the field; the call is named once, here.
    if (isValidationError(error) && !error.message.startsWith(`${where}: `))
      throw new ValidationError(`${where}: ${error.message}`, error.issues);
    throw error;
  }
}

/** Whether a checked filter narrows anything. */
export function isEmptyFilter(filter: JobFilterValues): boolean {
  return Object.values(filter).every((v) => v === undefined);
}

/** An integer option from 1 to `max`, or `fallback` when not given. */
export function checkCount(
  value: unknown,
  path: string,
  max: number,
  fallback: number,
  where: string,
): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > max)
    invalid(path, `must be an integer from 1 to ${max} (got ${describe(value)})`, where);
  return value as number;
}
