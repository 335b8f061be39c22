/**
 * The endpoint never opens more than `maxConnections` upstream connections, WebSocket and HTTP
 * together: a flood of clients waits for a free one, or is refused once it waited too long, and
 * PostgreSQL never sees more than the cap.
 */

import { PGlite } from '@electric-sql/pglite';
import { Client, neon } from '@neondatabase/serverless';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNeonLocal, type NeonLocal } from '../adapters/neon-local/index.js';
import { configureNeonDriver } from './support/neon-local.js';
import { createDatabase, DATABASE_URL } from './support/postgres.js';
import { WireClient } from './support/wire-client.js';

let database: Awaited<ReturnType<typeof createDatabase>>;
let dbName: string;
let observer: pg.Pool;
let queued: NeonLocal;
let strict: NeonLocal;

beforeAll(async () => {
  configureNeonDriver();
  database = await createDatabase('eddy_nlc');
  dbName = new URL(database.url).pathname.slice(1);
  // On another database, so it never counts itself.
  observer = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
  queued = await createNeonLocal({ databaseUrl: database.url, maxConnections: 3 });
  strict = await createNeonLocal({
    databaseUrl: database.url,
    maxConnections: 2,
    connectionWaitMs: 300,
  });
});

afterAll(async () => {
  await queued?.close();
  await strict?.close();
  await observer?.end();
  await database?.drop();
});

/** Client backends connected to the test's database right now. */
async function backends(): Promise<number> {
  const { rows } = await observer.query(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'",
    [dbName],
  );
  return rows[0].n;
}

async function connected(local: NeonLocal): Promise<Client> {
  const client = new Client({ connectionString: local.connectionString(dbName) });
  await client.connect();
  return client;
}

async function stillPending(promise: Promise<unknown>, ms = 300): Promise<boolean> {
  const marker = Symbol('pending');
  const winner = await Promise.race([
    promise.then(
      () => 'settled',
      () => 'settled',
    ),
    new Promise((resolve) => setTimeout(() => resolve(marker), ms)),
  ]);
  return winner === marker;
}

describe('maxConnections', () => {
  it('queues a flood of HTTP requests within the cap, across credentials', async () => {
    const plain = neon(queued.connectionString(dbName));
    const other = neon(
      `${queued.connectionString(dbName)}?options=${encodeURIComponent('-c search_path=public')}`,
    );
    const seen = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const sql = i % 2 === 0 ? plain : other;
        const [row] = await sql`SELECT pg_sleep(0.03), (SELECT count(*)::int FROM pg_stat_activity
          WHERE datname = current_database() AND backend_type = 'client backend') AS n`;
        return (row as { n: number }).n;
      }),
    );
    expect(seen).toHaveLength(30);
    expect(Math.max(...seen)).toBeLessThanOrEqual(3);
    expect(await backends()).toBeLessThanOrEqual(3);
  });

  it('holds a WebSocket client back until a connection is free', async () => {
    const holders = await Promise.all([1, 2, 3].map(() => connected(queued)));
    const waiting = connected(queued);
    try {
      expect(await stillPending(waiting)).toBe(true);
      expect(await backends()).toBeLessThanOrEqual(3);
      await holders.shift()?.end();
      holders.push(await waiting);
      expect((await holders[2]?.query('SELECT 4 AS n'))?.rows).toEqual([{ n: 4 }]);
      expect(await backends()).toBeLessThanOrEqual(3);
    } finally {
      await Promise.all(holders.map((client) => client.end()));
    }
  });

  it('refuses clients that waited too long, and serves again once connections are free', async () => {
    const holders = await Promise.all([1, 2].map(() => connected(strict)));
    try {
      const flood = await Promise.allSettled(Array.from({ length: 10 }, () => connected(strict)));
      expect(flood.every((outcome) => outcome.status === 'rejected')).toBe(true);
      expect(String((flood[0] as PromiseRejectedResult).reason)).toMatch(
        /all 2 upstream connections are in use \(maxConnections\)/,
      );
      expect(await backends()).toBeLessThanOrEqual(2);
      const http = await fetch(strict.fetchEndpoint, {
        method: 'POST',
        headers: { 'Neon-Connection-String': strict.connectionString(dbName) },
        body: JSON.stringify({ query: 'SELECT 1' }),
      });
      expect(http.status).toBe(503);
    } finally {
      await Promise.all(holders.map((client) => client.end()));
    }
    const after = await connected(strict);
    expect((await after.query('SELECT 5 AS n')).rows).toEqual([{ n: 5 }]);
    await after.end();
    expect(await neon(strict.connectionString(dbName))`SELECT 6 AS n`).toEqual([{ n: 6 }]);
  });

  it('frees the connection of a client that vanished, mid-transaction or not', async () => {
    const db = await PGlite.create();
    const pglite = await createNeonLocal({ pglite: db, maxConnections: 1, connectionWaitMs: 2000 });
    try {
      for (const [local, database] of [
        [strict, dbName],
        [pglite, 'postgres'],
      ] as const) {
        for (let i = 0; i < 4; i++) {
          const client = await WireClient.connect(local.wsProxy, database);
          if (i % 2 === 0) await client.query('BEGIN');
          client.terminate();
        }
        const last = await WireClient.connect(local.wsProxy, database);
        expect(await last.query('SELECT 7')).toEqual(['7']);
        last.terminate();
      }
    } finally {
      await pglite.close();
      await db.close();
    }
  });
});
