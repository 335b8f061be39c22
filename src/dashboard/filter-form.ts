/**
 * The jobs page's query string, both ways: every filter of `jobs.list` (and its order, page size
 * and cursor) read from a form a person filled in, and written back into links. Values the
 * management API would refuse are passed on as given, so its `ValidationError` names the field;
 * only what a form cannot say directly (JSON fragments, times, lists) is parsed here.
 */

import type { JobListOptions, JobListOrderBy } from '../admin/api.js';
import type { JobFilter, TimeRange } from '../admin/job-filter.js';
import { rawJson } from '../insert/json-args.js';
import type { JobState } from '../job.js';

/** What the form holds, as the page shows it again. */
export interface FilterForm {
  /** The query string's own values, to fill the form in again. */
  values: URLSearchParams;
  options: JobListOptions;
  /** Problems with what was typed, by field; the list is not read while there are any. */
  problems: { field: string; message: string }[];
  refresh: boolean;
}

/** Filter fields, in the order the form shows them (and links write them). */
export const FILTER_FIELDS = [
  'id',
  'state',
  'kind',
  'queue',
  'tag',
  'priority',
  'args',
  'metadata',
  'created_from',
  'created_to',
  'scheduled_from',
  'scheduled_to',
  'finalized_from',
  'finalized_to',
] as const;

const PAGE_FIELDS = ['order_by', 'order', 'limit'] as const;
const ORDER_BY: Record<string, JobListOrderBy> = {
  id: 'id',
  finalized_at: 'finalizedAt',
  scheduled_at: 'scheduledAt',
};

/** Items of a comma- or space-separated list, empty ones dropped. */
function items(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** One value, or the list when there are several (the API takes either). */
function oneOrMany<T>(values: T[]): T | T[] | undefined {
  if (values.length === 0) return undefined;
  return values.length === 1 ? values[0] : values;
}

/**
 * A time typed into the form: `datetime-local`'s `2026-01-02T03:04` (UTC, as the page shows
 * every time) or a full RFC 3339 time with its offset.
 */
export function parseFormTime(text: string): Date | undefined {
  const local = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/.test(text);
  const time = new Date(local ? `${text}Z` : text);
  return Number.isNaN(time.getTime()) ? undefined : time;
}

/** A time as the form's `datetime-local` input shows it (UTC, to the second). */
export function formTime(time: Date): string {
  return time.toISOString().slice(0, 19);
}

/** Reads the jobs page's query string. */
export function readFilterForm(params: URLSearchParams): FilterForm {
  const problems: FilterForm['problems'] = [];
  const filter: JobFilter = {};
  const text = (name: string) => (params.get(name) ?? '').trim();

  const ids = items(text('id'));
  if (ids.length > 0) filter.id = oneOrMany(ids);
  const states = params.getAll('state').filter((s) => s !== '') as JobState[];
  if (states.length > 0) filter.state = oneOrMany(states);
  for (const name of ['kind', 'queue', 'tag'] as const) {
    const list = items(text(name));
    if (list.length > 0) filter[name] = name === 'tag' ? list : oneOrMany(list);
  }
  const priorities = params.getAll('priority').filter((p) => p !== '');
  if (priorities.length > 0) {
    const numbers = priorities.map(Number);
    if (numbers.some((n) => !Number.isInteger(n)))
      problems.push({ field: 'priority', message: 'must be whole numbers from 1 to 4' });
    else filter.priority = oneOrMany(numbers);
  }
  for (const name of ['args', 'metadata'] as const) {
    const fragment = text(name);
    if (fragment === '') continue;
    try {
      // Kept as its text, so integers beyond 2^53 reach the database exactly.
      filter[name] = rawJson(fragment);
    } catch {
      problems.push({
        field: name,
        message: `must be a JSON object the ${name} contain, like {"user_id": 42}`,
      });
    }
  }
  for (const [prefix, key] of [
    ['created', 'createdAt'],
    ['scheduled', 'scheduledAt'],
    ['finalized', 'finalizedAt'],
  ] as const) {
    const range: TimeRange = {};
    for (const end of ['from', 'to'] as const) {
      const field = `${prefix}_${end}`;
      const value = text(field);
      if (value === '') continue;
      const time = parseFormTime(value);
      if (time) range[end] = time;
      else
        problems.push({ field, message: 'must be a time like 2026-01-02T03:04 (UTC) or RFC 3339' });
    }
    if (range.from || range.to) filter[key] = range;
  }

  const options: JobListOptions = { ...filter };
  const orderBy = text('order_by');
  if (orderBy !== '') {
    if (Object.hasOwn(ORDER_BY, orderBy)) options.orderBy = ORDER_BY[orderBy];
    else problems.push({ field: 'order_by', message: 'must be id, finalized_at or scheduled_at' });
  }
  const order = text('order');
  if (order === 'asc' || order === 'desc') options.order = order;
  else if (order !== '') problems.push({ field: 'order', message: "must be 'asc' or 'desc'" });
  const limit = text('limit');
  if (limit !== '') {
    const n = Number(limit);
    if (Number.isInteger(n)) options.limit = n;
    else problems.push({ field: 'limit', message: 'must be a whole number from 1 to 1000' });
  }
  const cursor = text('cursor');
  if (cursor !== '') options.cursor = cursor;
  return { values: params, options, problems, refresh: params.get('refresh') === '1' };
}

/** The filter alone (no order, size or cursor): what a bulk action by filter acts on. */
export function filterOf(options: JobListOptions): JobFilter {
  const { orderBy: _o, order: _d, limit: _l, cursor: _c, ...filter } = options;
  return filter;
}

/** Whether any filter field holds a value. */
export function hasFilter(params: URLSearchParams): boolean {
  return FILTER_FIELDS.some((field) => params.getAll(field).some((v) => v.trim() !== ''));
}

/**
 * The query string for the same filter with `changes` applied (`undefined` removes a field):
 * filter, order and size fields kept, the cursor and auto-refresh only when `changes` sets them.
 */
export function filterQuery(
  params: URLSearchParams,
  changes: Record<string, string | undefined> = {},
): string {
  const out = new URLSearchParams();
  for (const field of [...FILTER_FIELDS, ...PAGE_FIELDS, 'refresh'] as string[]) {
    if (field in changes) continue;
    for (const value of params.getAll(field)) if (value.trim() !== '') out.append(field, value);
  }
  for (const [field, value] of Object.entries(changes))
    if (value !== undefined && value !== '') out.set(field, value);
  const query = out.toString();
  return query === '' ? '' : `?${query}`;
}
