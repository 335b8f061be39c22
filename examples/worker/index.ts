/**
 * An example Cloudflare Worker (see `wrangler.toml` at the repository root): works Eddy's jobs
 * on a Cron Trigger and on `POST /tick`, and enqueues them from `POST /signup` in the same Neon
 * HTTP transaction as the user row, then kicks a tick in this invocation so they start at once.
 * `GET /jobs` shows job counts by state, behind the same secret as `POST /tick`.
 *
 * Secrets: `DATABASE_URL` (a Neon connection string) and `TICK_SECRET` (guards `POST /tick` and
 * `GET /jobs`). For a local endpoint (`eddy neon-local`, `npm run demo`) set
 * `NEON_FETCH_ENDPOINT` to its `/sql` URL, or `NEON_CONFIG` to the JSON of the `neonConfig` it
 * prints: `.dev.vars` values are strings, so it is parsed here, and `neon()` over HTTP reads
 * only its `fetchEndpoint`. Leave both unset in production.
 */

import { neon, neonConfig } from '@neondatabase/serverless';
import {
  createClient,
  createRunner,
  type InsertResult,
  jobToJSON,
  type TickEndEvent,
  type TickStats,
  ValidationError,
} from 'eddy';
import { createWorker } from 'eddy/cloudflare';
import { type NeonInsert, neonHttp, neonInsert } from 'eddy/neon-http';
import { COUNT_CAP, JOB_COUNTS_SQL } from './job-counts.js';
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
  /**
   * Local development only: `neonConfig` settings as JSON (a string in `.dev.vars`, an object
   * from a JSON binding). Only `fetchEndpoint` matters to `neon()` over HTTP.
   */
  NEON_CONFIG?: string | { fetchEndpoint?: string };
  /** Budget of a cron tick in ms (default 50 s). */
  CRON_BUDGET_MS?: string;
  /** Budget of a pushed or kicked tick in ms (default 25 s). */
  PUSH_BUDGET_MS?: string;
}

/** A numeric var (vars are strings), or undefined to keep Eddy's default. */
function numberVar(value: string | undefined): number | undefined {
  return value === undefined || value === '' ? undefined : Number(value);
}

/** The local endpoint's `/sql` URL from `NEON_FETCH_ENDPOINT` or `NEON_CONFIG`, if set. */
function localFetchEndpoint(env: Env): string | undefined {
  if (env.NEON_FETCH_ENDPOINT) return env.NEON_FETCH_ENDPOINT;
  if (env.NEON_CONFIG === undefined || env.NEON_CONFIG === '') return undefined;
  // Assigning the unparsed string onto neonConfig would set nothing, and neon() would then call
  // https://api.<host>/sql: say what is wrong instead.
  let config: unknown = env.NEON_CONFIG;
  if (typeof config === 'string') {
    try {
      config = JSON.parse(config);
    } catch {
      throw new Error('NEON_CONFIG is not JSON: set it to {"fetchEndpoint":"http://…/sql"}');
    }
  }
  const endpoint = (config as { fetchEndpoint?: unknown } | null)?.fetchEndpoint;
  if (typeof endpoint !== 'string' || endpoint === '')
    throw new Error('NEON_CONFIG has no fetchEndpoint, the one setting neon() over HTTP reads');
  return endpoint;
}

function connect(env: Env) {
  if (!env.DATABASE_URL) {
    throw new Error('DATABASE_URL is not set: run `wrangler secret put DATABASE_URL`');
  }
  const endpoint = localFetchEndpoint(env);
  if (endpoint) neonConfig.fetchEndpoint = endpoint;
  const sql = neon(env.DATABASE_URL);
  return { sql, eddy: createClient({ driver: neonHttp(sql) }) };
}

// One connection per environment (an isolate serves one env; tests may start several).
const connections = new WeakMap<Env, ReturnType<typeof connect>>();
/** The environment's Neon HTTP `sql` and its client (with-dashboard.ts shares them). */
export function connection(env: Env): ReturnType<typeof connect> {
  let found = connections.get(env);
  if (!found) {
    found = connect(env);
    connections.set(env, found);
  }
  return found;
}

/** One JSON line per tick: Workers Logs indexes its fields; `npm run demo` prints them. */
function logTick(stats: TickStats, { source }: TickEndEvent): void {
  console.log(JSON.stringify({ message: 'eddy tick', trigger: source, ...stats }));
}

const worker = createWorker<Env>({
  runner: (env) =>
    createRunner({
      driver: neonHttp(connection(env).sql),
      workers: createWorkers(connection(env).sql),
      periodic: periodicJobs,
      hooks: { onTick: logTick },
    }),
  tickSecret: (env) => env.TICK_SECRET,
  scheduledBudgetMs: (env) => numberVar(env.CRON_BUDGET_MS),
  pushBudgetMs: (env) => numberVar(env.PUSH_BUDGET_MS),
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

  // Committed: start a tick now rather than at the next cron minute. A burst of signups costs
  // no burst of ticks: the adapter runs one kicked tick at a time per isolate, with one more
  // queued, and joins later kicks to that one.
  worker.kick(c.env, c.executionCtx);
  // job.id is a bigint, which JSON cannot carry: jobToJSON gives it as a string.
  return c.json({ userId, jobs: jobs.map(({ job }) => jobToJSON(job)) }, 201);
});

/** Public, and touches no database: anyone may call it, so it costs nothing. */
worker.app.get('/', (c) =>
  c.json({
    name: 'eddy-example',
    routes: ['POST /signup', 'GET /jobs (Authorization: Bearer $TICK_SECRET)', 'POST /tick'],
  }),
);

/** Whether the request carries `Authorization: Bearer <secret>`, compared in constant time. */
async function hasBearer(request: Request, secret: string): Promise<boolean> {
  const digest = async (text: string) =>
    new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  const [given, expected] = await Promise.all([
    digest(request.headers.get('authorization') ?? ''),
    digest(`Bearer ${secret}`),
  ]);
  let difference = 0;
  for (let i = 0; i < expected.length; i++) difference |= (given[i] ?? 0) ^ (expected[i] ?? 0);
  return difference === 0;
}

/** Job counts by state, for operators: behind the tick secret, and bounded (see job-counts.ts). */
worker.app.get('/jobs', async (c) => {
  const secret = c.env.TICK_SECRET;
  if (!secret) return c.json({ error: 'disabled: no TICK_SECRET configured' }, 503);
  if (!(await hasBearer(c.req.raw, secret))) return c.json({ error: 'unauthorized' }, 401);
  const { sql } = connection(c.env);
  const rows = (await sql.query(JOB_COUNTS_SQL, [COUNT_CAP + 1])) as {
    state: string;
    jobs: number;
  }[];
  const jobs: Record<string, number | string> = {};
  for (const { state, jobs: n } of rows) {
    if (n > 0) jobs[state] = n > COUNT_CAP ? `${COUNT_CAP}+` : n;
  }
  return c.json({ jobs });
});

export default worker;
