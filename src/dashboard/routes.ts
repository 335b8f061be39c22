/**
 * The dashboard's routes: signing in and out, the guard every other request passes (credentials;
 * for a change also read-only mode, the same-origin check and the CSRF token), the pages, and
 * the actions, each a call of the management API answered with a 303 back to the page it came
 * from.
 */

import type { Hono } from 'hono/tiny';
import type { BulkResult, JobActionResult } from '../admin/api.js';
import type { JobFilter } from '../admin/job-filter.js';
import { isValidationError } from '../errors.js';
import type { JobState } from '../job.js';
import { anonymousCsrf, authenticate } from './auth.js';
import {
  type DashboardContext,
  type DashboardEnv,
  htmlResponse,
  problemResponse,
  readForm,
  type Settings,
  seeOther,
  signOutCookies,
  viewOf,
} from './dashboard.js';
import { filterOf, hasFilter, readFilterForm } from './filter-form.js';
import { bulkFlash, flashMessage, jobFlash, queueFlash, withFlash } from './flash.js';
import { JobPage } from './job-page.js';
import { JobsPage } from './jobs-page.js';
import { ConfirmPage, LoginPage } from './login-page.js';
import { OverviewPage } from './overview-page.js';
import { periodicSchedules } from './periodic.js';
import { PeriodicPage } from './periodic-page.js';
import { QueuePage, QueuesPage } from './queues-page.js';
import { isSameOrigin } from './security.js';
import { cookieHeader, isHttps, newSession, SESSION_COOKIE, sameSecret } from './session.js';

type App = Hono<DashboardEnv<object>>;
type JobAction = 'retry' | 'cancel' | 'delete';
const JOB_ACTIONS: readonly JobAction[] = ['retry', 'cancel', 'delete'];
/** The outcomes that mean the action changed the job. */
const ACTED: Record<JobAction, readonly string[]> = {
  retry: ['retried'],
  cancel: ['cancelled', 'cancelRequested'],
  delete: ['deleted'],
};
const FINALIZED: JobState[] = ['cancelled', 'completed', 'discarded'];
const HOUR = 60 * 60_000;
/** Most jobs one bulk action by filter touches (the management API's default cap). */
const BULK_MAX = 1000;

export function registerPages(app: App, settings: Settings): void {
  const { base } = settings;
  const path = (p: string) => `${base}${p}`;
  const problem = (c: DashboardContext, status: number, title: string, message: string) =>
    problemResponse(c, settings, status, title, message);
  const view = (c: DashboardContext) =>
    viewOf(c, settings, flashMessage(new URL(c.req.url).searchParams));
  /** A path to come back to: one of the dashboard's own, or `fallback`. */
  const back = (value: string | null | undefined, fallback: string) => {
    const target = value ?? '';
    const inside = target === (base || '/') || target.startsWith(`${base}/`);
    return inside && !target.startsWith('//') && !/[\\\r\n]/.test(target) ? target : fallback;
  };
  const url = (c: DashboardContext) => new URL(c.req.url);

  const login = async (c: DashboardContext, status: number, problemText?: string) => {
    const access = anonymousCsrf(c.req.raw, settings.cookiePath);
    c.set('access', access);
    const here = `${url(c).pathname}${url(c).search}`;
    const next =
      url(c).pathname === path('/login') ? (url(c).searchParams.get('next') ?? '') : here;
    return htmlResponse(
      LoginPage({
        nonce: c.get('nonce'),
        action: path('/login'),
        csrf: access.csrf,
        next: back(next, path('/')),
        problem: problemText,
      }),
      status,
      status === 401 ? { 'www-authenticate': 'Bearer realm="eddy dashboard"' } : {},
    );
  };

  app.get('/login', async (c) => {
    const state = c.get('state');
    if (state.auth.mode === 'open') return seeOther(path('/'));
    if (await authenticate(c.req.raw, state.auth, settings.cookiePath))
      return seeOther(back(url(c).searchParams.get('next'), path('/')));
    return login(c, 200);
  });

  app.post('/login', async (c) => {
    const { auth } = c.get('state');
    if (auth.mode === 'open') return seeOther(path('/'));
    const form = await readForm(c.req.raw);
    const csrf = anonymousCsrf(c.req.raw, settings.cookiePath);
    // The login form's token is the random one its own cookie holds (no session exists yet).
    if (
      !form ||
      !isSameOrigin(c.req.raw) ||
      csrf.setCookies.length > 0 ||
      !(await sameSecret(form.get('_csrf'), csrf.csrf))
    )
      return problem(
        c,
        403,
        'Refused',
        "This sign-in did not come from the dashboard's own form: load the sign-in page and try again.",
      );
    if (!(await sameSecret(form.get('token'), auth.token)))
      return login(c, 401, 'That is not the admin token.');
    const { cookie } = await newSession(await auth.key, auth.ttlMs);
    return seeOther(back(form.get('next'), path('/')), [
      cookieHeader(SESSION_COOKIE, cookie, {
        path: settings.cookiePath,
        maxAgeSeconds: auth.ttlMs / 1000,
        secure: isHttps(c.req.raw),
      }),
    ]);
  });

  // The guard: credentials for everything below; for a change, also the same origin and the
  // form's CSRF token, and not in read-only mode.
  app.use('*', async (c, next) => {
    const { auth } = c.get('state');
    const access = await authenticate(c.req.raw, auth, settings.cookiePath);
    if (!access) return login(c, 401);
    c.set('access', access);
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const isLogout = url(c).pathname === path('/logout');
      if (settings.readOnly && !isLogout)
        return problem(c, 403, 'Read-only', 'This dashboard is read-only: it changes nothing.');
      const form = await readForm(c.req.raw);
      if (!form || !isSameOrigin(c.req.raw) || !(await sameSecret(form.get('_csrf'), access.csrf)))
        return problem(
          c,
          403,
          'Refused',
          "This request did not come from one of the dashboard's own pages (its origin or its form token is wrong), so nothing was changed. Reload the page and try again.",
        );
      c.set('form', form);
    }
    await next();
  });

  app.post('/logout', (c) =>
    seeOther(path('/login'), signOutCookies(c.req.raw, settings.cookiePath)),
  );

  app.get('/', async (c) => {
    const { admin } = c.get('state');
    const now = settings.now().getTime();
    const [queues, hour, day] = await Promise.all([
      admin.queues.list(),
      admin.counts({ by: 'queue', finalizedSince: new Date(now - HOUR) }),
      admin.counts({ by: 'queue', finalizedSince: new Date(now - 24 * HOUR) }),
    ]);
    const refresh = url(c).searchParams.get('refresh') === '1';
    return htmlResponse(OverviewPage({ view: view(c), queues, hour, day, refresh }));
  });

  app.get('/jobs', async (c) => {
    const { admin } = c.get('state');
    const form = readFilterForm(url(c).searchParams);
    const kinds = await admin.jobs.kinds({ limit: 500 });
    let page: Awaited<ReturnType<typeof admin.jobs.list>> | undefined;
    let problemText: string | undefined;
    if (form.problems.length === 0) {
      try {
        page = await admin.jobs.list(form.options);
      } catch (error) {
        if (!isValidationError(error)) throw error;
        problemText = (error as Error).message;
      }
    }
    const status = form.problems.length > 0 || problemText ? 400 : 200;
    return htmlResponse(
      JobsPage({ view: view(c), form, kinds, page, problem: problemText }),
      status,
    );
  });

  app.get('/jobs/:id', async (c) => {
    const id = c.req.param('id');
    if (!/^\d{1,19}$/.test(id)) return problem(c, 404, 'Not found', `No job ${id}.`);
    const job = await c.get('state').admin.jobs.get(id);
    return htmlResponse(JobPage({ job, view: view(c) }));
  });

  /** The confirmation page, when the browser's script did not confirm already. */
  const confirm = (
    c: DashboardContext,
    question: string,
    label: string,
    details: string[] = [],
  ) => {
    const form = c.get('form');
    return htmlResponse(
      ConfirmPage({
        view: view(c),
        question,
        details,
        label,
        danger: label.startsWith('Delete'),
        action: `${url(c).pathname}`,
        fields: [...form.entries()],
        back: back(form.get('return'), path('/jobs')),
      }),
    );
  };

  app.post('/jobs/bulk', async (c) => {
    const { admin } = c.get('state');
    const form = c.get('form');
    const action = form.get('action') as JobAction;
    if (!JOB_ACTIONS.includes(action))
      return problem(c, 400, 'Not a valid request', 'action must be retry, cancel or delete.');
    const returnTo = back(form.get('return'), path('/jobs'));
    const verb = `${action[0]?.toUpperCase()}${action.slice(1)}`;
    if (form.get('scope') === 'filter') {
      const parsed = readFilterForm(new URLSearchParams(form.get('filter') ?? ''));
      if (parsed.problems.length > 0 || !hasFilter(parsed.values))
        return problem(
          c,
          400,
          'Not a valid request',
          'There is no filter to act on: filter the list first.',
        );
      const filter: JobFilter = filterOf(parsed.options);
      // Listed by finalized time, a filter without states means the finalized ones (as River).
      if (parsed.options.orderBy === 'finalizedAt' && filter.state === undefined)
        filter.state = FINALIZED;
      if (form.get('confirm') !== 'yes')
        return confirm(
          c,
          `${verb} every job the filter matches, up to ${BULK_MAX.toLocaleString('en-US')} at a time?`,
          `${verb} the matching jobs`,
          describeFilter(parsed.values),
        );
      const many = {
        retry: admin.jobs.retryMany,
        cancel: admin.jobs.cancelMany,
        delete: admin.jobs.deleteMany,
      }[action];
      const result: BulkResult<string> = await many(filter, { max: BULK_MAX });
      return seeOther(
        withFlash(returnTo, bulkFlash(action, result.count, result.busy, result.hasMore)),
      );
    }
    const ids = form.getAll('id').filter((id) => /^\d{1,19}$/.test(id));
    if (ids.length === 0)
      return problem(c, 400, 'No jobs selected', 'Tick the jobs to act on first.');
    if (form.get('confirm') !== 'yes')
      return confirm(
        c,
        `${verb} ${ids.length === 1 ? 'this job' : `these ${ids.length} jobs`}?`,
        `${verb} ${ids.length === 1 ? 'the job' : 'the jobs'}`,
        ids
          .slice(0, 20)
          .map((id) => `job ${id}`)
          .concat(ids.length > 20 ? [`and ${ids.length - 20} more`] : []),
      );
    const results = await act(c, action, ids);
    const acted = results.filter((r) => ACTED[action].includes(r.outcome)).length;
    const flash =
      results.length === 1 && results[0]
        ? jobFlash(action, results[0].id, results[0].outcome)
        : bulkFlash(action, acted, results.length - acted, false);
    return seeOther(withFlash(returnTo, flash));
  });

  const act = (c: DashboardContext, action: JobAction, ids: string[]) => {
    const { jobs } = c.get('state').admin;
    const call = { retry: jobs.retry, cancel: jobs.cancel, delete: jobs.delete }[action];
    return call(ids) as Promise<JobActionResult<string>[]>;
  };

  app.post('/jobs/:id/:action', async (c) => {
    const id = c.req.param('id');
    const action = c.req.param('action') as JobAction;
    if (!/^\d{1,19}$/.test(id) || !JOB_ACTIONS.includes(action))
      return problem(c, 404, 'Not found', 'No such action.');
    const form = c.get('form');
    const fallback = action === 'delete' ? path('/jobs') : path(`/jobs/${id}`);
    const returnTo = back(form.get('return'), fallback);
    if (form.get('confirm') !== 'yes') {
      const job = await c.get('state').admin.jobs.get(id);
      const verb = `${action[0]?.toUpperCase()}${action.slice(1)}`;
      return confirm(
        c,
        `${verb} job ${id} (${job.kind}, ${job.state} in ${job.queue})?`,
        `${verb} job ${id}`,
      );
    }
    const [result] = await act(c, action, [id]);
    return seeOther(
      withFlash(returnTo, jobFlash(action, BigInt(id), result?.outcome ?? 'notFound')),
    );
  });

  app.get('/queues', async (c) => {
    const queues = await c.get('state').admin.queues.list();
    return htmlResponse(QueuesPage({ queues, view: view(c) }));
  });

  app.get('/queues/:name', async (c) => {
    const queue = await c.get('state').admin.queues.get(c.req.param('name'));
    return htmlResponse(QueuePage({ queue, view: view(c) }));
  });

  app.post('/queues/:name/:action', async (c) => {
    const name = c.req.param('name');
    const action = c.req.param('action');
    if (action !== 'pause' && action !== 'resume')
      return problem(c, 404, 'Not found', 'No such action.');
    const { queues } = c.get('state').admin;
    await (action === 'pause' ? queues.pause(name) : queues.resume(name));
    const returnTo = back(c.get('form').get('return'), path('/queues'));
    return seeOther(withFlash(returnTo, queueFlash(action, name)));
  });

  app.get('/periodic', async (c) => {
    const { db, prefix } = c.get('state');
    const schedules = await periodicSchedules(db, prefix, settings.periodic, settings.now());
    return htmlResponse(PeriodicPage({ schedules, view: view(c) }));
  });
}

/** The filter of a bulk action, in words, for its confirmation page. */
function describeFilter(values: URLSearchParams): string[] {
  const lines: string[] = [];
  for (const [name, value] of values) {
    if (value.trim() === '' || ['order_by', 'order', 'limit', 'refresh', 'cursor'].includes(name))
      continue;
    lines.push(`${name.replace('_', ' ')}: ${value}`);
  }
  return lines;
}
