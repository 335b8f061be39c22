/**
 * Scenario 2: Go River inserts, Eddy works, through node-postgres and through Neon HTTP (the
 * unmodified Neon driver against the local endpoint). The same jobs are inserted into a schema
 * Go River works, and the rows each leaves are compared field by field.
 */

import { neon } from '@neondatabase/serverless';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { neonHttp } from '../../adapters/neon-http/index.js';
import { nodePostgres } from '../../adapters/node-postgres/index.js';
import type { Driver } from '../../src/driver/driver.js';
import { createRunner } from '../../src/runner/runner.js';
import { type StartedNeonLocal, startNeonLocal } from '../support/neon-local.js';
import { DATABASE_URL } from '../support/postgres.js';
import { goInsert, startGoWorker } from './support/go.js';
import { type InteropSchema, interopSchema, waitFor } from './support/interop.js';
import {
  goJobs,
  parityWorkers,
  type SettledRow,
  settledRows,
  tickUntilSettled,
  unsettled,
} from './support/parity.js';

async function insertFromGo(schema: InteropSchema) {
  const { one, many } = goJobs();
  const single = await goInsert(schema.go, { jobs: one });
  const bulk = await goInsert(schema.go, { jobs: many, many: true });
  return { single, bulk };
}

describe('Go River inserts, Eddy works', () => {
  let reference: InteropSchema;
  let expected: SettledRow[];
  let endpoint: StartedNeonLocal;

  beforeAll(async () => {
    endpoint = await startNeonLocal();
    // What Go River itself leaves: the same jobs, worked by a Go River client.
    reference = await interopSchema('rgo');
    const inserted = await insertFromGo(reference);
    expect(inserted.single.map((r) => r.skipped)).toEqual([
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
    ]);
    const worker = await startGoWorker(reference.go, { queues: { default: 10, other: 10 } });
    try {
      await waitFor(
        'Go River to settle its jobs',
        async () => (await unsettled(reference.pool, reference.schema)) === 0,
      );
    } finally {
      expect(await worker.stop()).toBe(0);
    }
    expected = await settledRows(reference.pool, reference.schema);
  });
  afterAll(async () => {
    await reference?.close();
    await endpoint?.close();
  });

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
    it(`through ${name}: works what Go inserted and leaves every row as Go River leaves it`, async () => {
      const schema = await interopSchema('rgoe');
      const { driver, close } = open();
      try {
        const inserted = await insertFromGo(schema);
        expect(inserted.bulk).toHaveLength(4);
        const runner = createRunner({
          driver,
          schema: schema.schema,
          queues: { default: {}, other: {} },
          workers: parityWorkers,
        });
        await tickUntilSettled(runner, schema.pool, schema.schema);
        const rows = await settledRows(schema.pool, schema.schema);
        // Compared whole, but the one known difference is its own test below.
        const withoutCancelText = (list: SettledRow[]) =>
          list.map((r) => (r.kind === 'parity_cancel' ? { ...r, errors: null } : r));
        expect(withoutCancelText(rows)).toEqual(withoutCancelText(expected));
        expect(rows.map((r) => r.state).sort()).toEqual([
          'cancelled',
          'completed',
          'completed',
          'completed',
          'completed',
          'completed',
          'completed',
          'completed',
          'completed',
          'completed',
          'completed',
          'completed',
          'completed',
          'pending',
          'scheduled',
        ]);
      } finally {
        await close();
        await schema.close();
      }
    });
  }

  it("records a worker's JobCancel in River's words", async () => {
    const schema = await interopSchema('rgoc');
    try {
      await goInsert(schema.go, { jobs: [{ kind: 'parity_cancel', args: { n: 60 } }] });
      const runner = createRunner({
        driver: schema.driver,
        schema: schema.schema,
        workers: parityWorkers,
      });
      await tickUntilSettled(runner, schema.pool, schema.schema);
      const [mine] = await settledRows(schema.pool, schema.schema);
      expect(mine?.errors).toEqual(expected.find((r) => r.kind === 'parity_cancel')?.errors);
    } finally {
      await schema.close();
    }
  });
});
