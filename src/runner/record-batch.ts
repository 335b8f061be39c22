/**
 * Recording a batch's outcomes and counting what was applied. Fenced and idempotent, so one
 * retry after a transient failure is safe.
 */

import type { Database } from '../driver/database.js';
import type { Job } from '../job.js';
import type { Outcome } from '../job-outcome.js';
import { recordOutcomes } from '../ops/record-outcomes.js';
import type { TickStats } from './runner.js';

export async function recordBatch(
  db: Database,
  prefix: string,
  jobs: readonly Job[],
  tokens: readonly string[],
  outcomes: readonly Outcome[],
  stats: TickStats,
  now: Date | undefined,
): Promise<void> {
  const records = outcomes.map((outcome, i) => ({
    id: (jobs[i] as Job).id,
    token: tokens[i] as string,
    outcome,
  }));
  let lastError: unknown;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const applied = await recordOutcomes(db, prefix, records, now);
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
      return;
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}
