/**
 * The local endpoint in front of PGlite: the Neon driver over HTTP and WebSockets, and PGlite's
 * single session shared correctly, so one connection's open transaction never swallows another
 * connection's statements (or the application's own PGlite queries).
 */

import { PGlite } from '@electric-sql/pglite';
import { Client, neon, Pool } from '@neondatabase/serverless';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createNeonLocal } from '../adapters/neon-local/index.js';
import { type StartedNeonLocal, startNeonLocal } from './support/neon-local.js';
import { WireClient } from './support/wire-client.js';

let db: PGlite;
let endpoint: StartedNeonLocal;
let sql: ReturnType<typeof neon>;
let pool: Pool;

beforeAll(async () => {
  db = await PGlite.create();
  endpoint = await startNeonLocal({ pglite: db });
  sql = neon(endpoint.neonUrl());
  pool = new Pool({ connectionString: endpoint.neonUrl(), max: 4 });
  await db.exec('CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)');
});

afterAll(async () => {
  await pool.end();
  await endpoint.close();
  await db.close();
});

beforeEach(async () => {
  await db.exec('TRUNCATE items');
});

async function itemIds(): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>('SELECT id FROM items ORDER BY id');
  return rows.map((r) => r.id);
}

/** Whether `promise` is still pending after `ms`. */
async function stillPending(promise: Promise<unknown>, ms = 150): Promise<boolean> {
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

describe('neon() over HTTP, PGlite upstream', () => {
  it('runs parameterised queries and returns exact text', async () => {
    const identity = (value: string) => value;
    const rows = await sql.query(
      "SELECT $1::int8 + 1 AS big, '2024-01-02 03:04:05.123456+00'::timestamptz AS at, '\\x00ff'::bytea AS b",
      ['9007199254740993'],
      { types: { getTypeParser: () => identity } },
    );
    expect(rows).toEqual([
      { big: '9007199254740994', at: '2024-01-02 03:04:05.123456+00', b: '\\x00ff' },
    ]);
  });

  it('commits a batch, and rolls the whole batch back when a statement fails', async () => {
    await sql.transaction([
      sql`INSERT INTO items VALUES (1, 'one')`,
      sql`INSERT INTO items VALUES (2, 'two')`,
    ]);
    const failing = sql.transaction([
      sql`INSERT INTO items VALUES (3, 'three')`,
      sql`INSERT INTO items VALUES (1, 'duplicate')`,
    ]);
    await expect(failing).rejects.toMatchObject({ code: '23505', constraint: 'items_pkey' });
    expect(await itemIds()).toEqual([1, 2]);
  });

  it('honours the read-only and isolation headers', async () => {
    await expect(
      sql.transaction([sql`INSERT INTO items VALUES (4, 'four')`], { readOnly: true }),
    ).rejects.toMatchObject({ code: '25006' });
    const [[setting]] = (await sql.transaction(
      [sql`SELECT current_setting('transaction_isolation') AS v`],
      { isolationLevel: 'Serializable' },
    )) as [Record<string, string>[]];
    expect(setting).toEqual({ v: 'serializable' });
    expect(await itemIds()).toEqual([]);
  });
});

describe('Pool and Client over WebSockets, PGlite upstream', () => {
  it('commits and rolls back interactive transactions', async () => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query("INSERT INTO items VALUES (1, 'kept')");
      await client.query('COMMIT');
      await client.query('BEGIN');
      await client.query("INSERT INTO items VALUES (2, 'dropped')");
      await expect(client.query('SELECT 1/0')).rejects.toMatchObject({ code: '22012' });
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    expect(await itemIds()).toEqual([1]);
  });

  it("connects with the driver's default pipelined password", async () => {
    const client = new Client({ connectionString: endpoint.neonUrl() });
    client.neonConfig.pipelineConnect = 'password';
    await client.connect();
    try {
      expect((await client.query('SELECT 7 AS n')).rows).toEqual([{ n: 7 }]);
    } finally {
      await client.end();
    }
  });

  it('holds other connections back while one has a transaction open, so none runs inside it', async () => {
    const holder = await pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query("INSERT INTO items VALUES (1, 'uncommitted')");
      // A neon() query runs each time it is awaited; Promise.resolve runs it once.
      const httpWrite = Promise.resolve(sql`INSERT INTO items VALUES (2, 'from http')`);
      const otherClient = pool.query("INSERT INTO items VALUES (3, 'from another client')");
      const appQuery = db.query("INSERT INTO items VALUES (4, 'from the application')");
      expect(await stillPending(httpWrite)).toBe(true);
      expect(await stillPending(otherClient)).toBe(true);
      expect(await stillPending(appQuery)).toBe(true);
      await holder.query('ROLLBACK');
      await Promise.all([httpWrite, otherClient, appQuery]);
    } finally {
      holder.release();
    }
    // Had any of them run inside the held transaction, the ROLLBACK would have taken it too.
    expect(await itemIds()).toEqual([2, 3, 4]);
  });

  it('loses no update when clients read-modify-write concurrently', async () => {
    await db.exec("INSERT INTO items VALUES (1, '0')");
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          const { rows } = await client.query('SELECT name FROM items WHERE id = 1');
          const next = Number(rows[0].name) + 1;
          await client.query('UPDATE items SET name = $1 WHERE id = 1', [String(next)]);
          await client.query('COMMIT');
        } finally {
          client.release();
        }
      }),
    );
    const { rows } = await db.query<{ name: string }>('SELECT name FROM items WHERE id = 1');
    expect(rows).toEqual([{ name: '8' }]);
  });

  it('rolls back the transaction of a client that vanishes, and serves the next one', async () => {
    const doomed = await WireClient.connect(endpoint.local.wsProxy);
    await doomed.query('BEGIN');
    await doomed.query("INSERT INTO items VALUES (1, 'never committed')");
    const waiting = Promise.resolve(sql`SELECT count(*)::int AS n FROM items`);
    expect(await stillPending(waiting)).toBe(true);
    doomed.terminate();
    expect(await waiting).toEqual([{ n: 0 }]);
    expect(await itemIds()).toEqual([]);
  });

  it('ends an unfinished extended-protocol sequence of a client that leaves', async () => {
    const client = await WireClient.connect(endpoint.local.wsProxy);
    await client.query('BEGIN');
    // Parse without Sync: the session is mid-sequence and must be finished for the next one.
    client.send(Buffer.from([0x50, 0, 0, 0, 16, 0, ...Buffer.from('SELECT 1'), 0, 0, 0]));
    await new Promise((resolve) => setTimeout(resolve, 50));
    client.send(Buffer.from([0x58, 0, 0, 0, 4])); // Terminate
    expect(await sql`SELECT 1 AS ok`).toEqual([{ ok: 1 }]);
    expect(db.isInTransaction()).toBe(false);
  });
});

describe('LISTEN / NOTIFY over WebSockets, PGlite upstream', () => {
  /** A Client over the endpoint that records the notifications it receives. */
  async function listeningClient() {
    const client = new Client({ connectionString: endpoint.neonUrl() });
    const heard: { channel: string; payload: string | undefined }[] = [];
    client.on('notification', ({ channel, payload }) => heard.push({ channel, payload }));
    await client.connect();
    return { client, heard };
  }
  const settle = () => new Promise((resolve) => setTimeout(resolve, 100));
  const listening = async () =>
    (await db.query<{ c: string }>('SELECT pg_listening_channels() AS c')).rows.map((r) => r.c);

  it('delivers a NOTIFY to the connections that LISTEN, not to the one that sent it', async () => {
    const a = await listeningClient();
    const b = await listeningClient();
    const sender = await listeningClient();
    try {
      await a.client.query('LISTEN "app.river_insert"; LISTEN "Up""per"');
      await b.client.query('LISTEN "app.river_insert"');
      await sender.client.query(
        `SELECT pg_notify('app.river_insert', '{"queue":"q"}'), pg_notify('Up"per', 'u')`,
      );
      await db.query("SELECT pg_notify('app.river_insert', 'from the application')");
      await settle();
      expect(a.heard).toEqual([
        { channel: 'app.river_insert', payload: '{"queue":"q"}' },
        { channel: 'Up"per', payload: 'u' },
        { channel: 'app.river_insert', payload: 'from the application' },
      ]);
      expect(b.heard).toEqual([
        { channel: 'app.river_insert', payload: '{"queue":"q"}' },
        { channel: 'app.river_insert', payload: 'from the application' },
      ]);
      expect(sender.heard).toEqual([]);
    } finally {
      await Promise.all([a.client.end(), b.client.end(), sender.client.end()]);
    }
  });

  it("keeps PGlite listening while any connection does: one's UNLISTEN or exit deafens no other", async () => {
    const a = await listeningClient();
    const b = await listeningClient();
    try {
      await a.client.query('LISTEN shared; LISTEN only_a');
      await b.client.query('LISTEN shared');
      await a.client.query('UNLISTEN shared');
      await sql`SELECT pg_notify('shared', 'one')`;
      await settle();
      expect(b.heard.map((n) => n.payload)).toEqual(['one']);
      expect(a.heard).toEqual([]);
      expect((await listening()).sort()).toEqual(['only_a', 'shared']);

      await a.client.query('UNLISTEN *');
      expect(await listening()).toEqual(['shared']);
    } finally {
      await Promise.all([a.client.end(), b.client.end()]);
    }
    await settle();
    expect(await listening()).toEqual([]);
  });
});

describe('embedded PGlite', () => {
  it('starts one when given neither a URL nor a PGlite, and closes it', async () => {
    const local = await createNeonLocal();
    try {
      const embedded = neon(local.connectionString());
      await embedded`CREATE TABLE notes (body text)`;
      await embedded`INSERT INTO notes VALUES ('hello')`;
      expect(await embedded`SELECT body FROM notes`).toEqual([{ body: 'hello' }]);
      expect(local.connectionString()).toBe(
        `postgresql://postgres@127.0.0.1:${local.port}/postgres`,
      );
    } finally {
      await local.close();
    }
    await expect(fetch(local.fetchEndpoint)).rejects.toThrow();
  });
});
