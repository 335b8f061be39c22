/**
 * The management API: see, cancel, retry and delete jobs, pause and resume queues, and count,
 * over any driver (Neon HTTP included), each operation one statement with River's semantics, so
 * Go River, River UI and Eddy agree on what every action did.
 */

import { Database } from '../driver/database.js';
import type { Driver } from '../driver/driver.js';
import { schemaPrefix } from '../driver/schema-name.js';
import { invalid, NotFoundError, refuseUnknownKeys, ValidationError } from '../errors.js';
import { checkDate, queueNameProblem } from '../insert/job-fields.js';
import type { JobState } from '../job.js';
import {
  type ActedRow,
  type AdminTarget,
  cancelJobs,
  deleteJobs,
  getJob,
  listJobKinds,
  retryJobs,
} from '../ops/job-admin.js';
import { type CountGrouping, countJobs, getQueue, listQueues } from '../ops/job-count.js';
import {
  actOnJobs,
  type BulkAction,
  type Direction,
  hasBoundedFilter,
  type JobFilterValues,
  type ListOrder,
  listJobs,
} from '../ops/job-list.js';
import { pauseQueue, resumeQueue } from '../ops/queue-control.js';
import {
  type Admin,
  type AdminOptions,
  type BulkOptions,
  type BulkResult,
  type CancelOutcome,
  type CountOptions,
  DEFAULT_EXACT_UP_TO,
  type DeleteOutcome,
  type JobActionResult,
  type JobCounts,
  type JobListOptions,
  type JobListOrderBy,
  MAX_BULK,
  MAX_EXACT_UP_TO,
  MAX_PAGE_SIZE,
  type RetryOutcome,
  SCAN_BOUND,
} from './api.js';
import { groupCounts, queueInfo, stateCounts } from './counts.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import {
  checkCount,
  checkFilter,
  checkId,
  checkIds,
  FILTER_KEYS,
  isEmptyFilter,
  type JobFilter,
} from './job-filter.js';

export type * from './api.js';

const ADMIN_KEYS = { driver: 1, schema: 1, now: 1 } satisfies Record<keyof AdminOptions, 1>;
const PAGE_KEYS = { orderBy: 1, order: 1, limit: 1, cursor: 1 };
const ORDER_COLUMNS: Record<JobListOrderBy, ListOrder> = {
  id: 'id',
  finalizedAt: 'finalized_at',
  scheduledAt: 'scheduled_at',
};
const FINALIZED: readonly JobState[] = ['cancelled', 'completed', 'discarded'];

function options<T extends object>(value: T | undefined, keys: object, where: string): T {
  if (value === undefined) return {} as T;
  if (typeof value !== 'object' || value === null) invalid('options', 'must be an object', where);
  refuseUnknownKeys(value, keys as Record<string, unknown>, '', where);
  return value;
}

/** The order's column, with River's rules for time orders (and states to match). */
function listOrder(list: JobListOptions, filter: JobFilterValues, where: string) {
  const orderBy = list.orderBy ?? 'id';
  if (!Object.hasOwn(ORDER_COLUMNS, orderBy))
    invalid('orderBy', `must be one of ${Object.keys(ORDER_COLUMNS).join(', ')}`, where);
  const direction = list.order ?? 'desc';
  if (direction !== 'asc' && direction !== 'desc')
    invalid('order', "must be 'asc' or 'desc'", where);
  if (orderBy === 'finalizedAt') {
    // As River's JobListParams: finalized states by default, and only those.
    filter.states ??= FINALIZED;
    if (filter.states.some((s) => !FINALIZED.includes(s)))
      invalid(
        'state',
        'must list only finalized states (cancelled, completed, discarded) to order by finalizedAt',
        where,
      );
  }
  if (
    orderBy === 'scheduledAt' &&
    (!filter.states || filter.states.some((s) => FINALIZED.includes(s)))
  )
    invalid(
      'state',
      'must list unfinalized states (available, pending, retryable, running, scheduled) to order by scheduledAt; finalized jobs order by finalizedAt',
      where,
    );
  return { order: ORDER_COLUMNS[orderBy], direction: direction as Direction };
}

/** A queue River accepts, or `*` for every queue. */
function checkQueueName(name: unknown, where: string): void {
  if (name === '*') return;
  const problem = queueNameProblem(name);
  if (problem) invalid('name', `${problem}, or '*' for every queue`, where);
}

/** Per id, in the order given: what the statement did, read from the rows it returned. */
function perId<O extends string>(
  ids: readonly bigint[],
  rows: readonly ActedRow[],
  outcome: (row: ActedRow) => O,
): JobActionResult<O | 'notFound'>[] {
  const byId = new Map(rows.map((row) => [row.job.id, row]));
  return ids.map((id) => {
    const row = byId.get(id);
    return row
      ? { id, outcome: outcome(row), job: row.job }
      : { id, outcome: 'notFound', job: null };
  });
}

/**
 * Creates the management API over a driver.
 *
 * @example
 * ```ts
 * const admin = createAdmin({ driver: neonHttp(neon(env.DATABASE_URL)) });
 * const page = await admin.jobs.list({ state: 'discarded', kind: 'send_email', limit: 50 });
 * await admin.jobs.retry(page.jobs.map((job) => job.id));
 * ```
 */
export function createAdmin(adminOptions: AdminOptions): Admin {
  if (!adminOptions || typeof adminOptions !== 'object')
    throw new ValidationError('createAdmin: pass { driver, schema?, now? }');
  const { driver, schema } = adminOptions;
  if (!driver || typeof (driver as Partial<Driver>).query !== 'function')
    invalid(
      'driver',
      'must be an Eddy driver, e.g. nodePostgres(pool) or neonHttp(neon(url))',
      'createAdmin',
    );
  refuseUnknownKeys(adminOptions, ADMIN_KEYS, '', 'createAdmin');
  if (adminOptions.now !== undefined && typeof adminOptions.now !== 'function')
    invalid('now', 'must be a function returning a Date', 'createAdmin');
  const db = new Database(driver);
  const prefix = schemaPrefix(schema);
  const clock = adminOptions.now;
  const target = (): AdminTarget => ({ prefix, schema, now: clock?.() });
  const now = () => clock?.() ?? new Date();

  async function bulk<O extends string>(
    action: BulkAction,
    where: string,
    filter: JobFilter,
    bulkOptions: BulkOptions | undefined,
    outcome: (state: string) => O,
    outcomes: readonly O[],
  ): Promise<BulkResult<O>> {
    const checked = checkFilter(filter, where, 'filter');
    if (isEmptyFilter(checked))
      invalid(
        'filter',
        'is empty; name the jobs to act on (to mean every job, list every state)',
        where,
      );
    const max = checkCount(
      options(bulkOptions, { max: 1 }, where).max,
      'max',
      MAX_BULK,
      1000,
      where,
    );
    const scan = hasBoundedFilter(checked) ? SCAN_BOUND : max + 1;
    const result = await actOnJobs(db, target(), action, checked, max, scan);
    const byOutcome = Object.fromEntries(outcomes.map((o) => [o, 0])) as Record<O, number>;
    for (const job of result.jobs) byOutcome[outcome(job.state)]++;
    return {
      count: result.jobs.length,
      byOutcome,
      ids: result.jobs.map((job) => job.id),
      hasMore: result.hasMore,
      busy: result.busy,
    };
  }

  function exactUpTo(value: unknown, where: string): number {
    return checkCount(value, 'exactUpTo', MAX_EXACT_UP_TO, DEFAULT_EXACT_UP_TO, where);
  }

  async function counts(countOptions?: CountOptions): Promise<JobCounts> {
    const where = 'counts';
    const o = options(countOptions, { by: 1, finalizedSince: 1, exactUpTo: 1 }, where);
    if (o.by !== undefined && o.by !== 'queue' && o.by !== 'kind')
      invalid('by', "must be 'queue' or 'kind'", where);
    const since =
      o.finalizedSince === undefined
        ? undefined
        : checkDate(where, 'finalizedSince', o.finalizedSince);
    const cap = exactUpTo(o.exactUpTo, where);
    const by: CountGrouping = o.by ?? 'state';
    const cells = await countJobs(db, prefix, { by, cap, finalizedSince: since });
    return {
      states: stateCounts(cells),
      groups: by === 'state' ? [] : groupCounts(cells),
      exactUpTo: cap,
      finalizedSince: since ?? null,
    };
  }

  return {
    jobs: {
      async get(id) {
        const checked = checkId(id, 'id', 'jobs.get');
        const job = await getJob(db, prefix, checked);
        if (!job) throw new NotFoundError('job', checked.toString());
        return job;
      },

      async list(listOptions) {
        const where = 'jobs.list';
        const o = options(listOptions, { ...FILTER_KEYS, ...PAGE_KEYS }, where);
        const { orderBy: _o, order: _d, limit: _l, cursor: _c, ...filterPart } = o;
        const filter = checkFilter(filterPart, where, '');
        const { order, direction } = listOrder(o, filter, where);
        const limit = checkCount(o.limit, 'limit', MAX_PAGE_SIZE, 100, where);
        const after =
          o.cursor === undefined ? undefined : decodeCursor(o.cursor, order, direction, where);
        const bounded = hasBoundedFilter(filter, order);
        const page = await listJobs(db, prefix, {
          filter,
          order,
          direction,
          after,
          limit,
          scan: bounded ? SCAN_BOUND : limit + 1,
        });
        const jobs = page.jobs.slice(0, limit);
        const last = jobs[jobs.length - 1];
        const scanned = page.walked?.scanned ?? 0;
        const truncated = bounded && page.jobs.length <= limit && scanned >= SCAN_BOUND;
        let nextCursor: string | null = null;
        if (page.jobs.length > limit && last)
          nextCursor = encodeCursor(order, direction, { id: last.job.id, time: last.time });
        else if (truncated && page.walked)
          nextCursor = encodeCursor(order, direction, {
            id: page.walked.id,
            time: page.walked.time,
          });
        return { jobs: jobs.map((j) => j.job), nextCursor, truncated, scanned };
      },

      async cancel(ids) {
        const checked = checkIds(ids, 'ids', 'jobs.cancel');
        if (checked.length === 0) return [];
        const rows = await cancelJobs(db, target(), checked);
        return perId<CancelOutcome>(checked, rows, (row) =>
          !row.changed
            ? 'alreadyFinalized'
            : row.job.state === 'running'
              ? 'cancelRequested'
              : 'cancelled',
        );
      },

      async retry(ids) {
        const checked = checkIds(ids, 'ids', 'jobs.retry');
        if (checked.length === 0) return [];
        const rows = await retryJobs(db, target(), checked);
        return perId<RetryOutcome>(checked, rows, (row) =>
          row.changed ? 'retried' : row.job.state === 'running' ? 'running' : 'alreadyAvailable',
        );
      },

      async delete(ids) {
        const checked = checkIds(ids, 'ids', 'jobs.delete');
        if (checked.length === 0) return [];
        const rows = await deleteJobs(db, target(), checked);
        return perId<DeleteOutcome>(checked, rows, (row) => (row.changed ? 'deleted' : 'running'));
      },

      cancelMany: (filter, bulkOptions) =>
        bulk(
          'cancel',
          'jobs.cancelMany',
          filter,
          bulkOptions,
          (state) => (state === 'running' ? 'cancelRequested' : 'cancelled'),
          ['cancelled', 'cancelRequested'],
        ),
      retryMany: (filter, bulkOptions) =>
        bulk('retry', 'jobs.retryMany', filter, bulkOptions, () => 'retried', ['retried']),
      deleteMany: (filter, bulkOptions) =>
        bulk('delete', 'jobs.deleteMany', filter, bulkOptions, () => 'deleted', ['deleted']),

      async kinds(kindOptions) {
        const where = 'jobs.kinds';
        const o = options(kindOptions, { after: 1, limit: 1 }, where);
        if (o.after !== undefined && typeof o.after !== 'string')
          invalid('after', 'must be a string', where);
        const limit = checkCount(o.limit, 'limit', MAX_PAGE_SIZE, 100, where);
        return listJobKinds(db, prefix, o.after ?? '', limit);
      },
    },

    queues: {
      async list(queueOptions) {
        const cap = exactUpTo(
          options(queueOptions, { exactUpTo: 1 }, 'queues.list').exactUpTo,
          'queues.list',
        );
        const rows = await listQueues(db, prefix, cap);
        const at = now();
        return rows.map((row) => queueInfo(row, at));
      },

      async get(name, queueOptions) {
        const where = 'queues.get';
        if (typeof name !== 'string' || name.length === 0)
          invalid('name', 'must be a queue name', where);
        const cap = exactUpTo(options(queueOptions, { exactUpTo: 1 }, where).exactUpTo, where);
        const row = await getQueue(db, prefix, cap, name);
        if (!row) throw new NotFoundError('queue', name);
        return queueInfo(row, now());
      },

      async pause(name) {
        checkQueueName(name, 'queues.pause');
        if (!(await pauseQueue(db, target(), name))) throw new NotFoundError('queue', name);
      },

      async resume(name) {
        checkQueueName(name, 'queues.resume');
        if (!(await resumeQueue(db, target(), name))) throw new NotFoundError('queue', name);
      },
    },

    counts,
  };
}
