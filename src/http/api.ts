/**
 * `eddy/http-api`: the REST API, for producers and workers in any language, as a Hono app that
 * mounts in a Worker, a Next.js catch-all route or Node. Versioned under `/v1`, described by an
 * OpenAPI 3.1 document at `/v1/openapi.json`, guarded by API keys with scopes; `/livez`,
 * `/readyz` and (with `metrics`) `/metrics` beside it.
 *
 * The only module of the core that imports `hono` and `zod`, with the ones it alone imports
 * (`api-*.ts`): nothing else reaches them, so an app that does not mount the API bundles
 * neither (test/architecture.test.ts holds it so).
 *
 * @example
 * ```ts
 * // A Worker
 * const api = createHttpApi<Env>({
 *   driver: (env) => neonHttp(neon(env.DATABASE_URL)),
 *   keys: (env) => [{ key: env.EDDY_API_KEY, scopes: ['insert', 'work'] }],
 * });
 * export default { fetch: api.fetch };
 * // Next.js: app/api/eddy/[...path]/route.ts
 * const api = createHttpApi({ driver, keys, basePath: '/api/eddy' });
 * export const GET = api.fetch, POST = api.fetch, DELETE = api.fetch;
 * ```
 */

import { Hono } from 'hono/tiny';
import { createAdmin } from '../admin/admin.js';
import type { Admin } from '../admin/api.js';
import { createClient, type Inserter } from '../client.js';
import type { Driver } from '../driver/driver.js';
import { assertSchemaName } from '../driver/schema-name.js';
import { invalid, refuseUnknownKeys, ValidationError } from '../errors.js';
import type { AnyJobKind } from '../job-kind.js';
import type { RunnerHooks } from '../runner/hooks.js';
import { type ApiKey, checkApiKeys, KeyRing } from './api-auth.js';
import { manageRoutes } from './api-manage.js';
import { openApiDocument } from './api-openapi.js';
import { jsonResponse, PROBLEM_TYPES, problemResponse } from './api-problem.js';
import {
  type ApiSettings,
  type ApiState,
  answer,
  authorize,
  claim,
  insertJobs,
  notFound,
  Waiter,
} from './api-routes.js';
import { apiSchemas } from './api-schemas.js';
import { checkReadiness } from './health.js';
import type { Metrics } from './metrics.js';
import { createRemoteWork } from './remote-work.js';

export { type ApiKey, type Caller, checkApiKeys, SCOPES, type Scope } from './api-auth.js';
export { type FieldProblem, PROBLEM_TYPES, type Problem } from './api-problem.js';
export { checkReadiness, type Readiness } from './health.js';
export {
  createMetrics,
  DEFAULT_BUCKETS,
  type Metrics,
  type MetricsOptions,
  type ScrapeOptions,
} from './metrics.js';
export {
  type ClaimedJob,
  type ClaimRequest,
  createRemoteWork,
  type FailRequest,
  type RemoteWork,
  type RemoteWorkOptions,
  type Settled,
} from './remote-work.js';

/** A setting fixed in code, or read from the request's environment (a Worker's `env`). */
export type FromEnv<Env, T> = T | ((env: Env) => T);

export interface HttpApiOptions<Env extends object = object> {
  /** The database, or how to open it for an environment (once per environment). */
  driver: FromEnv<Env, Driver>;
  /** API keys, each with scopes; several at once to rotate one. Each at least 32 characters. */
  keys: FromEnv<Env, readonly ApiKey[] | undefined>;
  /** Postgres schema holding River's tables. Default: the search_path. */
  schema?: string;
  /**
   * The kinds producers may insert, each checked against its schema. Without it any kind name
   * goes and args are stored as given (a worker's schema checks them).
   */
  kinds?: readonly AnyJobKind[];
  /**
   * Inserts `POST /v1/jobs` through this client instead of `createClient({ driver, schema,
   * kinds, notify })`: one with a kick, or traced (`traceClient` from `eddy/otel`).
   */
  client?: FromEnv<Env, Inserter<readonly never[]>>;
  /** `pg_notify` on River's insert channel with each insert (Go River and the Node loop wake). */
  notify?: boolean;
  /** Where the app is mounted: `/api/eddy` for a Next.js route `app/api/eddy/[...path]`. Default ''. */
  basePath?: string;
  /** Largest request body, in bytes; larger gets 413 unread. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Jobs per `POST /v1/jobs`. Default 1000. */
  maxBatch?: number;
  /** Jobs per claim. Default 100. */
  maxClaim?: number;
  /** Longest lease a claim or extension may ask for, in ms. Default 15 minutes. */
  maxLeaseMs?: number;
  /** Longest a claim may wait for jobs, in ms. Default 30 s; 0 turns waiting off. */
  maxWaitMs?: number;
  /**
   * Told as remote attempts start (at their claim) and end (at their answer), with the runner's
   * events: metrics and tracing see remote workers as they see the runner's.
   */
  hooks?: Pick<RunnerHooks, 'onJobStart' | 'onJobEnd'>;
  /** Serves `GET /metrics` (scope `read`) with these metrics, fed by the API's attempts too. */
  metrics?: Metrics;
  /** Serve `/metrics` without a key (a scraper on a private network). Default false. */
  publicMetrics?: boolean;
  /** The clock the database sees (tests). */
  now?: () => Date;
  /** An unexpected error answered 500 (a database down). Default `console.error`. */
  onError?: (error: unknown) => void;
}

export interface HttpApi<Env extends object = object> {
  readonly app: Hono<{ Bindings: Env }>;
  /** The app's handler: a Worker's `fetch`, a Next.js route's `GET`/`POST`/`DELETE`. */
  fetch(request: Request, env?: Env, ctx?: unknown): Response | Promise<Response>;
  /** Wakes claims waiting for jobs (call it after inserting elsewhere, or on a kick). */
  wake(): void;
  /** Stops claims from waiting: each answers with what it has (a server shutting down). */
  close(): void;
  /** The OpenAPI 3.1 document served at `/v1/openapi.json`. */
  openApi(): Record<string, unknown>;
}

const OPTION_KEYS = {
  driver: 1,
  keys: 1,
  schema: 1,
  kinds: 1,
  client: 1,
  notify: 1,
  basePath: 1,
  maxBodyBytes: 1,
  maxBatch: 1,
  maxClaim: 1,
  maxLeaseMs: 1,
  maxWaitMs: 1,
  hooks: 1,
  metrics: 1,
  publicMetrics: 1,
  now: 1,
  onError: 1,
} satisfies Record<keyof HttpApiOptions, 1>;

const WHERE = 'createHttpApi';

function whole(path: string, value: number | undefined, fallback: number, min: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min) invalid(path, `must be a whole number ≥ ${min}`, WHERE);
  return v;
}

/** Merges two sets of hooks: both are told. */
function bothHooks(
  a: HttpApiOptions['hooks'],
  b: HttpApiOptions['hooks'],
): HttpApiOptions['hooks'] {
  if (!a || !b) return a ?? b;
  return {
    onJobStart: (event) => {
      a.onJobStart?.(event);
      b.onJobStart?.(event);
    },
    onJobEnd: (event) => {
      a.onJobEnd?.(event);
      b.onJobEnd?.(event);
    },
  };
}

// Node and Next.js have no environment object: one state for all their requests.
const NO_ENV = {};

/**
 * Builds the REST API. Refuses what would leave it open or misconfigured: no keys, a key
 * shorter than 32 characters, an unknown scope, an unknown option.
 */
export function createHttpApi<Env extends object = object>(
  options: HttpApiOptions<Env>,
): HttpApi<Env> {
  if (!options || typeof options !== 'object')
    throw new ValidationError(`${WHERE}: pass { driver, keys, ... }`);
  refuseUnknownKeys(options, OPTION_KEYS, '', WHERE);
  if (options.driver === undefined) invalid('driver', 'is required', WHERE);
  if (options.keys === undefined) invalid('keys', 'is required: [{ key, scopes }]', WHERE);
  if (typeof options.keys !== 'function') checkApiKeys(options.keys, WHERE);
  const schema = options.schema === undefined ? undefined : assertSchemaName(options.schema);
  const basePath = (options.basePath ?? '').replace(/\/+$/, '');
  if (basePath !== '' && !basePath.startsWith('/'))
    invalid('basePath', "must start with '/' (like '/api/eddy')", WHERE);
  const limits = {
    maxBatch: whole('maxBatch', options.maxBatch, 1000, 1),
    maxClaim: whole('maxClaim', options.maxClaim, 100, 1),
    maxLeaseMs: whole('maxLeaseMs', options.maxLeaseMs, 15 * 60_000, 1000),
    maxWaitMs: whole('maxWaitMs', options.maxWaitMs, 30_000, 0),
  };
  const maxBodyBytes = whole('maxBodyBytes', options.maxBodyBytes, 1024 * 1024, 1024);
  const metrics = options.metrics;
  const hooks = bothHooks(options.hooks, metrics?.hooks);
  const onError = options.onError ?? ((error: unknown) => console.error('eddy http-api:', error));
  const waiter = new Waiter();
  let closed = false;
  // Built at the first request: a Worker may not generate random values (zod's schemas do)
  // at its module's top level.
  let settings: ApiSettings | undefined;
  const settingsNow = (): ApiSettings => {
    settings ??= {
      schemas: apiSchemas(limits),
      maxBodyBytes,
      waiter,
      isClosing: () => closed,
      onInserted: metrics ? (results) => metrics.recordInsert(results) : undefined,
    };
    return settings;
  };
  let document: Record<string, unknown> | undefined;
  const openApi = () => {
    document ??= openApiDocument(settingsNow().schemas, { basePath, version: '1' });
    return document;
  };

  interface EnvState extends ApiState {
    driver: Driver;
    /** The management API, for the reading and managing routes. */
    admin: Admin;
    /** The keys this state was built for, as JSON: a function of `env` may build new arrays. */
    keysFrom: string;
  }
  const states = new WeakMap<object, EnvState>();
  const read = <T>(setting: FromEnv<Env, T>, env: Env): T =>
    typeof setting === 'function' ? (setting as (env: Env) => T)(env) : setting;
  const stateFor = (env: Env | undefined): EnvState => {
    const holder = (typeof env === 'object' && env !== null ? env : NO_ENV) as object;
    let state = states.get(holder);
    const keys = read(options.keys, env as Env);
    const keysFrom = JSON.stringify(keys ?? null);
    if (state && state.keysFrom === keysFrom) return state;
    const checkedKeys = checkApiKeys(keys, WHERE);
    const driver = state?.driver ?? read(options.driver, env as Env);
    state = {
      driver,
      keysFrom,
      keys: new KeyRing(checkedKeys),
      inserter:
        state?.inserter ??
        (options.client === undefined
          ? createClient({
              driver,
              schema,
              kinds: options.kinds as readonly never[] | undefined,
              notify: options.notify,
              now: options.now,
            })
          : read(options.client, env as Env)),
      remote:
        state?.remote ??
        createRemoteWork({ driver, schema, now: options.now, hooks, onHookError: onError }),
      admin: state?.admin ?? createAdmin({ driver, schema, now: options.now }),
    };
    states.set(holder, state);
    return state;
  };

  const app = new Hono<{ Bindings: Env }>().basePath(basePath || '/');
  app.onError((error) => {
    onError(error);
    return problemResponse({
      type: PROBLEM_TYPES.internal,
      title: 'Internal error',
      status: 500,
      detail: 'the API could not answer (see its log); nothing is known to have changed',
    });
  });
  app.notFound((c) => notFound(`no route ${c.req.method} ${new URL(c.req.url).pathname}`));

  /** The state, or the 500 to answer when the environment's keys are missing or bad. */
  const guarded = (env: Env) => {
    try {
      return stateFor(env);
    } catch (error) {
      onError(error);
      return problemResponse({
        type: PROBLEM_TYPES.internal,
        title: 'The API is misconfigured',
        status: 500,
        detail: `its API keys are missing or invalid: ${(error as Error).message}`,
      });
    }
  };

  app.get('/livez', () => jsonResponse({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    const state = guarded(c.env);
    const driver = state instanceof Response ? read(options.driver, c.env) : state.driver;
    const readiness = await checkReadiness(driver, { schema });
    return readiness.ready
      ? jsonResponse({ status: 'ready', migrationVersion: readiness.migrationVersion })
      : jsonResponse({ status: 'unready', ...readiness }, 503);
  });
  if (metrics) {
    app.get('/metrics', async (c) => {
      const state = guarded(c.env);
      if (state instanceof Response) return state;
      if (!options.publicMetrics) {
        const caller = await authorize(c.req.raw, state.keys, 'read');
        if (caller instanceof Response) return caller;
      }
      return new Response(await metrics.render(state.driver, { schema, now: options.now }), {
        headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' },
      });
    });
  }

  app.get('/v1/openapi.json', () => jsonResponse(openApi()));

  app.post('/v1/jobs', async (c) => {
    const state = guarded(c.env);
    if (state instanceof Response) return state;
    const caller = await authorize(c.req.raw, state.keys, 'insert');
    if (caller instanceof Response) return caller;
    return insertJobs(c.req.raw, state, settingsNow());
  });
  app.post('/v1/claims', async (c) => {
    const state = guarded(c.env);
    if (state instanceof Response) return state;
    const caller = await authorize(c.req.raw, state.keys, 'work');
    if (caller instanceof Response) return caller;
    return claim(c.req.raw, state, settingsNow());
  });
  for (const name of ['complete', 'fail', 'snooze', 'lease'] as const) {
    app.post(`/v1/jobs/:id/${name}`, async (c) => {
      const state = guarded(c.env);
      if (state instanceof Response) return state;
      const caller = await authorize(c.req.raw, state.keys, 'work');
      if (caller instanceof Response) return caller;
      return answer(name, c.req.param('id'), c.req.raw, state, settingsNow());
    });
  }

  // Reading and managing jobs and queues: the management API's routes.
  manageRoutes(app, {
    open: async (request, env, scope) => {
      const state = guarded(env as Env);
      if (state instanceof Response) return state;
      const caller = await authorize(request, state.keys, scope);
      return caller instanceof Response ? caller : state.admin;
    },
    schemas: () => settingsNow().schemas,
    maxBodyBytes,
  });

  return {
    app,
    fetch: (request, env, ctx) => app.fetch(request, env as Env, ctx as never),
    wake: () => waiter.wake(),
    close: () => {
      closed = true;
      waiter.wake();
    },
    openApi,
  };
}
