/**
 * Scenario 5: Go River workers and Eddy ticks share one queue. 20,000 jobs each run exactly
 * once and none is lost; and where River's rescuer and Eddy's lease rescue meet:
 *
 * - River rescues any `running` job whose `attempted_at` is older than its
 *   `RescueStuckJobsAfter` (default 1 h), whoever claimed it; it cannot see Eddy's lease.
 * - Eddy rescues only jobs whose current `attempted_by` entry is an Eddy lease token, after the
 *   lease (the tick's hard deadline plus `leaseMarginMs`), and never a job Go River runs.
 *
 * So a job Eddy holds is safe from River exactly when RescueStuckJobsAfter exceeds Eddy's
 * longest lease, counted from the claim; the README says what that is per runtime.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/client.js';
import { createRunner, type Runner } from '../../src/runner/runner.js';
import { defineWorker } from '../../src/worker.js';
import { startGoWorker } from './support/go.js';
import { type InteropSchema, interopSchema, sleep, waitFor } from './support/interop.js';

const JOBS = 20_000;

/** The `fleet`/`overlap` worker on Eddy's side: records its run, sleeps `sleepMs`, completes. */
function recordingWorker(db: InteropSchema, kind: string, runner: string, sleepMs = 0) {
  return defineWorker(
    kind,
    async (job) => {
      await db.pool.query(
        `INSERT INTO ${db.schema}.interop_run (job_id, runner, attempt) VALUES ($1, $2, $3)`,
        [job.id, runner, job.attempt],
      );
      if (sleepMs > 0) await sleep(sleepMs);
    },
    { timeoutMs: 60_000 },
  );
}

/** Ticks until `stop` says so; idle ticks wait 50 ms. */
async function tickLoop(runner: Runner, stop: () => boolean): Promise<number> {
  let ticks = 0;
  while (!stop()) {
    const stats = await runner.tick({ budgetMs: 5000 });
    ticks++;
    if (stats.claimed === 0) await sleep(50);
  }
  return ticks;
}

describe('a mixed fleet of Go River workers and Eddy ticks', () => {
  let db: InteropSchema;
  beforeAll(async () => {
    db = await interopSchema('rfleet');
  });
  afterAll(() => db.close());

  it(`runs each of ${JOBS.toLocaleString('en')} jobs in one queue exactly once, and loses none`, async () => {
    const eddy = createClient({ driver: db.driver, schema: db.schema });
    for (let from = 0; from < JOBS; from += 1000) {
      await eddy.insertMany(
        Array.from({ length: 1000 }, (_, i) => ({
          kind: 'fleet',
          args: { i: from + i },
          options: { queue: 'fleet' },
        })),
      );
    }
    const started = Date.now();
    const go = await Promise.all(
      [1, 2].map((n) =>
        startGoWorker(db.go, { queues: { fleet: 20 }, id: `go-${n}`, runner: `go-${n}` }),
      ),
    );
    const runners = [1, 2].map((n) =>
      createRunner({
        driver: db.driver,
        schema: db.schema,
        id: `eddy-${n}`,
        queues: { fleet: {} },
        concurrency: 20,
        workers: [recordingWorker(db, 'fleet', `eddy-${n}`)],
      }),
    );
    let done = false;
    const loops = runners.map((runner) => tickLoop(runner, () => done));
    try {
      await waitFor(
        'every fleet job to complete',
        async () => {
          const { rows } = await db.pool.query(
            `SELECT count(*)::int AS n FROM ${db.schema}.river_job WHERE state = 'completed'`,
          );
          return rows[0].n === JOBS;
        },
        300_000,
        250,
      );
    } finally {
      done = true;
      await Promise.all(loops);
      await Promise.all(go.map((w) => w.stop()));
    }
    const seconds = (Date.now() - started) / 1000;

    const { rows: jobs } = await db.pool.query(
      `SELECT state::text, attempt, count(*)::int AS n FROM ${db.schema}.river_job GROUP BY 1, 2`,
    );
    expect(jobs).toEqual([{ state: 'completed', attempt: 1, n: JOBS }]);
    const { rows: runs } = await db.pool.query(
      `SELECT count(*)::int AS runs, count(DISTINCT job_id)::int AS jobs,
         count(*) FILTER (WHERE runner LIKE 'go-%')::int AS by_go,
         count(*) FILTER (WHERE runner LIKE 'eddy-%')::int AS by_eddy
       FROM ${db.schema}.interop_run`,
    );
    const { rows: lost } = await db.pool.query(
      `SELECT count(*)::int AS n FROM ${db.schema}.river_job j
       WHERE NOT EXISTS (SELECT 1 FROM ${db.schema}.interop_run r WHERE r.job_id = j.id)`,
    );
    const figures = {
      jobs: JOBS,
      runs: runs[0].runs,
      duplicates: runs[0].runs - runs[0].jobs,
      lost: lost[0].n,
      byGo: runs[0].by_go,
      byEddy: runs[0].by_eddy,
      seconds: Math.round(seconds * 10) / 10,
    };
    process.stdout.write(`mixed fleet: ${JSON.stringify(figures)}\n`);
    expect(figures).toMatchObject({ runs: JOBS, duplicates: 0, lost: 0 });
    expect(figures.byGo).toBeGreaterThan(0);
    expect(figures.byEddy).toBeGreaterThan(0);
  });

  /** An `overlap` job in `queue`, claimed by an Eddy tick whose lease ends `leaseMs` after the claim. */
  async function eddyHolds(queue: string, leaseMs: number, runMs: number) {
    const eddy = createClient({ driver: db.driver, schema: db.schema });
    // Only Eddy's attempt takes `runMs`; Go's worker completes at once.
    const { job } = await eddy.insert('overlap', {}, { queue });
    const runner = createRunner({
      driver: db.driver,
      schema: db.schema,
      id: `eddy-${queue}`,
      queues: { [queue]: {} },
      leaseMarginMs: 1000,
      workers: [recordingWorker(db, 'overlap', 'eddy', runMs)],
    });
    const now = Date.now();
    const tick = runner.tick({
      deadline: now + leaseMs - 2000,
      hardDeadline: now + leaseMs - 1000,
    });
    await waitFor(
      'Eddy to start the job',
      async () => (await db.runs('job_id = $1', [job.id])).length === 1,
    );
    return { id: job.id, tick };
  }

  /** A job Go River's rescuer must rescue once it runs: stuck for an hour, out of attempts. */
  async function decoy(): Promise<bigint> {
    const { rows } = await db.pool.query(
      `INSERT INTO ${db.schema}.river_job (kind, args, queue, state, attempt, max_attempts, attempted_at, attempted_by)
       VALUES ('decoy', '{}', 'decoys', 'running', 1, 1, now() - interval '1 hour', ARRAY['go-dead-client'])
       RETURNING id`,
    );
    return rows[0].id;
  }

  it("keeps a job Eddy holds under its lease from River's rescuer when RescueStuckJobsAfter exceeds the lease", async () => {
    // Lease 11 s from the claim; River rescues after 12 s; the job runs 8 s.
    const { id, tick } = await eddyHolds('overlap', 11_000, 8000);
    for (const at of [1000, 6000]) {
      await sleep(at === 1000 ? 1000 : 4000);
      // A fresh River leader runs its rescuer at once: the decoy shows it ran.
      const stuck = await decoy();
      const river = await startGoWorker(db.go, {
        queues: { overlap: 5 },
        rescueAfter: '12s',
        jobTimeout: '1s',
      });
      try {
        await waitFor('River to rescue the decoy', async () => {
          const [row] = await db.jobs('id = $1', [stuck]);
          return row?.state === 'discarded';
        });
      } finally {
        await river.stop();
      }
    }
    const stats = await tick;
    expect(stats).toMatchObject({ completed: 1, stale: 0 });
    const [row] = await db.jobs('id = $1', [id]);
    expect(row).toMatchObject({ state: 'completed', attempt: 1, errors: null });
    expect(row?.metadata['river:rescue_count']).toBeUndefined();
    expect((await db.runs('job_id = $1', [id])).map((r) => r.runner)).toEqual(['eddy']);
  });

  it('shows why: with RescueStuckJobsAfter below the lease, River rescues a live Eddy job and Go runs it again, while fencing keeps Eddy’s late result out', async () => {
    // Lease 17 s; River rescues after 3 s; the Eddy attempt runs 8 s.
    const { id, tick } = await eddyHolds('overlap_short', 17_000, 8000);
    await sleep(3500);
    const river = await startGoWorker(db.go, {
      queues: { overlap_short: 5 },
      rescueAfter: '3s',
      jobTimeout: '1s',
    });
    try {
      await waitFor(
        'River to rescue the job and Go to run it',
        async () => (await db.runs('job_id = $1', [id])).length === 2,
      );
      const stats = await tick;
      expect(stats).toMatchObject({ completed: 0, stale: 1 });
      await waitFor('Go to complete it', async () => {
        const [row] = await db.jobs('id = $1', [id]);
        return row?.state === 'completed';
      });
    } finally {
      await river.stop();
    }
    const [row] = await db.jobs('id = $1', [id]);
    expect(row).toMatchObject({ state: 'completed', attempt: 2 });
    expect(row?.metadata['river:rescue_count']).toBe(1);
    expect(row?.errors).toEqual([expect.objectContaining({ attempt: 1 })]);
    expect((await db.runs('job_id = $1', [id])).map((r) => [r.runner, r.attempt])).toEqual([
      ['eddy', 1],
      ['go', 2],
    ]);
  });

  it('never rescues a job Go River is running, however late Eddy thinks it is', async () => {
    const eddy = createClient({ driver: db.driver, schema: db.schema });
    const { job } = await eddy.insert('overlap', { sleep_ms: 4000 }, { queue: 'go_runs' });
    // An Eddy claim whose lease ran out: the control, which Eddy must rescue.
    const { rows } = await db.pool.query(
      `INSERT INTO ${db.schema}.river_job (kind, args, queue, state, attempt, max_attempts, attempted_at, attempted_by)
       VALUES ('overlap', '{}', 'nobody', 'running', 1, 5, now(), ARRAY['eddy:1000:abc:dead-runner'])
       RETURNING id`,
    );
    const control = rows[0].id;
    const river = await startGoWorker(db.go, { queues: { go_runs: 5 } });
    try {
      await waitFor(
        'Go to start the job',
        async () => (await db.runs('job_id = $1', [job.id])).length === 1,
      );
      // Two days on, every Eddy lease is over; Go's attempt carries none.
      const runner = createRunner({
        driver: db.driver,
        schema: db.schema,
        now: () => new Date(Date.now() + 2 * 86_400_000),
        workers: [defineWorker('unused', async () => undefined)],
      });
      const stats = await runner.tick({ budgetMs: 2000 });
      expect(stats.rescued).toBe(1);
      const [running] = await db.jobs('id = $1', [job.id]);
      expect(running?.state).toBe('running');
      await waitFor('Go to complete it', async () => {
        const [row] = await db.jobs('id = $1', [job.id]);
        return row?.state === 'completed';
      });
    } finally {
      await river.stop();
    }
    const [done] = await db.jobs('id = $1', [job.id]);
    expect(done).toMatchObject({ state: 'completed', attempt: 1, errors: null });
    expect((await db.runs('job_id = $1', [job.id])).map((r) => r.runner)).toEqual(['go']);
    const [rescued] = await db.jobs('id = $1', [control]);
    expect(rescued?.state).toBe('retryable');
  });
});
