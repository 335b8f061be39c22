/**
 * The example's job kinds and the workers that run them. What happens after a signup:
 *
 * - `send_welcome_email` — plain: "calls a mail API" (a short sleep) and completes;
 * - `sync_crm_contact` — fails on attempts 1 and 2 ("the CRM is flaky") and succeeds on the
 *   third, with a short retry policy (2 s, then 4 s) so the demo shows it within a minute;
 * - `await_email_verification` — polls: snoozes until it has been snoozed twice, as a job
 *   waiting for a user to click a link would;
 * - `report_signups` — periodic, every minute: counts the users.
 *
 * Producers only need the kinds (the `defineJobKind` values); the workers are created with the
 * Worker's `sql` function because one of them reads the database.
 */

import { defineJobKind, definePeriodicJob, defineWorker, type Worker } from 'eddy';
// zod/mini: the same schemas as zod's, as functions that a bundler keeps only when used. The
// README recommends it for Workers; it is why this example stays far under its size target.
import * as z from 'zod/mini';
import { USERS_TABLE } from './users.js';

export const sendWelcomeEmail = defineJobKind({
  kind: 'send_welcome_email',
  args: z.object({
    userId: z.uuid(),
    email: z.email(),
    /** How long the simulated mail API takes. */
    latencyMs: z._default(z.int().check(z.minimum(0), z.maximum(60_000)), 150),
  }),
  maxAttempts: 5,
});

export const syncCrmContact = defineJobKind({
  kind: 'sync_crm_contact',
  args: z.object({ userId: z.uuid(), email: z.email() }),
  maxAttempts: 5,
});

export const awaitEmailVerification = defineJobKind({
  kind: 'await_email_verification',
  args: z.object({ userId: z.uuid() }),
});

export const reportSignups = defineJobKind({ kind: 'report_signups', args: z.object({}) });

export const signupInput = z.object({ email: z.email() });

/** The slice of `neon()`'s `sql` function the workers use. */
export interface QueryFunction {
  query(text: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
}

/** Waits `ms`, or rejects as soon as `signal` aborts (the tick's deadline, the job's timeout). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

export function createWorkers(sql: QueryFunction): Worker[] {
  return [
    defineWorker(sendWelcomeEmail, async (job, ctx) => {
      await sleep(job.args.latencyMs, ctx.signal);
      console.log(`job ${job.id}: sent the welcome email to ${job.args.email}`);
    }),

    defineWorker(
      syncCrmContact,
      async (job) => {
        if (job.attempt < 3) {
          console.log(`job ${job.id}: CRM unavailable on attempt ${job.attempt}, will retry`);
          throw new Error(`CRM unavailable (simulated, attempt ${job.attempt})`);
        }
        console.log(`job ${job.id}: synced ${job.args.email} to the CRM on attempt ${job.attempt}`);
      },
      // River's default backoff (1 s, 16 s, 81 s, ...) is right for real outages; the demo wants
      // to show a retry succeed within a minute.
      { retryPolicy: (job) => 2_000 * (job.errors.length + 1) },
    ),

    defineWorker(awaitEmailVerification, async (job, ctx) => {
      const polls = Number(job.metadata.snoozes ?? 0);
      if (polls < 2) {
        console.log(
          `job ${job.id}: ${job.args.userId} has not verified yet, checking again in 3 s`,
        );
        ctx.snooze(3_000);
      }
      console.log(`job ${job.id}: ${job.args.userId} verified after ${polls} snoozes`);
    }),

    defineWorker(reportSignups, async (job) => {
      const [row] = await sql.query(`SELECT count(*)::int AS users FROM ${USERS_TABLE}`);
      console.log(`job ${job.id}: ${row?.users ?? 0} users have signed up`);
    }),
  ];
}

export const periodicJobs = [definePeriodicJob({ kind: reportSignups, schedule: '* * * * *' })];
