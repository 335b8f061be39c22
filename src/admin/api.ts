/**
 * The management API's shapes: its options, what each operation returns, and its limits.
 */

import type { Driver } from '../driver/driver.js';
import type { Job } from '../job.js';
import type { QueueInfo, StateCounts } from './counts.js';
import type { JobFilter, JobId } from './job-filter.js';

export interface AdminOptions {
  driver: Driver;
  /** Postgres schema holding River's tables (River's Config.Schema). Default: the search_path. */
  schema?: string;
  /** The clock the statements use (tests): cancel and retry times, ages. Default: the database's. */
  now?: (() => Date) | undefined;
}

/** Most jobs a page holds; the default is River's (100). */
export const MAX_PAGE_SIZE = 1000;
/**
 * Jobs a page walks at most to check filters no index serves: tag, priority, created and
 * scheduled ranges, and a finalized range unless the page is in finalizedAt order.
 */
export const SCAN_BOUND = 10_000;
/** Most jobs one bulk action touches; the default is 1,000. */
export const MAX_BULK = 10_000;
/** Counts are exact up to this many by default, estimates beyond. */
export const DEFAULT_EXACT_UP_TO = 5000;
/** The largest cap `exactUpTo` takes (a count costs up to the cap per state, queue or kind). */
export const MAX_EXACT_UP_TO = 100_000;

export type JobListOrderBy = 'id' | 'finalizedAt' | 'scheduledAt';

export interface JobListOptions extends JobFilter {
  /**
   * `id` (default); `finalizedAt` (finalized states only: the default states become cancelled,
   * completed and discarded, as in River); `scheduledAt` (needs a `state` of unfinalized states).
   */
  orderBy?: JobListOrderBy;
  /** Default `desc`: newest first. */
  order?: 'asc' | 'desc';
  /** Jobs per page, 1 to 1,000. Default 100. */
  limit?: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string;
}

export interface JobPage {
  jobs: Job[];
  /** Pass as `cursor` for the next page; null when nothing more matches. */
  nextCursor: string | null;
  /**
   * The page stopped short of `limit` because it walked SCAN_BOUND jobs checking a filter no
   * index serves (tag, priority, a created or scheduled range, a finalized range outside
   * finalizedAt order); more may match after `nextCursor`. Never true without such a filter.
   */
  truncated: boolean;
  /** Jobs walked for the page (what the index filters let through). */
  scanned: number;
}

export type CancelOutcome = 'cancelled' | 'cancelRequested' | 'alreadyFinalized' | 'notFound';
export type RetryOutcome = 'retried' | 'running' | 'alreadyAvailable' | 'notFound';
export type DeleteOutcome = 'deleted' | 'running' | 'notFound';

/** What an action did to one id: the job as the action left it (as it was, for a delete). */
export interface JobActionResult<Outcome extends string> {
  id: bigint;
  outcome: Outcome;
  job: Job | null;
}

export interface BulkOptions {
  /** Most jobs to act on, 1 to 10,000. Default 1,000. */
  max?: number;
}

export interface BulkResult<Outcome extends string> {
  /** Jobs acted on. */
  count: number;
  byOutcome: Record<Outcome, number>;
  /** Their ids, in id order. */
  ids: bigint[];
  /**
   * More jobs may match: the cap was reached, or the walk's bound for a filter no index serves.
   * Call again (the jobs acted on no longer match, so it moves on).
   */
  hasMore: boolean;
  /** Jobs that matched but another transaction held locked; skipped, as River's JobDeleteMany does. */
  busy: number;
}

export interface CountOptions {
  /** Also count per queue or per kind. */
  by?: 'queue' | 'kind';
  /** Finalized states count only jobs finalized since then (jobs finished in the last hour). */
  finalizedSince?: Date;
  /** Counts are exact up to this many, estimates beyond (`exact: false`). Default 5,000. */
  exactUpTo?: number;
}

export interface JobCounts {
  states: StateCounts;
  /** Per queue or kind when counted `by` one, in name order. */
  groups: { name: string; counts: StateCounts }[];
  exactUpTo: number;
  finalizedSince: Date | null;
}

export interface Admin {
  jobs: {
    /** The job, or a `NotFoundError`. */
    get(id: JobId): Promise<Job>;
    /** A page of jobs matching the filter, newest first unless ordered otherwise. */
    list(options?: JobListOptions): Promise<JobPage>;
    /** River's JobCancel for each id (see the README); results in the order given. */
    cancel(ids: readonly JobId[]): Promise<JobActionResult<CancelOutcome>[]>;
    /** River's JobRetry for each id. */
    retry(ids: readonly JobId[]): Promise<JobActionResult<RetryOutcome>[]>;
    /** River's JobDelete for each id: a running job is refused. */
    delete(ids: readonly JobId[]): Promise<JobActionResult<DeleteOutcome>[]>;
    /** Cancels up to `max` jobs the filter matches (not finalized ones), in id order. */
    cancelMany(
      filter: JobFilter,
      options?: BulkOptions,
    ): Promise<BulkResult<'cancelled' | 'cancelRequested'>>;
    /** Retries up to `max` jobs the filter matches (not running or already-due ones). */
    retryMany(filter: JobFilter, options?: BulkOptions): Promise<BulkResult<'retried'>>;
    /** Deletes up to `max` jobs the filter matches (not running ones). */
    deleteMany(filter: JobFilter, options?: BulkOptions): Promise<BulkResult<'deleted'>>;
    /** Distinct job kinds in name order, after `after`, at most `limit` (default 100, max 1,000). */
    kinds(options?: { after?: string; limit?: number }): Promise<string[]>;
  };
  queues: {
    /** Every queue River knows or jobs name, with counts; in name order. */
    list(options?: { exactUpTo?: number }): Promise<QueueInfo[]>;
    /** One queue, or a `NotFoundError` when it has neither a row nor jobs. */
    get(name: string, options?: { exactUpTo?: number }): Promise<QueueInfo>;
    /** River's QueuePause (`*`: every queue) and its notification; unknown queue: `NotFoundError`. */
    pause(name: string): Promise<void>;
    /** River's QueueResume and its notification; unknown queue: `NotFoundError`. */
    resume(name: string): Promise<void>;
  };
  /** Jobs counted by state, and by queue or kind, exact up to `exactUpTo` and estimated beyond. */
  counts(options?: CountOptions): Promise<JobCounts>;
}
