/**
 * Counts as the management API returns them: the cells a count statement found, turned into a
 * count per state that says whether it is exact or an estimate.
 */

import { JOB_STATES, type JobState } from '../job.js';
import type { CountCell, QueueRow } from '../ops/job-count.js';

/** How many jobs: exact, or (`exact: false`) an estimate, never below what was counted. */
export interface JobCount {
  count: number;
  exact: boolean;
}

export type StateCounts = Record<JobState, JobCount>;

/** A queue as the management API shows it. */
export interface QueueInfo {
  name: string;
  /**
   * River knows the queue: it has a `river_queue` row (a runner or Go River client has worked
   * it). A queue jobs name without one has never been worked; pausing it is refused, as River
   * refuses an unknown queue.
   */
  registered: boolean;
  paused: boolean;
  pausedAt: Date | null;
  createdAt: Date | null;
  updatedAt: Date | null;
  metadata: Record<string, unknown>;
  /** Its jobs by state. */
  counts: StateCounts;
  /** When its oldest available job became due, and how long ago that is (ms). */
  oldestAvailableAt: Date | null;
  oldestAvailableAgeMs: number | null;
}

/** The count of one cell: exact, or the sample's estimate, at least what was seen. */
export function cellCount(cell: CountCell): JobCount {
  if (cell.exact) return { count: cell.seen, exact: true };
  const estimate =
    cell.samplePercent > 0 ? Math.round((cell.sampled * 100) / cell.samplePercent) : 0;
  return { count: Math.max(cell.seen, estimate), exact: false };
}

/** Every state at zero (exact): a state no cell names has no jobs. */
export function zeroCounts(): StateCounts {
  const counts = {} as StateCounts;
  for (const state of JOB_STATES) counts[state] = { count: 0, exact: true };
  return counts;
}

/** Adds a cell's count to its state's. */
export function addCell(counts: StateCounts, cell: CountCell): void {
  const { count, exact } = cellCount(cell);
  const sum = counts[cell.state];
  sum.count += count;
  sum.exact &&= exact;
}

/** The cells summed by state. */
export function stateCounts(cells: readonly CountCell[]): StateCounts {
  const counts = zeroCounts();
  for (const cell of cells) addCell(counts, cell);
  return counts;
}

/** The cells summed by state within each group, groups in name order. */
export function groupCounts(cells: readonly CountCell[]): { name: string; counts: StateCounts }[] {
  const groups = new Map<string, StateCounts>();
  for (const cell of cells) {
    if (cell.group === null) continue;
    let counts = groups.get(cell.group);
    if (!counts) {
      counts = zeroCounts();
      groups.set(cell.group, counts);
    }
    addCell(counts, cell);
  }
  return [...groups.keys()]
    .sort()
    .map((name) => ({ name, counts: groups.get(name) as StateCounts }));
}

export function queueInfo(row: QueueRow, now: Date): QueueInfo {
  return {
    name: row.name,
    registered: row.registered,
    paused: row.pausedAt !== null,
    pausedAt: row.pausedAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    metadata: row.metadata,
    counts: stateCounts(row.cells),
    oldestAvailableAt: row.oldestAvailableAt,
    oldestAvailableAgeMs:
      row.oldestAvailableAt === null
        ? null
        : Math.max(0, now.getTime() - row.oldestAvailableAt.getTime()),
  };
}
