/**
 * The management API stays fast on a big table because every statement it sends is served by
 * an index River's schema has, or bounded: checked here in the plans PostgreSQL makes for them
 * on 200,000 seeded jobs (bench/admin.ts measures 1,000,000). No statement reads river_job from
 * end to end (no Seq Scan on it), each one's planned cost stays under PostgreSQL's default
 * jit_above_cost (a JIT compilation alone costs more than the whole statement), and the listings
 * and counts use the index that serves them.
 */

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodePostgres } from '../adapters/node-postgres/index.js';
import { createAdmin } from '../src/admin/admin.js';
import type { Driver } from '../src/driver/driver.js';
import { migrate } from '../src/migrate.js';
import { seedManyJobs } from './support/admin-fixtures.js';
import { createSchema, DATABASE_URL } from './support/postgres.js';

const JOBS = 200_000;
const JIT_ABOVE_COST = 100_000;

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Total Cost': number;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

describe('the management API on a big table', () => {
  let pool: pg.Pool;
  let drop: () => Promise<void>;
  let schema: string;
  let captured: { text: string; params: readonly (string | null)[] }[] = [];
  let admin: ReturnType<typeof createAdmin>;

  beforeAll(async () => {
    ({ schema, drop } = await createSchema('aplan'));
    pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
    const base = nodePostgres(pool);
    await migrate(base, { schema });
    await seedManyJobs(pool, schema, JOBS);
    await pool.query(
      `INSERT INTO ${schema}.river_queue (name, created_at, metadata, updated_at)
       SELECT 'queue_' || i, now(), '{}', now() FROM generate_series(0, 7) AS i`,
    );
    await pool.query(`ANALYZE ${schema}.river_job`);
    const driver: Driver = {
      ...base,
      query: (text, params = [], options) => {
        captured.push({ text, params });
        return base.query(text, params, options);
      },
    };
    admin = createAdmin({ driver, schema });
  }, 120_000);
  afterAll(async () => {
    await pool?.end();
    await drop?.();
  });

  /** The plan of the one statement `call` sends. */
  async function planOf(call: () => Promise<unknown>): Promise<PlanNode> {
    captured = [];
    await call();
    expect(captured).toHaveLength(1);
    const [statement] = captured;
    const { rows } = await pool.query(
      `EXPLAIN (FORMAT JSON) ${statement?.text}`,
      statement?.params as string[],
    );
    return rows[0]['QUERY PLAN'][0].Plan as PlanNode;
  }

  const hourAgo = new Date(Date.now() - 3600_000);
  const cases: [string, () => Promise<unknown>, string[]][] = [
    ['the newest jobs', () => admin.jobs.list(), ['river_job_pkey']],
    ['a state', () => admin.jobs.list({ state: 'running' }), []],
    ['a state in a queue', () => admin.jobs.list({ state: 'available', queue: 'queue_3' }), []],
    ['a queue in every state', () => admin.jobs.list({ queue: 'queue_5' }), []],
    ['a kind', () => admin.jobs.list({ kind: 'kind_7' }), []],
    ['a kind in a state', () => admin.jobs.list({ kind: 'kind_7', state: 'discarded' }), []],
    [
      'an args fragment',
      () => admin.jobs.list({ args: { user_id: 42 } }),
      ['river_job_args_index'],
    ],
    [
      'a metadata fragment',
      () => admin.jobs.list({ metadata: { source: 'api' } }),
      ['river_job_metadata_index'],
    ],
    ['a tag (bounded)', () => admin.jobs.list({ tag: 'vip' }), []],
    ['a priority (bounded)', () => admin.jobs.list({ priority: 2, state: 'available' }), []],
    ['a created range (bounded)', () => admin.jobs.list({ createdAt: { from: hourAgo } }), []],
    [
      'finalized jobs, newest first',
      () => admin.jobs.list({ orderBy: 'finalizedAt' }),
      ['river_job_state_and_finalized_at_index'],
    ],
    [
      'a finalized range long past, in finalizedAt order',
      () =>
        admin.jobs.list({
          orderBy: 'finalizedAt',
          finalizedAt: {
            from: new Date(Date.now() - 23 * 3600_000),
            to: new Date(Date.now() - 22 * 3600_000),
          },
        }),
      ['river_job_state_and_finalized_at_index'],
    ],
    [
      'a finalized range long past, in id order (bounded)',
      () =>
        admin.jobs.list({
          finalizedAt: {
            from: new Date(Date.now() - 23 * 3600_000),
            to: new Date(Date.now() - 22 * 3600_000),
          },
        }),
      [],
    ],
    [
      'scheduled jobs, soonest first',
      () => admin.jobs.list({ state: 'scheduled', orderBy: 'scheduledAt', order: 'asc' }),
      ['river_job_prioritized_fetching_index'],
    ],
    [
      'a bulk cancel',
      () => admin.jobs.cancelMany({ state: 'available', queue: 'queue_1' }, { max: 1 }),
      [],
    ],
    [
      'a bulk retry',
      () => admin.jobs.retryMany({ state: 'discarded', kind: 'kind_3' }, { max: 1 }),
      [],
    ],
    [
      'a bulk delete',
      () => admin.jobs.deleteMany({ state: 'completed', tag: 'missing' }, { max: 1 }),
      [],
    ],
    ['counts by state', () => admin.counts(), ['river_job_prioritized_fetching_index']],
    [
      'counts by queue',
      () => admin.counts({ by: 'queue' }),
      ['river_job_prioritized_fetching_index'],
    ],
    [
      'counts by queue, finished in the last hour',
      () => admin.counts({ by: 'queue', finalizedSince: hourAgo }),
      ['river_job_state_and_finalized_at_index'],
    ],
    [
      'counts by kind',
      () => admin.counts({ by: 'kind' }),
      ['river_job_prioritized_fetching_index'],
    ],
    ['queues with counts', () => admin.queues.list(), ['river_job_prioritized_fetching_index']],
    [
      'one queue with counts',
      () => admin.queues.get('queue_2'),
      ['river_job_prioritized_fetching_index'],
    ],
    ['the kinds', () => admin.jobs.kinds(), ['river_job_kind']],
  ];

  it.each(cases)(
    '%s: no full scan of river_job, no JIT, the index that serves it',
    async (_name, call, indexes) => {
      const plan = await planOf(call);
      const all = nodes(plan);
      const fullScans = all.filter(
        (n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'river_job',
      );
      expect(fullScans).toEqual([]);
      expect(plan['Total Cost']).toBeLessThan(JIT_ABOVE_COST);
      const used = new Set(all.map((n) => n['Index Name']).filter(Boolean));
      for (const index of indexes) expect([...used]).toContain(index);
    },
  );

  it('walks at most 10,000 jobs for a filter no index serves, and says where it stopped', async () => {
    const page = await admin.jobs.list({ tag: 'missing', limit: 10 });
    expect(page).toMatchObject({ jobs: [], truncated: true, scanned: 10_000 });
    const next = await admin.jobs.list({
      tag: 'missing',
      limit: 10,
      cursor: page.nextCursor as string,
    });
    expect(next.scanned).toBe(10_000);
    expect(next.truncated).toBe(true);
    // The second walk starts where the first stopped.
    const all = await admin.jobs.list({ limit: 1 });
    expect(all.jobs[0]?.id).toBe(BigInt(JOBS));
    const vip = await admin.jobs.list({ tag: 'vip', limit: 150 });
    expect(vip.jobs).toHaveLength(100);
    expect(vip.truncated).toBe(true);
    expect(vip.jobs.every((j) => j.tags.includes('vip'))).toBe(true);
  });

  it('counts past the cap are flagged estimates close to the truth', async () => {
    const counts = await admin.counts();
    expect(counts.states.completed.exact).toBe(false);
    expect(Math.abs(counts.states.completed.count - JOBS * 0.9) / (JOBS * 0.9)).toBeLessThan(0.15);
    expect(counts.states.pending).toEqual({ count: 1000, exact: true });
    const queues = await admin.queues.list();
    expect(queues).toHaveLength(8);
    const { rows } = await pool.query(
      `SELECT queue, state::text AS state, count(*)::int AS n FROM ${schema}.river_job GROUP BY 1, 2`,
    );
    for (const { queue, state, n } of rows) {
      const count = queues.find((q) => q.name === queue)?.counts[state as 'completed'];
      if (n <= 5000) expect(count, `${queue} ${state}`).toEqual({ count: n, exact: true });
      else {
        expect(count?.exact, `${queue} ${state}`).toBe(false);
        expect(Math.abs((count?.count ?? 0) - n) / n, `${queue} ${state}`).toBeLessThan(0.25);
      }
    }
  });
});
