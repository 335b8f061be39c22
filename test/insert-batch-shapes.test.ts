/**
 * `insertMany` sends a column once when every job has the same value and as one value per job
 * otherwise (sql/job-insert.ts, `manyRows`). Whatever mix a batch has, through every adapter,
 * each job must be stored and returned exactly as inserting it alone stores and returns it.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type InsertResult } from '../src/client.js';
import { Database } from '../src/driver/database.js';
import type { InsertItem } from '../src/insert/prepare-job.js';
import { migrate } from '../src/migrate.js';
import { type OpenDriver, selectedSetups } from './support/drivers.js';
import { uniqueName } from './support/postgres.js';

const now = new Date('2031-05-06T07:08:09.123Z');
const later = new Date('2031-05-07T00:00:00.000Z');
const earlier = new Date('2031-05-01T00:00:00.000Z');

const base = (i: number): InsertItem => ({ kind: 'shape', args: { i, note: `n${i}` } });

/** Batches that share every column, or let exactly one (or all) vary between jobs. */
const batches: [string, InsertItem[]][] = [
  ['share every column', [0, 1, 2].map(base)],
  ['differ in kind', [0, 1, 2].map((i) => ({ ...base(i), kind: `shape_${i}` }))],
  [
    'differ in maxAttempts and priority',
    [0, 1, 2].map((i) => ({ ...base(i), options: { maxAttempts: i + 1, priority: (i % 4) + 1 } })),
  ],
  [
    'differ in metadata',
    [0, 1, 2].map((i) => ({ ...base(i), options: i ? { metadata: { n: i, s: 'x' } } : {} })),
  ],
  ['differ in queue', [0, 1, 2].map((i) => ({ ...base(i), options: { queue: `q${i}` } }))],
  [
    'differ in schedule and state',
    [
      base(0),
      { ...base(1), options: { scheduledAt: later } },
      { ...base(2), options: { scheduledAt: earlier } },
      { ...base(3), options: { pending: true } },
    ],
  ],
  ['share one schedule', [0, 1].map((i) => ({ ...base(i), options: { scheduledAt: later } }))],
  [
    'differ in tags',
    [
      base(0),
      { ...base(1), options: { tags: ['a'] } },
      { ...base(2), options: { tags: ['a', 'b c', 'd"e'] } },
    ],
  ],
  ['share tags', [0, 1].map((i) => ({ ...base(i), options: { tags: ['x', 'y'] } }))],
  [
    'mix unique and plain jobs and unique states',
    [
      base(0),
      { ...base(1), options: { unique: { byArgs: true } } },
      {
        ...base(2),
        options: {
          unique: { byArgs: true, byState: ['available', 'pending', 'running', 'scheduled'] },
        },
      },
    ],
  ],
  [
    'differ in everything',
    [0, 1, 2].map((i) => ({
      kind: `all_${i}`,
      args: { i },
      options: {
        queue: `all${i}`,
        priority: i + 1,
        maxAttempts: 10 + i,
        tags: i ? [`t${i}`] : [],
        metadata: { i },
        ...(i === 2 ? { scheduledAt: later } : {}),
        ...(i === 1 ? { unique: { byQueue: true } } : {}),
      },
    })),
  ],
];

/** What a stored row holds, without its id. */
const columns = `kind, queue, priority, max_attempts, args, metadata, tags, state::text AS state,
  scheduled_at::text AS scheduled_at, created_at::text AS created_at, attempt, unique_key,
  unique_states::text AS unique_states`;

const withoutId = ({ job, skipped }: InsertResult) => {
  const { id: _, ...rest } = job;
  return { job: rest, skipped };
};

for (const setup of selectedSetups()) {
  describe(`insertMany column shapes: ${setup.name}`, () => {
    let open: OpenDriver;
    let db: Database;
    const batchSchema = uniqueName('shape_b');
    const aloneSchema = uniqueName('shape_a');

    beforeAll(async () => {
      open = await setup.open();
      db = new Database(open.driver);
      for (const schema of [batchSchema, aloneSchema]) {
        await db.query(`CREATE SCHEMA ${schema}`);
        await migrate(open.driver, { schema });
      }
    });
    afterAll(async () => {
      for (const schema of [batchSchema, aloneSchema]) {
        await db.query(`DROP SCHEMA ${schema} CASCADE`);
      }
      await open.close();
    });

    it.each(batches)(
      'stores and returns jobs that %s as inserting each alone does',
      async (_, items) => {
        const batch = createClient({ driver: open.driver, schema: batchSchema, now: () => now });
        const alone = createClient({ driver: open.driver, schema: aloneSchema, now: () => now });
        const many = await batch.insertMany(items);
        const ones: InsertResult[] = [];
        for (const item of items)
          ones.push(await alone.insert(item.kind as string, item.args as never, item.options));
        expect(many.map(withoutId)).toEqual(ones.map(withoutId));

        const stored = async (schema: string, results: InsertResult[]) => {
          const rows = [];
          for (const { job } of results) {
            const { rows: found } = await db.query(
              `SELECT ${columns} FROM ${schema}.river_job WHERE id = $1`,
              [job.id],
            );
            rows.push(found[0]);
          }
          return rows;
        };
        const batchRows = await stored(batchSchema, many);
        expect(batchRows).toEqual(await stored(aloneSchema, ones));
        expect(batchRows.every((row) => row !== undefined)).toBe(true);
        // Ids come back in input order.
        const ids = many.map((r) => r.job.id);
        expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);
      },
    );
  });
}
