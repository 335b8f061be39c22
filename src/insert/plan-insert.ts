/**
 * Planning one insert statement for a list of insert requests: validate every item, send each
 * unique key once, and order the keyed rows so concurrent inserts cannot deadlock. Pure: the
 * statement itself is built and sent by `ops/insert-jobs.ts`.
 */

import { ValidationError } from '../errors.js';
import type { InsertedRow } from '../ops/insert-jobs.js';
import {
  type InsertItem,
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

/** Validates the items (a `ValidationError` names the bad one) and plans their statement. */
export async function planInsert(
  items: readonly InsertItem[],
  ctx: PrepareContext,
): Promise<InsertPlan> {
  if (!Array.isArray(items))
    throw new ValidationError('insertMany: pass an array of { kind, args, options }');
  const jobs = await Promise.all(
    items.map((item, i) => {
      const name = typeof item?.kind === 'string' ? item.kind : (item?.kind?.kind ?? '?');
      const where = items.length === 1 ? `insert(${name})` : `insertMany[${i}] (${name})`;
      if (!item || typeof item !== 'object')
        throw new ValidationError(`${where}: expected { kind, args, options }`);
      return prepareJob(item, ctx, where);
    }),
  );
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
