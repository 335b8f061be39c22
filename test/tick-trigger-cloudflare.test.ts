/**
 * The Cloudflare adapter's push and kick paths in Node, with real `Request`s and the real runner
 * over PostgreSQL: kicks and pushes share one bound per isolate, the tick secret has a minimum
 * length checked per request, and `POST /tick` bodies are capped.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createWorker } from '../adapters/cloudflare/index.js';
import { createClient } from '../src/client.js';
import { SIGNATURE_HEADER, signBody } from '../src/http/http-auth.js';
import { createKick } from '../src/http/kick.js';
import { createRunner, type Runner } from '../src/runner/runner.js';
import { defineWorker } from '../src/worker.js';
import { type RiverSchema, riverSchema } from './support/river.js';

const ORIGIN = 'https://eddy-example.example.workers.dev';
const SECRET = 'test-tick-secret-of-at-least-32-chars';

interface Env {
  TICK_SECRET?: string;
}

describe('the Cloudflare adapter in Node', () => {
  let river: RiverSchema;
  let runner: Runner;
  let started = 0;
  let release: () => void = () => undefined;
  let blocked: Promise<void> = Promise.resolve();
  let holding: Promise<void> = Promise.resolve();
  let held: () => void = () => undefined;
  const running: Promise<unknown>[] = [];
  const ctx = { waitUntil: (p: Promise<unknown>) => void running.push(p) };
  const states = async () => (await river.jobs()).map((row) => row.state);
  const eddy = () => createClient({ driver: river.driver, schema: river.schema });
  const make = (options: { maxBodyBytes?: number; maxStatements?: number } = {}) =>
    createWorker<Env>({
      // Counts the ticks this isolate starts, whatever started them.
      runner: () => ({
        id: runner.id,
        tick: (tickOptions) => {
          started++;
          return runner.tick(tickOptions);
        },
      }),
      tickSecret: (env) => env.TICK_SECRET,
      ...options,
    });
  /** Holds the next tick on a `block` job until `release()`. */
  const hold = async () => {
    blocked = new Promise((resolve) => {
      release = resolve;
    });
    holding = new Promise((resolve) => {
      held = resolve;
    });
    await eddy().insert('block', {});
  };

  beforeAll(async () => {
    river = await riverSchema('cfnode');
    runner = createRunner({
      driver: river.driver,
      schema: river.schema,
      workers: [
        defineWorker('ping', async () => undefined),
        defineWorker('block', async () => {
          held();
          await blocked;
        }),
      ],
    });
  });
  afterAll(() => river.close());
  beforeEach(async () => {
    await river.pool.query(`DELETE FROM ${river.schema}.river_job`);
    started = 0;
    running.length = 0;
  });

  it('runs at most one kicked tick and queues one, however often a route kicks', async () => {
    const worker = make();
    const env: Env = {};
    await hold();
    const first = worker.kick(env, ctx);
    await holding;
    await eddy().insertMany(Array.from({ length: 10 }, () => ({ kind: 'ping', args: {} })));
    const rest = Array.from({ length: 199 }, () => worker.kick(env, ctx));
    expect(started).toBe(1);
    release();
    const results = await Promise.all([first, ...rest]);
    await Promise.all(running);
    expect(started).toBe(2);
    // Every kick settles with the stats of the tick it started or joined.
    expect(results.every((stats) => stats !== undefined)).toBe(true);
    expect(await states()).toEqual(Array(11).fill('completed'));
  });

  it('shares the bound between kicks and signed pushes to POST /tick', async () => {
    const worker = make();
    const env: Env = { TICK_SECRET: SECRET };
    const push = async () => {
      const url = `${ORIGIN}/tick`;
      const body = '{"kick":true}';
      const signature = await signBody(SECRET, { url, body });
      return worker.fetch(
        new Request(url, {
          method: 'POST',
          body,
          headers: { prefer: 'respond-async', [SIGNATURE_HEADER]: signature },
        }),
        env,
        ctx,
      );
    };
    await hold();
    const kicked = worker.kick(env, ctx);
    await holding;
    const queued = await push();
    const coalesced = await push();
    expect([queued.status, coalesced.status]).toEqual([202, 202]);
    expect(await coalesced.json()).toEqual({ accepted: true, coalesced: true });
    expect(started).toBe(1);
    release();
    await kicked;
    await Promise.all(running);
    expect(started).toBe(2);
  });

  it('accepts a signed kick to /tick once: its replay gets 401', async () => {
    const worker = make();
    const env: Env = { TICK_SECRET: SECRET };
    const statuses: number[] = [];
    let sent: Request | undefined;
    const kick = createKick({
      url: `${ORIGIN}/tick`,
      secret: SECRET,
      fetch: async (url, init) => {
        sent = new Request(url as string, init);
        const response = await worker.fetch(sent.clone(), env, ctx);
        statuses.push(response.status);
        return response;
      },
    });
    await eddy().insert('ping', {});
    await kick();
    await Promise.all(running);
    expect(await states()).toEqual(['completed']);
    await eddy().insert('ping', {});
    const replay = await worker.fetch(sent as Request, env, ctx);
    expect([...statuses, replay.status]).toEqual([202, 401]);
    expect(await states()).toEqual(['completed', 'available']);
  });

  it('refuses every POST /tick while the tick secret is shorter than 32 characters (500, logged once)', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const worker = make();
      const env: Env = { TICK_SECRET: 'short' };
      await eddy().insert('ping', {});
      for (let i = 0; i < 2; i++) {
        const response = await worker.fetch(
          new Request(`${ORIGIN}/tick`, {
            method: 'POST',
            headers: { authorization: 'Bearer short' },
          }),
          env,
          ctx,
        );
        expect(response.status).toBe(500);
        expect((await response.json()).error).toMatch(/tickSecret must be at least 32 characters/);
      }
      expect(await states()).toEqual(['available']);
      expect(errors).toHaveBeenCalledTimes(1);
    } finally {
      errors.mockRestore();
    }
  });

  it('caps POST /tick bodies at maxBodyBytes: 413 and no tick', async () => {
    const worker = make({ maxBodyBytes: 32 });
    const env: Env = { TICK_SECRET: SECRET };
    await eddy().insert('ping', {});
    const url = `${ORIGIN}/tick`;
    const body = JSON.stringify({ kick: true, padding: 'x'.repeat(64) });
    const response = await worker.fetch(
      new Request(url, {
        method: 'POST',
        body,
        headers: { [SIGNATURE_HEADER]: await signBody(SECRET, { url, body }) },
      }),
      env,
      ctx,
    );
    expect(response.status).toBe(413);
    expect(await states()).toEqual(['available']);
    expect(() => make({ maxBodyBytes: 0 })).toThrow(/maxBodyBytes/);
    expect(() => make({ maxStatements: 7 })).toThrow(
      /maxStatements must be a whole number of at least 8/,
    );
  });
});
