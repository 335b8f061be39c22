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
function jsonArray(texts: readonly string[]): string {
  let text = '[';
  for (let i = 0; i < texts.length; i++) text += (i === 0 ? '' : ',') + texts[i];
  return `${text}]`;
}

/** A column of a many-job insert: how to read it from a job, and how to send it per job. */
interface ManyColumn {
  pick(job: PreparedJob): Param;
  /** Whether two jobs' values are the same, so that the column can travel once; default `===`. */
  same?(a: Param, b: Param): boolean;
  /** The per-job values as one parameter; default the array itself. */
  each?(values: Param[]): Param;
}

const sameTime = (a: Param, b: Param) =>
  a === b || (a instanceof Date && b instanceof Date && a.getTime() === b.getTime());
const sameTags = (a: Param, b: Param) => {
  const x = a as readonly string[];
  const y = b as readonly string[];
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
};

/** JobInsertMany's columns $2..$9 and $11 (args and unique_key apart), in its order. */
const MANY_COLUMNS: readonly ManyColumn[] = [
  { pick: (j) => j.kind },
  { pick: (j) => j.maxAttempts },
  { pick: (j) => j.metadataJson, each: (values) => jsonArray(values as string[]) },
  { pick: (j) => j.priority },
  { pick: (j) => j.queue },
  { pick: (j) => j.scheduledAt, same: sameTime },
  { pick: (j) => j.state },
  // Each job's tags comma-joined: Postgres arrays cannot be ragged (hence River's no-comma rule).
  {
    pick: (j) => j.tags,
    same: sameTags,
    each: (values) => (values as string[][]).map((tags) => tags.join(',')),
  },
  { pick: (j) => j.uniqueStates },
];

/**
 * Parameters $1..$21 of JobInsertMany, the insert time ($12) left NULL: each column as an
 * array with a value per job and a NULL shared value, or, when every job has the same value,
 * as a NULL array and that value (see `manyRows` in sql/job-insert.ts).
 */
function manyParams(jobs: readonly PreparedJob[]): Param[] {
  const args = new Array<string>(jobs.length);
  for (let i = 0; i < jobs.length; i++) args[i] = (jobs[i] as PreparedJob).argsJson;
  const perJob: Param[] = [];
  const shared: Param[] = [];
  for (const column of MANY_COLUMNS) {
    const first = column.pick(jobs[0] as PreparedJob);
    const same = column.same ?? Object.is;
    let i = 1;
    while (i < jobs.length && same(first, column.pick(jobs[i] as PreparedJob))) i++;
    if (i === jobs.length) {
      perJob.push(null);
      shared.push(first);
    } else {
      const values = jobs.map(column.pick);
      perJob.push(column.each ? column.each(values) : values);
      shared.push(null);
    }
  }
  // No two rows share a unique key: an array of them, or NULL when no job has one.
  const keys = jobs.some((job) => job.uniqueKey !== null) ? jobs.map((job) => job.uniqueKey) : null;
  const [kind, maxAttempts, metadata, priority, queue, scheduledAt, state, tags, uniqueStates] =
    perJob;
  return [
    jsonArray(args),
    kind,
    maxAttempts,
    metadata,
    priority,
    queue,
    scheduledAt,
    state,
    tags,
    keys,
    uniqueStates,
    null,
    ...shared,
  ];
}

/** JobInsertOne's parameters $1..$11, the insert time ($12) left NULL. */
function oneParams(job: PreparedJob): Param[] {
  return [
    job.argsJson,
    job.kind,
    job.maxAttempts,
    job.metadataJson,
    job.priority,
    job.queue,
    job.scheduledAt,
    job.state,
    job.tags,
    job.uniqueKey,
    job.uniqueStates,
    null,
  ];
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
function sentRow(job: PreparedJob, id: bigint, createdAt: number): InsertedRow {
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
      // As a worker will read them: integers beyond 2^53 as bigints, never rounded.
      args: parseJson(job.argsJson),
      tags: [...job.tags],
      metadata: job.metadataJson === '{}' ? {} : (parseJson(job.metadataJson) as Job['metadata']),
    },
    skipped: false,
  };
}

/** The rows of a plain insert: one per job for one job, one with all the ids for many. */
function sentRows(jobs: readonly PreparedJob[], rows: readonly Row[]): InsertedRow[] {
  const first = rows[0];
  const ids = jobs.length === 1 ? rows.map((row) => toId(row.id)) : toIds(first?.ids);
  if (ids.length !== jobs.length) {
    throw new EddyError(`insert returned ${ids.length} ids for ${jobs.length} jobs`);
  }
  const createdAt = toDate(first?.created_at).getTime();
  const out = new Array<InsertedRow>(jobs.length);
  for (let i = 0; i < jobs.length; i++) {
    out[i] = sentRow(jobs[i] as PreparedJob, ids[i] as bigint, createdAt);
  }
  return out;
}

/** The statements' texts, built once per schema prefix and variant (the index below). */
const texts = new Map<string, string[]>();
function statementText(
  prefix: string,
  plain: boolean,
  single: boolean,
  notify: boolean,
  ifAbsent: boolean,
): string {
  let variants = texts.get(prefix);
  if (!variants) {
    variants = [];
    texts.set(prefix, variants);
  }
  const index = +plain | (+single << 1) | (+notify << 2) | (+ifAbsent << 3);
  let text = variants[index];
  if (text === undefined) {
    if (plain)
      text = single ? JobInsertOnePlain(prefix, notify) : JobInsertManyPlain(prefix, notify);
    else
      text = single
        ? JobInsertOne(prefix, notify, ifAbsent)
        : JobInsertMany(prefix, notify, ifAbsent);
    variants[index] = text;
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
  const single = jobs.length === 1;
  const values = single ? oneParams(jobs[0] as PreparedJob) : manyParams(jobs);
  values[11] = options.now ?? null; // $12, the insert time, in both
  if (notify) values.push(notifyChannel);
  // Without unique keys nothing can conflict: the lighter statement, and rows built from input.
  const plain = !ifAbsent && jobs.every((job) => job.uniqueKey === null);
  return {
    text: statementText(prefix, plain, single, notify, ifAbsent),
    params: values,
    read(rows) {
      if (plain) return sentRows(jobs, rows);
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

/** River's insert notification channel: `river_insert`, schema-qualified when there is one. */
export function insertNotifyChannel(schema: string | undefined): string {
  return `${schema ? `${schema}.` : ''}river_insert`;
}
