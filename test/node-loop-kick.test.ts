/**
 * The Node loop accepts Eddy's signed kicks: a producer with `createKick` pointed at the loop
 * starts a job at once though the loop polls only once a minute and does not LISTEN.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLoop } from '../adapters/node/index.js';
import { createClient } from '../src/client.js';
import { createKick } from '../src/http/kick.js';
import { createRunner } from '../src/runner/runner.js';
import { defineWorker } from '../src/worker.js';
import { type RiverSchema, riverSchema } from './support/river.js';

const SECRET = 'loop-kick-secret-0123456789abcdef012345';

describe('Node loop kicks', () => {
  let river: RiverSchema;
  beforeAll(async () => {
    river = await riverSchema('loopkick');
  });
  afterAll(() => river.close());

  it('wakes at a signed kick and works the job at once; refuses an unsigned one', async () => {
    let startedAt: number | undefined;
    const runner = createRunner({
      driver: river.driver,
      schema: river.schema,
      workers: [
        defineWorker('kicked', () => {
          startedAt = Date.now();
        }),
      ],
    });
    const loop = startLoop(runner, {
      pollIntervalMs: 60_000,
      listen: false,
      handleSignals: false,
      kick: { secret: SECRET, port: 0 },
    });
    try {
      const url = await loop.kickUrl;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/kick$/);
      expect((await fetch(url as string, { method: 'POST', body: '{}' })).status).toBe(401);
      // Let the loop's first tick find nothing and go to sleep for its minute.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const errors: unknown[] = [];
      const eddy = createClient({
        driver: river.driver,
        schema: river.schema,
        kick: createKick({ url: url as string, secret: SECRET, onError: (e) => errors.push(e) }),
      });
      const insertedAt = Date.now();
      const { job } = await eddy.insert('kicked', {});
      const deadline = Date.now() + 10_000;
      while (startedAt === undefined && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(errors).toEqual([]);
      expect(startedAt).toBeDefined();
      expect((startedAt as number) - insertedAt).toBeLessThan(5_000);
      const until = Date.now() + 5_000;
      while (
        (await river.jobs('id = $1', [job.id]))[0]?.state !== 'completed' &&
        Date.now() < until
      )
        await new Promise((resolve) => setTimeout(resolve, 50));
      expect((await river.jobs('id = $1', [job.id]))[0]?.state).toBe('completed');
    } finally {
      await loop.stop();
    }
  });

  it('refuses a kick secret shorter than 32 characters at start', () => {
    const runner = createRunner({ driver: river.driver, schema: river.schema, workers: [] });
    expect(() => startLoop(runner, { handleSignals: false, kick: { secret: 'short' } })).toThrow(
      /at least 32 characters/,
    );
  });
});
