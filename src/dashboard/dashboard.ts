/**
 * `createDashboard`: the dashboard as a Web-standard `fetch` handler (Hono inside), server-
 * rendered HTML that reads with JavaScript off. Every page reads through the management API
 * (`createAdmin`), every action is one of its calls; the periodic page adds one statement of its
 * own (`ops/job-periodic.ts`).
 */

import type { Context } from 'hono';
import { Hono } from 'hono/tiny';
import { createAdmin } from '../admin/admin.js';
import type { Admin } from '../admin/api.js';
import { Database } from '../driver/database.js';
import type { Driver } from '../driver/driver.js';
import { assertSchemaName, schemaPrefix } from '../driver/schema-name.js';
import {
  invalid,
  isNotFoundError,
  isValidationError,
  refuseUnknownKeys,
  ValidationError,
} from '../errors.js';
import type { PeriodicJob } from '../runner/periodic.js';
import { type Access, type AuthMode, checkAuth, type DashboardAuth } from './auth.js';
import { ProblemPage } from './layout.js';
import { registerPages } from './routes.js';
import { cspNonce, securityHeaders } from './security.js';
import { CSRF_COOKIE, cookieHeader, isHttps, SESSION_COOKIE } from './session.js';
import type { View } from './view.js';

export type { DashboardAuth } from './auth.js';

/** A setting fixed in code, or read from the request's environment (a Worker's `env`). */
export type FromEnv<Env, T> = T | ((env: Env) => T);

export interface DashboardOptions<Env extends object = object> {
  /** The database, or how to open it for an environment (once per environment). */
  driver: FromEnv<Env, Driver>;
  /** Postgres schema holding River's tables. Default: the search_path. */
  schema?: string;
  /**
   * `{ token }`: the admin token (at least 32 characters), read per environment so a Worker can
   * take it from a secret; a missing or short one makes every page answer 500, never open.
   * `{ insecureNoAuth: true }` serves it to anyone.
   */
  auth: FromEnv<Env, DashboardAuth>;
  /** Where it is mounted: `/admin` for a Worker's `/admin/*` or a Next.js `app/admin/[[...path]]`. */
  basePath?: string;
  /** Hide every action and refuse every change. Default false. */
  readOnly?: boolean;
  /** The runner's periodic jobs: their schedules and next slots on the periodic page. */
  periodic?: readonly PeriodicJob[];
  /** The clock pages and the database see (tests). Sessions always run on real time. */
  now?: () => Date;
  /** An unexpected error answered 500 (a database down). Default `console.error`. */
  onError?: (error: unknown) => void;
}

export interface Dashboard<Env extends object = object> {
  readonly app: Hono<DashboardEnv<Env>>;
  /** The handler: a Worker's `fetch`, a Next.js route's `GET` and `POST`, Node's server. */
  fetch(request: Request, env?: Env, ctx?: unknown): Promise<Response>;
}

/** What each request's handlers share. */
export interface DashboardVars {
  nonce: string;
  access: Access | undefined;
  state: EnvState;
  form: URLSearchParams;
}

export type DashboardEnv<Env> = { Bindings: Env; Variables: DashboardVars };
export type DashboardContext = Context<DashboardEnv<object>>;

/** What an environment's requests share: its database and its checked credentials. */
export interface EnvState {
  driver: Driver;
  admin: Admin;
  db: Database;
  prefix: string;
  auth: AuthMode;
  /** The setting `auth` was checked from, to notice a changed secret. */
  authFrom: string;
}

/** What every handler of a dashboard knows. */
export interface Settings {
  base: string;
  readOnly: boolean;
  periodic: readonly PeriodicJob[];
  now: () => Date;
  /** The Set-Cookie path: the mount point. */
  cookiePath: string;
}

const OPTION_KEYS = {
  driver: 1,
  schema: 1,
  auth: 1,
  basePath: 1,
  readOnly: 1,
  periodic: 1,
  now: 1,
  onError: 1,
} satisfies Record<keyof DashboardOptions, 1>;

const WHERE = 'createDashboard';
// Node and Next.js have no environment object: one state for all their requests.
const NO_ENV = {};
/** Largest form body read; the forms send a few hundred bytes, a bulk one ids by the thousand. */
export const MAX_FORM_BYTES = 64 * 1024;

/** A page: HTML with the response's own headers (the security headers are added for all). */
export async function htmlResponse(
  body: unknown,
  status = 200,
  headers: Record<string, string> = {},
): Promise<Response> {
  return new Response(`<!DOCTYPE html>${await body}`, {
    status,
    headers: { 'content-type': 'text/html; charset=utf-8', ...headers },
  });
}

/** A 303 to `location` (after a POST: the browser GETs it, and a reload repeats nothing). */
export function seeOther(location: string, cookies: string[] = []): Response {
  const headers = new Headers({ location });
  for (const cookie of cookies) headers.append('set-cookie', cookie);
  return new Response(null, { status: 303, headers });
}

/** A request body of form fields, at most `MAX_FORM_BYTES`; undefined when it is not one. */
export async function readForm(request: Request): Promise<URLSearchParams | undefined> {
  const type = (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return undefined;
  if (Number(request.headers.get('content-length') ?? 0) > MAX_FORM_BYTES) return undefined;
  if (!request.body) return new URLSearchParams();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_FORM_BYTES) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return new URLSearchParams(new TextDecoder().decode(bytes));
}

/**
 * Builds the dashboard. Refuses, before any request, what would leave it open or broken: no
 * `auth`, a fixed token shorter than 32 characters, an unknown option, a bad `basePath`.
 *
 * @example
 * ```ts
 * // A Worker: the token from a secret, mounted at /admin.
 * const dashboard = createDashboard<Env>({
 *   driver: (env) => neonHttp(neon(env.DATABASE_URL)),
 *   auth: (env) => ({ token: env.ADMIN_TOKEN }),
 *   basePath: '/admin',
 * });
 * app.all('/admin/*', (c) => dashboard.fetch(c.req.raw, c.env));
 * ```
 */
export function createDashboard<Env extends object = object>(
  options: DashboardOptions<Env>,
): Dashboard<Env> {
  if (!options || typeof options !== 'object')
    throw new ValidationError(`${WHERE}: pass { driver, auth, basePath?, readOnly? }`);
  refuseUnknownKeys(options, OPTION_KEYS, '', WHERE);
  if (options.driver === undefined) invalid('driver', 'is required', WHERE);
  if (options.auth === undefined)
    invalid(
      'auth',
      'is required: { token } (at least 32 characters), or { insecureNoAuth: true }',
      WHERE,
    );
  const schema = options.schema === undefined ? undefined : assertSchemaName(options.schema);
  const base = (options.basePath ?? '').replace(/\/+$/, '');
  if (base !== '' && (!base.startsWith('/') || /[?#\\]|\/\//.test(base)))
    invalid('basePath', "must be a path starting with '/' (like '/admin')", WHERE);
  if (options.readOnly !== undefined && typeof options.readOnly !== 'boolean')
    invalid('readOnly', 'must be true or false', WHERE);
  if (options.periodic !== undefined && !Array.isArray(options.periodic))
    invalid(
      'periodic',
      "must be the runner's periodic jobs (definePeriodicJob(...)) as an array",
      WHERE,
    );
  const fixedAuth = typeof options.auth === 'function' ? undefined : options.auth;
  // A fixed setting is checked now, so a short token fails at start, not at the first request.
  const fixedChecked = fixedAuth ? checkAuth(fixedAuth) : undefined;
  const onError = options.onError ?? ((error: unknown) => console.error('eddy dashboard:', error));
  const settings: Settings = {
    base,
    readOnly: options.readOnly ?? false,
    periodic: options.periodic ?? [],
    now: () => options.now?.() ?? new Date(),
    cookiePath: base || '/',
  };

  const states = new WeakMap<object, EnvState>();
  const read = <T>(setting: FromEnv<Env, T>, env: Env): T =>
    typeof setting === 'function' ? (setting as (env: Env) => T)(env) : setting;
  const misconfigured = new WeakSet<object>();
  const stateFor = async (env: Env | undefined): Promise<EnvState> => {
    const holder = (typeof env === 'object' && env !== null ? env : NO_ENV) as object;
    const known = states.get(holder);
    const auth = read(options.auth, env as Env);
    const authFrom = JSON.stringify(auth ?? null);
    if (known && known.authFrom === authFrom) return known;
    const checked = fixedChecked && auth === fixedAuth ? fixedChecked : checkAuth(auth);
    const driver = known?.driver ?? read(options.driver, env as Env);
    const state: EnvState = {
      driver,
      admin: known?.admin ?? createAdmin({ driver, schema, now: options.now }),
      db: known?.db ?? new Database(driver),
      prefix: schemaPrefix(schema),
      auth: checked,
      authFrom,
    };
    states.set(holder, state);
    return state;
  };

  const app = new Hono<DashboardEnv<Env>>({ strict: false }).basePath(base || '/');
  const problem = (c: Context, status: number, title: string, message: string) =>
    problemResponse(c as unknown as DashboardContext, settings, status, title, message);

  // First, around everything: the nonce, then the security headers on whatever is answered.
  app.use('*', async (c, next) => {
    c.set('nonce', cspNonce());
    await next();
    const headers = securityHeaders(c.get('nonce'));
    for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
    for (const cookie of c.get('access')?.setCookies ?? [])
      c.res.headers.append('set-cookie', cookie);
  });

  app.onError(async (error, c) => {
    if (isValidationError(error)) return problem(c, 400, 'Not a valid request', error.message);
    if (isNotFoundError(error)) return problem(c, 404, 'Not found', error.message);
    onError(error);
    return problem(
      c,
      500,
      'The dashboard could not answer',
      'Something failed while reading or changing jobs (see the log). Nothing is known to have changed.',
    );
  });
  app.notFound((c) => problem(c, 404, 'Not found', `No page at ${new URL(c.req.url).pathname}.`));

  // Every request: its environment's state, or the 500 of a misconfigured one (never open).
  app.use('*', async (c, next) => {
    try {
      c.set('state', await stateFor(c.env));
    } catch (error) {
      if (!isValidationError(error)) throw error;
      const holder = (typeof c.env === 'object' && c.env !== null ? c.env : NO_ENV) as object;
      if (!misconfigured.has(holder)) {
        misconfigured.add(holder);
        onError(error);
      }
      return problem(
        c,
        500,
        'The dashboard is misconfigured',
        `It answers nothing until this is fixed: ${error.message}`,
      );
    }
    await next();
  });

  registerPages(app as unknown as Hono<DashboardEnv<object>>, settings);

  return {
    app,
    fetch: async (request, env, ctx) => app.fetch(request, env as Env, ctx as never),
  };
}

/** The view of the request a handler answers (a signed-out one before authentication). */
export function viewOf(c: DashboardContext, settings: Settings, flash?: string): View {
  const url = new URL(c.req.url);
  const access = c.get('access');
  return {
    base: settings.base,
    nonce: c.get('nonce'),
    csrf: access?.csrf ?? '',
    readOnly: settings.readOnly,
    insecure: c.get('state')?.auth.mode === 'open',
    session: access?.session ?? false,
    now: settings.now(),
    here: `${url.pathname}${url.search}`,
    flash,
  };
}

/** Cookies that end a session. */
export function signOutCookies(request: Request, path: string): string[] {
  const secure = isHttps(request);
  return [
    cookieHeader(SESSION_COOKIE, '', { path, maxAgeSeconds: 0, secure }),
    cookieHeader(CSRF_COOKIE, '', { path, maxAgeSeconds: 0, secure }),
  ];
}

/** A page saying what went wrong, with its status. */
export function problemResponse(
  c: DashboardContext,
  settings: Settings,
  status: number,
  title: string,
  message: string,
): Promise<Response> {
  return htmlResponse(ProblemPage({ view: viewOf(c, settings), title, message }), status);
}
