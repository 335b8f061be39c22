/**
 * A tick's maintenance: promote due jobs, rescue expired leases, delete old finalized jobs,
 * enqueue due periodic slots (and, on a runner's first tick, register its queues). One statement
 * each; a failed step is reported in the stats and the tick goes on without it.
 */

import type { Database } from '../driver/database.js';
import {
  deleteFinalized,
  promoteDue,
  type Retention,
  rescueExpired,
  touchQueues,
} from '../ops/maintenance.js';
import type { PeriodicEnqueuer } from './periodic-enqueuer.js';
import type { TickStats } from './runner.js';

export interface MaintenanceSettings {
  prefix: string;
  /** Rows each statement touches at most. */
  max: number;
  retention: Retention;
  periodic: PeriodicEnqueuer;
  queueNames: readonly string[];
  /** The injected clock, if any (SQL then reads it instead of now()). */
  clock: (() => Date) | undefined;
}

export async function maintain(
  db: Database,
  settings: MaintenanceSettings,
  stats: TickStats,
  firstTick: boolean,
): Promise<void> {
  const { prefix, max, clock } = settings;
  const now = clock?.();
  const step = async (name: string, run: () => Promise<void>) => {
    try {
      await run();
    } catch (error) {
      stats.errors.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  // Independent statements: over a pool or HTTP they overlap; a single connection queues them.
  await Promise.all([
    step('promote due jobs', async () => {
      stats.promoted = (await promoteDue(db, prefix, max, now)).promoted;
    }),
    step('rescue expired leases', async () => {
      stats.rescued = await rescueExpired(db, prefix, max, now);
    }),
    step('delete finalized jobs', async () => {
      stats.deleted = await deleteFinalized(db, prefix, settings.retention, max, now);
    }),
    step('enqueue periodic jobs', async () => {
      stats.periodicEnqueued = await settings.periodic.enqueue(db, now ?? new Date(), firstTick);
    }),
    firstTick
      ? step('register queues', () => touchQueues(db, prefix, settings.queueNames, now))
      : Promise.resolve(),
  ]);
}
