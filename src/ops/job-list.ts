/**
 * Jobs by filter (`sql/job-list.ts`): a page of them, or an action on those a filter matches,
 * one statement each. Filters arrive checked (`admin/job-filter.ts`); here they become
 * placeholders.
 */

import type { Database } from '../driver/database.js';
import type { Param } from '../driver/values.js';
import { type Job, type JobState, rowToJob } from '../job.js';
import {
  type BoundedSlots,
  type BulkAction,
  type BulkShape,
  type Direction,
  type FilterSlots,
  type IndexedSlots,
  JobActMany,
  JobList,
  type ListOrder,
} from '../sql/job-list.js';
import type { AdminTarget } from './job-admin.js';

export type { BulkAction, Direction, ListOrder } from '../sql/job-list.js';

/** A checked filter: every field given narrows the jobs (all must hold). */
export interface JobFilterValues {
  ids?: readonly bigint[];
  states?: readonly JobState[];
  kinds?: readonly string[];
  queues?: readonly string[];
  priorities?: readonly number[];
  /** The job has every one of these tags. */
  tags?: readonly string[];
  /** JSON text of a fragment args must contain (`@>`). */
  args?: string;
  /** JSON text of a fragment metadata must contain (`@>`). */
  metadata?: string;
  createdFrom?: Date;
  createdTo?: Date;
  scheduledFrom?: Date;
  scheduledTo?: Date;
  finalizedFrom?: Date;
  finalizedTo?: Date;
}

const INDEXED = [
  'ids',
  'states',
  'kinds',
  'queues',
  'args',
  'metadata',
  'finalizedFrom',
  'finalizedTo',
] as const satisfies readonly (keyof IndexedSlots & keyof JobFilterValues)[];
const BOUNDED = [
  'priorities',
  'tags',
  'createdFrom',
  'createdTo',
  'scheduledFrom',
  'scheduledTo',
] as const satisfies readonly (keyof BoundedSlots & keyof JobFilterValues)[];

/**
 * Placeholders for the filters given, appended to `params`. A finalized_at range narrows the
 * index only in finalized_at order; in any other it is checked over the bounded walk.
 */
function slotsFor(filter: JobFilterValues, params: Param[], order: ListOrder = 'id'): FilterSlots {
  const indexed: IndexedSlots = {};
  const bounded: BoundedSlots = {};
  for (const key of INDEXED) {
    const value = filter[key];
    if (value === undefined) continue;
    params.push(value as Param);
    if ((key === 'finalizedFrom' || key === 'finalizedTo') && order !== 'finalized_at')
      bounded[key] = params.length;
    else indexed[key] = params.length;
  }
  for (const key of BOUNDED) {
    const value = filter[key];
    if (value === undefined) continue;
    params.push(value as Param);
    bounded[key] = params.length;
  }
  return { indexed, bounded };
}

/** Whether the filter has a filter checked over a bounded walk rather than an index, in this order. */
export function hasBoundedFilter(filter: JobFilterValues, order: ListOrder = 'id'): boolean {
  return (
    BOUNDED.some((key) => filter[key] !== undefined) ||
    (order !== 'finalized_at' &&
      (filter.finalizedFrom !== undefined || filter.finalizedTo !== undefined))
  );
}

export interface ListQuery {
  filter: JobFilterValues;
  order: ListOrder;
  direction: Direction;
  /** Continue after this job (its id and, in a time order, its time as exact UTC text). */
  after?: { id: bigint; time: string | null } | undefined;
  limit: number;
  /** At most this many jobs passing the indexed filters are walked (see sql/job-list.ts). */
  scan: number;
}

export interface ListedPage {
  /** Up to `limit + 1` jobs, in order, each with its order's time as exact UTC text. */
  jobs: { job: Job; time: string | null }[];
  /** The last job the walk reached, and how many it walked; undefined when it reached none. */
  walked: { id: bigint; time: string | null; scanned: number } | undefined;
}

/** One page of jobs matching the filter. */
export async function listJobs(
  db: Database,
  prefix: string,
  query: ListQuery,
): Promise<ListedPage> {
  const params: Param[] = [];
  const slots = slotsFor(query.filter, params, query.order);
  let cursor: { id: number; time: number } | undefined;
  if (query.after) {
    params.push(query.after.id);
    // In id order the time is not read: an unreferenced placeholder would have no type.
    if (query.order !== 'id') params.push(query.after.time);
    cursor = { id: query.order === 'id' ? params.length : params.length - 1, time: params.length };
  }
  params.push(query.scan, query.limit);
  const text = JobList(prefix, {
    order: query.order,
    direction: query.direction,
    slots,
    cursor,
    scan: params.length - 1,
    limit: params.length,
  });
  const { rows } = await db.query(text, params);
  const first = rows[0];
  return {
    jobs: rows
      .filter((row) => row.id !== null && row.id !== undefined)
      .map((row) => ({ job: rowToJob(row), time: (row.eddy_sort_at as string | null) ?? null })),
    walked: first
      ? {
          id: first.eddy_last_id as bigint,
          time: (first.eddy_last_sort_at as string | null) ?? null,
          scanned: Number(first.eddy_scanned),
        }
      : undefined,
  };
}

export interface ActedMany {
  /** The jobs acted on, in id order, with the state each was left in (`deleted` for deletes). */
  jobs: { id: bigint; state: JobState | 'deleted' }[];
  /** More jobs match than were acted on (the cap, or the walk's bound, was reached). */
  hasMore: boolean;
  /** Jobs chosen but skipped because another transaction held them locked. */
  busy: number;
}

/** Cancels, retries or deletes up to `max` jobs the filter matches (see JobActMany). */
export async function actOnJobs(
  db: Database,
  target: AdminTarget,
  action: BulkAction,
  filter: JobFilterValues,
  max: number,
  scan: number,
): Promise<ActedMany> {
  const params: Param[] = [];
  const slots = slotsFor(filter, params);
  params.push(scan, max);
  const shape: BulkShape = { slots, scan: params.length - 1, max: params.length };
  // Only what the action's statement reads: an unreferenced placeholder has no type.
  if (action !== 'delete') {
    params.push(target.now ?? null);
    shape.now = params.length;
  }
  if (action === 'cancel') {
    params.push(target.schema ?? null);
    shape.schema = params.length;
  }
  const text = JobActMany(target.prefix, action, shape);
  const { rows } = await db.query(text, params);
  return {
    jobs: rows
      .filter((row) => row.id !== null && row.id !== undefined)
      .map((row) => ({ id: row.id as bigint, state: row.state as JobState | 'deleted' })),
    hasMore: rows[0]?.eddy_has_more === true,
    busy: Number(rows[0]?.eddy_busy ?? 0),
  };
}
