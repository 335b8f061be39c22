/**
 * The example Worker is safe to copy: its public `GET /` touches no database, its job counts
 * (`GET /jobs`) sit behind the tick secret and read a bounded number of index entries, and the
 * local endpoint can be given as the JSON string `.dev.vars` makes of `NEON_CONFIG`. The Worker
 * is bundled as for a deploy and run in workerd (Miniflare) on the unmodified Neon HTTP driver,
 * behind the local Neon endpoint. (test/cloudflare-worker.test.ts covers its jobs and ticks.)
 */

import { Miniflare } from 'miniflare';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNeonLocal, type NeonLocal } from '../adapters/neon-local/index.js';
import { nodePostgres } from '../adapters/node-postgres/index.js';
import { bundleWorker } from '../examples/bundle-worker.js';
import { COUNT_CAP, JOB_COUNTS_SQL } from '../examples/worker/job-counts.js';
import { readWranglerConfig } from '../examples/wrangler-config.js';
import { migrate } from '../src/migrate.js';
import { createDatabase, DATABASE_URL } from './support/postgres.js';

const SECRET = 'example-worker-test-secret-0123456789abcdef';
const config = readWranglerConfig();

let local: NeonLocal;
let database: { url: string; drop: () => Promise<void> };
let pool: pg.Pool;
let script: string;
const started: Miniflare[] = [];

/** Starts the bundled Worker with `bindings`; resolves with a fetch against it and its logs. */
async function startWorker(bindings: Record<string, string>) {
  const logs: string[] = [];
  const mf = new Miniflare({
    name: config.name,
    modules: true,
    script,
    compatibilityDate: config.compatibilityDate,
    compatibilityFlags: config.compatibilityFlags,
    bindings,
    structuredWorkerdLogs: true,
    handleStructuredLogs: ({ message }: { message: string }) => void logs.push(message),
  });
  started.push(mf);
  const url = await mf.ready;
  const get = (path: string, init?: RequestInit) => fetch(new URL(path, url), init);
  return Object.assign(get, { logs });
}

const databaseUrl = () => local.connectionString(new URL(database.url).pathname.slice(1));
const bearer = (secret: string) => ({ headers: { authorization: `Bearer ${secret}` } });

beforeAll(async () => {
  database = await createDatabase('eddy_example');
  pool = new pg.Pool({ connectionString: database.url, max: 2 });
  await migrate(nodePostgres(pool));
  local = await createNeonLocal({ databaseUrl: DATABASE_URL, port: 0 });
  script = (await bundleWorker(config.main, { compatibilityFlags: config.compatibilityFlags }))
    .code;
}, 120_000);

afterAll(async () => {
  await Promise.all(started.map((mf) => mf.dispose()));
  await local?.close();
  await pool?.end();
  await database?.drop();
});

describe('the example Worker', () => {
  it('answers GET / without touching the database', async () => {
    // Nothing listens at this endpoint: a route that queried would fail.
    const get = await startWorker({
      DATABASE_URL: 'postgresql://user:password@127.0.0.1:9/nothing',
      NEON_FETCH_ENDPOINT: 'http://127.0.0.1:9/sql',
      TICK_SECRET: SECRET,
    });
    const response = await get('/');
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      routes: expect.arrayContaining(['POST /signup']),
    });
  });

  it('shows job counts only with the tick secret, capped so a big table costs no full scan', async () => {
    await pool.query(
      `INSERT INTO river_job (kind, args, state, max_attempts, finalized_at)
       SELECT 'bulk', '{}', 'completed', 25, now() FROM generate_series(1, 20000)`,
    );
    await pool.query(`INSERT INTO river_job (kind, args, max_attempts) VALUES ('one', '{}', 25)`);
    const get = await startWorker({
      DATABASE_URL: databaseUrl(),
      NEON_FETCH_ENDPOINT: local.fetchEndpoint,
      TICK_SECRET: SECRET,
    });
    expect((await get('/jobs')).status).toBe(401);
    expect((await get('/jobs', bearer(`${SECRET}x`))).status).toBe(401);
    const response = await get('/jobs', bearer(SECRET));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ jobs: { available: 1, completed: '1000+' } });

    // Every state's count walks the index, even for a state with no rows among many.
    await pool.query('ANALYZE river_job');
    const { rows } = await pool.query(`EXPLAIN (FORMAT JSON) ${JOB_COUNTS_SQL}`, [COUNT_CAP + 1]);
    const plan = JSON.stringify(rows[0]['QUERY PLAN']);
    expect(plan).toContain('"Relation Name":"river_job"');
    expect(plan).not.toContain('Seq Scan');
  });

  it('reads NEON_CONFIG as the JSON string .dev.vars gives, and says when it is unusable', async () => {
    const withConfig = (NEON_CONFIG: string) =>
      startWorker({ DATABASE_URL: databaseUrl(), NEON_CONFIG, TICK_SECRET: SECRET });
    const get = await withConfig(JSON.stringify(local.neonConfig));
    const response = await get('/jobs', bearer(SECRET));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ jobs: { available: 1 } });

    const said: string[] = [];
    for (const bad of ['{fetchEndpoint: nope}', '{"wsProxy":"127.0.0.1:1/v2"}']) {
      const broken = await withConfig(bad);
      expect((await broken('/jobs', bearer(SECRET))).status).toBe(500);
      said.push(broken.logs.join('\n'));
    }
    expect(said[0]).toContain('NEON_CONFIG is not JSON');
    expect(said[1]).toContain('NEON_CONFIG has no fetchEndpoint');
    expect(said.join('\n')).not.toContain('https://api.');
  });
});
