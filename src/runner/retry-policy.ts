/**
 * When a failed job runs again. The default is River's: (errors so far + 1)^4 seconds with
 * ±10 % jitter, so 1 s, 16 s, 81 s, 4 min 16 s, … Counting errors rather than attempts keeps
 * snoozes from lengthening the backoff.
 */

import type { Job } from '../job.js';
import { MAX_DELAY_MS } from '../job-outcome.js';

/** Milliseconds from now until the next attempt of a job that just failed. */
export type RetryPolicy = (job: Job) => number;

export const defaultRetryPolicy: RetryPolicy = (job) => {
  const errorCount = job.errors.length + 1;
  const seconds = errorCount ** 4;
  const jittered = seconds + seconds * (Math.random() * 0.2 - 0.1);
  return Math.min(jittered * 1000, MAX_DELAY_MS);
};
