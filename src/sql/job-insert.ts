/**
 * Job inserts. `p` is the schema prefix from `schemaPrefix()` ('' or `"name".`).
 *
 * Unique jobs conflict on River's partial unique index; `DO UPDATE` (a no-op write) instead of
 * `DO NOTHING` makes the existing row come back through RETURNING, and `xmax <> 0` tells the
 * two cases apart — a duplicate never raises, so it never aborts the caller's transaction.
 *
 * Parameters $1..$11 are the columns below; $12 is the insert time (timestamptz, NULL: the
 * database's now(); see `clock`), which becomes created_at and the default scheduled_at.
 * JobInsertMany takes the values its jobs share in $13..$21 (see `manyRows`). The notification
 * channel, when there is one, comes last: $13, or $22 for JobInsertMany.
 *
 * `ifAbsent` statements use `DO NOTHING` instead: only inserted rows come back, and existing ones
 * are neither locked nor rewritten. The tick runner enqueues periodic jobs so: `DO UPDATE` locked
 * every live slot row, one after another, while a tick recording some of those jobs locked them
 * in another order — deadlock (40P01) between overlapping ticks.
 */

import { clock } from './clock.js';

const conflict = (p: string, ifAbsent: boolean) => `ON CONFLICT (unique_key)
    WHERE unique_key IS NOT NULL AND unique_states IS NOT NULL
      AND ${p}river_job_state_in_bitmask(unique_states, state)
    ${ifAbsent ? 'DO NOTHING' : 'DO UPDATE SET kind = river_job.kind'}`;

const returning = `RETURNING id, kind, queue, state::text AS state, priority, max_attempts,
    scheduled_at, created_at, args, tags, metadata, (xmax <> 0) AS skipped`;

/**
 * Notifies Go River listeners (`<schema>.river_insert`, payload `{"queue": "…"}`, byte for byte
 * what River's client sends: its `fmt.Sprintf("{\"queue\": %q}")`) once per queue
 * that received a job available now. Evaluated through a scalar subquery so it runs in the same
 * statement, only when rows were inserted. An unqualified channel is qualified with the
 * session's current schema, as River qualifies the channel it LISTENs on when its client names
 * no schema (`public.river_insert`, not `river_insert`).
 */
const notify = `, notified AS (
  SELECT pg_notify(
    CASE WHEN strpos($NOTIFY_CHANNEL::text, '.') > 0 OR current_schema() IS NULL THEN $NOTIFY_CHANNEL::text
      ELSE current_schema() || '.' || $NOTIFY_CHANNEL::text END,
    '{"queue": ' || to_json(q.queue)::text || '}')
  FROM (SELECT DISTINCT queue FROM inserted WHERE state = 'available' AND NOT skipped) q
)`;

/** Adds the notification (channel in parameter `channel`) when asked. */
function wrap(insert: string, withNotify: boolean, channel: number): string {
  if (!withNotify) return insert;
  return `WITH inserted AS (${insert})${notify.replaceAll('$NOTIFY_CHANNEL', `$${channel}`)}
SELECT inserted.*, (SELECT count(*) FROM notified) AS notified FROM inserted`;
}

const columns = `(args, kind, max_attempts, metadata, priority, queue, scheduled_at, state, tags,
    unique_key, unique_states, created_at)`;

/** One job from scalar parameters $1..$11 (in `columns` order). */
const insertOne = (p: string) => `INSERT INTO ${p}river_job ${columns}
  VALUES ($1::jsonb, $2::text, $3::smallint, $4::jsonb, $5::smallint, $6::text,
    coalesce($7::timestamptz, ${clock(12)}), $8::${p}river_job_state, $9::varchar(255)[], $10::bytea,
    $11::bit(8), ${clock(12)})`;

/** Inserts one job: parameters $1..$11 as in JobInsertMany, but scalars. */
export const JobInsertOne = (p: string, withNotify: boolean, ifAbsent = false) =>
  wrap(
    `${insertOne(p)}
  ${conflict(p, ifAbsent)}
  ${returning}`,
    withNotify,
    13,
  );

/**
 * The rows of a many-job insert. $1 is one JSON array of the args documents (JSON texts joined
 * inside `[...]`, so no document is escaped into an array literal: escaping was a quarter of
 * `insertMany`'s JavaScript time, and the server takes as long either way). Every other column
 * travels one of two ways: as one value per job ($2..$11: an array, or for metadata a JSON
 * array) or, when every job has the same value, as that value once ($13..$21, in the same
 * column order, without unique_key, which no two rows share) with NULL for its array. ROWS FROM
 * pads the unsent columns with NULL and `coalesce` takes the shared value. A batch whose jobs
 * differ in a column or two so sends those arrays and the rest once, not ten arrays of a
 * thousand elements: for 1,000 jobs of one kind and options the server took ~15 % less time
 * than with ten arrays (pg_stat_statements, PostgreSQL 15), and encoding the arrays had been
 * ~10 % of `insertMany`'s JavaScript time. Jobs that differ only in their args take
 * JobInsertManyShared, lighter still.
 *
 * Only scheduled_at and unique_states may be NULL in a row; a shared NULL is what a NULL array
 * element would have been, so `coalesce` still gives each row its own value.
 */
const manyRows = `ROWS FROM (jsonb_array_elements($1::jsonb), unnest($2::text[]), unnest($3::smallint[]),
    jsonb_array_elements($4::jsonb), unnest($5::smallint[]), unnest($6::text[]),
    unnest($7::timestamptz[]), unnest($8::text[]), unnest($9::text[]), unnest($10::bytea[]),
    unnest($11::bit(8)[]))
    WITH ORDINALITY AS t(args, kind, max_attempts, metadata, priority, queue, scheduled_at, state,
      tags, unique_key, unique_states, ord)`;

/** Many jobs from the parameters (see `manyRows`), inserted in input order. */
const insertMany = (p: string) => `INSERT INTO ${p}river_job ${columns}
  SELECT args, coalesce(kind, $13::text), coalesce(max_attempts, $14::smallint),
    coalesce(metadata, $15::jsonb), coalesce(priority, $16::smallint), coalesce(queue, $17::text),
    coalesce(scheduled_at, $18::timestamptz, ${clock(12)}),
    coalesce(state, $19::text)::${p}river_job_state,
    CASE WHEN tags IS NULL THEN $20::varchar(255)[]
      WHEN tags = '' THEN '{}'::varchar(255)[]
      ELSE string_to_array(tags, ',')::varchar(255)[] END,
    unique_key, coalesce(unique_states, $21::bit(8)), ${clock(12)}
  FROM ${manyRows}
  ORDER BY ord`;

/**
 * Inserts any number of jobs in one statement from parallel arrays. Tags travel comma-joined
 * (hence River's no-comma rule) because Postgres arrays cannot be ragged. Rows are inserted,
 * and returned, in input order.
 */
export const JobInsertMany = (p: string, withNotify: boolean, ifAbsent = false) =>
  wrap(
    `${insertMany(p)}
  ${conflict(p, ifAbsent)}
  ${returning}`,
    withNotify,
    22,
  );

/**
 * RETURNING for a job without a unique key: only what the database chose. The client knows the
 * rest from its own input (see `JobInsertManyPlain`).
 */
const plainReturning = (withNotify: boolean) =>
  withNotify
    ? 'RETURNING id, created_at, queue, state::text AS state, false AS skipped'
    : 'RETURNING id, created_at';

/** `JobInsertOne` for a job without a unique key (see `JobInsertManyPlain`). */
export const JobInsertOnePlain = (p: string, withNotify: boolean) =>
  wrap(
    `${insertOne(p)}
  ${plainReturning(withNotify)}`,
    withNotify,
    13,
  );

/**
 * `JobInsertMany` for jobs none of which has a unique key, which cannot conflict: no ON CONFLICT
 * arbiter, so Postgres skips speculative insertion (an index probe and an extra WAL record per
 * row); for 1000 jobs that took the server ~25 % less time (PostgreSQL 15). The client knows
 * every column but what the database chose, so one row comes back: the ids, ascending, and the
 * insert time. Ascending is input order: the rows are inserted in `ord` order and `nextval`
 * numbers each as it is inserted, always upwards. `RETURNING id, created_at`, a row per job,
 * took ~0.5 ms longer for 1,000 jobs, measured at the client with the decoding (4 %).
 */
export const JobInsertManyPlain = (p: string, withNotify: boolean) =>
  returningIds(insertMany(p), withNotify, 22);

/** A plain many-job insert's one row: the ids and the insert time (see JobInsertManyPlain). */
function returningIds(insert: string, withNotify: boolean, channel: number): string {
  if (!withNotify) {
    return `WITH inserted AS (${insert}
  RETURNING id)
SELECT array_agg(id ORDER BY id) AS ids, ${clock(12)} AS created_at FROM inserted`;
  }
  return `WITH inserted AS (${insert}
  RETURNING id, queue, state, false AS skipped)${notify.replaceAll('$NOTIFY_CHANNEL', `$${channel}`)}
SELECT array_agg(id ORDER BY id) AS ids, ${clock(12)} AS created_at,
  (SELECT count(*) FROM notified) AS notified
FROM inserted`;
}

/**
 * `JobInsertManyPlain` for jobs that differ in nothing but their args: one kind with the same
 * options, the usual `insertMany`. JobInsertOne's parameters, but $1 is a JSON array of the
 * args documents; every other column is one value, so the rows come from one function and no
 * `coalesce`. For 1,000 jobs the server took 2–7 % less time than with JobInsertManyPlain's
 * padded columns, measured at the client (PostgreSQL 15).
 */
export const JobInsertManyShared = (p: string, withNotify: boolean) =>
  returningIds(
    `INSERT INTO ${p}river_job ${columns}
  SELECT args, $2::text, $3::smallint, $4::jsonb, $5::smallint, $6::text,
    coalesce($7::timestamptz, ${clock(12)}), $8::${p}river_job_state, $9::varchar(255)[], $10::bytea,
    $11::bit(8), ${clock(12)}
  FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(args, ord)
  ORDER BY ord`,
    withNotify,
    13,
  );
