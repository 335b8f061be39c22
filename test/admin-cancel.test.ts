/**
 * A cancel through the management API reaches a job a runner is running: at once through the
 * Node loop's LISTEN on `<schema>.river_control` (polling slowed to 30 s, so only the
 * notification can explain it), and, over Neon HTTP, which has no LISTEN, at the runner's next
 * flush (`cancel_attempted_at`). Either way the row ends as River leaves a job cancelled while
 * it ran.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLoop } from '../adapters/node/index.js';
import { createAdmin } from '../src/admin/admin.js';
import { createClient } from '../src/client.js';
import { createRunner } from '../src/runner/runner.js';
import { defineWorker } from '../src/worker.js';
import { driverSetups, type OpenDriver } from './support/drivers.js';
import { type RiverSchema, riverSchema } from './support/river.js';

const POLL_MS = 30_000;
const BOUND_MS = 1_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
  return performance.now() - started;
}

/** A worker that runs until its signal aborts, recording when it started and was aborted. */
function heldWorker(kind: string) {
  const started = new Set<string>();
  const aborted = new Set<string>();
  const worker = defineWorker(
    kind,
    (job, ctx) =>
      new Promise<void>((_resolve, reject) => {
        started.add(String(job.id));
        ctx.signal.addEventListener('abort', () => {
          aborted.add(String(job.id));
          reject(ctx.signal.reason);
        });
      }),
  );
  return { worker, started, aborted };
}

describe('a cancel through the management API aborts the running job', () => {
  let river: RiverSchema;
  beforeAll(async () => {
    river = await riverSchema('acan');
  });
  afterAll(() => river.close());

  const expectCancelledAsRiver = async (id: bigint) => {
    await waitFor('the cancelled row', async () => {
      const [row] = await river.jobs('id = $1', [String(id)]);
      return row?.state === 'cancelled';
    });
    const [row] = await river.jobs('id = $1', [String(id)]);
    expect(row?.finalized_at).toBeInstanceOf(Date);
    expect(row?.metadata.cancel_attempted_at).toEqual(expect.any(String));
    expect(row?.errors.at(-1)).toMatchObject({
      attempt: 1,
      error: 'JobCancelError: job cancelled remotely',
    });
  };

  it('at once, through the Node loop listening on river_control', async () => {
    const held = heldWorker('held_listen');
    const runner = createRunner({
      driver: river.driver,
      schema: river.schema,
      workers: [held.worker],
    });
    const loop = startLoop(runner, { pollIntervalMs: POLL_MS, handleSignals: false });
    try {
      await sleep(1_000); // the first, empty tick is over and LISTEN is in effect
      const client = createClient({ driver: river.driver, schema: river.schema, notify: true });
      const { job } = await client.insert('held_listen', {});
      await waitFor('the job to start', () => held.started.has(String(job.id)));
      const admin = createAdmin({ driver: river.driver, schema: river.schema });
      const at = performance.now();
      const [result] = await admin.jobs.cancel([job.id]);
      expect(result?.outcome).toBe('cancelRequested');
      const latency = await waitFor('the abort', () => held.aborted.has(String(job.id)));
      console.log(
        `admin cancel to abort through LISTEN: ${(performance.now() - at).toFixed(1)} ms`,
      );
      expect(latency).toBeLessThan(BOUND_MS);
      await expectCancelledAsRiver(job.id);
    } finally {
      await loop.stop();
    }
  });

  it('at the next flush, over Neon HTTP (no LISTEN)', async () => {
    const setup = driverSetups.find((s) => s.name === 'neon-http');
    if (!setup) throw new Error('no neon-http setup');
    const open: OpenDriver = await setup.open();
    try {
      const held = heldWorker('held_http');
      const runner = createRunner({
        driver: open.driver,
        schema: river.schema,
        workers: [held.worker, defineWorker('quick_http', () => sleep(3_000))],
      });
      const client = createClient({ driver: open.driver, schema: river.schema });
      const { job } = await client.insert('held_http', {});
      await client.insert('quick_http', {});
      // Another job finishing (after 3 s) makes the tick flush while the held one runs.
      const tick = runner.tick({ budgetMs: 20_000 });
      await waitFor('the job to start', () => held.started.has(String(job.id)));
      const admin = createAdmin({ driver: open.driver, schema: river.schema });
      const [result] = await admin.jobs.cancel([job.id]);
      expect(result?.outcome).toBe('cancelRequested');
      const stats = await tick;
      expect(held.aborted.has(String(job.id))).toBe(true);
      expect(stats).toMatchObject({ claimed: 2, completed: 1, cancelled: 1 });
      expect(stats.durationMs).toBeLessThan(15_000);
      await expectCancelledAsRiver(job.id);
    } finally {
      await open.close();
    }
  });
});
