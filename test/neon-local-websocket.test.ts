/**
 * The unmodified Neon WebSocket driver (`Pool` / `Client`) through the local endpoint's WebSocket
 * proxy, in front of the real PostgreSQL: interactive transactions and errors as on a TCP client.
 */

import { Client, Pool } from '@neondatabase/serverless';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { neonWebSocket } from '../adapters/neon-websocket/index.js';
import { Database } from '../src/driver/database.js';
import { type StartedNeonLocal, startNeonLocal } from './support/neon-local.js';
import { createDatabase } from './support/postgres.js';

let endpoint: StartedNeonLocal;
let database: { url: string; drop: () => Promise<void> };
let dbName: string;
let direct: pg.Pool;
let pool: Pool;

beforeAll(async () => {
  endpoint = await startNeonLocal();
  database = await createDatabase('eddy_nlw');
  dbName = new URL(database.url).pathname.slice(1);
  direct = new pg.Pool({ connectionString: database.url, max: 2 });
  await direct.query('CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)');
  pool = new Pool({ connectionString: endpoint.neonUrl(dbName), max: 4 });
});

afterAll(async () => {
  await pool.end();
  await direct.end();
  await endpoint.close();
  await database.drop();
});

async function itemIds(): Promise<number[]> {
  const { rows } = await direct.query('SELECT id FROM items ORDER BY id');
  return rows.map((r) => r.id);
}

describe('Pool and Client through the WebSocket proxy', () => {
  it('runs parameterised queries through a Pool', async () => {
    const { rows, rowCount, command } = await pool.query(
      'SELECT $1::int8 AS big, $2::text AS t, current_database() AS db',
      ['9007199254740993', 'hi'],
    );
    expect(rows).toEqual([{ big: '9007199254740993', t: 'hi', db: dbName }]);
    expect([command, rowCount]).toEqual(['SELECT', 1]);
  });

  it('commits an interactive transaction, invisible to others until COMMIT', async () => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query("INSERT INTO items VALUES (1, 'one')");
      expect((await client.query('SELECT count(*)::int AS n FROM items')).rows).toEqual([{ n: 1 }]);
      expect(await itemIds()).toEqual([]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    expect(await itemIds()).toEqual([1]);
  });

  it('rolls back an interactive transaction', async () => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query("INSERT INTO items VALUES (2, 'two')");
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    expect(await itemIds()).toEqual([1]);
  });

  it('reports errors with their SQLSTATE and keeps the connection usable', async () => {
    const client = await pool.connect();
    try {
      await expect(client.query("INSERT INTO items VALUES (1, 'again')")).rejects.toMatchObject({
        code: '23505',
        constraint: 'items_pkey',
      });
      await client.query('BEGIN');
      await expect(client.query('SELECT 1/0')).rejects.toMatchObject({ code: '22012' });
      await expect(client.query('SELECT 1')).rejects.toMatchObject({ code: '25P02' });
      await client.query('ROLLBACK');
      expect((await client.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    } finally {
      client.release();
    }
  });

  it("connects with the driver's default pipelined password", async () => {
    const client = new Client({ connectionString: endpoint.neonUrl(dbName) });
    client.neonConfig.pipelineConnect = 'password';
    await client.connect();
    try {
      expect((await client.query('SELECT 42 AS answer')).rows).toEqual([{ answer: 42 }]);
    } finally {
      await client.end();
    }
  });

  it('always relays to the configured server, whatever address the driver asks for', async () => {
    const client = new Client({ connectionString: endpoint.neonUrl(dbName) });
    client.neonConfig.wsProxy = () => `${endpoint.local.wsProxy}?address=198.51.100.7:5432`;
    await client.connect();
    try {
      const { rows } = await client.query('SELECT current_database() AS db');
      expect(rows).toEqual([{ db: dbName }]);
    } finally {
      await client.end();
    }
  });

  it('passes the options connection parameter on to the server', async () => {
    const url = `${endpoint.neonUrl(dbName)}?options=${encodeURIComponent('-c search_path=elsewhere')}`;
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query("SELECT current_setting('search_path') AS path");
      expect(rows).toEqual([{ path: 'elsewhere' }]);
    } finally {
      await client.end();
    }
  });

  it('fails to connect to a database that does not exist, with its SQLSTATE', async () => {
    const client = new Client({ connectionString: endpoint.neonUrl('eddy_no_such_database') });
    await expect(client.connect()).rejects.toMatchObject({ code: '3D000' });
  });

  it('runs several connections at once', async () => {
    const work = [10, 11, 12, 13].map(async (id) => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('INSERT INTO items VALUES ($1, $2)', [id, `n${id}`]);
        await client.query('SELECT pg_sleep(0.05)');
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    });
    await Promise.all(work);
    expect(await itemIds()).toEqual([1, 10, 11, 12, 13]);
  });

  it("serves Eddy's neon-websocket adapter", async () => {
    const db = new Database(neonWebSocket(pool));
    await db.transaction(async (tx) => {
      await tx.query('INSERT INTO items VALUES ($1, $2)', [20, 'twenty']);
    });
    await expect(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO items VALUES ($1, $2)', [21, 'twenty-one']);
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(await itemIds()).toEqual([1, 10, 11, 12, 13, 20]);
  });
});
