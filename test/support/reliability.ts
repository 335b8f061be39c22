/**
 * Shared setup of the reliability test files (`test/reliability-*.test.ts`): each file works in
 * its own migrated River schema, emptied before every test, and these helpers read Eddy claim
 * tokens and open deployment pools.
 */

import pg from 'pg';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { parseLeaseToken } from '../../src/ops/lease.js';
import { DATABASE_URL } from './postgres.js';
import { type RiverSchema, riverSchema } from './river.js';

/**
 * The schema prefix of each reliability file. They differ, so two files running in parallel can
 * never share a schema (or a table in it), whatever the pid, clock and counter that
 * `uniqueName` adds; a new file adds its own entry here.
 */
export const reliabilitySchemaPrefixes = {
  concurrency: 'rel_conc',
  kill: 'rel_kill',
  freeze: 'rel_freeze',
  periodic: 'rel_periodic',
  workers: 'rel_workers',
  connection: 'rel_conn',
} as const;

/**
 * Registers, in the calling `describe`, the hooks that give the file its own migrated River
 * schema (dropped after the file) and empty it before each test: no jobs, no queues, no
 * `executions` side table. `bind` receives the schema once it exists.
 */
export function useReliabilitySchema(
  file: keyof typeof reliabilitySchemaPrefixes,
  bind: (river: RiverSchema) => void,
): void {
  let river: RiverSchema | undefined;
  beforeAll(async () => {
    river = await riverSchema(reliabilitySchemaPrefixes[file]);
    bind(river);
  });
  afterAll(() => river?.close());
  beforeEach(async () => {
    const schema = (river as RiverSchema).schema;
    await (river as RiverSchema).pool.query(
      `DELETE FROM ${schema}.river_job; DELETE FROM ${schema}.river_queue;
       DROP TABLE IF EXISTS ${schema}.executions`,
    );
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The lease end (epoch ms) carried in an Eddy claim token (the format is `ops/lease.ts`'s). */
export const leaseOf = (token: string) => parseLeaseToken(token)?.expiresAt ?? Number.NaN;
/** The runner id carried in an Eddy claim token. */
export const runnerOf = (token: string) => parseLeaseToken(token)?.runnerId;
export const lastOf = <T>(list: readonly T[]) => list[list.length - 1] as T;

/** A pg Pool of its own, as a separate deployment would have; commits need not wait for fsync. */
export function deploymentPool(max: number, url = DATABASE_URL): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, options: '-c synchronous_commit=off' });
  pool.on('error', () => undefined); // idle connections cut by a test
  return pool;
}
