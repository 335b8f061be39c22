/**
 * Inserting jobs: one statement for one job or a thousand, unique or not.
 */

import type { Database, Row } from '../driver/database.js';
import { parseJson } from '../driver/json.js';
import { type Param, parseArray, parseTimestamp } from '../driver/values.js';
import { EddyError } from '../errors.js';
import type { PreparedJob } from '../insert/prepare-job.js';
import type { Job } from '../job.js';
import {
  JobInsertMany,
  JobInsertManyPlain,
  JobInsertManyShared,
  JobInsertOne,
  JobInsertOnePlain,
} from '../sql/job-insert.js';
import { manyParams, oneParams } from './insert-params.js';
import { PREPARED } from './prepared.js';

/** A job as an insert stored it (or found it stored, for a unique duplicate). */
export type InsertedJob<Args = unknown> = Pick<
  Job<Args>,
  | 'id'
  | 'kind'
  | 'queue'
  | 'state'
  | 'priority'
  | 'maxAttempts'
  | 'scheduledAt'
  | 'createdAt'
  | 'args'
  | 'tags'
  | 'metadata'
>;

export interface InsertedRow {
  job: InsertedJob;
  /** The row existed already (a unique duplicate): nothing was inserted. */
  skipped: boolean;
}

export interface InsertJobsOptions {
  /** Schema prefix from `schemaPrefix()`. */
  prefix: string;
  /** `pg_notify` this channel (`<schema>.river_insert`) about jobs available now. */
  notifyChannel?: string | undefined;
  /**
   * Insert only the jobs whose unique key no live job holds; the others are skipped without being
   * locked or returned (`ON CONFLICT DO NOTHING`, see JobInsertMany).
   */
  ifAbsent?: boolean;
  /** The insert time (created_at, default scheduled_at); absent: the database's now(). */
  now?: Date | undefined;
}

/** An insert statement built but not sent, and how to read its rows. */
export interface InsertJobsStatement {
  readonly text: string;
  readonly params: readonly Param[];
  /**
   * Maps the decoded rows back to the jobs, in order. With `ifAbsent` only inserted rows come
   * back, so there the rows are not matched to jobs and `rows.length` is all that counts.
   */
  read(rows: readonly Row[]): InsertedRow[];
}

const toDate = (value: unknown): Date =>
  value instanceof Date ? value : parseTimestamp(String(value));
const toId = (value: unknown): bigint =>
  typeof value === 'bigint' ? value : BigInt(value as string | number);
const toJson = <T>(value: unknown): T =>
  (typeof value === 'string' ? parseJson(value) : value) as T;

/** The ids of JobInsertManyPlain, decoded or (from an executor that parsed them) not. */
function toIds(value: unknown): bigint[] {
  if (typeof value === 'string') return parseArray(value, BigInt) as bigint[];
  return Array.isArray(value) ? value.map(toId) : [];
}

/** Reads one whole RETURNING row; tolerant of executors that parsed values themselves. */
function storedRow(row: Row): InsertedRow {
  return {
    job: {
      id: toId(row.id),
      kind: row.kind as string,
      queue: row.queue as string,
      state: row.state as Job['state'],
      priority: Number(row.priority),
      maxAttempts: Number(row.max_attempts),
      scheduledAt: toDate(row.scheduled_at),
      createdAt: toDate(row.created_at),
      args: toJson(row.args),
      tags: (row.tags as string[] | null) ?? [],
      metadata: toJson(row.metadata) ?? {},
    },
    skipped: row.skipped === true || row.skipped === 't',
  };
}

/**
 * A job of a plain insert (JobInsertOnePlain, JobInsertManyPlain) as stored: the database chose
 * the id and the insert time (also the scheduled_at of a job given none); everything else is
 * what was sent.
 */
function sentRow(job: PreparedJob, id: bigint, createdAt: number, args: unknown): InsertedRow {
  return {
    job: {
      id,
      kind: job.kind,
      queue: job.queue,
      state: job.state,
      priority: job.priority,
      maxAttempts: job.maxAttempts,
      scheduledAt: new Date(job.scheduledAt ? job.scheduledAt.getTime() : createdAt),
      createdAt: new Date(createdAt),
      args,
      tags: [...job.tags],
      metadata: job.metadataJson === '{}' ? {} : (parseJson(job.metadataJson) as Job['metadata']),
    },
    skipped: false,
  };
}

/**
 * The rows of a plain insert: one per job for one job, one with all the ids for many. The args
 * are what was sent, as a worker will read them (integers beyond 2^53 as bigints, never
 * rounded): the copy `prepareJob` made of plain JSON, or else parsed from what was sent;
 * `argsArray`, all of them as one JSON array, is parsed at once, about a quarter faster than a
 * thousand documents one by one.
 */
function sentRows(
  jobs: readonly PreparedJob[],
  rows: readonly Row[],
  argsArray: string | undefined,
): InsertedRow[] {
  const first = rows[0];
  const ids = jobs.length === 1 ? rows.map((row) => toId(row.id)) : toIds(first?.ids);
  if (ids.length !== jobs.length) {
    throw new EddyError(`insert returned ${ids.length} ids for ${jobs.length} jobs`);
  }
  const createdAt = toDate(first?.created_at).getTime();
  let parsed: unknown[] | undefined;
  const out = new Array<InsertedRow>(jobs.length);
  for (let i = 0; i < jobs.length; i++) {
    const job = jobs[i] as PreparedJob;
    let args = job.argsCopy;
    job.argsCopy = undefined; // handed out once: a second read gets its own
    if (args === undefined) {
      if (argsArray === undefined) args = parseJson(job.argsJson);
      else {
        parsed ??= parseJson(argsArray) as unknown[];
        args = parsed[i];
      }
    }
    out[i] = sentRow(job, ids[i] as bigint, createdAt, args);
  }
  return out;
}

type Variant = 'one' | 'onePlain' | 'many' | 'manyPlain' | 'manyShared';

/** The statements' texts, built once per schema prefix, variant and flags. */
const texts = new Map<string, Map<string, string>>();
function statementText(prefix: string, variant: Variant, notify: boolean, ifAbsent: boolean) {
  let built = texts.get(prefix);
  if (!built) {
    built = new Map();
    texts.set(prefix, built);
  }
  const key = notify
    ? ifAbsent
      ? `${variant}+n+a`
      : `${variant}+n`
    : ifAbsent
      ? `${variant}+a`
      : variant;
  let text = built.get(key);
  if (text === undefined) {
    text = {
      one: () => JobInsertOne(prefix, notify, ifAbsent),
      onePlain: () => JobInsertOnePlain(prefix, notify),
      many: () => JobInsertMany(prefix, notify, ifAbsent),
      manyPlain: () => JobInsertManyPlain(prefix, notify),
      manyShared: () => JobInsertManyShared(prefix, notify),
    }[variant]();
    built.set(key, text);
  }
  return text;
}

/**
 * Builds the insert for `jobs`, which must not repeat a unique key (one ON CONFLICT DO UPDATE
 * statement cannot touch a row twice: SQLSTATE 21000).
 */
export function insertJobsStatement(
  jobs: readonly PreparedJob[],
  options: InsertJobsOptions,
): InsertJobsStatement {
  const { prefix, notifyChannel, ifAbsent = false } = options;
  const notify = notifyChannel !== undefined;
  // Without unique keys nothing can conflict: the lighter statement, and rows built from input.
  const plain = !ifAbsent && jobs.every((job) => job.uniqueKey === null);
  let variant: Variant;
  let values: Param[];
  if (jobs.length === 1) {
    variant = plain ? 'onePlain' : 'one';
    values = oneParams(jobs[0] as PreparedJob);
  } else {
    const many = manyParams(jobs);
    if (plain && many.shared) {
      // JobInsertOne's parameters with the args of every job in $1.
      variant = 'manyShared';
      values = oneParams(jobs[0] as PreparedJob);
      values[0] = many.params[0] as string;
    } else {
      variant = plain ? 'manyPlain' : 'many';
      values = many.params;
    }
  }
  values[11] = options.now ?? null; // $12, the insert time, in every variant
  if (notify) values.push(notifyChannel);
  return {
    text: statementText(prefix, variant, notify, ifAbsent),
    params: values,
    read(rows) {
      // Many jobs' args went as one JSON array, in $1.
      if (plain) return sentRows(jobs, rows, jobs.length > 1 ? (values[0] as string) : undefined);
      if (!ifAbsent && rows.length !== jobs.length) {
        throw new EddyError(`insert returned ${rows.length} rows for ${jobs.length} jobs`);
      }
      return rows.map(storedRow);
    },
  };
}

/** Inserts the jobs (see `insertJobsStatement`) and returns their rows in input order. */
export async function insertJobs(
  db: Database,
  jobs: readonly PreparedJob[],
  options: InsertJobsOptions,
): Promise<InsertedRow[]> {
  if (jobs.length === 0) return [];
  const statement = insertJobsStatement(jobs, options);
  const { rows } = await db.query(statement.text, statement.params, PREPARED);
  return statement.read(rows);
}

/**
 * River's insert notification channel: `<schema>.river_insert`; without a schema, `river_insert`,
 * which the statement qualifies with the session's current schema as River does.
 */
export function insertNotifyChannel(schema: string | undefined): string {
  return `${schema ? `${schema}.` : ''}river_insert`;
}
