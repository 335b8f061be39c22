/**
 * The Python worker of examples/rest (standard library only) against a real `eddy serve` on
 * PostgreSQL: it claims and completes, fails and is retried, and, killed mid-job, sees its job
 * rescued by the server's maintenance and finished by the next worker. The rows are read back.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase } from './support/postgres.js';
import {
  bundleCli,
  callApi,
  type Served,
  startServe,
  TEST_API_KEY,
} from './support/serve-process.js';

const root = new URL('..', import.meta.url).pathname;

let cli: { entry: string; remove: () => void };
let database: { url: string; drop: () => Promise<void> };
let pool: pg.Pool;
let served: Served;
const workers: ChildProcess[] = [];

interface PythonWorker {
  child: ChildProcess;
  output(): string;
}

function startPythonWorker(name: string, leaseMs: number): PythonWorker {
  const child = spawn('python3', ['worker.py'], {
    cwd: `${root}examples/rest/python`,
    env: {
      ...process.env,
      EDDY_URL: served.url,
      EDDY_API_KEY: TEST_API_KEY,
      EDDY_WORKER: name,
      EDDY_LEASE_MS: String(leaseMs),
      PYTHONUNBUFFERED: '1',
    },
  });
  workers.push(child);
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  return { child, output: () => output };
}

async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  ms = 30_000,
) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function job(id: string) {
  const { rows } = await pool.query(
    `SELECT state::text AS state, attempt, errors, metadata, attempted_by FROM river_job WHERE id = $1`,
    [id],
  );
  return rows[0];
}

beforeAll(async () => {
  cli = await bundleCli();
  database = await createDatabase('eddy_py');
  pool = new pg.Pool({ connectionString: database.url, max: 2 });
  served = await startServe(cli.entry, [
    '--database-url',
    database.url,
    '--migrate',
    '--maintenance-ms',
    '250',
  ]);
});

afterAll(async () => {
  for (const child of workers) if (child.exitCode === null) child.kill('SIGKILL');
  await served?.stop();
  cli?.remove();
  await pool?.end();
  await database?.drop();
});

describe('the Python worker of examples/rest against eddy serve', () => {
  it('completes, fails and retries, and after being killed mid-job sees its job rescued and finished', async () => {
    const inserted = await callApi(served.url, 'POST', '/v1/jobs', {
      jobs: [
        { kind: 'echo', args: { hello: 'python' } },
        { kind: 'flaky', args: { succeed_on: 2 } },
      ],
    });
    expect(inserted.status).toBe(201);
    const [echo, flaky] = (inserted.body as { jobs: { id: string }[] }).jobs.map((j) => j.id) as [
      string,
      string,
    ];

    const first = startPythonWorker('python-1', 3_000);
    await until('the echo job to complete', async () => (await job(echo)).state === 'completed');
    expect(await job(echo)).toMatchObject({
      attempt: 1,
      metadata: { output: { echo: { hello: 'python' }, attempt: 1 } },
    });

    // The flaky job fails its first attempt, is retried with River's backoff (about 1 s, then
    // promoted by the server's maintenance) and completes on its second.
    await until('the flaky job to complete', async () => (await job(flaky)).state === 'completed');
    const retried = await job(flaky);
    expect(retried.attempt).toBe(2);
    expect(retried.errors).toHaveLength(1);
    expect(retried.errors[0]).toMatchObject({
      attempt: 1,
      error: 'RuntimeError: flaky failure on attempt 1',
      trace: expect.stringContaining('Traceback'),
    });
    expect(retried.metadata.output).toEqual({ succeeded_on: 2 });

    // A job that runs for a minute; the worker's heartbeat keeps its 3 s lease alive meanwhile.
    const long = await callApi(served.url, 'POST', '/v1/jobs', {
      kind: 'sleep',
      args: { seconds: 60, retry_seconds: 0 },
    });
    const sleep = (long.body as { jobs: { id: string }[] }).jobs[0]?.id as string;
    await until('the sleep job to start', () =>
      first.output().includes(`job ${sleep}: sleeping 60 s`),
    );
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect((await job(sleep)).state).toBe('running');
    first.child.kill('SIGKILL');

    // The heartbeat stopped with the process: the lease passes, maintenance rescues the job.
    await until('the sleep job to be rescued', async () => {
      const row = await job(sleep);
      return row.state !== 'running' ? row : undefined;
    });
    const rescued = await job(sleep);
    expect(rescued.errors.at(-1).error).toMatch(/lease expired: .*\(python-1\).*rescued/);
    expect(rescued.metadata['river:rescue_count']).toBe(1);

    const second = startPythonWorker('python-2', 3_000);
    await until(
      'the sleep job to complete',
      async () => (await job(sleep)).state === 'completed',
      30_000,
    );
    const finished = await job(sleep);
    expect(finished.attempt).toBe(2);
    expect(finished.metadata.output).toEqual({ slept: 0, attempt: 2 });
    expect(
      finished.attempted_by.map((entry: string) => entry.split(':').slice(3).join(':')),
    ).toEqual(['python-1', 'python-2']);
    second.child.kill('SIGTERM');
    await new Promise((resolve) => second.child.once('exit', resolve));
    expect(second.output()).toMatch(/worker python-2: stopped/);
  });
});
