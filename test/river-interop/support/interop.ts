/**
 * A schema for one interop test file: River's schema migrated by Eddy, the Go target pointing
 * at it, and `interop_run`, where every worker of either language records each run it starts
 * (so "each job ran exactly once" is read from rows, not logs).
 */

import { type RiverSchema, riverSchema } from '../../support/river.js';
import type { GoTarget } from './go.js';

export interface InteropSchema extends RiverSchema {
  readonly go: GoTarget;
  /** Runs recorded per job id: `{ job_id, runner, attempt }`, in order. */
  runs(
    where?: string,
    params?: unknown[],
  ): Promise<{ job_id: string; runner: string; attempt: number }[]>;
}

export async function interopSchema(prefix: string): Promise<InteropSchema> {
  const river = await riverSchema(prefix);
  await river.pool.query(
    `CREATE TABLE ${river.schema}.interop_run (
       job_id bigint NOT NULL, runner text NOT NULL, attempt int NOT NULL,
       at timestamptz NOT NULL DEFAULT clock_timestamp())`,
  );
  return {
    ...river,
    go: { schema: river.schema },
    async runs(where = 'true', params = []) {
      const { rows } = await river.pool.query(
        `SELECT job_id::text, runner, attempt FROM ${river.schema}.interop_run WHERE ${where} ORDER BY at, job_id`,
        params,
      );
      return rows;
    },
  };
}

/** Polls `check` until it returns something other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ''}`,
      );
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
