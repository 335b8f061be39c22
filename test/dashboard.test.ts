/**
 * The dashboard over HTTP, through node-postgres and Neon HTTP (the local Neon endpoint) against
 * the real PostgreSQL, and over PGlite (what `eddy serve` embeds): signing in, every page, actions and their refusals, each change checked in
 * the rows. Its security: 401 without credentials, forged and expired cookies refused, a
 * cross-origin POST and one without the CSRF token refused with nothing changed, read-only
 * mode, the CSP on every response.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDashboard } from '../src/dashboard/index.js';
import { csrfToken, sessionKey, signSession } from '../src/dashboard/session.js';
import { Database } from '../src/driver/database.js';
import { isValidationError } from '../src/errors.js';
import { migrate } from '../src/migrate.js';
import { definePeriodicJob } from '../src/runner/periodic.js';
import { seedJobs } from './support/admin-fixtures.js';
import {
  ADMIN_TOKEN,
  type Answer,
  csrfOf,
  DashboardClient,
  textOf,
} from './support/dashboard-client.js';
import { type OpenDriver, selectedSetups, unreachableDriver } from './support/drivers.js';
import { uniqueName } from './support/postgres.js';

const BASE = '/admin';
// PGlite too: `eddy serve` mounts the dashboard on its embedded database.
const setups = selectedSetups().filter((s) =>
  ['node-postgres (Pool)', 'neon-http', 'pglite'].includes(s.name),
);

/** Every `<script>` and `<style>` carries the nonce the CSP names, and no other runs. */
function expectStrictCsp(answer: Answer): void {
  const csp = answer.headers.get('content-security-policy') ?? '';
  expect(csp).toContain("default-src 'none'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toContain("form-action 'self'");
  expect(csp).not.toContain('unsafe-inline');
  const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
  expect(nonce).toBeDefined();
  const tags = [...answer.text.matchAll(/<(script|style)\b([^>]*)>/g)];
  expect(tags.length).toBeGreaterThan(0);
  for (const [, , attributes] of tags) expect(attributes).toContain(`nonce="${nonce}"`);
  expect(answer.text).not.toMatch(/\son[a-z]+="/); // no inline event handlers
  expect(answer.text).not.toMatch(/\sstyle="/); // no style attributes (style-src has no unsafe-inline)
  expect(answer.headers.get('x-frame-options')).toBe('DENY');
  expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
}

for (const setup of setups) {
  describe(`dashboard: ${setup.name}`, () => {
    let open: OpenDriver;
    let db: Database;
    const schema = uniqueName('dash');
    const jobs = `${schema}.river_job`;
    const report = definePeriodicJob({
      name: 'nightly_report',
      kind: 'report',
      schedule: '0 3 * * *',
      workedElsewhere: true,
    });
    let dashboard: ReturnType<typeof createDashboard>;
    let readOnly: ReturnType<typeof createDashboard>;
    let client: DashboardClient;

    const stateOf = async (id: bigint) =>
      (await db.query(`SELECT state::text AS state FROM ${jobs} WHERE id = $1`, [id])).rows[0]
        ?.state as string | undefined;

    beforeAll(async () => {
      open = await setup.open();
      db = new Database(open.driver);
      await db.query(`CREATE SCHEMA ${schema}`);
      await migrate(open.driver, { schema });
      dashboard = createDashboard({
        driver: open.driver,
        schema,
        auth: { token: ADMIN_TOKEN },
        basePath: BASE,
        periodic: [report],
      });
      readOnly = createDashboard({
        driver: open.driver,
        schema,
        auth: { token: ADMIN_TOKEN },
        basePath: BASE,
        readOnly: true,
      });
    });
    afterAll(async () => {
      await db.query(`DROP SCHEMA ${schema} CASCADE`);
      await open.close();
    });
    beforeEach(async () => {
      await db.query(`DELETE FROM ${jobs}`);
      await db.query(`DELETE FROM ${schema}.river_queue`);
      client = new DashboardClient((request) => dashboard.fetch(request));
    });

    it('answers 401 with the login form to a request without credentials, and acts on nothing', async () => {
      const [id] = (await seedJobs(db, schema, [{ state: 'discarded', attempt: 25 }])) as bigint[];
      for (const path of ['/', '/jobs', `/jobs/${id}`, '/queues', '/periodic']) {
        const page = await client.get(`${BASE}${path}`);
        expect(page.status, path).toBe(401);
        expect(page.text).toContain('Admin token');
        expect(page.text).not.toContain(`job ${id}`);
        expectStrictCsp(page);
      }
      const login = await client.get(`${BASE}/`);
      const refused = await client.post(`${BASE}/jobs/${id}/retry`, {
        _csrf: csrfOf(login.text),
        confirm: 'yes',
      });
      expect(refused.status).toBe(401);
      expect(await stateOf(id as bigint)).toBe('discarded');
      // A bearer token that is not the admin token is no better.
      const wrong = await client.get(`${BASE}/jobs`, { authorization: `Bearer ${'x'.repeat(43)}` });
      expect(wrong.status).toBe(401);
    });

    it('signs in through the login form: a signed, HttpOnly, SameSite=Strict cookie that opens every page', async () => {
      const wrong = await client.signIn(BASE, `${ADMIN_TOKEN}-not`);
      expect(wrong.status).toBe(401);
      expect(wrong.text).toContain('That is not the admin token');
      expect(client.cookies.has('eddy_dashboard_session')).toBe(false);

      const signedIn = await client.signIn(BASE);
      expect(signedIn.status).toBe(303);
      expect(signedIn.headers.get('location')).toBe(`${BASE}/`);
      const cookie = signedIn.headers
        .getSetCookie()
        .find((c) => c.startsWith('eddy_dashboard_session='));
      expect(cookie).toMatch(/; Path=\/admin; Max-Age=43200; HttpOnly; SameSite=Strict$/);
      for (const path of ['/', '/jobs', '/queues', '/periodic']) {
        const page = await client.get(`${BASE}${path}`);
        expect(page.status, path).toBe(200);
        expect(page.text).toContain('Sign out');
        expectStrictCsp(page);
      }
      const out = await client.post(`${BASE}/logout`, {
        _csrf: csrfOf((await client.get(`${BASE}/`)).text),
      });
      expect(out.status).toBe(303);
      expect((await client.get(`${BASE}/`)).status).toBe(401);
    });

    it('refuses a forged cookie, an expired one, and one signed with another token', async () => {
      await client.signIn(BASE);
      const genuine = client.cookies.get('eddy_dashboard_session') as string;
      const key = await sessionKey(ADMIN_TOKEN);
      const expired = await signSession(key, {
        expiresAt: Date.now() - 1000,
        nonce: 'a'.repeat(32),
      });
      const otherKey = await signSession(await sessionKey(`${ADMIN_TOKEN}-other`), {
        expiresAt: Date.now() + 60_000,
        nonce: 'b'.repeat(32),
      });
      const [expiry, nonce, signature] = genuine.split('.') as [string, string, string];
      const forged = [
        `${Number(expiry) + 86_400_000}.${nonce}.${signature}`, // a longer life, same signature
        `${expiry}.${'c'.repeat(32)}.${signature}`, // another session's nonce
        `${expiry}.${nonce}.${signature.slice(0, -2)}AA`,
        expired,
        otherKey,
        'garbage',
      ];
      for (const value of forged) {
        const page = await client.get(`${BASE}/jobs`, {
          cookie: `eddy_dashboard_session=${value}`,
        });
        expect(page.status, value).toBe(401);
      }
      expect((await client.get(`${BASE}/jobs`)).status).toBe(200);
    });

    it('retries a discarded job with the form’s token; without the token, with a wrong one, or from another origin, nothing changes', async () => {
      const [id] = (await seedJobs(db, schema, [
        { state: 'discarded', attempt: 25, max_attempts: 25, kind: 'flaky' },
      ])) as bigint[];
      await client.signIn(BASE);
      const page = await client.get(`${BASE}/jobs/${id}`);
      expect(textOf(page.text)).toContain('discarded');
      const csrf = csrfOf(page.text);
      const attempts: [string, Record<string, string>, Record<string, string>][] = [
        ['no token', { confirm: 'yes' }, {}],
        ['a wrong token', { _csrf: `${csrf.slice(0, -1)}x`, confirm: 'yes' }, {}],
        ['another origin', { _csrf: csrf, confirm: 'yes' }, { origin: 'https://evil.example' }],
        ['another site', { _csrf: csrf, confirm: 'yes' }, { 'sec-fetch-site': 'cross-site' }],
        ['an opaque origin', { _csrf: csrf, confirm: 'yes' }, { origin: 'null' }],
      ];
      for (const [what, form, headers] of attempts) {
        const refused = await client.post(`${BASE}/jobs/${id}/retry`, form, headers);
        expect(refused.status, what).toBe(403);
        expect(await stateOf(id as bigint), what).toBe('discarded');
      }
      // Not a form at all (JSON, which a cross-site fetch could send): refused too.
      const json = await client.request(`${BASE}/jobs/${id}/retry`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: client.origin },
      });
      expect(json.status).toBe(403);

      // Without the script's confirmation, the server asks first and changes nothing.
      const asked = await client.post(`${BASE}/jobs/${id}/retry`, {
        _csrf: csrf,
        return: `${BASE}/jobs/${id}`,
      });
      expect(asked.status).toBe(200);
      expect(textOf(asked.text)).toContain(`Retry job ${id} (flaky, discarded in default)?`);
      expect(await stateOf(id as bigint)).toBe('discarded');

      const done = await client.post(`${BASE}/jobs/${id}/retry`, {
        _csrf: csrfOf(asked.text),
        return: `${BASE}/jobs/${id}`,
        confirm: 'yes',
      });
      expect(done.status).toBe(303);
      const row = (
        await db.query(`SELECT state::text AS state, max_attempts FROM ${jobs} WHERE id = $1`, [id])
      ).rows[0];
      expect(row).toEqual({ state: 'available', max_attempts: 26 });
      const after = await client.get(done.headers.get('location') as string);
      expect(textOf(after.text)).toContain(`Job ${id}: retried; it is available now.`);
    });

    it('cancels by filter and deletes the jobs selected, each within what the filter or selection names', async () => {
      const ids = (await seedJobs(db, schema, [
        { kind: 'bulk_me', queue: 'email' },
        { kind: 'bulk_me', queue: 'email' },
        { kind: 'bulk_me', queue: 'other' },
        { kind: 'keep_me', queue: 'email' },
      ])) as bigint[];
      await client.signIn(BASE);
      const list = await client.get(`${BASE}/jobs?kind=bulk_me&queue=email`);
      expect(textOf(list.text)).toContain('2 jobs');
      const cancelled = await client.post(`${BASE}/jobs/bulk`, {
        _csrf: csrfOf(list.text),
        scope: 'filter',
        filter: '?kind=bulk_me&queue=email',
        action: 'cancel',
        confirm: 'yes',
        return: `${BASE}/jobs?kind=bulk_me&queue=email`,
      });
      expect(cancelled.status).toBe(303);
      expect(await Promise.all(ids.map(stateOf))).toEqual([
        'cancelled',
        'cancelled',
        'available',
        'available',
      ]);
      const flash = await client.get(cancelled.headers.get('location') as string);
      expect(textOf(flash.text)).toContain('Cancelled 2 jobs.');

      const deleted = await client.post(`${BASE}/jobs/bulk`, {
        _csrf: csrfOf(flash.text),
        scope: 'selected',
        id: [String(ids[2]), String(ids[3])],
        action: 'delete',
        confirm: 'yes',
      });
      expect(deleted.status).toBe(303);
      expect(await Promise.all(ids.map(stateOf))).toEqual([
        'cancelled',
        'cancelled',
        undefined,
        undefined,
      ]);
    });

    it('pauses and resumes a queue as River does', async () => {
      await db.query(`INSERT INTO ${schema}.river_queue (name) VALUES ('email')`);
      await client.signIn(BASE);
      const page = await client.get(`${BASE}/queues`);
      expect(textOf(page.text)).toContain('Pause email');
      const paused = await client.post(`${BASE}/queues/email/pause`, {
        _csrf: csrfOf(page.text),
        return: `${BASE}/queues`,
      });
      expect(paused.status).toBe(303);
      const pausedAt = async () =>
        (await db.query(`SELECT paused_at FROM ${schema}.river_queue WHERE name = 'email'`)).rows[0]
          ?.paused_at;
      expect(await pausedAt()).toBeInstanceOf(Date);
      const after = await client.get(paused.headers.get('location') as string);
      expect(textOf(after.text)).toContain('Paused queue email.');
      expect(textOf(after.text)).toContain('Resume email');
      await client.post(`${BASE}/queues/email/resume`, { _csrf: csrfOf(after.text) });
      expect(await pausedAt()).toBeNull();
    });

    it('in read-only mode shows no action and refuses every change', async () => {
      const [id] = (await seedJobs(db, schema, [{ state: 'discarded', attempt: 25 }])) as bigint[];
      await db.query(`INSERT INTO ${schema}.river_queue (name) VALUES ('default')`);
      const reader = new DashboardClient((request) => readOnly.fetch(request));
      await reader.signIn(BASE);
      const page = await reader.get(`${BASE}/jobs/${id}`);
      expect(page.status).toBe(200);
      expect(textOf(page.text)).toContain('Read-only');
      expect(page.text).not.toContain(`/jobs/${id}/retry`);
      expect((await reader.get(`${BASE}/queues`)).text).not.toContain('/pause');
      expect((await reader.get(`${BASE}/jobs`)).text).not.toContain('/jobs/bulk');
      const csrf = csrfOf(page.text);
      for (const path of [
        `/jobs/${id}/retry`,
        `/jobs/${id}/delete`,
        '/jobs/bulk',
        '/queues/default/pause',
      ]) {
        const refused = await reader.post(`${BASE}${path}`, {
          _csrf: csrf,
          confirm: 'yes',
          action: 'delete',
          scope: 'selected',
          id: String(id),
        });
        expect(refused.status, path).toBe(403);
      }
      expect(await stateOf(id as bigint)).toBe('discarded');
      const queue = await db.query(`SELECT paused_at FROM ${schema}.river_queue`);
      expect(queue.rows[0]?.paused_at).toBeNull();
    });

    it('lists with every filter, pages by cursor, and says why a filter is refused', async () => {
      await seedJobs(db, schema, [
        ...Array.from({ length: 5 }, (_, i) => ({
          kind: 'paged',
          args: { user_id: 7, n: i },
          tags: ['vip'],
          priority: 2,
        })),
        { kind: 'paged', args: { user_id: 8 } },
      ]);
      await client.signIn(BASE);
      const first = await client.get(
        `${BASE}/jobs?kind=paged&args=${encodeURIComponent('{"user_id": 7}')}&tag=vip&priority=2&limit=20&order=asc&created_from=2000-01-01T00:00`,
      );
      expect(first.status).toBe(200);
      expect(textOf(first.text)).toContain('5 jobs');
      const small = await client.get(`${BASE}/jobs?kind=paged&limit=20&order=asc`);
      expect(textOf(small.text)).toContain('6 jobs');
      // Pages of 20 hold them all; the API's own page size is what the form offers.
      const bad = await client.get(`${BASE}/jobs?args=${encodeURIComponent('{nope')}`);
      expect(bad.status).toBe(400);
      expect(textOf(bad.text)).toContain('args: must be a JSON object');
      const refused = await client.get(`${BASE}/jobs?order_by=scheduled_at`);
      expect(refused.status).toBe(400);
      expect(textOf(refused.text)).toMatch(/state must list unfinalized states/);

      await seedJobs(
        db,
        schema,
        Array.from({ length: 25 }, () => ({ kind: 'many' })),
      );
      const page1 = await client.get(`${BASE}/jobs?kind=many&limit=20`);
      const next = /href="([^"]+)" rel="next"/.exec(page1.text)?.[1]?.replace(/&amp;/g, '&');
      expect(next).toMatch(/cursor=/);
      const page2 = await client.get(next as string);
      expect(textOf(page2.text)).toContain('5 jobs');
    });

    it('shows a failed job’s errors, traces, lease and timeline', async () => {
      const [id] = (await seedJobs(db, schema, [
        {
          state: 'running',
          attempt: 2,
          kind: 'fragile',
          metadata: { output: { pages: 3 } },
          errors: [
            {
              at: '2031-01-01T00:00:00Z',
              attempt: 1,
              error: 'disk full',
              trace: 'Error: disk full\n    at write (fs.js:1)',
            },
          ],
        },
      ])) as bigint[];
      const expiry = Date.now() + 90_000;
      await db.query(`UPDATE ${jobs} SET attempted_by = $2 WHERE id = $1`, [
        id,
        ['go-river-client-1', `eddy:${expiry}:3f2a9c0b1d2e:worker-7`],
      ]);
      await client.signIn(BASE);
      const page = textOf((await client.get(`${BASE}/jobs/${id}`)).text);
      expect(page).toContain('disk full');
      expect(page).toContain('at write (fs.js:1)');
      expect(page).toContain('"pages": 3');
      expect(page).toContain('Eddy runner worker-7');
      expect(page).toContain(
        `expires ${new Date(expiry).toISOString().slice(0, 19).replace('T', ' ')}Z`,
      );
      expect(page).toContain('go-river-client-1 (a River client)');
      expect(page).toMatch(/attempt 1 failed: disk full/);
      expect((await client.get(`${BASE}/jobs/${(id as bigint) + 99n}`)).status).toBe(404);
    });

    it('shows each periodic schedule’s latest slots and how they ended, and the next slot of a defined one', async () => {
      await seedJobs(db, schema, [
        {
          kind: 'report',
          state: 'completed',
          metadata: {
            'river:periodic_job_id': 'nightly_report',
            periodic: 'nightly_report',
            periodic_slot: '2031-03-01T03:00:00.000Z',
          },
        },
        {
          kind: 'report',
          state: 'discarded',
          attempt: 25,
          metadata: {
            'river:periodic_job_id': 'nightly_report',
            periodic: 'nightly_report',
            periodic_slot: '2031-03-02T03:00:00.000Z',
          },
          errors: [{ at: '2031-03-02T03:00:01Z', attempt: 25, error: 'smtp down', trace: '' }],
        },
        // A schedule Go River runs, not in the dashboard's definitions: found by its metadata.
        { kind: 'go_cleanup', metadata: { 'river:periodic_job_id': 'go_cleanup' } },
      ]);
      await client.signIn(BASE);
      const page = textOf((await client.get(`${BASE}/periodic`)).text);
      expect(page).toContain('nightly_report');
      expect(page).toContain('0 3 * * *');
      expect(page).toMatch(/Next slot \d{4}-\d\d-\d\d 03:00:00Z/);
      expect(page).toMatch(/2031-03-02 03:00:00Z \d+ discarded 25\/25 .* smtp down/);
      expect(page).toMatch(/2031-03-01 03:00:00Z \d+ completed/);
      expect(page).toContain('go_cleanup');
      expect(page).toContain('not known here');
    });

    it('shows the overview per queue: counts, oldest available, finished in the last hour and day, error rate', async () => {
      const hourAgo = new Date(Date.now() - 30 * 60_000).toISOString();
      const dayAgo = new Date(Date.now() - 20 * 60 * 60_000).toISOString();
      await seedJobs(db, schema, [
        { queue: 'email', scheduled_at: new Date(Date.now() - 5 * 60_000).toISOString() },
        { queue: 'email', state: 'completed', finalized_at: hourAgo },
        { queue: 'email', state: 'completed', finalized_at: hourAgo },
        { queue: 'email', state: 'completed', finalized_at: hourAgo },
        { queue: 'email', state: 'discarded', finalized_at: hourAgo },
        { queue: 'email', state: 'completed', finalized_at: dayAgo },
      ]);
      await client.signIn(BASE);
      const page = textOf((await client.get(`${BASE}/`)).text);
      // email: 1 available, oldest waiting ~5 min; 4 finished in the hour (1 discarded: 25 %),
      // 5 in the day (20 %).
      expect(page).toMatch(/email never worked 1 0 0 0 0 5 min( \d+ s)? 4 25\.0 % 5 20\.0 %/);
    });
  });
}

describe('dashboard configuration', () => {
  it('refuses to be built without auth, with a short token, or with an unknown option', () => {
    const refusals: [string, () => unknown][] = [
      ['auth is required', () => createDashboard({ driver: unreachableDriver } as never)],
      [
        'auth.token must be at least 32',
        () => createDashboard({ driver: unreachableDriver, auth: { token: 'short' } }),
      ],
      [
        "readonly is not an option; did you mean 'readOnly'?",
        () =>
          createDashboard({
            driver: unreachableDriver,
            auth: { token: ADMIN_TOKEN },
            readonly: true,
          } as never),
      ],
      [
        'basePath must be a path',
        () =>
          createDashboard({
            driver: unreachableDriver,
            auth: { token: ADMIN_TOKEN },
            basePath: 'admin',
          }),
      ],
    ];
    for (const [message, build] of refusals) {
      let error: unknown;
      try {
        build();
      } catch (e) {
        error = e;
      }
      expect(isValidationError(error), message).toBe(true);
      expect((error as Error).message).toContain(message);
    }
  });

  it('answers 500 and opens nothing when the environment’s token is missing or short', async () => {
    const errors: unknown[] = [];
    const dashboard = createDashboard<{ ADMIN_TOKEN?: string }>({
      driver: unreachableDriver,
      auth: (env) => ({ token: env.ADMIN_TOKEN }),
      onError: (e) => errors.push(e),
    });
    for (const env of [{}, { ADMIN_TOKEN: 'short' }]) {
      const page = await dashboard.fetch(new Request('http://x/jobs'), env);
      expect(page.status).toBe(500);
      expect(await page.text()).toContain('misconfigured');
      const bearer = await dashboard.fetch(
        new Request('http://x/jobs', { headers: { authorization: 'Bearer short' } }),
        env,
      );
      expect(bearer.status).toBe(500);
    }
    expect(errors).toHaveLength(2); // logged once per environment
  });

  it('with insecureNoAuth serves without credentials under a loud banner, and still wants the CSRF token', async () => {
    const dashboard = createDashboard({
      driver: unreachableDriver,
      auth: { insecureNoAuth: true },
    });
    const client = new DashboardClient((request) => dashboard.fetch(request));
    const page = await client.get('/periodic').catch(() => undefined);
    // The page needs the database; the login is what matters here: none is asked for.
    expect(page?.status).toBe(500);
    expect(textOf(page?.text ?? '')).toContain('No authentication (insecureNoAuth)');
    const refused = await client.post('/queues/default/pause', {});
    expect(refused.status).toBe(403);
    // Only the token matters here: bearer and session tokens derive from the admin token.
    const key = await sessionKey(ADMIN_TOKEN);
    expect(await csrfToken(key, 'bearer')).not.toBe(await csrfToken(key, 'other'));
  });
});
