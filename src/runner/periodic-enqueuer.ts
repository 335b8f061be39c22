/**
 * Enqueues the due slots of periodic jobs, one statement per tick at most, and remembers the
 * slots it saw stored so a warm isolate or a Node process sends no statement for them again.
 * Other runners still deduplicate by the slot's unique key in the database.
 */

import type { Database } from '../driver/database.js';
import { planInsert } from '../insert/plan-insert.js';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../insert/prepare-job.js';
import { insertJobs } from '../ops/insert-jobs.js';
import { type PeriodicJob, periodicInserts } from './periodic.js';

/** Only the recent past can come due again: the memory of each schedule stays this small. */
const REMEMBERED_SLOTS = 2000;

export interface PeriodicEnqueuer {
  /** Inserts the slots due at `now` that no live job holds; resolves with how many it inserted. */
  enqueue(db: Database, now: Date, firstTick: boolean): Promise<number>;
}

export function createPeriodicEnqueuer(
  jobs: readonly PeriodicJob[],
  target: { prefix: string; notifyChannel: string | undefined; clock: boolean },
): PeriodicEnqueuer {
  /** Slots (epoch ms) known to be stored, by schedule name. */
  const stored = new Map<string, Set<number>>();
  const remember = (name: string, slot: number) => {
    const slots = stored.get(name) ?? new Set<number>();
    stored.set(name, slots);
    slots.add(slot);
    if (slots.size > REMEMBERED_SLOTS) slots.delete(slots.values().next().value as number);
  };

  return {
    async enqueue(db, now, firstTick) {
      const items = await periodicInserts(
        jobs,
        now,
        firstTick,
        (name, slot) => stored.get(name)?.has(slot.getTime()) === true,
      );
      if (items.length === 0) return 0;
      const plan = await planInsert(items, { now, maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES });
      // Skips slots already enqueued without locking their rows (see JobInsertMany).
      const inserted = await insertJobs(db, plan.jobs, {
        prefix: target.prefix,
        notifyChannel: target.notifyChannel,
        ifAbsent: true,
        now: target.clock ? now : undefined,
      });
      // Whether inserted now or found stored, these slots need no statement on later ticks.
      for (const item of items) {
        const metadata = item.options?.metadata as { periodic?: string; periodic_slot?: string };
        if (metadata?.periodic && metadata.periodic_slot)
          remember(metadata.periodic, Date.parse(metadata.periodic_slot));
      }
      return inserted.length;
    },
  };
}
