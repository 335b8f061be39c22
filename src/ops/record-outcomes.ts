/**
 * Recording outcomes: one fenced statement for any number of jobs (see
 * `JobSetStateIfRunningMany`), and a worker's completion inside its own transaction.
 */

import type { Database, Query } from '../driver/database.js';
import type { AttemptError, JobState } from '../job.js';
import { MAX_DELAY_MS, type Outcome } from '../job-outcome.js';
import {
  JobCompleteInTransaction,
  JobSetCompletedIfRunningMany,
  JobSetStateIfRunningMany,
} from '../sql/job-complete.js';
import { leaseHeldSql, leaseIdentity } from './lease.js';
import { PREPARED } from './prepared.js';

/** The fence of every recording: the job's current attempted_by entry is `u.lease`'s lease. */
const HELD = leaseHeldSql('j.attempted_by[cardinality(j.attempted_by)]', 'u.lease');

/** One attempt's outcome, fenced by the token its claim wrote. */
export interface OutcomeRecord {
  readonly id: bigint;
  readonly token: string;
  readonly outcome: Outcome;
}

/**
 * What one attempt may add to `river_job.errors`. Every failure is stored and every claim
 * reads the row back, so an unbounded message (a stack that repeats a 1 MB message) grows the
 * row by megabytes per attempt and, over Neon HTTP (10 MB per response), can stall a queue.
 */
export const MAX_ERROR_CHARS = 2_000;
export const MAX_TRACE_CHARS = 8_000;

/** NUL, and UTF-16 surrogates that are not half of a pair. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what must be found
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Text PostgreSQL will store and that stays small: NUL (which jsonb refuses) and lone UTF-16
 * surrogates (which `slice` leaves when it cuts an emoji in half, and which jsonb refuses too)
 * become U+FFFD, and text past `max` is cut at a code point, saying how much was cut.
 */
export function recordableText(text: string, max: number): string {
  let out = text.length > max ? text.slice(0, max) : text;
  // Cutting inside a surrogate pair leaves a lone high surrogate at the end: drop it.
  if (out.length < text.length && /[\uD800-\uDBFF]$/.test(out)) out = out.slice(0, -1);
  out = out.replace(UNSTORABLE, '\uFFFD');
  return out.length < text.length ? `${out}… (${text.length - out.length} more characters)` : out;
}

function recordableError(error: AttemptError): AttemptError {
  return {
    at: error.at,
    attempt: error.attempt,
    error: recordableText(String(error.error), MAX_ERROR_CHARS),
    trace: recordableText(String(error.trace), MAX_TRACE_CHARS),
  };
}

/** A delay PostgreSQL can add to now(): whole milliseconds from 0 to River's maximum. */
function recordableDelay(delayMs: number): number {
  if (!Number.isFinite(delayMs)) return delayMs > 0 ? MAX_DELAY_MS : 0;
  return Math.min(Math.max(0, Math.round(delayMs)), MAX_DELAY_MS);
}

/** The row state an outcome asks for (River's: a retry or snooze due now is `available`). */
function stateOf(outcome: Outcome): { state: JobState; delayMs: number | null } {
  switch (outcome.type) {
    case 'completed':
      return { state: 'completed', delayMs: null };
    case 'retry': {
      const delayMs = recordableDelay(outcome.delayMs);
      return { state: delayMs <= 0 ? 'available' : 'retryable', delayMs };
    }
    case 'discard':
      return { state: 'discarded', delayMs: null };
    case 'cancel':
      return { state: 'cancelled', delayMs: null };
    case 'snooze': {
      const delayMs = recordableDelay(outcome.delayMs);
      return { state: delayMs <= 0 ? 'available' : 'scheduled', delayMs };
    }
    case 'release':
      return { state: 'available', delayMs: null };
  }
}

/** What a recording did. */
export interface Recorded {
  /**
   * The state each applied row ended in, by job id (`String(id)`). A job missing from the map
   * was not changed: its lease had been rescued, or its outcome was applied already. The state
   * may differ from the outcome's (a retry of a job whose cancel was requested ends `cancelled`).
   */
  readonly applied: Map<string, JobState>;
  /** Of the `running` ids passed in, those still running whose cancel was requested. */
  readonly cancelRequested: bigint[];
}

/** A lease token's fence (an unreadable token fences nothing: the empty identity never matches). */
const identityOf = (token: string) => leaseIdentity(token) ?? '';

function readRecorded(rows: readonly Record<string, unknown>[]): Recorded {
  const applied = new Map<string, JobState>();
  const cancelRequested: bigint[] = [];
  for (const row of rows) {
    if (row.cancel) cancelRequested.push(row.id as bigint);
    else applied.set(String(row.id), row.state as JobState);
  }
  return { applied, cancelRequested };
}

/**
 * Applies the outcomes whose attempt still holds its job, and checks the jobs the runner still
 * runs (`running`) for a requested cancel, in one statement.
 */
export async function recordOutcomes(
  db: Database,
  prefix: string,
  records: readonly OutcomeRecord[],
  now?: Date,
  running: readonly bigint[] = [],
): Promise<Recorded> {
  const ids = records.map((r) => r.id);
  const leases = records.map((r) => identityOf(r.token));
  // Only completions without output (the usual case): the lighter statement.
  if (records.every((r) => r.outcome.type === 'completed' && r.outcome.output === undefined)) {
    const { rows } = await db.query(
      JobSetCompletedIfRunningMany(prefix, HELD),
      [ids, leases, now ?? null, running],
      PREPARED,
    );
    return readRecorded(rows);
  }
  const states: JobState[] = [];
  const delays: (number | null)[] = [];
  const errors: (string | null)[] = [];
  for (const { outcome } of records) {
    const { state, delayMs } = stateOf(outcome);
    states.push(state);
    delays.push(delayMs);
    errors.push('error' in outcome ? JSON.stringify(recordableError(outcome.error)) : null);
  }
  const { rows } = await db.query(
    JobSetStateIfRunningMany(prefix, HELD),
    [
      ids,
      leases,
      states,
      delays,
      errors,
      records.map((r) => r.outcome.type === 'snooze'),
      records.map((r) => r.outcome.type === 'release'),
      now ?? null,
      records.map((r) => r.outcome.type === 'snooze' && r.outcome.deadline === true),
      records.map((r) => (r.outcome.type === 'completed' ? (r.outcome.output ?? null) : null)),
      running,
    ],
    PREPARED,
  );
  return readRecorded(rows);
}

/** The SQL texts a recording may send, for tools that recognise statements on the wire. */
export function recordOutcomesTexts(prefix: string): string[] {
  return [JobSetCompletedIfRunningMany(prefix, HELD), JobSetStateIfRunningMany(prefix, HELD)];
}

/**
 * The statement that completes a job inside the worker's own transaction (River's
 * JobCompleteTx), fenced by its claim: it fails when the attempt no longer holds the job, so
 * that transaction cannot commit. `output` is JSON text for `metadata.output`.
 */
export function completeInTransactionQuery(
  prefix: string,
  job: { readonly id: bigint; readonly token: string },
  output: string | undefined,
  now?: Date,
): Query {
  return {
    text: JobCompleteInTransaction(prefix, HELD),
    params: [job.id, identityOf(job.token), output ?? null, now ?? null],
  };
}
