/**
 * Inserting jobs: one statement for one job or a thousand, unique or not.
 */

import type { Database, Row } from '../driver/database.js';
import { parseJson } from '../driver/json.js';
import { type Param, parseTimestamp } from '../driver/values.js';
import { EddyError } from '../errors.js';
import type { PreparedJob } from '../insert/prepare-job.js';
import type { Job } from '../job.js';
import {
  JobInsertMany,
  JobInsertManyPlain,
  JobInsertOne,
  JobInsertOnePlain,
} from '../sql/job-insert.js';
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

/** JSON documents as the text of one JSON array, for `jsonb_array_elements` (see JobInsertMany). */
function jsonArray(jobs: readonly PreparedJob[], pick: (job: PreparedJob) => string): string {
  let text = '[';
  for (let i = 0; i < jobs.length; i++) text += (i === 0 ? '' : ',') + pick(jobs[i] as PreparedJob);
  return `${text}]`;
}

const toDate = (value: unknown): Date =>
  value instanceof Date ? value : parseTimestamp(String(value));
const toJson = <T>(value: unknown): T =>
  (typeof value === 'string' ? parseJson(value) : value) as T;

/** Reads one whole RETURNING row; tolerant of executors that parsed values themselves. */
function storedRow(row: Row): InsertedRow {
  return {
    job: {
      id: typeof row.id === 'bigint' ? row.id : BigInt(row.id as string | number),
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
 * Reads a row of a plain insert (`JobInsertManyPlain`): the database chose the id and created_at
 * (also the scheduled_at of a job given none); everything else is what was sent.
 */
function sentRow(row: Row, job: PreparedJob): InsertedRow {
  const createdAt = toDate(row.created_at);
  return {
    job: {
      id: typeof row.id === 'bigint' ? row.id : BigInt(row.id as string | number),
      kind: job.kind,
      queue: job.queue,
      state: job.state,
      priority: job.priority,
      maxAttempts: job.maxAttempts,
      scheduledAt: new Date((job.scheduledAt ?? createdAt).getTime()),
      createdAt,
      // As a worker will read them: integers beyond 2^53 as bigints, never rounded.
      args: parseJson(job.argsJson),
      tags: [...job.tags],
      metadata: parseJson(job.metadataJson) as Record<string, unknown>,
    },
    skipped: false,
  };
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
  const single = jobs.length === 1;
  const column = <T>(pick: (job: PreparedJob) => T) => jobs.map(pick);
  const one = jobs[0] as PreparedJob;
  const values: Param[] = single
    ? [
        one.argsJson,
        one.kind,
        one.maxAttempts,
        one.metadataJson,
        one.priority,
        one.queue,
        one.scheduledAt,
        one.state,
        one.tags,
        one.uniqueKey,
        one.uniqueStates,
      ]
    : [
        jsonArray(jobs, (j) => j.argsJson),
        column((j) => j.kind),
        column((j) => j.maxAttempts),
        jsonArray(jobs, (j) => j.metadataJson),
        column((j) => j.priority),
        column((j) => j.queue),
        column((j) => j.scheduledAt),
        column((j) => j.state),
        column((j) => j.tags.join(',')),
        column((j) => j.uniqueKey),
        column((j) => j.uniqueStates),
      ];
  values.push(options.now ?? null);
  if (notify) values.push(notifyChannel);
  // Without unique keys nothing can conflict: the lighter statement, and rows built from input.
  const plain = !ifAbsent && jobs.every((job) => job.uniqueKey === null);
  const text = plain
    ? single
      ? JobInsertOnePlain(prefix, notify)
      : JobInsertManyPlain(prefix, notify)
    : single
      ? JobInsertOne(prefix, notify, ifAbsent)
      : JobInsertMany(prefix, notify, ifAbsent);
  return {
    text,
    params: values,
    read(rows) {
      if (!ifAbsent && rows.length !== jobs.length) {
        throw new EddyError(`insert returned ${rows.length} rows for ${jobs.length} jobs`);
      }
      return plain
        ? rows.map((row, i) => sentRow(row, jobs[i] as PreparedJob))
        : rows.map(storedRow);
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
