/**
 * The Neon driver inside workerd (Miniflare), bundled with esbuild the way a Worker is deployed,
 * talking to the local endpoint over HTTP and WebSockets. workerd needs no compatibility flags
 * for this and may fetch and open WebSockets to 127.0.0.1 by default.
 */

import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createNeonLocal, type NeonLocal } from '../adapters/neon-local/index.js';
import { createDatabase, DATABASE_URL } from './support/postgres.js';

let local: NeonLocal;
let database: { url: string; drop: () => Promise<void> };
let mf: Miniflare;

beforeAll(async () => {
  local = await createNeonLocal({ databaseUrl: DATABASE_URL });
  database = await createDatabase('eddy_nlmf');
  const direct = new pg.Client({ connectionString: database.url });
  await direct.connect();
  await direct.query('CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)');
  await direct.end();

  const bundle = await build({
    entryPoints: [fileURLToPath(new URL('./fixtures/neon-local-worker.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['workerd', 'worker', 'browser'],
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  mf = new Miniflare({
    modules: true,
    script: bundle.outputFiles[0]?.text ?? '',
    compatibilityDate: '2025-06-01',
    bindings: {
      DATABASE_URL: local.connectionString(new URL(database.url).pathname.slice(1)),
      NEON_CONFIG: { ...local.neonConfig },
    },
  });
});

afterAll(async () => {
  await mf?.dispose();
  await local?.close();
  await database?.drop();
});

it('runs the Neon driver inside workerd against the local endpoint', async () => {
  const response = await mf.dispatchFetch('http://worker.local/');
  const body = (await response.json()) as Record<string, unknown>;
  expect(body.error).toBeUndefined();
  expect(response.status).toBe(200);
  expect(body).toEqual({
    http: {
      row: { big: '9007199254740994', db: new URL(database.url).pathname.slice(1) },
      committed: [[{ id: 1 }], [{ id: 2 }]],
      failed: '23505',
      readOnly: '25006',
    },
    ws: { ids: [1, 2, 10] },
  });

  const direct = new pg.Client({ connectionString: database.url });
  await direct.connect();
  const { rows } = await direct.query('SELECT id, name FROM items ORDER BY id');
  await direct.end();
  expect(rows).toEqual([
    { id: 1, name: 'http one' },
    { id: 2, name: 'http two' },
    { id: 10, name: 'ws kept' },
  ]);
});
