/**
 * The example Worker (wrangler.toml → examples/worker/index.ts), bundled as for a deploy and run
 * in workerd through Miniflare, on the unmodified Neon HTTP driver, against the real PostgreSQL
 * behind the local Neon endpoint. Outcomes are read from the database.
 */

import { Miniflare } from 'miniflare';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createNeonLocal, type NeonLocal } from '../adapters/neon-local/index.js';
import { nodePostgres } from '../adapters/node-postgres/index.js';
import { bundleWorker } from '../examples/bundle-worker.js';
import { CREATE_USERS_TABLE } from '../examples/worker/users.js';
import { readWranglerConfig } from '../examples/wrangler-config.js';
import { type Client, createClient } from '../src/client.js';
import { createKick } from '../src/http/kick.js';
import { migrate } from '../src/migrate.js';
import { currentLease } from '../src/ops/lease.js';
import type { TickStats } from '../src/runner/runner.js';
import { createDatabase, DATABASE_URL } from './support/postgres.js';

const SECRET = 'test-tick-secret-of-at-least-32-chars';
const CRON = '* * * * *';
const config = readWranglerConfig();

type LoggedTick = TickStats & { trigger: string };

interface RunningWorker {
  url: URL;
  ticks: LoggedTick[];
  logs: string[];
  scheduled(): Promise<string>;
  dispose(): Promise<void>;
}

let local: NeonLocal;
let database: { url: string; drop: () => Promise<void> };
let pool: pg.Pool;
let eddy: Client;
let script: string;
const started: RunningWorker[] = [];

/** Starts the bundled Worker in workerd with the demo's bindings plus `vars`. */
async function startWorker(vars: Record<string, string> = {}): Promise<RunningWorker> {
  const ticks: LoggedTick[] = [];
  const logs: string[] = [];
  const mf = new Miniflare({
    name: config.name,
    modules: true,
    script,
    compatibilityDate: config.compatibilityDate,
    compatibilityFlags: config.compatibilityFlags,
    bindings: {
      DATABASE_URL: local.connectionString(new URL(database.url).pathname.slice(1)),
      NEON_FETCH_ENDPOINT: local.fetchEndpoint,
      TICK_SECRET: SECRET,
      ...vars,
    },
    structuredWorkerdLogs: true,
    handleStructuredLogs: ({ message }: { message: string }) => {
      logs.push(message);
      if (message.startsWith('{"message":"eddy tick"')) ticks.push(JSON.parse(message));
    },
  });
  const url = await mf.ready;
  const worker = (await mf.getWorker()) as unknown as {
    scheduled(o: { cron: string; scheduledTime: Date }): Promise<{ outcome: string }>;
  };
  const running: RunningWorker = {
    url,
    ticks,
    logs,
    scheduled: async () =>
      (await worker.scheduled({ cron: CRON, scheduledTime: new Date() })).outcome,
    dispose: () => mf.dispose(),
  };
  started.push(running);
  return running;
}

async function jobs(kind?: string) {
  const { rows } = await pool.query(
    `SELECT id, kind, state::text AS state, attempt, args, metadata, errors, attempted_by
     FROM river_job ${kind ? 'WHERE kind = $1' : ''} ORDER BY id`,
    kind ? [kind] : [],
  );
  return rows;
}

const userId = () => crypto.randomUUID();

/**
 * A tick's counts without the periodic `report_signups` job it enqueued and ran itself (each
 * test starts from an empty table, so the current minute's slot comes due again).
 */
function own(stats: TickStats) {
  return {
    claimed: stats.claimed - stats.periodicEnqueued,
    completed: stats.completed - stats.periodicEnqueued,
    retried: stats.retried,
    snoozed: stats.snoozed,
  };
}

async function insertWelcomeEmails(count: number, latencyMs: number) {
  return eddy.insertMany(
    Array.from({ length: count }, (_, i) => ({
      kind: 'send_welcome_email',
      args: { userId: userId(), email: `user${i}@example.com`, latencyMs },
    })),
  );
}

/** Polls `check` until it returns true, for at most `ms`. */
async function eventually(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  database = await createDatabase('eddy_cf');
  pool = new pg.Pool({ connectionString: database.url, max: 3 });
  await migrate(nodePostgres(pool));
  await pool.query(CREATE_USERS_TABLE);
  eddy = createClient({ driver: nodePostgres(pool) });
  local = await createNeonLocal({ databaseUrl: DATABASE_URL });
  script = (await bundleWorker(config.main, { compatibilityFlags: config.compatibilityFlags }))
    .code;
});

afterAll(async () => {
  for (const worker of started) await worker.dispose().catch(() => undefined);
  await local?.close();
  await pool?.end();
  await database?.drop();
});

beforeEach(async () => {
  await pool.query('TRUNCATE river_job, demo_users');
});

describe('the example Worker in workerd', () => {
  let worker: RunningWorker;
  beforeAll(async () => {
    worker = await startWorker();
  });

  it('works jobs on a cron trigger over the Neon HTTP driver: completes, retries, snoozes, runs periodic jobs', async () => {
    await insertWelcomeEmails(2, 0);
    const id = userId();
    await eddy.insertMany([
      { kind: 'sync_crm_contact', args: { userId: id, email: 'ada@example.com' } },
      { kind: 'await_email_verification', args: { userId: id } },
    ]);

    expect(await worker.scheduled()).toBe('ok');
    const tick = worker.ticks.at(-1) as LoggedTick;
    expect(tick.trigger).toBe(CRON);
    expect(tick.periodicEnqueued).toBe(1);
    expect(own(tick)).toEqual({ claimed: 4, completed: 2, retried: 1, snoozed: 1 });
    const after = await jobs();
    const byKind = (kind: string) => after.filter((j) => j.kind === kind);
    expect(byKind('send_welcome_email').map((j) => j.state)).toEqual(['completed', 'completed']);
    expect(byKind('send_welcome_email')[0].attempted_by[0]).toMatch(/:eddy-[0-9a-f]+$/);
    expect(byKind('report_signups')).toMatchObject([
      { state: 'completed', metadata: { periodic: 'report_signups' } },
    ]);
    expect(byKind('sync_crm_contact')).toMatchObject([{ state: 'retryable', attempt: 1 }]);
    expect(byKind('sync_crm_contact')[0].errors[0].error).toContain('CRM unavailable');
    expect(byKind('await_email_verification')).toMatchObject([
      { state: 'scheduled', attempt: 0, metadata: { snoozes: 1 } },
    ]);

    // Bring the retry and the snooze due instead of waiting out their delays, then tick.
    for (let round = 0; round < 2; round++) {
      await pool.query(
        "UPDATE river_job SET scheduled_at = now() WHERE state IN ('retryable', 'scheduled')",
      );
      expect(await worker.scheduled()).toBe('ok');
    }
    expect(await jobs('sync_crm_contact')).toMatchObject([{ state: 'completed', attempt: 3 }]);
    expect((await jobs('sync_crm_contact'))[0].errors).toHaveLength(2);
    expect(await jobs('await_email_verification')).toMatchObject([
      { state: 'completed', attempt: 1, metadata: { snoozes: 2 } },
    ]);
  });

  it("leases a cron tick's jobs for its budget plus the recording time, not Cloudflare's 15 minutes", async () => {
    await insertWelcomeEmails(1, 0);
    const firedAt = Date.now();
    expect(await worker.scheduled()).toBe('ok');
    const [job] = await jobs('send_welcome_email');
    expect(job.state).toBe('completed');
    const lease = currentLease(job.attempted_by);
    // 50 s budget + 30 s to record + the runner's 15 s margin: an early death (the CPU limit, an
    // isolate reset) holds the claimed jobs about a minute and a half, not 15 minutes.
    const heldMs = (lease?.expiresAt ?? Number.POSITIVE_INFINITY) - firedAt;
    expect(heldMs).toBeGreaterThan(50_000);
    expect(heldMs).toBeLessThanOrEqual(95_000 + 5_000);
  });

  it('refuses POST /tick without the secret or with a wrong one, and runs no tick', async () => {
    await insertWelcomeEmails(1, 0);
    const ticksBefore = worker.ticks.length;
    const missing = await fetch(new URL('/tick', worker.url), { method: 'POST' });
    const wrong = await fetch(new URL('/tick', worker.url), {
      method: 'POST',
      headers: { authorization: 'Bearer not-the-secret' },
    });
    expect([missing.status, wrong.status]).toEqual([401, 401]);
    expect(await jobs('send_welcome_email')).toMatchObject([{ state: 'available', attempt: 0 }]);
    expect(worker.ticks.length).toBe(ticksBefore);

    const right = await fetch(new URL('/tick', worker.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${SECRET}` },
    });
    expect(right.status).toBe(200);
    expect(own((await right.json()) as TickStats)).toMatchObject({ claimed: 1, completed: 1 });
    expect(await jobs('send_welcome_email')).toMatchObject([{ state: 'completed', attempt: 1 }]);
  });

  it('accepts a signed kick from another service and answers before the tick ends', async () => {
    await insertWelcomeEmails(1, 3_000);
    const errors: unknown[] = [];
    const kick = createKick({
      url: new URL('/tick', worker.url).href,
      secret: SECRET,
      onError: (e) => errors.push(e),
    });
    const startedAt = Date.now();
    await kick();
    expect(errors).toEqual([]);
    expect(Date.now() - startedAt).toBeLessThan(3_000);
    expect((await jobs('send_welcome_email'))[0]?.state).not.toBe('completed');
    await eventually(async () => (await jobs('send_welcome_email'))[0]?.state === 'completed');
  });

  it('commits the user row and their jobs in one transaction on POST /signup, then kicks a tick', async () => {
    const response = await fetch(new URL('/signup', worker.url), {
      method: 'POST',
      body: JSON.stringify({ email: 'ada@example.com' }),
    });
    expect(response.status).toBe(201);
    const body = (await response.json()) as { userId: string; jobs: { kind: string }[] };
    expect(body.jobs.map((j) => j.kind)).toEqual([
      'send_welcome_email',
      'sync_crm_contact',
      'await_email_verification',
    ]);
    const { rows: users } = await pool.query('SELECT id, email FROM demo_users');
    expect(users).toEqual([{ id: body.userId, email: 'ada@example.com' }]);
    const created = (await jobs()).filter((j) => j.kind !== 'report_signups');
    expect(created).toHaveLength(3);
    for (const job of created) expect(job.args.userId).toBe(body.userId);
    // The kick ran a tick in the same invocation, without a cron trigger.
    await eventually(async () => (await jobs('send_welcome_email'))[0]?.state === 'completed');
    expect(worker.ticks.some((t) => t.trigger === 'kick')).toBe(true);

    // The same email again: the user insert fails, so the jobs are not enqueued either.
    const duplicate = await fetch(new URL('/signup', worker.url), {
      method: 'POST',
      body: JSON.stringify({ email: 'ada@example.com' }),
    });
    expect(duplicate.status).toBe(409);
    const invalid = await fetch(new URL('/signup', worker.url), {
      method: 'POST',
      body: JSON.stringify({ email: 'not an email' }),
    });
    expect(invalid.status).toBe(400);
    expect((await pool.query('SELECT count(*)::int AS n FROM demo_users')).rows[0].n).toBe(1);
    expect((await jobs()).filter((j) => j.kind !== 'report_signups')).toHaveLength(3);
  });

  it("stays within the Free plan's 50 subrequests per tick with the default settings", async () => {
    // More than one tick's statements can take: the tick stops claiming at maxStatements
    // (default 30), lets what it holds finish, flushes and returns.
    await insertWelcomeEmails(1_050, 0);
    expect(await worker.scheduled()).toBe('ok');
    const tick = worker.ticks.at(-1) as LoggedTick;
    expect(tick.trigger).toBe(CRON);
    // Maintenance (promote, rescue, delete, periodic; queue registration on an isolate's first
    // tick), claims and flushes: every one an HTTP request, none past the cap.
    expect(tick.statements).toBeLessThanOrEqual(30);
    expect(tick.statements).toBeGreaterThanOrEqual(tick.claims + tick.flushes + 3);
    // Everything it claimed it finished: nothing left running, nothing handed back.
    expect(tick.claimed).toBeGreaterThan(0);
    expect(tick.completed).toBe(tick.claimed);
    const done = tick.completed - tick.periodicEnqueued;

    const counts = async () =>
      (
        await pool.query(
          "SELECT state::text AS state, count(*)::int AS n FROM river_job WHERE kind = 'send_welcome_email' GROUP BY 1 ORDER BY 1",
        )
      ).rows;
    expect(await counts()).toEqual(
      done === 1_050
        ? [{ state: 'completed', n: 1_050 }]
        : [
            { state: 'available', n: 1_050 - done },
            { state: 'completed', n: done },
          ],
    );
    // Later ticks take the rest, each within the cap.
    for (let i = 0; i < 10 && (await counts()).length > 1; i++) {
      expect(await worker.scheduled()).toBe('ok');
      expect((worker.ticks.at(-1) as LoggedTick).statements).toBeLessThanOrEqual(30);
    }
    expect(await counts()).toEqual([{ state: 'completed', n: 1_050 }]);
  });
});

describe('the example Worker with a small cron budget', () => {
  it('snoozes what a tick cannot finish within its budget, and the next tick finishes it', async () => {
    const worker = await startWorker({ CRON_BUDGET_MS: '1500' });
    await insertWelcomeEmails(1, 0);
    const [slow] = await insertWelcomeEmails(1, 4_000);

    const startedAt = Date.now();
    expect(await worker.scheduled()).toBe('ok');
    expect(Date.now() - startedAt).toBeLessThan(3_500);
    expect(own(worker.ticks.at(-1) as LoggedTick)).toEqual({
      claimed: 2,
      completed: 1,
      retried: 0,
      snoozed: 1,
    });
    const [stopped] = (await jobs('send_welcome_email')).filter(
      (j) => j.id === String(slow?.job.id),
    );
    // Snoozed, not failed: available again at once, the attempt given back, no error recorded.
    expect(stopped).toMatchObject({
      state: 'available',
      attempt: 0,
      errors: null,
      metadata: { snoozes: 1 },
    });

    // A pushed tick has the default 25 s budget: the 4 s job fits.
    const response = await fetch(new URL('/tick', worker.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${SECRET}` },
    });
    expect(own((await response.json()) as TickStats)).toMatchObject({ claimed: 1, completed: 1 });
    expect((await jobs('send_welcome_email')).map((j) => j.state)).toEqual([
      'completed',
      'completed',
    ]);
  });
});
