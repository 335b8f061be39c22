/**
 * Recording outcomes: one fenced statement for a whole batch (see `JobSetStateIfRunningMany`).
 */

import type { Database } from '../driver/database.js';
import type { JobState } from '../job.js';
import type { Outcome } from '../job-outcome.js';
import { JobSetCompletedIfRunningMany, JobSetStateIfRunningMany } from '../sql/job-complete.js';
import { PREPARED } from './prepared.js';

/** One attempt's outcome, fenced by the token its claim wrote. */
export interface OutcomeRecord {
  readonly id: bigint;
  readonly token: string;
  readonly outcome: Outcome;
}

/** The row state an outcome asks for (River's: a retry or snooze due now is `available`). */
function stateOf(outcome: Outcome): { state: JobState; delayMs: number | null } {
  switch (outcome.type) {
    case 'completed':
      return { state: 'completed', delayMs: null };
    case 'retry': {
      const delayMs = Math.round(outcome.delayMs);
      return { state: delayMs <= 0 ? 'available' : 'retryable', delayMs };
    }
    case 'discard':
      return { state: 'discarded', delayMs: null };
    case 'cancel':
      return { state: 'cancelled', delayMs: null };
    case 'snooze': {
      const delayMs = Math.round(outcome.delayMs);
      return { state: delayMs <= 0 ? 'available' : 'scheduled', delayMs };
    }
    case 'release':
      return { state: 'available', delayMs: null };
  }
}

/**
 * Applies the outcomes whose attempt still holds its job, and returns the state each applied
 * row ended in, by job id (`String(id)`). A job missing from the map was not changed: its lease
 * had been rescued, or its outcome was applied already. The state may differ from the outcome's
 * (a retry of a job River's JobCancel asked to cancel ends `cancelled`).
 */
export async function recordOutcomes(
  db: Database,
  prefix: string,
  records: readonly OutcomeRecord[],
  now?: Date,
): Promise<Map<string, JobState>> {
  const ids = records.map((r) => r.id);
  const tokens = records.map((r) => r.token);
  // A batch of only completions (the usual case) takes the lighter statement.
  if (records.every((r) => r.outcome.type === 'completed')) {
    const { rows } = await db.query(
      JobSetCompletedIfRunningMany(prefix),
      [ids, tokens, now ?? null],
      PREPARED,
    );
    return new Map(rows.map((r) => [String(r.id), 'completed' as const]));
  }
  const states: JobState[] = [];
  const delays: (number | null)[] = [];
  const errors: (string | null)[] = [];
  for (const { outcome } of records) {
    const { state, delayMs } = stateOf(outcome);
    states.push(state);
    delays.push(delayMs);
    errors.push('error' in outcome ? JSON.stringify(outcome.error) : null);
  }
  const { rows } = await db.query(
    JobSetStateIfRunningMany(prefix),
    [
      ids,
      tokens,
      states,
      delays,
      errors,
      records.map((r) => r.outcome.type === 'snooze'),
      records.map((r) => r.outcome.type === 'release'),
      now ?? null,
    ],
    PREPARED,
  );
  return new Map(rows.map((r) => [String(r.id), r.state as JobState]));
}

/** The SQL texts a recording may send, for tools that recognise statements on the wire. */
export function recordOutcomesTexts(prefix: string): string[] {
  return [JobSetCompletedIfRunningMany(prefix), JobSetStateIfRunningMany(prefix)];
}
