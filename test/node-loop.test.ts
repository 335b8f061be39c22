/**
 * The Node loop (eddy/node) in a real child process stopped with a real SIGTERM: it stops
 * claiming, lets running jobs finish within the shutdown timeout, snoozes the rest, and exits.
 */

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startLoop } from '../adapters/node/index.js';
import { createClient } from '../src/client.js';
import { defineJobKind } from '../src/job-kind.js';
import { definePeriodicJob } from '../src/runner/periodic.js';
import { createRunner } from '../src/runner/runner.js';
import { defineWorker } from '../src/worker.js';
import { DATABASE_URL } from './support/postgres.js';
import { type RiverSchema, riverSchema } from './support/river.js';

describe('Node loop', () => {
  let river: RiverSchema;
  beforeAll(async () => {
    river = await riverSchema('loop');
    await river.pool.query(`CREATE TABLE ${river.schema}.naps (job_id int8 PRIMARY KEY)`);
  });
  afterAll(() => river.close());

  it("logs a tick's failed maintenance steps, such as periodic args that fail their schema", async () => {
    const report = defineJobKind({ kind: 'report', args: z.object({ day: z.string() }) });
    const runner = createRunner({
      driver: river.driver,
      schema: river.schema,
      workers: [defineWorker(report, () => {})],
      // Args from a function cannot be checked before a slot comes due.
      periodic: [
        definePeriodicJob({ kind: report, schedule: { everyMs: 1000 }, args: () => ({}) }),
      ],
    });
    const warnings: string[] = [];
    let logged!: () => void;
    const warned = new Promise<void>((resolve) => {
      logged = resolve;
    });
    const logger = {
      warn: (message: string) => {
        warnings.push(message);
        logged();
      },
      error: (message: string) => warnings.push(`error: ${message}`),
    };
    const loop = startLoop(runner, { pollIntervalMs: 50, handleSignals: false, logger });
    try {
      await Promise.race([warned, new Promise((r) => setTimeout(r, 5000))]);
    } finally {
      await loop.stop();
    }
    expect(warnings[0]).toMatch(
      /^eddy: tick maintenance: enqueue periodic jobs: insert\(report\): args do not match the schema of 'report': args\.day/,
    );
  });

  it('on SIGTERM finishes what runs within the timeout, snoozes the rest, claims nothing new, and exits', async () => {
    const client = createClient({ driver: river.driver, schema: river.schema });
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/support/loop-process.ts', DATABASE_URL, river.schema, '1500'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    const exited = once(child, 'exit');
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`loop process did not start: ${output}`)),
          20_000,
        );
        child.stdout.on('data', () => {
          if (!output.includes('ready')) return;
          clearTimeout(timer);
          resolve();
        });
      });
      const short = await client.insert('nap', { ms: 500 });
      const long = await client.insert('nap', { ms: 30_000 });
      // Wait until both are running, then ask the process to stop.
      for (let i = 0; i < 200; i++) {
        const { rows } = await river.pool.query(
          `SELECT count(*)::int AS c FROM ${river.schema}.river_job WHERE state = 'running'`,
        );
        if (rows[0].c === 2) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      const stoppedAt = Date.now();
      child.kill('SIGTERM');
      const late = await client.insert('nap', { ms: 1 }); // arrives after the stop: not claimed
      const [code] = await exited;
      expect(code).toBe(0);
      expect(output).toContain('exited');
      expect(Date.now() - stoppedAt).toBeLessThan(5000);

      const rows = await river.jobs();
      const byId = new Map(rows.map((r) => [String(r.id), r]));
      expect(byId.get(String(short.job.id))).toMatchObject({ state: 'completed', attempt: 1 });
      expect(byId.get(String(long.job.id))).toMatchObject({
        state: 'available',
        attempt: 0,
        metadata: { snoozes: 1 },
      });
      expect(byId.get(String(late.job.id))).toMatchObject({ state: 'available', attempt: 0 });
      const naps = await river.pool.query(`SELECT job_id FROM ${river.schema}.naps`);
      expect(naps.rows.map((r) => String(r.job_id))).toEqual([String(short.job.id)]);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
