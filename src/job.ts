/**
 * A job as River stores it (`river_job`), in JavaScript names.
 */

export type JobState =
  | 'available'
  | 'cancelled'
  | 'completed'
  | 'discarded'
  | 'pending'
  | 'retryable'
  | 'running'
  | 'scheduled';

export const JOB_STATES: readonly JobState[] = [
  'available',
  'cancelled',
  'completed',
  'discarded',
  'pending',
  'retryable',
  'running',
  'scheduled',
];

/** One failed attempt, as River records it in `river_job.errors`. */
export interface AttemptError {
  /** When the attempt failed (RFC 3339). */
  at: string;
  attempt: number;
  error: string;
  trace: string;
}

export interface Job<Args = unknown> {
  /** `bigint`: River ids are int8 and may exceed `Number.MAX_SAFE_INTEGER`. */
  id: bigint;
  kind: string;
  args: Args;
  queue: string;
  state: JobState;
  priority: number;
  attempt: number;
  maxAttempts: number;
  attemptedAt: Date | null;
  attemptedBy: string[];
  createdAt: Date;
  finalizedAt: Date | null;
  scheduledAt: Date;
  errors: AttemptError[];
  metadata: Record<string, unknown>;
  tags: string[];
}

/** Maps a decoded `river_job` row (as `JobClaimBatch` returns it) to a `Job`. */
export function rowToJob<Args = unknown>(row: Record<string, unknown>): Job<Args> {
  return {
    id: row.id as bigint,
    kind: row.kind as string,
    args: row.args as Args,
    queue: row.queue as string,
    state: row.state as JobState,
    priority: row.priority as number,
    attempt: row.attempt as number,
    maxAttempts: row.max_attempts as number,
    attemptedAt: (row.attempted_at as Date | null) ?? null,
    attemptedBy: (row.attempted_by as string[] | null) ?? [],
    createdAt: row.created_at as Date,
    finalizedAt: (row.finalized_at as Date | null) ?? null,
    scheduledAt: row.scheduled_at as Date,
    errors: (row.errors as AttemptError[] | null) ?? [],
    metadata: (row.metadata as Record<string, unknown> | null) ?? {},
    tags: (row.tags as string[] | null) ?? [],
  };
}
