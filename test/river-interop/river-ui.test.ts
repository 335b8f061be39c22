/**
 * Scenario 7: River UI v0.22.0 (built from the module proxy by the global setup) on a database
 * Eddy works, driven in headless Chromium: it lists Eddy's jobs in their states, shows their
 * attempt errors and output, and its cancel, retry, delete and queue pause act on what Eddy
 * runs. Each step is checked in the database.
 */

import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/client.js';
import { createRunner, type Runner } from '../../src/runner/runner.js';
import { defineWorker } from '../../src/worker.js';
import { type Browser, launchChromium, type Page } from '../support/browser.js';
import { DATABASE_URL } from '../support/postgres.js';
import { freePort, type Service, watchService } from '../support/processes.js';
import { RIVER_UI_BIN } from './support/go.js';
import { type InteropSchema, interopSchema, waitFor } from './support/interop.js';

const SCREENSHOTS = new URL('../../test-results/river-ui/', import.meta.url).pathname;

describe('River UI on a database Eddy works', () => {
  let db: InteropSchema;
  let ui: Service;
  let base: string;
  let browser: Browser;
  let page: Page;
  let runner: Runner;
  const ids: Record<string, bigint> = {};

  beforeAll(async () => {
    db = await interopSchema('rui');
    const eddy = createClient({ driver: db.driver, schema: db.schema });
    runner = createRunner({
      driver: db.driver,
      schema: db.schema,
      queues: { default: {}, ui_paused: {} },
      workers: [
        defineWorker('ui_done', async () => ({ answer: 42, by: 'eddy' })),
        defineWorker('ui_fail', async () => {
          throw new Error('ui failure text from Eddy');
        }),
        defineWorker('ui_retry', async (job) => {
          if (job.attempt === 1) throw new Error('first attempt fails');
          return 'second attempt';
        }),
        defineWorker('ui_later', async () => undefined),
        defineWorker('ui_delete', async () => undefined),
        defineWorker('ui_paused_job', async () => undefined),
      ],
    });
    const insert = async (kind: string, options = {}) => {
      ids[kind] = (await eddy.insert(kind, { for: kind }, options)).job.id;
    };
    await insert('ui_done');
    await insert('ui_fail', { maxAttempts: 1 });
    await insert('ui_retry', { maxAttempts: 1 });
    await insert('ui_later', { performIn: 3_600_000 });
    await insert('ui_delete');
    expect(await runner.tick({ budgetMs: 5000 })).toMatchObject({
      completed: 2,
      discarded: 2,
    });

    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const child = spawn(RIVER_UI_BIN, ['-schema', db.schema], {
      // Not the test's environment: vitest sets DEV, which puts River UI in development mode
      // (assets from a Vite server that is not there).
      env: { PATH: process.env.PATH, DATABASE_URL, RIVER_HOST: '127.0.0.1', PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    ui = watchService(child);
    await waitFor('River UI to serve', async () => (await fetch(`${base}/api/features`)).ok);
    browser = await launchChromium();
    page = await browser.newPage();
    mkdirSync(SCREENSHOTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await ui?.stop();
    await db?.close();
  });

  const open = async (path: string, shot: string) => {
    await page.goto(`${base}${path}`);
    return async () => page.screenshot({ path: `${SCREENSHOTS}${shot}.png`, fullPage: true });
  };
  /** The first visible element showing `text` (River UI renders a hidden mobile copy too). */
  const shown = (text: string | RegExp, exact = false) =>
    page.getByText(text, { exact }).filter({ visible: true }).first();
  const stateOf = async (id: bigint) => (await db.jobs('id = $1', [id]))[0]?.state;

  it("lists Eddy's jobs in their states", async () => {
    for (const [state, kinds] of [
      ['completed', ['ui_done', 'ui_delete']],
      ['discarded', ['ui_fail', 'ui_retry']],
      ['scheduled', ['ui_later']],
    ] as const) {
      const shot = await open(`/jobs?state=${state}`, `jobs-${state}`);
      for (const kind of kinds) await shown(kind, true).waitFor();
      await shot();
    }
  });

  it("shows a job's attempt error and its output", async () => {
    let shot = await open(`/jobs/${ids.ui_fail}`, 'job-failed');
    await shown('ui failure text from Eddy').waitFor();
    await shown(/Failed\s*\(Attempt 1\)/).waitFor();
    await shot();

    shot = await open(`/jobs/${ids.ui_done}`, 'job-output');
    await shown('"output"').waitFor();
    await shown(/… 2 keys/).click();
    await shown('"answer"').waitFor();
    const text = await page.locator('body').innerText();
    expect(text).toMatch(/"answer"\s*:\s*42/);
    expect(text).toMatch(/"by"\s*:\s*"eddy"/);
    await shot();
  });

  it('cancels a job Eddy would run, and Eddy leaves it cancelled', async () => {
    const shot = await open(`/jobs/${ids.ui_later}`, 'job-cancel');
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    await waitFor(
      'the job to be cancelled',
      async () => (await stateOf(ids.ui_later as bigint)) === 'cancelled',
    );
    await shot();
    await runner.tick({ budgetMs: 1000 });
    expect(await stateOf(ids.ui_later as bigint)).toBe('cancelled');
  });

  it('retries a discarded job, which Eddy then runs to completion', async () => {
    const shot = await open(`/jobs/${ids.ui_retry}`, 'job-retry');
    await page.getByRole('button', { name: 'Retry', exact: true }).click();
    await waitFor(
      'the job to be available',
      async () => (await stateOf(ids.ui_retry as bigint)) === 'available',
    );
    await shot();
    expect(await runner.tick({ budgetMs: 3000 })).toMatchObject({ completed: 1 });
    const [row] = await db.jobs('id = $1', [ids.ui_retry]);
    expect(row).toMatchObject({ state: 'completed', attempt: 2 });
    expect(row?.metadata.output).toBe('second attempt');
  });

  it('deletes a job Eddy finished', async () => {
    const shot = await open(`/jobs/${ids.ui_delete}`, 'job-delete');
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('button', { name: 'Delete job', exact: true }).click();
    await waitFor(
      'the job to be gone',
      async () => (await db.jobs('id = $1', [ids.ui_delete])).length === 0,
    );
    await shot();
  });

  it("pauses a queue, which stops Eddy's runner claiming from it, and resumes it", async () => {
    const eddy = createClient({ driver: db.driver, schema: db.schema });
    const { job } = await eddy.insert('ui_paused_job', {}, { queue: 'ui_paused' });
    let shot = await open('/queues', 'queues');
    await page.getByRole('button', { name: 'Pause, ui_paused' }).click();
    await waitFor('the queue to be paused', async () => {
      const { rows } = await db.pool.query(
        `SELECT paused_at FROM ${db.schema}.river_queue WHERE name = 'ui_paused'`,
      );
      return rows[0]?.paused_at instanceof Date;
    });
    await shot();
    expect((await runner.tick({ budgetMs: 1000 })).claimed).toBe(0);
    expect(await stateOf(job.id)).toBe('available');

    shot = await open('/queues', 'queues-resume');
    await page.getByRole('button', { name: 'Resume, ui_paused' }).click();
    await waitFor('the queue to be resumed', async () => {
      const { rows } = await db.pool.query(
        `SELECT paused_at FROM ${db.schema}.river_queue WHERE name = 'ui_paused'`,
      );
      return rows[0]?.paused_at === null;
    });
    await shot();
    expect(await runner.tick({ budgetMs: 2000 })).toMatchObject({ claimed: 1, completed: 1 });
  });
});
