/**
 * Planning one insert statement for a list of insert requests: validate every item, send each
 * unique key once, and order the keyed rows so concurrent inserts cannot deadlock. Pure: the
 * statement itself is built and sent by `ops/insert-jobs.ts`.
 */

import { ValidationError } from '../errors.js';
import type { InsertedRow } from '../ops/insert-jobs.js';
import {
  type InsertItem,
  isPromise,
  type PrepareContext,
  type PreparedJob,
  prepareJob,
} from './prepare-job.js';

export interface InsertPlan {
  /** The rows to send: one per distinct unique key, keyed rows in key order. */
  readonly jobs: readonly PreparedJob[];
  /** The result of every requested item, in request order, from the rows of `jobs`. */
  results(rows: readonly InsertedRow[]): InsertedRow[];
}

function keyOf(job: PreparedJob): string | null {
  if (!job.uniqueKey) return null;
  let hex = '';
  for (const b of job.uniqueKey) hex += b.toString(16).padStart(2, '0');
  return hex;
}

/**
 * Puts the rows with a unique key in key order, in place among themselves (rows without one
 * keep their place), and remaps `sendIndex` to match. Each keyed row locks its key (a new index
 * entry or, on conflict, the existing row) until the statement commits, so two concurrent
 * inserts of the same keys in different orders would deadlock (40P01): overlapping periodic
 * ticks of two deployments listing their schedules differently did.
 */
function lockOrder(rows: PreparedJob[], sendIndex: number[]): void {
  const slots: number[] = [];
  const keys: string[] = [];
  rows.forEach((row, i) => {
    const key = keyOf(row);
    if (key === null) return;
    slots.push(i);
    keys.push(key);
  });
  const sorted = slots
    .map((_, k) => k)
    .sort((a, b) => ((keys[a] as string) < (keys[b] as string) ? -1 : 1));
  if (sorted.every((k, i) => k === i)) return;
  const moved = slots.map((slot) => rows[slot] as PreparedJob);
  const position = rows.map((_, i) => i);
  sorted.forEach((k, i) => {
    const to = slots[i] as number;
    rows[to] = moved[k] as PreparedJob;
    position[slots[k] as number] = to;
  });
  sendIndex.forEach((index, i) => {
    sendIndex[i] = index >= 0 ? (position[index] as number) : -1 - (position[-1 - index] as number);
  });
}

/** Where an item is named in messages: `insert(kind)`, `insertMany[3] (kind)`. */
function itemName(item: InsertItem | undefined, index: number, count: number): string {
  const name = typeof item?.kind === 'string' ? item.kind : (item?.kind?.kind ?? '?');
  return count === 1 ? `insert(${name})` : `insertMany[${index}] (${name})`;
}

/**
 * Prepares every item. Most are ready at once (see `prepareJob`): then there is no promise at
 * all. The first bad item in the list is the one reported, whether its fault was found at once
 * or after waiting.
 */
function prepareAll(
  items: readonly InsertItem[],
  ctx: PrepareContext,
): PreparedJob[] | Promise<PreparedJob[]> {
  const jobs: (PreparedJob | Promise<PreparedJob>)[] = new Array(items.length);
  let waiting = false;
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    let job: PreparedJob | Promise<PreparedJob>;
    try {
      if (!item || typeof item !== 'object') {
        throw new ValidationError(
          `${itemName(item, i, items.length)}: expected { kind, args, options }`,
        );
      }
      job = prepareJob(item, ctx, itemName(item, i, items.length));
    } catch (error) {
      if (!waiting) throw error;
      // An earlier item still waiting may be bad too, and comes first.
      return inOrder(jobs.slice(0, i)).then(() => Promise.reject(error));
    }
    if (isPromise(job)) waiting = true;
    jobs[i] = job;
  }
  return waiting ? inOrder(jobs) : (jobs as PreparedJob[]);
}

/** Awaits the jobs in order, so the first bad one is reported; none is left unhandled. */
async function inOrder(jobs: (PreparedJob | Promise<PreparedJob>)[]): Promise<PreparedJob[]> {
  for (const job of jobs) if (isPromise(job)) job.catch(() => undefined);
  const ready: PreparedJob[] = new Array(jobs.length);
  for (let i = 0; i < jobs.length; i++) ready[i] = await (jobs[i] as PreparedJob);
  return ready;
}

const sameRows = (rows: readonly InsertedRow[]) => rows as InsertedRow[];

/**
 * Validates the items (a `ValidationError` names the bad one) and plans their statement: at
 * once, unless a schema or a unique key has to be awaited (see `prepareJob`).
 */
export function planInsert(
  items: readonly InsertItem[],
  ctx: PrepareContext,
): InsertPlan | Promise<InsertPlan> {
  if (!Array.isArray(items))
    throw new ValidationError('insertMany: pass an array of { kind, args, options }');
  const jobs = prepareAll(items, ctx);
  return isPromise(jobs) ? jobs.then(planRows) : planRows(jobs);
}

/** Sends each unique key once, keyed rows in key order (see `lockOrder`). */
function planRows(jobs: PreparedJob[]): InsertPlan {
  // Without unique keys every item is one row, in order: nothing to merge or reorder.
  if (jobs.every((job) => job.uniqueKey === null)) return { jobs, results: sameRows };
  // Two rows with one unique key cannot go through one ON CONFLICT DO UPDATE statement
  // (SQLSTATE 21000), and the second is a duplicate of the first anyway: send it once.
  // sendIndex[i] is the row item i was sent as, or -1 - that row for a repeated key.
  const sendIndex: number[] = [];
  const unique: PreparedJob[] = [];
  const firstByKey = new Map<string, number>();
  for (const job of jobs) {
    const key = keyOf(job);
    const seen = key === null ? undefined : firstByKey.get(key);
    if (seen !== undefined) {
      sendIndex.push(-1 - seen);
      continue;
    }
    if (key !== null) firstByKey.set(key, unique.length);
    sendIndex.push(unique.length);
    unique.push(job);
  }
  lockOrder(unique, sendIndex);
  return {
    jobs: unique,
    results: (rows) =>
      sendIndex.map((index) =>
        index >= 0
          ? (rows[index] as InsertedRow)
          : { job: (rows[-1 - index] as InsertedRow).job, skipped: true },
      ),
  };
}
