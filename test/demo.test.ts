/**
 * `npm run demo`, bounded: `--once` exits when the sample jobs have finished. Crons fire every
 * 2 s (DEMO_CRONS, with a seconds field) instead of wrangler.toml's every minute, so the retries
 * and snoozes play out in seconds.
 */

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createDatabase } from './support/postgres.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Runs the demo script to its end (killed after `limitMs`); resolves with its output. */
function runDemo(
  env: Record<string, string | undefined>,
  limitMs = 100_000,
): Promise<{ code: number | null; output: string }> {
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: '0',
    DEMO_CRONS: '*/2 * * * * *',
    DEMO_EXIT_AFTER_MS: String(limitMs - 10_000),
    ...env,
  };
  for (const [key, value] of Object.entries(childEnv)) {
    if (value === undefined) delete childEnv[key];
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/demo.ts', '--once'], {
      cwd: root,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

function expectTicksWorkedEverything(output: string) {
  expect(output).toMatch(/worker: eddy-example .* in workerd at http:\/\/127\.0\.0\.1:\d+/);
  expect(output).toMatch(/firing cron \*\/2 \* \* \* \* \* now/);
  expect(output).toMatch(/POST \/signup ada(\+\w+)?@example\.com → 201/);
  // Ticks from the cron schedule and from the kicks after signups, completing jobs.
  expect(output).toMatch(/tick \(cron \*\/2 \* \* \* \* \*\): claimed \d+ · completed [1-9]/);
  expect(output).toMatch(/tick \(kick after signup\): claimed [1-9]\d* · completed [1-9]/);
  expect(output).toMatch(/retried [1-9]/);
  expect(output).toMatch(/snoozed [1-9]/);
  expect(output).toMatch(/synced ada(\+\w+)?@example\.com to the CRM on attempt 3/);
  expect(output).toMatch(/verified after 2 snoozes/);
  // The last state line: everything completed, nothing left.
  const states = output.match(/jobs: .*$/gm) ?? [];
  expect(states.at(-1)).toMatch(/^jobs: \d+ completed$/);
  expect(output).toContain('--once: every sample job has finished');
  expect(output).toContain('closed cleanly');
}

describe('npm run demo', () => {
  it.concurrent('runs the example Worker on an embedded PGlite when DATABASE_URL is unset', async () => {
    const { code, output } = await runDemo({ DATABASE_URL: undefined });
    expect(output).toMatch(/database: an embedded PGlite .* River schema v8 \(applied 1, 2/);
    expectTicksWorkedEverything(output);
    expect(code).toBe(0);
  }, 110_000);

  it.concurrent('fronts the PostgreSQL of DATABASE_URL when it is set', async () => {
    const database = await createDatabase('eddy_demo');
    try {
      const { code, output } = await runDemo({ DATABASE_URL: database.url });
      expect(output).toMatch(/database: PostgreSQL at [^,]+, River schema v8/);
      expectTicksWorkedEverything(output);
      expect(code).toBe(0);

      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        const users = await client.query('SELECT email FROM demo_users ORDER BY email');
        // Tagged per run, since such a database outlives the demo.
        expect(users.rows.map((r) => r.email)).toEqual([
          expect.stringMatching(/^ada\+\w+@example\.com$/),
          expect.stringMatching(/^grace\+\w+@example\.com$/),
          expect.stringMatching(/^linus\+\w+@example\.com$/),
        ]);
        const states = await client.query(
          'SELECT DISTINCT state::text AS state FROM river_job ORDER BY 1',
        );
        expect(states.rows).toEqual([{ state: 'completed' }]);
      } finally {
        await client.end();
      }
    } finally {
      await database.drop();
    }
  }, 110_000);
});
