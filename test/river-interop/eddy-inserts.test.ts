/**
 * Scenario 3: Eddy inserts, through node-postgres and through Neon HTTP (the local endpoint),
 * and Go River works the jobs: completes, fails and retries, snoozes, cancels. The rows end as
 * they end when Go River inserted the same jobs itself.
 */

import { neon } from '@neondatabase/serverless';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { neonHttp } from '../../adapters/neon-http/index.js';
import { nodePostgres } from '../../adapters/node-postgres/index.js';
import { createClient } from '../../src/client.js';
import type { Driver } from '../../src/driver/driver.js';
import { type StartedNeonLocal, startNeonLocal } from '../support/neon-local.js';
import { DATABASE_URL } from '../support/postgres.js';
import { goInsert, startGoWorker } from './support/go.js';
import { type InteropSchema, interopSchema, waitFor } from './support/interop.js';
import { asEddyItem, goJobs, type SettledRow, settledRows, unsettled } from './support/parity.js';

const SKIPPED = [
  false,
  false,
  true,
  false,
  true,
  false,
  true,
  false,
  true,
  false,
  false,
  false,
  false,
  false,
  false,
];

async function workWithGo(schema: InteropSchema): Promise<SettledRow[]> {
  const worker = await startGoWorker(schema.go, { queues: { default: 10, other: 10 } });
  try {
    await waitFor(
      'Go River to settle the jobs',
      async () => (await unsettled(schema.pool, schema.schema)) === 0,
    );
  } finally {
    expect(await worker.stop()).toBe(0);
  }
  return settledRows(schema.pool, schema.schema);
}

describe('Eddy inserts, Go River works', () => {
  let expected: SettledRow[];
  let endpoint: StartedNeonLocal;

  beforeAll(async () => {
    endpoint = await startNeonLocal();
    const reference = await interopSchema('reg');
    try {
      const { one, many } = goJobs();
      expect((await goInsert(reference.go, { jobs: one })).map((r) => r.skipped)).toEqual(SKIPPED);
      await goInsert(reference.go, { jobs: many, many: true });
      expected = await workWithGo(reference);
    } finally {
      await reference.close();
    }
  });
  afterAll(() => endpoint?.close());

  const drivers: { name: string; open: () => { driver: Driver; close: () => Promise<void> } }[] = [
    {
      name: 'node-postgres',
      open: () => {
        const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
        return { driver: nodePostgres(pool), close: () => pool.end() };
      },
    },
    {
      name: 'Neon HTTP',
      open: () => ({ driver: neonHttp(neon(endpoint.neonUrl())), close: async () => {} }),
    },
  ];

  for (const { name, open } of drivers) {
    it(`through ${name}: Go completes, retries, snoozes and cancels them as if Go had inserted them`, async () => {
      const schema = await interopSchema('ree');
      const { driver, close } = open();
      try {
        const eddy = createClient({ driver, schema: schema.schema });
        const { one, many } = goJobs();
        const single = [];
        for (const job of one) {
          const { kind, args, options } = asEddyItem(job);
          single.push(await eddy.insert(kind as string, args as Record<string, unknown>, options));
        }
        expect(single.map((r) => r.skipped)).toEqual(SKIPPED);
        expect(await eddy.insertMany(many.map(asEddyItem))).toHaveLength(4);

        const rows = await workWithGo(schema);
        expect(rows).toEqual(expected);
        const byN = (n: number) => rows.find((r) => (r.args as { n: number }).n === n);
        expect(byN(1)).toMatchObject({ state: 'completed', metadata: { output: { n: 1 } } });
        expect(byN(40)).toMatchObject({
          state: 'completed',
          attempt: 2,
          errors: [{ attempt: 1, error: 'parity failed attempt 1' }],
        });
        expect(byN(50)).toMatchObject({
          state: 'completed',
          attempt: 1,
          metadata: { snoozes: 1, output: { n: 50 } },
        });
        expect(byN(60)).toMatchObject({
          state: 'cancelled',
          errors: [{ attempt: 1, error: 'JobCancelError: parity cancelled' }],
        });
        expect(byN(30)?.state).toBe('pending');
        expect(byN(21)?.state).toBe('scheduled');
      } finally {
        await close();
        await schema.close();
      }
    });
  }
});
