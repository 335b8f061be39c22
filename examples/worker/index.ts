/**
 * An example Cloudflare Worker (see `wrangler.toml` at the repository root): works Eddy's jobs
 * on a Cron Trigger and on `POST /tick`, and enqueues them from `POST /signup` in the same Neon
 * HTTP transaction as the user row, then kicks a tick in this invocation so they start at once.
 *
 * Secrets: `DATABASE_URL` (a Neon connection string) and `TICK_SECRET` (guards `POST /tick`).
 * `NEON_FETCH_ENDPOINT` points the Neon driver at a local endpoint (`eddy neon-local`,
 * `npm run demo`); leave it unset in production.
 */

import { neon, neonConfig } from '@neondatabase/serverless';
import {
  createClient,
  createRunner,
  type InsertResult,
  type TickStats,
  ValidationError,
} from 'eddy';
import { createWorker } from 'eddy/cloudflare';
import { type NeonInsert, neonHttp, neonInsert } from 'eddy/neon-http';
import {
  awaitEmailVerification,
  createWorkers,
  periodicJobs,
  sendWelcomeEmail,
  signupInput,
  syncCrmContact,
} from './jobs.js';
import { USERS_TABLE } from './users.js';

export interface Env {
  DATABASE_URL: string;
  TICK_SECRET?: string;
  /** Local development only: the local Neon endpoint's `/sql` URL. */
  NEON_FETCH_ENDPOINT?: string;
  /** Budget of a cron tick in ms (default 50 s). */
  CRON_BUDGET_MS?: string;
  /** Budget of a pushed or kicked tick in ms (default 25 s). */
  PUSH_BUDGET_MS?: string;
}

/** A numeric var (vars are strings), or undefined to keep Eddy's default. */
function numberVar(value: string | undefined): number | undefined {
  return value === undefined || value === '' ? undefined : Number(value);
}

function connect(env: Env) {
  if (!env.DATABASE_URL) {
    throw new Error('DATABASE_URL is not set: run `wrangler secret put DATABASE_URL`');
  }
  if (env.NEON_FETCH_ENDPOINT) neonConfig.fetchEndpoint = env.NEON_FETCH_ENDPOINT;
  const sql = neon(env.DATABASE_URL);
  return { sql, eddy: createClient({ driver: neonHttp(sql) }) };
}

// One connection per environment (an isolate serves one env; tests may start several).
const connections = new WeakMap<Env, ReturnType<typeof connect>>();
function connection(env: Env): ReturnType<typeof connect> {
  let found = connections.get(env);
  if (!found) {
    found = connect(env);
    connections.set(env, found);
  }
  return found;
}

/** One JSON line per tick: Workers Logs indexes its fields; `npm run demo` prints them. */
function logTick(stats: TickStats, trigger: string): void {
  console.log(JSON.stringify({ message: 'eddy tick', trigger, ...stats }));
}

const worker = createWorker<Env>({
  runner: (env) =>
    createRunner({
      driver: neonHttp(connection(env).sql),
      workers: createWorkers(connection(env).sql),
      periodic: periodicJobs,
    }),
  tickSecret: (env) => env.TICK_SECRET,
  scheduledBudgetMs: (env) => numberVar(env.CRON_BUDGET_MS),
  pushBudgetMs: (env) => numberVar(env.PUSH_BUDGET_MS),
  onTick: logTick,
});

/** Signs a user up: the user row and their jobs commit together, or neither does. */
worker.app.post('/signup', async (c) => {
  const input = signupInput.safeParse(await c.req.json().catch(() => undefined));
  if (!input.success) return c.json({ error: 'expected a JSON body { "email": "…" }' }, 400);
  const { email } = input.data;
  const { sql, eddy } = connection(c.env);
  // A batch cannot feed one statement's result into the next, so the id is made here.
  const userId = crypto.randomUUID();

  let enqueue: NeonInsert<typeof sql, InsertResult[]>;
  try {
    enqueue = neonInsert(
      sql,
      await eddy.prepareInsertMany([
        { kind: sendWelcomeEmail, args: { userId, email } },
        { kind: syncCrmContact, args: { userId, email } },
        { kind: awaitEmailVerification, args: { userId } },
      ]),
    );
  } catch (error) {
    if (error instanceof ValidationError) return c.json({ error: error.message }, 400);
    throw error;
  }

  let jobResult: unknown;
  try {
    [, jobResult] = await sql.transaction([
      sql.query(`INSERT INTO ${USERS_TABLE} (id, email) VALUES ($1, $2)`, [userId, email]),
      enqueue.query,
    ]);
  } catch (error) {
    if ((error as { code?: string }).code === '23505') {
      return c.json({ error: `${email} has already signed up` }, 409);
    }
    throw error;
  }
  const jobs = enqueue.read(jobResult);

  // Committed: start a tick now rather than at the next cron minute.
  worker.kick(c.env, c.executionCtx);
  return c.json(
    {
      userId,
      jobs: jobs.map(({ job }) => ({ id: job.id.toString(), kind: job.kind, state: job.state })),
    },
    201,
  );
});

/** Job counts by kind and state: what a tick has done so far. */
worker.app.get('/', async (c) => {
  const { sql } = connection(c.env);
  const rows = await sql.query(
    'SELECT kind, state::text AS state, count(*)::int AS jobs FROM river_job GROUP BY 1, 2 ORDER BY 1, 2',
  );
  const kinds: Record<string, Record<string, number>> = {};
  for (const row of rows as { kind: string; state: string; jobs: number }[]) {
    kinds[row.kind] = { ...kinds[row.kind], [row.state]: row.jobs };
  }
  return c.json({ jobs: kinds, routes: ['POST /signup', 'POST /tick'] });
});

export default worker;
