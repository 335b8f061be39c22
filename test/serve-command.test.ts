/**
 * `eddy serve` as a user runs it: with no flags on a fresh directory (embedded PGlite kept in
 * ./.eddy), across a restart, refusing a second process on the same directory and a start
 * without a key; on PostgreSQL with --database-url; its /readyz, /livez, /metrics (parsed by a
 * real Prometheus text-format parser) and a signed kick; stopped by SIGTERM.
 */

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKick } from '../src/http/kick.js';
import { createDatabase } from './support/postgres.js';
import {
  bundleCli,
  callApi,
  runCli,
  type Served,
  startServe,
  TEST_API_KEY,
} from './support/serve-process.js';

// A CommonJS package: loaded with require, which also finds a copy on NODE_PATH.
const parsePrometheusTextFormat = createRequire(import.meta.url)(
  'parse-prometheus-text-format',
) as (text: string) => {
  name: string;
  type: string;
  help: string;
  metrics: { labels?: Record<string, string>; value?: string; buckets?: Record<string, string> }[];
}[];

let cli: { entry: string; remove: () => void };
const scratch: string[] = [];
const servers: Served[] = [];

beforeAll(async () => {
  cli = await bundleCli();
});

afterAll(async () => {
  for (const served of servers) await served.stop();
  cli?.remove();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'eddy-serve-'));
  scratch.push(dir);
  return dir;
}

async function serve(args: string[], options: Parameters<typeof startServe>[2] = {}) {
  const served = await startServe(cli.entry, args, options);
  servers.push(served);
  return served;
}

describe('eddy serve', () => {
  it('refuses to start without an API key, saying which variables to set', async () => {
    const { code, output } = await runCli(cli.entry, ['serve', '--data-dir', freshDir()], {
      env: { EDDY_API_KEY: undefined, EDDY_API_KEYS: undefined },
    });
    expect(code).toBe(1);
    expect(output).toMatch(/no API key: set EDDY_API_KEY .* or EDDY_API_KEYS/);
    const short = await runCli(cli.entry, ['serve', '--data-dir', freshDir()], {
      env: { EDDY_API_KEY: 'short' },
    });
    expect(short.code).toBe(1);
    expect(short.output).toMatch(/at least 32 characters/);
  });

  it('starts with no flags on an embedded database in ./.eddy, keeps its jobs across a restart, and allows one process per directory', async () => {
    const cwd = freshDir();
    const first = await serve([], { cwd });
    expect(first.output()).toMatch(/embedded PGlite in \.eddy/);
    expect(existsSync(join(cwd, '.eddy', 'eddy-serve.lock'))).toBe(true);
    expect((await callApi(first.url, 'GET', '/livez')).status).toBe(200);
    expect(await callApi(first.url, 'GET', '/readyz')).toMatchObject({
      status: 200,
      body: { status: 'ready', migrationVersion: 8 },
    });
    const inserted = await callApi(first.url, 'POST', '/v1/jobs', {
      jobs: [
        { kind: 'keep_me', args: { n: 1 } },
        { kind: 'keep_me', args: { n: 2 }, queue: 'other' },
      ],
    });
    expect(inserted.status).toBe(201);

    const second = await runCli(cli.entry, ['serve', '--port', '0'], {
      cwd,
      env: { EDDY_API_KEY: TEST_API_KEY },
    });
    expect(second.code).toBe(1);
    expect(second.output).toMatch(/is in use by another eddy serve \(pid \d+\)/);

    expect(await first.stop()).toBe(0);
    expect(first.output()).toMatch(/SIGTERM, stopping[\s\S]*stopped/);
    expect(existsSync(join(cwd, '.eddy', 'eddy-serve.lock'))).toBe(false);

    const again = await serve([], { cwd });
    expect(again.output()).toMatch(/nothing to apply/);
    const claimed = await callApi(again.url, 'POST', '/v1/claims', {
      kinds: ['keep_me'],
      queues: ['default', 'other'],
      limit: 10,
    });
    const ids = (claimed.body as { jobs: { id: string; args: unknown }[] }).jobs.map((j) => j.args);
    expect(ids).toEqual(expect.arrayContaining([{ n: 1 }, { n: 2 }]));
    expect(await again.stop()).toBe(0);
  });

  it('serves PostgreSQL at --database-url, answering /readyz 503 until the schema is migrated', async () => {
    const database = await createDatabase('eddy_serve');
    try {
      const bare = await serve(['--database-url', database.url]);
      const unready = await callApi(bare.url, 'GET', '/readyz');
      expect(unready.status).toBe(503);
      expect(unready.body).toMatchObject({
        status: 'unready',
        reason: expect.stringMatching(/eddy migrate/),
      });
      expect(await bare.stop()).toBe(0);
      const migrated = await serve(['--database-url', database.url, '--migrate']);
      expect((await callApi(migrated.url, 'GET', '/readyz')).status).toBe(200);
      expect(await migrated.stop()).toBe(0);
    } finally {
      await database.drop();
    }
  });

  it('answers /metrics in Prometheus text format, which a real parser reads', async () => {
    const served = await serve(['--data-dir', freshDir()]);
    await callApi(served.url, 'POST', '/v1/jobs', {
      jobs: [
        { kind: 'measured', args: {}, queue: 'q1' },
        { kind: 'measured', args: {}, queue: 'q1' },
        { kind: 'measured', args: {}, queue: 'q2' },
      ],
    });
    const { body } = await callApi(served.url, 'POST', '/v1/claims', {
      kinds: ['measured'],
      queues: ['q1'],
    });
    const [job] = (body as { jobs: { id: string; token: string }[] }).jobs;
    await callApi(served.url, 'POST', `/v1/jobs/${job?.id}/complete`, { token: job?.token });

    expect(
      (
        await callApi(
          served.url,
          'GET',
          '/metrics',
          undefined,
          'wrong-key-0123456789abcdef0123456789',
        )
      ).status,
    ).toBe(401);
    const response = await fetch(`${served.url}/metrics`, {
      headers: { authorization: `Bearer ${TEST_API_KEY}` },
    });
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheusTextFormat(await response.text());
    const family = (name: string) => families.find((f) => f.name === name);
    const sample = (name: string, labels: Record<string, string>) =>
      family(name)?.metrics.find((m) =>
        Object.entries(labels).every(([k, v]) => m.labels?.[k] === v),
      );

    expect(family('eddy_jobs')?.type).toBe('GAUGE');
    expect(sample('eddy_jobs', { queue: 'q1', state: 'completed' })?.value).toBe('1');
    expect(sample('eddy_jobs', { queue: 'q1', state: 'available' })?.value).toBe('1');
    expect(sample('eddy_jobs', { queue: 'q2', state: 'available' })?.value).toBe('1');
    expect(sample('eddy_jobs', { queue: 'q2', state: 'running' })?.value).toBe('0');
    expect(
      Number(sample('eddy_queue_oldest_available_age_seconds', { queue: 'q2' })?.value),
    ).toBeGreaterThanOrEqual(0);
    expect(sample('eddy_jobs_lease_expired', { queue: 'q1' })?.value).toBe('0');
    expect(family('river_work_count_total')?.type).toBe('COUNTER');
    expect(
      sample('river_work_count_total', {
        kind: 'measured',
        queue: 'q1',
        status: 'ok',
        outcome: 'completed',
      })?.value,
    ).toBe('1');
    const duration = family('river_work_duration_histogram_seconds');
    expect(duration?.type).toBe('HISTOGRAM');
    expect(duration?.metrics[0]?.buckets?.['+Inf']).toBe('1');
    expect(family('eddy_job_queue_wait_seconds')?.type).toBe('HISTOGRAM');
    expect(
      sample('river_insert_count_total', { unique_skipped_as_duplicate: 'false' })?.value,
    ).toBe('3');
    expect(
      Number(sample('eddy_tick_count_total', { source: 'maintenance' })?.value),
    ).toBeGreaterThan(0);
    expect(await served.stop()).toBe(0);
  });

  it('accepts a signed kick from createKick, with an insert key as its secret', async () => {
    const served = await serve(['--data-dir', freshDir()]);
    const waiting = callApi(served.url, 'POST', '/v1/claims', {
      kinds: ['kicked'],
      waitMs: 20_000,
    });
    const errors: unknown[] = [];
    const kick = createKick({
      url: `${served.url}/kick`,
      secret: TEST_API_KEY,
      onError: (e) => errors.push(e),
    });
    await kick({ queues: ['default'] });
    expect(errors).toEqual([]);
    const unsigned = await fetch(`${served.url}/kick`, { method: 'POST', body: '{}' });
    expect(unsigned.status).toBe(401);
    await callApi(served.url, 'POST', '/v1/jobs', { kind: 'kicked', args: {} });
    expect(((await waiting).body as { jobs: unknown[] }).jobs).toHaveLength(1);
    expect(await served.stop()).toBe(0);
  });
});
