/**
 * The unmodified Neon HTTP driver (`neon()`) against the local endpoint in front of the real
 * PostgreSQL: results, raw text values, batches as transactions, and errors as Neon reports them.
 */

import { NeonDbError, neon } from '@neondatabase/serverless';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { neonHttp } from '../adapters/neon-http/index.js';
import { Database } from '../src/driver/database.js';
import { type StartedNeonLocal, startNeonLocal } from './support/neon-local.js';
import { createDatabase } from './support/postgres.js';

const identity = (value: string) => value;
const RAW = { types: { getTypeParser: () => identity } };

let endpoint: StartedNeonLocal;
let database: { url: string; drop: () => Promise<void> };
let dbName: string;
let direct: pg.Pool;
let sql: ReturnType<typeof neon>;

beforeAll(async () => {
  endpoint = await startNeonLocal();
  database = await createDatabase('eddy_nlh');
  dbName = new URL(database.url).pathname.slice(1);
  direct = new pg.Pool({ connectionString: database.url, max: 2 });
  await direct.query('CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)');
  sql = neon(endpoint.neonUrl(dbName));
});

afterAll(async () => {
  await direct.end();
  await endpoint.close();
  await database.drop();
});

async function itemIds(): Promise<number[]> {
  const { rows } = await direct.query('SELECT id FROM items ORDER BY id');
  return rows.map((r) => r.id);
}

/** POSTs a raw request to the endpoint, as a client other than the driver would. */
async function post(body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(endpoint.local.fetchEndpoint, {
    method: 'POST',
    headers: { 'Neon-Connection-String': endpoint.neonUrl(dbName), ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, json: await response.json() };
}

describe('neon() through the local endpoint', () => {
  it('runs a parameterised query and returns rows as objects', async () => {
    const rows =
      await sql`SELECT ${1}::int + ${2}::int AS sum, ${'x'}::text AS t, ${null}::text AS n`;
    expect(rows).toEqual([{ sum: 3, t: 'x', n: null }]);
  });

  it('returns full results in array mode with the metadata Neon sends', async () => {
    const result = await sql.query('SELECT 1::int4 AS a, $1::text AS b', ['z'], {
      fullResults: true,
      arrayMode: true,
    });
    expect(result.rows).toEqual([[1, 'z']]);
    expect(result.command).toBe('SELECT');
    expect(result.rowCount).toBe(1);
    expect(result.rowAsArray).toBe(true);
    expect(result.fields.map((f) => [f.name, f.dataTypeID])).toEqual([
      ['a', 23],
      ['b', 25],
    ]);
  });

  it("hands back the server's exact text for every type", async () => {
    const text = `SELECT 9223372036854775807::int8 AS big,
      '2024-01-02 03:04:05.123456+00'::timestamptz AS at,
      '\\xdeadbeef'::bytea AS bytes,
      ARRAY[1, NULL, 3]::int8[] AS ints,
      ARRAY['a b', 'q"uote', NULL]::text[] AS texts,
      12345678901234567890.000000000001::numeric AS num,
      '{"k": [1, 2.50]}'::jsonb AS doc,
      '1 day 02:03:04.5'::interval AS span`;
    const [viaEndpoint] = (await sql.query(text, [], { ...RAW, arrayMode: true })) as string[][];
    const viaPg = await direct.query({ text, rowMode: 'array', types: RAW.types });
    expect(viaEndpoint).toEqual(viaPg.rows[0]);
    expect(viaEndpoint?.slice(0, 5)).toEqual([
      '9223372036854775807',
      expect.stringMatching(/^2024-01-0\d \d\d:04:05\.123456/),
      '\\xdeadbeef',
      '{1,NULL,3}',
      '{"a b","q\\"uote",NULL}',
    ]);
  });

  it('reports the command and the rows a write affected', async () => {
    const insert = await sql.query("INSERT INTO items VALUES (900, 'a'), (901, 'b')", [], {
      fullResults: true,
    });
    expect([insert.command, insert.rowCount]).toEqual(['INSERT', 2]);
    const update = await sql.query("UPDATE items SET name = 'c' WHERE id >= 900", [], {
      fullResults: true,
    });
    expect([update.command, update.rowCount]).toEqual(['UPDATE', 2]);
    const remove = await sql.query('DELETE FROM items WHERE id >= 900', [], { fullResults: true });
    expect([remove.command, remove.rowCount]).toEqual(['DELETE', 2]);
  });

  it('runs as the database the connection string names', async () => {
    expect(await sql`SELECT current_database() AS db`).toEqual([{ db: dbName }]);
    const other = neon(endpoint.neonUrl());
    expect(await other`SELECT current_database() AS db`).toEqual([{ db: 'test' }]);
    const same = neon(endpoint.neonUrlFor(database.url));
    expect(await same`SELECT current_database() AS db`).toEqual([{ db: dbName }]);
  });

  it('passes the options connection parameter on to the server', async () => {
    const url = `${endpoint.neonUrl(dbName)}?options=${encodeURIComponent('-c search_path=elsewhere')}`;
    const rows = await neon(url)`SELECT current_setting('search_path') AS path`;
    expect(rows).toEqual([{ path: 'elsewhere' }]);
  });

  it('commits a transaction batch as a whole', async () => {
    const results = await sql.transaction([
      sql`INSERT INTO items VALUES (1, 'one') RETURNING id`,
      sql`INSERT INTO items VALUES (2, 'two') RETURNING id`,
    ]);
    expect(results).toEqual([[{ id: 1 }], [{ id: 2 }]]);
    expect(await itemIds()).toEqual([1, 2]);
  });

  it('rolls back the whole batch when one statement fails', async () => {
    const failing = sql.transaction([
      sql`INSERT INTO items VALUES (3, 'three')`,
      sql`INSERT INTO items VALUES (1, 'duplicate')`,
    ]);
    await expect(failing).rejects.toBeInstanceOf(NeonDbError);
    await expect(failing).rejects.toMatchObject({
      code: '23505',
      constraint: 'items_pkey',
      table: 'items',
      detail: 'Key (id)=(1) already exists.',
    });
    expect(await itemIds()).toEqual([1, 2]);
  });

  it('runs a read-only batch read-only', async () => {
    const write = sql.transaction([sql`INSERT INTO items VALUES (4, 'four')`], { readOnly: true });
    await expect(write).rejects.toMatchObject({ code: '25006' });
    expect(await itemIds()).toEqual([1, 2]);
  });

  it('runs a batch at the isolation level and modes it asks for', async () => {
    const settings = () => [
      sql`SELECT current_setting('transaction_isolation') AS v`,
      sql`SELECT current_setting('transaction_read_only') AS v`,
      sql`SELECT current_setting('transaction_deferrable') AS v`,
    ];
    const strict = await sql.transaction(settings(), {
      isolationLevel: 'Serializable',
      readOnly: true,
      deferrable: true,
    });
    expect(strict).toEqual([[{ v: 'serializable' }], [{ v: 'on' }], [{ v: 'on' }]]);
    const repeatable = await sql.transaction(settings(), { isolationLevel: 'RepeatableRead' });
    expect(repeatable).toEqual([[{ v: 'repeatable read' }], [{ v: 'off' }], [{ v: 'off' }]]);
    const plain = await sql.transaction(settings());
    expect(plain).toEqual([[{ v: 'read committed' }], [{ v: 'off' }], [{ v: 'off' }]]);
  });

  it("carries Postgres' error fields onto NeonDbError", async () => {
    await expect(sql`INSERT INTO items VALUES (5, NULL)`).rejects.toMatchObject({
      name: 'NeonDbError',
      code: '23502',
      severity: 'ERROR',
      schema: 'public',
      table: 'items',
      column: 'name',
    });
    await expect(sql`SELECT FROM nowhere_at_all`).rejects.toMatchObject({
      code: '42P01',
      position: '13',
      message: 'relation "nowhere_at_all" does not exist',
    });
    await expect(sql`SELECT 1; SELECT 2`).rejects.toMatchObject({ code: '42601' });
  });

  it('does not leave a transaction open after a lone BEGIN', async () => {
    await sql`BEGIN`;
    await sql`INSERT INTO items VALUES (6, 'six')`;
    // Had the insert run in a transaction left open on a pooled connection, nobody would see it.
    expect(await itemIds()).toEqual([1, 2, 6]);
    await sql`DELETE FROM items WHERE id = 6`;
  });

  it('takes parameters as JSON values the way Neon does', async () => {
    const { status, json } = await post(
      {
        query: 'SELECT $1::int AS i, $2::bool AS b, $3::jsonb AS j, $4::int[] AS a, $5::text AS n',
        params: [7, true, { k: 'v' }, [1, null, 3], null],
      },
      { 'Neon-Raw-Text-Output': 'true', 'Neon-Array-Mode': 'true' },
    );
    expect(status).toBe(200);
    expect(json.rows).toEqual([['7', 't', '{"k": "v"}', '{1,NULL,3}', null]]);
  });

  it('converts values to JSON when raw text output is off', async () => {
    const { status, json } = await post({
      query: `SELECT true AS b, 2::int4 AS i, 9007199254740993::int8 AS big, 1.5::float8 AS f,
        'NaN'::float8 AS nan, '{"k": 1}'::jsonb AS j, ARRAY[1, 2]::int4[] AS a,
        ARRAY['x', NULL]::text[] AS t, NULL::text AS n`,
    });
    expect(status).toBe(200);
    expect(json.rowAsArray).toBe(false);
    expect(json.rows).toEqual([
      {
        b: true,
        i: 2,
        big: '9007199254740993',
        f: 1.5,
        nan: 'NaN',
        j: { k: 1 },
        a: [1, 2],
        t: ['x', null],
        n: null,
      },
    ]);
  });

  it('echoes the transaction modes of a batch in the response headers', async () => {
    const { status, headers, json } = await post(
      { queries: [{ query: 'SELECT 1 AS one' }] },
      { 'Neon-Batch-Isolation-Level': 'Serializable', 'Neon-Batch-Read-Only': 'true' },
    );
    expect(status).toBe(200);
    expect(json.results).toHaveLength(1);
    expect(headers.get('neon-batch-isolation-level')).toBe('Serializable');
    expect(headers.get('neon-batch-read-only')).toBe('true');
  });

  it("serves Eddy's neon-http adapter", async () => {
    const db = new Database(neonHttp(neon(endpoint.neonUrl(dbName))));
    const big = 2n ** 60n + 7n;
    const { rows } = await db.query('SELECT $1::int8 AS v', [big]);
    expect(rows).toEqual([{ v: big }]);
    const [inserted, counted] = await db.batch([
      { text: 'INSERT INTO items VALUES ($1, $2)', params: [10, 'ten'] },
      { text: 'SELECT count(*)::int AS n FROM items' },
    ]);
    expect(inserted?.rowCount).toBe(1);
    expect(counted?.rows).toEqual([{ n: 3 }]);
  });
});
