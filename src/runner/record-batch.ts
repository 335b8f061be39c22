/**
 * Recording a batch's outcomes and counting what was applied. Fenced and idempotent, so one
 * retry after a transient failure is safe.
 *
 * One outcome must not poison its batch. Outcomes are made recordable first (see
 * `ops/record-outcomes.ts`); if PostgreSQL still refuses the data (SQLSTATE class 22), the batch
 * is recorded in halves, down to the one outcome it refuses, which is then recorded with a
 * generic error instead. Without this, every job of the batch stayed `running` until its lease
 * passed and ran again: three jobs whose workers succeeded ran five times each.
 */

import type { Database } from '../driver/database.js';
import { isDatabaseError } from '../errors.js';
import type { Job, JobState } from '../job.js';
import type { Outcome } from '../job-outcome.js';
import { type OutcomeRecord, recordOutcomes } from '../ops/record-outcomes.js';
import type { TickStats } from './runner.js';

/** PostgreSQL refused the data itself (class 22: data exception), not the connection. */
function refusedData(error: unknown): boolean {
  return isDatabaseError(error) && error.code?.startsWith('22') === true;
}

/** The same outcome with nothing in it that could have been refused. */
function generic(record: OutcomeRecord, job: Job, reason: unknown): OutcomeRecord {
  const { outcome } = record;
  if (outcome.type === 'completed' || outcome.type === 'release') return record;
  const code = isDatabaseError(reason) ? reason.code : undefined;
  const error = {
    at: new Date().toISOString(),
    attempt: job.attempt,
    error: `eddy: the database refused this attempt's outcome as given (SQLSTATE ${code ?? 'unknown'}); recorded without its details`,
    trace: '',
  };
  const replaced: Outcome =
    outcome.type === 'snooze'
      ? { type: 'snooze', delayMs: 0 }
      : outcome.type === 'retry'
        ? { type: 'retry', delayMs: 0, error }
        : { ...outcome, error };
  return { ...record, outcome: replaced };
}

/** Records, splitting on refused data; returns the applied states. */
async function recordSplitting(
  db: Database,
  prefix: string,
  records: readonly OutcomeRecord[],
  jobs: ReadonlyMap<string, Job>,
  now: Date | undefined,
): Promise<Map<string, JobState>> {
  try {
    return await recordOutcomes(db, prefix, records, now);
  } catch (error) {
    if (!refusedData(error)) throw error;
    if (records.length === 1) {
      const only = records[0] as OutcomeRecord;
      const fallback = generic(only, jobs.get(String(only.id)) as Job, error);
      return recordOutcomes(db, prefix, [fallback], now);
    }
    const half = Math.ceil(records.length / 2);
    const first = await recordSplitting(db, prefix, records.slice(0, half), jobs, now);
    const second = await recordSplitting(db, prefix, records.slice(half), jobs, now);
    return new Map([...first, ...second]);
  }
}

/** Records the outcomes, counts them in `stats`, and returns the applied states by job id. */
export async function recordBatch(
  db: Database,
  prefix: string,
  jobs: readonly Job[],
  tokens: readonly string[],
  outcomes: readonly Outcome[],
  stats: TickStats,
  now: Date | undefined,
): Promise<Map<string, JobState>> {
  const records = outcomes.map((outcome, i) => ({
    id: (jobs[i] as Job).id,
    token: tokens[i] as string,
    outcome,
  }));
  const byId = new Map(jobs.map((job) => [String(job.id), job]));
  let lastError: unknown;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const applied = await recordSplitting(db, prefix, records, byId, now);
      for (const { id, outcome } of records) {
        const state = applied.get(String(id));
        if (state === undefined) stats.stale++;
        else if (state === 'cancelled') stats.cancelled++;
        else if (outcome.type === 'completed') stats.completed++;
        else if (outcome.type === 'retry') stats.retried++;
        else if (outcome.type === 'discard') stats.discarded++;
        else if (outcome.type === 'snooze') stats.snoozed++;
        else if (outcome.type === 'release') stats.released++;
      }
      return applied;
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}
