/**
 * The parameters of the insert statements (sql/job-insert.ts) from prepared jobs: one job's
 * values as they are, many jobs' columns as one value when they all share it.
 */

import type { Param } from '../driver/values.js';
import type { PreparedJob } from '../insert/prepare-job.js';

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
 * as a NULL array and that value (see `manyRows` in sql/job-insert.ts). `shared`: every column
 * but args is one value (JobInsertManyShared can take the jobs).
 */
export function manyParams(jobs: readonly PreparedJob[]): { params: Param[]; shared: boolean } {
  const args = new Array<string>(jobs.length);
  for (let i = 0; i < jobs.length; i++) args[i] = (jobs[i] as PreparedJob).argsJson;
  const perJob: Param[] = [];
  const shared: Param[] = [];
  let allShared = true;
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
      allShared = false;
    }
  }
  // No two rows share a unique key: an array of them, or NULL when no job has one.
  const keyed = jobs.some((job) => job.uniqueKey !== null);
  const keys = keyed ? jobs.map((job) => job.uniqueKey) : null;
  const [kind, maxAttempts, metadata, priority, queue, scheduledAt, state, tags, uniqueStates] =
    perJob;
  const params = [
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
  return { params, shared: allShared && !keyed };
}

/** JobInsertOne's parameters $1..$11, the insert time ($12) left NULL. */
export function oneParams(job: PreparedJob): Param[] {
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
