/**
 * Listing jobs by filter, and cancelling, retrying or deleting the jobs a filter matches, each
 * one statement whose WHERE clause holds only the filters given (River's JobList and
 * JobDeleteMany build theirs the same way).
 *
 * Staying fast on a big table: every filter either narrows an index River's schema has, or is
 * checked over a bounded number of rows.
 *
 * - Narrowing (`IndexedSlots`): `id` (the primary key), `state` (the leading column of
 *   `river_job_prioritized_fetching_index` (state, queue, priority, scheduled_at, id) and of
 *   `river_job_state_and_finalized_at_index`), `queue` (the fetching index, after the state: a
 *   queue without a state is looked up under every state), `kind` (`river_job_kind`), `args`
 *   and `metadata` containment (their GIN indexes), and a `finalized_at` range (the
 *   state-and-finalized index, under the finalized states when no state is given).
 * - Bounded (`BoundedSlots`): `priority`, `tag`, and `created_at` / `scheduled_at` ranges have no
 *   index of their own. The statement walks at most `$scan` jobs that pass the narrowing filters,
 *   in the listing's order, and checks these on them; a page that reaches the bound before it is
 *   full says so, with a cursor where the walk stopped (`JobList`'s `eddy_scanned`).
 *
 * Orders: by `id`, or by `finalized_at` (finalized states: the state-and-finalized index) or
 * `scheduled_at` (unfinalized states, which a healthy table holds few of), each then by id.
 * Cursor predicates keep a plain range on the order's column so the index bounds the scan.
 */

import { clock } from './clock.js';
import { cancelPayload, controlChannel, goTimeJson } from './job-admin.js';

/** Placeholder numbers of the filters given that narrow an index. */
export interface IndexedSlots {
  ids?: number;
  /** text[] of states. */
  states?: number;
  kinds?: number;
  queues?: number;
  /** jsonb fragments, `@>`. */
  args?: number;
  metadata?: number;
  finalizedFrom?: number;
  finalizedTo?: number;
}

/** Placeholder numbers of the filters given that are checked over a bounded walk. */
export interface BoundedSlots {
  priorities?: number;
  /** A finalized_at range walked in id order (see `IndexedSlots` for finalized_at order). */
  finalizedFrom?: number;
  finalizedTo?: number;
  /** text[]: the job has every one of these tags. */
  tags?: number;
  createdFrom?: number;
  createdTo?: number;
  scheduledFrom?: number;
  scheduledTo?: number;
}

export interface FilterSlots {
  indexed: IndexedSlots;
  bounded: BoundedSlots;
}

export type ListOrder = 'id' | 'finalized_at' | 'scheduled_at';
export type Direction = 'asc' | 'desc';

const ALL_STATES = `'{available,cancelled,completed,discarded,pending,retryable,running,scheduled}'`;
const FINALIZED_STATES = `'{cancelled,completed,discarded}'`;
const UNFINALIZED_STATES = `'{available,pending,retryable,running,scheduled}'`;

const any = (column: string, slot: number, type: string) => `${column} = ANY ($${slot}::${type})`;

/** The narrowing predicates, plus what lets the planner use an index for them. */
function indexedPredicates(p: string, s: IndexedSlots): string[] {
  const where: string[] = [];
  const enumArray = `${p}river_job_state[]`;
  if (s.ids !== undefined) where.push(any('id', s.ids, 'int8[]'));
  if (s.states !== undefined) where.push(any('state', s.states, enumArray));
  else if (s.finalizedFrom !== undefined || s.finalizedTo !== undefined)
    // Only finalized jobs have a finalized_at (River's check constraint): the same rows, and the
    // state-and-finalized index can serve the range.
    where.push(`state = ANY (${FINALIZED_STATES}::${enumArray})`);
  else if (s.queues !== undefined)
    // The same rows: it lets the fetching index, which leads with the state, find the queue.
    where.push(`state = ANY (${ALL_STATES}::${enumArray})`);
  if (s.queues !== undefined) where.push(any('queue', s.queues, 'text[]'));
  if (s.kinds !== undefined) where.push(any('kind', s.kinds, 'text[]'));
  if (s.args !== undefined) where.push(`args @> $${s.args}::jsonb`);
  if (s.metadata !== undefined) where.push(`metadata @> $${s.metadata}::jsonb`);
  if (s.finalizedFrom !== undefined) where.push(`finalized_at >= $${s.finalizedFrom}::timestamptz`);
  if (s.finalizedTo !== undefined) where.push(`finalized_at < $${s.finalizedTo}::timestamptz`);
  return where;
}

/** The bounded predicates, over the walked rows (`c`). */
function boundedPredicates(s: BoundedSlots): string[] {
  const where: string[] = [];
  if (s.priorities !== undefined) where.push(any('c.priority', s.priorities, 'int2[]'));
  if (s.tags !== undefined) where.push(`c.tags @> $${s.tags}::varchar[]`);
  if (s.createdFrom !== undefined) where.push(`c.created_at >= $${s.createdFrom}::timestamptz`);
  if (s.createdTo !== undefined) where.push(`c.created_at < $${s.createdTo}::timestamptz`);
  if (s.scheduledFrom !== undefined)
    where.push(`c.scheduled_at >= $${s.scheduledFrom}::timestamptz`);
  if (s.scheduledTo !== undefined) where.push(`c.scheduled_at < $${s.scheduledTo}::timestamptz`);
  if (s.finalizedFrom !== undefined)
    where.push(`c.finalized_at >= $${s.finalizedFrom}::timestamptz`);
  if (s.finalizedTo !== undefined) where.push(`c.finalized_at < $${s.finalizedTo}::timestamptz`);
  return where;
}

/** The columns the bounded predicates read, walked along with the id. */
function boundedColumns(s: BoundedSlots): string {
  const columns = [
    s.priorities !== undefined ? 'priority' : '',
    s.tags !== undefined ? 'tags' : '',
    s.createdFrom !== undefined || s.createdTo !== undefined ? 'created_at' : '',
    s.scheduledFrom !== undefined || s.scheduledTo !== undefined ? 'scheduled_at' : '',
    s.finalizedFrom !== undefined || s.finalizedTo !== undefined ? 'finalized_at' : '',
  ].filter(Boolean);
  return columns.map((c) => `, ${c}`).join('');
}

const conjunction = (predicates: readonly string[]) =>
  predicates.length === 0 ? 'true' : predicates.join('\n    AND ');

/** A timestamp as exact UTC text (microseconds), independent of the session's settings. */
export const utcText = (expression: string) =>
  `to_char(${expression} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

function orderBy(order: ListOrder, direction: Direction, alias = ''): string {
  const d = direction === 'asc' ? 'ASC' : 'DESC';
  return order === 'id' ? `${alias}id ${d}` : `${alias}sort_at ${d}, ${alias}id ${d}`;
}

/**
 * The cursor's predicate: after ($id) in id order, or after ($time, $id) in a time order, with a
 * plain range on the time column (an index bound) and the tie broken by id.
 */
function afterCursor(order: ListOrder, direction: Direction, id: number, time: number): string {
  const op = direction === 'asc' ? '>' : '<';
  if (order === 'id') return `id ${op} $${id}::int8`;
  const t = `$${time}::timestamptz`;
  return `${order} ${op}= ${t} AND (${order} ${op} ${t} OR id ${op} $${id}::int8)`;
}

export interface ListShape {
  order: ListOrder;
  direction: Direction;
  slots: FilterSlots;
  /** Placeholders of the cursor ($id int8, $time timestamptz), when there is one. */
  cursor?: { id: number; time: number };
  /** Placeholder of the walk's bound (int). */
  scan: number;
  /** Placeholder of the page size (int); the statement returns one more when there are more. */
  limit: number;
}

/**
 * One page of jobs: the whole rows of up to $limit + 1 matching jobs in order, each with
 * `eddy_sort_at` (its order's time as exact UTC text, for the cursor), and on every row the
 * walk's last job (`eddy_last_id`, `eddy_last_sort_at`) and how many jobs it walked
 * (`eddy_scanned`). A walk that matched nothing returns one row whose job columns are NULL;
 * no row at all means nothing passed the narrowing filters.
 */
export const JobList = (p: string, shape: ListShape) => {
  const { order, direction, slots } = shape;
  const states = slots.indexed.states;
  // A time order walks each state apart, down the index that leads with the state and gives
  // that order within it (the state-and-finalized index for finalized_at), then merges the
  // walks: under `state = ANY (…)` one index cannot give the order, and the whole of every
  // state would be sorted (180 ms for 900,000 completed jobs, against 2 ms).
  const perState = order !== 'id' && states !== undefined;
  const narrowing = indexedPredicates(
    p,
    perState ? { ...slots.indexed, states: undefined } : slots.indexed,
  );
  if (perState) narrowing.unshift('state = s.state');
  // Always true of finalized jobs; it lets the planner use the state-and-finalized index, which
  // is partial (WHERE finalized_at IS NOT NULL).
  if (order === 'finalized_at') narrowing.push('finalized_at IS NOT NULL');
  if (shape.cursor)
    narrowing.push(afterCursor(order, direction, shape.cursor.id, shape.cursor.time));
  const sortAt = order === 'id' ? 'NULL::timestamptz' : order;
  const reverse: Direction = direction === 'asc' ? 'desc' : 'asc';
  const walk = `SELECT id, ${sortAt} AS sort_at${boundedColumns(slots.bounded)}
  FROM ${p}river_job
  WHERE ${conjunction(narrowing)}
  ORDER BY ${orderBy(order, direction)}
  LIMIT $${shape.scan}::int`;
  const candidates = perState
    ? `SELECT w.* FROM unnest($${states}::${p}river_job_state[]) AS s(state), LATERAL (
  ${walk}
  ) w
  ORDER BY ${orderBy(order, direction, 'w.')}
  LIMIT $${shape.scan}::int`
    : walk;
  return `
WITH candidates AS MATERIALIZED (
  ${candidates}
),
matched AS (
  SELECT c.id, c.sort_at FROM candidates c
  WHERE ${conjunction(boundedPredicates(slots.bounded))}
  ORDER BY ${orderBy(order, direction, 'c.')}
  LIMIT $${shape.limit}::int + 1
),
walked AS (
  SELECT c.id, c.sort_at, (SELECT count(*) FROM candidates) AS scanned
  FROM candidates c ORDER BY ${orderBy(order, reverse, 'c.')} LIMIT 1
)
SELECT j.*, ${utcText('m.sort_at')} AS eddy_sort_at,
  w.id AS eddy_last_id, ${utcText('w.sort_at')} AS eddy_last_sort_at, w.scanned AS eddy_scanned
FROM walked w
LEFT JOIN matched m ON true
LEFT JOIN ${p}river_job j ON j.id = m.id
ORDER BY ${orderBy(order, direction, 'm.')}`;
};

export type BulkAction = 'cancel' | 'retry' | 'delete';

export interface BulkShape {
  slots: FilterSlots;
  /** Placeholder of the walk's bound (int). */
  scan: number;
  /** Placeholder of the most jobs to act on (int). */
  max: number;
  /** Placeholder of the time (timestamptz, NULL: now()). Cancel and retry. */
  now?: number;
  /** Placeholder of the schema for the control channel (text, NULL: current). Cancel only. */
  schema?: number;
}

/** The jobs an action would change, so the cap counts only those (the rest it leaves alone). */
function actionable(action: BulkAction, p: string, now: number | undefined): string {
  const enumArray = `${p}river_job_state[]`;
  // A running job whose cancel was already requested is left out: asked again by every call,
  // it would fill the cap and keep the rest from ever being reached.
  if (action === 'cancel')
    return `state = ANY (${UNFINALIZED_STATES}::${enumArray}) AND NOT (state = 'running' AND metadata ? 'cancel_attempted_at')`;
  if (action === 'delete') return `state <> 'running'`;
  return `state <> 'running' AND NOT (state = 'available' AND scheduled_at < ${clock(now ?? 0)})`;
}

/** What each action does to a locked row, as River's statement for one id does it. */
function act(action: BulkAction, p: string, shape: BulkShape): string {
  const now = clock(shape.now ?? 0);
  if (action === 'cancel')
    return `
notified AS (
  SELECT l.id, pg_notify(${controlChannel(shape.schema ?? 0)}, ${cancelPayload('l')})
  FROM locked l WHERE l.state NOT IN ('cancelled', 'completed', 'discarded') AND l.finalized_at IS NULL
),
acted AS (
  UPDATE ${p}river_job j
  SET state = CASE WHEN j.state = 'running' THEN j.state ELSE 'cancelled' END,
      finalized_at = CASE WHEN j.state = 'running' THEN j.finalized_at ELSE ${now} END,
      metadata = jsonb_set(j.metadata, '{cancel_attempted_at}', ${goTimeJson(now)}, true)
  FROM notified n WHERE j.id = n.id
  RETURNING j.id, j.state::text AS state
)`;
  if (action === 'retry')
    return `
acted AS (
  UPDATE ${p}river_job j
  SET state = 'available',
      max_attempts = CASE WHEN j.attempt = j.max_attempts THEN j.max_attempts + 1 ELSE j.max_attempts END,
      finalized_at = NULL,
      scheduled_at = ${now}
  FROM locked l
  WHERE j.id = l.id AND j.state <> 'running' AND NOT (j.state = 'available' AND j.scheduled_at < ${now})
  RETURNING j.id, j.state::text AS state
)`;
  return `
acted AS (
  DELETE FROM ${p}river_job j USING locked l
  WHERE j.id = l.id AND j.state <> 'running'
  RETURNING j.id, 'deleted'::text AS state
)`;
}

/**
 * Cancels, retries or deletes (River's JobCancel, JobRetry, JobDelete for each) up to $max jobs
 * the filter matches, in id order, skipping jobs another transaction holds locked (as River's
 * JobDeleteMany does) and jobs the action would leave alone. One row per job acted on
 * (`id`, `state` it was left in), each with `eddy_has_more` (more matched than were acted on,
 * or the walk reached its bound) and `eddy_busy` (matched but locked by another transaction);
 * a single row with a NULL id when none was acted on.
 */
export const JobActMany = (p: string, action: BulkAction, shape: BulkShape) => {
  const { slots } = shape;
  const narrowing = [...indexedPredicates(p, slots.indexed), actionable(action, p, shape.now)];
  return `
WITH candidates AS MATERIALIZED (
  SELECT id${boundedColumns(slots.bounded)}
  FROM ${p}river_job
  WHERE ${conjunction(narrowing)}
  ORDER BY id
  LIMIT $${shape.scan}::int
),
matched AS MATERIALIZED (
  SELECT c.id FROM candidates c
  WHERE ${conjunction(boundedPredicates(slots.bounded))}
  ORDER BY c.id
  LIMIT $${shape.max}::int + 1
),
chosen AS MATERIALIZED (
  SELECT id FROM matched ORDER BY id LIMIT $${shape.max}::int
),
locked AS MATERIALIZED (
  SELECT id, queue, state, finalized_at FROM ${p}river_job
  WHERE id IN (SELECT id FROM chosen)
  ORDER BY id FOR UPDATE SKIP LOCKED
),${act(action, p, shape)},
summary AS (
  SELECT (SELECT count(*) FROM matched) > $${shape.max}::int
      OR (SELECT count(*) FROM candidates) >= $${shape.scan}::int AS has_more,
    (SELECT count(*) FROM chosen) - (SELECT count(*) FROM locked) AS busy
)
SELECT a.id, a.state, s.has_more AS eddy_has_more, s.busy AS eddy_busy
FROM summary s LEFT JOIN acted a ON true
ORDER BY a.id`;
};
