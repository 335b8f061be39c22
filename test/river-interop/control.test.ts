/**
 * Scenario 6: control across languages. Pauses from Go River stop Eddy's claims and pauses from
 * Eddy stop Go River's; every notification River sends arrives as
 * ../shared/river-compat/protocol_values.json says, and Eddy's own are byte for byte Go's; a
 * JobCancel from Go reaches a job Eddy is running.
 */

import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLoop } from '../../adapters/node/index.js';
import { createClient } from '../../src/client.js';
import { Database } from '../../src/driver/database.js';
import { schemaPrefix } from '../../src/driver/schema-name.js';
import { pauseQueue, resumeQueue } from '../../src/ops/queue-control.js';
import { createRunner } from '../../src/runner/runner.js';
import { defineWorker } from '../../src/worker.js';
import { DATABASE_URL } from '../support/postgres.js';
import { go, goInsert, startGoWorker } from './support/go.js';
import { type InteropSchema, interopSchema, sleep, waitFor } from './support/interop.js';

const protocol = JSON.parse(
  readFileSync(
    new URL('../../../shared/river-compat/protocol_values.json', import.meta.url),
    'utf8',
  ),
) as {
  notifications: { name: string; topic: string; payload: Record<string, unknown> }[];
  topics: Record<string, string>;
};

/** Collects every notification on the schema's River topics, payloads as received. */
async function listen(schema: string) {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  const received: { topic: string; payload: string }[] = [];
  client.on('notification', (n) =>
    received.push({ topic: n.channel.slice(schema.length + 1), payload: n.payload ?? '' }),
  );
  for (const topic of Object.values(protocol.topics))
    await client.query(`LISTEN "${schema}.${topic}"`);
  return {
    received,
    /** The next notification on `topic` after `from` received ones. */
    async next(topic: string, from: number) {
      return waitFor(`a ${topic} notification`, async () =>
        received.slice(from).find((r) => r.topic === topic),
      );
    },
    close: () => client.end(),
  };
}

describe('control across languages', () => {
  let db: InteropSchema;
  let target: { prefix: string; schema: string };
  beforeAll(async () => {
    db = await interopSchema('rctl');
    target = { prefix: schemaPrefix(db.schema), schema: db.schema };
  });
  afterAll(() => db.close());

  it("stops Eddy's claims when Go River pauses the queue, or every queue, until it resumes", async () => {
    const eddy = createClient({ driver: db.driver, schema: db.schema });
    const runner = createRunner({
      driver: db.driver,
      schema: db.schema,
      queues: { ctl: {} },
      workers: [defineWorker('eddy_ctl', async () => undefined)],
    });
    await runner.tick({ budgetMs: 1000 }); // registers the queue, as River's producer does
    for (const name of ['ctl', '*']) {
      await go('pause', db.go, '--queue', name);
      const { rows } = await db.pool.query(
        `SELECT paused_at IS NOT NULL AS paused FROM ${db.schema}.river_queue WHERE name = 'ctl'`,
      );
      expect(rows).toEqual([{ paused: true }]);
      await eddy.insertMany(
        [1, 2, 3].map((n) => ({ kind: 'eddy_ctl', args: { n }, options: { queue: 'ctl' } })),
      );
      expect((await runner.tick({ budgetMs: 1000 })).claimed).toBe(0);
      await go('resume', db.go, '--queue', name);
      expect(await runner.tick({ budgetMs: 2000 })).toMatchObject({ claimed: 3, completed: 3 });
    }
  });

  it("stops Go River's fetching when Eddy pauses the queue, at once, until Eddy resumes it", async () => {
    const worker = await startGoWorker(db.go, { queues: { ctl_go: 5 } });
    try {
      // Go is fetching: a probe job completes.
      const [probe] = await goInsert(db.go, { jobs: [{ kind: 'go_complete', queue: 'ctl_go' }] });
      await waitFor(
        'Go to complete the probe',
        async () => (await db.jobs('id = $1', [probe?.id]))[0]?.state === 'completed',
      );

      expect(await pauseQueue(new Database(db.driver), target, 'ctl_go')).toBe(true);
      const inserted = await goInsert(db.go, {
        jobs: [1, 2, 3].map((n) => ({ kind: 'go_complete', args: { n }, queue: 'ctl_go' })),
      });
      const ids = inserted.map((r) => r.id);
      await sleep(3000); // River polls its queue settings once a minute: only the notification acts this soon
      expect((await db.jobs('id = ANY($1)', [ids])).map((r) => r.state)).toEqual([
        'available',
        'available',
        'available',
      ]);

      expect(await resumeQueue(new Database(db.driver), target, 'ctl_go')).toBe(true);
      await waitFor('Go to complete the jobs once resumed', async () =>
        (await db.jobs('id = ANY($1)', [ids])).every((r) => r.state === 'completed'),
      );
    } finally {
      await worker.stop();
    }
  });

  it('refuses a bad queue name before the database, and reports a queue that does not exist', async () => {
    const database = new Database(db.driver);
    await expect(pauseQueue(database, target, 'Not A Queue')).rejects.toThrow(
      /queue .*not a queue name River accepts.*'\*' for every queue/,
    );
    expect(await pauseQueue(database, target, 'no_such_queue')).toBe(false);
  });

  it("receives every notification River sends as protocol_values.json gives it, and Eddy's are byte for byte Go's", async () => {
    const listener = await listen(db.schema);
    const bytes = new Map<string, string>();
    try {
      // The fixture's job is 42 in queue "priority".
      await db.pool.query(`SELECT setval('${db.schema}.river_job_id_seq', 41)`);
      await db.pool.query(
        `INSERT INTO ${db.schema}.river_queue (name, metadata) VALUES ('priority', '{}')`,
      );
      const steps: [string, () => Promise<unknown>][] = [
        ['insert', () => goInsert(db.go, { jobs: [{ kind: 'go_complete', queue: 'priority' }] })],
        ['cancel', () => go('cancel', db.go, '--id', '42')],
        ['pause', () => go('pause', db.go, '--queue', 'priority')],
        ['resume', () => go('resume', db.go, '--queue', 'priority')],
        [
          'metadata_changed',
          () =>
            go('queue-metadata', db.go, '--queue', 'priority', '--metadata', '{"owner":"rust"}'),
        ],
        ['request_resign', () => go('request-resign', db.go)],
        ['resigned', () => go('lead', db.go, '--id', 'client-1')],
      ];
      for (const [name, step] of steps) {
        const spec = protocol.notifications.find((n) => n.name === name);
        const from = listener.received.length;
        await step();
        const got = await listener.next(spec?.topic as string, from);
        expect(JSON.parse(got.payload), name).toEqual(spec?.payload);
        bytes.set(name, got.payload);
      }
      // The bytes River sends: its client's json.Marshal for control and leadership requests
      // (compact, the fixture's key order), fmt.Sprintf for inserts, and PostgreSQL's
      // json_build_object for a cancel and a resignation (spaced; leader_id first).
      expect(Object.fromEntries(bytes)).toEqual({
        insert: '{"queue": "priority"}',
        cancel: '{"action" : "cancel", "job_id" : 42, "queue" : "priority"}',
        pause: '{"action":"pause","queue":"priority"}',
        resume: '{"action":"resume","queue":"priority"}',
        metadata_changed:
          '{"action":"metadata_changed","metadata":{"owner":"rust"},"queue":"priority"}',
        request_resign: '{"action":"request_resign","leader_id":""}',
        resigned: '{"leader_id" : "client-1", "action" : "resigned"}',
      });

      // Eddy's own: an insert, a pause and a resume, as Go sent them.
      const database = new Database(db.driver);
      const eddyNotifications: [string, string, () => Promise<unknown>][] = [
        [
          'insert',
          'river_insert',
          () =>
            createClient({ driver: db.driver, schema: db.schema, notify: true }).insert(
              'eddy_ctl',
              {},
              { queue: 'priority' },
            ),
        ],
        ['pause', 'river_control', () => pauseQueue(database, target, 'priority')],
        ['resume', 'river_control', () => resumeQueue(database, target, 'priority')],
      ];
      for (const [name, topic, step] of eddyNotifications) {
        const from = listener.received.length;
        await step();
        const got = await listener.next(topic, from);
        expect(got.payload, name).toBe(bytes.get(name));
      }
    } finally {
      await listener.close();
    }
  });

  // Through the Node loop's LISTEN on <schema>.river_control.
  it('a JobCancel from Go aborts a job Eddy is running, leaving the row as Go River leaves it', async () => {
    // What Go River leaves: its own go_block job, cancelled by JobCancel while it runs.
    const worker = await startGoWorker(db.go, { queues: { cancel_go: 2 } });
    let reference: Record<string, any> | undefined;
    try {
      const [job] = await goInsert(db.go, { jobs: [{ kind: 'go_block', queue: 'cancel_go' }] });
      await waitFor(
        'Go to start go_block',
        async () => (await db.runs('job_id = $1', [job?.id])).length === 1,
      );
      await go('cancel', db.go, '--id', String(job?.id));
      reference = await waitFor('Go to cancel go_block', async () => {
        const [row] = await db.jobs('id = $1', [job?.id]);
        return row?.state === 'cancelled' ? row : undefined;
      });
    } finally {
      await worker.stop();
    }

    const aborted: string[] = [];
    const runner = createRunner({
      driver: db.driver,
      schema: db.schema,
      queues: { cancel_eddy: {} },
      workers: [
        defineWorker(
          'eddy_block',
          async (_job, ctx) => {
            await new Promise<void>((resolve) => {
              ctx.signal.addEventListener('abort', () => {
                aborted.push(String(ctx.signal.reason));
                resolve();
              });
            });
            ctx.signal.throwIfAborted();
          },
          { timeoutMs: 60_000 },
        ),
      ],
    });
    const eddy = createClient({ driver: db.driver, schema: db.schema });
    const { job } = await eddy.insert('eddy_block', {}, { queue: 'cancel_eddy' });
    const loop = startLoop(runner, {
      pollIntervalMs: 200,
      tickBudgetMs: 30_000,
      handleSignals: false,
    });
    try {
      await waitFor(
        'Eddy to start eddy_block',
        async () => (await db.jobs('id = $1', [job.id]))[0]?.state === 'running',
      );
      await go('cancel', db.go, '--id', String(job.id));
      const row = await waitFor(
        'the cancel to reach the job Eddy runs',
        async () => {
          const [r] = await db.jobs('id = $1', [job.id]);
          return r?.state === 'cancelled' ? r : undefined;
        },
        10_000,
      );
      expect(aborted).toHaveLength(1);
      expect(row.finalized_at).toBeInstanceOf(Date);
      expect(Object.keys(row.metadata).sort()).toEqual(
        Object.keys(reference?.metadata ?? {}).sort(),
      );
      expect(row.metadata.cancel_attempted_at).toEqual(expect.any(String));
      expect(row.errors?.map((e: any) => [e.attempt, e.error])).toEqual(
        reference?.errors?.map((e: any) => [e.attempt, e.error]),
      );
    } finally {
      await loop.stop();
    }
  });
});
