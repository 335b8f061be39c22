/**
 * rivertest's assertions for Eddy: `requireInserted`, `requireNotInserted` and
 * `requireManyInserted`, against the database (River's JobGetByKindMany, so jobs Go River
 * inserted count too) or against a recording client. Each throws a `TestAssertionError`, which
 * test runners report with what was expected and what was found.
 */

import { Database } from '../driver/database.js';
import type { Driver } from '../driver/driver.js';
import { schemaPrefix } from '../driver/schema-name.js';
import { brand, EddyError, invalid } from '../errors.js';
import type { JobState } from '../job.js';
import type { AnyJobKind, ArgsOf } from '../job-kind.js';
import type { InsertedJob } from '../ops/insert-jobs.js';
import { getJobsByKinds } from '../ops/job-admin.js';
import { isRecordingClient, type RecordingClient } from './recording-client.js';

/** Where inserted jobs are looked for: a recording client, or a database. */
export type InsertedSource =
  | RecordingClient<readonly AnyJobKind[]>
  | Driver
  | { driver: Driver; schema?: string };

/**
 * What the job must be (River's RequireInsertedOpts): every property given must hold. `args` and
 * `metadata` must contain the fragment (as Postgres' `@>`: `{ to: 'a@b.c' }` matches args that
 * have that `to`, whatever else they hold); `tags` must be exactly these.
 */
export interface InsertedExpectation {
  args?: unknown;
  metadata?: Record<string, unknown>;
  queue?: string;
  priority?: number;
  maxAttempts?: number;
  state?: JobState;
  tags?: readonly string[];
  /** Compared to the millisecond. */
  scheduledAt?: Date;
}

/** A test assertion about inserted jobs failed. */
export class TestAssertionError extends EddyError {
  override name = 'TestAssertionError';
  constructor(
    message: string,
    readonly expected?: unknown,
    readonly actual?: unknown,
  ) {
    super(message);
    brand(this, 'TestAssertionError');
  }
}

type KindRef = string | AnyJobKind;

const kindName = (kind: KindRef, where: string): string => {
  const name = typeof kind === 'string' ? kind : kind?.kind;
  if (typeof name !== 'string' || name.length === 0)
    invalid('kind', 'must be a kind name or a kind from defineJobKind()', where);
  return name;
};

async function jobsOf(source: InsertedSource, kinds: readonly string[], where: string) {
  if (isRecordingClient(source)) return source.inserted.filter((job) => kinds.includes(job.kind));
  const { driver, schema } =
    typeof (source as Driver).query === 'function'
      ? { driver: source as Driver, schema: undefined }
      : (source as { driver: Driver; schema?: string });
  if (!driver || typeof driver.query !== 'function')
    invalid('source', 'must be a recording client, a driver, or { driver, schema }', where);
  return getJobsByKinds(new Database(driver), schemaPrefix(schema), kinds);
}

/** Postgres' jsonb containment (`@>`), on decoded JSON. */
export function containsJson(actual: unknown, expected: unknown): boolean {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return false;
    return expected.every((e) => actual.some((a) => containsJson(a, e)));
  }
  if (typeof expected === 'object' && expected !== null) {
    if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return false;
    return Object.entries(expected).every(
      ([key, value]) =>
        Object.hasOwn(actual, key) && containsJson((actual as Record<string, unknown>)[key], value),
    );
  }
  if (typeof expected === 'bigint' || typeof actual === 'bigint') {
    // 1 and 1n are the same JSON number (integers beyond 2^53 decode as bigint).
    const integer = (v: unknown) =>
      typeof v === 'bigint' ? v : Number.isInteger(v) ? BigInt(v as number) : undefined;
    const a = integer(actual);
    return a !== undefined && a === integer(expected);
  }
  return actual === expected;
}

/** What differs between a job and the expectation, one line per property. */
function mismatches(job: InsertedJob, expected: InsertedExpectation): string[] {
  const out: string[] = [];
  const show = (v: unknown) =>
    JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x)) ?? String(v);
  if (expected.args !== undefined && !containsJson(job.args, expected.args))
    out.push(`args ${show(job.args)} do not contain ${show(expected.args)}`);
  if (expected.metadata !== undefined && !containsJson(job.metadata, expected.metadata))
    out.push(`metadata ${show(job.metadata)} does not contain ${show(expected.metadata)}`);
  for (const key of ['queue', 'priority', 'maxAttempts', 'state'] as const) {
    if (expected[key] !== undefined && job[key] !== expected[key])
      out.push(`${key} is ${show(job[key])}, expected ${show(expected[key])}`);
  }
  if (
    expected.tags !== undefined &&
    (job.tags.length !== expected.tags.length || job.tags.some((t, i) => t !== expected.tags?.[i]))
  )
    out.push(`tags are ${show(job.tags)}, expected ${show(expected.tags)}`);
  if (
    expected.scheduledAt !== undefined &&
    job.scheduledAt.getTime() !== expected.scheduledAt.getTime()
  )
    out.push(
      `scheduledAt is ${job.scheduledAt.toISOString()}, expected ${expected.scheduledAt.toISOString()}`,
    );
  return out;
}

/**
 * Requires that exactly one job of `kind` was inserted, matching `expected` if given, and
 * returns it (River's rivertest.RequireInserted). More than one is a failure too: use
 * `requireManyInserted` then.
 *
 * @example
 * ```ts
 * const job = await requireInserted({ driver, schema }, sendEmail, { queue: 'email' });
 * expect(job.args.to).toBe('ada@example.com');
 * ```
 */
export async function requireInserted<K extends KindRef>(
  source: InsertedSource,
  kind: K,
  expected?: InsertedExpectation,
): Promise<InsertedJob<K extends AnyJobKind ? ArgsOf<K> : Record<string, unknown>>> {
  const name = kindName(kind, 'requireInserted');
  const jobs = await jobsOf(source, [name], 'requireInserted');
  if (jobs.length === 0) throw new TestAssertionError(`No jobs found with kind: ${name}`, 1, 0);
  if (jobs.length > 1)
    throw new TestAssertionError(
      `More than one job found with kind: ${name} (${jobs.length}; you might want requireManyInserted instead)`,
      1,
      jobs.length,
    );
  const job = jobs[0] as InsertedJob;
  const problems = expected ? mismatches(job, expected) : [];
  if (problems.length > 0)
    throw new TestAssertionError(
      `Job ${job.id} of kind ${name} differs from what was expected:\n  ${problems.join('\n  ')}`,
      expected,
      job,
    );
  return job as never;
}

/**
 * Requires that no job of `kind` was inserted or, given `expected`, none matching all of it
 * (River's rivertest.RequireNotInserted: a job that differs in any given property does not
 * count).
 */
export async function requireNotInserted(
  source: InsertedSource,
  kind: KindRef,
  expected?: InsertedExpectation,
): Promise<void> {
  const name = kindName(kind, 'requireNotInserted');
  const jobs = await jobsOf(source, [name], 'requireNotInserted');
  const matching = expected ? jobs.filter((job) => mismatches(job, expected).length === 0) : jobs;
  if (matching.length > 0)
    throw new TestAssertionError(
      expected
        ? `${matching.length} job(s) of kind ${name} match what was expected not to be inserted (ids ${matching.map((j) => j.id).join(', ')})`
        : `${matching.length} job(s) found with kind ${name}, but expected to find none`,
      0,
      matching.length,
    );
}

/** One job `requireManyInserted` expects: its kind, and what it must be. */
export interface ExpectedJob extends InsertedExpectation {
  kind: KindRef;
}

/**
 * Requires that the jobs of the expected kinds were inserted exactly in this order and number,
 * each matching its expectation, and returns them (River's rivertest.RequireManyInserted): a
 * kind inserted twice must be expected twice.
 *
 * @example
 * ```ts
 * await requireManyInserted(client, [{ kind: sendEmail }, { kind: syncCrm, queue: 'crm' }]);
 * ```
 */
export async function requireManyInserted(
  source: InsertedSource,
  expected: readonly ExpectedJob[],
): Promise<InsertedJob[]> {
  if (!Array.isArray(expected) || expected.length === 0)
    invalid('expected', 'must list at least one expected job', 'requireManyInserted');
  const kinds = expected.map((e, i) => kindName(e?.kind, `requireManyInserted[${i}]`));
  const jobs = await jobsOf(source, [...new Set(kinds)], 'requireManyInserted');
  const actual = jobs.map((job) => job.kind);
  if (actual.length !== kinds.length || actual.some((k, i) => k !== kinds[i]))
    throw new TestAssertionError(
      `Inserted jobs didn't match expectation; expected: [${kinds.join(', ')}], actual: [${actual.join(', ')}]`,
      kinds,
      actual,
    );
  const problems = jobs.flatMap((job, i) =>
    mismatches(job, expected[i] as ExpectedJob).map(
      (p) => `job ${i} (${job.kind}, id ${job.id}): ${p}`,
    ),
  );
  if (problems.length > 0)
    throw new TestAssertionError(
      `Inserted jobs differ from what was expected:\n  ${problems.join('\n  ')}`,
      expected,
      jobs,
    );
  return jobs;
}
