/**
 * The dashboard in a real browser: Debian's headless Chromium driven by playwright-core, against
 * the dashboard served by Node (the `eddy dashboard` server's node:http bridge) over node-postgres
 * on the real PostgreSQL. Each step a person takes is checked in the rows: signing in, filtering
 * the job list, reading a failed job's trace, retrying a discarded job, bulk-cancelling, pausing
 * and resuming a queue, read-only mode, and the same without JavaScript. Every page is
 * screenshotted into test-results/dashboard/ and checked for accessibility with axe-core (WCAG
 * 2 A and AA: labels, contrast, …), and the keyboard reaches every control with a visible focus.
 */

import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveFetch } from '../adapters/node/http-server.js';
import { nodePostgres } from '../adapters/node-postgres/index.js';
import { createDashboard } from '../src/dashboard/index.js';
import { Database } from '../src/driver/database.js';
import { migrate } from '../src/migrate.js';
import { definePeriodicJob } from '../src/runner/periodic.js';
import { seedJobs } from './support/admin-fixtures.js';
import { type Browser, launchChromium, type Page } from './support/browser.js';
import { ADMIN_TOKEN } from './support/dashboard-client.js';
import { DATABASE_URL, uniqueName } from './support/postgres.js';

// axe-core (a dev dependency; found on NODE_PATH too) is injected into each page by the
// debugging protocol, which the page's CSP does not govern.
const axeSource = readFileSync(
  createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
  'utf8',
);
const shots = join(new URL('..', import.meta.url).pathname, 'test-results', 'dashboard');

const schema = uniqueName('dash_ui');
const jobs = `${schema}.river_job`;
let pool: pg.Pool;
let db: Database;
let browser: Browser;
let page: Page;
let url: string;
let readOnlyUrl: string;
const closers: (() => Promise<unknown>)[] = [];
const checkedPages: string[] = [];

interface AxeViolation {
  id: string;
  impact: string;
  help: string;
  nodes: { target: string[] }[];
}

/** Screenshots the page and runs axe on it; returns its violations (expected none). */
async function inspect(name: string, on: Page = page): Promise<AxeViolation[]> {
  await on.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  checkedPages.push(name);
  await on.evaluate(axeSource);
  return axeViolations(on);
}

async function axeViolations(on: Page): Promise<AxeViolation[]> {
  const result = (await on.evaluate(() =>
    (globalThis as any).axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    }),
  )) as { violations: AxeViolation[]; passes: { id: string }[] };
  // It ran: the rules it checks (labels, contrast, …) passed on something.
  expect(result.passes.map((p) => p.id)).toEqual(expect.arrayContaining(['color-contrast']));
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.slice(0, 3).map((n) => ({ target: n.target })),
  }));
}

interface StoredJob {
  state: string;
  max_attempts: number;
  errors: { error: string; trace: string }[];
}

const row = async (id: bigint): Promise<StoredJob> => {
  const { rows } = await db.query(
    `SELECT state::text AS state, max_attempts, errors FROM ${jobs} WHERE id = $1`,
    [id],
  );
  return rows[0] as unknown as StoredJob;
};

const READ_ONLY_TOKEN = `${ADMIN_TOKEN}-read-only`;

async function signIn(on: Page, base: string, token = ADMIN_TOKEN): Promise<void> {
  const response = await on.goto(`${base}/`);
  expect(response?.status()).toBe(401);
  await on.getByLabel('Admin token').fill(token);
  await on.getByRole('button', { name: 'Sign in' }).click();
  await on.waitForURL(`${base}/`);
}

let failedId: bigint;
let discardedIds: bigint[];
let bulkIds: bigint[];

beforeAll(async () => {
  mkdirSync(shots, { recursive: true });
  pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
  db = new Database(nodePostgres(pool));
  await pool.query(`CREATE SCHEMA ${schema}`);
  await migrate(nodePostgres(pool), { schema });
  const trace = 'Error: mailbox full\n    at deliver (mail.ts:42:7)\n    at work (worker.ts:9:3)';
  discardedIds = (await seedJobs(db, schema, [
    ...[1, 2].map((n) => ({
      kind: 'send_email',
      queue: 'email',
      state: 'discarded',
      attempt: 5,
      max_attempts: 5,
      args: { to: `user${n}@example.com` },
      errors: [{ at: '2031-01-01T00:00:00Z', attempt: 5, error: 'mailbox full', trace }],
    })),
  ])) as bigint[];
  [failedId] = (await seedJobs(db, schema, [
    {
      kind: 'send_email',
      queue: 'email',
      state: 'retryable',
      attempt: 1,
      args: { to: 'ada@example.com' },
      scheduled_at: '2031-01-01T00:00:00Z',
      errors: [{ at: '2030-12-31T23:59:00Z', attempt: 1, error: 'connection reset', trace }],
    },
  ])) as [bigint];
  await seedJobs(db, schema, [
    { kind: 'send_email', queue: 'email', state: 'completed', attempt: 1 },
    { kind: 'resize', queue: 'images', args: { w: 640 } },
    {
      kind: 'report',
      state: 'completed',
      metadata: {
        'river:periodic_job_id': 'hourly_report',
        periodic: 'hourly_report',
        periodic_slot: '2031-01-01T10:00:00.000Z',
      },
    },
  ]);
  bulkIds = (await seedJobs(
    db,
    schema,
    Array.from({ length: 4 }, (_, i) => ({ kind: 'bulk_job', queue: 'bulk', args: { i } })),
  )) as bigint[];
  await pool.query(
    `INSERT INTO ${schema}.river_queue (name) VALUES ('email'), ('bulk'), ('images'), ('default')`,
  );
  const periodic = [
    definePeriodicJob({
      name: 'hourly_report',
      kind: 'report',
      schedule: '0 * * * *',
      workedElsewhere: true,
    }),
  ];
  const driver = nodePostgres(pool);
  for (const readOnly of [false, true]) {
    // The read-only one as a second deployment: its own token, under /ro (so its session
    // cookie, on the same host, is its own).
    const dashboard = createDashboard({
      driver,
      schema,
      auth: { token: readOnly ? READ_ONLY_TOKEN : ADMIN_TOKEN },
      basePath: readOnly ? '/ro' : '',
      readOnly,
      periodic,
    });
    const server = await serveFetch((request) => dashboard.fetch(request), {
      port: 0,
      host: '127.0.0.1',
    });
    closers.push(() => server.close(1000));
    if (readOnly) readOnlyUrl = `${server.url}/ro`;
    else url = server.url;
  }
  browser = await launchChromium();
  page = await browser.newPage();
  page.on('dialog', (dialog) => void dialog.accept());
}, 60_000);

afterAll(async () => {
  await browser?.close();
  for (const close of closers) await close();
  await pool?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await pool?.end();
});

describe('the dashboard in Chromium', () => {
  it('signs in with the admin token: an HttpOnly, SameSite=Strict session cookie', async () => {
    await page.goto(`${url}/`);
    expect(await inspect('login')).toEqual([]);
    await page.getByLabel('Admin token').fill(`${ADMIN_TOKEN}-wrong`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('not the admin token');
    await signIn(page, url);
    const cookie = (await page.context().cookies()).find(
      (c) => c.name === 'eddy_dashboard_session',
    );
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    // The overview counts what the table holds.
    const { rows } = await pool.query(
      `SELECT count(*)::int AS n FROM ${jobs} WHERE queue = 'bulk' AND state = 'available'`,
    );
    const bulk = page.getByRole('row', { name: /^bulk/ });
    await expect.poll(() => bulk.getByRole('cell').nth(1).textContent()).toBe(String(rows[0].n));
    expect(await inspect('overview')).toEqual([]);
  });

  it('filters the job list by state and kind, as the rows hold them', async () => {
    await page.goto(`${url}/jobs`);
    expect(await inspect('jobs')).toEqual([]);
    await page.getByRole('checkbox', { name: 'discarded' }).check();
    await page.getByLabel('Kind').fill('send_email');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/state=discarded/);
    const { rows } = await pool.query(
      `SELECT id::text FROM ${jobs} WHERE state = 'discarded' AND kind = 'send_email' ORDER BY id DESC`,
    );
    const shown = await page.locator('tbody tr td:nth-child(2) a').allTextContents();
    expect(shown).toEqual(rows.map((r) => r.id));
    expect(await inspect('jobs-filtered')).toEqual([]);
  });

  it('opens a failed job and reads its trace', async () => {
    await page.goto(`${url}/jobs?state=retryable`);
    await page.getByRole('link', { name: String(failedId), exact: true }).click();
    await page.waitForURL(`${url}/jobs/${failedId}`);
    const [stored] = (await row(failedId)).errors as [StoredJob['errors'][0]];
    const trace = await page.locator('details pre').first().textContent();
    expect(trace).toBe(stored.trace);
    expect(await page.getByText(stored.error, { exact: true }).count()).toBe(1);
    expect(await inspect('job-failed')).toEqual([]);
  });

  it('retries a discarded job after confirming', async () => {
    const id = discardedIds[0] as bigint;
    await page.goto(`${url}/jobs/${id}`);
    expect(await inspect('job-discarded')).toEqual([]);
    await page.getByRole('button', { name: 'Retry' }).click();
    await page.waitForURL(/done=retry/);
    expect(await page.getByRole('status').textContent()).toBe(
      `Job ${id}: retried; it is available now.`,
    );
    expect(await row(id)).toMatchObject({ state: 'available', max_attempts: 6 });
  });

  it('bulk-cancels the jobs selected with "select all"', async () => {
    await page.goto(`${url}/jobs?kind=bulk_job`);
    await page.getByLabel('Select every job on this page').check();
    await page.getByRole('button', { name: 'Cancel selected' }).click();
    await page.waitForURL(/done=cancel/);
    expect(await page.getByRole('status').textContent()).toBe('Cancelled 4 jobs.');
    const { rows } = await pool.query(
      `SELECT DISTINCT state::text AS state FROM ${jobs} WHERE id = ANY ($1::int8[])`,
      [bulkIds],
    );
    expect(rows).toEqual([{ state: 'cancelled' }]);
    expect(await inspect('jobs-after-bulk-cancel')).toEqual([]);
  });

  it('pauses and resumes a queue', async () => {
    const pausedAt = async () =>
      (await pool.query(`SELECT paused_at FROM ${schema}.river_queue WHERE name = 'email'`)).rows[0]
        .paused_at;
    await page.goto(`${url}/queues`);
    expect(await inspect('queues')).toEqual([]);
    await page.getByRole('button', { name: 'Pause email' }).click();
    await page.waitForURL(/done=pause/);
    expect(await pausedAt()).toBeInstanceOf(Date);
    expect(await inspect('queues-paused')).toEqual([]);
    await page.getByRole('button', { name: 'Resume email' }).click();
    await page.waitForURL(/done=resume/);
    expect(await pausedAt()).toBeNull();
    await page.getByRole('link', { name: 'email', exact: true }).click();
    expect(await page.getByRole('heading', { name: 'Limits and their current use' }).count()).toBe(
      1,
    );
    expect(await inspect('queue')).toEqual([]);
  });

  it('shows periodic schedules with their latest slots and next slot', async () => {
    await page.goto(`${url}/periodic`);
    const text = await page.locator('main').textContent();
    expect(text).toContain('hourly_report');
    expect(text).toMatch(/Next slot\d{4}-\d\d-\d\d \d\d:00:00Z/);
    expect(await inspect('periodic')).toEqual([]);
  });

  it('turns auto-refresh on: the page reloads by itself', async () => {
    await page.goto(`${url}/jobs?state=available`);
    await page.getByLabel('Auto-refresh every 5 s').check();
    await page.waitForURL(/refresh=1/);
    const reloaded = page.waitForEvent('load', { timeout: 15_000 });
    await reloaded;
    expect(page.url()).toMatch(/refresh=1/);
    expect(await page.getByLabel('Auto-refresh every 5 s').isChecked()).toBe(true);
  });

  it('reaches every control by keyboard, each with a visible focus ring, starting with "Skip to content"', async () => {
    // A tab of its own, in front (the shared one has been through dialogs and reloads).
    const page = await browser.newPage();
    await page.bringToFront();
    await page.goto(`${url}/jobs`);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent?.trim())).toBe(
      'Skip to content',
    );
    const focusable = await page
      .locator('a[href]:visible, button:visible, input:not([type=hidden]):visible, select:visible')
      .count();
    const seen = new Set<string>();
    // Until focus comes back round to the first control (a date field takes a Tab per part).
    for (let i = 0; i < focusable * 8; i++) {
      await page.keyboard.press('Tab');
      const focus = await page.evaluate(() => {
        const el = document.activeElement as HTMLElement | null;
        if (!el || el === document.body) return undefined;
        const style = getComputedStyle(el);
        const box = el.getBoundingClientRect();
        return {
          key: `${el.tagName}:${el.id}:${el.getAttribute('name') ?? ''}:${el.getAttribute('value') ?? ''}:${el.textContent?.trim() ?? ''}:${el.getAttribute('href') ?? ''}`,
          ring: style.outlineStyle !== 'none' && Number.parseFloat(style.outlineWidth) >= 2,
          visible: box.width > 0 && box.height > 0,
        };
      });
      if (!focus) continue;
      if (focus.key.includes('Skip to content')) break;
      expect(focus.ring, focus.key).toBe(true);
      expect(focus.visible, focus.key).toBe(true);
      seen.add(focus.key);
    }
    // Every visible control but the skip link was reached.
    expect(seen.size).toBe(focusable - 1);
    await page.close();
  });

  it('in read-only mode shows no action and refuses a change sent anyway', async () => {
    const reader = await browser.newPage();
    try {
      await signIn(reader, readOnlyUrl, READ_ONLY_TOKEN);
      const id = discardedIds[1] as bigint;
      await reader.goto(`${readOnlyUrl}/jobs/${id}`);
      expect(await reader.getByRole('button', { name: 'Retry' }).count()).toBe(0);
      expect(await reader.getByText('Read-only: actions are hidden and refused.').count()).toBe(1);
      expect(await inspect('read-only-job', reader)).toEqual([]);
      // The form the full dashboard would show, posted from the page itself.
      const status = await reader.evaluate(async (jobId) => {
        const body = new URLSearchParams({ _csrf: 'whatever', confirm: 'yes' });
        const response = await fetch(`/ro/jobs/${jobId}/retry`, { method: 'POST', body });
        return response.status;
      }, String(id));
      expect(status).toBe(403);
      expect((await row(id)).state).toBe('discarded');
      await reader.goto(`${readOnlyUrl}/queues`);
      expect(await reader.getByRole('button', { name: /^Pause/ }).count()).toBe(0);
    } finally {
      await reader.close();
    }
  });
});

describe('the dashboard with JavaScript off', () => {
  let plain: Browser;
  beforeAll(async () => {
    plain = await launchChromium({ javaScriptEnabled: false });
  });
  afterAll(async () => plain?.close());

  it('reads every page and retries through the server’s confirmation page', async () => {
    const p = await plain.newPage();
    await signIn(p, url);
    for (const path of ['/', '/jobs', `/jobs/${failedId}`, '/queues', '/periodic']) {
      const response = await p.goto(`${url}${path}`);
      expect(response?.status(), path).toBe(200);
    }
    await p.goto(`${url}/jobs/${failedId}`);
    await p.getByRole('button', { name: 'Retry' }).click();
    await p.waitForURL(`${url}/jobs/${failedId}/retry`);
    expect(await p.locator('main p').first().textContent()).toContain(
      `Retry job ${failedId} (send_email, retryable in email)?`,
    );
    // No script runs in this browser, axe's neither: the same page is checked with it on below.
    await p.screenshot({ path: join(shots, 'confirm-no-js.png'), fullPage: true });
    expect((await row(failedId)).state).toBe('retryable');
    await p.getByRole('button', { name: `Retry job ${failedId}` }).click();
    await p.waitForURL(/done=retry/);
    expect((await row(failedId)).state).toBe('available');
    expect(checkedPages.length).toBeGreaterThanOrEqual(12);
    await p.close();
  });
});
