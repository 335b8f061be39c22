/**
 * River's own fixtures (../shared/river-compat) as tests, without Go: cron schedules, snooze
 * counters, job-state bits, metadata key names, the AttemptError encoding and the insert
 * notification. What Go River itself does with Eddy's rows is test/river-interop/ (npm run
 * test:river).
 */

import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../src/client.js';
import { ValidationError } from '../src/errors.js';
import type { JobState } from '../src/job.js';
import { JobSnooze } from '../src/job-outcome.js';
import { parseSchedule } from '../src/runner/cron-schedule.js';
import { definePeriodicJob, periodicInserts } from '../src/runner/periodic.js';
import { createRunner } from '../src/runner/runner.js';
import { nextSnoozeCount } from '../src/sql/snooze-count.js';
import { compactJson, type JsonNode, parseJsonExact } from '../src/unique/json-canonical.js';
import { uniqueStatesMask } from '../src/unique/unique-key.js';
import { defineWorker } from '../src/worker.js';
import { DATABASE_URL } from './support/postgres.js';
import { type RiverSchema, riverSchema } from './support/river.js';

const fixtures = new URL('../../shared/river-compat/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, fixtures), 'utf8');
const maintenance = JSON.parse(read('maintenance_values.json')) as {
  cron_cases: { name: string; expression: string; from: string; next: string[] }[];
  cron_invalid: string[];
  snooze_counters: { name: string; metadata: Record<string, unknown>; expected_snoozes: number }[];
};
const protocol = JSON.parse(read('protocol_values.json')) as {
  attempt_error: { at: string; attempt: number; error: string; trace: string };
  job_states: { state: JobState; unique_bit: number }[];
  metadata_keys: Record<string, string>;
  notifications: { name: string; topic: string; payload: Record<string, unknown> }[];
};

/** A member of a fixture parsed losslessly (numbers keep their digits: 9007199254740993). */
function member(node: JsonNode | undefined, key: string): JsonNode | undefined {
  return node?.type === 'object' ? node.members.find((m) => m.key === key)?.value : undefined;
}
const exactMaintenance = parseJsonExact(read('maintenance_values.json'), 'maintenance');
const exactProtocol = parseJsonExact(read('protocol_values.json'), 'protocol');
/** Each snooze case's metadata as JSON text and its expected count as digits. */
const snoozeCases = new Map(
  (() => {
    const list = member(exactMaintenance, 'snooze_counters');
    return list?.type === 'array' ? list.items : [];
  })().map((item) => {
    const name = JSON.parse(compactJson(member(item, 'name') as JsonNode)) as string;
    const metadata = compactJson(member(item, 'metadata') as JsonNode);
    return [
      name,
      { metadata, expected: compactJson(member(item, 'expected_snoozes') as JsonNode) },
    ];
  }),
);

/** Eddy's deliberate differences from River's cron dialect, as the README lists them. */
const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe("River's cron fixtures through Eddy's schedule logic", () => {
  // River evaluates a schedule in the zone of the time it is given; Eddy's equivalent is the
  // `timezone` option (a CRON_TZ= prefix wins in both).
  const zoneOf = (from: string) => /([+-][0-9]{2}:[0-9]{2})$/.exec(from)?.[1];

  it.each(maintenance.cron_cases)('$name: $expression', ({ expression, from, next }) => {
    const prefixed = /^(CRON_)?TZ=/.test(expression);
    const schedule = parseSchedule(expression, {
      timezone: prefixed ? undefined : zoneOf(from),
    });
    const times: string[] = [];
    let t: Date | undefined = new Date(from);
    while (times.length < 5 && t) {
      t = schedule.next(t);
      if (t) times.push(t.toISOString());
    }
    expect(times).toEqual(next.map((n) => new Date(n).toISOString()));
  });

  it('refuses every invalid expression with a ValidationError naming the schedule, except those the README lists', () => {
    const accepted: string[] = [];
    for (const expression of maintenance.cron_invalid) {
      try {
        definePeriodicJob({ kind: 'report', schedule: expression });
        accepted.push(expression);
      } catch (error) {
        expect(error, expression).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).message, expression).toMatch(
          /^definePeriodicJob\(report\): schedule '.*' is not a valid cron expression: .{10,}/,
        );
        expect((error as ValidationError).issues[0]?.path).toBe('schedule');
      }
    }
    // Each accepted one is a deliberate extension, listed with its reason in the README.
    expect(accepted).toEqual(['* * * * * *']);
    for (const expression of accepted) expect(README).toContain(`| \`${expression}\` |`);
  });

  it('refuses the schedules a new user tried that ran every minute: empty and four fields', () => {
    expect(() => definePeriodicJob({ kind: 'report', schedule: '' })).toThrow(/is empty/);
    expect(() => definePeriodicJob({ kind: 'report', schedule: '0 3 * *' })).toThrow(
      /has 4 fields; a cron expression has 5/,
    );
  });

  it('refuses a schedule that never comes due, which River would accept and never run', () => {
    expect(() => definePeriodicJob({ kind: 'report', schedule: '0 0 30 2 *' })).toThrow(
      /never comes due/,
    );
  });
});

describe("River's protocol values", () => {
  it('gives each job state its unique_states bit', () => {
    for (const { state, unique_bit } of protocol.job_states) {
      expect(uniqueStatesMask([state]).mask, state).toBe(unique_bit);
    }
  });

  it("writes River's metadata key for periodic jobs", async () => {
    const job = definePeriodicJob({ kind: 'report', schedule: '0 * * * *', workedElsewhere: true });
    const [item] = await periodicInserts([job], new Date('2026-01-02T03:04:05Z'), false);
    expect(item?.options?.metadata).toMatchObject({
      [protocol.metadata_keys.periodic_job_id as string]: 'report',
    });
  });
});

describe("River's snooze counters and metadata keys in PostgreSQL", () => {
  let river: RiverSchema;

  beforeAll(async () => {
    river = await riverSchema('fixt');
  });
  afterAll(() => river.close());

  it('reads every snooze_counters case with the SQL of src/sql/snooze-count.ts', async () => {
    expect(snoozeCases.size).toBe(maintenance.snooze_counters.length);
    for (const [name, { metadata, expected }] of snoozeCases) {
      const { rows } = await river.pool.query(
        `SELECT (${nextSnoozeCount('$1::jsonb')})::text AS next`,
        [metadata],
      );
      expect(rows[0].next, name).toBe(expected);
    }
  });

  // Fails until src/sql/job-complete.ts counts snoozes with nextSnoozeCount (it reads
  // `(metadata->>'snoozes')::int`, which refuses 2.9 and reads " 5" as 5).
  it.each(maintenance.snooze_counters)(
    'snooze_counters through the runner: $name ends with River’s count',
    async ({ name }) => {
      const client = createClient({ driver: river.driver, schema: river.schema });
      const kind = `snooze_${name}`;
      const { job } = await client.insert(kind, {});
      await river.pool.query(
        `UPDATE ${river.schema}.river_job SET metadata = $2::jsonb WHERE id = $1`,
        [job.id, snoozeCases.get(name)?.metadata],
      );
      const runner = createRunner({
        driver: river.driver,
        schema: river.schema,
        workers: [
          defineWorker(kind, async () => {
            throw new JobSnooze(60_000);
          }),
        ],
      });
      await runner.tick({ budgetMs: 5000 });
      const [row] = await river.jobs('id = $1', [job.id]);
      const { rows } = await river.pool.query(
        `SELECT metadata->>'snoozes' AS snoozes FROM ${river.schema}.river_job WHERE id = $1`,
        [job.id],
      );
      expect({ state: row?.state, snoozes: rows[0].snoozes }).toEqual({
        state: 'scheduled',
        snoozes: snoozeCases.get(name)?.expected,
      });
    },
  );

  it("stores a worker's output under River's key", async () => {
    const client = createClient({ driver: river.driver, schema: river.schema });
    const { job } = await client.insert('with_output', {});
    const runner = createRunner({
      driver: river.driver,
      schema: river.schema,
      workers: [defineWorker('with_output', async () => ({ rows: 3 }))],
    });
    await runner.tick({ budgetMs: 5000 });
    const [row] = await river.jobs('id = $1', [job.id]);
    expect(row?.metadata[protocol.metadata_keys.output as string]).toEqual({ rows: 3 });
  });

  it("counts a rescue under River's key, as River's rescuer does", async () => {
    const client = createClient({ driver: river.driver, schema: river.schema });
    const { job } = await client.insert('rescued', {});
    // Claimed by an Eddy runner whose lease ran out long ago, rescued once before by River.
    await river.pool.query(
      `UPDATE ${river.schema}.river_job SET state = 'running', attempt = 1, attempted_at = now(),
         attempted_by = ARRAY['eddy:1000:abc:dead-runner'],
         metadata = '{"river:rescue_count": 1}' WHERE id = $1`,
      [job.id],
    );
    const runner = createRunner({
      driver: river.driver,
      schema: river.schema,
      workers: [defineWorker('other', async () => undefined)],
    });
    const stats = await runner.tick({ budgetMs: 2000 });
    expect(stats.rescued).toBe(1);
    const [row] = await river.jobs('id = $1', [job.id]);
    expect(row?.state).toBe('retryable');
    expect(row?.metadata[protocol.metadata_keys.rescue_count as string]).toBe(2);
  });

  it("reads River's AttemptError encoding, and writes its own the same way", async () => {
    const client = createClient({ driver: river.driver, schema: river.schema });
    const { job } = await client.insert('fails', {});
    const attemptError = compactJson(member(exactProtocol, 'attempt_error') as JsonNode);
    await river.pool.query(
      `UPDATE ${river.schema}.river_job SET errors = ARRAY[$2::jsonb], attempt = 3, max_attempts = 9,
         scheduled_at = '2026-01-01T00:00:00Z' WHERE id = $1`,
      [job.id, attemptError],
    );
    const seen: unknown[] = [];
    const runner = createRunner({
      driver: river.driver,
      schema: river.schema,
      now: () => new Date('2026-01-02T03:04:05.678Z'),
      workers: [
        defineWorker('fails', async (running) => {
          seen.push(running.errors);
          const error = new Error('worker failed: escaped "detail"');
          error.stack = 'frame one\nframe two';
          throw error;
        }),
      ],
    });
    await runner.tick({ budgetMs: 5000 });
    // As River wrote it, to the worker...
    expect(seen).toEqual([[protocol.attempt_error]]);
    // ...and Eddy's own entry in the same shape: the four keys, `at` as RFC 3339 UTC.
    const { rows } = await river.pool.query(
      `SELECT errors[2]::text AS mine, jsonb_typeof(errors[2]->'attempt') AS attempt_type FROM ${river.schema}.river_job WHERE id = $1`,
      [job.id],
    );
    expect(JSON.parse(rows[0].mine)).toEqual({
      at: '2026-01-02T03:04:05.678Z',
      attempt: 4,
      error: protocol.attempt_error.error,
      trace: protocol.attempt_error.trace,
    });
    expect(rows[0].attempt_type).toBe('number');
  });

  it('qualifies the insert channel with the current schema when none is named, where River listens', async () => {
    const scoped = new pg.Pool({
      connectionString: DATABASE_URL,
      max: 1,
      options: `-c search_path=${river.schema}`,
    });
    const listener = new pg.Client({ connectionString: DATABASE_URL });
    await listener.connect();
    const channels: string[] = [];
    listener.on('notification', (n) => channels.push(n.channel));
    try {
      await listener.query(`LISTEN "${river.schema}.river_insert"`);
      const { nodePostgres } = await import('../adapters/node-postgres/index.js');
      await createClient({ driver: nodePostgres(scoped), notify: true }).insert('unscoped', {});
      await listener.query('SELECT 1');
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await listener.end();
      await scoped.end();
    }
    expect(channels).toEqual([`${river.schema}.river_insert`]);
  });

  it("sends the insert notification's exact payload", async () => {
    const listener = new pg.Client({ connectionString: DATABASE_URL });
    await listener.connect();
    const payloads: { channel: string; payload: string | undefined }[] = [];
    listener.on('notification', (n) => payloads.push({ channel: n.channel, payload: n.payload }));
    const spec = protocol.notifications.find((n) => n.name === 'insert');
    try {
      await listener.query(`LISTEN "${river.schema}.${spec?.topic}"`);
      const client = createClient({ driver: river.driver, schema: river.schema, notify: true });
      await client.insert('notified', {}, { queue: spec?.payload.queue as string });
      await listener.query('SELECT 1');
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await listener.end();
    }
    // The fixture's object, in the bytes River's client writes (`{"queue": %q}`; the bytes
    // Go River sends are compared in test/river-interop/control.test.ts).
    expect(payloads.map((p) => JSON.parse(p.payload ?? ''))).toEqual([spec?.payload]);
    expect(payloads).toEqual([
      { channel: `${river.schema}.river_insert`, payload: '{"queue": "priority"}' },
    ]);
  });
});
